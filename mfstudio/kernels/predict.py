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

__all__ = ["add_pair_dots", "add_pair_dots_serial", "PARALLEL_PAIR_WORK"]

#: Below this many multiply-adds (pairs x factors) the serial twin is faster: starting numba's
#: thread pool and splitting the loop cost about 7 ms a call, more than 20,000 pairs of 100
#: factors take on one core (a small ``fit`` scores the test set 40 times).
PARALLEL_PAIR_WORK = 4_000_000


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def add_pair_dots(P, Q, rows, cols, out):
    """``out[n] += sum_f P[rows[n], f] * Q[cols[n], f]`` for every pair (float64 sums)."""
    k = P.shape[1]
    for n in prange(rows.shape[0]):
        out[n] += row_dot(P, rows[n], Q, cols[n], k)


@njit(cache=True, nogil=True, fastmath=True)
def add_pair_dots_serial(P, Q, rows, cols, out):
    """:func:`add_pair_dots` on one thread, for small batches (see :data:`PARALLEL_PAIR_WORK`)."""
    k = P.shape[1]
    for n in range(rows.shape[0]):
        out[n] += row_dot(P, rows[n], Q, cols[n], k)
