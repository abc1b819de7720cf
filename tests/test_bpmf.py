"""BayesianMF (Gibbs-sampled BPMF) and its kernels.

The kernels are checked against a plain-numpy statement of the conditional
they sample; the model against planted truth, against the explicit average
over the kept Gibbs samples (the concatenation trick), and for
reproducibility (same seed, same chain, whatever the thread count).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import mfstudio.models as models
from mfstudio.data import random_split
from mfstudio.data.samples import movies
from mfstudio.kernels.bpmf import moments, pair_predictions, sample_side, sample_side_serial, squared_error
from mfstudio.models import Baseline, load_model
from mfstudio.models.bpmf import BayesianMF, sample_normal_wishart

FAST = {"n_epochs": 40, "n_burnin": 10}


@pytest.fixture(scope="module")
def split():
    return random_split(movies(n_users=300, n_items=400, seed=11), 0.2, seed=0)


def probe(model, data, n=300):
    rng = np.random.default_rng(1)
    return model.predict(rng.integers(0, data.n_rows, n), rng.integers(0, data.n_cols, n))


# ------------------------------------------------------------------ kernels

def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + d * np.eye(d)


def _problem(seed=0, n_rows=6, n_other=9, d=4):
    """A small random side to sample: ratings (CSR), design, offsets, prior."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_rows, n_other)) < 0.5) * rng.integers(1, 6, (n_rows, n_other)).astype(float)
    dense[0] = 0.0  # a row without ratings: its conditional is the prior
    csr = sp.csr_matrix(dense)
    csr.data -= 3.0
    design = rng.standard_normal((n_other, d))
    design[:, -1] = 1.0  # the always-1 bias coordinate
    offset = rng.standard_normal(n_other)
    lam = _spd(rng, d)
    mu = rng.standard_normal(d)
    return csr, design, offset, 1.7, lam, mu


def _numpy_conditional(csr, design, offset, alpha, lam, mu, r):
    """Mean and covariance of row r's Gaussian conditional, as written in the paper."""
    cols = csr.indices[csr.indptr[r]:csr.indptr[r + 1]]
    vals = csr.data[csr.indptr[r]:csr.indptr[r + 1]]
    y = design[cols]
    precision = lam + alpha * y.T @ y
    cov = np.linalg.inv(precision)
    mean = cov @ (lam @ mu + alpha * y.T @ (vals - offset[cols]))
    return mean, cov, precision


def _run_kernel(csr, design, offset, alpha, lam, mu, normals):
    n_rows, d = csr.shape[0], design.shape[1]
    sample, mean = np.empty((n_rows, d)), np.empty((n_rows, d))
    sample_side(csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data, design, offset,
                alpha, lam, lam @ mu, normals, sample, mean)
    return sample, mean


