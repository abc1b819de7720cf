"""Choosing k: held-out error against k, the explained-variance elbow, NMF topic stability and coherence."""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio.data.dataset import Dataset
from mfstudio.data.errors import DataError
from mfstudio.rank_selection import (
    explained_variance_elbow,
    explained_variance_ratios,
    rank_curve,
    rank_selection,
    topic_coherence,
    topic_stability,
)


def planted_grid(n=60, m=50, k=4, noise=0.05, seed=0) -> Dataset:
    """A full nonnegative rank-k grid plus a little Gaussian noise."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, k)) @ rng.random((k, m))
    X = X + rng.normal(scale=noise * X.std(), size=X.shape)
    rows, cols = np.nonzero(np.ones_like(X))
    return Dataset("dense", rows, cols, X[rows, cols].astype(np.float32), np.arange(n), np.arange(m), name="grid")


def planted_corpus(n_docs=150, n_topics=3, words_per_topic=12, seed=0) -> Dataset:
    """Documents each drawn from one of ``n_topics`` disjoint vocabularies (plus a little shared noise)."""
    rng = np.random.default_rng(seed)
    n_terms = n_topics * words_per_topic
    counts = np.zeros((n_docs, n_terms))
    for d in range(n_docs):
        t = d % n_topics
        words = rng.integers(t * words_per_topic, (t + 1) * words_per_topic, size=30)
        np.add.at(counts[d], words, 1.0)
        np.add.at(counts[d], rng.integers(0, n_terms, size=2), 1.0)
    rows, cols = np.nonzero(counts)
    return Dataset("documents", rows, cols, counts[rows, cols].astype(np.float32), np.arange(n_docs),
                   np.array([f"w{j}" for j in range(n_terms)]), name="planted corpus")


@pytest.fixture(scope="module")
def grid():
    return planted_grid()


def test_svd_held_out_error_is_lowest_at_the_planted_rank(grid):
    curve = rank_curve(grid, "svd", ks=range(1, 9), protocol="cells:0.1")
    assert curve.metric == "relative_error" and curve.best_k == 4
    test = np.array(curve.test_error)
    # The U shape: training error keeps falling past 4, held-out error turns up (the cells are missing, not 0).
    assert test[5] > 2 * test[3] and curve.train_error[7] < curve.train_error[3]
    assert [r["k"] for r in curve.records()] == list(range(1, 9))


def test_nmf_held_out_error_is_lowest_at_the_planted_rank(grid):
    curve = rank_curve(grid, "nmf", ks=(2, 3, 4, 6, 8), protocol="cells:0.1", params={"n_epochs": 80})
    assert curve.best_k == 4
    assert curve.test_error[2] < 0.5 * curve.test_error[1]  # 4 is far better than 3


def test_rank_curve_refuses_a_rank_above_the_matrix(grid):
    with pytest.raises(DataError, match="exceeds"):
        rank_curve(grid, "svd", ks=(2, 80))


def test_the_elbow_of_a_planted_spectrum():
    spectrum = np.array([10.0, 9.0, 8.5, 8.0, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3])
    assert explained_variance_elbow(spectrum) == 4
    assert explained_variance_elbow([5.0, 0.1, 0.1, 0.1]) == 1
    ratios = explained_variance_ratios(spectrum, total=float((spectrum**2).sum()) * 2)
    assert ratios.sum() == pytest.approx(0.5)  # shares of the data's sum of squares, not of what was found


def test_svd_rank_selection_table_has_the_elbow_and_explained_variance(grid):
    table = rank_selection(grid, "svd", ks=(1, 2, 3, 4, 5, 6))
    # Uncentered nonnegative data: the first component carries the mean (98% of the sum of squares), so the
    # explained-variance elbow says 1 while the held-out error finds the planted 4. The table shows both.
    assert table["best_k"] == 4 and table["elbow_k"] == 1
    assert table["explained_variance_ratios"][0] > 0.95
    cumulative = [r["explained_variance"] for r in table["records"]]
    assert np.all(np.diff(cumulative) > 0) and cumulative[-1] <= 1.0 + 1e-9


def test_topic_stability_is_near_one_for_planted_topics_and_lower_far_above_the_truth():
    corpus = planted_corpus()
    stable, per_topic = topic_stability(corpus, 3, seeds=(0, 1, 2), params={"n_epochs": 100}, per_topic=True)
    too_many = topic_stability(corpus, 12, seeds=(0, 1, 2), params={"n_epochs": 100})
    assert stable > 0.98 and per_topic.shape == (3,)
    assert too_many < stable - 0.05


def test_coherence_is_higher_for_planted_topics_than_for_shuffled_ones():
    corpus = planted_corpus()
    planted_H = np.kron(np.eye(3), np.ones(12))  # topic t weighs its own 12 words
    planted_H = planted_H + 0.01 * np.random.default_rng(1).random(planted_H.shape)
    shuffled_H = planted_H[:, np.random.default_rng(2).permutation(planted_H.shape[1])]
    good, per_topic = topic_coherence(corpus, planted_H, top_n=10, per_topic=True)
    bad = topic_coherence(corpus, shuffled_H, top_n=10)
    assert per_topic.shape == (3,) and good > bad + 0.5


def test_nmf_rank_selection_on_documents_reports_stability_and_coherence():
    corpus = planted_corpus()
    table = rank_selection(corpus, "nmf", ks=(3, 8), params={"n_epochs": 60}, seeds=(0, 1))
    by_k = {r["k"]: r for r in table["records"]}
    assert by_k[3]["stability"] > by_k[8]["stability"]
    assert by_k[3]["coherence"] > by_k[8]["coherence"]
    assert table["metric"] == "relative_error"
