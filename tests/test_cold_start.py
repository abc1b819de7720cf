"""Cold-start protocols: every rating of some items (users) held out, the references that make sense there."""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio.data import DataError, split_from_spec
from mfstudio.data.samples import movies
from mfstudio.data.splits import cold_kfold, cold_split
from mfstudio.experiment import (
    Experiment, describe_protocol, make_splits, protocol_choices, ranking_scores, reference_model_for,
)
from mfstudio.models import Baseline, BiasedSGD, HybridMF
from mfstudio.models.hybrid import DemographicBaseline


@pytest.fixture(scope="module")
def data():
    return movies(n_users=200, n_items=250, seed=4)


@pytest.mark.parametrize("axis", ["items", "users"])
def test_cold_split_puts_every_rating_of_the_chosen_rows_in_test(data, axis):
    split = cold_split(data, 0.1, axis=axis, seed=3)
    index_train = split.train.cols if axis == "items" else split.train.rows
    index_test = split.test.cols if axis == "items" else split.test.rows
    held = np.unique(index_test)
    n = data.n_cols if axis == "items" else data.n_rows
    assert held.size == int(np.floor(0.1 * n + 0.5))
    assert not np.isin(index_train, held).any()  # no training entry at all
    assert split.n_train + split.n_test == data.nnz
    assert (split.cold_items if axis == "items" else split.cold_users) == held.size
    assert split.cold_entries == split.n_test
    again = cold_split(data, 0.1, axis=axis, seed=3)
    np.testing.assert_array_equal(again.test_index, split.test_index)
    assert not np.array_equal(cold_split(data, 0.1, axis=axis, seed=4).test_index, split.test_index)


@pytest.mark.parametrize("axis", ["items", "users"])
def test_cold_kfold_makes_every_row_new_exactly_once(data, axis):
    splits = cold_kfold(data, 7, axis=axis, seed=2)
    assert len(splits) == 7
    index = data.cols if axis == "items" else data.rows
    present = np.unique(index)
    held = [np.unique(s.test.cols if axis == "items" else s.test.rows) for s in splits]
    # Every user (item) with an entry is in exactly one fold, and its fold's training has none of its entries.
    np.testing.assert_array_equal(np.sort(np.concatenate(held)), present)
    sizes = [h.size for h in held]
    assert max(sizes) - min(sizes) <= 1
    for split, fold in zip(splits, held):
        assert not np.isin(split.train.cols if axis == "items" else split.train.rows, fold).any()
        assert split.n_train + split.n_test == data.nnz and split.cold_entries == split.n_test
    # Every entry is tested once over the folds.
    np.testing.assert_array_equal(np.sort(np.concatenate([s.test_index for s in splits])), np.arange(data.nnz))
    again = cold_kfold(data, 7, axis=axis, seed=2)
    np.testing.assert_array_equal(again[3].test_index, splits[3].test_index)
    assert not np.array_equal(cold_kfold(data, 7, axis=axis, seed=3)[3].test_index, splits[3].test_index)


def test_cold_kfold_specs_and_refusals(data):
    assert [s.cold_users for s in split_from_spec(data, "cold-users-kfold:4")] == [50, 50, 50, 50]
    assert len(make_splits(data, "Cold-Items-KFold:5")) == 5
    with pytest.raises(DataError, match="at least 2"):
        split_from_spec(data, "cold-users-kfold:1")
    with pytest.raises(DataError, match="not a whole number"):
        split_from_spec(data, "cold-users-kfold:0.1")
    with pytest.raises(DataError, match="needs at least 300 users"):
        cold_kfold(data, 300, axis="users")
    choices = protocol_choices(data)
    assert choices.index("cold-users-kfold:10") == choices.index("cold-users:0.1") + 1
    assert choices[-1] == "all"
    line = describe_protocol("cold-users-kfold:10", data)
    assert "10-fold cold start" in line and "each user new once" in line
    assert type(reference_model_for(data, "cold-users-kfold:10")) is DemographicBaseline
    assert Experiment(data, "sgd", {"n_epochs": 1}, protocol="cold-items-kfold:3").reference_name == \
        "baseline (global mean + user bias on the cold items)"


