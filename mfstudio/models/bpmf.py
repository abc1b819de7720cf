"""Bayesian probabilistic matrix factorization, sampled by Gibbs (Salakhutdinov & Mnih, ICML 2008).

The model::

    r_ui | ...        ~ N(mu + b_u + b_i + p_u . q_i, 1 / alpha)
    [p_u, b_u]        ~ N(mu_U, Lambda_U^-1)        (one Gaussian per user)
    [q_i, b_i]        ~ N(mu_V, Lambda_V^-1)        (one per item)
    (mu_U, Lambda_U)  ~ Normal-Wishart(mu0=0, beta0, W0=I, nu0=d), same for V
    alpha             ~ Gamma(1, 1)                  (only with sample_alpha)

``mu`` is the global mean of the training ratings (fixed, not sampled); the
biases are one more coordinate of each vector (``use_bias``), so they share
the learned Gaussian prior with the factors. Nothing is tuned by hand: the
prior precisions are sampled from the data, which is why BPMF does not
overfit as the rank grows.

One Gibbs sweep (one yielded "epoch") draws ``(mu_U, Lambda_U)``, then every
user vector in parallel given the items, then ``(mu_V, Lambda_V)``, then
every item vector given the users (kernel: :mod:`mfstudio.kernels.bpmf`).

Prediction is the posterior mean, the average over the sweeps after
``n_burnin``. :class:`FactorModel` predicts ``p_u . q_i`` from one pair of
factor matrices, and the average of dot products is not the dot of averages;
so each kept sweep's factors are *concatenated*, scaled by ``1/sqrt(S)``::

    user_factors_[u] = [p_u^1, ..., p_u^S] / sqrt(S)
    item_factors_[i] = [q_i^1, ..., q_i^S] / sqrt(S)
    => user_factors_[u] . item_factors_[i] = (1/S) sum_s p_u^s . q_i^s

which is exactly the sample average, with the averaged biases in
``user_bias_`` / ``item_bias_``. Prediction, top-N, similar items (cosine in
the concatenated space) and save/load then come from FactorModel unchanged.
At most ``max_samples`` sweeps are kept (evenly thinned, the last sweep
always among them), so the factor matrices have at most
``n_factors * max_samples`` columns.

For the item side the kept vector is the conditional *mean* of the item
given the users of that sweep, not the draw (Rao-Blackwellisation:
``E[p_u . q_i | users] = p_u . E[q_i | users]`` exactly), which estimates the
same posterior mean with less Monte Carlo noise.

Before the burn-in ends (or when ``n_burnin >= n_epochs``) the model predicts
from the latest sweep alone.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.dataset import Dataset
from ..kernels import lazy

kernels = lazy("bpmf")  # numba loads on the first fit, not with the method list
from .base import FactorModel
from .stopping import stop_requested
from .params import Param, factors_spec, seed_spec

__all__ = ["BayesianMF"]

# Gamma(shape, rate) prior of the observation precision when sample_alpha.
_ALPHA_PRIOR = (1.0, 1.0)
# Standard deviation of the random initial factors.
_INIT_STD = 0.1
# Below this many multiply-adds per half-sweep (ratings x d(d+1)/2) rows are
# sampled on one thread: a parallel region costs more than it saves there.
_PARALLEL_WORK = 2_000_000


def sample_normal_wishart(x: np.ndarray, beta0: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(mu, Lambda)`` from the Normal-Wishart posterior given the rows of ``x``.

    Prior ``mu0 = 0``, ``beta0``, ``W0 = I``, ``nu0 = d`` (Salakhutdinov &
    Mnih 2008, eq. 14). The Wishart draw uses the Bartlett decomposition.

    Returns
    -------
    mu : ndarray (d,)
    Lambda : ndarray (d, d)
    """
    n, d = x.shape
    mean, scatter = kernels.moments(np.ascontiguousarray(x, dtype=np.float64))
    beta_n = beta0 + n
    nu_n = d + n
    mu_n = (n / beta_n) * mean
    w_inv = np.eye(d) + scatter + (beta0 * n / beta_n) * np.outer(mean, mean)
    w_inv = 0.5 * (w_inv + w_inv.T)
    # W = w_inv^-1; chol(W) via the inverse of chol(w_inv): W = C^-T C^-1.
    c = np.linalg.cholesky(w_inv)
    c_inv_t = np.linalg.inv(c).T  # upper triangular; W = c_inv_t @ c_inv_t.T
    bartlett = np.zeros((d, d))
    bartlett[np.diag_indices(d)] = np.sqrt(rng.chisquare(nu_n - np.arange(d)))
    lower = np.tril_indices(d, -1)
    bartlett[lower] = rng.standard_normal(lower[0].size)
    factor = c_inv_t @ bartlett  # W^(1/2) A with (c_inv_t)(c_inv_t)^T = W
    lam = factor @ factor.T
    lam = 0.5 * (lam + lam.T)
    chol = np.linalg.cholesky(beta_n * lam)
    mu = mu_n + np.linalg.solve(chol.T, rng.standard_normal(d))
    return mu, lam


