"""Training: live loss and validation curves, the baseline dashed, a history of runs."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout

from .base import ResultView, color

# The validation metric drawn for each kind of model, in order of preference.
_PREFERRED = ("rmse", "precision@10", "ndcg@10", "relative_error", "mae")


def main_metric(metrics: dict) -> str | None:
    return next((m for m in _PREFERRED if m in metrics), next(iter(metrics), None))


class TrainingView(ResultView):
    """Loss and validation metric per epoch for every run, overlaid."""

    title = "Training"
    run_selected = Signal(object)
    visibility_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list = []
        self._curves: dict = {}  # run -> (loss curve, metric curve, baseline line)
        self._metric_name = None
        self._focus = None  # the run whose metric the validation plot shows
        self._dirty: set = set()

        self.loss_plot = pg.PlotWidget(title="Training loss")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 215), pen=pg.mkPen("#c8c8c8"))
        self.metric_plot = pg.PlotWidget(title="Validation")
        self.metric_plot.setLabel("bottom", "epoch")
        self.metric_plot.showGrid(x=True, y=True, alpha=0.2)
        self.metric_plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(255, 255, 255, 215), pen=pg.mkPen("#c8c8c8"))
        for plot in (self.loss_plot, self.metric_plot):
            plot.getAxis("left").enableAutoSIPrefix(False)  # "rmse (x0.001)" reads as a different number

        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(["show", "run", "model", "result", "baseline", "time", "parameters"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection)

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        outer = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(plots)
        outer.addWidget(self.table)
        outer.setStretchFactor(0, 3)
        outer.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer)

    # ----------------------------------------------------------- runs
    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self._metric_name = None
        self._focus = None
        for run in list(self.runs):
            self._remove_curves(run)
        self.runs = []
        self.table.setRowCount(0)

    def add_run(self, run) -> None:
        """A new run appears in the history; its curves fill as steps arrive."""
        self.runs.append(run)
        self._focus = run
        k = len(self.runs) - 1
        pen = pg.mkPen(color(k), width=2)
        loss = self.loss_plot.plot([], [], pen=pen, name=run.name, symbol="o", symbolSize=4, symbolBrush=color(k), symbolPen=None)
        metric = self.metric_plot.plot([], [], pen=pen, name=run.name, symbol="o", symbolSize=4, symbolBrush=color(k), symbolPen=None)
        self._curves[run] = [loss, metric, None]
        self._append_row(run)
        self.refresh_run(run)

    def _remove_curves(self, run) -> None:
        for item in self._curves.pop(run, []):
            if item is not None:
                for plot in (self.loss_plot, self.metric_plot):
                    if item.scene() is plot.scene():
                        plot.removeItem(item)

    def fit_started(self, n_epochs: int) -> None:
        """Fix the epoch axis for a live fit.

        With the x range known up front the epoch axes keep their cached
        tick labels: on a loaded two-core machine regenerating both axes at
        every redraw cost the window a frame in three.
        """
        top = max([n_epochs] + [len(r.history) for r in self.runs if r.visible])
        for plot in (self.loss_plot, self.metric_plot):
            plot.enableAutoRange(x=False)
            plot.setXRange(0, max(top, 1), padding=0.02)

    def fit_ended(self) -> None:
        """Back to fitting the x range to the curves (a cancelled run stops early)."""
        for plot in (self.loss_plot, self.metric_plot):
            plot.enableAutoRange(x=True)

    def refresh_run(self, run) -> None:
        """Redraw one run's curves from its history (called at most ~30 times a second)."""
        curves = self._curves.get(run)
        if curves is None:
            return
        # The worker thread appends to the history while we draw; one snapshot
        # keeps the x and y arrays the same length.
        history = list(run.history)
        epochs = np.array([s.epoch for s in history], dtype=float)
        curves[0].setData(epochs, np.array([s.train_loss for s in history], dtype=float))
        name = main_metric(history[-1].metrics) if history else None
        if name:
            values = np.array([s.metrics.get(name, np.nan) for s in history], dtype=float)
            curves[1].setData(epochs, values)
            if self._metric_name is None or run is self._focus:
                self._show_metric(name)
        baseline_value = run.baseline_metrics.get(name) if name else None
        if baseline_value is not None and curves[2] is None:
            line = pg.InfiniteLine(
                pos=baseline_value, angle=0,
                pen=pg.mkPen(color(self.runs.index(run)), width=1.5, style=Qt.PenStyle.DashLine),
                label=f"baseline {baseline_value:.4f}",
                labelOpts={"position": 0.85, "color": color(self.runs.index(run)), "anchors": [(1, 1), (1, 1)]},
            )
            self.metric_plot.addItem(line)
            curves[2] = line
        self._apply_visibility(run, name)
        self._update_row(run)

    def _show_metric(self, name: str) -> None:
        """The validation plot shows one metric: RMSE and precision@10 share no axis."""
        if name == self._metric_name:  # a new title re-lays out the plot: only on change
            return
        self._metric_name = name
        self.metric_plot.setLabel("left", name)
        self.metric_plot.setTitle(f"Validation {name} (test set)")
        for other in self.runs:
            history = other.history
            self._apply_visibility(other, main_metric(history[-1].metrics) if history else None)

    def _apply_visibility(self, run, metric_name) -> None:
        curves = self._curves.get(run)
        if curves is None:
            return
        same_metric = metric_name is not None and metric_name == self._metric_name
        curves[0].setVisible(run.visible)
        for item in curves[1:]:
            if item is not None:
                item.setVisible(run.visible and same_metric)

    # ----------------------------------------------------------- table
    def _append_row(self, run) -> None:
        self.table.blockSignals(True)
        row = self.table.rowCount()
        self.table.insertRow(row)
        check = QTableWidgetItem()
        check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        check.setCheckState(Qt.CheckState.Checked if run.visible else Qt.CheckState.Unchecked)
        check.setBackground(pg.mkColor(color(row)))
        self.table.setItem(row, 0, check)
        for col in range(1, 7):
            self.table.setItem(row, col, QTableWidgetItem(""))
        self.table.blockSignals(False)

    def _update_row(self, run) -> None:
        row = self.runs.index(run)
        history = run.history
        last = history[-1] if history else None
        metrics = run.metrics or (last.metrics if last else {})
        result = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:2])
        baseline = ", ".join(f"{k} {v:.4f}" for k, v in list(run.baseline_metrics.items())[:1])
        status = "" if run.status == "finished" else f" ({run.status})"
        seconds = f"{last.seconds:.2f} s" if last else ""
        texts = [run.name + status, run.model.title or run.model.name, result, baseline, seconds, run.describe_params()]
        self.table.blockSignals(True)
        for col, text in enumerate(texts, start=1):
            self.table.item(row, col).setText(text)
            self.table.item(row, col).setToolTip(text)
        self.table.blockSignals(False)
        if run.status != "running":  # measuring text is slow; the widths settle when the fit ends
            for col in range(1, 6):
                self.table.resizeColumnToContents(col)

    def _on_item_changed(self, item) -> None:
        if item.column() != 0:
            return
        run = self.runs[item.row()]
        run.visible = item.checkState() == Qt.CheckState.Checked
        self.refresh_run(run)
        self.visibility_changed.emit()

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if rows:
            self.run_selected.emit(self.runs[min(rows)])

    def select_run(self, run) -> None:
        if run in self.runs:
            self._focus = run
            history = run.history
            if history and main_metric(history[-1].metrics):
                self._show_metric(main_metric(history[-1].metrics))
            self.table.blockSignals(True)
            self.table.selectRow(self.runs.index(run))
            self.table.blockSignals(False)

    # ----------------------------------------------------------- export
    def export_plot(self):
        return self.metric_plot.getPlotItem()

    def export_table(self):
        return self.table

    def curve_points(self, run) -> int:
        """Number of points drawn for a run's loss curve (for tests)."""
        x, _ = self._curves[run][0].getData()
        return 0 if x is None else len(x)
