"""NMF: finds the planted parts and topics, descends, treats missing ratings as unknown."""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio.data import Dataset
from mfstudio.data.samples import bars, topics_corpus
from mfstudio.models import NMF


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


@pytest.fixture(scope="module")
def bar_images():
    return bars(n_images=300, seed=4)


@pytest.mark.parametrize("solver", ["cd", "hals", "mu"])
def test_parts_of_bar_images_are_the_bars(bar_images, solver):
    truth = bar_images.truth["components"]  # 16 bars, 8x8 pixels each
    model = NMF(n_factors=16, solver=solver, n_epochs=300 if solver == "mu" else 150, seed=0).fit(bar_images)
    similarity = _cosine(truth, model.components_)
    # Every planted bar has a learned part that is nearly that bar.
    assert similarity.max(axis=1).min() > (0.9 if solver == "mu" else 0.95), similarity.max(axis=1)
    assert (model.components_ >= 0).all() and (model.user_factors_ >= 0).all()


def test_topics_are_the_planted_word_lists():
    corpus = topics_corpus(n_docs=400, seed=3)
    topic_words = corpus.truth["topic_words"]
    model = NMF(n_factors=len(topic_words), n_epochs=100).fit(corpus)
    terms = np.asarray(corpus.col_ids)
    found = []
    for component in model.components_:
        top = set(terms[np.argsort(-component)[:10]].tolist())
        overlap = [len(top & set(words.tolist())) for words in topic_words]
        found.append(int(np.argmax(overlap)))
        assert max(overlap) >= 8, (top, overlap)
    assert sorted(found) == list(range(len(topic_words)))  # each topic found once


@pytest.mark.parametrize("solver, beta", [("cd", "frobenius"), ("hals", "frobenius"), ("mu", "frobenius"),
                                          ("mu", "kullback-leibler")])
def test_the_objective_never_increases(bar_images, solver, beta):
    losses = [s.train_loss for s in NMF(n_factors=8, solver=solver, beta_loss=beta, n_epochs=60,
                                        init="random").iter_fit(bar_images)]
    assert losses[-1] < 0.7 * losses[0]
    assert np.all(np.diff(losses) <= 1e-6 * abs(losses[0])), np.diff(losses).max()


def test_objective_matches_scikit_learn_from_the_same_start():
    sklearn = pytest.importorskip("sklearn.decomposition")
    corpus = topics_corpus(n_docs=200, seed=1)
    X = corpus.to_csr(np.float64)
    ours = NMF(n_factors=6, n_epochs=200, solver="cd").fit(corpus)
    theirs = sklearn.NMF(n_components=6, init="nndsvda", solver="cd", max_iter=200, tol=0, random_state=0).fit(X)
    # Same objective, same kind of start: final errors within 2% of each other.
    assert ours.reconstruction_err_ == pytest.approx(theirs.reconstruction_err_, rel=0.02)


def test_missing_ratings_are_unknown_not_zero():
    rng = np.random.default_rng(0)
    W = rng.random((120, 3)) + 0.2
    H = rng.random((3, 90)) + 0.2
    full = W @ H
    observed = rng.random(full.shape) < 0.5
    rows, cols = np.nonzero(observed)
    ratings = Dataset(kind="explicit", rows=rows, cols=cols, values=full[rows, cols],
                      row_ids=np.arange(120), col_ids=np.arange(90), rating_scale=(0.0, 10.0))
    model = NMF(n_factors=3, n_epochs=300).fit(ratings)
    assert model.masked_
    hidden_r, hidden_c = np.nonzero(~observed)
    pred = model.predict(hidden_r, hidden_c)
    # Completed from the observed half: the hidden entries come back, not zeros.
    assert np.sqrt(np.mean((pred - full[hidden_r, hidden_c]) ** 2)) < 0.05 * full.mean()


def test_l1_makes_parts_sparser(bar_images):
    plain = NMF(n_factors=16, n_epochs=80).fit(bar_images)
    sparse = NMF(n_factors=16, n_epochs=80, l1=0.05).fit(bar_images)
    assert (sparse.components_ < 1e-6).mean() > (plain.components_ < 1e-6).mean()


def test_kullback_leibler_needs_multiplicative_updates(bar_images):
    with pytest.raises(ValueError, match="solver 'mu'"):
        NMF(beta_loss="kullback-leibler", solver="cd").fit(bar_images)


def test_negative_input_is_refused_with_the_reason():
    data = Dataset(kind="dense", rows=np.array([0, 1]), cols=np.array([0, 1]), values=np.array([1.0, -2.0]),
                   row_ids=np.arange(2), col_ids=np.arange(2))
    with pytest.raises(ValueError, match="negative"):
        NMF(n_factors=1).fit(data)