def test_kernel_mean_and_sample_match_numpy_reference():
    csr, design, offset, alpha, lam, mu = _problem()
    normals = np.random.default_rng(5).standard_normal((csr.shape[0], design.shape[1]))
    sample, mean = _run_kernel(csr, design, offset, alpha, lam, mu, normals)
    for r in range(csr.shape[0]):
        ref_mean, _, precision = _numpy_conditional(csr, design, offset, alpha, lam, mu, r)
        np.testing.assert_allclose(mean[r], ref_mean, rtol=1e-10, atol=1e-12)
        chol = np.linalg.cholesky(precision)
        np.testing.assert_allclose(sample[r], ref_mean + np.linalg.solve(chol.T, normals[r]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean[0], mu, rtol=1e-12)  # no ratings: the prior mean


def test_kernel_sample_has_the_conditional_covariance():
    # d copies of one row, fed the d unit vectors as normals: the deviations
    # e_j = L^-T z_j then satisfy sum_j e_j e_j^T = (L L^T)^-1 exactly.
    csr, design, offset, alpha, lam, mu = _problem(seed=2)
    d = design.shape[1]
    one = sp.csr_matrix(np.repeat(csr[1].toarray(), d, axis=0))
    sample, mean = _run_kernel(one, design, offset, alpha, lam, mu, np.eye(d))
    deviations = sample - mean
    _, cov, _ = _numpy_conditional(one, design, offset, alpha, lam, mu, 0)
    np.testing.assert_allclose(deviations.T @ deviations, cov, rtol=1e-9, atol=1e-12)


def test_parallel_kernel_is_the_same_for_any_thread_count_and_serially():
    csr, design, offset, alpha, lam, mu = _problem(seed=4, n_rows=500, n_other=300, d=6)
    normals = np.random.default_rng(6).standard_normal((500, 6))
    before = numba.get_num_threads()
    try:
        outs = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            outs.append(_run_kernel(csr, design, offset, alpha, lam, mu, normals))
    finally:
        numba.set_num_threads(before)
    serial = (np.empty((500, 6)), np.empty((500, 6)))
    sample_side_serial(csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data, design, offset,
                       alpha, lam, lam @ mu, normals, *serial)
    for sample, mean in outs[1:]:
        np.testing.assert_array_equal(sample, outs[0][0])
        np.testing.assert_array_equal(mean, outs[0][1])
    np.testing.assert_allclose(serial[0], outs[0][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(serial[1], outs[0][1], rtol=1e-12, atol=1e-12)


def test_small_kernels_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1300, 5))
    mean, scatter = moments(x)
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(scatter, (x - x.mean(0)).T @ (x - x.mean(0)), rtol=1e-10)
    users, items = rng.standard_normal((7, 4)), rng.standard_normal((5, 4))
    rows, cols = rng.integers(0, 7, 30), rng.integers(0, 5, 30)
    out = np.empty(30)
    pair_predictions(users, items, rows, cols, 3, True, out)
    ref = np.einsum("ij,ij->i", users[rows, :3], items[cols, :3]) + users[rows, 3] + items[cols, 3]
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    pair_predictions(users, items, rows, cols, 4, False, out)
    np.testing.assert_allclose(out, np.einsum("ij,ij->i", users[rows], items[cols]), rtol=1e-12)
    assert squared_error(out, np.zeros(30)) == pytest.approx(out @ out)


def test_normal_wishart_draws_have_the_posterior_mean():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)) @ np.diag([1.0, 0.5, 2.0]) + np.array([1.0, -1.0, 0.0])
    n, d, beta0 = 40, 3, 2.0
    draws = [sample_normal_wishart(x, beta0, rng) for _ in range(3000)]
    mus = np.array([m for m, _ in draws])
    lams = np.array([lam for _, lam in draws])
    mean = x.mean(0)
    w_inv = np.eye(d) + (x - mean).T @ (x - mean) + beta0 * n / (beta0 + n) * np.outer(mean, mean)
    expected_lam = (d + n) * np.linalg.inv(w_inv)  # E[Wishart(W, nu)] = nu W
    np.testing.assert_allclose(lams.mean(0), expected_lam, atol=0.05 * np.abs(expected_lam).max())
    np.testing.assert_allclose(mus.mean(0), n / (beta0 + n) * mean, atol=0.03)


# -------------------------------------------------------------------- model

def test_recovers_planted_ratings_better_than_baseline(split):
    model = BayesianMF().fit(split.train, split.test)
    rmse = model.score(split.test)["rmse"]
    baseline = Baseline().fit(split.train).score(split.test)["rmse"]
    assert rmse < baseline - 0.05, (rmse, baseline)
    assert rmse < 0.80, rmse
    assert model.history_[-1].metrics["rmse"] == pytest.approx(rmse)
    assert model.n_samples_ == model.params["max_samples"]
    assert model.user_factors_.shape == (split.train.n_rows, model.params["n_factors"] * model.n_samples_)


