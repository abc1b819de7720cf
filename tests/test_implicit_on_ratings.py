"""Ranking models fitted on ratings (BPR, implicit ALS), new-user ticks, seen items and cold users.

Issue 8, finding 1 and the end of finding 7:

- a tick in new-user mode is a positive interaction, not the rating 1 that a
  threshold of 4 throws away (five sci-fi likes and one animated film gave the
  same list; implicit ALS scored everything 0.00);
- "seen" is everything the user rated, at any value, also after save/load and
  in a project (BPR recommended back items ML-100K user 843 had rated 1-3);
- a tick stays a tick when the recommendations view switches to a rating model;
- a rating model predicts the mean (plus known biases) for users and items
  without training data, never 0 clipped to 1 star.

The genre checks use the planted truth of ``sample:movies``: its item factors
are built from genre directions, so "a list about sci-fi" is measurable.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfstudio.data import load, load_sample
from mfstudio.data.samples import GENRES
from mfstudio.data.splits import random_split
from mfstudio.models import ALS, BPR, Baseline, BiasedSGD, ImplicitALS, load_model
from mfstudio.models.base import TICK_VALUE
from mfstudio.project import Run, open_project, save_project
from mfstudio.recommend import (
    TICK,
    known_ratings,
    read_new_user,
    recommendations_for,
    recommendations_for_new_user,
)
from tests.conftest import ML100K, needs_ml100k

RANKING = {"bpr": BPR, "implicit-als": ImplicitALS}


@pytest.fixture(scope="module")
def movies():
    return load_sample("movies")


@pytest.fixture(scope="module")
def ranking_fits(movies):
    """BPR and implicit ALS with their default parameters, fitted on all of sample:movies (ratings)."""
    return {name: cls().fit(movies) for name, cls in RANKING.items()}


def _raw_items(data, genre: str, *, only: bool, k: int) -> list:
    """The ``k`` most rated items of a genre (``only``: that genre alone)."""
    genres = data.item_genres.astype(str)
    match = np.flatnonzero([(g == genre) if only else (genre in g.split("|")) for g in genres])
    match = match[np.argsort(-data.col_counts()[match], kind="stable")][:k]
    return data.col_ids[match].tolist()


def _alignment(data, rows, genre: str) -> float:
    """Mean planted affinity of the listed items to a genre's direction in factor space."""
    direction = data.truth["genre_directions"][list(GENRES).index(genre)]
    items = data.col_of([r["item"] for r in rows])
    return float((data.truth["item_factors"][items] @ direction).mean())


def _rated_by(data, raw_user) -> set:
    user = int(data.row_of([raw_user])[0])
    return set(data.col_ids[data.cols[data.rows == user]].tolist())


# ------------------------------------------------------------------ new-user ticks
@pytest.mark.parametrize("name", sorted(RANKING))
def test_five_scifi_ticks_and_one_animated_tick_give_different_lists(name, movies, ranking_fits):
    model = ranking_fits[name]
    scifi = _raw_items(movies, "Sci-Fi", only=True, k=5)
    animated = _raw_items(movies, "Animation", only=False, k=1)
    for_scifi = recommendations_for_new_user(model, {raw: TICK for raw in scifi}, n=10)
    for_animated = recommendations_for_new_user(model, {raw: TICK for raw in animated}, n=10)
    overlap = {r["item"] for r in for_scifi} & {r["item"] for r in for_animated}
    assert len(overlap) <= 7, overlap  # the ticks were ignored: the same popular list twice
    assert _alignment(movies, for_scifi, "Sci-Fi") > _alignment(movies, for_animated, "Sci-Fi") + 0.2
    assert _alignment(movies, for_animated, "Animation") > _alignment(movies, for_scifi, "Animation") + 0.1
    assert not {r["item"] for r in for_scifi} & set(scifi)


def test_implicit_als_fold_in_scores_are_not_all_zero(movies, ranking_fits):
    rows = recommendations_for_new_user(ranking_fits["implicit-als"],
                                        {raw: TICK for raw in _raw_items(movies, "Sci-Fi", only=True, k=5)})
    scores = np.array([r["score"] for r in rows])
    assert (scores > 1e-3).all() and scores[0] > scores[-1]


