"""BPR: the Hogwild kernel against a plain-Python LearnBPR, the model against planted clusters."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mfstudio.data import random_split
from mfstudio.data.samples import movies
from mfstudio.kernels import bpr as kernels
from mfstudio.models import FitDiverged, load_model
from mfstudio.models.bpr import BPR

from .conftest import ML100K, needs_ml100k
from .test_als import planted_interactions, popularity_precision, probe

MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def below(z, n):
    return int(float(z >> 11) * (1.0 / 9007199254740992.0) * n)


def reference_epoch(indptr, indices, user_of, X, Y, b, lr, reg, n_samples, seed):
    """LearnBPR, one block, float64, one triple at a time."""
    state, loss, used = int(seed), 0.0, 0
    n_items = Y.shape[0]
    for _ in range(n_samples):
        state, z = splitmix64(state)
        idx = below(z, indices.size)
        u, i = user_of[idx], indices[idx]
        positives = set(indices[indptr[u]:indptr[u + 1]].tolist())
        if len(positives) >= n_items:
            continue
        j = -1
        for _try in range(64):
            state, z = splitmix64(state)
            cand = below(z, n_items)
            if cand not in positives:
                j = cand
                break
        if j < 0:
            continue
        assert j not in positives
        x = X[u] @ (Y[i] - Y[j]) + b[i] - b[j]
        loss += np.logaddexp(0.0, -x) + 0.5 * reg * (X[u] @ X[u] + Y[i] @ Y[i] + Y[j] @ Y[j] + b[i] ** 2 + b[j] ** 2)
        used += 1
        g = 1.0 / (1.0 + np.exp(x))
        pu, qi, qj = X[u].copy(), Y[i].copy(), Y[j].copy()
        X[u] = pu + lr * (g * (qi - qj) - reg * pu)
        Y[i] = qi + lr * (g * pu - reg * qi)
        Y[j] = qj - lr * (g * pu + reg * qj)
        b[i], b[j] = b[i] + lr * (g - reg * b[i]), b[j] - lr * (g + reg * b[j])
    return loss, used


@pytest.fixture(scope="module")
def implicit_split():
    return random_split(planted_interactions(), 0.2, seed=0)


@pytest.fixture(scope="module")
def rating_split():
    return random_split(movies(n_users=300, n_items=400, seed=3), 0.2, seed=0)


@pytest.fixture
def registered(monkeypatch):
    from mfstudio import models

    monkeypatch.setitem(models.MODELS, BPR.name, BPR)


# ------------------------------------------------------------------ kernel
def test_csr_contains_is_membership():
    indices = np.array([1, 4, 9, 2, 3], dtype=np.int32)
    for item in range(11):
        assert kernels.csr_contains(indices, 0, 3, item) == (item in (1, 4, 9))
    assert not kernels.csr_contains(indices, 3, 3, 2)


def test_block_count_depends_on_samples_only():
    assert kernels.bpr_block_count(10) == 1
    assert kernels.bpr_block_count(10 ** 9) == 1024
    assert kernels.bpr_block_count(2048 * 7) == 7


def test_kernel_matches_plain_learnbpr():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 12, 9, 4
    dense = rng.random((n_users, n_items)) < 0.4
    dense[0] = True  # a user who has every item: never sampled for an update
    dense[0, :] = True
    dense[1, :] = False
    dense[1, 2] = True
    from scipy.sparse import csr_matrix

    csr = csr_matrix(dense.astype(np.float32))
    csr.sort_indices()
    user_of = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(csr.indptr))
    X = rng.standard_normal((n_users, k)).astype(np.float32)
    Y = rng.standard_normal((n_items, k)).astype(np.float32)
    b = (0.1 * rng.standard_normal(n_items)).astype(np.float32)
    Xr, Yr, br = X.astype(np.float64), Y.astype(np.float64), b.astype(np.float64)
    seed = np.uint64(123456789)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        loss, used = kernels.bpr_epoch(csr.indptr, csr.indices, user_of, X, Y, b, 0.05, 0.01, 300, np.array([seed]))
    finally:
        numba.set_num_threads(before)
    ref_loss, ref_used = reference_epoch(csr.indptr, csr.indices, user_of, Xr, Yr, br, 0.05, 0.01, 300, seed)
    assert used == ref_used and used < 300
    assert loss == pytest.approx(ref_loss, rel=1e-4)
    np.testing.assert_allclose(X, Xr, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(Y, Yr, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b, br, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ model
def test_bpr_beats_popularity_on_planted_clusters(implicit_split):
    model = BPR(n_epochs=30).fit(implicit_split.train)
    precision = model.score(implicit_split.test)["precision@10"]
    assert precision > 1.5 * popularity_precision(implicit_split), precision
    losses = [s.train_loss for s in model.history_]
    assert losses[-1] < 0.7 * losses[0]


def test_bpr_on_ratings_keeps_ratings_at_threshold(rating_split):
    model = BPR(n_epochs=2).fit(rating_split.train)
    assert model.fit_data_.kind == "implicit" and model.fit_data_.values.min() >= 4
    assert model.train_ is rating_split.train  # every rating stays: it says what the user has seen
    with pytest.raises(ValueError, match="threshold"):
        BPR(threshold=6.0).fit(rating_split.train)


def test_huge_learning_rate_diverges(implicit_split):
    with pytest.raises(FitDiverged):
        BPR(lr=1e6, n_epochs=3).fit(implicit_split.train)


def _pair_objective_gradient(model, positives, p):
    Q = model.item_factors_.astype(np.float64)
    b = model.item_bias_.astype(np.float64)
    negatives = np.setdiff1d(np.arange(Q.shape[0]), positives)
    x = (Q[positives] @ p + b[positives])[:, None] - (Q[negatives] @ p + b[negatives])[None, :]
    g = 1.0 / (1.0 + np.exp(x))
    diff = Q[positives][:, None, :] - Q[negatives][None, :, :]
    return -(g[:, :, None] * diff).mean(axis=(0, 1)) + model.params["reg"] * p


def test_fold_in_solves_bpr_for_the_new_user(implicit_split):
    model = BPR(n_epochs=20).fit(implicit_split.train)
    truth = implicit_split.train.truth
    group = 2
    positives = np.flatnonzero(truth["item_group"] == group)[:8]
    vector, bias = model.fold_in(positives)
    assert bias == 0.0
    assert np.abs(_pair_objective_gradient(model, positives, vector.astype(np.float64))).max() < 1e-5
    items, _ = model.recommend_for_new_user(positives, n=10)
    assert np.mean(truth["item_group"][items] == group) >= 0.7


def test_fold_in_of_ratings_uses_threshold(rating_split):
    model = BPR(n_epochs=3).fit(rating_split.train)
    a, _ = model.fold_in([1, 2, 3], [5.0, 4.0, 2.0])
    b, _ = model.fold_in([2, 1])
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not model.fold_in([3], [1.0])[0].any()


def test_every_hyperparameter_changes_the_result(implicit_split, rating_split):
    fast = {"n_epochs": 6}
    unchanged = []
    reference = probe(BPR(**fast).fit(implicit_split.train), implicit_split.train)
    for param, default in BPR.defaults.items():
        train = rating_split.train if param == "threshold" else implicit_split.train
        value = fast.get(param, default)
        new = {"threshold": 3.0, "seed": 5}.get(param, value * 2 if isinstance(value, int) else value * 3)
        a = reference if param != "threshold" else probe(BPR(**fast).fit(train), train)
        b = probe(BPR(**{**fast, param: new}).fit(train), train)
        if np.allclose(a, b, atol=1e-6):
            unchanged.append(param)
    assert not unchanged


def test_same_seed_same_factors_single_threaded(implicit_split):
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        a = BPR(seed=7, n_epochs=5).fit(implicit_split.train)
        b = BPR(seed=7, n_epochs=5).fit(implicit_split.train)
        c = BPR(seed=8, n_epochs=5).fit(implicit_split.train)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_save_then_load_predicts_the_same(implicit_split, tmp_path, registered):
    model = BPR(n_epochs=5).fit(implicit_split.train)
    loaded = load_model(model.save(tmp_path / "m"))
    assert type(loaded) is BPR and loaded.params == model.params
    np.testing.assert_allclose(probe(loaded, implicit_split.train), probe(model, implicit_split.train), rtol=1e-6)
    np.testing.assert_array_equal(loaded.recommend([0, 1, 2], n=5)[0], model.recommend([0, 1, 2], n=5)[0])
    np.testing.assert_allclose(loaded.fold_in([1, 5, 7])[0], model.fold_in([1, 5, 7])[0], rtol=1e-6)


@pytest.mark.parametrize("params, word", [
    ({"n_factors": 0}, "n_factors"),
    ({"lr": 0.0}, "lr"),
    ({"reg": -0.1}, "reg"),
    ({"n_epochs": 0}, "n_epochs"),
    ({"seed": 1.5}, "seed"),
    ({"threshold": "high"}, "threshold"),
])
def test_bad_parameters_are_named(params, word, implicit_split):
    with pytest.raises(ValueError, match=word):
        BPR(**params).fit(implicit_split.train)


@needs_ml100k
def test_ml100k_u1_precision():
    from mfstudio.data import common_id_space, load

    train, test = common_id_space(load(ML100K / "u1.base"), load(ML100K / "u1.test"))
    assert BPR().fit(train).score(test)["precision@10"] > 0.3
