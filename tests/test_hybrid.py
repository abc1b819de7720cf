"""The hybrid factorization: cold items and users predicted from their features."""

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
from mfstudio.experiment import Experiment, rating_errors
from mfstudio.models import MODELS, Baseline, BiasedSGD, HybridMF, load_model
from mfstudio.models.stopping import stop_when

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def planted(seed: int = 0, n_users: int = 300, n_items: int = 300, k: int = 4) -> Dataset:
    """Ratings whose item vectors are the sum of their 2 features' embeddings, and user vectors likewise.

    Every item has one of 6 "genres" and one of 4 "studios"; every user one of
    5 "clubs" and one of 3 "regions". With no free part at all, a cold item's
    (user's) features determine its vector exactly: a model that reads them
    predicts it, one that does not can only use the mean and the other side's bias.
    """
    rng = np.random.default_rng(seed)
    genre, studio = rng.integers(0, 6, n_items), rng.integers(0, 4, n_items)
    club, region = rng.integers(0, 5, n_users), rng.integers(0, 3, n_users)
    item_vec = rng.normal(size=(6, k))[genre] + rng.normal(size=(4, k))[studio]
    user_vec = rng.normal(size=(5, k))[club] + rng.normal(size=(3, k))[region]
    item_vec *= 0.5
    user_vec *= 0.5
    mask = rng.random((n_users, n_items)) < 0.15
    rows, cols = np.nonzero(mask)
    values = np.clip(3.5 + np.einsum("ij,ij->i", user_vec[rows], item_vec[cols]) + rng.normal(0, 0.3, rows.size), 1, 5)
    return Dataset(
        kind="explicit", rows=rows, cols=cols, values=values, rating_scale=(1, 5),
        row_ids=np.arange(n_users), col_ids=np.arange(n_items), name="planted hybrid",
        item_features=features_from_lists([[f"genre={g}", f"studio={s}"] for g, s in zip(genre, studio)], "planted"),
        user_features=features_from_lists([[f"club={c}", f"region={r}"] for c, r in zip(club, region)], "planted"),
    )


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.mark.parametrize("axis", ["items", "users"])
def test_cold_rows_are_predicted_from_planted_features(data, axis):
    split = cold_split(data, 0.15, axis=axis, seed=0)
    hybrid = HybridMF(n_factors=8, n_epochs=30).fit(split.train)
    base = Baseline().fit(split.train)
    plain = BiasedSGD(n_factors=8, n_epochs=30).fit(split.train)
    ours, reference = rating_errors(hybrid, split.test)["rmse"], rating_errors(base, split.test)["rmse"]
    # The planted interaction has a spread of ~0.7 stars on top of noise 0.3: knowing it halves the error.
    assert ours < 0.75 * reference, (ours, reference)
    # Plain SGD has nothing for a cold row but the mean and biases: no better than the baseline.
    assert rating_errors(plain, split.test)["rmse"] > 0.95 * reference


def test_without_features_it_is_no_better_than_the_baseline_on_cold_items(data):
    split = cold_split(data, 0.15, axis="items", seed=0)
    ablated = HybridMF(n_factors=8, n_epochs=30, features="users").fit(split.train)
    reference = rating_errors(Baseline().fit(split.train), split.test)["rmse"]
    assert rating_errors(ablated, split.test)["rmse"] > 0.95 * reference


def test_feature_embeddings_are_exposed_in_the_features_order(data):
    model = HybridMF(n_factors=6, n_epochs=3).fit(data)
    assert model.item_feature_factors_.shape == (data.item_features.n_features, 6)
    assert model.user_feature_bias_.shape == (data.user_features.n_features,)
    # The composed vector of an item is its free part plus its weighted features (1/sqrt(2) each).
    j = 7
    feats = data.item_features.matrix[j].indices
    free = model.item_factors_[j] - model.item_feature_factors_[feats].sum(axis=0) / np.sqrt(2)
    assert np.isfinite(free).all() and np.abs(free).max() < np.abs(model.item_factors_[j]).max() * 10


def test_fold_in_starts_from_the_features_and_moves_with_ratings(data):
    split = cold_split(data, 0.15, axis="users", seed=2)
    model = HybridMF(n_factors=8, n_epochs=30).fit(split.train)
    user = int(np.unique(split.test.rows)[0])
    feats = data.user_features.matrix[user].indices
    vector, bias = model.fold_in([], [], features=feats)
    np.testing.assert_allclose(vector, model.user_factors_[user], rtol=1e-5, atol=1e-6)
    assert bias == pytest.approx(float(model.user_bias_[user]), abs=1e-5)
    mine = split.test.subset(split.test.rows == user)
    moved, _ = model.fold_in(mine.cols[:10], mine.values[:10], features=feats)
    assert not np.allclose(moved, vector)
    with pytest.raises(Exception, match="feature index"):
        model.fold_in([], [], features=[999])