def test_the_reference_is_scored_on_every_fold_and_averaged_like_the_model(data):
    exp = Experiment(data, "hybrid", {"n_factors": 4, "n_epochs": 3}, protocol="cold-users-kfold:3")
    exp.prepare()
    assert list(exp.reference_by_fold) == [0]  # before fitting: the first fold's, for the first curves
    first = dict(exp.reference_metrics)
    exp.run()
    out = exp.as_dict()
    per_fold = [f["reference_metrics"]["rmse"] for f in out["folds"]]
    assert len(per_fold) == 3 and per_fold[0] == first["rmse"] and len(set(per_fold)) == 3
    # Each fold's reference is the reference fitted on that fold's training data, scored on its test.
    split = exp.splits[2]
    alone = DemographicBaseline().fit(split.train)
    expected = float(np.sqrt(np.mean((alone.predict(split.test.rows, split.test.cols) - split.test.values) ** 2)))
    assert per_fold[2] == pytest.approx(expected, rel=1e-6)
    assert out["reference"]["metrics"]["rmse"] == pytest.approx(np.mean(per_fold))
    assert out["reference"]["metrics_spread"]["rmse"] == pytest.approx(np.std(per_fold, ddof=1))
    assert out["metrics"]["rmse"] == pytest.approx(np.mean([f["metrics"]["rmse"] for f in out["folds"]]))


def test_specs_and_protocols_accept_cold_start(data):
    assert split_from_spec(data, "cold-items:0.1")[0].cold_items == 25
    assert split_from_spec(data, "Cold-Users:10%")[0].cold_users == 20
    with pytest.raises(DataError, match="between 0 and 1"):
        split_from_spec(data, "cold-items:1.5")
    with pytest.raises(DataError, match="unknown split kind"):
        split_from_spec(data, "cold-things:0.1")
    assert make_splits(data, "cold-users:0.1")[0].cold_users == 20
    choices = protocol_choices(data)
    assert "cold-items:0.1" in choices and "cold-users:0.1" in choices
    line = describe_protocol("cold-items:0.1", data)
    assert "every rating of a random 10% of the items held out" in line and "features" in line


def test_cold_protocols_are_not_offered_without_features(data):
    from dataclasses import replace

    bare = replace(data, item_features=None, user_features=None)
    assert not any(c.startswith("cold") for c in protocol_choices(bare))
    assert "no user features" in describe_protocol("cold-users:0.1", bare)


def test_references_fit_the_protocol(data):
    assert type(reference_model_for(data, "cold-items:0.1")) is Baseline
    assert type(reference_model_for(data, "cold-users:0.1")) is DemographicBaseline
    assert type(reference_model_for(data, "random:0.2")) is Baseline
    exp = Experiment(data, "sgd", {"n_epochs": 2}, protocol="cold-users:0.1")
    assert exp.reference_name.startswith("demographic baseline")
    assert Experiment(data, "sgd", {"n_epochs": 2}, protocol="cold-items:0.1").reference_name == \
        "baseline (global mean + user bias on the cold items)"


def test_demographic_baseline_gives_new_users_their_groups_bias_and_tastes(data):
    split = cold_split(data, 0.1, axis="users", seed=0)
    model = DemographicBaseline().fit(split.train)
    base = Baseline().fit(split.train)
    cold = np.unique(split.test.rows)
    # A new user's bias comes from their group, not zero; their tastes differ from the item bias alone.
    assert np.abs(model.user_bias_[cold]).max() > 0
    assert np.abs(base.user_bias_[cold]).max() == 0
    scores = model.score_matrix(cold[:3]) - base.score_matrix(cold[:3])
    assert np.ptp(scores, axis=1).min() > 0
    # On warm users it keeps the baseline's biases.
    warm = np.setdiff1d(np.arange(data.n_rows), cold)[:5]
    np.testing.assert_allclose(model.user_bias_[warm], base.user_bias_[warm], rtol=1e-5)


