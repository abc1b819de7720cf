"""Gibbs-sampling kernels for Bayesian probabilistic matrix factorization.

Variant
-------
Salakhutdinov & Mnih (ICML 2008), "Bayesian probabilistic matrix
factorization using Markov chain Monte Carlo", block Gibbs sampler: given
the other side's vectors and the Normal-Wishart hyperparameters
``(mu, Lambda)`` of this side, the rows of one side are conditionally
independent Gaussians::

    Lambda*_r = Lambda + alpha * sum_{j in R(r)} y_j y_j^T
    m_r       = Lambda*_r^{-1} (Lambda mu + alpha * sum_{j in R(r)} y_j (r_rj - o_j))
    x_r       ~ N(m_r, Lambda*_r^{-1})

so one kernel call samples a whole side in parallel (``prange`` over rows).
``y_j`` is the *design* vector of the other side's row ``j`` and ``o_j`` an
offset subtracted from the rating. Plain BPMF passes the other side's factor
vectors and zero offsets. The model's bias variant passes ``[q_j, 1]`` and
the other side's bias as offset, so that the sampled vector is
``[p_r, b_r]``: the bias is one more Gaussian coordinate with the same
Normal-Wishart prior (the "always-1 factor" of Bayesian factorization
machines), sampled jointly with the factors.

Why this form
-------------
- Per row, a d x d Cholesky (d = n_factors [+1]) written out in loops: d is
  small (<= ~100), LAPACK's per-call overhead would dominate, and numba's
  ``np.linalg`` would pull SciPy's LAPACK into the frozen app (DESIGN.md).
  Accumulation is float64: the Gram matrix of a popular item sums tens of
  thousands of outer products.
- The sample is ``m_r + L^{-T} z`` with ``Lambda*_r = L L^T``, whose
  covariance is ``(L L^T)^{-1}``. The standard normals ``z`` come in as an
  array drawn in Python from the model's seeded Generator, one row per
  row of the side, so the chain is the same for a given seed whatever the
  number of threads (each row's arithmetic does not depend on how prange
  splits the rows).
- The kernel returns the conditional mean ``m_r`` next to the sample: the
  model keeps the item means of each kept sweep, not the item draws
  (Rao-Blackwellisation): ``E[p_u . q_i | U, hyper] = p_u . m_i`` exactly,
  so the average over kept sweeps estimates the same posterior mean with
  less Monte Carlo noise.
- Only the two row-sampling calls of a sweep run in parallel, and small
  problems use the serial twin :func:`sample_side_serial` (same per-row
  code): each parallel region is a barrier, and on a shared machine a
  barrier around a millisecond of work costs ten.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import cholesky_factor, row_dot

__all__ = ["sample_side", "sample_side_serial", "pair_predictions", "moments", "squared_error"]


@njit(cache=True, nogil=True, fastmath=True)
def _sample_row(r, indptr, indices, values, design, offset, alpha, lam, lam_mu, normals, out_sample, out_mean):
    """Row r of :func:`sample_side`: the one code path of the serial and parallel kernels."""
    d = out_sample.shape[1]
    a = lam.copy()
    b = lam_mu.copy()
    # Lower triangle of the posterior precision, and the linear term.
    for p in range(indptr[r], indptr[r + 1]):
        j = indices[p]
        t = alpha * (values[p] - offset[j])
        for s in range(d):
            ys = alpha * design[j, s]
            b[s] += t * design[j, s]
            for c in range(s + 1):
                a[s, c] += ys * design[j, c]
    # In-place Cholesky (the one pivot rule of mfstudio.kernels._common): lower triangle of a becomes L, L L^T = a.
    cholesky_factor(a, d)
    # mean: L w = b, then L^T m = w.
    w = np.empty(d)
    for s in range(d):
        acc = b[s]
        for c in range(s):
            acc -= a[s, c] * w[c]
        w[s] = acc / a[s, s]
    m = np.empty(d)
    e = np.empty(d)
    for s in range(d - 1, -1, -1):
        acc = w[s]
        acc_e = normals[r, s]
        for c in range(s + 1, d):
            acc -= a[c, s] * m[c]
            acc_e -= a[c, s] * e[c]
        m[s] = acc / a[s, s]
        e[s] = acc_e / a[s, s]
    for s in range(d):
        out_mean[r, s] = m[s]
        out_sample[r, s] = m[s] + e[s]


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def sample_side(indptr, indices, values, design, offset, alpha, lam, lam_mu, normals, out_sample, out_mean):
    """Sample every row of one side from its Gaussian conditional.

    Parameters
    ----------
    indptr, indices, values : CSR arrays (int64, int32, float32/64)
        The ratings of each row of this side (row r: entries
        ``indptr[r]:indptr[r+1]``), ``indices`` into the other side.
    design : float64 (n_other, d)
        Design vector ``y_j`` of each row of the other side.
    offset : float64 (n_other,)
        Subtracted from each rating before the regression (other side's bias).
    alpha : float
        Observation precision (1 / noise variance).
    lam : float64 (d, d)
        Prior precision ``Lambda`` of this side.
    lam_mu : float64 (d,)
        ``Lambda @ mu``.
    normals : float64 (n_rows, d)
        Standard normal draws, one row per row of this side.
    out_sample, out_mean : float64 (n_rows, d)
        Written: the sampled vectors and their conditional means.
    """
    for r in prange(out_sample.shape[0]):
        # prange's index is unsigned: as int64 the serial twin's compiled _sample_row serves both (one compile).
        _sample_row(np.int64(r), indptr, indices, values, design, offset, alpha, lam, lam_mu, normals, out_sample, out_mean)


@njit(cache=True, nogil=True, fastmath=True)
def sample_side_serial(indptr, indices, values, design, offset, alpha, lam, lam_mu, normals, out_sample, out_mean):
    """:func:`sample_side` on one thread, for small problems.

    A parallel region is a barrier: on a shared machine, where a thread can be
    descheduled for a time slice, a region holding a millisecond of work
    takes ten (measured: a 5k-rating fit ran 5x slower on 2 threads than on
    one under load). Below a few million flops per half-sweep the model
    calls this instead; both go through :func:`_sample_row`, so each row's
    arithmetic is the same.
    """
    for r in range(out_sample.shape[0]):
        _sample_row(r, indptr, indices, values, design, offset, alpha, lam, lam_mu, normals, out_sample, out_mean)


@njit(cache=True, nogil=True, fastmath=True)
def pair_predictions(user, item, rows, cols, n_factors, with_bias, out):
    """``out[n] = p_u . q_i (+ b_u + b_i)`` for each pair ``(rows[n], cols[n])``.

    ``user`` and ``item`` hold ``[p, b]`` rows when ``with_bias`` (the bias in
    column ``n_factors``), ``p`` alone otherwise. No global mean is added.
    Serial on purpose: it costs a few percent of a sweep, and every parallel
    region is a barrier that stalls when the cores are shared (see
    :func:`sample_side_serial`).
    """
    for n in range(rows.shape[0]):
        u = rows[n]
        i = cols[n]
        acc = row_dot(user, u, item, i, n_factors)
        if with_bias:
            acc += user[u, n_factors] + item[i, n_factors]
        out[n] = acc


@njit(cache=True, nogil=True, fastmath=True)
def moments(x):
    """Column means and scatter matrix ``sum_r (x_r - mean)(x_r - mean)^T`` of ``x`` (n, d).

    For the Normal-Wishart draw. Done here rather than with numpy's
    ``x.T @ x`` because a multi-threaded BLAS call between the parallel
    kernels leaves OpenBLAS threads spinning on the cores numba needs
    (measured: sweeps twice as slow on 2 cores); serial, like
    :func:`pair_predictions`, because it is cheap.
    """
    n, d = x.shape
    mean = np.zeros(d)
    for r in range(n):
        for a in range(d):
            mean[a] += x[r, a]
    for a in range(d):
        mean[a] /= max(n, 1)
    scatter = np.zeros((d, d))
    centred = np.empty(d)
    for r in range(n):
        for a in range(d):
            centred[a] = x[r, a] - mean[a]
        for a in range(d):
            for c in range(a + 1):
                scatter[a, c] += centred[a] * centred[c]
    for a in range(d):
        for c in range(a):
            scatter[c, a] = scatter[a, c]
    return mean, scatter


@njit(cache=True, nogil=True, fastmath=True)
def squared_error(predictions, targets):
    """``sum((predictions - targets)^2)`` in float64, without a BLAS call (see :func:`moments`)."""
    acc = 0.0
    for n in range(predictions.shape[0]):
        e = predictions[n] - targets[n]
        acc += e * e
    return acc
