"""Pieces several kernel families share: random bits, prefetch hints, Cholesky, pair dots.

Written once here so that every family uses the same rule (and so that a
fix lands everywhere). Everything is a numba function; the callers inline
them into their own compiled code, so sharing costs nothing at run time.

- :func:`splitmix64`: Steele, Lea & Flood's SplitMix64 (OOPSLA 2014), the
  counter-free generator the SGD shuffles and BPR's sampler draw from;
  :func:`uniform_below` maps its bits to an index.
- :func:`csr_contains`: membership in a sorted CSR row, for the negative
  samplers of BPR and the hybrid BPR.
- :func:`prefetch_row` / :func:`prefetch_row_for_write`: LLVM's
  ``llvm.prefetch`` over every 64-byte line of a row of a C-contiguous
  matrix. A hint: it never faults and changes no result.
  :func:`prefetch_short_row_for_write` is the same hint with the first
  :data:`UNROLLED_LINES` lines issued without a loop, for kernels that
  prefetch two short rows per step (SGD).
- :func:`cholesky_factor` / :func:`cholesky_solve`: in-place Cholesky-Crout
  and the two triangular solves, for the small (k <= a few hundred) float64
  systems of ALS and BPMF, inside parallel row loops (LAPACK per row costs
  more in call overhead than it saves, and numba's ``np.linalg`` would pull
  SciPy's LAPACK into the frozen app).
- :func:`row_dot`: ``A[r, :k] . B[c, :k]`` accumulated in float64, the
  prediction of every factor model.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["SAFE_FASTMATH", "splitmix64", "uniform_below", "csr_contains", "prefetch_row", "prefetch_row_for_write", "prefetch_short_row_for_write",
           "UNROLLED_LINES",
           "cholesky_factor", "cholesky_solve", "row_dot", "PIVOT_FLOOR"]

#: LLVM fast-math flags that are safe for these kernels: reassociation (so
#: that reductions such as dot products vectorise), contraction into FMAs,
#: no signed zeros, reciprocal and approximate functions. Left out on
#: purpose: ``nnan`` and ``ninf``, which let LLVM assume no NaN or infinity
#: ever occurs; a diverging fit (learning rate too large) does produce them,
#: and the models detect it by looking for them after an epoch.
SAFE_FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}  # a set: numba takes no frozenset

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, nogil=True)
def splitmix64(state):
    """One step of SplitMix64: ``(new state, 64 random bits)`` from a uint64 state."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * MIX2
    return state, z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, fastmath=True)
def uniform_below(z, n):
    """Map 64 random bits to an integer in [0, n) (53-bit float; bias < n / 2**53)."""
    return int(np.float64(z >> np.uint64(11)) * _TO_UNIT * n)


@njit(cache=True, nogil=True, fastmath=True)
def csr_contains(indices, start, end, item):
    """Whether the sorted ``indices[start:end]`` holds ``item`` (binary search)."""
    lo, hi = start, end
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v < item:
            lo = mid + 1
        elif v > item:
            hi = mid
        else:
            return True
    return False


