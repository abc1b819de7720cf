"""Truncated SVD: exact against LAPACK, honest about centering, live spectrum steps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mfstudio.data import Dataset, random_split
from mfstudio.data.samples import movies, topics_corpus
from mfstudio.models import Baseline, TruncatedSVD


def _dense_dataset(matrix: np.ndarray, kind: str = "dense") -> Dataset:
    rows, cols = np.nonzero(np.ones_like(matrix, dtype=bool))
    return Dataset(kind=kind, rows=rows, cols=cols, values=matrix[rows, cols],
                   row_ids=np.arange(matrix.shape[0]), col_ids=np.arange(matrix.shape[1]))


@pytest.fixture(scope="module")
def corpus():
    return topics_corpus(n_docs=300, seed=2)


@pytest.mark.parametrize("algorithm", ["randomized", "lanczos"])
def test_singular_values_match_lapack(corpus, algorithm):
    X = corpus.to_csr(np.float64).toarray()
    exact = np.linalg.svd(X, compute_uv=False)
    model = TruncatedSVD(n_factors=8, algorithm=algorithm, n_iter=6, dtype="float64").fit(corpus)
    np.testing.assert_allclose(model.singular_values_, exact[:8], rtol=1e-6 if algorithm == "lanczos" else 5e-3)
    # Orthonormal right singular vectors; U s V^T reproduces the rank-8 truncation.
    V = model.item_factors_
    np.testing.assert_allclose(V.T @ V, np.eye(8), atol=1e-8)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    best = (U[:, :8] * s[:8]) @ Vt[:8]
    ours = model.user_factors_ @ model.item_factors_.T
    # Eckart-Young: no rank-8 matrix is closer to X; ours is as close, to 0.1%
    # (the 7th and 8th vectors are noise with a tiny gap, so compare errors).
    assert np.linalg.norm(X - ours) <= np.linalg.norm(X - best) * (1 + 1e-3)
    if algorithm == "lanczos":
        np.testing.assert_allclose(ours, best, atol=1e-8)


def test_frobenius_share_and_errors_agree_with_the_spectrum(corpus):
    X = corpus.to_csr(np.float64).toarray()
    model = TruncatedSVD(n_factors=10, algorithm="lanczos", dtype="float64").fit(corpus)
    total = np.linalg.norm(X) ** 2
    np.testing.assert_allclose(model.squared_norm_, total, rtol=1e-6)
    # The share of the squared Frobenius norm (formerly, wrongly, "explained variance").
    np.testing.assert_allclose(model.frobenius_share_, model.singular_values_ ** 2 / total, rtol=1e-6)
    assert np.cumsum(model.frobenius_share_)[-1] <= 1.0
    errs = model.reconstruction_errors_
    assert np.all(np.diff(errs) <= 1e-12)  # each extra factor explains more
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    for r in (1, 5, 10):
        direct = np.linalg.norm(X - (U[:, :r] * s[:r]) @ Vt[:r]) / np.sqrt(total)
        assert errs[r - 1] == pytest.approx(direct, rel=1e-5)


def test_item_centering_of_a_dense_matrix_is_pca():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)) @ rng.normal(size=(6, 15)) + 3.0 + rng.normal(scale=0.1, size=(120, 15))
    model = TruncatedSVD(n_factors=4, center="item", algorithm="lanczos", dtype="float64").fit(_dense_dataset(X))
    Xc = X - X.mean(axis=0)
    s = np.linalg.svd(Xc, compute_uv=False)
    np.testing.assert_allclose(model.singular_values_, s[:4], rtol=1e-6)
    # Predictions add the column means back: the rank-4 PCA reconstruction.
    rows, cols = np.nonzero(np.ones_like(X, dtype=bool))
    pred = model.predict(rows, cols).reshape(X.shape)
    U, s_all, Vt = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(pred, X.mean(axis=0) + (U[:, :4] * s_all[:4]) @ Vt[:4], atol=1e-6)


def test_ratings_are_centered_and_beat_the_bias_baseline_only_modestly_honestly():
    data = movies(n_users=400, n_items=500, seed=5)
    split = random_split(data, 0.2, seed=1)
    model = TruncatedSVD(n_factors=5).fit(split.train)
    # Missing ratings are imputed with the damped biases ("both"), so the
    # rank-5 model starts from the baseline and must not be worse than it.
    baseline = Baseline().fit(split.train).score(split.test)["rmse"]
    assert model.score(split.test)["rmse"] < baseline
    # No centering: missing ratings are zeros and predictions sink toward 0.
    raw = TruncatedSVD(n_factors=5, center="none").fit(split.train)
    assert raw.score(split.test)["rmse"] > baseline + 0.5


def test_each_power_iteration_is_a_live_step_with_the_spectrum_so_far(corpus):
    model = TruncatedSVD(n_factors=6, n_iter=3)
    steps = list(model.iter_fit(corpus))
    assert len(steps) == model.expected_steps() == 4
    assert all(step.n_epochs == 4 for step in steps)
    exact = np.linalg.svd(corpus.to_csr(np.float64).toarray(), compute_uv=False)[:6]
    first, last = steps[0].extra["singular_values"], steps[-1].extra["singular_values"]
    assert first.shape == last.shape == (6,)
    # The estimates converge: the last is closer to the truth than the first.
    assert np.abs(last - exact).sum() < np.abs(first - exact).sum()
    assert steps[-1].train_loss <= steps[0].train_loss + 1e-6


def test_sparse_input_is_never_densified(monkeypatch):
    calls = []
    original = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        calls.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    monkeypatch.setattr(sp.csr_matrix, "todense", spy)
    rng = np.random.default_rng(0)
    n, m, nnz = 3000, 2500, 20000
    data = Dataset(kind="implicit", rows=rng.integers(0, n, nnz), cols=rng.integers(0, m, nnz),
                   values=np.ones(nnz), row_ids=np.arange(n), col_ids=np.arange(m))
    TruncatedSVD(n_factors=5, center="global").fit(data)
    assert not [shape for shape in calls if shape[0] * shape[1] >= n * m]


@pytest.mark.parametrize("bad, message", [
    ({"n_factors": 0}, "n_factors"),
    ({"algorithm": "qr"}, "algorithm"),
    ({"center": "median"}, "center"),
    ({"n_factors": 200, "algorithm": "lanczos"}, "below min"),
])
def test_bad_parameters_say_which_and_why(corpus, bad, message):
    small = topics_corpus(n_docs=50, seed=0)
    with pytest.raises(ValueError, match=message):
        TruncatedSVD(**{"n_factors": 3, **bad}).fit(small if "lanczos" in bad.values() else corpus)
