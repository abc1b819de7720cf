"""Training: the objective and the error per epoch for every run, train against test, the reference dashed.

Two plots, because they answer two questions. The *objective* (what the model
minimises, penalty included) says whether the optimiser converges; its scale
differs by orders of magnitude between models (NMF's squared Frobenius norm is
~18,000 where SGD's mean squared error is ~0.8), so each run is drawn divided by
its first epoch's value. The *error* (one metric, no penalty) says whether the
model generalises: each run's train curve (dashed) and test curve (solid) in the
same metric, so a widening gap reads as overfitting, with the reference model's
value as a grey dashed line to beat.

The legend is a widget below the plots, never an item over the data, and lists
only the runs that are ticked in the table.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...inspect import training_curves
from .base import ResultView, color, fit_seconds, seconds_text

__all__ = ["TrainingView", "main_metric", "main_family", "metric_family", "metric_axis_label"]

# The metric a run is judged by, for each kind of model, in order of preference.
_PREFERRED = ("rmse", "precision@10", "ndcg@10", "relative_error", "mae")
# Order of the error plot's metric choices; families not listed follow alphabetically.
_FAMILY_ORDER = ("rmse", "mae", "precision@10", "ndcg@10", "relative_error")
_TRAIN_PREFIX = "train_"
#: Early stopping's validation part (carved from the training data, never the test set).
_VAL_PREFIX = "val_"
_DISPLAY = {"rmse": "RMSE", "mae": "MAE", "ndcg@10": "NDCG@10", "relative_error": "relative error",
            "absolute_error": "absolute error"}
# What each curve is computed on: rating errors on a fixed sample of training
# entries; reconstruction errors on the cells the factorization was fitted to.
_TRAIN_DATA = {"relative_error": "training cells", "absolute_error": "training cells"}
_TEST_DATA = {"relative_error": "held-out cells", "absolute_error": "held-out cells"}
_REFERENCE_PEN = pg.mkPen("#555555", width=1.5, style=Qt.PenStyle.DashLine)
_OBJECTIVE_CAPTION = ("Objective: what each model minimises, penalty included, divided by its value at epoch 1 "
                      "(models' objectives differ in scale by orders of magnitude).")
_ERROR_CAPTION = ("Error without the penalty: train dashed, test solid; a gap that widens while the train "
                  "curve falls is overfitting.")


def main_metric(metrics: dict) -> str | None:
    """The key a run is judged by among final ``metrics`` (``rmse``, ``precision@10``...)."""
    return next((m for m in _PREFERRED if m in metrics), next(iter(metrics), None))


def metric_family(key: str) -> str:
    """The metric a per-epoch key measures: ``train_rmse``, ``val_rmse`` and ``rmse`` are all ``rmse``."""
    for prefix in (_TRAIN_PREFIX, _VAL_PREFIX):
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def main_family(keys) -> str | None:
    """The metric family a run's error plot shows by default.

    Parameters
    ----------
    keys : iterable of str
        Per-epoch metric keys, ``train_`` ones included.

    Returns
    -------
    str or None
        ``rmse`` for rating models, ``precision@10`` for ranking models,
        ``relative_error`` for decompositions (also when only
        ``train_relative_error`` is there: a fit on all data), else the first
        family; None without keys.
    """
    families = [metric_family(k) for k in keys]
    return next((m for m in _PREFERRED if m in families), families[0] if families else None)


def _display(family: str) -> str:
    return _DISPLAY.get(family, family)


def metric_axis_label(family: str, has_train: bool, has_test: bool, has_validation: bool = False) -> str:
    """The error plot's axis label: the metric and the data each line style is computed on.

    >>> metric_axis_label("rmse", True, True)
    'RMSE (train sample dashed, test solid)'
    """
    parts = []
    if has_train:
        parts.append(f"{_TRAIN_DATA.get(family, 'train sample')} dashed")
    if has_validation:
        parts.append("validation dotted")
    if has_test:
        parts.append(f"{_TEST_DATA.get(family, 'test')} solid")
    return f"{_display(family)} ({', '.join(parts)})" if parts else _display(family)


def _family_sort_key(family: str):
    return (_FAMILY_ORDER.index(family), "") if family in _FAMILY_ORDER else (len(_FAMILY_ORDER), family)


def _lower_is_better(family: str) -> bool:
    from .metrics_table import lower_is_better  # metrics_table imports this module

    return lower_is_better(family)


#: The run history is never shorter than this many rows (its splitter handle stops there).
HISTORY_MIN_ROWS = 4
#: The run history's columns; "parameters" (last) takes the width that is left.
HISTORY_COLUMNS = ("show", "run", "result", "reference", "time", "parameters")

class _RunCurves:
    """The items one run draws: its normalised objective, and its train and test error."""

    def __init__(self, objective, train, test, validation=None, kept=None, stop=None):
        self.objective, self.train, self.test = objective, train, test
        # Early stopping: the validation curve it watched, a star on the epoch kept, a line where it stopped.
        self.validation, self.kept, self.stop = validation, kept, stop
        self.families: set = set()  # metric families seen in this run's history
        self.seen_steps = 0  # steps whose keys are in `families`
        self.objective_bounds = None
        self.error_bounds = None
        self.best_epoch = self.stopped_epoch = None
        self.has_validation = False


class _Axes:
    """One plot's y range: grows with headroom while a fit runs, fits the data otherwise.

    Every range change regenerates the axis' ticks and text; during a live fit
    the range therefore only grows, by a margin, so a curve that creeps past
    the edge costs one re-layout, not one per frame.
    """

    def __init__(self, plot: pg.PlotWidget):
        self.plot = plot
        self.range: tuple[float, float] | None = None

    def update(self, bounds: tuple[float, float] | None, live: bool) -> None:
        if bounds is None:
            return
        low, high = bounds
        span = high - low or max(abs(high), 1e-9) * 0.1
        if live and self.range is not None:
            if low >= self.range[0] and high <= self.range[1]:
                return
            low = min(low - 0.15 * span, self.range[0])
            high = max(high + 0.15 * span, self.range[1])
        else:
            low, high = low - 0.05 * span, high + 0.05 * span
        if self.range != (low, high):
            self.range = (low, high)
            self.plot.setYRange(low, high, padding=0)


class TrainingView(ResultView):
    """The objective and the error per epoch for every run, overlaid, with the run history.

    The main window adds a run with :meth:`add_run`, calls
    :meth:`fit_started` / :meth:`fit_ended` around a live fit and
    :meth:`refresh_run` (throttled) while its history grows.
    """

    title = "Training"
    shows_one_run = False
    run_selected = Signal(object)
    visibility_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list = []
        self._curves: dict = {}  # run -> _RunCurves
        self._metric_name: str | None = None  # the family the error plot shows
        self._chosen_metric: str | None = None  # the family the user picked in the box, if any
        self._focus = None  # the run whose main metric is the default
        self._live = False
        self._reference_lines: list = []
        self._reference_key = None
        self._axis_label = None

        # The headings are Qt labels above the plots, not plot titles: the metric box sits
        # beside "Error" and both data areas start at the same height.
        self.objective_plot = pg.PlotWidget()
        self.objective_plot.setLabel("left", "objective / epoch 1")
        self.error_plot = pg.PlotWidget()
        for plot in (self.objective_plot, self.error_plot):
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.getAxis("left").enableAutoSIPrefix(False)  # "rmse (x0.001)" reads as a different number
            plot.enableAutoRange(y=False)
        self._objective_axes = _Axes(self.objective_plot)
        self._error_axes = _Axes(self.error_plot)

        self.metric_combo = QComboBox()
        self.metric_combo.setToolTip("The metric the error plot shows, for every run that reports it")
        # Sized to its items as they change: sized when first shown (empty, before any fit)
        # it cut "relative error" to "relative e".
        self.metric_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo.activated.connect(self._on_metric_activated)
        self.objective_caption = QLabel(_OBJECTIVE_CAPTION)
        self.error_caption = QLabel(_ERROR_CAPTION)
        for caption in (self.objective_caption, self.error_caption):
            caption.setWordWrap(True)
            caption.setStyleSheet("color: #555;")
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setContentsMargins(6, 2, 6, 2)
        self._legend_names: list[str] = []

        # The run's name already carries its method ("BPR (Bayesian personalized ranking) #1"):
        # a separate method column made the history scroll sideways at 1280 px.
        self.table = QTableWidget(0, len(HISTORY_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(HISTORY_COLUMNS))
        self.table.horizontalHeaderItem(HISTORY_COLUMNS.index("reference")).setToolTip(
            "The reference model (mean + biases, or popularity) in the same metric on the same split")
        self.table.horizontalHeaderItem(HISTORY_COLUMNS.index("result")).setToolTip(
            "The run's final test score in its main metric (hover a cell for all of them)")
        self.table.horizontalHeaderItem(HISTORY_COLUMNS.index("time")).setToolTip(
            "Training time: the model's own fit time (the first fold's, for k-fold), as the Metrics table and the status bar give it")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(len(HISTORY_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(0, 44)
        self.table.setWordWrap(False)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter runs: words from the name, method or parameters…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Only runs whose name, result or parameters contain every word are listed and drawn")
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.filter_note = QLabel("")
        self.filter_note.setStyleSheet("color: #555;")
        self.legend_check = QCheckBox("legend")
        self.legend_check.setChecked(True)
        self.legend_check.setToolTip("Show or hide the legend under the plots (the table's colour cells say the same)")
        self.legend_check.toggled.connect(self._on_legend_toggled)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection)

        objective_panel = QWidget()
        objective_layout = QVBoxLayout(objective_panel)
        objective_layout.setContentsMargins(0, 0, 0, 0)
        objective_heading = QHBoxLayout()
        objective_heading.addWidget(_heading("Objective"))
        objective_heading.addStretch(1)
        objective_heading.addWidget(_spacer_like(self.metric_combo))
        objective_layout.addLayout(objective_heading)
        objective_layout.addWidget(self.objective_plot, 1)
        objective_layout.addWidget(self.objective_caption)
        error_panel = QWidget()
        error_layout = QVBoxLayout(error_panel)
        error_layout.setContentsMargins(0, 0, 0, 0)
        chooser = QHBoxLayout()
        chooser.addWidget(_heading("Error"))
        chooser.addSpacing(12)
        chooser.addWidget(QLabel("metric:"))
        chooser.addWidget(self.metric_combo)
        chooser.addStretch(1)
        error_layout.addLayout(chooser)
        error_layout.addWidget(self.error_plot, 1)
        error_layout.addWidget(self.error_caption)
        # The objective is the secondary question: the error plot gets more room.
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(objective_panel)
        plots.addWidget(error_panel)
        plots.setStretchFactor(0, 2)
        plots.setStretchFactor(1, 3)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(plots, 1)
        upper_layout.addWidget(self.legend)
        # The history is dragged taller or shorter, never below HISTORY_MIN_ROWS rows
        # (it was two rows tall, one with a horizontal scroll bar).
        self.table.setMinimumHeight(self.history_height(HISTORY_MIN_ROWS))
        history = QWidget()
        history_layout = QVBoxLayout(history)
        history_layout.setContentsMargins(0, 2, 0, 0)
        history_layout.setSpacing(2)
        tools = QHBoxLayout()
        tools.addWidget(_heading("Runs"))
        tools.addWidget(self.filter_edit, 1)
        tools.addWidget(self.filter_note)
        tools.addWidget(self.legend_check)
        history_layout.addLayout(tools)
        history_layout.addWidget(self.table, 1)
        self.history_panel = history
        outer = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(upper)
        outer.addWidget(history)
        outer.setChildrenCollapsible(False)
        outer.setStretchFactor(0, 3)
        outer.setStretchFactor(1, 1)
        self.history_splitter = outer
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer)
        self._update_legend()

    # ----------------------------------------------------------- filter and legend
    def _matches(self, run) -> bool:
        words = self.filter_edit.text().lower().split()
        if not words:
            return True
        row = self.runs.index(run) if run in self.runs else -1
        texts = [run.name, getattr(run.model, "name", ""), run.describe_params()]
        if row >= 0:
            texts += [self.table.item(row, col).text() for col in range(1, self.table.columnCount())
                      if self.table.item(row, col) is not None]
        haystack = " ".join(texts).lower()
        return all(word in haystack for word in words)

    def is_drawn(self, run) -> bool:
        """Whether a run's curves are drawn: ticked in the history and not filtered out."""
        return run.visible and self._matches(run)

    def set_filter(self, text: str) -> None:
        """List and draw only the runs whose name, result or parameters contain every word of ``text``."""
        self.filter_edit.setText(text)

    def _on_filter_changed(self, _text: str = "") -> None:
        hidden = 0
        for row, run in enumerate(self.runs):
            matches = self._matches(run)
            hidden += not matches
            self.table.setRowHidden(row, not matches)
            self._apply_visibility(run)
        self.filter_note.setText(f"{hidden} of {len(self.runs)} runs hidden" if hidden else "")
        self._update_metric_choices()
        self._update_reference_lines()
        self._update_ranges()
        self._update_legend()
        self.visibility_changed.emit()

    def _on_legend_toggled(self, on: bool) -> None:
        self.legend.setVisible(on)

    def history_height(self, rows: int) -> int:
        """Height in pixels at which the run history shows ``rows`` rows (header and a scroll bar included)."""
        table = self.table
        return (table.horizontalHeader().sizeHint().height() + rows * table.verticalHeader().defaultSectionSize()
                + table.horizontalScrollBar().sizeHint().height() + 2 * table.frameWidth())

    # ----------------------------------------------------------- runs
    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self._metric_name = None
        self._chosen_metric = None
        self._focus = None
        for run in list(self.runs):
            self._remove_curves(run)
        self.runs = []
        self.table.setRowCount(0)
        self._set_reference_lines([])
        self._objective_axes.range = self._error_axes.range = None
        self._update_metric_choices()
        # With no metric chosen _set_metric returns early: the old data's axis name
        # ("Validation precision@10" over a text corpus) and protocol must go here.
        self._update_axis_label()
        self.error_caption.setText(_ERROR_CAPTION)
        self._update_legend()

    def add_run(self, run) -> None:
        """A new run appears in the history; its curves fill as steps arrive."""
        self.runs.append(run)
        self._focus = run
        k = len(self.runs) - 1
        solid = pg.mkPen(color(k), width=2)
        dashed = pg.mkPen(color(k), width=2, style=Qt.PenStyle.DashLine)
        marker = {"symbol": "o", "symbolSize": 4, "symbolBrush": color(k), "symbolPen": None}
        dotted = pg.mkPen(color(k), width=2, style=Qt.PenStyle.DotLine)
        kept = pg.ScatterPlotItem(size=16, symbol="star", brush=pg.mkBrush(color(k)), pen=pg.mkPen("#000000", width=1))
        kept.setZValue(10)
        stop = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(color(k), width=1, style=Qt.PenStyle.DashDotLine),
                               label="stopped", labelOpts={"position": 0.92, "color": color(k)})
        stop.setVisible(False)
        self.error_plot.addItem(kept)
        self.error_plot.addItem(stop)
        self._curves[run] = _RunCurves(
            self.objective_plot.plot([], [], pen=solid, **marker),
            self.error_plot.plot([], [], pen=dashed),
            self.error_plot.plot([], [], pen=solid, **marker),
            self.error_plot.plot([], [], pen=dotted),
            kept,
            stop,
        )
        self._append_row(run)
        self.refresh_run(run)
        self._update_legend()

    def _remove_curves(self, run) -> None:
        curves = self._curves.pop(run, None)
        if curves is not None:
            self.objective_plot.removeItem(curves.objective)
            for item in (curves.train, curves.test, curves.validation, curves.kept, curves.stop):
                self.error_plot.removeItem(item)

    def fit_started(self, n_epochs: int) -> None:
        """Fix the epoch axis for a live fit; the y axes only grow until :meth:`fit_ended`.

        With the x range known up front the epoch axes keep their cached
        tick labels: on a loaded two-core machine regenerating both axes at
        every redraw cost the window a frame in three.
        """
        self._live = True
        top = max([n_epochs] + [len(r.history) for r in self.runs if self.is_drawn(r)])
        for plot in (self.objective_plot, self.error_plot):
            plot.enableAutoRange(x=False)
            plot.setXRange(0, max(top, 1), padding=0.02)

    def fit_ended(self) -> None:
        """Back to fitting the axes to the curves (a cancelled run stops early)."""
        self._live = False
        for plot in (self.objective_plot, self.error_plot):
            plot.enableAutoRange(x=True)
            plot.enableAutoRange(y=False)
        self._update_ranges()

    def refresh_run(self, run) -> None:
        """Redraw one run's curves from its history (called at most ~30 times a second)."""
        curves = self._curves.get(run)
        if curves is None:
            return
        # The worker thread appends to the history while we draw; one snapshot
        # keeps the x and y arrays the same length.
        history = list(run.history)
        before = set(curves.families)
        for step in history[curves.seen_steps:]:
            curves.families.update(metric_family(k) for k in step.metrics)
        curves.seen_steps = len(history)
        if curves.families != before:
            self._update_metric_choices()
            self._update_legend()
        drawn = training_curves(history, self._metric_name)  # after the metric choice settled
        curves.objective.setData(drawn.epochs, drawn.objective)
        curves.objective_bounds = drawn.objective_bounds
        self._draw_error(run, drawn)
        self._apply_visibility(run)
        self._update_reference_lines()
        self._update_ranges()
        self._update_row(run)

    def _draw_error(self, run, drawn) -> None:
        curves = self._curves[run]
        name = self._metric_name
        curves.stopped_epoch = drawn.stopped_epoch
        curves.best_epoch = drawn.best_epoch
        if name is None or name not in curves.families:
            for item in (curves.train, curves.test, curves.validation):
                item.setData([], [])
            curves.kept.setData([], [])
            curves.has_validation = False
            curves.error_bounds = None
            return
        curves.train.setData(*((drawn.epochs, drawn.train) if drawn.train.size else ([], [])))
        curves.test.setData(*((drawn.epochs, drawn.test) if drawn.test.size else ([], [])))
        curves.validation.setData(*((drawn.epochs, drawn.validation) if drawn.validation.size else ([], [])))
        curves.has_validation = bool(drawn.validation.size)
        kept_value = drawn.value_at(drawn.best_epoch) if drawn.best_epoch is not None else None
        curves.kept.setData(*(([drawn.best_epoch], [kept_value]) if kept_value is not None else ([], [])))
        if drawn.stopped_epoch is not None:
            curves.stop.setValue(drawn.stopped_epoch)
        curves.error_bounds = drawn.error_bounds

    # ----------------------------------------------------------- metric choice
    def show_metric(self, family: str) -> None:
        """Show ``family`` (``rmse``, ``precision@10``...) in the error plot, as if picked in the box."""
        self._chosen_metric = family
        self._set_metric(family)

    def _on_metric_activated(self, index: int) -> None:
        family = self.metric_combo.itemData(index)
        if family:
            self.show_metric(family)

    def _shown_families(self) -> list[str]:
        families = set()
        for run in self.runs:
            if self.is_drawn(run) and run in self._curves:
                families |= self._curves[run].families
        return sorted(families, key=_family_sort_key)

    def _default_metric(self, available: list[str]) -> str | None:
        """The user's pick while the focused run reports it, else the focused run's main metric.

        Until the focused run's first epoch arrives the plot keeps what it shows.
        """
        focus = self._curves.get(self._focus)
        focus_families = focus.families if focus is not None else set()
        if self._chosen_metric in available and (not focus_families or self._chosen_metric in focus_families):
            return self._chosen_metric
        if focus_families:
            return main_family(sorted(focus_families, key=_family_sort_key))
        if self._metric_name in available:
            return self._metric_name
        return main_family(available)

    def _update_metric_choices(self) -> None:
        available = self._shown_families()
        current = [self.metric_combo.itemData(i) for i in range(self.metric_combo.count())]
        if current != available:
            self.metric_combo.blockSignals(True)
            self.metric_combo.clear()
            for family in available:
                self.metric_combo.addItem(_display(family), family)
            self.metric_combo.blockSignals(False)
        self._set_metric(self._default_metric(available))

    def _set_metric(self, family: str | None) -> None:
        index = self.metric_combo.findData(family) if family else -1
        if self.metric_combo.currentIndex() != index:
            self.metric_combo.blockSignals(True)
            self.metric_combo.setCurrentIndex(index)
            self.metric_combo.blockSignals(False)
        if family == self._metric_name:
            return
        self._metric_name = family
        self._error_axes.range = None  # a new metric has a scale of its own
        for run in self.runs:
            self._draw_error(run, training_curves(run.history, self._metric_name))
            self._apply_visibility(run)
        self._update_axis_label()
        self._update_reference_lines()
        self._update_ranges()
        self._update_legend()

    def _update_axis_label(self) -> None:
        """Name the metric and the data the drawn line styles are computed on; relabel only on change."""
        name = self._metric_name
        if name is None:
            label = ""
        else:
            shown = [c for r, c in self._curves.items() if self.is_drawn(r)]
            has_train = any(c.train.xData is not None and len(c.train.xData) for c in shown)
            has_test = any(c.test.xData is not None and len(c.test.xData) for c in shown)
            has_validation = any(c.has_validation for c in shown)
            label = metric_axis_label(name, has_train, has_test, has_validation)
        if label != self._axis_label:  # a new label re-lays out the plot
            self._axis_label = label
            self.error_plot.setLabel("left", label)

    def error_axis_label(self) -> str:
        """The error plot's left-axis text (for tests and exports)."""
        return self.error_plot.getAxis("left").labelText

    # ----------------------------------------------------------- reference lines
    def _update_reference_lines(self) -> None:
        """One grey dashed line per distinct reference value among the shown runs drawn in this metric."""
        name = self._metric_name
        key = [name]
        if name is not None:
            for run, curves in self._curves.items():
                # A run with no curve in this metric brings no reference to beat either.
                # The line stands beside the drawn curves, which are the first fold's under k-fold.
                reference = run.curve_reference_metrics or run.baseline_metrics
                value = reference.get(name) if name in curves.families else None
                if self.is_drawn(run) and value is not None and math.isfinite(value):
                    label = (run.reference_name or "reference") + (", fold 1" if run.curve_reference_metrics else "")
                    entry = (label, float(value))
                    if entry not in key:
                        key.append(entry)
        if key != self._reference_key:
            self._set_reference_lines(key[1:])
            self._reference_key = key

    def _set_reference_lines(self, entries) -> None:
        for line in self._reference_lines:
            self.error_plot.removeItem(line)
        self._reference_lines = []
        self._reference_key = None
        # The label sits at the right end on the worse side of the line: shorter runs have
        # ended before the right edge, and models worth keeping finish on the better side.
        above = self._metric_name is None or _lower_is_better(self._metric_name)
        for k, (reference, value) in enumerate(entries):
            line = pg.InfiniteLine(
                pos=value, angle=0, pen=_REFERENCE_PEN, movable=False,
                label=f"{reference} {value:.4f}".replace("{", "{{").replace("}", "}}"),  # a format string
                labelOpts={"position": 0.99 - 0.3 * k, "color": "#333333",
                           "anchors": [(1, 1), (1, 1)] if above else [(1, 0), (1, 0)]},
            )
            self.error_plot.addItem(line, ignoreBounds=True)
            self._reference_lines.append(line)

    def reference_lines(self) -> list[tuple[str, float]]:
        """The reference lines drawn in the error plot, as (label, y value)."""
        return [(line.label.format.replace("{{", "{").replace("}}", "}"), float(line.value()))
                for line in self._reference_lines]

    # ----------------------------------------------------------- drawing state
    def _apply_visibility(self, run) -> None:
        curves = self._curves.get(run)
        if curves is None:
            return
        drawn = self.is_drawn(run)
        for item in (curves.objective, curves.train, curves.test, curves.validation, curves.kept):
            item.setVisible(drawn)
        curves.stop.setVisible(drawn and curves.stopped_epoch is not None)

    def _update_ranges(self) -> None:
        shown = [c for r, c in self._curves.items() if self.is_drawn(r)]
        self._objective_axes.update(_union(c.objective_bounds for c in shown), self._live)
        references = [(value, value) for _, value in self.reference_lines()]
        self._error_axes.update(_union([c.error_bounds for c in shown] + references), self._live)
        self._update_axis_label()

    def _update_legend(self) -> None:
        """The runs that are shown, in their colours, and what each line style means."""
        entries, names, any_missing = [], [], False
        for k, run in enumerate(self.runs):
            if not self.is_drawn(run):
                continue
            names.append(run.name)
            curves = self._curves.get(run)
            # Runs with no curve in the error plot's metric are still in the objective plot.
            missing = bool(self._metric_name and curves is not None and curves.families
                           and self._metric_name not in curves.families)
            any_missing |= missing
            name = html.escape(run.name)
            entries.append(f"<span style='color:{color(k)}; font-weight:bold'>━━</span>&nbsp;"
                           + (f"<span style='color:#8a8a8a'>{name}</span>" if missing else name))
        if not entries:
            self._legend_names = []
            self.legend.setText("<span style='color:#777'>No runs shown: tick one in the table.</span>")
            return
        key = "solid: test &nbsp; dashed: train &nbsp; grey dashed: reference model"
        if any(c.has_validation for r, c in self._curves.items() if self.is_drawn(r)):
            key += " &nbsp; dotted: validation (early stopping) &nbsp; ★: epoch kept"
        if any_missing:
            key += f" &nbsp; grey names: no {html.escape(_display(self._metric_name))}"
        self._legend_names = names
        self.legend.setText("&nbsp;&nbsp;&nbsp; ".join(entries)
                            + f"<span style='color:#555'>&nbsp;&nbsp;·&nbsp;&nbsp;{key}</span>")

    def legend_names(self) -> list[str]:
        """The run names the legend lists, in order."""
        return list(self._legend_names)

    # ----------------------------------------------------------- table
    def _append_row(self, run) -> None:
        self.table.blockSignals(True)
        row = self.table.rowCount()
        self.table.insertRow(row)
        check = QTableWidgetItem()
        check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        check.setCheckState(Qt.CheckState.Checked if run.visible else Qt.CheckState.Unchecked)
        check.setBackground(pg.mkColor(color(row)))
        check.setToolTip("Show this run's curves (the cell's colour is the run's colour)")
        self.table.setItem(row, 0, check)
        for col in range(1, len(HISTORY_COLUMNS)):
            self.table.setItem(row, col, QTableWidgetItem(""))
        self.table.blockSignals(False)

    def _update_row(self, run) -> None:
        row = self.runs.index(run)
        history = run.history
        last = history[-1] if history else None
        metrics = run.metrics or (last.metrics if last else {})
        shown = [k for k in metrics if not k.startswith(_TRAIN_PREFIX)] or list(metrics)
        main = main_metric({k: None for k in shown})
        # One metric per cell (the main one, which the reference is given in): with two, and the
        # reference model's name, the history scrolled sideways at 1280 px. Tooltips say the rest.
        result = f"{main} {metrics[main]:.4f}" if main in metrics else ""
        result_all = ", ".join(f"{k} {metrics[k]:.4f}" for k in shown)
        reference_value = run.baseline_metrics.get(main) if main else None
        reference = "" if reference_value is None else f"{main} {reference_value:.4f}"
        reference_tip = "" if reference_value is None else \
            f"{run.reference_name or 'reference model'}: {main} {reference_value:.4f}\n{run.protocol}".strip()
        status = "" if run.status == "finished" else f" ({run.status})"
        # The same number the Metrics table and the status bar give (one source: fit_seconds).
        training = fit_seconds(run)
        seconds = seconds_text(training) if training is not None else ""
        texts = [run.name + status, result, reference, seconds, run.describe_params()]
        self.table.blockSignals(True)
        for col, text in enumerate(texts, start=1):
            self.table.item(row, col).setText(text)
            self.table.item(row, col).setToolTip(text)
        self.table.item(row, HISTORY_COLUMNS.index("result")).setToolTip(result_all)
        self.table.item(row, HISTORY_COLUMNS.index("reference")).setToolTip(reference_tip)
        self.table.blockSignals(False)
        if run.status != "running":  # measuring text is slow; the widths settle when the fit ends
            for col in range(1, len(HISTORY_COLUMNS) - 1):
                self.table.resizeColumnToContents(col)
                self.table.setColumnWidth(col, min(self.table.columnWidth(col), 220))
        self.table.setRowHidden(row, not self._matches(run))

    def _on_item_changed(self, item) -> None:
        if item.column() != 0:
            return
        run = self.runs[item.row()]
        run.visible = item.checkState() == Qt.CheckState.Checked
        self._apply_visibility(run)
        self._update_metric_choices()
        self._update_reference_lines()
        self._update_ranges()
        self._update_legend()
        self.visibility_changed.emit()

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if rows:
            self.run_selected.emit(self.runs[min(rows)])

    def select_run(self, run) -> None:
        """Focus a run: its main metric (or the one picked, if it has it) fills the error plot."""
        if run in self.runs:
            self._focus = run
            self._update_metric_choices()
            self.error_caption.setText(run.protocol or _ERROR_CAPTION)
            self.table.blockSignals(True)
            self.table.selectRow(self.runs.index(run))
            self.table.blockSignals(False)

    # ----------------------------------------------------------- export / tests
    def export_plot(self):
        return self.error_plot.getPlotItem()

    def export_table(self):
        return self.table

    def curve_points(self, run) -> int:
        """Number of points drawn for a run's objective curve (for tests)."""
        x, _ = self._curves[run].objective.getData()
        return 0 if x is None else len(x)

    def curve_data(self, run) -> dict:
        """What is drawn for a run: ``objective``, ``train`` and ``test`` as (epochs, values) arrays."""
        curves = self._curves[run]
        out = {}
        for key, item in (("objective", curves.objective), ("train", curves.train), ("test", curves.test)):
            x, y = item.getData()
            out[key] = (np.empty(0) if x is None else np.asarray(x), np.empty(0) if y is None else np.asarray(y))
        return out


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    label.setFont(font)
    return label


def _spacer_like(widget: QWidget) -> QWidget:
    """An empty widget as tall as ``widget``, so both headings rows have one height."""
    spacer = QWidget()
    spacer.setFixedSize(1, widget.sizeHint().height())
    return spacer


def _union(bounds) -> tuple[float, float] | None:
    bounds = [b for b in bounds if b is not None]
    if not bounds:
        return None
    return min(b[0] for b in bounds), max(b[1] for b in bounds)