class BayesianMF(FactorModel):
    """Bayesian probabilistic matrix factorization by Gibbs sampling.

    Parameters
    ----------
    n_factors : int, default 10
        Rank of the interaction term ``p_u . q_i``.
    n_epochs : int, default 200
        Gibbs sweeps in all (burn-in included).
    n_burnin : int, default 10
        First sweeps left out of the posterior mean (the chain is still
        moving away from its random start).
    max_samples : int, default 20
        Most post-burn-in sweeps kept for the posterior mean (evenly thinned);
        memory is ``n_factors * max_samples`` floats per user and per item.
    alpha : float, default 2.0
        Observation precision (1 / noise variance of a rating); with
        ``sample_alpha`` only the starting value.
    sample_alpha : bool, default False
        Sample ``alpha`` too (Gamma(1, 1) prior) instead of fixing it.
    use_bias : bool, default True
        Give users and items a bias, sampled as one more coordinate of their
        vectors.
    beta0 : float, default 2.0
        Prior strength of the Normal-Wishart hyperprior on the mean vectors.
    seed : int, default 0
        Seed of the random initial factors and of every draw.

    Attributes
    ----------
    global_mean_ : float
    user_factors_ : ndarray (n_users, n_factors * n_samples_), float32
        Kept sweeps' user factors side by side, scaled by 1/sqrt(n_samples_).
    item_factors_ : ndarray (n_items, n_factors * n_samples_), float32
        Kept sweeps' item factor means side by side, same scaling.
    user_bias_, item_bias_ : ndarray, float64
        Posterior-mean biases (absent without ``use_bias``).
    n_samples_ : int
        Sweeps averaged into the factors so far.
    kept_mu_user_, kept_lambda_user_, kept_alpha_, kept_item_bias_ : ndarray
        Per kept sweep: user hyperparameters, noise precision and item
        biases, for :meth:`fold_in`.
    alpha_ : float
        Observation precision of the last sweep.
    """

    name = "bpmf"
    title = "Bayesian MF (Gibbs)"
    summary = ("Averages the predictions of many factorizations drawn from their posterior: at a modest rank it "
               "usually overfits less than SGD or ALS, but it is slower and not immune. With many factors on little "
               "data (k=50 on 100K ratings) its test RMSE can end above the baseline's: start near k=10 and compare.")
    objective = (
        "r_ui ~ N(mu + b_u + b_i + p_u.q_i, 1/alpha);  [p_u, b_u] ~ N(mu_U, Lambda_U^-1);  "
        "[q_i, b_i] ~ N(mu_V, Lambda_V^-1);  (mu, Lambda) ~ Normal-Wishart(0, beta0, I, d);  "
        "prediction = posterior mean, averaged over Gibbs samples after burn-in"
    )
    params_spec = (
        factors_spec(10, "rank of the interaction term p_u . q_i"),
        Param("n_epochs", "int", 200, "Gibbs sweeps in all, burn-in included", low=1, high=100_000),
        Param("n_burnin", "int", 5, "first sweeps left out of the posterior mean", low=0, high=100_000),
        Param("max_samples", "int", 24,
              "most sweeps kept for the posterior mean (memory: n_factors x this per user and item)", low=1, high=1000),
        Param("alpha", "float", 2.0,
              "observation precision, 1 / noise variance of a rating (start value when sample_alpha)",
              low=0.0, low_open=True),
        Param("sample_alpha", "bool", True, "sample the observation precision too instead of fixing it"),
        Param("use_bias", "bool", True, "give users and items a bias (one more sampled coordinate)"),
        Param("beta0", "float", 2.0, "prior strength on the mean of the user / item vectors", low=0.0, low_open=True),
        seed_spec("seed of the initial factors and of every random draw"),
    )
    kinds = ("explicit",)
    task = "rating"

    # ------------------------------------------------------------ params
    def _checked_params(self) -> dict:
        return self.validate_params()

    def _fit_steps(self, train: Dataset):
        import scipy.sparse as sp
        prm = self._checked_params()
        k, use_bias = prm["n_factors"], prm["use_bias"]
        d = k + int(use_bias)
        n_epochs, n_burnin = prm["n_epochs"], prm["n_burnin"]
        rng = np.random.default_rng(prm["seed"])
        n_users, n_items = train.shape

        ratings = train.values.astype(np.float64)
        self.global_mean_ = float(ratings.mean())
        self.n_factors_ = k
        centred = ratings - self.global_mean_
        by_user = sp.csr_matrix((centred, (train.rows, train.cols)), shape=train.shape)
        by_item = by_user.T.tocsr()
        by_user.sort_indices()
        by_item.sort_indices()
        user_csr = (by_user.indptr.astype(np.int64), by_user.indices.astype(np.int32), by_user.data)
        item_csr = (by_item.indptr.astype(np.int64), by_item.indices.astype(np.int32), by_item.data)
        rows = train.rows.astype(np.int64)
        cols = train.cols.astype(np.int64)

        sampler = (kernels.sample_side if ratings.size * d * (d + 1) // 2 >= _PARALLEL_WORK
                   else kernels.sample_side_serial)

        users = _INIT_STD * rng.standard_normal((n_users, d))
        items = _INIT_STD * rng.standard_normal((n_items, d))
        if use_bias:
            users[:, k] = 0.0
            items[:, k] = 0.0
        user_mean = np.empty_like(users)
        item_mean = np.empty_like(items)
        alpha = prm["alpha"]

        # Which sweeps are kept: min(max_samples, post-burn-in sweeps) of them,
        # evenly spaced, counted back from the last sweep (always kept).
        n_post = max(n_epochs - n_burnin, 0)
        n_keep = min(prm["max_samples"], n_post)
        kept_sweeps = {n_epochs - (j * n_post) // n_keep for j in range(n_keep)}
        self._keep_u = np.zeros((n_users, k * max(n_keep, 1)), dtype=np.float32)
        self._keep_i = np.zeros((n_items, k * max(n_keep, 1)), dtype=np.float32)
        self._sum_user_bias = np.zeros(n_users)
        self._sum_item_bias = np.zeros(n_items)
        self._kept_hyper: list[tuple[np.ndarray, np.ndarray, float, np.ndarray | None]] = []
        sum_train = np.zeros(ratings.size)
        step_pred = np.empty(ratings.size)
        scale = train.rating_scale

        try:
            for sweep in range(1, n_epochs + 1):
                mu_u, lam_u = sample_normal_wishart(users, prm["beta0"], rng)
                design, offset = self._design(items, k, use_bias)
                sampler(*user_csr, design, offset, alpha, lam_u, lam_u @ mu_u,
                        rng.standard_normal((n_users, d)), users, user_mean)
                if stop_requested():  # between the half sweeps: a cancel does not wait for the item side
                    return
                mu_v, lam_v = sample_normal_wishart(items, prm["beta0"], rng)
                design, offset = self._design(users, k, use_bias)
                sampler(*item_csr, design, offset, alpha, lam_v, lam_v @ mu_v,
                        rng.standard_normal((n_items, d)), items, item_mean)
                if prm["sample_alpha"]:
                    kernels.pair_predictions(users, items, rows, cols, k, use_bias, step_pred)
                    shape0, rate0 = _ALPHA_PRIOR
                    sse = kernels.squared_error(step_pred, centred)
                    alpha = float(rng.gamma(shape0 + 0.5 * ratings.size, 1.0 / (rate0 + 0.5 * sse)))
                self.alpha_ = alpha

                # The pair kept for the posterior mean: user draws, item conditional means.
                kernels.pair_predictions(users, item_mean, rows, cols, k, use_bias, step_pred)
                keep = sweep in kept_sweeps
                if keep:
                    s = len(self._kept_hyper)
                    self._keep_u[:, s * k:(s + 1) * k] = users[:, :k]
                    self._keep_i[:, s * k:(s + 1) * k] = item_mean[:, :k]
                    if use_bias:
                        self._sum_user_bias += users[:, k]
                        self._sum_item_bias += item_mean[:, k]
                    self._kept_hyper.append((mu_u, lam_u, alpha, item_mean[:, k].copy() if use_bias else None))
                    sum_train += step_pred
                    self._publish_kept(use_bias)
                    prediction = sum_train / len(self._kept_hyper)
                elif not self._kept_hyper:
                    self._publish_latest(users, item_mean, mu_u, lam_u, alpha, k, use_bias)
                    prediction = step_pred
                else:
                    prediction = sum_train / len(self._kept_hyper)
                prediction = prediction + self.global_mean_
                if scale is not None:
                    prediction = np.clip(prediction, scale[0], scale[1])
                extra = {"alpha": alpha, "n_samples": self.n_samples_}
                yield kernels.squared_error(prediction, ratings) / ratings.size, extra
        finally:
            # Everything kept is in the published attributes now; free the buffers (also on cancel).
            del self._keep_u, self._keep_i, self._sum_user_bias, self._sum_item_bias, self._kept_hyper

    @staticmethod
    def _design(other: np.ndarray, k: int, use_bias: bool) -> tuple[np.ndarray, np.ndarray]:
        """Design vectors and offsets of the other side: ``[q, 1]`` and ``b`` with biases."""
        if not use_bias:
            return other, np.zeros(other.shape[0])
        design = other.copy()
        design[:, k] = 1.0
        return design, np.ascontiguousarray(other[:, k])

    def _publish_latest(self, users, item_mean, mu_u, lam_u, alpha, k, use_bias) -> None:
        """Before burn-in ends: the latest sweep alone is the model."""
        self.n_samples_ = 1
        self.user_factors_ = users[:, :k].astype(np.float32)
        self.item_factors_ = item_mean[:, :k].astype(np.float32)
        self.user_bias_ = users[:, k].copy() if use_bias else None
        self.item_bias_ = item_mean[:, k].copy() if use_bias else None
        self._set_kept_arrays([(mu_u, lam_u, alpha, item_mean[:, k].copy() if use_bias else None)])

    def _publish_kept(self, use_bias: bool) -> None:
        """Factors = kept sweeps side by side, scaled so that dot products average."""
        s = len(self._kept_hyper)
        k = self.n_factors_
        factor = np.float32(1.0 / math.sqrt(s))
        self.n_samples_ = s
        self.user_factors_ = self._keep_u[:, :s * k] * factor
        self.item_factors_ = self._keep_i[:, :s * k] * factor
        self.user_bias_ = self._sum_user_bias / s if use_bias else None
        self.item_bias_ = self._sum_item_bias / s if use_bias else None
        self._set_kept_arrays(self._kept_hyper)

    def _set_kept_arrays(self, kept) -> None:
        self.kept_mu_user_ = np.stack([h[0] for h in kept])
        self.kept_lambda_user_ = np.stack([h[1] for h in kept])
        self.kept_alpha_ = np.asarray([h[2] for h in kept], dtype=np.float64)
        self.kept_item_bias_ = np.stack([h[3] for h in kept]) if kept[0][3] is not None else None

    # ------------------------------------------------------------ fold-in
    def fold_in(self, items, values=None) -> tuple[np.ndarray, float]:
        """Posterior-mean factors of a user who was not in the training data.

        For each kept sweep ``s`` the new user's vector ``[p, b]`` has a
        Gaussian conditional given that sweep's item vectors, user
        hyperparameters ``(mu_U, Lambda_U)`` and ``alpha`` (the same
        conditional the sampler draws training users from): a ridge
        regression towards ``mu_U`` with precision ``Lambda_U``. Its mean
        ``m_s`` is computed, not sampled, and the returned vector is
        ``[m_1, ..., m_S] / sqrt(S)`` in the concatenated space of
        ``item_factors_``, the bias ``mean_s b_s``; so the scores are the
        average over kept sweeps of the new user's predictions.
        The item vectors used are the kept ones (conditional means given
        each sweep's users), which is the approximation made here.

        Returns
        -------
        (vector, bias)
            Vector of length ``item_factors_.shape[1]`` (float32) and bias.
        """
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        values = np.ones(items.size) if values is None else np.asarray(values, dtype=np.float64)
        k, s_count = int(self.n_factors_), int(self.n_samples_)
        root = math.sqrt(s_count)
        kept_bias = getattr(self, "kept_item_bias_", None)
        with_bias = kept_bias is not None
        target = values - self._mu()
        vector = np.zeros(k * s_count)
        bias = 0.0
        for s in range(s_count):
            q = self.item_factors_[items, s * k:(s + 1) * k].astype(np.float64) * root
            t = target
            if with_bias:
                q = np.hstack([q, np.ones((items.size, 1))])
                t = target - kept_bias[s, items]
            lam, mu, alpha = self.kept_lambda_user_[s], self.kept_mu_user_[s], float(self.kept_alpha_[s])
            m = np.linalg.solve(lam + alpha * q.T @ q, lam @ mu + alpha * q.T @ t)
            vector[s * k:(s + 1) * k] = m[:k] / root
            if with_bias:
                bias += m[k] / s_count
        return vector.astype(np.float32), float(bias)
