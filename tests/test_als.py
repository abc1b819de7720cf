"""Explicit ALS (ALS-WR) and implicit ALS (Hu-Koren-Volinsky): kernels against numpy, models against truth."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from mfstudio import metrics
from mfstudio.data import Dataset, random_split
from mfstudio.data.samples import movies
from mfstudio.kernels import als as kernels
from mfstudio.models import Baseline, load_model
from mfstudio.models.als import ALS, ImplicitALS, confidence

from .conftest import ML100K, needs_ml100k


# ------------------------------------------------------------------ helpers
def random_csr(n_rows, n_cols, density, seed, low=1, high=5):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < density
    mask[np.arange(n_rows), rng.integers(0, n_cols, n_rows)] = True  # no empty row
    mask[3, :] = False  # ...except one, on purpose
    dense = np.where(mask, rng.integers(low, high + 1, (n_rows, n_cols)), 0).astype(np.float32)
    csr = sp.csr_matrix(dense)
    csr.sort_indices()
    return csr


def blocks(csr, n=4):
    return kernels.balanced_row_blocks(csr.indptr, 2.0, n)


def planted_interactions(seed=0, n_users=240, n_items=180, groups=6, own=12, other=2) -> Dataset:
    """Users in taste groups who mostly interact with their group's items, plus a popularity skew."""
    rng = np.random.default_rng(seed)
    user_group = rng.integers(0, groups, n_users)
    item_group = np.arange(n_items) % groups
    weight = 1.0 / np.sqrt(1.0 + rng.permutation(n_items))  # some items are more popular
    rows, cols = [], []
    for u in range(n_users):
        mine = np.flatnonzero(item_group == user_group[u])
        rest = np.flatnonzero(item_group != user_group[u])
        picks = np.concatenate([
            rng.choice(mine, own, replace=False, p=weight[mine] / weight[mine].sum()),
            rng.choice(rest, other, replace=False, p=weight[rest] / weight[rest].sum()),
        ])
        rows.append(np.full(picks.size, u))
        cols.append(picks)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return Dataset(kind="implicit", rows=rows, cols=cols, values=rng.integers(1, 4, rows.size),
                   row_ids=np.arange(n_users), col_ids=np.arange(n_items), name="planted clusters",
                   truth={"user_group": user_group, "item_group": item_group})


def popularity_precision(split, k=10) -> float:
    popular = np.argsort(-split.train.col_counts(), kind="stable")
    users = np.unique(split.test.rows)
    seen = split.train.to_csr()[users].toarray() > 0
    lists = np.array([[i for i in popular if not seen[n, i]][:k] for n in range(users.size)])
    return metrics.precision_at_k(lists, split.test.to_csr()[users], k)


@pytest.fixture(scope="module")
def rating_split():
    return random_split(movies(n_users=300, n_items=400, seed=3), 0.2, seed=0)


@pytest.fixture(scope="module")
def implicit_split():
    return random_split(planted_interactions(), 0.2, seed=0)


@pytest.fixture
def registered(monkeypatch):
    from mfstudio import models

    for cls in (ALS, ImplicitALS):
        monkeypatch.setitem(models.MODELS, cls.name, cls)


def probe(model, data, n=300):
    rng = np.random.default_rng(1)
    return model.predict(rng.integers(0, data.n_rows, n), rng.integers(0, data.n_cols, n))


# ------------------------------------------------------------ kernels
def test_balanced_row_blocks_cover_rows_and_split_cost():
    indptr = np.concatenate([[0], np.cumsum([1000, 1, 1, 1, 1, 1, 1, 1, 500, 500])])
    bounds = kernels.balanced_row_blocks(indptr, 0.0, 4)
    assert bounds[0] == 0 and bounds[-1] == 10 and np.all(np.diff(bounds) > 0)
    assert bounds[1] == 1  # the heavy first row is a block of its own
    assert kernels.balanced_row_blocks(np.zeros(1, dtype=np.int64), 1.0, 4).tolist() == [0]


