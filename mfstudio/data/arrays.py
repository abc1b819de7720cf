"""Array helpers every layer may use (the data layer is the bottom one; no Qt, no numba).

Why this exists: numpy 2 answers a plain ``np.unique(a)`` of integers from a
hash table, and on many distinct values that is far slower than sorting.
Measured on this project's machine (numpy 2.4): 1M random int64 keys 1.99 s
against 0.03 s for sort-and-compare, 7M 20.8 s against 0.32 s. It also imports
``numpy.ma`` (20-60 ms) on first use, which the window's start paid for one
call on a 200k-value histogram. :func:`unique_sorted` is the sorting version.
"""

from __future__ import annotations

import numpy as np

__all__ = ["unique_sorted"]


def unique_sorted(values) -> np.ndarray:
    """The distinct values of ``values`` (flattened), ascending: ``np.unique(values)`` by sorting.

    NaNs, if any, come last and once (as ``np.unique`` with its default ``equal_nan=True``).

    Parameters
    ----------
    values : array_like

    Returns
    -------
    ndarray
        Same dtype as ``values``, one dimension.
    """
    ordered = np.sort(np.asarray(values).ravel())
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    if ordered.dtype.kind in "fc" and np.isnan(ordered[-1]):
        nan = np.isnan(ordered)  # sorted last; NaN != NaN kept every one of them
        first = int(np.argmax(nan))
        keep[first + 1:] = False
        keep[first] = True
    return ordered[keep]