def _make_prefetch(rw: int, doc: str, unrolled: int = 0):
    @intrinsic
    def prefetch(typingctx, arr, row):
        if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"
                and isinstance(row, types.Integer)):
            return None
        sig = types.void(arr, row)

        def codegen(context, builder, signature, args):
            aryty, rowty = signature.args
            ary = context.make_array(aryty)(context, builder, args[0])
            r = context.cast(builder, args[1], rowty, types.intp)
            zero = context.get_constant(types.intp, 0)
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [r, zero], wraparound=False)
            start = builder.bitcast(ptr, ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [start.type, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
            nbytes = builder.mul(builder.extract_value(ary.shape, 1), context.get_constant(types.intp, itemsize))

            def hint(offset):
                # (address, rw, locality 3 = keep in every cache level, cache type 1 = data)
                builder.call(fn, [builder.gep(start, [offset]), ir.Constant(i32, rw), ir.Constant(i32, 3),
                                  ir.Constant(i32, 1)])

            # The first `unrolled` lines as straight-line code: each guard is the same every call of a
            # kernel (the row length is fixed), so it is predicted, whereas a loop costs its setup and exit.
            for t in range(unrolled):
                offset = context.get_constant(types.intp, 64 * t)
                with builder.if_then(builder.icmp_signed("<", offset, nbytes), likely=True):
                    hint(offset)
            with cgutils.for_range_slice(builder, context.get_constant(types.intp, 64 * unrolled), nbytes,
                                         context.get_constant(types.intp, 64)) as (offset, _):
                hint(offset)
            return context.get_dummy_value()

        return sig, codegen

    prefetch.__doc__ = doc
    return prefetch


prefetch_row = _make_prefetch(0, "Ask the CPU to start loading row ``row`` of a C-contiguous 2-D array (for reading).")
prefetch_row_for_write = _make_prefetch(
    1, "Ask the CPU to load row ``row`` of a C-contiguous 2-D array in a writable state (the row is about to be updated).")

#: Lines :func:`prefetch_short_row_for_write` issues without a loop: 512 bytes, a float32 row of up to 128 factors.
UNROLLED_LINES = 8

prefetch_short_row_for_write = _make_prefetch(
    1, "prefetch_row_for_write with the first UNROLLED_LINES lines unrolled (rows of up to 128 float32 factors "
       "take no loop): for kernels that prefetch two short rows per rating, where the loop's own cost shows "
       "(SGD: about 8% of an epoch at k=100).", unrolled=UNROLLED_LINES)

#: A Cholesky pivot smaller than this fraction of its diagonal entry is clamped to it.
PIVOT_FLOOR = 1e-12


@njit(cache=True, nogil=True, fastmath=True)
def cholesky_factor(A, m):
    """In-place Cholesky-Crout of the symmetric positive definite ``A[:m, :m]`` (lower triangle read).

    The lower triangle becomes L with ``A = L L^T``.

    One pivot rule for every caller: a pivot that is not above
    ``PIVOT_FLOOR`` times its own diagonal entry ``A[j, j]`` is set to that
    floor (``1e-300`` if the diagonal itself is not positive). Why relative:
    such a pivot is what is left after cancelling twelve digits, so it is
    rounding noise, and the floor keeps the solve within ``1e6`` times the
    problem's own scale. The absolute floors used before (a pivot of
    ``1e-300`` in ALS, a diagonal of ``1e-12`` in BPMF) either turned a
    near-singular system into values of ``1e150`` or ignored the scale of
    the matrix. The ridge term of ALS and the prior precision of BPMF keep
    every pivot far above the floor, so well-posed results do not change.
    """
    for j in range(m):
        diag = A[j, j]
        s = diag
        for t in range(j):
            s -= A[j, t] * A[j, t]
        floor = PIVOT_FLOOR * diag if diag > 0.0 else 1e-300
        if not s > floor:  # also catches NaN
            s = floor
        d = np.sqrt(s)
        A[j, j] = d
        for i in range(j + 1, m):
            s = A[i, j]
            for t in range(j):
                s -= A[i, t] * A[j, t]
            A[i, j] = s / d


@njit(cache=True, nogil=True, fastmath=True)
def cholesky_solve(A, b, m):
    """Solve ``A x = b`` for symmetric positive definite ``A`` (float64), in place.

    Only the lower triangle of ``A[:m, :m]`` is read; it is overwritten with
    the Cholesky factor L (:func:`cholesky_factor`), and ``b[:m]`` with the
    solution (forward then backward substitution).
    """
    cholesky_factor(A, m)
    for i in range(m):
        s = b[i]
        for t in range(i):
            s -= A[i, t] * b[t]
        b[i] = s / A[i, i]
    for i in range(m - 1, -1, -1):
        s = b[i]
        for t in range(i + 1, m):
            s -= A[t, i] * b[t]
        b[i] = s / A[i, i]


@njit(cache=True, nogil=True, fastmath=True)
def row_dot(A, r, B, c, k):
    """``sum_{f < k} A[r, f] * B[c, f]`` accumulated in float64."""
    acc = 0.0
    for f in range(k):
        acc += A[r, f] * B[c, f]
    return acc