def test_cold_users_are_ranked_only_by_models_that_predict_them(data):
    split = cold_split(data, 0.2, axis="users", seed=1)
    plain = BiasedSGD(n_epochs=3).fit(split.train)
    hybrid = HybridMF(n_epochs=3).fit(split.train)
    plain_scores = ranking_scores(plain, split.train, split.test, threshold=4.0)
    hybrid_scores = ranking_scores(hybrid, split.train, split.test, threshold=4.0)
    assert "precision@10" not in plain_scores and plain_scores["ranking_cold_users"] > 0  # counted, not ranked
    assert hybrid_scores["ranking_cold_users"] == 0 and hybrid_scores["ranking_users"] > 0
    without = HybridMF(n_epochs=3, features="items").fit(split.train)
    assert "precision@10" not in ranking_scores(without, split.train, split.test, threshold=4.0)


def test_new_items_are_also_ranked_among_themselves_exactly(data):
    split = cold_split(data, 0.2, axis="items", seed=5)
    model = HybridMF(n_factors=6, n_epochs=5).fit(split.train)
    shelf = np.flatnonzero(np.bincount(split.train.cols, minlength=data.n_cols) == 0)
    scores = ranking_scores(model, split.train, split.test, threshold=4.0, items=shelf, max_users=None)
    # By hand: each user's top 10 of the new items (none of which they have in training), against their liked ones.
    liked = split.test.subset(split.test.values >= 4.0)
    users = np.unique(liked.rows)
    matrix = model.score_matrix(users)[:, shelf]
    precisions, aucs = [], []
    for row, user in zip(matrix, users):
        relevant = set(liked.cols[liked.rows == user])
        top = shelf[np.argsort(-row, kind="stable")[:10]]
        precisions.append(len(relevant & set(top)) / 10)
        pos = row[np.isin(shelf, list(relevant))]
        neg = row[~np.isin(shelf, list(relevant))]
        aucs.append(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                    / (pos.size * neg.size))
    assert scores["ranking_users"] == users.size
    assert scores["precision@10"] == pytest.approx(np.mean(precisions))
    assert scores["auc"] == pytest.approx(np.mean(aucs), abs=1e-6)
    assert 0 < scores["coverage@10"] <= 1


def test_a_model_that_cannot_tell_new_items_apart_gets_no_credit_from_their_ids(data):
    from dataclasses import replace

    from mfstudio.experiment import evaluate

    split = cold_split(data, 0.2, axis="items", seed=5)
    shelf = np.flatnonzero(np.bincount(split.train.cols, minlength=data.n_cols) == 0)
    # Everyone liked exactly the ten new items with the lowest ids: a by-id tie-break would list exactly those.
    first_ten = np.isin(split.test.cols, np.sort(shelf)[:10])
    test = split.test.subset(np.flatnonzero(first_ten))
    test = replace(test, values=np.full(test.nnz, 5.0, dtype=test.values.dtype))
    baseline = Baseline().fit(split.train)  # every new item: mean + the user's bias, one score for all of them
    out = evaluate(baseline, split.train, test, threshold=4.0, new_items=True)
    assert out["new_items_auc"] == pytest.approx(0.5)
    # Listed by id, each user's list would be those ten: precision = how many of them the user has, over 10.
    by_id = np.mean(np.bincount(test.rows)[np.unique(test.rows)] / 10)
    assert out["new_items_precision@10"] < 0.5 * by_id, (out["new_items_precision@10"], by_id)
    hybrid = evaluate(HybridMF(n_factors=6, n_epochs=5).fit(split.train), split.train, test, threshold=4.0,
                      new_items=False)
    assert not any(name.startswith("new_items_") for name in hybrid)


def test_cold_items_experiments_report_the_new_items_ranking_for_model_and_reference(data):
    out = Experiment(data, "hybrid", {"n_factors": 6, "n_epochs": 4}, protocol="cold-items:0.2").run().as_dict()
    for metrics in (out["metrics"], out["reference"]["metrics"]):
        assert {"new_items_precision@10", "new_items_ndcg@10", "new_items_auc"} <= set(metrics)
    assert out["reference"]["metrics"]["new_items_auc"] == pytest.approx(0.5)  # mean + user bias: all new items tie
    plain = Experiment(data, "hybrid", {"n_factors": 6, "n_epochs": 2}, protocol="cold-users:0.2").run().as_dict()
    assert not any(name.startswith("new_items_") for name in plain["metrics"])
