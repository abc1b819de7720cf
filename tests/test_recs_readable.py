"""Recommendations a person can read: a minimum support, genre colours that show, SVD cards with both signs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mfstudio.inspect as mi
from mfstudio.data.dataset import Dataset
from mfstudio.data.samples import movies, topics_corpus
from mfstudio.models import MODELS
from mfstudio.models.base import FactorModel
from mfstudio.recommend import (
    MIN_SUPPORT_FLOOR,
    default_min_support,
    item_support,
    recommendations_for,
    recommendations_for_new_user,
    similar_items_to,
)

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


class GivenFactors(FactorModel):
    """Factors given outright, so a test can place a rare item wherever it likes."""

    name = "given"
    defaults = {}
    kinds = ("explicit", "implicit")

    def __init__(self, train, users, items):
        super().__init__()
        self.train_ = train
        self.user_factors_ = np.asarray(users, dtype=np.float32)
        self.item_factors_ = np.asarray(items, dtype=np.float32)


def _ratings(counts_per_item, n_users=40, seed=0) -> Dataset:
    """Explicit ratings where item j is rated by exactly ``counts_per_item[j]`` users."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for item, count in enumerate(counts_per_item):
        users = rng.choice(n_users, size=count, replace=False)
        rows.extend(users.tolist())
        cols.extend([item] * count)
    rows, cols = np.asarray(rows), np.asarray(cols)
    n_items = len(counts_per_item)
    return Dataset(kind="explicit", rows=rows, cols=cols, values=rng.integers(1, 6, rows.size).astype(float),
                   row_ids=np.arange(n_users), col_ids=np.arange(100, 100 + n_items), rating_scale=(1.0, 5.0),
                   item_titles=np.array([f"film {j}" for j in range(n_items)]))


@pytest.fixture(scope="module")
def rare_twin():
    """Item 0 is the query; item 5, rated once, points exactly the same way (cosine 1)."""
    data = _ratings([30, 25, 20, 15, 12, 1])
    items = np.array([[1.0, 0.0], [0.9, 0.5], [0.7, 0.7], [0.2, 1.0], [-1.0, 0.1], [2.0, 0.0]])
    users = np.random.default_rng(1).normal(size=(data.n_rows, 2))
    # User 0 prefers direction (1, 0): the rare item scores highest for them too.
    users[0] = [3.0, 0.0]
    return data, GivenFactors(data, users, items)


def _raw_items(rows):
    return [r["item"] for r in rows]


def test_a_rarely_rated_item_with_the_largest_cosine_is_filtered_out(rare_twin):
    data, model = rare_twin
    everything = similar_items_to(model, 100, n=5, min_support=0)
    assert everything[0]["item"] == 105 and everything[0]["similarity"] == pytest.approx(1.0)
    filtered = similar_items_to(model, 100, n=5, min_support=5)
    assert 105 not in _raw_items(filtered)
    # The rest keeps its order and fills the list from further down.
    assert _raw_items(filtered) == [i for i in _raw_items(everything) if i != 105]
    assert [r["rank"] for r in filtered] == list(range(1, len(filtered) + 1))


def test_recommendations_keep_only_supported_items_in_model_order(rare_twin):
    data, model = rare_twin
    support = dict(zip(data.col_ids.tolist(), item_support(data).tolist()))
    user = 0
    full = recommendations_for(model, user, n=6, exclude_seen=False, min_support=0)
    assert full[0]["item"] == 105
    kept = recommendations_for(model, user, n=3, exclude_seen=False, min_support=13)
    assert all(support[i] >= 13 for i in _raw_items(kept))
    assert _raw_items(kept) == [i for i in _raw_items(full) if support[i] >= 13][:3]
    # None means the data's default.
    default = default_min_support(data)
    assert recommendations_for(model, user, 6, exclude_seen=False, min_support=None) == \
        recommendations_for(model, user, 6, exclude_seen=False, min_support=default)
    fresh = recommendations_for_new_user(model, {101: 5.0, 102: 4.0}, n=4, min_support=5)
    assert 105 not in _raw_items(fresh) and not {101, 102} & set(_raw_items(fresh))


