"""numba kernels for non-negative matrix factorization (and the sparse products SVD shares).

Layout, used by every kernel here: the data matrix ``X`` (n x m) is given as
CSR arrays ``(indptr, indices, data)``; the factor being updated is ``F``
(n x k, C-contiguous, one row per row of ``X``) and the fixed factor is
``Fo`` (m x k, one row per column of ``X``). Updating ``W`` passes ``X`` in
CSR form with ``F = W`` and ``Fo = H^T``; updating ``H`` passes ``X^T`` in
CSR form (that is, ``X`` in CSC form) with ``F = H^T`` and ``Fo = W``. So one
kernel serves both sides, and ``H`` is stored as ``H^T`` (the
``item_factors_`` layout).

Every update of a row of ``F`` depends only on that row (the other factor
and the Gram matrices are fixed during a half-sweep), so all kernels run
``prange`` over rows and give bit-identical results whatever the thread
count. One kernel call is one half-iteration (one side); the model calls
them in a Python loop, so it can report, check cancel and stop early.

Kernels
-------
spmm, spmm_t
    ``X @ B`` (gather form, per row) and ``X^T @ B`` (scatter form into one
    private accumulator per thread, then a fixed-order sum).
hals_rows
    Coordinate descent / HALS on the rows of ``F`` for the full-matrix
    Frobenius objective, with several inner sweeps (accelerated HALS).
mu_rows
    Lee-Seung multiplicative update for the full-matrix Frobenius objective.
masked_cd_rows, masked_mu_rows
    The same two, restricted to the observed entries (ratings).
excluded_cd_rows, excluded_mu_rows, excluded_sq_rows
    The full-matrix updates with a small set of cells left out (a cell
    holdout), as a correction over those cells; and the squared predictions
    at the left-out cells, for the loss.
kl_mu_rows, kl_loss_rows
    Multiplicative update for the (generalised) Kullback-Leibler divergence,
    ``X ./ (W H)`` evaluated at the stored entries only; and the divergence.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "spmm",
    "spmm_t",
    "hals_rows",
    "mu_rows",
    "masked_cd_rows",
    "masked_mu_rows",
    "excluded_cd_rows",
    "excluded_mu_rows",
    "excluded_sq_rows",
    "kl_mu_rows",
    "kl_loss_rows",
]


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def spmm(indptr, indices, data, B, out):
    # Sparse (CSR, n x m) times dense (m x k) into out (n x k), gather form.
    # Variant: one task per row, each row of out accumulated in place from the
    # rows of B named by the row's column indices. Rows are independent, so
    # prange splits them with no races and no reduction; the inner loop over
    # k is contiguous in B and out and vectorises. This is scipy's csr_matvecs
    # loop, run on every core.
    n = out.shape[0]
    k = out.shape[1]
    for i in prange(n):
        for t in range(k):
            out[i, t] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            x = data[p]
            j = indices[p]
            for t in range(k):
                out[i, t] += x * B[j, t]


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def spmm_t(indptr, indices, data, B, out, n_chunks):
    # Transposed product X^T @ B (X in CSR, n x m; B n x k; out m x k) without
    # a transposed copy of X: scatter form, each CSR row i adds x_ij * B[i]
    # into row j of the output. Scatters race, so the rows are cut into
    # n_chunks contiguous blocks, each scattering into its own private
    # accumulator; the accumulators are then summed in chunk order, so the
    # result depends on n_chunks only, not on thread timing. Worth it when
    # only a few products are taken (randomized SVD); NMF keeps a CSC copy
    # and uses spmm instead (gather is faster than scatter).
    n = indptr.shape[0] - 1
    m, k = out.shape
    acc = np.zeros((n_chunks, m, k), dtype=out.dtype)
    step = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * step
        hi = min(n, lo + step)
        for i in range(lo, hi):
            for p in range(indptr[i], indptr[i + 1]):
                x = data[p]
                j = indices[p]
                for t in range(k):
                    acc[c, j, t] += x * B[i, t]
    for j in prange(m):
        for t in range(k):
            s = acc[0, j, t]
            for c in range(1, n_chunks):
                s += acc[c, j, t]
            out[j, t] = s


@njit(cache=True, nogil=True, fastmath=True)
def _cd_row(f, b, G, inv, l1, l2, max_inner, inner_tol, grad):
    # Exact coordinate descent for one row (shared by hals_rows and
    # masked_cd_rows):
    #     min_{f >= 0} 0.5 f^T (G + l2 I) f - (b - l1)^T f,
    #     f_t <- max(0, f_t - grad_t * inv_t),  inv_t = 1 / (G_tt + l2) (0: dead component),
    # grad updated in O(k) after each change; up to max_inner sweeps, stopping
    # once a sweep moves f by less than inner_tol times the first sweep.
    # f is updated in place; grad is scratch.
    k = f.shape[0]
    for t in range(k):
        s = l1 - b[t] + l2 * f[t]
        for r in range(k):
            s += G[t, r] * f[r]
        grad[t] = s
    first = 0.0
    for sweep in range(max_inner):
        change = 0.0
        for t in range(k):
            ft = f[t]
            g = grad[t]
            if inv[t] == 0.0 or (ft == 0.0 and g >= 0.0):
                continue  # dead, or at the bound and pushed against it: stays
            new = ft - g * inv[t]
            if new < 0.0:
                new = 0.0
            d = new - ft
            if d != 0.0:
                f[t] = new
                for r in range(k):
                    grad[r] += d * G[t, r]
                grad[t] += d * l2
                change += d * d
        if sweep == 0:
            first = change
        if change <= inner_tol * inner_tol * first:
            break


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def hals_rows(B, G, F, l1, l2, max_inner, inner_tol):
    # Full-matrix Frobenius NMF, coordinate descent on the rows of F: HALS
    # (Cichocki & Phan 2009) in the row-wise form of Hsieh & Dhillon (2011)
    # and scikit-learn's "cd" solver, accelerated as Gillis & Glineur (2012).
    # With B = X Fo (n x k) and G = Fo^T Fo (k x k, symmetric) fixed, row f
    # of F solves
    #     min_{f >= 0} 0.5 f^T (G + l2 I) f - (b - l1)^T f
    # one coordinate at a time, exactly:
    #     f_t <- max(0, f_t - grad_t / (G_tt + l2)),  grad = (G + l2 I) f - b + l1,
    # updating grad in O(k) after each change. One sweep over t of all rows
    # is one HALS sweep of the whole factor (the update of W[:, t] never
    # looks at other rows, so row order = column order). Because B and G
    # cost a sparse product while a sweep costs only k^2 per row, each row
    # is swept up to max_inner times, stopping once a sweep moves it by less
    # than inner_tol times its first sweep (accelerated HALS). Rows go in
    # fixed blocks of 64 (scratch allocated once per block); the result
    # does not depend on the thread count. Returns sum_i f_i . b_i =
    # <X, F Fo^T>, which the caller turns into the loss.
    n, k = F.shape
    # 1 / (G_tt + l2) once per call, not once per coordinate and row: the
    # divisions were half the cost of a sweep. 0 marks a dead component.
    inv = np.zeros(k)
    for t in range(k):
        if G[t, t] + l2 > 0.0:
            inv[t] = 1.0 / (G[t, t] + l2)
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        f = np.empty(k)
        grad = np.empty(k)
        dot = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            for t in range(k):
                f[t] = F[i, t]
            _cd_row(f, B[i], G, inv, l1, l2, max_inner, inner_tol, grad)
            for t in range(k):
                F[i, t] = f[t]
                dot += f[t] * B[i, t]
        partial[blk] = dot
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def mu_rows(B, G, F, l1, l2, eps):
    # Full-matrix Frobenius NMF, Lee & Seung (2001) multiplicative update of
    # the rows of F, with scikit-learn's L1/L2 terms in the denominator:
    #     f <- f * b / (G f + l1 + l2 f + eps),   B = X Fo, G = Fo^T Fo.
    # Each row is independent (prange over blocks of 64 rows). Non-increasing
    # objective; kept for teaching and as the solver KL needs. Returns
    # <X, F Fo^T> like hals_rows.
    n, k = F.shape
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        f = np.empty(k)
        dot = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            for t in range(k):
                f[t] = F[i, t]
            for t in range(k):
                s = l1 + l2 * f[t] + eps
                for r in range(k):
                    s += G[t, r] * f[r]
                new = f[t] * B[i, t] / s
                F[i, t] = new
                dot += new * B[i, t]
        partial[blk] = dot
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def masked_cd_rows(indptr, indices, data, Fo, F, l1, l2, max_inner, inner_tol):
    # Masked Frobenius NMF for ratings: only the observed entries count,
    #     min 0.5 sum_{(i,j) observed} (x_ij - f_i . g_j)^2 + reg.
    # For row i the problem is a non-negative least squares with its own
    # Gram matrix G_i = sum_{j in obs(i)} g_j g_j^T and b_i = sum x_ij g_j
    # (built here in float64, k^2/2 per observed entry), solved by the same
    # exact coordinate descent as hals_rows: one sweep equals one masked
    # HALS sweep (Cichocki & Phan restricted to observed entries), and the
    # extra inner sweeps are nearly free once G_i is built. The L1/L2
    # strengths are scaled by the row's number of observed entries, the
    # masked analogue of scikit-learn's scaling by n_features (so a value
    # means the same in masked and full mode). A row with no entries keeps
    # its values. Returns the sum of squared residuals after the update,
    # computed from the float64 sums (no second pass over the entries).
    n, k = F.shape
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        G = np.empty((k, k))
        b = np.empty(k)
        f = np.empty(k)
        grad = np.empty(k)
        inv = np.empty(k)
        acc = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            start = indptr[i]
            stop = indptr[i + 1]
            if stop == start:
                continue
            G[:, :] = 0.0
            b[:] = 0.0
            xx = 0.0
            for p in range(start, stop):
                j = indices[p]
                x = data[p]
                xx += x * x
                for t in range(k):
                    g = Fo[j, t]
                    b[t] += x * g
                    for r in range(t + 1):
                        G[t, r] += g * Fo[j, r]
            for t in range(k):
                for r in range(t):
                    G[r, t] = G[t, r]
            cnt = stop - start
            lam1 = l1 * cnt
            lam2 = l2 * cnt
            for t in range(k):
                f[t] = F[i, t]
                hess = G[t, t] + lam2
                inv[t] = 1.0 / hess if hess > 0.0 else 0.0
            _cd_row(f, b, G, inv, lam1, lam2, max_inner, inner_tol, grad)
            # residual^2 = x.x - 2 f.b + f^T G f (f as stored, float32)
            quad = 0.0
            fb = 0.0
            for t in range(k):
                F[i, t] = f[t]
            for t in range(k):
                ft = np.float64(F[i, t])
                fb += ft * b[t]
                s = 0.0
                for r in range(k):
                    s += G[t, r] * np.float64(F[i, r])
                quad += ft * s
            res = xx - 2.0 * fb + quad
            acc += res if res > 0.0 else 0.0
        partial[blk] = acc
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def masked_mu_rows(indptr, indices, data, Fo, F, l1, l2, eps):
    # Masked Frobenius NMF, weighted Lee-Seung update (the mask is the weight,
    # as in Zhang et al. 2006 "Learning from incomplete ratings using NMF"):
    #     f <- f * (sum_{j obs} x_ij g_j) / (sum_{j obs} (f.g_j) g_j + (l1 + l2 f) cnt + eps)
    # with the regularisation scaled by the row's observed count as in
    # masked_cd_rows. A second pass over the row's entries gives the squared
    # residual after the update, which is returned (summed over rows).
    n, k = F.shape
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        num = np.empty(k)
        den = np.empty(k)
        acc = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            start = indptr[i]
            stop = indptr[i + 1]
            if stop == start:
                continue
            num[:] = 0.0
            den[:] = 0.0
            for p in range(start, stop):
                j = indices[p]
                v = 0.0
                for t in range(k):
                    v += F[i, t] * Fo[j, t]
                x = data[p]
                for t in range(k):
                    g = Fo[j, t]
                    num[t] += x * g
                    den[t] += v * g
            cnt = stop - start
            for t in range(k):
                F[i, t] = F[i, t] * num[t] / (den[t] + (l1 + l2 * F[i, t]) * cnt + eps)
            for p in range(start, stop):
                j = indices[p]
                v = 0.0
                for t in range(k):
                    v += F[i, t] * Fo[j, t]
                e = data[p] - v
                acc += e * e
        partial[blk] = acc
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def excluded_cd_rows(B, G, ex_indptr, ex_indices, Fo, F, l1, l2, n_total, max_inner, inner_tol):
    # Full-matrix Frobenius NMF with a few cells left out (the training side
    # of a cell holdout: those cells are unknown, every other cell counts,
    # zeros included): weight 0 on the left-out cells, 1 elsewhere. Row f of
    # F solves
    #     min_{f >= 0} 0.5 f^T (G_i + l2_i I) f - (b_i - l1_i)^T f,
    #     G_i = G - sum_{j in out(i)} g_j g_j^T,   b_i = B[i],
    # with G = Fo^T Fo over every column and B = X Fo, X holding 0 at the
    # left-out cells (they are not stored), so b needs no correction: only
    # the Gram matrix loses the outer products of the row's left-out
    # columns (ex_indptr/ex_indices: CSR of the left-out cells, k^2/2 each).
    # Cost: the full-matrix update plus one k x k copy per row plus the
    # correction, proportional to the number of left-out cells; the
    # masked kernels would instead pay k^2/2 per observed cell. Solved by the
    # exact coordinate descent of hals_rows (_cd_row). L1/L2 are scaled by
    # the row's counted cells n_total - |out(i)|, as masked_cd_rows scales
    # by the observed count. Returns sum_i f_i . b_i like hals_rows.
    n, k = F.shape
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        Gi = np.empty((k, k))
        b = np.empty(k)
        f = np.empty(k)
        grad = np.empty(k)
        inv = np.empty(k)
        dot = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            start = ex_indptr[i]
            stop = ex_indptr[i + 1]
            for t in range(k):
                for r in range(k):
                    Gi[t, r] = G[t, r]
            if stop > start:
                for p in range(start, stop):
                    j = ex_indices[p]
                    for t in range(k):
                        g = Fo[j, t]
                        for r in range(t + 1):
                            Gi[t, r] -= g * Fo[j, r]
                for t in range(k):
                    for r in range(t):
                        Gi[r, t] = Gi[t, r]
            cnt = n_total - (stop - start)
            lam1 = l1 * cnt
            lam2 = l2 * cnt
            for t in range(k):
                f[t] = F[i, t]
                b[t] = B[i, t]
                hess = Gi[t, t] + lam2
                inv[t] = 1.0 / hess if hess > 0.0 else 0.0
            _cd_row(f, b, Gi, inv, lam1, lam2, max_inner, inner_tol, grad)
            for t in range(k):
                F[i, t] = f[t]
                dot += f[t] * b[t]
        partial[blk] = dot
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def excluded_mu_rows(B, G, ex_indptr, ex_indices, Fo, F, l1, l2, n_total, eps):
    # Multiplicative update of mu_rows with the left-out cells of
    # excluded_cd_rows given weight 0 (the weighted Lee-Seung update of
    # masked_mu_rows, written as the full-matrix one minus a correction):
    #     f <- f * b / (G f - sum_{j in out(i)} (f.g_j) g_j + (l1 + l2 f) cnt + eps),
    # cnt = n_total - |out(i)|. Returns sum_i f_i . b_i.
    n, k = F.shape
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        f = np.empty(k)
        den = np.empty(k)
        dot = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            start = ex_indptr[i]
            stop = ex_indptr[i + 1]
            for t in range(k):
                f[t] = F[i, t]
            cnt = n_total - (stop - start)
            for t in range(k):
                s = 0.0
                for r in range(k):
                    s += G[t, r] * f[r]
                den[t] = s + (l1 + l2 * f[t]) * cnt + eps
            for p in range(start, stop):
                j = ex_indices[p]
                v = 0.0
                for t in range(k):
                    v += f[t] * Fo[j, t]
                for t in range(k):
                    den[t] -= v * Fo[j, t]
            for t in range(k):
                d = den[t] if den[t] > eps else eps
                new = f[t] * B[i, t] / d
                F[i, t] = new
                dot += new * B[i, t]
        partial[blk] = dot
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def excluded_sq_rows(ex_indptr, ex_indices, F, Fo):
    # sum over the left-out cells (i, j) of (f_i . g_j)^2 in float64: what
    # the full-matrix squared error counts there (the cells hold 0 in X) and
    # the training loss must not.
    n, k = F.shape
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        s = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            for p in range(ex_indptr[i], ex_indptr[i + 1]):
                j = ex_indices[p]
                v = 0.0
                for t in range(k):
                    v += np.float64(F[i, t]) * Fo[j, t]
                s += v * v
        partial[blk] = s
    return partial.sum()


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def kl_mu_rows(indptr, indices, data, Fo, F, colsum, masked, l1, l2, eps):
    # Generalised Kullback-Leibler NMF, Lee & Seung (2001) multiplicative
    # update of the rows of F:
    #     f <- f * (sum_j x_ij / (f.g_j) g_j) / (sum_j g_j + l1 + l2 f + eps).
    # The ratio x_ij / (W H)_ij is needed only where x_ij is stored (it is 0
    # elsewhere), so the numerator is one pass over the row's non-zeros and
    # W H is never formed. Full mode: the denominator sums g_j over all
    # columns (colsum, computed once per half-iteration). Masked mode
    # (ratings): only over the row's observed columns, and the L1/L2 terms
    # scale with the observed count. (f.g_j) is floored at eps.
    n, k = F.shape
    n_blocks = (n + 63) // 64
    for blk in prange(n_blocks):
        num = np.empty(k)
        den = np.empty(k)
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            start = indptr[i]
            stop = indptr[i + 1]
            if masked and stop == start:
                continue
            num[:] = 0.0
            den[:] = 0.0
            for p in range(start, stop):
                j = indices[p]
                x = data[p]
                if masked:
                    for t in range(k):
                        den[t] += Fo[j, t]
                if x == 0.0:
                    continue
                v = 0.0
                for t in range(k):
                    v += F[i, t] * Fo[j, t]
                if v < eps:
                    v = eps
                ratio = x / v
                for t in range(k):
                    num[t] += ratio * Fo[j, t]
            if masked:
                scale = np.float64(stop - start)
            else:
                scale = 1.0
                for t in range(k):
                    den[t] = colsum[t]
            for t in range(k):
                F[i, t] = F[i, t] * num[t] / (den[t] + (l1 + l2 * F[i, t]) * scale + eps)


@njit(parallel=True, cache=True, nogil=True, fastmath=True)
def kl_loss_rows(indptr, indices, data, W, Ht, masked, eps):
    # Generalised KL divergence D(X || W H) = sum x log(x / v) - x + v,
    # v = (W H)_ij, evaluated at the stored entries only. Full mode: the sum
    # of v over every cell is (sum_i w_i) . (sum_j h_j), added by the caller,
    # so this returns sum_stored (x log(x/v) - x). Masked mode: the sum is
    # over observed cells only, v included. In float64, per block of rows.
    n = indptr.shape[0] - 1
    k = W.shape[1]
    n_blocks = (n + 63) // 64
    partial = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        s = 0.0
        for i in range(blk * 64, min(n, blk * 64 + 64)):
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                x = np.float64(data[p])
                v = 0.0
                for t in range(k):
                    v += np.float64(W[i, t]) * Ht[j, t]
                if v < eps:
                    v = eps
                if x > 0.0:
                    s += x * np.log(x / v) - x
                if masked:
                    s += v
        partial[blk] = s
    return partial.sum()
