"""Under k-fold the Metrics table sets the model's mean over folds beside the reference's mean over the same folds."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from mfstudio.data.samples import movies  # noqa: E402
from mfstudio.experiment import Experiment  # noqa: E402
from mfstudio.project import Run  # noqa: E402


def test_the_baseline_columns_compare_means_over_the_same_folds(qtbot):
    from mfstudio.gui.views.metrics_table import MetricsView

    data = movies(n_users=120, n_items=150, seed=2)
    experiment = Experiment(data, "sgd", {"n_factors": 4, "n_epochs": 3}, protocol="kfold:3").run()
    run = Run(name="sgd #1", model=experiment.model, metrics=experiment.metrics,
              metrics_spread=experiment.metrics_spread, baseline_metrics=experiment.reference_metrics,
              reference_name=experiment.reference_name, protocol=experiment.protocol_line, status="finished")
    per_fold = [experiment.reference_by_fold[i]["rmse"] for i in range(3)]
    assert len(set(per_fold)) == 3  # three different test sets, so fold 1's alone would differ from the mean
    view = MetricsView()
    qtbot.addWidget(view)
    view.show()
    view.set_dataset(data)
    view.set_runs([run])
    row = view.row_of(run)
    assert float(view.cell(row, "baseline")) == pytest.approx(sum(per_fold) / 3, abs=5e-5)
    column = view.headers().index("baseline")
    tip = view.table.item(row, column).toolTip()
    assert tip.startswith(experiment.reference_name) and "mean over the same folds" in tip
    versus = view.table.item(row, column + 1).toolTip()
    assert "mean over the same folds" in versus and f"{experiment.metrics['rmse']:.4f}" in versus


def test_the_training_views_reference_line_is_the_drawn_folds_and_projects_keep_it(qtbot, window, tmp_path):
    from mfstudio.project import open_project, save_project

    window.open_path("sample:movies")
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=30_000)
    finished = []
    window.fit_finished.connect(finished.append)
    window.start_fit("sgd", {"n_factors": 4, "n_epochs": 3}, "kfold:3", 0)
    qtbot.waitUntil(lambda: bool(finished) and window.worker is None, timeout=120_000)
    run = finished[0]
    experiment = run.experiment
    assert run.baseline_metrics["rmse"] == pytest.approx(experiment.reference_metrics["rmse"])  # mean of 3
    assert run.curve_reference_metrics["rmse"] == experiment.reference_by_fold[0]["rmse"]  # fold 1: the curves'
    assert run.curve_reference_metrics["rmse"] != pytest.approx(run.baseline_metrics["rmse"])
    training = window.show_view("Training")
    qtbot.waitUntil(lambda: bool(training._reference_lines), timeout=10_000)
    drawn = [line.value() for line in training._reference_lines]
    assert drawn == [pytest.approx(run.curve_reference_metrics["rmse"])]
    assert training._reference_key[1][0] == f"{run.reference_name}, fold 1"  # the line says which fold it is
    save_project(tmp_path / "p.mfproj", window.dataset, [run])
    _, (restored,), _ = open_project(tmp_path / "p.mfproj")
    assert restored.curve_reference_metrics == pytest.approx(run.curve_reference_metrics)