def test_default_min_support_follows_the_ratings_per_item():
    # Many items with many ratings: the 40th percentile, above the floor.
    busy = _ratings([30, 28, 25, 22, 20, 18, 15, 12, 10, 8], n_users=40)
    counts = item_support(busy)
    assert default_min_support(busy) == int(np.percentile(counts, 40))
    # A sparse catalogue: raised to the floor, but never above the median (half the items stay listable).
    sparse = _ratings([1, 1, 2, 2, 3, 6, 9, 9], n_users=12)
    value = default_min_support(sparse)
    assert value == min(MIN_SUPPORT_FLOOR, int(np.median(item_support(sparse))))
    assert (item_support(sparse) >= value).mean() >= 0.5


@pytest.mark.skipif(not ML100K.is_dir(), reason="MovieLens 100K is not in ../shared/data")
def test_similar_to_alien_on_movielens_lists_no_rarely_rated_films():
    from mfstudio.data import load

    data = load(str(ML100K))
    model = MODELS["svd"](n_factors=20, seed=0).fit(data)
    titles = data.title_of(np.arange(data.n_cols)).astype(str)
    alien = data.col_ids[int(np.flatnonzero(titles == "Alien (1979)")[0])].item()
    santa = int(np.flatnonzero(titles == "Santa with Muscles (1996)")[0])
    support = item_support(data)
    assert support[santa] < default_min_support(data) <= np.median(support[support > 0])
    rows = similar_items_to(model, alien, n=10, min_support=None)
    assert len(rows) == 10
    assert "Santa with Muscles (1996)" not in [r["title"] for r in rows]
    assert min(support[data.col_of([r["item"] for r in rows])]) >= default_min_support(data)


# --------------------------------------------------------------- genre colours
def test_rarest_genre_colouring_and_one_genre_highlighted():
    genres = np.array(["Action|Sci-Fi", "Action", "Action|Drama", "Drama", "Action|Sci-Fi|Drama", "", "Drama"])
    names, codes, meaning = mi.genre_categories(genres)
    shown = [names[c] for c in codes]
    # Sci-Fi (2 items) is rarer than Action (4) and Drama (4): it wins wherever it occurs.
    assert shown == ["Sci-Fi", "Action", "Action", "Drama", "Sci-Fi", mi.NO_GENRE, "Drama"]
    assert "rarest" in meaning
    names, codes, meaning = mi.genre_categories(genres, highlight="Drama")
    assert names == ["Drama", mi.REST_OF_ITEMS]
    assert codes.tolist() == [1, 1, 0, 0, 0, 1, 0]
    assert mi.genre_names(genres) == ["Action", "Drama", "Sci-Fi"]


@pytest.mark.skipif(not ML100K.is_dir(), reason="MovieLens 100K is not in ../shared/data")
def test_sci_fi_gets_a_colour_on_movielens():
    from mfstudio.data import load

    data = load(str(ML100K))
    names, codes, _ = mi.genre_categories(data.item_genres)
    assert "Sci-Fi" in names
    assert names[codes[int(np.flatnonzero(data.title_of(np.arange(data.n_cols)) == "Alien (1979)")[0])]] == "Horror"
    # Why the first-genre colouring never showed it: too few movies list Sci-Fi first to make the legend.
    uniques, first = np.unique([g.split("|")[0] for g in data.item_genres.astype(str)], return_inverse=True)
    assert "Sci-Fi" not in mi.limit_categories(list(uniques), first)[0]


# --------------------------------------------------------------- signed topics
def test_signed_topic_summary_lists_both_ends_of_each_component():
    rng = np.random.default_rng(3)
    H = rng.normal(size=(3, 12))
    terms = np.array([f"w{j}" for j in range(12)])
    summary = mi.signed_topic_summary(H, terms, n_words=4)
    for t in range(3):
        plus = summary.side(t, "+")
        minus = summary.side(t, "-")
        assert [w for w, _ in plus] == [terms[j] for j in np.argsort(-H[t])[:4] if H[t, j] > 0]
        assert [w for w, _ in minus] == [terms[j] for j in np.argsort(H[t])[:4] if H[t, j] < 0]
        assert all(v > 0 for _, v in plus) and all(v < 0 for _, v in minus)
    assert mi.has_signed_components(H) and not mi.has_signed_components(np.abs(H))


# ------------------------------------------------------------------- the views
@pytest.fixture
def app(qtbot):
    pytest.importorskip("PySide6")
    from mfstudio.gui.app import create_app

    return create_app()


def _run(model, name="run"):
    from mfstudio.project import Run

    return Run(name=name, model=model, metrics={}, status="finished")


