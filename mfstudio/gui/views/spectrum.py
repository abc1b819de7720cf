"""Spectrum: the singular values of an SVD, how much each rank explains, and a rank to choose.

Top: one bar per singular value (linear or log scale). Bottom: the cumulative
explained variance (``explained_variance_ratio_``, as scikit-learn's
TruncatedSVD defines it), the cumulative share of the squared Frobenius norm
(``frobenius_share_``, when the model has it) and the relative reconstruction
error at each rank (``reconstruction_errors_``), read by
:func:`mfstudio.inspect.spectrum_of`; each curve is labelled as what it is.
A draggable marker picks a rank and says what keeping that many components
buys. While a randomized SVD is fitting, :meth:`SpectrumView.show_step` draws
the spectrum estimated so far.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...inspect import (
    EXPLAINED_VARIANCE_LABEL,
    FROBENIUS_SHARE_LABEL,
    Spectrum,
    log_bars,
    spectrum_from_step,
    spectrum_of,
)
from .base import ResultView, color

_BAR = color(0)
_CUMULATIVE = color(2)
_ERROR = color(3)
_FROBENIUS = color(4)
_MARKER = "#444444"
_FROBENIUS_COLUMN = 5  # added last, so the first five columns keep their meaning


class SpectrumView(ResultView):
    """Singular values, cumulative explained variance and error per rank, with a rank marker."""

    title = "Spectrum"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.spectrum: Spectrum | None = None
        self.singular_values: np.ndarray | None = None
        self.explained: np.ndarray | None = None  # per-component explained variance ratio
        self.cumulative: np.ndarray | None = None
        self.frobenius_cumulative: np.ndarray | None = None
        self.errors: np.ndarray | None = None
        self.rank = 0
        self.live = False  # drawing a fit in progress

        # ---- controls
        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("Show the singular values on a logarithmic axis (small values become visible)")
        self.log_check.toggled.connect(self._redraw_bars)
        self.info = QLabel("Fit a truncated SVD to see its spectrum.")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Wrapped: one long line would set the view's minimum width, and the window's, past the screen.
        self.info.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.info, 1)
        controls.addWidget(self.log_check)

        # ---- plots
        self.graphics = pg.GraphicsLayoutWidget()
        self.sv_plot = self.graphics.addPlot(row=0, col=0, title="Singular values")
        self.cum_plot = self.graphics.addPlot(row=1, col=0)
        self.cum_plot.setXLink(self.sv_plot)
        self.sv_plot.setLabel("left", "singular value")
        self.cum_plot.setLabel("left", "fraction")
        self.cum_plot.setLabel("bottom", "rank (number of components kept)")
        for plot in (self.sv_plot, self.cum_plot):
            plot.showGrid(x=False, y=True, alpha=0.25)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(60)
            plot.setMouseEnabled(x=True, y=False)
        self.cum_plot.setYRange(-0.04, 1.05, padding=0)
        # The title is the legend (a legend box would sit on the curves).
        self._set_legend(frobenius=False)

        self.bars = pg.BarGraphItem(x=[], height=[], width=0.75, brush=_BAR, pen=None)
        self.sv_plot.addItem(self.bars)
        self.cum_curve = self.cum_plot.plot([], [], pen=pg.mkPen(_CUMULATIVE, width=2), symbol="o", symbolSize=6,
                                            symbolBrush=_CUMULATIVE, symbolPen=None,
                                            name="cumulative explained variance")
        self.err_curve = self.cum_plot.plot([], [], pen=pg.mkPen(_ERROR, width=2), symbol="s", symbolSize=6,
                                            symbolBrush=_ERROR, symbolPen=None,
                                            name="relative reconstruction error")
        self.frobenius_curve = self.cum_plot.plot([], [], pen=pg.mkPen(_FROBENIUS, width=2, style=Qt.PenStyle.DashLine),
                                                  symbol="t1", symbolSize=7, symbolBrush=_FROBENIUS, symbolPen=None,
                                                  name=f"cumulative {FROBENIUS_SHARE_LABEL}")

        marker_pen = pg.mkPen(_MARKER, width=2, style=Qt.PenStyle.DashLine)
        hover_pen = pg.mkPen("#D55E00", width=3)
        self.marker = pg.InfiniteLine(
            pos=1, angle=90, movable=True, pen=marker_pen, hoverPen=hover_pen, label="",
            labelOpts={"position": 0.88, "color": "#222", "fill": (255, 255, 255, 230),
                       "border": pg.mkPen("#888"), "anchors": [(0, 0), (0, 0)]},
        )
        self.marker.setToolTip("Drag to choose a rank")
        self.cum_marker = pg.InfiniteLine(pos=1, angle=90, movable=True, pen=marker_pen, hoverPen=hover_pen)
        self.cum_marker.setToolTip("Drag to choose a rank")
        self.sv_plot.addItem(self.marker)
        self.cum_plot.addItem(self.cum_marker)
        self.marker.sigPositionChanged.connect(lambda line: self._on_marker_moved(line.value()))
        self.cum_marker.sigPositionChanged.connect(lambda line: self._on_marker_moved(line.value()))
        self.marker.sigPositionChangeFinished.connect(lambda line: self.set_rank(self.rank))
        self.cum_marker.sigPositionChangeFinished.connect(lambda line: self.set_rank(self.rank))

        self.message = pg.TextItem("", color="#666", anchor=(0.5, 0.5))
        self.sv_plot.addItem(self.message, ignoreBounds=True)
        self.cum_message = pg.TextItem("", color="#666", anchor=(0.5, 0.5))
        self.cum_plot.addItem(self.cum_message, ignoreBounds=True)

        # ---- table
        self.table = QTableWidget(0, 5)
        self._set_table_columns(frobenius=False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_table_selection)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        # The plots first (the table scrolls): at 1280 x 720 the legend needs ~440 px of the ~620.
        splitter.setSizes([900, 300])
        splitter.setChildrenCollapsible(False)
        top = QWidget()
        top.setLayout(controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(top)
        layout.addWidget(splitter, 1)
        self._set_visible_items(False)
        self._show_message("Fit a truncated SVD to see its spectrum")

    # ------------------------------------------------------------ protocol
    def applies_to(self, dataset, run) -> bool:
        if dataset is None or run is None:
            return False
        if spectrum_of(run.model) is not None:
            return True
        history = getattr(run.model, "history_", None) or []
        return bool(history) and "singular_values" in (history[-1].extra or {})

    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self.clear()

    def set_run(self, run) -> None:
        super().set_run(run)
        model = getattr(run, "model", None)
        spectrum = spectrum_of(model) if model is not None else None
        if spectrum is None:
            history = getattr(model, "history_", None) or []
            last = history[-1] if history else None
            if last is not None and "singular_values" in (last.extra or {}):
                self.show_step(last)
            else:
                self.clear("This run's model has no singular values (fit a truncated SVD)")
            return
        self.live = False
        self._set_spectrum(spectrum)
        self.sv_plot.setTitle(f"Singular values of {getattr(run, 'name', '') or 'the model'}")

    def show_step(self, step, rank: int | None = None) -> None:
        """Draw the spectrum estimated so far by a fit in progress (``step.extra["singular_values"]``).

        Safe to call for any step: steps without a spectrum are ignored. Call
        it on the GUI thread, throttled (the main window's redraw timer).
        ``rank``, when given, keeps only the first ``rank`` values (a
        randomized SVD may track a few more directions than it returns).
        """
        spectrum = spectrum_from_step(getattr(step, "extra", None), rank)
        if spectrum is None:
            return
        self.live = True
        self._set_spectrum(spectrum)
        n = getattr(step, "n_epochs", 0) or 0
        of = f" of {n}" if n >= step.epoch and n > 1 else ""
        self.sv_plot.setTitle(f"Singular values (fitting: iteration {step.epoch}{of})")

    def clear(self, message: str = "Fit a truncated SVD to see its spectrum") -> None:
        self.spectrum = None
        self.singular_values = self.explained = self.cumulative = self.frobenius_cumulative = self.errors = None
        self.rank = 0
        self.live = False
        self.bars.setOpts(x=[], height=[], y0=0)
        for curve in (self.cum_curve, self.err_curve, self.frobenius_curve):
            curve.setData([], [])
        self.table.setRowCount(0)
        self.cum_message.setVisible(False)
        self.sv_plot.setTitle("Singular values")
        self.info.setText(message + ".")
        self._set_visible_items(False)
        self._show_message(message)

    # ---------------------------------------------------------- drawing
    def _set_visible_items(self, visible: bool) -> None:
        for item in (self.marker, self.cum_marker):
            item.setVisible(visible)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text:
            self.sv_plot.setLogMode(y=False)
            self.sv_plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self.message.setPos(0.5, 0.5)

    def _set_legend(self, frobenius: bool) -> None:
        # One entry a line: a title sets its plot's minimum width, and two entries on one
        # line widened the window to 1575 px when this tab was shown.
        title = (f'<span style="color:{_CUMULATIVE}">●</span> cumulative explained variance<br>'
                 f'<span style="color:{_ERROR}">■</span> relative reconstruction error')
        if frobenius:
            title += f'<br><span style="color:{_FROBENIUS}">▲</span> cumulative {FROBENIUS_SHARE_LABEL}'
        self.cum_plot.setTitle(title)
        # Which explained variance, in full (too long for the legend's line).
        self.cum_plot.titleLabel.setToolTip(f"cumulative {EXPLAINED_VARIANCE_LABEL}")
        height = 58 if frobenius else 44  # setTitle fixes the title row at one line (30 px)
        self.cum_plot.titleLabel.setMaximumHeight(height)
        self.cum_plot.layout.setRowFixedHeight(0, height)

    def _set_table_columns(self, frobenius: bool) -> None:
        # The Frobenius column exists only when the model reports that share, so an
        # exported table never carries an empty column.
        headers = ["rank", "singular value", "explained", "cumulative", "error"]
        if frobenius:
            headers.append("cum. Frobenius share")
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.horizontalHeaderItem(2).setToolTip(f"{EXPLAINED_VARIANCE_LABEL}, per component")
        self.table.horizontalHeaderItem(3).setToolTip(f"{EXPLAINED_VARIANCE_LABEL}, summed over ranks 1..r")
        if frobenius:
            self.table.horizontalHeaderItem(_FROBENIUS_COLUMN).setToolTip(
                f"{FROBENIUS_SHARE_LABEL} (s_i² / ||X||²), summed over ranks 1..r")

    def _set_spectrum(self, spectrum: Spectrum) -> None:
        self.spectrum = spectrum
        k = spectrum.k
        self.singular_values = spectrum.singular_values
        self.explained, self.cumulative = spectrum.explained, spectrum.cumulative
        self.frobenius_cumulative = spectrum.cumulative_frobenius
        self.errors = spectrum.errors
        self._show_message("")
        self._set_visible_items(True)
        self._redraw_bars()
        for curve, values in ((self.cum_curve, self.cumulative), (self.err_curve, self.errors),
                              (self.frobenius_curve, self.frobenius_cumulative)):
            if values is not None:
                curve.setData(list(range(1, values.size + 1)), values)
            else:
                curve.setData([], [])
        self._set_legend(frobenius=self.frobenius_cumulative is not None)
        self._set_table_columns(frobenius=self.frobenius_cumulative is not None)
        if self.cumulative is None and self.errors is None:
            self.cum_message.setText("Explained variance and error appear when the fit finishes" if self.live
                                     else "This model reports no explained variance or error per rank")
            self.cum_message.setPos((k + 1) / 2, 0.5)
            self.cum_message.setVisible(True)
        else:
            self.cum_message.setVisible(False)
        top = max([1.0] + ([] if self.errors is None else [float(v) for v in self.errors if v == v]))
        self.cum_plot.setYRange(-0.04, top * 1.05, padding=0)
        self.sv_plot.setXRange(0.4, k + 0.6, padding=0)
        for line in (self.marker, self.cum_marker):
            line.setBounds((1, k))
        self._fill_table()
        # Keep the chosen rank across redraws of one fit; otherwise show the model's full rank.
        self.set_rank(self.rank if (self.live and 1 <= self.rank <= k) else k)

    def _redraw_bars(self, *_):
        values = self.singular_values
        if values is None:
            return
        x = list(range(1, values.size + 1))
        log = self.log_check.isChecked()
        self.sv_plot.setLogMode(y=log)
        self.sv_plot.setXRange(0.4, values.size + 0.6, padding=0)
        if log:
            bars = log_bars(values)
            self.bars.setOpts(x=x, height=bars.heights, y0=bars.base)
            self.sv_plot.setYRange(bars.base, bars.top + 0.1, padding=0)
            self.sv_plot.setLabel("left", "singular value (log scale)")
        else:
            self.bars.setOpts(x=x, height=values, y0=0)
            top = float(values.max()) if values.max() > 0 else 1.0
            self.sv_plot.setYRange(-0.03 * top, 1.08 * top, padding=0)
            self.sv_plot.setLabel("left", "singular value")
        self.bars.setOpts(brush=pg.mkBrush(_BAR if not self.live else "#7FA8CC"))

    def _fill_table(self) -> None:
        values = self.singular_values
        self.table.blockSignals(True)
        self.table.setRowCount(values.size)

        def fmt(arr, i, spec):
            return format(arr[i], spec) if arr is not None and i < arr.size else ""

        for i in range(values.size):
            texts = [str(i + 1), f"{values[i]:.6g}", fmt(self.explained, i, ".4f"),
                     fmt(self.cumulative, i, ".4f"), fmt(self.errors, i, ".4f"),
                     fmt(self.frobenius_cumulative, i, ".4f")]
            for col, text in enumerate(texts[: self.table.columnCount()]):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, col, item)
        self.table.blockSignals(False)

    # ------------------------------------------------------------- rank
    def set_rank(self, rank: int) -> None:
        """Put the rank marker on ``rank`` (clipped to 1..k) and describe it."""
        if self.singular_values is None:
            return
        k = self.singular_values.size
        rank = int(min(max(int(round(rank)), 1), k))
        self.rank = rank
        for line in (self.marker, self.cum_marker):
            if line.value() != rank:
                line.blockSignals(True)
                line.setValue(rank)
                line.blockSignals(False)
        self._describe()

    def _on_marker_moved(self, value) -> None:
        if self.singular_values is None:
            return
        k = self.singular_values.size
        rank = int(min(max(int(round(value)), 1), k))
        for line in (self.marker, self.cum_marker):  # the other marker follows
            if line.value() != value:
                line.blockSignals(True)
                line.setValue(value)
                line.blockSignals(False)
        if rank != self.rank:
            self.rank = rank
            self._describe()

    def rank_info(self, rank: int | None = None) -> dict:
        """What keeping ``rank`` components gives (default: the marker's rank)."""
        rank = self.rank if rank is None else int(rank)
        if self.spectrum is None:
            return {"rank": rank, "singular_value": None, "cumulative_explained": None,
                    "cumulative_frobenius_share": None, "error": None}
        return dataclasses.asdict(self.spectrum.at_rank(rank))

    def marker_text(self) -> str:
        """The rank marker's label as shown."""
        return self.marker.label.toPlainText() if self.marker.label is not None else ""

    def _describe(self) -> None:
        info = self.rank_info()
        lines = [f"rank {info['rank']}", f"σ = {info['singular_value']:.4g}"]
        if info["cumulative_explained"] is not None:
            lines.append(f"explained variance {100 * info['cumulative_explained']:.1f}%")
        if info["cumulative_frobenius_share"] is not None:
            lines.append(f"Frobenius share {100 * info['cumulative_frobenius_share']:.1f}%")
        if info["error"] is not None:
            lines.append(f"error {info['error']:.4f}")
        text = "\n".join(lines)
        label = self.marker.label
        label.setFormat(text.replace("{", "{{").replace("}", "}}"))
        # Put the label on the side of the line with more room.
        k = self.singular_values.size
        label.anchors = [(1, 0), (1, 0)] if info["rank"] > (k + 1) / 2 else [(0, 0), (0, 0)]
        label.valueChanged()
        label.updatePosition()
        summary = f"Rank {info['rank']} of {k}: singular value {info['singular_value']:.4g}"
        if info["cumulative_explained"] is not None:
            summary += f", {100 * info['cumulative_explained']:.1f}% of the variance explained"
        if info["cumulative_frobenius_share"] is not None:
            summary += f" ({100 * info['cumulative_frobenius_share']:.1f}% of the squared Frobenius norm)"
        if info["error"] is not None:
            summary += f", relative reconstruction error {info['error']:.4f}"
        if self.live:
            summary += "  (fit in progress)"
        self.info.setText(summary + ".  Drag the dashed line to choose a rank.")

    def _on_table_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if rows:
            self.set_rank(min(rows) + 1)

    # ------------------------------------------------------------ export
    def export_plot(self):
        return self.graphics

    def export_table(self):
        return self.table

    def bar_heights(self) -> np.ndarray:
        """The singular values the bars stand for, in rank order (for tests)."""
        opts = self.bars.opts
        height = np.asarray(opts.get("height") if opts.get("height") is not None else [], dtype=float)
        if not height.size:
            return height
        if self.log_check.isChecked():
            return 10 ** (np.asarray(opts["y0"], dtype=float) + height)
        return height
