"""Onboarding a new user: suggested first ratings, the spread of the recommendations, the simulated curve."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import ML100K, needs_ml100k
from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.errors import DataError
from mfstudio.data.splits import cold_split
from mfstudio.models import BPR, BayesianMF, BiasedSGD
from mfstudio.onboarding import (
    item_spreads, new_user_confidence, popular_floor, ratings_to_beat_baseline, suggest_items,
)


@pytest.fixture(scope="module")
def movies_split():
    return cold_split(open_data("sample:movies"), 0.2, axis="users", seed=0)


@pytest.fixture(scope="module")
def movies_sgd(movies_split):
    return BiasedSGD(n_factors=10, n_epochs=20, seed=0).fit(movies_split.train)


def _raw_items(model, count, start=0):
    return [model.train_.col_ids[i].item() for i in np.argsort(-model.train_.col_counts(), kind="stable")[start:start + count]]


# ------------------------------------------------------------ suggestions


def test_suggestions_are_popular_distinct_and_explained(movies_sgd):
    rows = suggest_items(movies_sgd, n=8)
    counts = movies_sgd.train_.col_counts()
    floor = popular_floor(counts)
    assert len(rows) == 8 and len({r.item for r in rows}) == 8
    assert all(r.support >= floor for r in rows)
    assert all(r.reason and f"{r.support:,}" in r.reason for r in rows)
    # Later picks are told apart from the earlier ones.
    assert any("unlike your other picks" in r.reason or "unsure" in r.reason for r in rows[1:])


def test_suggestions_cover_the_factor_space_better_than_the_most_popular(movies_sgd):
    """The picks' design matrix spans more of the factor space (larger log-determinant) than the top-n by count."""
    n = 8
    picked = movies_sgd.train_.col_of([r.item for r in suggest_items(movies_sgd, n=n)])
    floor = popular_floor(movies_sgd.train_.col_counts())
    counts = movies_sgd.train_.col_counts()
    popular = np.argsort(-counts, kind="stable")[:n]
    assert counts[popular].min() >= floor
    q = movies_sgd.item_factors_.astype(np.float64)

    def logdet(items):
        x = q[items]
        return np.linalg.slogdet(x @ x.T + 1e-6 * np.eye(len(items)))[1]

    assert logdet(picked) > logdet(popular)


def test_the_sequential_variant_accounts_for_what_is_rated(movies_sgd):
    first = suggest_items(movies_sgd, n=5)
    ratings = {first[0].item: 5.0, first[1].item: 2.0}
    after = suggest_items(movies_sgd, n=5, ratings=ratings, exclude=[first[2].item])
    chosen = {r.item for r in after}
    assert not chosen & {first[0].item, first[1].item, first[2].item}
    # Rating values do not change what is still unknown (a Gaussian posterior's covariance): same picks.
    again = suggest_items(movies_sgd, n=5, ratings={first[0].item: 1.0, first[1].item: 4.0}, exclude=[first[2].item])
    assert [r.item for r in again] == [r.item for r in after]
    # Once two items are rated the model is less unsure of the next one than it was of the first.
    assert after[0].spread < first[0].spread


def test_suggest_refuses_nonsense(movies_sgd):
    with pytest.raises(DataError, match="at least 1"):
        suggest_items(movies_sgd, n=0)
    with pytest.raises(DataError, match="criterion"):
        suggest_items(movies_sgd, n=3, criterion="best")


# ------------------------------------------------------------- confidence


def test_the_spread_shrinks_as_ratings_are_added(movies_sgd, movies_split):
    test = movies_split.test
    user = np.bincount(test.rows).argmax()
    items, values = test.cols[test.rows == user], test.values[test.rows == user]
    targets = np.arange(movies_sgd.train_.n_cols)
    few, method, exact = item_spreads(movies_sgd, items[:2], values[:2], targets)
    many, _, _ = item_spreads(movies_sgd, items[:20], values[:20], targets)
    assert not exact and "ridge approximation" in method
    assert np.all(many <= few + 1e-9) and many.mean() < 0.9 * few.mean()

    ratings = {movies_sgd.train_.col_ids[i].item(): float(v) for i, v in zip(items[:10], values[:10])}
    confidence = new_user_confidence(movies_sgd, ratings, n=5)
    assert len(confidence.rows) == 5 and confidence.n_ratings == 10
    assert all(r.spread > 0 for r in confidence.rows)
    from mfstudio.recommend import recommendations_for_new_user

    listed = recommendations_for_new_user(movies_sgd, ratings, n=5, min_support=0)
    assert [r.item for r in confidence.rows] == [r["item"] for r in listed]


