"""Alternating least squares kernels: explicit (ALS-WR) and implicit (Hu-Koren-Volinsky).

Every kernel here updates one side of the factorization (all users, or all
items) with the other side fixed: a "half sweep". The model calls two of them
per iteration (users, then items), so one iteration is a couple of kernel
calls and the Python loop can report and cancel in between.

Rows are independent given the fixed side, so the row loop runs in parallel
with ``prange``. Rows are not handed out one by one but in *blocks*: the
caller passes ``bounds`` (block ``b`` is rows ``bounds[b]:bounds[b+1]``),
built by :func:`balanced_row_blocks` so that every block costs about the same
even on power-law data where a few rows hold most of the entries (numba
splits the prange statically, so equal-cost blocks mean equal work per
thread). Each block allocates its scratch vectors once, not once per row.

Results do not depend on the number of threads: each row's update reads only
the fixed side, and per-row loss terms are summed per block and then in block
order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Shared with the other families (mfstudio.kernels._common); re-exported here
# because callers (and tests) reach them as ``kernels.als.cholesky_solve``.
from ._common import cholesky_solve, prefetch_row

__all__ = [
    "balanced_row_blocks",
    "cholesky_solve",
    "gram",
    "prefetch_row",
    "als_explicit_half_sweep",
    "als_explicit_sse",
    "implicit_als_cg_half_sweep",
    "implicit_als_exact_half_sweep",
]


def balanced_row_blocks(indptr: np.ndarray, row_overhead: float, n_blocks: int) -> np.ndarray:
    """Row boundaries that split ``indptr``'s rows into blocks of similar cost.

    The cost of a row is its number of entries plus ``row_overhead`` (the
    work every row does regardless of its length, in units of one entry).

    Returns
    -------
    ndarray of int64, shape (n + 1,)
        ``bounds[0] = 0``, ``bounds[-1] = n_rows``, strictly increasing.
    """
    n_rows = indptr.shape[0] - 1
    if n_rows <= 0:
        return np.zeros(1, dtype=np.int64)
    cost = np.diff(indptr).astype(np.float64) + float(row_overhead)
    cumulative = np.concatenate([[0.0], np.cumsum(cost)])
    targets = np.linspace(0.0, cumulative[-1], max(1, int(n_blocks)) + 1)
    bounds = np.searchsorted(cumulative, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_rows
    return np.unique(bounds)


#: How many entries ahead the CG passes ask the memory system for a factor row.
PREFETCH_DISTANCE = 8


@njit(cache=True, nogil=True, fastmath=True)
def _symv(G, x, out, k):
    """``out = G x`` for symmetric ``G``, as sums of G's rows (no horizontal reductions).

    Four rows per sweep over ``out`` keep loads and stores of ``out`` to a
    quarter; about twice as fast as k dot products for k = 16..64.
    """
    for a in range(k):
        out[a] = 0.0
    c = 0
    while c + 4 <= k:
        x0, x1, x2, x3 = x[c], x[c + 1], x[c + 2], x[c + 3]
        for a in range(k):
            out[a] += (G[c, a] * x0 + G[c + 1, a] * x1) + (G[c + 2, a] * x2 + G[c + 3, a] * x3)
        c += 4
    while c < k:
        xc = x[c]
        for a in range(k):
            out[a] += G[c, a] * xc
        c += 1


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def gram(F, reg, n_blocks):
    """``F^T F + reg I`` in float64, computed in parallel over row blocks.

    The reason this is not ``F.T @ F``: right after a parallel numba kernel
    its OpenMP threads are still spinning, and right after a multithreaded
    BLAS call OpenBLAS's threads are; alternating the two thread pools on the
    same cores (as ALS does twice per iteration) made a 20 ms product take
    over a second on a 2-core machine. Computing it here keeps one pool.
    """
    # Variant: rank-1 updates of a full k x k float32 block sum (full rows
    # vectorize; the triangle would not), flushed into float64 every 64 rows
    # so that rounding does not grow with the number of rows. Block partials
    # are added in block order: the result does not depend on thread count.
    n, k = F.shape
    n_blocks = max(1, min(n_blocks, n))
    partial = np.zeros((n_blocks, k, k), dtype=np.float64)
    for blk in prange(n_blocks):
        lo = (n * blk) // n_blocks
        hi = (n * (blk + 1)) // n_blocks
        T = np.zeros((k, k), dtype=np.float32)
        count = 0
        for r in range(lo, hi):
            for a in range(k):
                fa = F[r, a]
                for c in range(k):
                    T[a, c] += fa * F[r, c]
            count += 1
            if count == 64 or r == hi - 1:
                for a in range(k):
                    for c in range(k):
                        partial[blk, a, c] += T[a, c]
                        T[a, c] = 0.0
                count = 0
    out = np.zeros((k, k), dtype=np.float64)
    for blk in range(n_blocks):
        for a in range(k):
            for c in range(k):
                out[a, c] += partial[blk, a, c]
    for a in range(k):
        out[a, a] += reg
    return out


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def als_explicit_half_sweep(indptr, indices, values, X, x_bias, Y, y_bias, mu, reg, use_bias, bounds, weights=None):
    """One half sweep of explicit ALS with weighted-lambda regularization.

    Solves, for every row ``u`` (with the other side fixed)::

        min_{x_u, b_u}  sum_{i in I(u)} (r_ui - mu - b_i - b_u - x_u . y_i)^2
                        + reg * n_u * (|x_u|^2 + b_u^2)

    (without biases: ``min sum (r_ui - x_u . y_i)^2 + reg * n_u * |x_u|^2``).

    With ``weights`` (one per stored entry, in ``values``' order; the
    time-decay weights of :class:`mfstudio.models.als.ALS`), each squared
    error is multiplied by its weight and ``n_u`` becomes the row's weight
    sum, so the penalty keeps its proportion to the data term: weighting
    every entry of a row alike leaves the row's solution unchanged, and
    only the weights' ratios inside a row (recent against old) matter.
    Without them (None) numba compiles the unweighted loop, pruned of the
    weight branches, so the default costs nothing more.

    Parameters
    ----------
    indptr, indices, values : CSR arrays of this side (rows are solved)
    X : float32 (n_rows, k), written
    x_bias : float64 (n_rows,), written when ``use_bias``
    Y : float32 (n_other, k), read
    y_bias : float64 (n_other,), read when ``use_bias``
    mu : float, the global mean (0 without biases)
    reg : float, lambda
    use_bias : bool
    bounds : int64 row blocks (see :func:`balanced_row_blocks`)
    weights : float64 (nnz,), optional
    """
    # Variant: ALS-WR of Zhou, Wilkinson, Schreiber & Pan (2008, "Large-scale
    # parallel collaborative filtering for the Netflix prize"): each row is a
    # ridge regression whose penalty grows with the row's number of ratings
    # (lambda * n_u), which they found to stop overfitting as k grows, without
    # retuning lambda. Biases are solved jointly by augmenting the factor
    # vectors with a constant column: the user vector [x_u, b_u] meets the
    # item vector [y_i, 1], and b_i moves to the target (r - mu - b_i). The
    # (k+1) x (k+1) normal equations are built in float64 (lower triangle
    # only) and solved with the Cholesky factorization above. Rows without
    # ratings get zero factors and bias (the prior mean).
    n_blocks = bounds.shape[0] - 1
    k = X.shape[1]
    m = k + 1 if use_bias else k
    for blk in prange(n_blocks):
        A = np.empty((m, m), dtype=np.float64)
        rhs = np.empty(m, dtype=np.float64)
        z = np.empty(m, dtype=np.float64)
        for u in range(bounds[blk], bounds[blk + 1]):
            start, end = indptr[u], indptr[u + 1]
            if start == end:
                for f in range(k):
                    X[u, f] = 0.0
                if use_bias:
                    x_bias[u] = 0.0
                continue
            for a in range(m):
                rhs[a] = 0.0
                for c in range(a + 1):
                    A[a, c] = 0.0
            weight_sum = 0.0
            for idx in range(start, end):
                i = indices[idx]
                for f in range(k):
                    z[f] = Y[i, f]
                target = values[idx]
                if use_bias:
                    z[k] = 1.0
                    target = target - mu - y_bias[i]
                if weights is not None:
                    w = weights[idx]
                    weight_sum += w
                    target = target * w  # rhs += w t z;  A += (w z) z^T, below via za
                    for a in range(m):
                        za = z[a]
                        rhs[a] += target * za
                        wza = w * za
                        for c in range(a + 1):
                            A[a, c] += wza * z[c]
                else:
                    for a in range(m):
                        za = z[a]
                        rhs[a] += target * za
                        for c in range(a + 1):
                            A[a, c] += za * z[c]
            ridge = reg * (end - start) if weights is None else reg * weight_sum
            for a in range(m):
                A[a, a] += ridge
            cholesky_solve(A, rhs, m)
            for f in range(k):
                X[u, f] = rhs[f]
            if use_bias:
                x_bias[u] = rhs[k]


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def als_explicit_sse(indptr, indices, values, X, x_bias, Y, y_bias, mu, use_bias, bounds, weights=None):
    """Sum of squared errors ``sum (r_ui - mu - b_u - b_i - x_u . y_i)^2`` (float64), each times its weight if given."""
    # Variant: one parallel pass over the entries, per-block partial sums
    # added in block order (so the total does not depend on thread count).
    n_blocks = bounds.shape[0] - 1
    k = X.shape[1]
    partial = np.zeros(n_blocks, dtype=np.float64)
    for blk in prange(n_blocks):
        acc = 0.0
        for u in range(bounds[blk], bounds[blk + 1]):
            for idx in range(indptr[u], indptr[u + 1]):
                i = indices[idx]
                pred = 0.0
                for f in range(k):
                    pred += np.float64(X[u, f]) * Y[i, f]
                if use_bias:
                    pred += mu + x_bias[u] + y_bias[i]
                e = values[idx] - pred
                if weights is not None:
                    acc += weights[idx] * e * e
                else:
                    acc += e * e
        partial[blk] = acc
    total = 0.0
    for blk in range(n_blocks):
        total += partial[blk]
    return total


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def implicit_als_cg_half_sweep(indptr, indices, conf, X, Y, G, cg_steps, bounds):
    """One half sweep of implicit ALS, each row by a few conjugate-gradient steps.

    For every row ``u`` it improves ``x_u`` towards the solution of::

        (Y^T C_u Y + reg I) x_u = Y^T C_u p_u

    with ``p_ui = 1`` on the row's entries and 0 elsewhere, ``C_u`` the
    confidences (``conf`` on the entries, 1 elsewhere), starting from the
    current ``x_u`` (warm start).

    Parameters
    ----------
    indptr, indices : CSR structure of this side
    conf : float32 (nnz,), confidence of each entry (>= 1)
    X : float32 (n_rows, k), read (warm start) and written
    Y : float32 (n_other, k), read
    G : float32 (k, k), ``Y^T Y + reg I``
    cg_steps : int
    bounds : int64 row blocks

    Returns
    -------
    float
        ``sum_u [sum_i c_ui (p_ui - x_u . y_i)^2 + reg |x_u|^2]`` over all
        cells, at the new ``x_u`` (float64; what the objective adds up to
        apart from ``reg |Y|^2``).
    """
    # Variant: the conjugate-gradient solver of Takacs, Pilaszy & Tikk (2011,
    # "Applications of the conjugate gradient method for implicit feedback
    # collaborative filtering"), as benfred/implicit runs it: the matrix
    # Y^T C_u Y is never formed; its product with a vector is
    # G p + sum_{i in u} (c_ui - 1) (y_i . p) y_i, which costs the row's
    # entries instead of k^2 per entry, and the dense n_items-long C_u is
    # never materialised (the "YtY trick" of Hu, Koren & Volinsky 2008).
    # Warm-started from the previous factors, 3 steps per row are enough.
    # The loss comes for free: with r = b - A x the residual that CG keeps,
    # x^T A x - 2 b^T x + sum c = sum c - b.x - x.r, and b.x is tracked as
    # b.x0 + sum alpha_t b.p_t, where b.p_t = sum c_ui (y_i . p_t) reuses the
    # dot products of the A p pass. Vectors are float32 (the factors' type,
    # SIMD-friendly); scalars that decide step sizes and the loss are float64.
    # Speed: a row's first pass reads its factor rows from random places in
    # memory, which on big data costs more than the arithmetic; the passes
    # prefetch PREFETCH_DISTANCE entries ahead (halves that cost here), and
    # G p is summed row-wise (_symv) rather than as k dot products.
    n_blocks = bounds.shape[0] - 1
    k = X.shape[1]
    partial = np.zeros(n_blocks, dtype=np.float64)
    for blk in prange(n_blocks):
        x = np.empty(k, dtype=np.float32)
        r = np.empty(k, dtype=np.float32)
        p = np.empty(k, dtype=np.float32)
        Ap = np.empty(k, dtype=np.float32)
        acc = 0.0
        for u in range(bounds[blk], bounds[blk + 1]):
            start, end = indptr[u], indptr[u + 1]
            if start == end:
                for f in range(k):
                    X[u, f] = 0.0
                continue
            # The first rows of this row's pass arrive while G x is computed;
            # the rest are requested PREFETCH_DISTANCE entries ahead.
            for idx in range(start, min(end, start + PREFETCH_DISTANCE)):
                prefetch_row(Y, indices[idx])
            # Rows whose factor rows overflow L2 are re-read from memory by every CG pass.
            long_row = (end - start) * k > 65536
            for f in range(k):
                x[f] = X[u, f]
            # r = b - A x = -G x + sum_i (c_i - (c_i - 1) y_i.x) y_i
            _symv(G, x, Ap, k)
            for a in range(k):
                r[a] = -Ap[a]
            bx = 0.0
            total_conf = 0.0
            for idx in range(start, end):
                if idx + PREFETCH_DISTANCE < end:
                    prefetch_row(Y, indices[idx + PREFETCH_DISTANCE])
                i = indices[idx]
                ci = conf[idx]
                d = np.float32(0.0)
                for f in range(k):
                    d += Y[i, f] * x[f]
                bx += np.float64(ci) * d
                total_conf += ci
                t = ci - (ci - np.float32(1.0)) * d
                for f in range(k):
                    r[f] += t * Y[i, f]
            rsold = 0.0
            for f in range(k):
                p[f] = r[f]
                rsold += np.float64(r[f]) * r[f]
            if rsold > 1e-20:
                for _ in range(cg_steps):
                    # Ap = G p + sum_i (c_i - 1) (y_i . p) y_i
                    _symv(G, p, Ap, k)
                    bp = 0.0
                    for idx in range(start, end):
                        if long_row and idx + PREFETCH_DISTANCE < end:
                            prefetch_row(Y, indices[idx + PREFETCH_DISTANCE])
                        i = indices[idx]
                        ci = conf[idx]
                        d = np.float32(0.0)
                        for f in range(k):
                            d += Y[i, f] * p[f]
                        bp += np.float64(ci) * d
                        t = (ci - np.float32(1.0)) * d
                        for f in range(k):
                            Ap[f] += t * Y[i, f]
                    pap = 0.0
                    for f in range(k):
                        pap += np.float64(p[f]) * Ap[f]
                    if pap <= 0.0:
                        break
                    alpha = rsold / pap
                    a32 = np.float32(alpha)
                    rsnew = 0.0
                    for f in range(k):
                        x[f] += a32 * p[f]
                        r[f] -= a32 * Ap[f]
                        rsnew += np.float64(r[f]) * r[f]
                    bx += alpha * bp
                    if rsnew < 1e-20:
                        break
                    beta = np.float32(rsnew / rsold)
                    for f in range(k):
                        p[f] = r[f] + beta * p[f]
                    rsold = rsnew
            xr = 0.0
            for f in range(k):
                X[u, f] = x[f]
                xr += np.float64(x[f]) * r[f]
            acc += total_conf - bx - xr
        partial[blk] = acc
    total = 0.0
    for blk in range(n_blocks):
        total += partial[blk]
    return total


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def implicit_als_exact_half_sweep(indptr, indices, conf, X, Y, G, bounds):
    """One half sweep of implicit ALS, each row solved exactly (Cholesky).

    Same system and return value as :func:`implicit_als_cg_half_sweep`; ``G``
    is ``Y^T Y + reg I`` in float64.
    """
    # Variant: the direct solver of Hu, Koren & Volinsky (2008): per row,
    # A = G + sum_{i in u} (c_ui - 1) y_i y_i^T (lower triangle, float64) and
    # b = sum c_ui y_i, solved by Cholesky: O(n_u k^2 + k^3) per row against
    # CG's O(steps (n_u k + k^2)), so it is the reference, not the default.
    # At the solution A x = b the row's loss is sum c - b.x.
    n_blocks = bounds.shape[0] - 1
    k = X.shape[1]
    partial = np.zeros(n_blocks, dtype=np.float64)
    for blk in prange(n_blocks):
        A = np.empty((k, k), dtype=np.float64)
        rhs = np.empty(k, dtype=np.float64)
        b = np.empty(k, dtype=np.float64)
        y = np.empty(k, dtype=np.float64)
        acc = 0.0
        for u in range(bounds[blk], bounds[blk + 1]):
            start, end = indptr[u], indptr[u + 1]
            if start == end:
                for f in range(k):
                    X[u, f] = 0.0
                continue
            for a in range(k):
                rhs[a] = 0.0
                for c in range(a + 1):
                    A[a, c] = G[a, c]
            total_conf = 0.0
            for idx in range(start, end):
                i = indices[idx]
                ci = np.float64(conf[idx])
                total_conf += ci
                w = ci - 1.0
                for f in range(k):
                    y[f] = Y[i, f]
                for a in range(k):
                    ya = y[a]
                    rhs[a] += ci * ya
                    wa = w * ya
                    for c in range(a + 1):
                        A[a, c] += wa * y[c]
            for a in range(k):
                b[a] = rhs[a]
            cholesky_solve(A, rhs, k)
            bx = 0.0
            for f in range(k):
                X[u, f] = rhs[f]
                bx += b[f] * rhs[f]
            acc += total_conf - bx
        partial[blk] = acc
    total = 0.0
    for blk in range(n_blocks):
        total += partial[blk]
    return total
