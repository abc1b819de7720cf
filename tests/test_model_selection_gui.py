"""Model selection in the window: early stopping on the Training curve, and the Sweep tab (issue 11)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.test_layout import fit, load, overflowing_widgets  # noqa: E402


def test_early_stopping_from_the_model_panel_stops_and_marks_the_kept_epoch(qtbot, window):
    load(qtbot, window, "sample:movies")
    panel = window.model_panel
    panel.select_method("sgd")
    panel.set_param("n_epochs", 200)
    panel.set_param("lr", 0.08)
    panel.set_param("reg", 0.0)
    panel.set_param("n_factors", 40)
    panel.set_early_stopping(2)
    assert panel.early_stopping() == 2
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        panel.run_button.click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=30_000)
    run = blocker.args[0]
    assert len(run.history) < 200
    training = window.show_view("Training")
    training.show_metric("rmse")
    curves = training._curves[run]
    best = curves.best_epoch
    assert best is not None and best < len(run.history)
    assert curves.stopped_epoch == len(run.history)
    # The star sits on the validation curve at the kept epoch; the validation curve is drawn dotted.
    xs, ys = curves.kept.getData()
    assert list(xs) == [best]
    assert ys[0] == pytest.approx(run.history[best - 1].metrics["val_rmse"])
    assert curves.validation.xData is not None and len(curves.validation.xData) == len(run.history)
    assert curves.stop.isVisible() and curves.stop.value() == len(run.history)
    assert "validation dotted" in training.error_axis_label()
    assert f"kept epoch {best}" in window.status_text.text()
    assert "stopped at epoch" in run.protocol


def test_early_stopping_is_disabled_for_methods_without_epochs(qtbot, window):
    load(qtbot, window, "sample:movies")
    panel = window.model_panel
    panel.select_method("svd")
    panel.set_early_stopping(3)
    assert not panel.early_stop.isEnabled() and panel.early_stopping() is None
    panel.select_method("als")
    assert panel.early_stop.isEnabled() and panel.early_stopping() == 3


def _sweep_view(qtbot, window, method, **params):
    load(qtbot, window, "sample:movies")
    window.model_panel.select_method(method)
    for name, value in params.items():
        window.model_panel.set_param(name, value)
    view = window.show_view("Sweep")
    view.refresh_method()
    return view


def _run_sweep(qtbot, view, jobs=1):
    sweep = view.start(jobs=jobs)
    assert sweep is not None, view.state.text()
    qtbot.waitUntil(lambda: view.worker is None, timeout=120_000)
    return sweep


def test_a_line_sweep_plots_validation_and_train_error_marks_the_best_and_fits_it(qtbot, window):
    view = _sweep_view(qtbot, window, "sgd", n_epochs=3, reg=0.05)
    assert "Sweeping Biased SGD" in view.method_label.text()
    view.param_boxes[0].setCurrentIndex(view.param_boxes[0].findData("n_factors"))
    view.value_edits[0].setText("2, 16")
    view.protocol_box.setCurrentIndex(view.protocol_box.findData("random:0.2"))
    sweep = _run_sweep(qtbot, view)
    assert sweep.fixed["n_epochs"] == 3 and sweep.fixed["reg"] == 0.05  # the panel's other values
    assert len(view.points) == 2 and view.table.rowCount() == 2
    best = view.best_point()
    assert best.mean == min(p.mean for p in view.points)
    names = [item.name() for item in view.plot.getPlotItem().listDataItems()]
    assert "train (dashed)" in names and any(n.startswith("validation") for n in names)
    assert "best: n_factors=" in " ".join(label.text for _sample, label in view.legend.items)
    assert "Done: 2 points" in view.state.text()
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        view.best_button.click()
    run = blocker.args[0]
    assert run.params["n_factors"] == best.params["n_factors"] and run.params["n_epochs"] == 3
    assert window.model_panel.params()["n_factors"] == best.params["n_factors"]


def test_a_two_parameter_grid_is_a_heatmap_with_the_best_cell_outlined(qtbot, window):
    view = _sweep_view(qtbot, window, "sgd", n_epochs=2)
    view.param_boxes[0].setCurrentIndex(view.param_boxes[0].findData("n_factors"))
    view.value_edits[0].setText("2, 8")
    view.param_boxes[1].setCurrentIndex(view.param_boxes[1].findData("reg"))
    view.value_edits[1].setText("0.01, 0.2")
    view.protocol_box.setCurrentIndex(view.protocol_box.findData("random:0.2"))
    _run_sweep(qtbot, view)
    assert view._heat is not None
    texts = [item.toPlainText() for item in view._heat_texts]
    assert len(texts) == 4 and "…" not in texts
    best = view.best_point()
    assert f"{best.mean:.4f}" in texts
    window.resize(1280, 720)
    QApplication.processEvents()
    assert overflowing_widgets(view) == []


def test_a_bad_value_is_refused_in_one_sentence_and_nothing_runs(qtbot, window):
    view = _sweep_view(qtbot, window, "sgd")
    view.param_boxes[0].setCurrentIndex(view.param_boxes[0].findData("lr"))
    view.value_edits[0].setText("0.01, -1")
    assert view.start(jobs=1) is None and view.worker is None
    assert "lr" in view.state.text() and "-1" in view.state.text()


def test_cancelling_a_sweep_stops_every_worker_process_within_a_second_and_keeps_the_points(qtbot, window):
    import multiprocessing
    import time

    view = _sweep_view(qtbot, window, "sgd", n_epochs=400, n_factors=50)
    view.param_boxes[0].setCurrentIndex(view.param_boxes[0].findData("reg"))
    view.value_edits[0].setText("0.01, 0.02, 0.03, 0.04, 0.05, 0.06")
    view.protocol_box.setCurrentIndex(view.protocol_box.findData("random:0.2"))
    view.start(jobs=2)
    qtbot.waitUntil(lambda: len(multiprocessing.active_children()) >= 2, timeout=60_000)
    started = time.perf_counter()
    view.cancel_button.click()
    qtbot.waitUntil(lambda: view.worker is None, timeout=5_000)
    qtbot.waitUntil(lambda: not multiprocessing.active_children(), timeout=5_000)
    assert time.perf_counter() - started < 1.5  # the bar is 1 s; a loaded CI machine gets a little slack
    assert "Cancelled after" in view.state.text()
    assert view.table.rowCount() == len(view.points)


def test_a_rank_sweep_of_svd_adds_the_explained_variance_elbow(qtbot, window):
    load(qtbot, window, "sample:topics")
    window.model_panel.select_method("svd")
    view = window.show_view("Sweep")
    view.refresh_method()
    view.param_boxes[0].setCurrentIndex(view.param_boxes[0].findData("n_factors"))
    view.value_edits[0].setText("2, 4, 8")
    _run_sweep(qtbot, view)
    qtbot.waitUntil(lambda: view.measures is not None, timeout=60_000)
    elbow = view.measures["elbow_k"]
    assert f"elbow at k = {elbow}" in view.state.text()
    header = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert "explained variance" in header
    lines = [item for item in view.plot.getPlotItem().items if isinstance(item, __import__("pyqtgraph").InfiniteLine)]
    assert any("elbow" in line.label.toPlainText() for line in lines)
