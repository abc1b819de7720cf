"""The experiment layer: a protocol per kind of data, every model on the same metrics, honest curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mfstudio import metrics
from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.dataset import Dataset
from mfstudio.data.errors import DataError
from mfstudio.data.splits import leave_k_out
from mfstudio.experiment import (
    Experiment,
    default_protocol,
    describe_protocol,
    make_splits,
    protocol_choices,
    ranking_scores,
    relevance_threshold,
)
from mfstudio.models import MODELS

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


@pytest.fixture(scope="module")
def movies():
    return open_data("sample:movies")


# ---------------------------------------------------------------- protocols
def test_each_kind_gets_its_protocol_and_says_why(movies):
    bars = open_data("sample:bars")
    topics = open_data("sample:topics")
    assert default_protocol(bars) == "all" and default_protocol(topics) == "all"
    assert default_protocol(movies) == "random:0.2"
    line = describe_protocol("all", topics, chosen_by_default=True)
    assert line.startswith("Chosen for this data") and "not predicted" in line
    assert "ratings >= 4 count as relevant" in describe_protocol("random:0.2", movies)
    # entry holdouts of documents would train held-out cells as zeros: not offered, refused with a fix
    assert not any(c.startswith(("random", "user", "kfold")) for c in protocol_choices(topics))
    with pytest.raises(DataError, match="as zeros"):
        make_splits(topics, "random:0.2")
    with pytest.raises(DataError, match="ratings"):
        make_splits(movies, "cells:0.1")


def test_relevance_threshold_is_the_top_quarter_of_the_scale(movies):
    assert relevance_threshold(movies) == 4.0
    ten = Dataset("explicit", [0, 1], [0, 1], [1.0, 10.0], [0, 1], [0, 1], rating_scale=(1, 10))
    assert relevance_threshold(ten) == 8.0
    assert relevance_threshold(open_data("sample:topics")) is None


def test_leave_k_out_holds_k_per_user_and_keeps_training_data(movies):
    split = leave_k_out(movies, 2, seed=1)
    per_user_test = np.bincount(split.test.rows, minlength=movies.n_rows)
    per_user_all = movies.row_counts()
    assert set(np.unique(per_user_test[per_user_all > 2])) == {2}
    assert per_user_test[per_user_all <= 2].sum() == 0
    assert split.cold_users == 0
    assert np.array_equal(np.sort(np.concatenate([split.train_index, split.test_index])), np.arange(movies.nnz))


# -------------------------------------------------------- the same metrics
def test_rating_and_ranking_models_report_both_families(movies):
    sgd = Experiment(movies, "sgd", {"n_epochs": 5}).run()
    bpr = Experiment(movies, "bpr", {"n_epochs": 5}).run()
    ranking = {"precision@10", "recall@10", "ndcg@10", "map@10", "auc", "coverage@10"}
    assert ranking | {"rmse", "mae"} <= set(sgd.metrics)
    assert ranking <= set(bpr.metrics) and "rmse" not in bpr.metrics
    # both are compared against one reference on one split
    assert sgd.reference_name == bpr.reference_name == "baseline (mean + biases)"
    assert sgd.reference_metrics["precision@10"] == pytest.approx(bpr.reference_metrics["precision@10"])
    for value in (sgd.metrics["auc"], bpr.metrics["auc"]):
        assert 0.5 < value <= 1.0  # better than chance on a planted low-rank sample


def test_ranking_never_lists_an_item_the_user_has_in_training_whatever_the_rating(movies):
    (split,) = make_splits(movies, "random:0.2")
    model = MODELS["bpr"](n_epochs=3).fit(split.train)
    users = np.unique(split.test.rows)[:200]
    from mfstudio.models.base import _top_n

    scores = model.score_matrix(users)
    seen = split.train.to_csr()[users]
    # what ranking_scores lists: recompute its lists and check them against every training rating
    out = ranking_scores(model, split.train, split.test, k=10)
    assert out["ranking_users"] == out["ranking_users_total"]
    masked = scores.copy()
    masked[seen.toarray() > 0] = -np.inf
    items, _ = _top_n(masked, 10)
    low = split.train.values < 4
    low_pairs = set(zip(split.train.rows[low].tolist(), split.train.cols[low].tolist()))
    listed = {(int(u), int(i)) for u, row in zip(users, items) for i in row}
    assert not (listed & low_pairs)


def test_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    scores = rng.random((6, 40))
    scores[0, :8] = 0.5  # ties count one half
    relevant = rng.random((6, 40)) < 0.25
    candidates = rng.random((6, 40)) < 0.8
    ours = metrics.auc_per_user(scores, sp.csr_matrix(relevant), candidates)
    for u in range(6):
        mask = candidates[u]
        labels = relevant[u][mask]
        if labels.any() and not labels.all():
            assert ours[u] == pytest.approx(roc_auc_score(labels, scores[u][mask]))
        else:
            assert np.isnan(ours[u])


# ------------------------------------------------------------ the curves
def test_epoch_records_hold_train_and_test_error_in_one_metric_without_the_penalty(movies):
    experiment = Experiment(movies, "sgd", {"n_epochs": 8})
    steps = list(experiment.iter_fold(0))
    assert all({"train_rmse", "rmse"} <= set(step.metrics) for step in steps)
    model = experiment.folds[0].model
    train = experiment.splits[0].train
    full_train_rmse = metrics.rmse(train.values, model.predict(train.rows, train.cols))
    # the sample is a fair estimate of the error on all training ratings ...
    assert steps[-1].metrics["train_rmse"] == pytest.approx(full_train_rmse, abs=0.02)
    # ... and the gap that shows overfitting is there to see: train below test
    assert steps[-1].metrics["train_rmse"] < steps[-1].metrics["rmse"]


def test_ranking_models_get_ranking_curves(movies):
    steps = list(Experiment(movies, "implicit-als", {"n_epochs": 3}).iter_fold(0))
    assert all("precision@10" in s.metrics and "ndcg@10" in s.metrics for s in steps)
    assert not any("rmse" in s.metrics for s in steps)


def test_kfold_reports_mean_and_spread(movies):
    experiment = Experiment(movies, "baseline", protocol="kfold:3").run()
    assert len(experiment.folds) == 3
    per_fold = [f.metrics["rmse"] for f in experiment.folds]
    assert experiment.metrics["rmse"] == pytest.approx(np.mean(per_fold))
    assert experiment.metrics_spread["rmse"] == pytest.approx(np.std(per_fold, ddof=1))


# ------------------------------------------------------ decompositions
def test_documents_and_images_are_fitted_on_all_data_by_default():
    bars = open_data("sample:bars")
    experiment = Experiment(bars, "nmf", {"n_factors": 16}).run()
    assert experiment.splits == [None]
    assert experiment.folds[0].model.train_.nnz == bars.nnz  # trained on every cell
    assert experiment.metrics["relative_error"] < 0.05


def test_cli_fit_on_bars_reports_relative_error_on_all_data(capsys):
    assert main(["fit", "sample:bars", "--model", "nmf", "--factors", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocol"] == "all"
    assert out["metrics"]["relative_error"] < 0.05


def test_cli_fit_kind_is_honoured(capsys):
    assert main(["fit", "sample:movies", "--model", "bpr", "--epochs", "2", "--kind", "implicit", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "implicit" and out["protocol"] == "user:0.2"


# --------------------------------------------------------- MovieLens 100K
needs_ml100k = pytest.mark.skipif(not (ML100K / "u1.base").is_file(), reason="MovieLens 100K is not in ../shared")


@needs_ml100k
@pytest.mark.parametrize("model", ["sgd", "bpr", "implicit-als"])
def test_cli_fit_u1_reports_every_family(model, capsys):
    args = ["fit", str(ML100K / "u1.base"), "--test", str(ML100K / "u1.test"), "--model", model, "--json"]
    if model != "sgd":
        args += ["--epochs", "5"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    ranking = {"precision@10", "ndcg@10", "auc", "coverage@10"}
    assert ranking <= set(out["metrics"])
    assert ({"rmse", "mae"} <= set(out["metrics"])) == (model == "sgd")
    assert out["reference"]["name"] == "baseline (mean + biases)"
    assert 0.5 < out["metrics"]["auc"] < 1.0


def test_document_csv_with_categories_reports_topics_and_label_agreement(tmp_path, capsys):
    import csv

    corpus = open_data("sample:topics")
    truth = corpus.truth
    labels = truth["topic_names"][np.argmax(truth["doc_topics"], axis=1)]
    path = tmp_path / "news.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "text"])
        writer.writerows(zip(labels.tolist(), corpus.texts))
    assert main(["fit", str(path), "--model", "nmf", "--factors", str(len(truth["topic_names"])), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "documents" and out["protocol"] == "all"
    assert len(out["topics"]) == len(truth["topic_names"]) and all(len(t) == 10 for t in out["topics"])
    # planted topics: each document's strongest topic agrees with its category
    assert out["metrics"]["nmi"] > 0.7 and out["metrics"]["purity"] > 0.8
    assert info_docs(path) == corpus.n_rows


def info_docs(path) -> int:
    return open_data(str(path)).n_rows


def test_implicit_als_on_a_save_npz_count_matrix_trains_on_every_interaction(tmp_path):
    rng = np.random.default_rng(5)
    n_users, n_items = 300, 400
    rows = rng.integers(0, n_users, 6000)
    cols = rng.integers(0, n_items, 6000)
    counts = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n_users, n_items)).tocsr()
    counts.sum_duplicates()
    counts.data = np.minimum(counts.data + (rng.random(counts.nnz) < 0.2) * rng.integers(1, 5, counts.nnz), 6)
    path = tmp_path / "plays.npz"
    sp.save_npz(path, counts)
    data = open_data(str(path))
    assert data.kind == "implicit" and data.nnz == counts.nnz
    experiment = Experiment(data, "implicit-als", {"n_epochs": 2})
    experiment.run()
    train = experiment.splits[0].train
    # every training interaction was learned from, not just counts >= 4
    assert experiment.folds[0].model.fit_data_.nnz == train.nnz
    assert experiment.metrics["precision@10"] > 0


def test_a_project_keeps_the_protocol_reference_spread_and_labels(tmp_path, movies):
    import dataclasses

    from mfstudio.project import Run, open_project, save_project

    experiment = Experiment(movies, "baseline", protocol="kfold:2").run()
    run = Run(name="baseline #1", model=experiment.folds[0].model, metrics=experiment.metrics,
              metrics_spread=experiment.metrics_spread, baseline_metrics=experiment.reference_metrics,
              protocol=experiment.protocol_line, reference_name=experiment.reference_name, status="finished",
              train_index=experiment.splits[0].train_index, test_index=experiment.splits[0].test_index)
    labels = np.where(np.arange(movies.n_rows) % 2, "odd", "even")
    labelled = dataclasses.replace(movies, row_labels=labels, row_label_name="parity", kind_reason="because")
    save_project(tmp_path / "p.mfproj", labelled, [run])
    dataset, (restored,), _ = open_project(tmp_path / "p.mfproj")
    assert restored.protocol == experiment.protocol_line and "2-fold" in restored.protocol
    assert restored.reference_name == "baseline (mean + biases)"
    assert restored.metrics_spread == pytest.approx(experiment.metrics_spread)
    assert dataset.kind_reason == "because" and dataset.row_label_name == "parity"
    assert np.array_equal(dataset.row_labels, labels)


def test_cli_svd_on_a_dense_matrix_reports_scikit_learns_explained_variance(tmp_path, capsys):
    from sklearn.decomposition import TruncatedSVD

    rng = np.random.default_rng(11)
    X = rng.random((200, 8)) @ rng.random((8, 300)) + rng.random((200, 300)) + 2.0
    np.save(tmp_path / "grid.npy", X)
    assert main(["fit", str(tmp_path / "grid.npy"), "--model", "svd", "--factors", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "dense" and out["protocol"] == "all"
    reference = TruncatedSVD(10, algorithm="arpack").fit(X).explained_variance_ratio_.sum()
    assert out["metrics"]["explained_variance_ratio"] == pytest.approx(reference, abs=1e-3)
    # the old quantity is still there, named as what it is, and it is not the variance share
    assert out["metrics"]["frobenius_share"] > out["metrics"]["explained_variance_ratio"] + 0.05


def test_a_large_catalogue_gets_an_auc_on_drawn_items_and_the_notes_say_so(movies, monkeypatch):
    import mfstudio.experiment as experiment_module

    # sample:movies has a few hundred items: a draw of 50 stands in for 5,000 of a 50,000-item catalogue.
    experiment = Experiment(movies, "bpr", {"n_epochs": 3, "seed": 0}).run()
    exact = experiment.metrics["auc"]
    assert not any(note.startswith("auc:") for note in experiment.notes())
    monkeypatch.setattr(experiment_module, "AUC_NEGATIVES", 50)
    drawn = Experiment(movies, "bpr", {"n_epochs": 3, "seed": 0}).run()
    assert drawn.folds[0].metrics["ranking_auc_negatives"] == 50
    assert drawn.metrics["auc"] != exact
    assert drawn.metrics["auc"] == pytest.approx(exact, abs=0.02)  # an estimate of the same number
    note = [n for n in drawn.notes() if n.startswith("auc:")]
    assert note and "50 of their unseen items drawn at random" in note[0]
    # Everything else is unchanged: the lists do not depend on the AUC's draw.
    for name in ("precision@10", "ndcg@10", "recall@10"):
        assert drawn.metrics[name] == experiment.metrics[name]