@pytest.mark.parametrize("name", sorted(RANKING))
def test_a_tick_is_none_or_nan_alike_and_a_low_rating_is_seen_not_liked(name, movies, ranking_fits):
    model = ranking_fits[name]
    liked = _raw_items(movies, "Sci-Fi", only=True, k=3)
    disliked = _raw_items(movies, "Comedy", only=True, k=1)[0]
    by_tick = recommendations_for_new_user(model, {raw: TICK for raw in liked}, n=10)
    assert by_tick == recommendations_for_new_user(model, {raw: None for raw in liked}, n=10)
    assert by_tick == recommendations_for_new_user(model, {raw: float("nan") for raw in liked}, n=10)
    with_low = recommendations_for_new_user(model, {**{raw: TICK for raw in liked}, disliked: 1.0}, n=10)
    assert disliked not in {r["item"] for r in with_low}  # seen, so never offered back
    given = read_new_user(model, {**{raw: TICK for raw in liked}, disliked: 1.0})
    assert given.not_liked == (disliked,) and given.seen.size == 4
    vector_ticks, _ = model.fold_in(movies.col_of(liked), np.full(3, TICK_VALUE))
    vector_low, _ = model.fold_in(movies.col_of(liked + [disliked]), np.r_[np.full(3, TICK_VALUE), 1.0])
    if name == "bpr":  # the low rating joins the negatives, not the positives
        assert not np.allclose(vector_ticks, 0)
    else:  # implicit ALS: a rating below the threshold is no interaction at all
        np.testing.assert_allclose(vector_low, vector_ticks)


def test_a_rating_model_leaves_ticks_out_and_says_so(movies):
    model = Baseline().fit(movies)
    raw = _raw_items(movies, "Drama", only=True, k=3)
    given = read_new_user(model, {raw[0]: TICK, raw[1]: 5.0, raw[2]: None})
    assert given.unused_ticks == (raw[0], raw[2])
    assert given.items.tolist() == movies.col_of([raw[1]]).tolist()
    rows = recommendations_for_new_user(model, {raw[0]: TICK, raw[1]: 5.0}, n=20)
    assert not {r["item"] for r in rows} & {raw[0], raw[1]}  # the ticked item was seen all the same
    from mfstudio.data.errors import DataError

    with pytest.raises(DataError, match="cannot use a tick"):
        recommendations_for_new_user(model, {raw[0]: TICK})


# ------------------------------------------------------------------ seen items
@pytest.mark.parametrize("name", sorted(RANKING))
def test_every_rated_item_is_seen_whatever_the_rating(name, movies, ranking_fits):
    model = ranking_fits[name]
    assert model.train_ is movies and model.fit_data_.values.min() >= model.params["threshold"]
    low_raters = np.unique(movies.rows[movies.values <= 2])[:40]
    for raw in movies.row_ids[low_raters].tolist():
        rated = _rated_by(movies, raw)
        assert {r["item"] for r in known_ratings(model, raw)} == rated
        assert not rated & {r["item"] for r in recommendations_for(model, raw, n=20)}, raw


@pytest.mark.parametrize("name", sorted(RANKING))
def test_save_load_and_project_keep_every_rated_item_as_seen(name, movies, tmp_path):
    split = random_split(movies, 0.2, seed=1)
    model = RANKING[name](n_epochs=5).fit(split.train)
    loaded = load_model(model.save(tmp_path / "model"))
    assert loaded.train_.nnz == split.train.nnz and loaded.fit_data_.nnz == model.fit_data_.nnz
    assert loaded.fitted_on_ratings_ == 1
    users = movies.row_ids[np.unique(split.train.rows[split.train.values <= 2])[:25]].tolist()
    for raw in users:
        assert not _rated_by(split.train, raw) & {r["item"] for r in recommendations_for(loaded, raw, n=20)}
        assert recommendations_for(loaded, raw, n=20) == recommendations_for(model, raw, n=20)

    run = Run(name="r", model=model, train_index=split.train_index, test_index=split.test_index, status="finished")
    _, (reopened,), _ = open_project(save_project(tmp_path / "session", movies, [run]))
    restored = reopened.model
    assert restored.train_.nnz == split.train.nnz
    assert restored.fit_data_.nnz == model.fit_data_.nnz
    for raw in users:
        assert recommendations_for(restored, raw, n=20) == recommendations_for(model, raw, n=20)