def test_bpmf_spread_comes_from_its_samples(movies_split):
    model = BayesianMF(n_factors=5, n_epochs=30, n_burnin=10, max_samples=8, seed=0).fit(movies_split.train)
    test = movies_split.test
    user = np.bincount(test.rows).argmax()
    items, values = test.cols[test.rows == user][:15], test.values[test.rows == user][:15]
    targets = np.arange(model.train_.n_cols)
    spread, method, exact = item_spreads(model, items, values, targets)
    assert exact and f"{model.n_samples_} Gibbs samples" in method
    # The samples disagree, and that disagreement is part of the spread: make every kept sample a copy of the
    # first and only the within-sample posterior is left, which is narrower.
    import copy

    k, s_count = model.n_factors_, model.n_samples_
    assert s_count > 1
    same = copy.deepcopy(model)
    first = same.item_factors_[:, :k].copy()
    for s in range(s_count):
        same.item_factors_[:, s * k:(s + 1) * k] = first
    for name in ("kept_mu_user_", "kept_lambda_user_", "kept_alpha_", "kept_item_bias_"):
        value = getattr(same, name)
        value[:] = value[0]
    narrower, _, _ = item_spreads(same, items, values, targets)
    assert narrower.mean() < spread.mean()
    fewer, _, _ = item_spreads(model, items[:2], values[:2], targets)
    assert spread.mean() < fewer.mean()


def test_ranking_models_have_no_rating_spread(movies_split):
    model = BPR(n_factors=4, n_epochs=2, seed=0).fit(movies_split.train)
    with pytest.raises(DataError, match="ranks items"):
        item_spreads(model, [0, 1], [5.0, 4.0])
    with pytest.raises(DataError, match="ranks items"):
        ratings_to_beat_baseline(model, test=movies_split.test, max_ratings=3)


# ------------------------------------------------------------- simulation


def test_ratings_to_beat_baseline_on_planted_movies(movies_sgd, movies_split):
    curve = ratings_to_beat_baseline(movies_sgd, test=movies_split.test, max_ratings=10, max_users=60)
    assert curve.counts == tuple(range(11))
    assert 0 < curve.n_users <= 60
    assert curve.suggested[0] == pytest.approx(curve.baseline) and curve.random[0] == pytest.approx(curve.baseline)
    # Planted low-rank tastes: ten of a person's own ratings must beat the average viewer.
    assert curve.suggested[-1] < curve.baseline and curve.random[-1] < curve.baseline
    assert curve.beats_baseline_at is not None and curve.beats_baseline_at <= 10
    assert all(v < curve.baseline for v in curve.suggested[curve.beats_baseline_at:])
    assert f"After about {curve.beats_baseline_at} rating" in curve.sentence()
    # New users (a cold split) are held-out; people with training ratings are not called so.
    assert curve.n_seen_in_training == 0 and "held-out" in curve.description and "held-out" in curve.sentence()
    seen = ratings_to_beat_baseline(movies_sgd, test=movies_split.train, max_ratings=10, max_users=20)
    assert seen.n_seen_in_training == seen.n_users and "(all seen in training)" in seen.description
    assert "held-out" not in seen.description and "held-out" not in seen.sentence()
    json.dumps(curve.as_dict())


def test_a_simulation_without_enough_ratings_is_refused(movies_sgd, movies_split):
    with pytest.raises(DataError, match="no held-out"):
        ratings_to_beat_baseline(movies_sgd, test=movies_split.test, max_ratings=5000)


@needs_ml100k
def test_suggested_first_ratings_beat_random_ones_on_ml100k():
    """Done when: held-out ML-100K users rating the 5 suggested items get a lower RMSE than after 5 random ones."""
    data = open_data(ML100K / "u.data")
    split = cold_split(data, 0.2, axis="users", seed=0)  # ~190 users never seen in training
    model = BiasedSGD().fit(split.train)  # the window's default rating model, default parameters
    curve = ratings_to_beat_baseline(model, test=split.test, max_ratings=5, max_users=None, random_draws=5, seed=0)
    assert curve.n_users >= 100 and curve.n_seen_in_training == 0
    assert curve.description.startswith(f"{curve.n_users} held-out users")
    assert curve.rmse_at(5, "suggested") < curve.rmse_at(5, "random")
    assert curve.rmse_at(5, "suggested") < curve.baseline


# --------------------------------------------------------------------- CLI


def test_cli_onboarding_suggests_and_simulates(tmp_path, capsys, movies_sgd, movies_split):
    folder = tmp_path / "model"
    movies_sgd.save(folder)
    first = _raw_items(movies_sgd, 1)[0]
    test_file = tmp_path / "test.csv"
    test = movies_split.test
    test_file.write_text("user,item,rating\n" + "".join(
        f"{test.row_ids[r]},{test.col_ids[c]},{v:g}\n" for r, c, v in zip(test.rows, test.cols, test.values)))
    assert main(["onboarding", str(folder), "--suggest", "4", "--rated", f"{first}=5", "--test", str(test_file),
                 "--ratings", "6", "--users", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["suggestions"]) == 4 and first not in [s["item"] for s in out["suggestions"]]
    assert out["curve"]["counts"] == list(range(7)) and out["curve"]["n_users"] <= 40
    assert main(["onboarding", str(folder), "--suggest", "3"]) == 0
    text = capsys.readouterr().out
    assert "rate these" in text and text.count("rated by") == 3
    assert main(["onboarding", str(folder), "--rated", "no-such-item=4"]) == 2
    assert "no-such-item" in capsys.readouterr().err
