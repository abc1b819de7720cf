"""The hybrid factorization on interactions (hybrid-bpr): new items and users ranked from their features."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import Dataset
from mfstudio.data.features import features_from_lists
from mfstudio.data.splits import cold_split
from mfstudio.experiment import Experiment, protocol_choices, ranking_scores, reference_model_for
from mfstudio.models import BPR, MODELS, Popularity, load_model
from mfstudio.models.hybrid import DemographicPopularity, FeaturePopularity, HybridBPR
from mfstudio.models.stopping import stop_when

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def planted(seed: int = 0, n_users: int = 400, n_items: int = 300, k: int = 4, per_user: int = 25) -> Dataset:
    """Interactions drawn from a taste that the features determine.

    Every item has one of 6 "genres" and one of 4 "studios", every user one of
    5 "clubs" and one of 3 "regions"; an item's taste vector is its genre's
    plus half its studio's, a user's likewise, and each user picks
    ``per_user`` items with chance proportional to ``exp(1.5 p_u . q_i)``. No
    free part: a new item's (user's) features say all there is to know
    about who will pick it (what they pick).
    """
    rng = np.random.default_rng(seed)
    genre, studio = rng.integers(0, 6, n_items), rng.integers(0, 4, n_items)
    club, region = rng.integers(0, 5, n_users), rng.integers(0, 3, n_users)
    item_vec = rng.normal(size=(6, k))[genre] + 0.5 * rng.normal(size=(4, k))[studio]
    user_vec = rng.normal(size=(5, k))[club] + 0.5 * rng.normal(size=(3, k))[region]
    logits = 1.5 * user_vec @ item_vec.T
    chance = np.exp(logits - logits.max(axis=1, keepdims=True))
    chance /= chance.sum(axis=1, keepdims=True)
    cols = np.concatenate([rng.choice(n_items, per_user, replace=False, p=chance[u]) for u in range(n_users)])
    rows = np.repeat(np.arange(n_users), per_user)
    return Dataset(
        kind="implicit", rows=rows, cols=cols, values=np.ones(rows.size),
        row_ids=np.arange(n_users), col_ids=np.arange(n_items), name="planted implicit hybrid",
        item_features=features_from_lists([[f"genre={g}", f"studio={s}"] for g, s in zip(genre, studio)], "planted"),
        user_features=features_from_lists([[f"club={c}", f"region={r}"] for c, r in zip(club, region)], "planted"),
    )


def among_cold_items(model, split, k: int = 10) -> tuple[float, float]:
    """Precision@k and AUC of each test user's ranking of the cold items alone ("which new item for them?").

    The experiment's ranking metrics rank the cold items against every unseen
    item, old ones included, which also asks whether new beats old; this asks
    only what the features can answer.
    """
    cold = np.flatnonzero(np.bincount(split.train.cols, minlength=split.train.n_cols) == 0)
    users = np.unique(split.test.rows)
    scores = model.score_matrix(users)[:, cold]
    relevant = np.zeros(scores.shape, dtype=bool)
    relevant[np.searchsorted(users, split.test.rows), np.searchsorted(cold, split.test.cols)] = True
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    precision = float(np.take_along_axis(relevant, top, axis=1).mean())
    ranks = scores.argsort(axis=1).argsort(axis=1)
    n_pos = relevant.sum(axis=1)
    n_neg = cold.size - n_pos
    ok = (n_pos > 0) & (n_neg > 0)
    auc = ((ranks * relevant).sum(axis=1) - n_pos * (n_pos - 1) / 2)[ok] / (n_pos * n_neg)[ok]
    return precision, float(auc.mean())


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def cold_items(data):
    split = cold_split(data, 0.15, axis="items", seed=0)
    return split, HybridBPR(n_factors=8).fit(split.train)


def test_new_items_are_ranked_from_their_features(cold_items):
    split, hybrid = cold_items
    reference = FeaturePopularity().fit(split.train)
    plain = BPR(n_factors=8, n_epochs=30).fit(split.train)
    ours, ref, bpr = (ranking_scores(m, split.train, split.test) for m in (hybrid, reference, plain))
    # Measured (seed 0): precision@10 0.195 / 0.000 / 0.000, AUC 0.928 / 0.750 / 0.177 (hybrid, reference, bpr).
    assert ours["precision@10"] > ref["precision@10"] + 0.05, (ours, ref)
    assert ours["auc"] > ref["auc"] + 0.1, (ours, ref)
    # Plain BPR never saw a new item but as a sampled negative: it ranks them below the old ones.
    assert bpr["precision@10"] == 0.0 and bpr["auc"] < 0.5, bpr
    # Among the new items alone, what only the features can tell (AUC 0.947 / 0.794 / 0.424).
    ours_cold, ref_cold, bpr_cold = (among_cold_items(m, split) for m in (hybrid, reference, plain))
    assert ours_cold[1] > ref_cold[1] + 0.08 and ours_cold[1] > bpr_cold[1] + 0.3, (ours_cold, ref_cold, bpr_cold)


def test_new_users_are_ranked_from_their_features(data):
    split = cold_split(data, 0.15, axis="users", seed=0)
    hybrid = HybridBPR(n_factors=8).fit(split.train)
    reference = DemographicPopularity().fit(split.train)
    ours, ref = ranking_scores(hybrid, split.train, split.test), ranking_scores(reference, split.train, split.test)
    # Every new user is ranked (they have features), none only counted.
    assert ours["ranking_cold_users"] == 0 and ours["ranking_users"] == np.unique(split.test.rows).size
    # Measured (seed 0): AUC 0.940 vs 0.894, precision@10 0.762 vs 0.725.
    assert ours["auc"] > ref["auc"] + 0.02, (ours, ref)
    # Plain BPR has no vector for a new user: they are counted, not ranked.
    plain = ranking_scores(BPR(n_factors=8, n_epochs=5).fit(split.train), split.train, split.test)
    assert "auc" not in plain and plain["ranking_cold_users"] == ours["ranking_users"]


def test_without_item_features_new_items_are_not_told_apart(cold_items):
    split, _ = cold_items
    ablated = HybridBPR(n_factors=8, features="users").fit(split.train)
    scores = ablated.score_matrix(np.arange(5))
    cold = np.bincount(split.train.cols, minlength=split.train.n_cols) == 0
    # A new item without features has a zero vector and bias: every one scores the same.
    np.testing.assert_allclose(scores[:, cold], 0.0, atol=1e-7)


def test_protocols_and_references_for_interactions_with_features(data):
    choices = protocol_choices(data)
    assert choices[0] == "user:0.2" and "cold-items:0.1" in choices and "cold-users:0.1" in choices
    assert isinstance(reference_model_for(data, "cold-items:0.1"), FeaturePopularity)
    assert isinstance(reference_model_for(data, "cold-users:0.1"), DemographicPopularity)
    assert type(reference_model_for(data, "user:0.2")) is Popularity
    bare = Dataset(kind="implicit", rows=data.rows, cols=data.cols, values=data.values,
                   row_ids=data.row_ids, col_ids=data.col_ids)
    assert not any(c.startswith("cold-") for c in protocol_choices(bare))
    assert type(reference_model_for(bare, "cold-items:0.1")) is Popularity


def test_experiment_reports_the_feature_reference(data):
    experiment = Experiment(data, "hybrid-bpr", {"n_factors": 8, "n_epochs": 10}, protocol="cold-items:0.15").run()
    result = experiment.as_dict()
    ours, ref = result["metrics"], result["reference"]["metrics"]
    assert ours["precision@10"] > ref["precision@10"] and ours["auc"] > ref["auc"], (ours, ref)
    # Popularity gives every new item a zero count, so ranks them last; the reference reads their features.
    split = experiment.splits[0]
    popularity = ranking_scores(Popularity().fit(split.train), split.train, split.test)
    assert ref["auc"] > popularity["auc"] + 0.3, (ref, popularity)


def test_feature_popularity_scores_a_new_item_by_its_features_groups():
    rows = np.array([0, 1, 2, 0, 1, 0])
    cols = np.array([0, 0, 0, 1, 1, 2])  # counts: item0 3, item1 2, item2 1; item3 new
    features = features_from_lists([["g=a"], ["g=a"], ["g=b"], ["g=a", "g=b"]])
    ds = Dataset(kind="implicit", rows=rows, cols=cols, values=np.ones(6), row_ids=np.arange(3),
                 col_ids=np.arange(4), item_features=features)
    model = FeaturePopularity().fit(ds)
    # g=a: mean count of items 0 and 1 = 2.5; g=b: item 2 = 1; item 3 has both: mean 1.75.
    np.testing.assert_allclose(model.score_matrix([0])[0], [3, 2, 1, 1.75])


def test_demographic_popularity_is_the_groups_share():
    rows = np.array([0, 1, 2])
    cols = np.array([0, 0, 1])
    users = features_from_lists([["s=x"], ["s=x"], ["s=y"], ["s=y"]])
    ds = Dataset(kind="implicit", rows=rows, cols=cols, values=np.ones(3), row_ids=np.arange(4),
                 col_ids=np.arange(2), user_features=users)
    model = DemographicPopularity(reg_group=0.0).fit(ds)
    # User 3 is new, in group y, whose one warm member picked item 1 only.
    np.testing.assert_allclose(model.score_matrix([3])[0], [0.0, 1.0], atol=1e-6)


def test_save_then_load_ranks_the_same_new_items(cold_items, tmp_path):
    split, model = cold_items
    loaded = load_model(model.save(tmp_path / "model"))
    assert type(loaded) is HybridBPR and loaded.params == model.params
    users = np.arange(10)
    np.testing.assert_allclose(loaded.score_matrix(users), model.score_matrix(users), rtol=1e-6)
    np.testing.assert_array_equal(loaded.recommend(users, n=10)[0], model.recommend(users, n=10)[0])
    assert among_cold_items(loaded, split) == among_cold_items(model, split)


def test_cancel_mid_fit_keeps_a_model_that_ranks(data):
    model = HybridBPR(n_factors=8, n_epochs=50)
    steps = model.iter_fit(data)
    first = next(steps)
    steps.close()
    assert first.epoch == 1 and len(model.history_) == 1
    assert np.isfinite(model.score_matrix(np.arange(5))).all()
    # And from another thread, mid-epoch: the epoch under way is not reported.
    flag = threading.Event()
    flag.set()
    other = HybridBPR(n_factors=8, n_epochs=50)
    with stop_when(flag):
        steps = list(other.iter_fit(data))
    assert steps == [] and np.isfinite(other.user_factors_).all()


def test_same_seed_same_factors(data):
    a = HybridBPR(n_factors=4, n_epochs=3, seed=5).fit(data)
    b = HybridBPR(n_factors=4, n_epochs=3, seed=5).fit(data)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.array_equal(a.item_factors_, HybridBPR(n_factors=4, n_epochs=3, seed=6).fit(data).item_factors_)


def test_ratings_are_read_as_interactions_above_the_threshold(data):
    ratings = Dataset(kind="explicit", rows=data.rows, cols=data.cols,
                      values=np.where(np.arange(data.nnz) % 2 == 0, 5.0, 2.0), rating_scale=(1, 5),
                      row_ids=data.row_ids, col_ids=data.col_ids, item_features=data.item_features,
                      user_features=data.user_features)
    model = HybridBPR(n_factors=4, n_epochs=2).fit(ratings)
    assert model.fitted_on_ratings_ == 1 and model.fit_data_.nnz == (ratings.values >= 4).sum()
    assert "hybrid-bpr" in MODELS


@pytest.mark.skipif(not (ML100K / "u.data").exists(), reason="MovieLens 100K is not on this machine")
@pytest.mark.parametrize("split", ["cold-items:0.1", "cold-users:0.1"])
def test_ml100k_cold_start_reports_against_its_reference(split, capsys):
    code = main(["fit", str(ML100K / "u.data"), "--kind", "implicit", "--model", "hybrid-bpr", "--split", split,
                 "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    ours, ref = result["metrics"], result["reference"]["metrics"]
    # Reported, not asserted (measured, seed 0): cold-items precision@10 0.012 vs 0.085, AUC 0.817 vs 0.906
    # (against every unseen item: the reference ranks new items above most old ones, the hybrid personalises
    # the old ones too); among the new items alone 0.190 / 0.729 vs 0.111 / 0.627. Cold users: 0.501 / 0.856
    # vs 0.540 / 0.862 (ML-100K's demographics say little, as for ratings).
    assert ref["ranking_users"] > 0 and result["folds"][0]["metrics"]["ranking_cold_users"] == 0
    print(split, {k: ours[k] for k in ("precision@10", "auc")}, {k: ref[k] for k in ("precision@10", "auc")})


def test_fold_in_uses_the_features_until_the_person_picks_something(cold_items):
    _, model = cold_items
    names = model.train_.user_features.names.tolist()
    features = [names.index("club=1"), names.index("region=2")]
    alone, bias = model.fold_in([], features=features)
    expected = (model.user_feature_factors_[features].sum(axis=0) / np.sqrt(2)).astype(np.float32)
    np.testing.assert_allclose(alone, expected, rtol=1e-6)
    assert bias == 0.0
    picked, _ = model.fold_in([1, 2, 3], features=features)
    assert not np.allclose(picked, alone)
    # A new user who picked items gets a list without them.
    items, _ = model.recommend_for_new_user([1, 2, 3], n=5)
    assert not {1, 2, 3} & set(items.tolist())
