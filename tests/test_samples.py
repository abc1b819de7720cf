"""Built-in samples: deterministic, shaped as promised, and true to their planted answer."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from mfstudio.data import Dataset, DataError
from mfstudio.data import samples
from mfstudio.data.samples import (
    SAMPLES,
    TOPIC_WORDS,
    bars,
    load_sample,
    movies,
    topics_corpus,
    toy_ratings_5x3,
    toy_ratings_5x4,
)


@pytest.fixture(scope="module")
def movie_data() -> Dataset:
    return movies()


@pytest.fixture(scope="module")
def corpus() -> Dataset:
    return topics_corpus()


# ---------------------------------------------------------------------- toys
def test_toy_5x4_is_the_tutorial_matrix():
    tutorial = np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [1, 0, 0, 4], [0, 1, 5, 4]], dtype=float)
    data = toy_ratings_5x4()
    assert data.kind == "explicit" and data.rating_scale == (1.0, 5.0)
    assert data.nnz == np.count_nonzero(tutorial) == 13
    np.testing.assert_array_equal(data.to_dense(fill=0), tutorial)
    np.testing.assert_array_equal(data.truth["matrix"], tutorial)
    assert data.row_ids.tolist() == ["U1", "U2", "U3", "U4", "U5"]
    assert data.col_ids.tolist() == ["D1", "D2", "D3", "D4"]
    # Unknown cells are absent, not zeros.
    assert np.isnan(data.to_dense()[0, 2])


def test_toy_5x3_is_the_tutorials_matrix():
    data = toy_ratings_5x3()
    tutorial = np.array([[5, 3, 0], [4, 0, 0], [1, 1, 0], [0, 0, 5], [0, 0, 4]])
    assert data.shape == (5, 3) and data.nnz == np.count_nonzero(tutorial) == 7
    np.testing.assert_array_equal(data.to_dense(fill=0), tutorial)
    np.testing.assert_array_equal(data.truth["matrix"], tutorial)
    assert data.rating_scale == (1, 5) and "seed 42" in data.notes[0]


# -------------------------------------------------------------------- movies
def test_movies_shape_scale_and_ids(movie_data):
    data = movie_data
    assert data.kind == "explicit"
    assert data.shape == (1000, 1500)
    assert 60_000 <= data.nnz <= 90_000
    assert data.rating_scale == (1.0, 5.0)
    assert set(np.unique(data.values).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(np.unique(data.values)) == 5
    assert 3.2 <= data.values.mean() <= 3.8
    np.testing.assert_array_equal(data.row_ids, np.arange(1, 1001))
    np.testing.assert_array_equal(data.col_ids, np.arange(1, 1501))
    # No user rates the same item twice.
    pairs = data.rows.astype(np.int64) * data.n_cols + data.cols
    assert np.unique(pairs).size == data.nnz
    assert data.name == "Movies (sample)" and data.source == "sample:movies"


def test_movies_activity_and_popularity(movie_data):
    per_user = movie_data.row_counts()
    per_item = movie_data.col_counts()
    assert per_user.min() >= 5
    assert per_item.min() >= 1
    # Heavy users and a long tail of light ones (log-normal activity).
    assert per_user.max() > 5 * np.median(per_user)
    # Power-law popularity: the top 10% of items hold more than 35% of the ratings.
    top = np.sort(per_item)[::-1][: len(per_item) // 10]
    assert top.sum() / per_item.sum() > 0.35


def test_movies_titles_genres_timestamps(movie_data):
    titles = movie_data.item_titles
    assert len(set(titles.tolist())) == len(titles)
    assert all(re.fullmatch(r"(The )?[A-Z][a-z]+ [A-Z][a-z]+( [IVX]+)? \((19|20)\d\d\)", t) for t in titles)
    genre_lists = [g.split("|") for g in movie_data.item_genres]
    assert all(1 <= len(g) <= 3 for g in genre_lists)
    assert {name for g in genre_lists for name in g} == set(samples.GENRES)
    stamps = movie_data.timestamps
    assert stamps.dtype == np.int64
    assert (stamps.max() - stamps.min()) > 2 * 365 * 86_400


def test_movies_truth_explains_the_ratings(movie_data):
    truth = movie_data.truth
    assert truth["user_factors"].shape == (1000, 10)
    assert truth["item_factors"].shape == (1500, 10)
    assert truth["user_bias"].shape == (1000,) and truth["item_bias"].shape == (1500,)
    u, i = movie_data.rows, movie_data.cols
    expected = (
        truth["global_mean"] + truth["user_bias"][u] + truth["item_bias"][i]
        + np.einsum("ij,ij->i", truth["user_factors"][u], truth["item_factors"][i])
    )
    error_truth = np.sqrt(np.mean((np.clip(expected, 1, 5) - movie_data.values) ** 2))
    error_mean = movie_data.values.std()
    # The planted model is near the noise level and far better than the global mean.
    assert error_truth < 0.7 < 0.9 < error_mean
    # The interaction term matters: biases alone do clearly worse.
    biases_only = truth["global_mean"] + truth["user_bias"][u] + truth["item_bias"][i]
    assert np.sqrt(np.mean((biases_only - movie_data.values) ** 2)) > error_truth + 0.15


def test_movie_genres_cluster_in_factor_space(movie_data):
    genres = movie_data.item_genres
    single = np.array(["|" not in g for g in genres])
    factors = movie_data.truth["item_factors"][single]
    factors = factors / np.linalg.norm(factors, axis=1, keepdims=True)
    labels = genres[single]
    cosine = factors @ factors.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    different = labels[:, None] != labels[None, :]
    assert cosine[same].mean() > cosine[different].mean() + 0.5


def test_movies_is_deterministic_and_seeded():
    small = dict(n_users=200, n_items=300)
    first, again, other = movies(**small, seed=3), movies(**small, seed=3), movies(**small, seed=4)
    for name in ("rows", "cols", "values", "timestamps", "item_titles", "item_genres"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    np.testing.assert_array_equal(first.truth["item_factors"], again.truth["item_factors"])
    assert first.nnz != other.nnz or not np.array_equal(first.values, other.values)
    assert not np.array_equal(first.truth["item_factors"], other.truth["item_factors"])


def test_movies_is_fast():
    start = time.perf_counter()
    movies()
    assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize("n_items", [3, 40, 2500])
def test_movies_odd_sizes_keep_their_promises(n_items):
    data = movies(n_users=30, n_items=n_items, n_factors=3, seed=1)
    assert data.shape == (30, n_items)
    assert (data.row_counts() >= min(5, n_items)).all()
    assert (data.col_counts() >= 1).all()
    assert len(set(data.item_titles.tolist())) == n_items


# -------------------------------------------------------------------- topics
def test_topic_words_survive_the_vectorizer():
    for words in TOPIC_WORDS.values():
        assert len(set(words)) == len(words) == 30
        assert not set(words) & ENGLISH_STOP_WORDS
    all_words = [w for words in TOPIC_WORDS.values() for w in words]
    assert len(set(all_words)) == len(all_words), "topics must not share words"


def test_topics_corpus_shape_and_truth(corpus):
    assert corpus.kind == "documents"
    assert corpus.n_rows == 600
    assert corpus.row_ids[0] == "doc0001" and corpus.row_ids[-1] == "doc0600"
    assert len(corpus.texts) == 600
    assert (corpus.values > 0).all() and (corpus.values <= 1).all()
    mixture = corpus.truth["doc_topics"]
    assert mixture.shape == (600, 6)
    np.testing.assert_allclose(mixture.sum(axis=1), 1.0)
    assert corpus.truth["topic_words"].shape == (6, 30)
    assert corpus.truth["topic_names"].tolist() == ["space", "cooking", "football", "finance", "music", "medicine"]
    # Sparse mixtures: most documents are mostly about one topic.
    assert np.median(mixture.max(axis=1)) > 0.7
    lengths = np.array([len(t.split()) for t in corpus.texts])
    assert lengths.min() >= 40 and lengths.max() <= 120


def test_topics_vocabulary_holds_topic_words_and_no_stop_words(corpus):
    vocabulary = set(corpus.col_ids.tolist())
    topic_words = set(corpus.truth["topic_words"].ravel().tolist())
    assert len(vocabulary & topic_words) >= 0.9 * len(topic_words)
    assert not vocabulary & {"the", "and", "of", "with"}
    # Stop words really are in the texts, and removed from the vocabulary.
    padded = [f" {t.lower()} " for t in corpus.texts]
    assert sum(any(f" {w} " in t for w in ("the", "and", "of", "with")) for t in padded) > 500


def test_documents_are_about_their_dominant_topic(corpus):
    topic_words = corpus.truth["topic_words"]
    dominant = corpus.truth["doc_topics"].argmax(axis=1)
    hits = []
    for text, topic in zip(corpus.texts, dominant):
        tokens = set(text.lower().rstrip(".").split())
        own = len(tokens & set(topic_words[topic]))
        others = max(len(tokens & set(topic_words[t])) for t in range(len(topic_words)) if t != topic)
        assert own >= 1
        hits.append(own >= others)
    assert np.mean(hits) > 0.9
    # In tf-idf space too, a document's heaviest term usually belongs to its dominant topic.
    csr = corpus.to_csr()
    heaviest = corpus.col_ids[np.asarray(csr.argmax(axis=1)).ravel()]
    in_topic = [term in set(topic_words[t]) for term, t in zip(heaviest, dominant)]
    assert np.mean(in_topic) > 0.8


def test_topics_is_deterministic_and_seeded():
    a, b, c = topics_corpus(n_docs=60, seed=2), topics_corpus(n_docs=60, seed=2), topics_corpus(n_docs=60, seed=5)
    assert a.texts == b.texts
    np.testing.assert_array_equal(a.values, b.values)
    assert a.texts != c.texts


def test_topics_rejects_too_many_topics():
    with pytest.raises(ValueError):
        topics_corpus(n_topics=len(TOPIC_WORDS) + 1)


# ---------------------------------------------------------------------- bars
def test_bars_are_exact_sums_of_bar_components():
    data = bars()
    assert data.kind == "images" and data.image_shape == (8, 8)
    assert data.shape == (400, 64) and data.fully_observed
    assert data.row_ids[0] == "img0001" and data.col_ids[9] == "p1_1"
    components, activations = data.truth["components"], data.truth["activations"]
    assert components.shape == (16, 64) and activations.shape == (400, 16)
    assert set(np.unique(activations).tolist()) <= {0.0, 1.0}
    assert (activations.sum(axis=1) >= 1).all()
    assert 1.5 <= activations.sum(axis=1).mean() <= 3.0
    np.testing.assert_array_equal(data.to_dense(), activations @ components)
    assert (data.values >= 0).all()


def test_bar_components_are_rows_and_columns():
    components = bars(n_images=5, size=4).truth["components"].reshape(8, 4, 4)
    for index in range(4):
        expected_row = np.zeros((4, 4))
        expected_row[index] = 1
        np.testing.assert_array_equal(components[index], expected_row)
        np.testing.assert_array_equal(components[4 + index], expected_row.T)


def test_bars_noise_keeps_values_non_negative_and_seeds_matter():
    noisy = bars(n_images=50, noise=0.1, seed=1)
    assert (noisy.values >= 0).all()
    assert not np.array_equal(noisy.to_dense(), noisy.truth["activations"] @ noisy.truth["components"])
    np.testing.assert_array_equal(bars(seed=1).values, bars(seed=1).values)
    assert not np.array_equal(bars(seed=1).values, bars(seed=2).values)


# ------------------------------------------------- the samples do their job
def test_nmf_finds_the_planted_topics(corpus):
    from sklearn.decomposition import NMF

    topic_words = corpus.truth["topic_words"]
    model = NMF(6, init="nndsvda", random_state=0, max_iter=400).fit(corpus.to_csr())
    found = []
    for component in model.components_:
        top_terms = corpus.col_ids[np.argsort(component)[::-1][:10]]
        overlap = [np.isin(top_terms, words).sum() for words in topic_words]
        assert max(overlap) >= 8, "each NMF topic's top words should come from one planted topic"
        found.append(int(np.argmax(overlap)))
    assert sorted(found) == list(range(6))


def test_nmf_takes_the_bars_apart():
    from sklearn.decomposition import NMF

    data = bars()
    model = NMF(16, init="nndsvda", random_state=0, max_iter=1000, tol=1e-6).fit(data.to_dense())
    learned = model.components_ / np.linalg.norm(model.components_, axis=1, keepdims=True)
    planted = data.truth["components"] / np.linalg.norm(data.truth["components"], axis=1, keepdims=True)
    assert (planted @ learned.T).max(axis=1).min() > 0.95


# ------------------------------------------------------------------ registry
def test_registry_lists_every_sample_and_each_loads():
    assert list(SAMPLES) == ["toy-5x4", "toy-5x3", "digits", "movies", "topics", "bars"]
    small = {"movies": dict(n_users=50, n_items=80), "topics": dict(n_docs=40), "bars": dict(n_images=10)}
    for name, info in SAMPLES.items():
        assert info.name == name and info.title and info.description.endswith(".")
        data = load_sample(name, **small.get(name, {}))
        assert isinstance(data, Dataset)
        assert data.kind == info.kind
        assert data.source == f"sample:{name}"
        assert "(sample)" in data.name
        assert data.notes


def test_load_sample_unknown_name_lists_valid_names():
    with pytest.raises(DataError) as info:
        load_sample("netflix")
    message = str(info.value)
    assert "netflix" in message
    for name in SAMPLES:
        assert name in message


def test_sample_info_is_frozen():
    with pytest.raises(AttributeError):
        SAMPLES["movies"].title = "changed"
