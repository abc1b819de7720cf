"""Early stopping: stop on a validation part carved from the training data, keep the best epoch's model."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.dataset import Dataset
from mfstudio.experiment import (
    EarlyStopper,
    Experiment,
    carve_validation,
    ranking_scores,
    rating_errors,
    validation_spec,
    _held_out_cells,
)
from mfstudio.models.base import FitDiverged, FitStep
from mfstudio.models.params import ParamError

from .conftest import ML100K, needs_ml100k


def planted_ratings(n_users=300, n_items=200, k=4, density=0.15, noise=0.3, seed=0) -> Dataset:
    """A rank-k ratings matrix on a 1-5 scale plus noise, a random 15% of it observed."""
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(n_users, k))
    V = rng.normal(size=(n_items, k))
    full = 3 + 0.6 * U @ V.T / np.sqrt(k)
    rows, cols = np.nonzero(rng.random((n_users, n_items)) < density)
    values = np.clip(full[rows, cols] + rng.normal(scale=noise, size=rows.size), 1, 5).astype(np.float32)
    return Dataset("explicit", rows, cols, values, np.arange(n_users), np.arange(n_items), rating_scale=(1, 5),
                   name="planted")


@pytest.fixture(scope="module")
def planted():
    return planted_ratings()


def val_curve(model, name="val_rmse"):
    return np.array([step.metrics[name] for step in model.history_])


# ------------------------------------------------------------------ the stop itself
def test_sgd_at_a_large_learning_rate_stops_before_200_and_keeps_the_best_epoch(planted):
    patience = 5
    exp = Experiment(planted, "sgd", {"n_epochs": 200, "lr": 0.05, "n_factors": 50, "reg": 0.0},
                     protocol="random:0.2", early_stopping=patience)
    exp.run()
    fold = exp.folds[0]
    model = fold.model
    curve = val_curve(model)
    # It stopped, exactly `patience` epochs after the best one, and the history keeps every epoch run.
    assert fold.stopped_epoch is not None and fold.stopped_epoch < 200
    assert len(model.history_) == fold.stopped_epoch == curve.size
    assert fold.best_epoch == int(np.argmin(curve)) + 1
    assert fold.stopped_epoch - fold.best_epoch == patience
    assert np.all(curve[fold.best_epoch:] >= curve[fold.best_epoch - 1])
    # The kept model is the best epoch's: its validation RMSE, recomputed now, is the recorded best.
    recomputed = rating_errors(model, fold.validation)["rmse"]
    assert recomputed == pytest.approx(fold.early_stopping["best_value"], rel=1e-6)
    assert recomputed == pytest.approx(curve[fold.best_epoch - 1], rel=1e-6)
    assert recomputed < curve[-1]  # not the last epoch's state
    # The final scores are on the test fold, with that model.
    split = exp.splits[0]
    assert exp.metrics["rmse"] == pytest.approx(rating_errors(model, split.test)["rmse"], rel=1e-9)
    # Recorded for the window and --json.
    last = model.history_[-1]
    assert last.extra["early_stopping"] == {"best_epoch": fold.best_epoch, "wait": patience, "stopped": True}
    assert not model.history_[fold.best_epoch - 1].extra["early_stopping"]["stopped"]
    record = exp.as_dict()["early_stopping"]
    assert record["stopped_epoch"] == fold.stopped_epoch and record["best_epoch"] == fold.best_epoch
    assert record["monitor"] == "val_rmse" and record["n_epochs"] == 200
    assert exp.notes()[0] == (f"stopped at epoch {fold.stopped_epoch} of 200: validation rmse had not improved "
                              f"for {patience} epochs; kept epoch {fold.best_epoch}")


def test_the_validation_part_is_carved_from_training_data_never_the_test_fold(planted):
    exp = Experiment(planted, "sgd", {"n_epochs": 3}, protocol="random:0.2", early_stopping=2,
                     validation_fraction=0.25)
    exp.run()
    fold, split = exp.folds[0], exp.splits[0]

    def keys(ds):
        return set(zip(ds.rows.tolist(), ds.cols.tolist()))

    fitted, validation, test = keys(fold.model.train_), keys(fold.validation), keys(split.test)
    assert not validation & test and not fitted & test and not fitted & validation
    assert fitted | validation == keys(split.train)
    assert len(validation) == pytest.approx(0.25 * split.train.nnz, abs=1)
    # Each fold carves its own part; k-fold carves from each fold's training data.
    kfold = Experiment(planted, "sgd", {"n_epochs": 2}, protocol="kfold:3", early_stopping=1)
    kfold.run()
    for f, s in zip(kfold.folds, kfold.splits):
        assert not keys(f.validation) & keys(s.test)
        assert keys(f.validation) <= keys(s.train)
    assert len(kfold.as_dict()["folds"]) == 3 and all("early_stopping" in f for f in kfold.as_dict()["folds"])


def test_a_model_that_keeps_improving_does_not_stop(planted):
    # ALS at the planted rank converges steadily on this data.
    exp = Experiment(planted, "als", {"n_epochs": 12, "n_factors": 4}, protocol="random:0.2", early_stopping=3)
    exp.run()
    fold = exp.folds[0]
    curve = val_curve(fold.model)
    assert np.all(np.diff(curve) < 0)  # the premise: validation error falls every epoch
    assert fold.stopped_epoch is None and fold.best_epoch == 12 and len(fold.model.history_) == 12
    assert "did not stop" in exp.notes()[0]


class _Counter:
    """A stand-in model whose whole fitted state is one number."""

    def __init__(self):
        self.value_ = 0.0

    def fitted_state(self):
        return {"value_": self.value_}


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_patience_is_respected_exactly(patience):
    # Improves, stalls for patience - 1 epochs, improves again (the count restarts), then stalls for good.
    values = [5.0, 4.0] + [4.5] * (patience - 1) + [3.0] + [3.0, 3.5, 3.2, 3.1, 3.05, 3.0, 3.9]
    stopper = EarlyStopper(patience, "rmse", False, lambda model: values[model.epoch - 1])
    model, stopped_at = _Counter(), None
    for epoch in range(1, len(values) + 1):
        model.epoch, model.value_ = epoch, values[epoch - 1]
        if stopper.update(model, FitStep(epoch, 100, 0.0)):
            stopped_at = epoch
            break
    best = patience + 2
    assert stopper.best_epoch == best and stopper.best_state == {"value_": 3.0}
    assert stopped_at == best + patience  # an equal value (3.0) is not an improvement


def test_higher_is_better_for_ranking_metrics():
    values = [0.1, 0.2, 0.15, 0.19]
    stopper = EarlyStopper(2, "ndcg@10", True, lambda model: values[model.epoch - 1])
    model = _Counter()
    stops = []
    for epoch in range(1, 5):
        model.epoch = epoch
        stops.append(stopper.update(model, FitStep(epoch, 10, 0.0)))
    assert stops == [False, False, False, True] and stopper.best_epoch == 2


# ------------------------------------------------------------------ every epoch-based model
def _documents_with_test():
    return open_data("sample:topics")


CASES = [
    ("sgd", "sample:movies", "random:0.2", {"n_epochs": 6}),
    ("gd", "sample:movies", "random:0.2", {"n_epochs": 6}),
    ("svdpp", "sample:movies", "random:0.2", {"n_epochs": 4, "n_factors": 8}),
    ("als", "sample:movies", "random:0.2", {"n_epochs": 4}),
    ("bpmf", "sample:movies", "random:0.2", {"n_epochs": 6, "n_factors": 8}),
    ("baseline", "sample:movies", "random:0.2", {"n_epochs": 4}),
    ("bpr", "sample:movies", "user:0.2", {"n_epochs": 4}),
    ("implicit-als", "sample:movies", "user:0.2", {"n_epochs": 4}),
    ("nmf", "sample:topics", "cells:0.1", {"n_epochs": 8, "n_factors": 6}),
    ("nmf", "sample:topics", "all", {"n_epochs": 8, "n_factors": 6}),
    ("nmf", "sample:bars", "all", {"n_epochs": 8, "n_factors": 8}),
    ("nmf", "sample:movies", "random:0.2", {"n_epochs": 6, "n_factors": 8}),
]


@pytest.mark.parametrize("name, data, protocol, params", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_every_epoch_based_model_keeps_its_best_epochs_state(name, data, protocol, params):
    dataset = open_data(data)
    exp = Experiment(dataset, name, params, protocol=protocol, early_stopping=1)
    exp.run()
    fold = exp.folds[0]
    record = fold.early_stopping
    model = fold.model
    curve = val_curve(model, record["monitor"])
    assert len(model.history_) == record["epochs_run"]
    best = int(np.argmax(curve) if record["higher_is_better"] else np.argmin(curve))
    assert fold.best_epoch == best + 1
    # Recompute the monitored metric from the restored model: it is the best epoch's.
    if record["metric"] == "rmse":
        value = rating_errors(model, fold.validation)["rmse"]
    elif record["metric"] == "relative_error":
        value = _held_out_cells(model, fold.validation)["relative_error"]
    else:
        value = ranking_scores(model, model.train_, fold.validation, k=10, threshold=exp.threshold,
                               max_users=1000, with_auc=False)[record["metric"]]
    assert value == pytest.approx(record["best_value"], rel=1e-5, abs=1e-7)
    # The documents' validation cells are unknown to the fit, not zeros.
    if dataset.kind == "documents":
        flat = fold.validation.rows.astype(np.int64) * dataset.n_cols + fold.validation.cols
        assert np.isin(flat, model.train_.missing_cells).all()
        if fold.split is not None:
            assert np.isin(fold.split.train.missing_cells, model.train_.missing_cells).all()
    assert exp.metrics  # scored


def test_validation_follows_the_protocols_family(planted):
    movies = open_data("sample:movies")
    assert validation_spec("user:0.2", movies, 0.1) == "user:0.1"
    assert validation_spec("kfold:5", movies, 0.1) == "random:0.1"
    assert validation_spec("leave:1", movies, 0.1) == "leave:1"
    assert validation_spec("cells:0.2", open_data("sample:topics"), 0.1) == "cells:0.1"
    fit, validation, _ = carve_validation(planted, "random:0.1", seed=3)
    assert fit.nnz + validation.nnz == planted.nnz


def test_early_stopping_refuses_what_it_cannot_do(planted):
    with pytest.raises(ParamError, match="epoch by epoch"):
        Experiment(planted, "svd", {}, early_stopping=3)
    with pytest.raises(ParamError, match="patience"):
        Experiment(planted, "sgd", {}, early_stopping=0)
    with pytest.raises(ParamError, match="validation fraction"):
        Experiment(planted, "sgd", {}, early_stopping=3, validation_fraction=1.5)


def test_a_fit_that_diverges_keeps_its_best_epoch(planted):
    # Full-batch gradient descent at lr 0.06 on this data diverges at epoch 4 (measured).
    exp = Experiment(planted, "gd", {"n_epochs": 100, "lr": 0.06, "reg": 0.0}, protocol="random:0.2",
                     early_stopping=50)
    exp.run()
    fold = exp.folds[0]
    record = fold.early_stopping
    assert "diverged" in record["diverged"] and fold.stopped_epoch == record["epochs_run"] + 1
    assert rating_errors(fold.model, fold.validation)["rmse"] == pytest.approx(record["best_value"], rel=1e-6)
    assert np.isfinite(exp.metrics["rmse"])
    assert f"kept epoch {fold.best_epoch}" in exp.notes()[0]
    # Diverging before any epoch was kept is still the error it always was.
    with pytest.raises(FitDiverged):
        Experiment(planted, "gd", {"n_epochs": 10, "lr": 0.5}, protocol="random:0.2", early_stopping=5).run()


# ------------------------------------------------------------------ the command line
def test_cli_fit_early_stopping_is_in_the_output_and_json(capsys):
    assert main(["fit", "sample:movies", "--model", "sgd", "--epochs", "60", "--lr", "0.1", "--reg", "0",
                 "--early-stopping", "2", "--validation-fraction", "0.2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    record = out["early_stopping"]
    assert record["patience"] == 2 and record["validation_fraction"] == 0.2
    assert record["stopped_epoch"] is not None and record["stopped_epoch"] < 60
    assert len(out["history"]) == record["stopped_epoch"] and "val_rmse" in out["history"][0]
    assert any(note.startswith("stopped at epoch") for note in out["notes"])
    assert main(["fit", "sample:movies", "--model", "sgd", "--epochs", "60", "--lr", "0.1", "--reg", "0",
                 "--early-stopping", "2"]) == 0
    text = capsys.readouterr().out
    assert "early stopping: patience 2 epochs" in text and "note: stopped at epoch" in text


@needs_ml100k
def test_ml100k_sgd_at_a_large_learning_rate_stops_before_200_epochs():
    train, test = open_data(str(ML100K / "u1.base")), open_data(str(ML100K / "u1.test"))
    started = time.perf_counter()
    exp = Experiment(train, "sgd", {"n_epochs": 200, "lr": 0.05}, test_data=test, test_name="u1.test",
                     early_stopping=5)
    exp.run()
    fold = exp.folds[0]
    assert fold.stopped_epoch is not None and fold.stopped_epoch < 200
    assert rating_errors(fold.model, fold.validation)["rmse"] == pytest.approx(
        fold.early_stopping["best_value"], rel=1e-6)
    assert exp.metrics["rmse"] < 0.95  # scored on u1.test with the kept model, better than the baseline's 0.96
    assert time.perf_counter() - started < 30
