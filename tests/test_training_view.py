"""The Training view: objective apart and normalised, train against test in one metric, a legend off the data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402

from mfstudio.models import MODELS  # noqa: E402
from mfstudio.models.base import FitStep  # noqa: E402
from mfstudio.project import Run  # noqa: E402

EPOCHS = 20


@pytest.fixture
def app(qtbot):
    from mfstudio.gui.app import create_app

    return create_app()  # the app's pyqtgraph options: white background


@pytest.fixture
def view(qtbot, app):
    from mfstudio.gui.views.training import TrainingView

    widget = TrainingView()
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def decaying(start, end, n=EPOCHS, bend=0.25):
    """start -> end, quickly at first, like a converging fit."""
    t = np.arange(n, dtype=float)
    return end + (start - end) * np.exp(-bend * t)


def make_run(model_name, name, losses, per_epoch: dict, baseline=None, reference_name="", protocol=""):
    model = MODELS[model_name]()
    model.history_ = [
        FitStep(epoch=e + 1, n_epochs=len(losses), train_loss=float(loss),
                metrics={key: float(values[e]) for key, values in per_epoch.items()})
        for e, loss in enumerate(losses)
    ]
    return Run(name=name, model=model, baseline_metrics=dict(baseline or {}), reference_name=reference_name,
               protocol=protocol, status="finished")


def sgd_like(name="sgd #1", seed=0):
    rng = np.random.default_rng(seed)
    train_rmse = decaying(1.1, 0.70)  # keeps falling: the model learns the training sample
    test_rmse = decaying(1.1, 0.93) + np.linspace(0, 0.03, EPOCHS)  # turns up: overfitting
    return make_run("sgd", name, decaying(0.8, 0.55) + rng.uniform(0, 1e-3, EPOCHS), {
        "train_rmse": train_rmse, "train_mae": train_rmse * 0.78,
        "rmse": test_rmse, "mae": test_rmse * 0.79,
    }, baseline={"rmse": 0.9457, "mae": 0.7485, "precision@10": 0.05}, reference_name="baseline (mean + biases)")


def nmf_like(name="nmf #1", with_holdout=False):
    per_epoch = {"train_relative_error": decaying(0.60, 0.32)}
    if with_holdout:
        per_epoch["relative_error"] = decaying(0.62, 0.41)
    return make_run("nmf", name, decaying(18_000.0, 12_000.0), per_epoch)


def bpr_like(name="bpr #1"):
    return make_run("bpr", name, decaying(0.69, 0.25), {
        "precision@10": 0.2 - decaying(0.15, 0.0), "ndcg@10": 0.25 - decaying(0.18, 0.0),
    }, baseline={"precision@10": 0.11, "ndcg@10": 0.13}, reference_name="popularity")


def y_span(view_plot) -> float:
    low, high = view_plot.getViewBox().viewRange()[1]
    return high - low


def global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def data_area(plot_widget) -> QRect:
    """The plot's data rectangle (its ViewBox) in global screen coordinates."""
    scene_rect = plot_widget.getViewBox().sceneBoundingRect()
    polygon = plot_widget.mapFromScene(scene_rect)
    local = polygon.boundingRect()
    return QRect(plot_widget.mapToGlobal(local.topLeft()), local.size())


# ------------------------------------------------------------------ pure helpers
def test_main_family_and_axis_label_follow_the_keys():
    from mfstudio.gui.views.training import main_family, metric_axis_label

    assert main_family(["train_rmse", "train_mae", "rmse", "mae"]) == "rmse"
    assert main_family(["precision@10", "ndcg@10"]) == "precision@10"
    assert main_family(["train_relative_error"]) == "relative_error"  # fitted on all data
    assert main_family([]) is None
    assert metric_axis_label("rmse", True, True) == "RMSE (train sample dashed, test solid)"
    assert metric_axis_label("precision@10", False, True) == "precision@10 (test solid)"
    assert metric_axis_label("relative_error", True, False) == "relative error (training cells dashed)"