def test_gram_matches_numpy():
    F = np.random.default_rng(0).standard_normal((1003, 7)).astype(np.float32)
    G = kernels.gram(F, 0.5, 5)
    expected = F.astype(np.float64).T @ F.astype(np.float64) + 0.5 * np.eye(7)
    np.testing.assert_allclose(G, expected, rtol=1e-5, atol=1e-4)


def test_cholesky_solve_matches_numpy():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((9, 9))
    A = M @ M.T + 9 * np.eye(9)
    b = rng.standard_normal(9)
    work, x = A.copy(), b.copy()
    kernels.cholesky_solve(work, x, 9)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10)


@pytest.mark.parametrize("use_bias", [True, False])
def test_explicit_half_sweep_is_the_weighted_lambda_ridge_solve(use_bias):
    csr = random_csr(25, 18, 0.3, seed=1)
    k, reg, mu = 4, 0.07, 3.1 if use_bias else 0.0
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((18, k)).astype(np.float32)
    y_bias = rng.standard_normal(18)
    X = np.full((25, k), 9.0, dtype=np.float32)
    x_bias = np.full(25, 9.0)
    kernels.als_explicit_half_sweep(csr.indptr, csr.indices, csr.data, X, x_bias, Y, y_bias, mu, reg, use_bias, blocks(csr))
    for u in range(25):
        items = csr.indices[csr.indptr[u]:csr.indptr[u + 1]]
        if items.size == 0:
            assert not X[u].any() and (not use_bias or x_bias[u] == 0)
            continue
        target = csr.data[csr.indptr[u]:csr.indptr[u + 1]].astype(np.float64)
        Z = Y[items].astype(np.float64)
        if use_bias:
            Z = np.hstack([Z, np.ones((items.size, 1))])
            target = target - mu - y_bias[items]
        solution = np.linalg.solve(Z.T @ Z + reg * items.size * np.eye(Z.shape[1]), Z.T @ target)
        np.testing.assert_allclose(X[u], solution[:k], rtol=1e-4, atol=1e-5)
        if use_bias:
            assert x_bias[u] == pytest.approx(solution[k], rel=1e-6, abs=1e-8)
    sse = kernels.als_explicit_sse(csr.indptr, csr.indices, csr.data, X, x_bias, Y, y_bias, mu, use_bias, blocks(csr))
    coo = csr.tocoo()
    pred = np.einsum("ij,ij->i", X[coo.row].astype(np.float64), Y[coo.col].astype(np.float64))
    if use_bias:
        pred += mu + x_bias[coo.row] + y_bias[coo.col]
    assert sse == pytest.approx(float(((coo.data - pred) ** 2).sum()), rel=1e-6)


def _hkv_dense_solution(csr, conf, Y, reg):
    """The HKV normal equations solved densely: (Y^T C_u Y + reg I) x = Y^T C_u p_u."""
    n_rows, n_cols = csr.shape
    C = np.ones((n_rows, n_cols))
    P = np.zeros((n_rows, n_cols))
    coo = csr.tocoo()
    C[coo.row, coo.col] = conf
    P[coo.row, coo.col] = 1.0
    Y = Y.astype(np.float64)
    X = np.zeros((n_rows, Y.shape[1]))
    for u in range(n_rows):
        if csr.indptr[u] == csr.indptr[u + 1]:
            continue
        A = Y.T @ (C[u][:, None] * Y) + reg * np.eye(Y.shape[1])
        X[u] = np.linalg.solve(A, Y.T @ (C[u] * P[u]))
    return X, C, P


def _hkv_objective(X, Y, C, P, reg):
    E = P - X.astype(np.float64) @ Y.astype(np.float64).T
    return float((C * E * E).sum() + reg * ((X.astype(np.float64) ** 2).sum() + (Y.astype(np.float64) ** 2).sum()))


