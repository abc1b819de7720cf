"""The Sweep tab: score a grid (or random sample) of one or two parameters and watch the points arrive.

The sweep itself is :class:`mfstudio.sweep.Sweep` (Qt-free: splits, folds,
worker processes, cancel); the points are arranged for drawing by
:func:`mfstudio.inspect.sweep_line` and :func:`mfstudio.inspect.sweep_grid`.
This module only runs the sweep on a thread and draws what it streams:

- one parameter: validation error (mean over the folds, bars one standard
  deviation) and train error against the value, so the U of overfitting shows;
- two grid parameters: a heatmap of the validation error with the values
  written in the cells; two random ranges: the points coloured by their error.

The best point is marked; "Fit best" fits it on all the training data as an
ordinary run (the window's protocol), so every other tab can show it.
"""

from __future__ import annotations

import html
import math
import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QThread, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...inspect import log_ticks, sweep_grid, sweep_line, sweep_scatter
from .base import ResultView, color

__all__ = ["SweepView", "SweepWorker"]

_NONE = "(none)"
_VALID_PEN = pg.mkPen(color(0), width=2)
_TRAIN_PEN = pg.mkPen(color(1), width=2, style=Qt.PenStyle.DashLine)


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class SweepWorker(QThread):
    """Runs :meth:`mfstudio.sweep.Sweep.iter_results` off the GUI thread, one signal per finished point."""

    point = Signal(object)
    failed = Signal(str, str)
    ended = Signal(bool)  # cancelled?

    def __init__(self, sweep):
        super().__init__()
        self.sweep = sweep

    def run(self):  # noqa: D401 - Qt API
        from ..worker import user_message

        try:
            for point in self.sweep.iter_results():
                self.point.emit(point)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence, details behind a button
            self.failed.emit(*user_message(exc))
            return
        self.ended.emit(self.sweep.cancelled)