def test_same_seed_same_model_and_save_load_keeps_cold_predictions(data, tmp_path):
    split = cold_split(data, 0.15, axis="items", seed=0)
    a = HybridMF(n_factors=6, n_epochs=4, seed=3).fit(split.train)
    b = HybridMF(n_factors=6, n_epochs=4, seed=3).fit(split.train)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    loaded = load_model(a.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict(split.test.rows, split.test.cols),
                               a.predict(split.test.rows, split.test.cols), rtol=1e-6)
    np.testing.assert_array_equal(loaded.item_feature_factors_, a.item_feature_factors_)


def test_cancel_mid_fit_leaves_a_model_that_predicts(data):
    event = threading.Event()
    model = HybridMF(n_factors=4, n_epochs=50)
    with stop_when(event):
        for step in model.iter_fit(data):
            if step.epoch == 2:
                event.set()
    assert len(model.history_) == 2
    assert np.isfinite(model.predict(data.rows[:50], data.cols[:50])).all()


def test_registered_and_runs_through_the_experiment_with_cold_scores(data):
    assert MODELS["hybrid"] is HybridMF
    exp = Experiment(data, "hybrid", {"n_factors": 8, "n_epochs": 20}, protocol="cold-users:0.15").run()
    out = exp.as_dict()
    assert out["reference"]["name"].startswith("demographic baseline")
    assert out["metrics"]["rmse"] < out["reference"]["metrics"]["rmse"]
    assert "ndcg@10" in out["metrics"]  # cold users are ranked: the model predicts them
    assert not any("left out of the ranking" in note for note in out["notes"])


def _fit_json(capsys, split: str) -> dict:
    assert main(["fit", str(ML100K / "u.data"), "--split", split, "--model", "hybrid", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.skipif(not ML100K.is_dir(), reason="needs ../shared/data/ml-100k")
def test_ml100k_cold_items_beat_mean_plus_user_bias(capsys):
    out = _fit_json(capsys, "cold-items:0.1")
    assert out["reference"]["name"] == "baseline (global mean + user bias on the cold items)"
    assert out["folds"][0]["cold_items"] == 168 and out["folds"][0]["cold_entries"] == out["folds"][0]["n_test"]
    assert out["metrics"]["rmse"] < out["reference"]["metrics"]["rmse"] - 0.02, (out["metrics"], out["reference"])


@pytest.mark.skipif(not ML100K.is_dir(), reason="needs ../shared/data/ml-100k")
@pytest.mark.xfail(strict=True, reason="measured: hybrid 1.0181 vs demographic baseline 1.0137 on the seed-0 draw of "
                   "94 users; over seeds 0-5 the hybrid averages 1.0129 against 1.0163 and wins 4 of 6, and over "
                   "10 folds covering every user it wins (the test below): which users are drawn moves the RMSE "
                   "more than the demographics do")
def test_ml100k_cold_users_beat_the_demographic_reference(capsys):
    out = _fit_json(capsys, "cold-users:0.1")
    assert out["reference"]["name"].startswith("demographic baseline")
    assert out["metrics"]["rmse"] < out["reference"]["metrics"]["rmse"], (out["metrics"], out["reference"])


@pytest.mark.skipif(not ML100K.is_dir(), reason="needs ../shared/data/ml-100k")
def test_ml100k_cold_users_over_ten_folds_beat_the_demographic_reference(capsys):
    # Every user is new once; the reference is fitted and scored on the same ten folds (measured: 1.0180 against
    # 1.0214, lower on 8 of 10 folds).
    out = _fit_json(capsys, "cold-users-kfold:10")
    assert out["reference"]["name"].startswith("demographic baseline")
    folds = out["folds"]
    assert len(folds) == 10 and sum(f["cold_users"] for f in folds) == 943
    wins = sum(f["metrics"]["rmse"] < f["reference_metrics"]["rmse"] for f in folds)
    assert out["metrics"]["rmse"] < out["reference"]["metrics"]["rmse"] - 0.002, (out["metrics"], out["reference"])
    assert wins >= 7, [(f["metrics"]["rmse"], f["reference_metrics"]["rmse"]) for f in folds]