def test_palette_is_readable_on_white():
    from mfstudio.gui.views.base import PALETTE

    def luminance(hex_colour):
        rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(linear @ [0.2126, 0.7152, 0.0722])

    # WCAG contrast ratio against white; Okabe-Ito's yellow is 1.3, its orange 2.25.
    contrasts = {c: 1.05 / (luminance(c) + 0.05) for c in PALETTE}
    assert min(contrasts.values()) >= 2.2, contrasts
    assert len({c.lower() for c in PALETTE}) == len(PALETTE)


# ------------------------------------------------------------------ objective
def test_objectives_of_very_different_scales_both_span_the_objective_axis(qtbot, view):
    nmf, sgd = nmf_like(), sgd_like()
    view.add_run(nmf)
    view.add_run(sgd)
    qtbot.wait(20)
    span = y_span(view.objective_plot)
    for run in (nmf, sgd):
        epochs, drawn = view.curve_data(run)["objective"]
        losses = np.array([s.train_loss for s in run.history])
        np.testing.assert_allclose(drawn, losses / losses[0])
        np.testing.assert_array_equal(epochs, np.arange(1, EPOCHS + 1))
        # Each curve covers a fair part of the axis: neither is flattened by the other's scale.
        assert (drawn.max() - drawn.min()) / span > 0.25
    low, high = view.objective_plot.getViewBox().viewRange()[1]
    assert low <= 0.55 / 0.8 and high >= 1.0
    assert view.objective_plot.getAxis("left").labelText == "objective / epoch 1"
    assert "penalty" in view.objective_caption.text()


# ------------------------------------------------------------------ error plot
def test_train_and_test_curves_are_the_chosen_metric(qtbot, view):
    run = sgd_like()
    view.add_run(run)
    drawn = view.curve_data(run)
    history = run.history
    np.testing.assert_allclose(drawn["train"][1], [s.metrics["train_rmse"] for s in history])
    np.testing.assert_allclose(drawn["test"][1], [s.metrics["rmse"] for s in history])
    assert view.error_axis_label() == "RMSE (train sample dashed, test solid)"
    assert view._curves[run].train.opts["pen"].style() == Qt.PenStyle.DashLine
    assert view._curves[run].test.opts["pen"].style() == Qt.PenStyle.SolidLine
    # The overfitting gap is there to see: the final train error is below the test error.
    assert drawn["train"][1][-1] < drawn["test"][1][-1] - 0.1

    view.show_metric("mae")
    drawn = view.curve_data(run)
    np.testing.assert_allclose(drawn["train"][1], [s.metrics["train_mae"] for s in history])
    np.testing.assert_allclose(drawn["test"][1], [s.metrics["mae"] for s in history])
    assert view.error_axis_label() == "MAE (train sample dashed, test solid)"
    assert view.metric_combo.currentData() == "mae"


def test_reference_line_sits_at_the_reference_value_of_the_metric_shown(qtbot, view):
    run = sgd_like()
    view.add_run(run)
    qtbot.wait(20)
    assert view.reference_lines() == [("baseline (mean + biases) 0.9457", pytest.approx(0.9457))]
    low, high = view.error_plot.getViewBox().viewRange()[1]
    assert low < 0.9457 < high
    view.show_metric("mae")
    assert view.reference_lines() == [("baseline (mean + biases) 0.7485", pytest.approx(0.7485))]
    low, high = view.error_plot.getViewBox().viewRange()[1]
    assert low < 0.7485 < high


def test_two_runs_on_one_split_draw_one_reference_line(qtbot, view):
    view.add_run(sgd_like("sgd #1"))
    view.add_run(sgd_like("sgd #2", seed=1))
    assert len(view.reference_lines()) == 1