PERTURBED = {
    "n_factors": 4, "n_epochs": 45, "n_burnin": 20, "max_samples": 5, "alpha": 5.0,
    "sample_alpha": True, "use_bias": False, "beta0": 20.0, "seed": 1,
}


@pytest.mark.parametrize("param", sorted(BayesianMF.defaults))
def test_every_hyperparameter_changes_the_result(split, param):
    base = {**FAST, "sample_alpha": False}
    if param == "sample_alpha":
        base["sample_alpha"] = False
    value = PERTURBED[param]
    assert value != base.get(param, BayesianMF.defaults[param])
    reference = probe(BayesianMF(**base).fit(split.train), split.train)
    other = probe(BayesianMF(**{**base, param: value}).fit(split.train), split.train)
    assert not np.allclose(reference, other, atol=1e-6)


@pytest.mark.parametrize("size", ["small", "parallel"])
def test_same_seed_same_chain_whatever_the_thread_count(split, size):
    if size == "small":  # sampled by the serial kernel
        train, params = split.train, dict(FAST)
    else:  # ~24k ratings x d=21: enough work for the parallel kernel
        train, params = movies(n_users=600, n_items=800, seed=2), dict(n_factors=20, n_epochs=6, n_burnin=2)
    before = numba.get_num_threads()
    fits = []
    try:
        for threads in [1, numba.config.NUMBA_NUM_THREADS, 1]:
            numba.set_num_threads(threads)
            fits.append(BayesianMF(**params, seed=7).fit(train))
    finally:
        numba.set_num_threads(before)
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].user_factors_, other.user_factors_)
        np.testing.assert_array_equal(fits[0].item_factors_, other.item_factors_)
        np.testing.assert_array_equal(fits[0].item_bias_, other.item_bias_)
    different = BayesianMF(**params, seed=8).fit(train)
    assert not np.array_equal(fits[0].item_factors_, different.item_factors_)


@pytest.mark.parametrize("use_bias", [True, False])
def test_prediction_is_the_average_over_kept_samples(split, use_bias):
    """The concatenation trick: one dot product = the mean of the kept sweeps' predictions."""
    n_epochs, n_burnin, max_samples = 30, 12, 5  # 5 of the 18 post-burn-in sweeps are kept
    params = dict(n_epochs=n_epochs, use_bias=use_bias, sample_alpha=True, seed=3)
    users = np.repeat(np.arange(0, split.train.n_rows, 7), 3)
    items = np.arange(users.size) % split.train.n_cols
    # The same chain with n_burnin = n_epochs publishes each sweep alone: record them.
    per_sweep = []
    single = BayesianMF(**params, n_burnin=n_epochs)
    for _ in single.iter_fit(split.train):
        per_sweep.append(single._predict(users, items))
    kept = [29, 26, 22, 19, 15]  # 0-based: evenly spaced back from the last sweep, 18 / 5 apart
    explicit = np.mean([per_sweep[s] for s in kept], axis=0)
    model = BayesianMF(**params, n_burnin=n_burnin, max_samples=max_samples).fit(split.train)
    assert model.n_samples_ == 5
    np.testing.assert_allclose(model._predict(users, items), explicit, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.score_matrix(users[:4])[np.arange(4), items[:4]], explicit[:4], rtol=1e-5, atol=1e-5)


def test_stopping_during_burn_in_predicts_from_the_latest_sweep(split):
    model = BayesianMF(n_burnin=50)
    steps = model.iter_fit(split.train)
    for _ in range(3):
        next(steps)
    steps.close()
    assert model.n_samples_ == 1 and len(model.history_) == 3
    assert np.isfinite(probe(model, split.train)).all()
    # n_burnin >= n_epochs is allowed: the last sweep is the model.
    last = BayesianMF(n_epochs=5, n_burnin=9).fit(split.train)
    assert last.n_samples_ == 1 and np.isfinite(probe(last, split.train)).all()