def test_a_model_saved_before_train_kept_every_rating_still_loads(movies, tmp_path):
    model = BPR(n_epochs=3).fit(movies)
    saved = model.save(tmp_path / "new")
    # Write the files as the previous version did: old.json + old.npz side by side (format 1,
    # no arrays hash), the positives only, as implicit data.
    with np.load(saved.parent / "arrays.npz", allow_pickle=False) as arrays:
        content = dict(arrays)
    keep = content["data/values"] >= 4
    for key in ("data/rows", "data/cols", "data/values"):
        content[key] = content[key][keep]
    np.savez_compressed(tmp_path / "old.npz", **content)
    manifest = json.loads(saved.read_text())
    manifest["data"].update(kind="implicit", rating_scale=None)
    manifest["format"] = "mfstudio-model-1"
    del manifest["arrays_sha256"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(manifest))
    old = load_model(path)
    assert old.fitted_on_ratings_ == 1 and old.train_.nnz == int(keep.sum())
    np.testing.assert_array_equal(old.score_matrix([0, 5]), model.score_matrix([0, 5]))
    liked = set(movies.col_ids[movies.cols[(movies.rows == 0) & (movies.values >= 4)]].tolist())
    assert not liked & {r["item"] for r in recommendations_for(old, movies.row_ids[0].item(), n=20)}


@needs_ml100k
@pytest.mark.parametrize("name", sorted(RANKING))
def test_cli_recommend_on_a_saved_model_never_lists_a_rated_item(name, tmp_path, capsys):
    """User 843 got 6-9 of BPR's top 10 back from the items they had rated 1-3."""
    from mfstudio.cli import main

    train = load(ML100K / "u1.base")
    saved = RANKING[name]().fit(train).save(tmp_path / name)
    for raw in (843, 1, 13, 405, 655):
        assert main(["recommend", str(saved), "--user", str(raw), "--n", "20", "--json"]) == 0
        listed = {row["item"] for row in json.loads(capsys.readouterr().out)["items"]}
        assert len(listed) == 20 and not listed & _rated_by(train, raw), raw


# ------------------------------------------------------------------ cold users and items
@pytest.fixture(scope="module")
def cold_split(movies):
    """Users 1-40 and items 1-30 have ratings in the test part only."""
    cold = (movies.rows < 40) | (movies.cols < 30)
    return movies.subset(~cold), movies.subset(cold)


def test_als_without_biases_predicts_the_training_mean_for_cold_users(cold_split):
    train, test = cold_split
    model = ALS(use_bias=False, n_epochs=4).fit(train)
    predictions = model.predict(test.rows, test.cols)
    np.testing.assert_allclose(predictions, train.values.mean(dtype=np.float64), rtol=1e-6)
    assert model.score(test)["rmse"] < 1.5  # 1 star everywhere scores about 2.7 here
    scores = model.score_matrix([0])[0]
    np.testing.assert_allclose(scores, train.values.mean(dtype=np.float64), rtol=1e-6)


