"""Dot products of gathered factor rows: the prediction of every model.

``out[n] += P[rows[n]] . Q[cols[n]]`` accumulated in float64. numpy's
``einsum`` on two gathered copies does the same, but holds the GIL while it
gathers, allocates two (pairs x k) temporaries and casts them; scoring the
validation set after every epoch then starved the GUI thread (a 100-factor
SGD fit ran 4x slower with the window open). This loop gathers nothing and
releases the GIL.
"""

from __future__ import annotations

from numba import njit, prange

from ._common import row_dot

__all__ = ["add_pair_dots"]


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def add_pair_dots(P, Q, rows, cols, out):
    """``out[n] += sum_f P[rows[n], f] * Q[cols[n], f]`` for every pair (float64 sums)."""
    k = P.shape[1]
    for n in prange(rows.shape[0]):
        out[n] += row_dot(P, rows[n], Q, cols[n], k)