def test_recommendations_view_states_and_changes_the_minimum_support(qtbot, app, rare_twin):
    from mfstudio.gui.views.recommendations import RecommendationsView

    data, model = rare_twin
    view = RecommendationsView()
    qtbot.addWidget(view)
    view.set_dataset(data)
    view.set_run(_run(model))
    assert view.min_support == default_min_support(data)
    view.set_min_support(5)
    view._show_similar(100, "film 0")
    titles = [view.similar_table.item(r, 0).text() for r in range(view.similar_table.rowCount())]
    assert titles and "film 5" not in titles
    assert "at least 5 ratings" in view.similar_label.text()
    assert "at least 5 ratings" in view.recs_label.text()
    view.set_min_support(0)
    view._show_similar(100, "film 0")
    assert view.similar_table.item(0, 0).text() == "film 5"
    assert "at least" not in view.similar_label.text()


def test_factor_space_highlights_one_genre_against_grey(qtbot, app):
    from mfstudio.gui.views.factor_space import OTHER_COLOR, FactorSpaceView

    data = movies(n_users=120, n_items=80, seed=2)
    model = GivenFactors(data, np.random.default_rng(0).normal(size=(data.n_rows, 4)),
                         np.random.default_rng(1).normal(size=(data.n_cols, 4)))
    view = FactorSpaceView()
    qtbot.addWidget(view)
    view.set_dataset(data)
    view.set_run(_run(model))
    names, codes, _ = mi.genre_categories(data.item_genres)
    assert list(view.category_names) == names
    genre = mi.genre_names(data.item_genres)[-1]
    view.highlight_genre(genre)
    inside = np.array([genre in g.split("|") for g in data.item_genres.astype(str)])
    order = view.scatter.data["data"].astype(int)
    colours = np.array(view.point_colors())
    grey = pytest.importorskip("pyqtgraph").mkColor(OTHER_COLOR).name()
    assert (colours[~inside[order]] == grey).all() and (colours[inside[order]] != grey).all()
    # The highlighted points are drawn last, on top of the grey ones.
    assert inside[order][-int(inside.sum()):].all()
    view.highlight_genre(None)
    assert list(view.category_names) == names


def test_svd_topic_cards_show_both_signs_and_nmf_cards_one(qtbot, app):
    from mfstudio.gui.views.topics import TopicsView

    data = topics_corpus()
    view = TopicsView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.set_dataset(data)
    svd = MODELS["svd"](n_factors=4, seed=0).fit(data)
    view.set_run(_run(svd, "svd"))
    H = np.asarray(svd.components_ if hasattr(svd, "components_") else svd.item_factors_.T)
    per_side = view.words_per_side
    negative_ends = 0
    for t in range(4):
        words = view.card_words(t)
        plus = [w[2:] for w in words if w.startswith("+ ")]
        minus = [w[2:] for w in words if w.startswith("- ")]
        assert plus == [str(data.col_ids[j]) for j in np.argsort(-H[t], kind="stable")[:per_side] if H[t, j] > 0]
        assert minus == [str(data.col_ids[j]) for j in np.argsort(H[t], kind="stable")[:per_side] if H[t, j] < 0]
        negative_ends += bool(minus)
    # On non-negative data the first component may have one sign only; the later ones have two.
    assert negative_ends >= 3
    assert "both ends" in view.doc_heading.text()
    nmf = MODELS["nmf"](n_factors=4).fit(data) if "n_factors" in MODELS["nmf"].defaults else None
    if nmf is not None:
        view.set_run(_run(nmf, "nmf"))
        assert not any(w.startswith(("+ ", "- ")) for w in view.card_words(0))
        assert view.signed is None


def test_cli_recommend_takes_a_minimum_support(tmp_path, capsys):
    import json

    from mfstudio.cli import main

    data = _ratings([30, 25, 20, 15, 12, 3, 1])
    folder = tmp_path / "model"
    MODELS["svd"](n_factors=2, seed=0).fit(data).save(folder)
    support = dict(zip(data.col_ids.tolist(), item_support(data).tolist()))

    def similar(*extra):
        assert main(["recommend", str(folder), "--similar", "100", "--n", "10", "--json", *extra]) == 0
        return [row["item"] for row in json.loads(capsys.readouterr().out)["items"]]

    assert sorted(similar("--min-support", "0")) == list(range(101, 107))
    assert similar("--min-support", "13") == [i for i in similar("--min-support", "0") if support[i] >= 13]
    assert all(support[i] >= default_min_support(data) for i in similar())