def test_metric_box_offers_the_shown_families_and_defaults_to_the_focused_runs_main(qtbot, view):
    sgd, bpr, nmf = sgd_like(), bpr_like(), nmf_like()
    for run in (sgd, bpr, nmf):
        view.add_run(run)
    box = view.metric_combo
    assert [box.itemData(i) for i in range(box.count())] == ["rmse", "mae", "precision@10", "ndcg@10",
                                                            "relative_error"]
    # The last run added has the focus; fitted on all data it has only a train curve.
    assert box.currentData() == "relative_error"
    assert view.error_axis_label() == "relative error (training cells dashed)"
    assert len(view.curve_data(nmf)["train"][0]) == EPOCHS and len(view.curve_data(nmf)["test"][0]) == 0
    assert len(view.curve_data(sgd)["test"][0]) == 0  # sgd has no relative error: nothing drawn for it

    view.select_run(bpr)
    assert box.currentData() == "precision@10"
    assert view.error_axis_label() == "precision@10 (test solid)"
    assert view.reference_lines() == [("popularity 0.1100", pytest.approx(0.11))]
    view.select_run(sgd)
    assert box.currentData() == "rmse"

    # A metric picked in the box stays while the focused run reports it.
    view.show_metric("mae")
    view.select_run(bpr)
    assert box.currentData() == "precision@10"
    view.select_run(sgd)
    assert box.currentData() == "mae"

    # Families of hidden runs leave the box.
    view.table.item(1, 0).setCheckState(Qt.CheckState.Unchecked)
    assert "precision@10" not in [box.itemData(i) for i in range(box.count())]


# ------------------------------------------------------------------ legend
def test_a_hidden_run_leaves_the_legend_and_the_plots(qtbot, view):
    first, second = sgd_like("sgd #1"), bpr_like("bpr #1")
    view.add_run(first)
    view.add_run(second)
    assert view.legend_names() == ["sgd #1", "bpr #1"]
    view.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert first.visible is False
    assert view.legend_names() == ["bpr #1"]
    assert "sgd #1" not in view.legend.text()
    assert not view._curves[first].objective.isVisible() and not view._curves[first].test.isVisible()
    view.table.item(0, 0).setCheckState(Qt.CheckState.Checked)
    assert view.legend_names() == ["sgd #1", "bpr #1"]


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_legend_does_not_cover_either_plots_data(qtbot, view, size):
    import pyqtgraph as pg

    for k in range(4):
        view.add_run(sgd_like(f"Biased SGD (Funk SVD) #{k + 1}", seed=k))
        view.add_run(bpr_like(f"BPR (Bayesian personalized ranking) #{k + 1}"))
    view.resize(*size)
    qtbot.wait(50)
    legend = global_rect(view.legend)
    assert view.legend.isVisible() and legend.height() > 0
    for plot in (view.objective_plot, view.error_plot):
        assert not legend.intersects(data_area(plot))
        assert not [item for item in plot.scene().items() if isinstance(item, pg.LegendItem)]
    assert len(view.legend_names()) == 8


# ------------------------------------------------------------------ live fits
def test_live_fit_fixes_the_epochs_and_only_grows_the_error_axis(qtbot, view):
    full = sgd_like()
    run = make_run("sgd", "sgd #1", [], {}, baseline=full.baseline_metrics, reference_name=full.reference_name)
    run.status = "running"
    view.add_run(run)
    view.fit_started(EPOCHS)
    ranges = []
    for step in full.history:
        run.model.history_.append(step)
        view.refresh_run(run)
        ranges.append(tuple(view.error_plot.getViewBox().viewRange()[1]))
        assert tuple(view.objective_plot.getViewBox().viewRange()[0]) == pytest.approx((-0.4, EPOCHS + 0.4))
    lows, highs = np.array(ranges).T
    assert np.all(np.diff(lows) <= 0) and np.all(np.diff(highs) >= 0)  # grows, never shrinks
    assert len(set(ranges)) < len(ranges) / 2  # and not at every epoch
    drawn = view.curve_data(run)
    assert drawn["test"][1].min() >= lows[-1] and drawn["test"][1].max() <= highs[-1]
    assert view.curve_points(run) == EPOCHS

    run.status = "finished"
    view.fit_ended()
    low, high = view.error_plot.getViewBox().viewRange()[1]
    values = np.concatenate([drawn["train"][1], drawn["test"][1]])
    assert low <= values.min() and high >= values.max()
    assert (high - low) <= 1.2 * (values.max() - values.min())  # fitted to the curves again