def test_save_then_load_predicts_and_folds_in_the_same(split, tmp_path, monkeypatch):
    monkeypatch.setitem(models.MODELS, "bpmf", BayesianMF)
    model = BayesianMF(**FAST, max_samples=6).fit(split.train)
    loaded = load_model(model.save(tmp_path / "m"))
    assert type(loaded) is BayesianMF and loaded.params == model.params
    np.testing.assert_allclose(probe(loaded, split.train), probe(model, split.train), rtol=1e-6)
    a, _ = model.recommend([0, 1, 2], n=5)
    b, _ = loaded.recommend([0, 1, 2], n=5)
    np.testing.assert_array_equal(a, b)
    items, values = np.array([3, 8, 15, 40]), np.array([5.0, 4.0, 1.0, 2.0])
    va, ba = model.fold_in(items, values)
    vb, bb = loaded.fold_in(items, values)
    np.testing.assert_allclose(va, vb, rtol=1e-6)
    assert ba == pytest.approx(bb)


def test_fold_in_of_a_training_user_agrees_with_the_model(split):
    model = BayesianMF(**FAST).fit(split.train)
    user = int(np.argmax(split.train.row_counts()))
    mine = split.train.rows == user
    vector, bias = model.fold_in(split.train.cols[mine], split.train.values[mine])
    assert vector.shape == (model.item_factors_.shape[1],)
    folded = model._scores_from_vectors(vector[None, :], np.array([bias]))[0]
    fitted = model.score_matrix([user])[0]
    assert np.corrcoef(folded, fitted)[0, 1] > 0.95
    assert np.abs(folded - fitted).mean() < 0.15


def test_fold_in_single_sample_is_the_ridge_solution(split):
    model = BayesianMF(n_epochs=3, n_burnin=3).fit(split.train)  # the last sweep alone
    items, values = np.array([1, 2, 5, 9]), np.array([4.0, 3.0, 5.0, 1.0])
    q = np.hstack([model.item_factors_[items].astype(float), np.ones((4, 1))])
    lam, mu, alpha = model.kept_lambda_user_[0], model.kept_mu_user_[0], model.kept_alpha_[0]
    target = values - model.global_mean_ - model.kept_item_bias_[0, items]
    m = np.linalg.solve(lam + alpha * q.T @ q, lam @ mu + alpha * q.T @ target)
    vector, bias = model.fold_in(items, values)
    np.testing.assert_allclose(vector, m[:-1], rtol=1e-5)
    assert bias == pytest.approx(m[-1])


@pytest.mark.parametrize("param, value", [
    ("n_factors", 0), ("n_epochs", 0), ("n_burnin", -1), ("max_samples", 0), ("alpha", 0.0),
    ("alpha", float("nan")), ("beta0", -1.0), ("seed", -3), ("use_bias", "maybe"), ("n_factors", 2.5),
])
def test_bad_parameters_are_named(split, param, value):
    model = BayesianMF(**{param: value})  # stored untouched
    with pytest.raises(ValueError, match=param):
        model.fit(split.train)


def test_text_booleans_are_parsed_at_the_command_line_and_refused_by_the_model(split):
    from mfstudio.cli import _param_value

    value = _param_value("use_bias", "false", BayesianMF.defaults["use_bias"])
    assert value is False
    a = BayesianMF(n_epochs=5, use_bias=value).fit(split.train)
    assert getattr(a, "user_bias_", None) is None and getattr(a, "kept_item_bias_", None) is None
    with pytest.raises(ValueError, match="use_bias must be True or False"):
        BayesianMF(n_epochs=5, use_bias="false").fit(split.train)
    with pytest.raises(ValueError, match="use_bias must be true or false"):
        _param_value("use_bias", "maybe", True)


def test_implicit_data_is_refused():
    from mfstudio.models.base import as_interactions

    data = as_interactions(movies(n_users=50, n_items=60, seed=0), 4.0)
    with pytest.raises(ValueError, match="explicit"):
        BayesianMF().fit(data)