class SweepView(ResultView):
    """Sweep one or two parameters of the Model panel's method; plot and table fill as points finish.

    The main window sets :attr:`method_provider`, a callable returning the
    Model panel's ``(method name, parameters)``: the parameters not swept are
    taken from there, so the sweep varies exactly what the user asks and
    nothing else. :attr:`fit_requested` carries the best point's full
    parameters back to the window.
    """

    title = "Sweep"
    shows_one_run = False
    #: (method name, parameters): fit these as a normal run.
    fit_requested = Signal(str, dict)
    #: A sweep started (True) or ended (False).
    running_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.method_provider = None
        self.sweep = None
        self.worker: SweepWorker | None = None
        self.points: list = []
        self._model_name: str | None = None
        # Rank measures that a held-out curve does not give (SVD's explained-variance elbow, NMF topics'
        # stability and coherence), computed after a sweep over n_factors of svd or nmf.
        self.measures: dict | None = None
        self._measure_task = None

        # ------------------------------------------------------------ controls
        self.method_label = QLabel()
        self.method_label.setWordWrap(True)
        self.param_boxes = [QComboBox(), QComboBox()]
        self.value_edits = [QLineEdit(), QLineEdit()]
        for k, (box, edit) in enumerate(zip(self.param_boxes, self.value_edits)):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            box.currentIndexChanged.connect(lambda _i, k=k: self._on_param_chosen(k))
            edit.setPlaceholderText("values: 10, 20, 50   or a range: 0.001:0.1:log")
            edit.setToolTip("Comma-separated values for a grid, or LOW:HIGH[:log] for random values "
                            "(then 'trials' says how many points)")
        self.trials = QSpinBox()
        self.trials.setRange(2, 500)
        self.trials.setValue(12)
        self.trials.setToolTip("Number of random points, when a parameter is given as a range LOW:HIGH")
        self.protocol_box = QComboBox()
        self.protocol_box.setToolTip("How each point is scored: k-fold cross-validation (mean and spread over the "
                                     "folds) or one holdout")
        self.protocol_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_box = QComboBox()
        self.metric_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_box.setToolTip("The validation metric the points are ranked by")
        self.jobs = QSpinBox()
        self.jobs.setRange(1, max(1, _cores()))
        self.jobs.setValue(max(1, _cores()))
        self.jobs.setToolTip("Worker processes: points run in parallel, one fit per process")
        self.halving = QCheckBox("successive halving")
        self.halving.setToolTip("Give every point a third of a third of the epochs first, keep the best third, "
                                "and so on: hopeless points stop early (methods trained in epochs)")
        self.run_button = QPushButton("Run sweep")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.best_button = QPushButton("Fit best as a run")
        self.best_button.setEnabled(False)
        self.best_button.setToolTip("Fit the best point's parameters on the training data as an ordinary run")
        self.best_button.clicked.connect(self._fit_best)
        self.state = QLabel("")
        self.state.setWordWrap(True)

        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        for row, (box, edit) in enumerate(zip(self.param_boxes, self.value_edits)):
            form.addWidget(QLabel(f"parameter {row + 1}:"), row, 0)
            form.addWidget(box, row, 1)
            form.addWidget(edit, row, 2)
        form.setColumnStretch(2, 1)
        # Two short rows rather than one long one: at 1280 px one row made the tab scroll sideways.
        options = QHBoxLayout()
        for label, widget in (("scored by", self.protocol_box), ("metric", self.metric_box)):
            options.addWidget(QLabel(label + ":"))
            options.addWidget(widget)
            options.addSpacing(6)
        options.addStretch(1)
        more = QHBoxLayout()
        for label, widget in (("processes", self.jobs), ("random trials", self.trials)):
            more.addWidget(QLabel(label + ":"))
            more.addWidget(widget)
            more.addSpacing(6)
        more.addWidget(self.halving)
        more.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.best_button)
        buttons.addWidget(self.state, 1)

        # ------------------------------------------------------------ results
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.table.setWordWrap(False)
        self.table.setMinimumWidth(250)
        plot_panel = QWidget()
        plot_layout = QVBoxLayout(plot_panel)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addWidget(self.plot, 1)
        plot_layout.addWidget(self.caption)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(plot_panel)
        split.addWidget(self.table)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.method_label)
        layout.addLayout(form)
        layout.addLayout(options)
        layout.addLayout(more)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self._heat = None
        self._heat_texts: list = []
        self._draw()

    # ---------------------------------------------------------- ResultView
    def applies_to(self, dataset, run) -> bool:
        return dataset is not None

    def set_dataset(self, dataset) -> None:
        self.cancel(wait=True)
        super().set_dataset(dataset)
        self.sweep = None
        self.points = []
        self._model_name = None
        self.refresh_method()
        self._draw()

    def export_plot(self):
        return self.plot

    def export_table(self):
        return self.table

    # ---------------------------------------------------------- the method
    def _method(self) -> tuple[str | None, dict]:
        if self.method_provider is None:
            return None, {}
        name, params = self.method_provider()
        return name, dict(params)

    def refresh_method(self) -> None:
        """Follow the Model panel's method: offer its parameters, its metrics and the protocols for the data."""
        from ...models import MODELS
        from ...sweep import default_axis, metric_choices, sweepable_params

        name, _params = self._method()
        if self.dataset is None or name is None:
            self.method_label.setText("Load data and choose a method in the Model panel to sweep its parameters.")
            self.run_button.setEnabled(False)
            return
        cls = MODELS[name]
        fits = self.dataset.kind in cls.kinds
        self.run_button.setEnabled(fits and self.worker is None)
        self.method_label.setText(
            f"<b>Sweeping {html.escape(cls.title or name)}</b> (the method chosen in the Model panel; "
            "the parameters not swept keep their values there)."
            if fits else f"{html.escape(cls.title or name)} does not fit {self.dataset.kind} data: "
                         "choose another method in the Model panel.")
        if name == self._model_name:
            return
        self._model_name = name
        names = sweepable_params(cls) if fits else []
        for k, (box, edit) in enumerate(zip(self.param_boxes, self.value_edits)):
            box.blockSignals(True)
            box.clear()
            if k == 1:
                box.addItem(_NONE, None)
            for param in names:
                box.addItem(param, param)
            box.blockSignals(False)
        if names:
            preferred = next((p for p in ("n_factors", "reg", "lr") if p in names), names[0])
            self.param_boxes[0].setCurrentIndex(self.param_boxes[0].findData(preferred))
            self._on_param_chosen(0)
        self.param_boxes[1].setCurrentIndex(0)
        self.value_edits[1].clear()
        self.protocol_box.clear()
        decomposed = self.dataset.kind in ("documents", "images", "dense")
        for spec, label in (([("cells:0.1", "10% of cells held out")] if decomposed else
                             [("kfold:3", "3-fold cross-validation"), ("kfold:5", "5-fold cross-validation"),
                              ("random:0.2" if self.dataset.kind == "explicit" else "user:0.2",
                               "one 20% holdout")])):
            self.protocol_box.addItem(label, spec)
        self.metric_box.clear()
        if fits:
            for metric in metric_choices(self.dataset, cls):
                self.metric_box.addItem(metric, metric)
        self.halving.setEnabled("n_epochs" in cls.defaults)
        if not self.halving.isEnabled():
            self.halving.setChecked(False)
        _ = default_axis  # imported for _on_param_chosen's first call

    def _on_param_chosen(self, k: int) -> None:
        from ...sweep import default_axis

        name = self.param_boxes[k].currentData()
        if name is None or self._model_name is None:
            self.value_edits[k].clear()
            return
        try:
            axis = default_axis(self._model_name, name, n=5 if k == 0 else 3)
        except ValueError:
            self.value_edits[k].clear()
            return
        self.value_edits[k].setText(", ".join(_value_text(v) for v in axis.values))

    # ---------------------------------------------------------- running
    def axes(self) -> list:
        """The swept parameters as :class:`mfstudio.sweep.Axis` (ParamError on a bad value, naming it)."""
        from ...sweep import parse_grid, parse_random

        out = []
        for box, edit in zip(self.param_boxes, self.value_edits):
            name = box.currentData()
            if name is None:
                continue
            text = edit.text().strip().replace(" ", "")
            parse = parse_random if ":" in text else parse_grid
            out.append(parse(self._model_name, f"{name}={text}"))
        return out

    def start(self, jobs: int | None = None):
        """Start a sweep of the current settings; returns it (None when refused, with the reason shown)."""
        from ...errors import USER_ERRORS
        from ...sweep import Sweep

        if self.worker is not None or self.dataset is None:
            return None
        name, params = self._method()
        if name is None:
            return None
        try:
            axes = self.axes()
            swept = {a.name for a in axes}
            fixed = {k: v for k, v in params.items() if k not in swept}
            random = any(a.is_random for a in axes)
            sweep = Sweep(self.dataset, name, axes, fixed=fixed, protocol=self.protocol_box.currentData(),
                          metric=self.metric_box.currentData(), trials=self.trials.value() if random else None,
                          jobs=jobs or self.jobs.value(), halving=self.halving.isChecked())
        except USER_ERRORS as exc:
            self.state.setText(f"<span style='color:#b00020'>{html.escape(str(exc))}</span>")
            return None
        self.sweep = sweep
        self.points = []
        self.measures = None
        self.worker = SweepWorker(sweep)
        self.worker.point.connect(self._on_point)
        self.worker.failed.connect(self._on_failed)
        self.worker.ended.connect(self._on_ended)
        self._set_running(True)
        self.state.setText(f"Scoring {len(sweep.points)} points with {sweep.jobs} process"
                           f"{'es' if sweep.jobs > 1 else ''}…")
        self._draw()
        self.worker.start()
        return sweep

    def cancel(self, wait: bool = False) -> None:
        """Stop the sweep: every worker process ends; the points already scored stay on screen."""
        if self.sweep is not None and self.worker is not None:
            self.sweep.cancel()
            if wait:
                self.worker.wait()
                self._finish_worker()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.best_button.setEnabled(not running and self.best_point() is not None)
        for widget in (*self.param_boxes, *self.value_edits, self.protocol_box, self.metric_box, self.jobs,
                       self.trials, self.halving):
            widget.setEnabled(not running)
        self.running_changed.emit(running)

    def _finish_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            self._set_running(False)

    def _on_point(self, point) -> None:
        self.points.append(point)
        self._draw()
        total = len(self.sweep.points) if self.sweep is not None else len(self.points)
        self.state.setText(f"{len(self.points)} of {total} points scored…")

    def _on_failed(self, message: str, _details: str) -> None:
        self._finish_worker()
        self.state.setText(f"<span style='color:#b00020'>The sweep failed: {html.escape(message)}</span>")

    def _on_ended(self, cancelled: bool) -> None:
        self._finish_worker()
        best = self.best_point()
        done = f"Cancelled after {len(self.points)} points" if cancelled else f"Done: {len(self.points)} points"
        if best is not None:
            done += (f"; best {self.sweep.metric} {best.mean:.4f} at "
                     + ", ".join(f"{k}={_value_text(v)}" for k, v in best.params.items()))
        self.state.setText(done + ".")
        self._draw()
        if not cancelled:
            self._start_rank_measures()

    def _rank_model(self) -> str | None:
        """svd or nmf (on documents) when the sweep varied only the rank: then rank measures apply."""
        sweep = self.sweep
        if sweep is None or [a.name for a in sweep.axes] != ["n_factors"] or sweep.axes[0].is_random:
            return None
        name = sweep.model_cls.name
        if name == "svd" or (name == "nmf" and self.dataset is not None and self.dataset.kind == "documents"):
            return name
        return None

    def _start_rank_measures(self) -> None:
        from ...rank_selection import rank_measures
        from ..worker import Task

        model = self._rank_model()
        if model is None:
            return
        ks = sorted({int(v) for v in self.sweep.axes[0].values})
        task = Task(rank_measures, self.dataset, model, ks, seed=self.sweep.seed, params=dict(self.sweep.fixed))
        task.done.connect(self._on_measures)
        task.failed.connect(lambda message, _details: self.state.setText(
            self.state.text() + f" Rank measures failed: {html.escape(message)}"))
        self._measure_task = task
        self.state.setText(self.state.text() + (" Computing the explained-variance elbow…" if model == "svd"
                                                else " Computing topic stability and coherence…"))
        task.start()

    def _on_measures(self, measures: dict) -> None:
        self.measures = measures
        self._measure_task = None
        text = self.state.text().split(" Computing")[0]
        if "elbow_k" in measures:
            text += f" Explained-variance elbow at k = {measures['elbow_k']} (dotted line)."
        elif measures.get("per_k"):
            best = max(measures["per_k"].items(), key=lambda kv: kv[1]["stability"])
            text += f" Most stable topics at k = {best[0]} (stability {best[1]['stability']:.2f})."
        self.state.setText(text)
        self._draw()

    def best_point(self):
        """The best finished point (by the sweep's metric), or None: :attr:`mfstudio.sweep.Sweep.best`."""
        return None if self.sweep is None else self.sweep.best

    def best_params(self) -> dict:
        """The best point's full parameters (fixed and swept), the model's own names."""
        return {} if self.sweep is None else self.sweep.best_params()

    def _fit_best(self) -> None:
        if self.best_point() is not None:
            self.fit_requested.emit(self.sweep.model_cls.name, self.best_params())

    # ---------------------------------------------------------- drawing
    def _draw(self) -> None:
        self._fill_table()
        self.plot.clear()
        self.legend.clear()
        for side in ("bottom", "left"):  # ticks set for one kind of plot must not stay for the next
            self.plot.getAxis(side).setTicks(None)
        self._heat = None
        self._heat_texts = []
        sweep = self.sweep
        if sweep is None:
            self.plot.setTitle("")
            self.caption.setText("Choose one or two parameters and their values, then Run sweep. Each point is "
                                 "fitted once per fold; its validation error appears here as soon as it is scored.")
            return
        names = [a.name for a in sweep.axes]
        folds = self._fold_words()
        if len(names) == 2 and not any(a.is_random for a in sweep.axes):
            self._draw_heatmap(sweep, folds)
        elif len(names) == 2:
            self._draw_scatter(sweep, folds)
        else:
            self._draw_line(sweep, names[0], folds)

    def _fold_words(self) -> str:
        spec = self.sweep.protocol
        kind, _, value = spec.partition(":")
        if kind == "kfold":
            return f"mean ± sd over {value} folds"
        return f"one holdout ({spec})"

    def _draw_line(self, sweep, name: str, folds: str) -> None:
        line = sweep_line(self.points, name, sweep.lower_is_better)
        plot = self.plot
        plot.setLogMode(x=line.log_x, y=False)
        plot.setTitle(f"{sweep.metric} against {name}")
        plot.setLabel("bottom", name + (" (log scale)" if line.log_x else ""))
        plot.setLabel("left", sweep.metric)
        if not line.x.size:
            return
        x = np.log10(line.x) if line.log_x else line.x
        finite_train = np.isfinite(line.train_mean)
        if finite_train.any():
            plot.plot(line.x[finite_train], line.train_mean[finite_train], pen=_TRAIN_PEN,
                      symbol="s", symbolSize=6, symbolBrush=color(1), symbolPen=None, name="train (dashed)")
        plot.plot(line.x, line.mean, pen=_VALID_PEN, symbol="o", symbolSize=7, symbolBrush=color(0),
                  symbolPen=None, name=f"validation ({folds})")
        spread = np.nan_to_num(line.std)
        if np.any(spread > 0):
            plot.addItem(pg.ErrorBarItem(x=x, y=line.mean, height=2 * spread, beam=0.0, pen=_VALID_PEN))
        # Ticks at the swept values: a log axis' own minor ticks ran together ("3·10¹4·10¹5·10¹").
        plot.getAxis("bottom").setTicks([[(float(v), _value_text(float(raw))) for v, raw in zip(x, line.x)], []])
        elbow = (self.measures or {}).get("elbow_k")
        if elbow is not None:
            where = math.log10(elbow) if line.log_x else float(elbow)
            plot.addItem(pg.InfiniteLine(where, angle=90, pen=pg.mkPen("#555", width=1.5, style=Qt.PenStyle.DotLine),
                                         label=f"explained-variance elbow k={elbow}",
                                         labelOpts={"position": 0.08, "color": "#333"}))
        if line.best is not None:
            star = pg.ScatterPlotItem([x[line.best]], [line.mean[line.best]], size=18, symbol="star",
                                      brush=pg.mkBrush("#D55E00"), pen=pg.mkPen("#000", width=1))
            plot.addItem(star)
            self.legend.addItem(star, f"best: {name}={_value_text(line.x[line.best])}")
        kfold = sweep.protocol.startswith("kfold")
        self.caption.setText(
            f"Validation {sweep.metric} ({folds}{', bars: ± one standard deviation' if kfold else ''}) and the "
            f"same error on the training {'folds' if kfold else 'data'} (dashed). Where the two part, the model "
            "starts to fit noise: the best value is where validation is "
            + ("lowest." if sweep.lower_is_better else "highest."))

    def _draw_heatmap(self, sweep, folds: str) -> None:
        x_axis, y_axis = sweep.axes
        grid = sweep_grid(self.points, x_axis.name, y_axis.name, x_axis.values, y_axis.values,
                          sweep.lower_is_better)
        plot = self.plot
        plot.setLogMode(x=False, y=False)
        plot.setTitle(f"validation {sweep.metric}: {x_axis.name} × {y_axis.name}")
        plot.setLabel("bottom", x_axis.name)
        plot.setLabel("left", y_axis.name)
        values = grid.mean
        finite = values[np.isfinite(values)]
        if finite.size:  # an image of NaN alone has no levels: the cells' "…" say what is pending
            low, high = float(finite.min()), float(finite.max())
            # Row-major images (the app's setting): rows are y, so the (x, y) grid goes in transposed.
            image = pg.ImageItem(values.T)
            cmap = pg.colormap.get("viridis")  # a shared object: read it reversed, never reverse it
            bright_low = sweep.lower_is_better  # bright = good either way
            image.setLookupTable(cmap.getLookupTable(1.0 if bright_low else 0.0, 0.0 if bright_low else 1.0, 256))
            image.setLevels((low, high if high > low else low + 1e-12))
            image.setRect(-0.5, -0.5, len(grid.x_values), len(grid.y_values))
            plot.addItem(image)
            self._heat = image
        plot.setXRange(-0.5, len(grid.x_values) - 0.5, padding=0.02)
        plot.setYRange(-0.5, len(grid.y_values) - 0.5, padding=0.02)
        for i, xv in enumerate(grid.x_values):
            for j, yv in enumerate(grid.y_values):
                value = values[i, j]
                text = "…" if not np.isfinite(value) else f"{value:.4f}"
                item = pg.TextItem(text, color="#000" if (i, j) != grid.best else "#b00020", anchor=(0.5, 0.5),
                                   fill=pg.mkBrush(255, 255, 255, 170))
                item.setPos(i, j)
                plot.addItem(item)
                self._heat_texts.append(item)
        if grid.best is not None:
            i, j = grid.best
            box = pg.QtWidgets.QGraphicsRectItem(i - 0.5, j - 0.5, 1, 1)
            box.setPen(pg.mkPen("#b00020", width=3))
            plot.addItem(box)
        for axis_name, values_list in (("bottom", grid.x_values), ("left", grid.y_values)):
            plot.getAxis(axis_name).setTicks([[(k, _value_text(v)) for k, v in enumerate(values_list)]])
        self.caption.setText(f"Validation {sweep.metric} for each pair of values ({folds}); brighter is better, "
                             "the best cell is outlined in red. Cells show … until they are scored.")

    def _draw_scatter(self, sweep, folds: str) -> None:
        x_name, y_name = (a.name for a in sweep.axes)
        plot = self.plot
        logs = [a.log for a in sweep.axes]
        # The positions come back in log10 units already: a linear plot with decade ticks of our
        # own (pyqtgraph's log axis labelled every 2..9 multiple, and they ran together).
        plot.setLogMode(x=False, y=False)
        plot.setTitle(f"validation {sweep.metric} of random points")
        plot.setLabel("bottom", x_name + (" (log scale)" if logs[0] else ""))
        plot.setLabel("left", y_name + (" (log scale)" if logs[1] else ""))
        cloud = sweep_scatter(self.points, x_name, y_name, sweep.lower_is_better, log_x=logs[0], log_y=logs[1])
        if not cloud.x.size:
            return
        for side, values, log, set_range in (("bottom", cloud.x, logs[0], plot.setXRange),
                                             ("left", cloud.y, logs[1], plot.setYRange)):
            if not log:
                continue
            low, high = float(values.min()), float(values.max())
            pad = max(0.06 * (high - low), 0.15)
            set_range(low - pad, high + pad, padding=0)
            plot.getAxis(side).setTicks(list(log_ticks(low - pad, high + pad)))
        cmap = pg.colormap.get("viridis")
        brushes = [pg.mkBrush(cmap.map(float(s), mode="qcolor")) for s in cloud.goodness]
        plot.addItem(pg.ScatterPlotItem(cloud.x, cloud.y, size=14, brush=brushes, pen=pg.mkPen("#333")))
        if cloud.best is not None:
            plot.addItem(pg.ScatterPlotItem([cloud.x[cloud.best]], [cloud.y[cloud.best]], size=22, symbol="star",
                                            brush=pg.mkBrush("#D55E00"), pen=pg.mkPen("#000")))
        self.caption.setText(f"Each dot is one random point, coloured by its validation {sweep.metric} ({folds}; "
                             "brighter is better); the star is the best.")

    def _fill_table(self) -> None:
        sweep = self.sweep
        table = self.table
        table.setSortingEnabled(False)
        if sweep is None:
            table.setRowCount(0)
            table.setColumnCount(0)
            return
        names = [a.name for a in sweep.axes]
        per_k = (self.measures or {}).get("per_k") or {}
        extra = sorted({key for values in per_k.values() for key in values})
        headers = names + [f"val. {sweep.metric}", "± sd", "train", "s", "status"] + [
            key.replace("_", " ") for key in extra]
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        tips = [f"value of {n}" for n in names] + [
            f"validation {sweep.metric}, {self._fold_words()}", "standard deviation over the folds",
            f"{sweep.metric} on the training folds (where the model reports it)", "wall time of the point, seconds",
            "done, failed (hover for why), or pruned by successive halving after the epochs shown"] + [
            {"explained_variance": "share of the squared Frobenius norm the first k components explain (all data)",
             "stability": "agreement of the topics between restarts with other seeds (1 = the same topics)",
             "coherence": "UMass coherence of each topic's top words in the documents (higher is better)"}.get(key, key)
            for key in extra]
        for col, tip in enumerate(tips):
            table.horizontalHeaderItem(col).setToolTip(tip)
        table.setRowCount(len(self.points))
        best = self.best_point()
        for row, point in enumerate(self.points):
            cells = [_Number(_value_text(point.params.get(n)), point.params.get(n)) for n in names]
            cells.append(_Number("" if not math.isfinite(point.mean) else f"{point.mean:.4f}", point.mean))
            single = len(point.fold_values) <= 1  # a holdout has no spread to show
            cells.append(_Number("" if single or not math.isfinite(point.std) else f"{point.std:.4f}", point.std))
            train = point.train_mean
            cells.append(_Number("" if train is None or not math.isfinite(train) else f"{train:.4f}", train))
            cells.append(_Number(f"{point.seconds:.1f}", point.seconds))
            status = point.status + (f" ({point.budget} epochs)" if point.status == "pruned" and point.budget else "")
            cells.append(_Number(status, None))
            if point.message:
                cells[-1].setToolTip(point.message)
            measured = per_k.get(int(point.params.get("n_factors", -1)), {}) if "n_factors" in point.params else {}
            for key in extra:
                value = measured.get(key)
                cells.append(_Number("" if value is None else f"{value:.3f}", value))
            for col, cell in enumerate(cells):
                if point is best:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                table.setItem(row, col, cell)
        table.setSortingEnabled(True)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)


class _Number(QTableWidgetItem):
    """A cell that sorts by its number (text for the rest)."""

    def __init__(self, text: str, value):
        super().__init__(text)
        self.value = value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        a, b = self.value, getattr(other, "value", None)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return (a if math.isfinite(a) else math.inf) < (b if math.isfinite(b) else math.inf)
        return super().__lt__(other)