def test_implicit_exact_matches_dense_normal_equations_and_its_loss():
    csr = random_csr(30, 22, 0.25, seed=4)
    conf = confidence(csr.data, "linear", 2.0, 1.0)
    k, reg = 5, 0.3
    Y = np.random.default_rng(7).standard_normal((22, k)).astype(np.float32)
    X = np.full((30, k), 3.0, dtype=np.float32)
    G = kernels.gram(Y, reg, 3)
    part = kernels.implicit_als_exact_half_sweep(csr.indptr, csr.indices, conf, X, Y, G, blocks(csr))
    expected, C, P = _hkv_dense_solution(csr, conf, Y, reg)
    np.testing.assert_allclose(X, expected, rtol=1e-5, atol=1e-6)
    # the returned part is the objective without reg |Y|^2
    full = _hkv_objective(X, Y, C, P, reg)
    assert part + reg * float((Y.astype(np.float64) ** 2).sum()) == pytest.approx(full, rel=1e-5)


def test_implicit_cg_with_enough_steps_matches_exact_and_tracks_its_loss():
    csr = random_csr(40, 30, 0.2, seed=6)
    conf = confidence(csr.data, "log", 3.0, 0.5)
    k, reg = 6, 0.2
    Y = np.random.default_rng(8).standard_normal((30, k)).astype(np.float32)
    exact = np.zeros((40, k), dtype=np.float32)
    kernels.implicit_als_exact_half_sweep(csr.indptr, csr.indices, conf, exact, Y, kernels.gram(Y, reg, 2), blocks(csr))
    cg = np.zeros((40, k), dtype=np.float32)
    part = kernels.implicit_als_cg_half_sweep(csr.indptr, csr.indices, conf, cg, Y,
                                              kernels.gram(Y, reg, 2).astype(np.float32), 30, blocks(csr))
    scale = np.abs(exact).max()
    np.testing.assert_allclose(cg, exact, atol=1e-4 * scale)
    _, C, P = _hkv_dense_solution(csr, conf, Y, reg)
    full = _hkv_objective(cg, Y, C, P, reg)
    assert part + reg * float((Y.astype(np.float64) ** 2).sum()) == pytest.approx(full, rel=1e-4)


def test_implicit_cg_few_steps_lower_the_row_objective():
    csr = random_csr(40, 30, 0.2, seed=9)
    conf = confidence(csr.data, "linear", 1.0, 1.0)
    Y = np.random.default_rng(1).standard_normal((30, 6)).astype(np.float32)
    X0 = np.random.default_rng(2).standard_normal((40, 6)).astype(np.float32)
    _, C, P = _hkv_dense_solution(csr, conf, Y, 0.2)
    X = X0.copy()
    kernels.implicit_als_cg_half_sweep(csr.indptr, csr.indices, conf, X, Y,
                                       kernels.gram(Y, 0.2, 2).astype(np.float32), 1, blocks(csr))
    assert _hkv_objective(X, Y, C, P, 0.2) < _hkv_objective(X0, Y, C, P, 0.2)


def test_confidence_scalings():
    r = np.array([0.0, 1.0, 4.0])
    np.testing.assert_allclose(confidence(r, "linear", 2.0, 1.0), 1 + 2 * r)
    np.testing.assert_allclose(confidence(r, "log", 2.0, 0.5), 1 + 2 * np.log(1 + r / 0.5), rtol=1e-6)


# ------------------------------------------------------------ models: explicit ALS
def test_als_beats_baseline_on_planted_ratings(rating_split):
    train, test = rating_split.train, rating_split.test
    baseline = Baseline().fit(train).score(test)["rmse"]
    model = ALS(n_epochs=8).fit(train)
    assert model.score(test)["rmse"] < baseline - 0.03
    losses = [s.train_loss for s in model.history_]
    assert all(b <= a + 1e-9 for a, b in zip(losses, losses[1:]))  # exact alternating solves never go up


def test_als_without_bias_has_no_bias_attributes(rating_split):
    model = ALS(n_epochs=3, use_bias=False).fit(rating_split.train)
    assert not hasattr(model, "user_bias_") and not hasattr(model, "global_mean_")
    assert np.isfinite(probe(model, rating_split.train)).all()


