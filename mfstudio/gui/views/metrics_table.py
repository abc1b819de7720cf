"""Metrics: every run side by side, one row each, with the baseline it has to beat."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ...experiment import METRIC_DESCRIPTIONS
from .base import ResultView, color
from .base import fit_seconds, seconds_text
from .training import main_metric

__all__ = ["MetricsView", "lower_is_better"]

# Metric columns come in this order; anything else follows in order of appearance.
_ORDER = ("rmse", "mae", "precision@10", "recall@10", "ndcg@10", "map@10", "auc", "coverage@10",
          "relative_error", "train_relative_error", "explained_variance_ratio", "frobenius_share", "nmi", "purity",
          "absolute_error")
#: Bookkeeping keys of the scores that are not metrics (how many users were ranked).
_NOT_SHOWN = ("ranking_users", "ranking_users_total", "ranking_cold_users", "ranking_auc_negatives")
RUN_ROLE = Qt.ItemDataRole.UserRole
NUMBER_ROLE = Qt.ItemDataRole.UserRole + 1
_BETTER, _WORSE = QColor("#0a7d32"), QColor("#b00020")


def lower_is_better(metric: str) -> bool:
    """Errors and losses go down as a model improves; precision, recall, NDCG, MAP go up."""
    name = metric.lower()
    return any(word in name for word in ("rmse", "mae", "error", "loss", "mse"))


class _Item(QTableWidgetItem):
    """A cell that sorts by its number (blank cells last) and otherwise by text."""

    def __init__(self, text: str, number: float | None = None):
        super().__init__(text)
        if number is not None:
            self.setData(NUMBER_ROLE, float(number))
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        a, b = self.data(NUMBER_ROLE), other.data(NUMBER_ROLE)
        if a is not None or b is not None:
            if a is None:
                return False
            if b is None:
                return True
            return a < b
        return self.text().lower() < other.text().lower()


def _fmt(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)



class MetricsView(ResultView):
    """A table of every run's final metrics, the baseline's and the time each fit took.

    The main window gives it the whole run list with :meth:`set_runs` (when a
    run starts, finishes or a project opens) and the current run with
    :meth:`set_run`, which is highlighted.
    """

    title = "Metrics"
    shows_one_run = False
    #: The user clicked a run's row.
    run_selected = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: list = []
        self.metric_names: list[str] = []

        self.note = QLabel()
        self.note.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(True)
        self.table.itemSelectionChanged.connect(self._on_selection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        self.refresh()

    # ---------------------------------------------------------- ResultView
    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self.runs = []
        self.refresh()

    def set_runs(self, runs) -> None:
        """Show these runs, one row each (the main window's run history)."""
        self.runs = list(runs)
        self.refresh()
        if self.run in self.runs:
            self.select_run(self.run)

    def set_run(self, run) -> None:
        """Highlight a run; a run not yet listed is added (with the window's whole history when it has one)."""
        super().set_run(run)
        if run is None:
            self.refresh()
            return
        if run not in self.runs:
            history = getattr(self.window(), "runs", None)
            if isinstance(history, list) and run in history:
                self.runs = list(history)
            else:
                self.runs.append(run)
        self.refresh()
        self.select_run(run)

    def applies_to(self, dataset, run) -> bool:
        return dataset is not None and (bool(self.runs) or run is not None)

    def export_table(self):
        return self.table

    # -------------------------------------------------------------- table
    @staticmethod
    def _metrics(run) -> dict:
        if run.metrics:
            metrics = dict(run.metrics)
        else:
            history = run.history
            metrics = dict(history[-1].metrics) if history else {}
        return {k: v for k, v in metrics.items() if k not in _NOT_SHOWN}

    @staticmethod
    def _seconds(run) -> float | None:
        return fit_seconds(run)

    def headers(self) -> list[str]:
        model = self.table.model()
        return [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]

    def refresh(self) -> None:
        """Rebuild the table from the runs (their metrics and status may have changed)."""
        seen: list[str] = []
        for run in self.runs:
            for name in self._metrics(run):
                if name not in seen:
                    seen.append(name)
        self.metric_names = [m for m in _ORDER if m in seen] + [m for m in seen if m not in _ORDER]
        # Short columns first so the numbers are on screen; the long texts last. "baseline" is the
        # baseline's value of the run's main metric (the one "vs baseline" names).
        headers = (["run", "model"] + self.metric_names
                   + ["baseline", "vs baseline", "fit time", "status", "parameters", "protocol"])

        table = self.table
        table.setSortingEnabled(False)
        table.blockSignals(True)
        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        for col, name in enumerate(headers):
            if name in METRIC_DESCRIPTIONS:
                table.horizontalHeaderItem(col).setToolTip(METRIC_DESCRIPTIONS[name])
        table.setRowCount(len(self.runs))
        bold = QFont()
        bold.setBold(True)
        best = self._best_values()
        for row, run in enumerate(self.runs):
            metrics = self._metrics(run)
            model = run.model
            name = _Item(run.name)
            name.setData(RUN_ROLE, row)
            name.setForeground(QColor(color(row)))
            name.setFont(bold)
            cells = [name, _Item(model.title or model.name)]
            for metric in self.metric_names:
                value = metrics.get(metric)
                spread = getattr(run, "metrics_spread", {}).get(metric)
                text = "" if value is None else _fmt(value) + (f" ± {spread:.4f}" if spread is not None else "")
                cell = _Item(text, value)
                if spread is not None:
                    cell.setToolTip("mean ± standard deviation over the folds")
                if value is not None and best.get(metric) is not None and value == best[metric]:
                    cell.setFont(bold)
                    cell.setToolTip(f"best {metric} of these runs")
                cells.append(cell)
            main = main_metric(metrics)
            value = run.baseline_metrics.get(main) if main else None
            baseline = _Item("" if value is None else _fmt(value), value)
            folds = bool(getattr(run, "metrics_spread", None))
            where = "mean over the same folds, fitted on each" if folds else "on the same split"
            if value is not None:
                baseline.setToolTip(f"{run.reference_name or 'the baseline'}: its {main}, {where}")
            cells.append(baseline)
            cells.append(self._versus(metrics, run.baseline_metrics, where))
            seconds = self._seconds(run)
            cells.append(_Item("" if seconds is None else seconds_text(seconds), seconds))
            status = _Item(run.status)
            if run.status in ("failed", "cancelled"):
                status.setForeground(_WORSE)
            cells.append(status)
            protocol = getattr(run, "protocol", "")
            split_text = f"{protocol}: {run.split_description}" if protocol else run.split_description
            params, split = _Item(run.describe_params()), _Item(split_text)
            params.setToolTip(run.describe_params())
            split.setToolTip(split_text)
            cells += [params, split]
            for col, cell in enumerate(cells):
                table.setItem(row, col, cell)
        table.blockSignals(False)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, most in ((0, 240), (1, 130), (len(headers) - 2, 240)):
            table.setColumnWidth(col, min(table.columnWidth(col), most))
        self._update_note()

    def _best_values(self) -> dict:
        best = {}
        for metric in self.metric_names:
            values = [self._metrics(r).get(metric) for r in self.runs]
            values = [v for v in values if v is not None and math.isfinite(v)]
            if len(values) > 1:
                best[metric] = min(values) if lower_is_better(metric) else max(values)
        return best

    @staticmethod
    def _versus(metrics: dict, baseline: dict, where: str = "on the same split") -> QTableWidgetItem:
        main = main_metric(metrics)
        value, base = (metrics.get(main), baseline.get(main)) if main else (None, None)
        if value is None or base is None or not base or not math.isfinite(value):
            return _Item("")
        gain = (base - value) / abs(base) if lower_is_better(main) else (value - base) / abs(base)
        if abs(gain) < 0.0005:
            item = _Item("same", gain)
        else:
            item = _Item(f"{abs(gain):.1%} {'better' if gain > 0 else 'worse'}", gain)
            item.setForeground(_BETTER if gain > 0 else _WORSE)
        item.setToolTip(f"{main}: {value:.4f} against the baseline's {base:.4f}, {where}; "
                        f"{'lower' if lower_is_better(main) else 'higher'} is better")
        return item

    def _update_note(self) -> None:
        if not self.runs:
            self.note.setText("No runs yet: fit a model and its final numbers appear here, one row per run.")
            return
        directions = []
        if any(lower_is_better(m) for m in self.metric_names):
            directions.append("lower is better for " + ", ".join(m for m in self.metric_names if lower_is_better(m)))
        if any(not lower_is_better(m) for m in self.metric_names):
            directions.append("higher for " + ", ".join(m for m in self.metric_names if not lower_is_better(m)))
        self.note.setText(
            f"<b>{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}</b>, each scored as its protocol says "
            "(last column): on its test set, or on all data for decompositions. Hover a header for what it measures. "
            "Best value of each metric in bold; " + "; ".join(directions) + ". "
            "<i>baseline</i> and <i>vs baseline</i> compare each run's main metric with the baseline's on the same "
            "split. Click a column header to sort."
        )

    # ------------------------------------------------------- highlighting
    def row_of(self, run) -> int:
        """The table row showing ``run`` (rows move when the user sorts), -1 if absent."""
        if run not in self.runs:
            return -1
        index = self.runs.index(run)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(RUN_ROLE) == index:
                return row
        return -1

    def cell(self, row: int, header: str) -> str:
        """Text of a cell by column name (for tests and scripts)."""
        item = self.table.item(row, self.headers().index(header))
        return "" if item is None else item.text()

    def select_run(self, run) -> None:
        row = self.row_of(run)
        if row >= 0:
            self.table.blockSignals(True)
            self.table.selectRow(row)
            self.table.setCurrentCell(row, 0)
            self.table.blockSignals(False)

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if rows:
            index = self.table.item(min(rows), 0).data(RUN_ROLE)
            if index is not None and 0 <= index < len(self.runs):
                self.run_selected.emit(self.runs[index])