@pytest.mark.parametrize("cls", [ALS, BiasedSGD, Baseline], ids=lambda c: c.name)
def test_biased_models_predict_mean_plus_known_bias_for_cold_pairs(cls, cold_split):
    train, test = cold_split
    model = cls(n_epochs=4).fit(train)
    cold_user_warm_item = (test.rows < 40) & (test.cols >= 30)
    rows, cols = test.rows[cold_user_warm_item], test.cols[cold_user_warm_item]
    expected = model.global_mean_ + model.item_bias_[cols]
    np.testing.assert_allclose(model.predict(rows, cols), np.clip(expected, 1, 5), rtol=1e-5)
    warm_user_cold_item = (test.rows >= 40) & (test.cols < 30)
    rows, cols = test.rows[warm_user_cold_item], test.cols[warm_user_cold_item]
    expected = model.global_mean_ + model.user_bias_[rows]
    np.testing.assert_allclose(model.predict(rows, cols), np.clip(expected, 1, 5), rtol=1e-5)
    # The whole score row of a cold user agrees with predict (recommendations rank by the item biases).
    np.testing.assert_allclose(model.score_matrix([3])[0], model.predict(np.full(train.n_cols, 3), np.arange(train.n_cols)),
                               rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ the recommendations view
@pytest.fixture
def app(qtbot):
    pytest.importorskip("PySide6")
    from mfstudio.gui.app import create_app

    return create_app()


def _view(qtbot, data, model):
    from mfstudio.gui.views.recommendations import RecommendationsView

    view = RecommendationsView()
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    qtbot.waitExposed(view)
    view.set_dataset(data)
    view.set_run(Run(name=model.title, model=model, status="finished"))
    return view


def _rate_row(view, raw):
    from PySide6.QtCore import Qt

    for row in range(view.rate_table.rowCount()):
        if view.rate_table.item(row, 0).data(Qt.ItemDataRole.UserRole) == raw:
            return row
    raise AssertionError(f"{raw} is not in the rate table")


def test_view_keeps_ticks_as_ticks_across_a_switch_to_a_rating_model(qtbot, app, movies, ranking_fits):
    from PySide6.QtCore import Qt

    view = _view(qtbot, movies, ranking_fits["bpr"])
    view.tabs.setCurrentIndex(1)
    liked = [view.rate_table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in (0, 3)]
    for raw in liked:
        view.rate_table.item(_rate_row(view, raw), 3).setCheckState(Qt.CheckState.Checked)
    assert view.new_ratings == {raw: TICK for raw in liked}
    titles = [view.new_recs_table.item(r, 1).text() for r in range(view.new_recs_table.rowCount())]
    assert titles == [r["title"] for r in recommendations_for_new_user(ranking_fits["bpr"], view.new_ratings, 10)]
    assert "2 ticked" in view.new_recs_label.text() and "left out" in view.new_recs_label.text()

    rating_model = Baseline().fit(movies)
    view.set_run(Run(name="baseline", model=rating_model, status="finished"))
    assert view.new_ratings == {raw: TICK for raw in liked}  # never turned into "rating 1"
    combo = view.rate_table.cellWidget(_rate_row(view, liked[0]), 3)
    assert combo.currentData() == TICK and "rate it" in combo.currentText()
    assert view.new_recs_table.rowCount() == 0 and "cannot use a tick" in view.new_recs_label.text()
    combo.setCurrentText("5")
    assert view.new_ratings == {liked[0]: 5.0, liked[1]: TICK}
    label = view.new_recs_label.text()
    assert view.new_recs_table.rowCount() == 10 and "1 tick not used" in label
    listed = {view.new_recs_table.item(r, 1).data(Qt.ItemDataRole.UserRole) for r in range(10)}
    assert not listed & set(liked)

    # Back to BPR: the rating 5 is a like (ticked, shown as a rating); the tick is still a tick.
    view.set_run(Run(name="bpr", model=ranking_fits["bpr"], status="finished"))
    cell = view.rate_table.item(_rate_row(view, liked[0]), 3)
    assert cell.checkState() == Qt.CheckState.Checked and cell.text() == "rated 5"
    assert view.rate_table.item(_rate_row(view, liked[1]), 3).checkState() == Qt.CheckState.Checked


def test_view_hides_every_rated_item_and_says_why(qtbot, app, movies, ranking_fits):
    model = ranking_fits["implicit-als"]
    view = _view(qtbot, movies, model)
    raw = movies.row_ids[int(np.flatnonzero(np.bincount(movies.rows[movies.values <= 2]) >= 5)[0])].item()
    view.show_user(str(raw))
    titles = {view.recs_table.item(r, 1).text() for r in range(view.recs_table.rowCount())}
    rated = _rated_by(movies, raw)
    assert titles and not titles & set(movies.title_of(movies.col_of(list(rated))))
    assert "hidden as seen" in view.recs_label.text() and "at any rating" in view.recs_label.text()
    assert "rated 4 or more" in view.known_label.text()