def test_als_fold_in_is_the_kernels_own_user_solve(rating_split):
    model = ALS(n_epochs=4, n_factors=6).fit(rating_split.train)
    train = model.train_
    u = 11
    mask = train.rows == u
    vector, bias = model.fold_in(train.cols[mask], train.values[mask])
    csr = train.to_csr()
    X = model.user_factors_.copy()
    b = model.user_bias_.copy()
    kernels.als_explicit_half_sweep(csr.indptr, csr.indices, csr.data, X, b, model.item_factors_, model.item_bias_,
                                    model.global_mean_, model.params["reg"], True, blocks(csr))
    np.testing.assert_allclose(vector, X[u], rtol=1e-4, atol=1e-5)
    assert bias == pytest.approx(b[u], rel=1e-4, abs=1e-6)


# ------------------------------------------------------------ models: implicit ALS
@pytest.mark.parametrize("solver", ["cg", "exact"])
def test_implicit_als_beats_popularity_on_planted_clusters(implicit_split, solver):
    model = ImplicitALS(solver=solver, n_epochs=8).fit(implicit_split.train)
    precision = model.score(implicit_split.test)["precision@10"]
    assert precision > 1.5 * popularity_precision(implicit_split), precision


def test_implicit_als_reported_loss_is_the_weighted_objective(implicit_split):
    reg, alpha = 2.0, 3.0
    model = ImplicitALS(n_factors=5, reg=reg, alpha=alpha, n_epochs=3, solver="exact")
    steps = list(model.iter_fit(implicit_split.train))
    csr = model.train_.to_csr()
    _, C, P = _hkv_dense_solution(csr, confidence(csr.data, "linear", alpha, 1.0), model.item_factors_, reg)
    objective = _hkv_objective(model.user_factors_, model.item_factors_, C, P, reg)
    assert steps[-1].train_loss == pytest.approx(objective / C.sum(), rel=1e-4)
    losses = [s.train_loss for s in steps]
    assert all(b <= a + 1e-9 for a, b in zip(losses, losses[1:]))


def test_implicit_als_on_ratings_keeps_ratings_at_threshold(rating_split):
    model = ImplicitALS(n_epochs=2, threshold=4.0).fit(rating_split.train)
    assert model.fit_data_.kind == "implicit" and model.fit_data_.values.min() >= 4
    assert model.train_ is rating_split.train  # every rating stays: it says what the user has seen
    assert model.fitted_on_ratings_ == 1
    with pytest.raises(ValueError, match="threshold"):
        ImplicitALS(n_epochs=1, threshold=9.0).fit(rating_split.train)


def test_implicit_fold_in_solves_the_implicit_objective(implicit_split):
    model = ImplicitALS(n_factors=6, n_epochs=4, alpha=2.0).fit(implicit_split.train)
    train = model.train_
    u = 17
    mask = train.rows == u
    vector, bias = model.fold_in(train.cols[mask], train.values[mask])
    assert bias == 0.0
    csr = train.to_csr()
    X = model.user_factors_.copy()
    G = kernels.gram(model.item_factors_, model.params["reg"], 2)
    kernels.implicit_als_exact_half_sweep(csr.indptr, csr.indices, confidence(csr.data, "linear", 2.0, 1.0),
                                          X, model.item_factors_, G, blocks(csr))
    np.testing.assert_allclose(vector, X[u], rtol=1e-4, atol=1e-6)


def test_implicit_fold_in_of_ratings_drops_low_ratings(rating_split):
    model = ImplicitALS(n_epochs=2).fit(rating_split.train)
    a, _ = model.fold_in([1, 2, 3], [5.0, 4.0, 1.0])
    b, _ = model.fold_in([1, 2], [5.0, 4.0])
    np.testing.assert_allclose(a, b)
    empty, _ = model.fold_in([3], [1.0])
    assert not empty.any()


# ------------------------------------------------------------ contract-style checks
def _perturb(name, value):
    options = {"scaling": "log", "solver": "exact", "use_bias": not value} if isinstance(value, (str, bool)) else {}
    if name in options:
        return options[name]
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 2 if value > 1 else value + 2
    return value * 3 if value else 0.1


CASES = [
    (ALS, {"n_epochs": 4, "n_factors": 8}, "ratings", {}),
    (ImplicitALS, {"n_epochs": 4}, "implicit", {"epsilon": {"scaling": "log"}, "cg_steps": {"solver": "cg"}}),
]


@pytest.mark.parametrize("cls, fast, data, needs", CASES, ids=["als", "implicit-als"])
def test_every_hyperparameter_changes_the_result(cls, fast, data, needs, rating_split, implicit_split):
    train = rating_split.train if data == "ratings" else implicit_split.train
    unchanged, references = [], {}
    for param, default in cls.defaults.items():
        if param in ("engine", "spark_master", "spark_parquet_dir"):
            continue  # where the fit runs, not what it fits: tests/test_spark.py fits on Spark
        base = {**fast, **needs.get(param, {})}
        source = train
        if param == "threshold":  # only rating input has a threshold to move
            source = rating_split.train
        key = (repr(sorted(base.items())), source is train)
        if key not in references:
            references[key] = probe(cls(**base).fit(source), source)
        reference = references[key]
        new = _perturb(param, base.get(param, default)) if param != "threshold" else 3.0
        other = probe(cls(**{**base, param: new}).fit(source), source)
        if np.allclose(reference, other, atol=1e-6):
            unchanged.append(param)
    assert not unchanged


@pytest.mark.parametrize("cls, fast, data", [(ALS, {"n_epochs": 3}, "ratings"),
                                             (ImplicitALS, {"n_epochs": 3}, "implicit")], ids=["als", "implicit-als"])
def test_same_seed_same_factors_single_threaded(cls, fast, data, rating_split, implicit_split):
    train = rating_split.train if data == "ratings" else implicit_split.train
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        a = cls(seed=7, **fast).fit(train)
        b = cls(seed=7, **fast).fit(train)
        c = cls(seed=8, **fast).fit(train)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)
    # rows are solved independently: more threads, same factors
    d = cls(seed=7, **fast).fit(train)
    np.testing.assert_array_equal(a.item_factors_, d.item_factors_)


@pytest.mark.parametrize("cls, data", [(ALS, "ratings"), (ImplicitALS, "implicit")], ids=["als", "implicit-als"])
def test_save_then_load_predicts_the_same(cls, data, rating_split, implicit_split, tmp_path, registered):
    train = rating_split.train if data == "ratings" else implicit_split.train
    model = cls(n_epochs=3).fit(train)
    loaded = load_model(model.save(tmp_path / "m"))
    assert type(loaded) is cls and loaded.params == model.params
    np.testing.assert_allclose(probe(loaded, train), probe(model, train), rtol=1e-6)
    np.testing.assert_array_equal(loaded.recommend([0, 1, 2], n=5)[0], model.recommend([0, 1, 2], n=5)[0])
    items = train.cols[train.rows == 4][:5]
    np.testing.assert_allclose(loaded.fold_in(items)[0], model.fold_in(items)[0], rtol=1e-6)


@pytest.mark.parametrize("cls, params, word", [
    (ALS, {"n_factors": 0}, "n_factors"),
    (ALS, {"reg": 0.0}, "reg"),
    (ALS, {"n_epochs": 1.5}, "n_epochs"),
    (ALS, {"use_bias": "yes"}, "use_bias"),
    (ALS, {"seed": -1}, "seed"),
    (ImplicitALS, {"solver": "mu"}, "solver"),
    (ImplicitALS, {"scaling": "sqrt"}, "scaling"),
    (ImplicitALS, {"alpha": -1.0}, "alpha"),
    (ImplicitALS, {"epsilon": 0.0}, "epsilon"),
    (ImplicitALS, {"cg_steps": 0}, "cg_steps"),
    (ImplicitALS, {"reg": float("nan")}, "reg"),
])
def test_bad_parameters_are_named(cls, params, word, rating_split, implicit_split):
    train = rating_split.train if cls is ALS else implicit_split.train
    with pytest.raises(ValueError, match=word):
        cls(**params).fit(train)


@needs_ml100k
def test_ml100k_u1_quality():
    from mfstudio.data import common_id_space, load

    train, test = common_id_space(load(ML100K / "u1.base"), load(ML100K / "u1.test"))
    assert ALS().fit(train).score(test)["rmse"] < 0.935
    assert ImplicitALS().fit(train).score(test)["precision@10"] > 0.3
