"""Matrix: the data, the model's reconstruction and the residual, side by side, on a sampled block.

The block is the most active rows and columns (users who rated most, items
rated most), ordered so that structure shows; :func:`mfstudio.inspect.reconstruction_block`
computes it (see there how it is ordered) and this view draws it. For
ratings a missing cell is unknown, not zero: it is drawn blank (grey), and
the residual exists only on observed cells. For documents, implicit
feedback, images and dense grids an absent entry is a zero and every cell
counts.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ...inspect import ReconstructionBlock, has_factors_for, reconstruction_block
from .base import ResultView

MISSING_COLOR = "#d4d4d4"


class MatrixView(ResultView):
    """Original, reconstruction and residual heatmaps of a block of the matrix."""

    title = "Matrix"

    def __init__(self, parent=None, max_rows: int = 60, max_cols: int = 80):
        super().__init__(parent)
        # The block drawn (None until a run is shown); its arrays are also kept as attributes below.
        self.block: ReconstructionBlock | None = None
        self.block_rows: np.ndarray | None = None  # internal row ids, in display order
        self.block_cols: np.ndarray | None = None
        self.original: np.ndarray | None = None  # NaN where unobserved (ratings)
        self.reconstruction: np.ndarray | None = None
        self.residual: np.ndarray | None = None
        self.observed: np.ndarray | None = None  # bool block: cell has an entry in the dataset
        self.in_test: np.ndarray | None = None  # bool block: observed cell held out for testing
        self.missing_is_zero = False
        self.ordering = ""

        # ---- controls
        self.rows_spin = QSpinBox()
        self.rows_spin.setRange(5, 400)
        self.rows_spin.setValue(max_rows)
        self.cols_spin = QSpinBox()
        self.cols_spin.setRange(5, 400)
        self.cols_spin.setValue(max_cols)
        self.rows_label = QLabel("Rows:")
        self.cols_label = QLabel("Columns:")
        for spin in (self.rows_spin, self.cols_spin):
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._rebuild)
            spin.setToolTip("How many of the most active rows / columns to show")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.caption, 1)
        controls.addWidget(self.rows_label)
        controls.addWidget(self.rows_spin)
        controls.addWidget(self.cols_label)
        controls.addWidget(self.cols_spin)

        # ---- heatmaps
        self.graphics = pg.GraphicsLayoutWidget()
        self.plots: list[pg.PlotItem] = []
        self.images: list[pg.ImageItem] = []
        self.colorbars: list[pg.ColorBarItem] = []
        self.cell_labels: list[pg.TextItem] = []  # the numbers written in the cells of a small matrix
        # Short titles: a pyqtgraph title sets its plot's minimum width, and three long ones
        # needed 760 px, cutting the residual off at 1280 x 720 (the caption says what each is).
        titles = ("Data", "Model", "Data − model")
        maps = (pg.colormap.get("viridis"), pg.colormap.get("viridis"), pg.colormap.get("CET-D1A"))
        self._maps = maps
        for col, (title, cmap) in enumerate(zip(titles, maps)):
            plot = self.graphics.addPlot(row=0, col=col, title=title)
            plot.invertY(True)  # row 0 at the top, as a matrix is read
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getViewBox().setBackgroundColor(MISSING_COLOR)
            plot.getAxis("left").setWidth(42)
            if col > 0:
                # The three share their rows (linked): one row axis, on the data, leaves room
                # for the residual at 1280 x 720.
                plot.hideAxis("left")
            image = pg.ImageItem(axisOrder="row-major")
            plot.addItem(image)
            bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, width=14, colorMapMenu=False)
            bar.setImageItem(image, insert_in=plot)
            if self.plots:
                plot.setXLink(self.plots[0])
                plot.setYLink(self.plots[0])
            self.plots.append(plot)
            self.images.append(image)
            self.colorbars.append(bar)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.hover = QLabel(" ")
        self.hover.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QWidget()
        top.setLayout(controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.hover)
        self._clear("Fit a factor model to compare it with the data.")

    # ------------------------------------------------------------ protocol
    def applies_to(self, dataset, run) -> bool:
        if dataset is None or run is None:
            return False
        return has_factors_for(dataset, run.model)

    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        if dataset is not None:
            self.rows_label.setText(f"{dataset.row_label.capitalize()}s:")
            self.cols_label.setText(f"{dataset.col_label.capitalize()}s:")
        self._clear("Fit a factor model to compare it with the data.")

    def set_run(self, run) -> None:
        super().set_run(run)
        self._rebuild()

    # ------------------------------------------------------------ building
    def _clear(self, message: str) -> None:
        self._clear_cell_labels()
        self.block = None
        self.block_rows = self.block_cols = None
        self.original = self.reconstruction = self.residual = self.in_test = self.observed = None
        for image in self.images:
            image.clear()
        self.caption.setText(message)
        self.hover.setText(" ")

    def _rebuild(self, *_) -> None:
        dataset, run = self.dataset, self.run
        if dataset is None or run is None or not self.applies_to(dataset, run):
            self._clear("This run has no factors to reconstruct the matrix with." if run is not None
                        else "Fit a factor model to compare it with the data.")
            return
        block = reconstruction_block(dataset, run.model, self.rows_spin.value(), self.cols_spin.value(),
                                     test_index=run.test_index)
        self.block = block
        self.missing_is_zero, self.ordering = block.missing_is_zero, block.ordering
        self.block_rows, self.block_cols = block.rows, block.cols
        self.original, self.reconstruction, self.residual = block.original, block.reconstruction, block.residual
        self.observed, self.in_test = block.observed, block.in_test
        levels = (block.data_levels, block.data_levels, block.residual_levels)
        for image, bar, arr, lv in zip(self.images, self.colorbars, self._arrays(), levels):
            image.setImage(arr.astype(np.float32), autoLevels=False, levels=lv)
            image.setRect(0, 0, arr.shape[1], arr.shape[0])
            bar.setLevels(lv)

        rows, cols = block.rows, block.cols
        value_name = _value_name(dataset)
        row_name, col_name = dataset.row_label, dataset.col_label
        for k, plot in enumerate(self.plots):
            plot.setLabel("bottom", f"{col_name}s")
            if plot is self.plots[0]:  # the three share their rows: one label, and room for the residual
                plot.setLabel("left", f"{row_name}s")
            plot.setRange(xRange=(0, cols.size), yRange=(0, rows.size), padding=0)
        self.plots[0].setTitle(f"Data ({value_name})")

        blank = "" if self.missing_is_zero else "; grey cells are unrated (unknown, not zero)"
        written = self._write_cell_values(levels)
        filled = (" The numbers are written in the cells: in the Model, the cells that were unknown (bold) are "
                  "the model's guesses." if written and not self.missing_is_zero else "")
        self.caption.setText(
            f"The {rows.size} most active {row_name}s × {cols.size} most active {col_name}s, "
            f"{self.ordering}{blank}. Hover a cell for details.{filled}"
        )
        self.hover.setText(" ")

    #: Matrices with at most this many cells get their values written in the cells: the tutorials'
    #: point is the filled-in 5 x 4 matrix itself, which colours alone do not show.
    CELL_VALUES_UP_TO = 144

    def _clear_cell_labels(self) -> None:
        for label in self.cell_labels:
            label.getViewBox() and label.getViewBox().removeItem(label)
        self.cell_labels = []

    def _write_cell_values(self, levels) -> bool:
        self._clear_cell_labels()
        if self.original is None or self.original.size > self.CELL_VALUES_UP_TO:
            return False
        for plot, values, cmap, (low, high) in zip(self.plots, self._arrays(), self._maps, levels):
            for i in range(values.shape[0]):
                for j in range(values.shape[1]):
                    value = values[i, j]
                    if not np.isfinite(value):
                        text = "?"
                    else:
                        # One decimal: three heatmaps share ~600 px, so a cell of a 5 x 4 grid is ~25 px wide.
                        text = f"{value:.3g}" if plot is self.plots[0] else f"{value:.1f}".replace("-0.0", "0.0")
                    guessed = plot is self.plots[1] and not self.observed[i, j]
                    ink = "#000"
                    if np.isfinite(value) and high > low:  # white on the dark ends of the colour map
                        shade = cmap.map(float(np.clip((value - low) / (high - low), 0, 1)), mode="qcolor")
                        if 0.299 * shade.red() + 0.587 * shade.green() + 0.114 * shade.blue() < 128:
                            ink = "#fff"
                    label = pg.TextItem(text, color=ink, anchor=(0.5, 0.5))
                    if guessed:
                        font = label.textItem.font()
                        font.setBold(True)
                        label.setFont(font)
                    label.setPos(j + 0.5, i + 0.5)
                    plot.addItem(label)
                    self.cell_labels.append(label)
        return True

    def _arrays(self):
        return (self.original, self.reconstruction, self.residual)

    # ------------------------------------------------------------- hover
    def cell_text(self, i: int, j: int) -> str:
        """What hovering the cell at display row ``i``, column ``j`` says."""
        ds = self.dataset
        r, c = int(self.block_rows[i]), int(self.block_cols[j])
        who = f"{ds.row_label} {ds.row_ids[r]}"
        what = f"{ds.col_label} {ds.col_ids[c]}"
        if ds.item_titles is not None:
            what += f" “{ds.item_titles[c]}”"
        value = self.original[i, j]
        known = not np.isnan(value)
        parts = [f"{who} × {what}:"]
        if known:
            parts.append(f"{_value_name(ds)} {value:.4g}" + (" (test)" if self.in_test[i, j] else ""))
        else:
            parts.append("not rated")
        parts.append(f"predicted {self.reconstruction[i, j]:.4g}")
        if known and np.isfinite(self.residual[i, j]):
            parts.append(f"residual {self.residual[i, j]:+.4g}")
        return "  ".join(parts)

    def _on_mouse_moved(self, pos) -> None:
        if self.block_rows is None:
            return
        for plot in self.plots:
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(pos):
                point = vb.mapSceneToView(pos)
                i, j = int(np.floor(point.y())), int(np.floor(point.x()))
                if 0 <= i < self.block_rows.size and 0 <= j < self.block_cols.size:
                    self.hover.setText(self.cell_text(i, j))
                    return
        self.hover.setText(" ")

    # ------------------------------------------------------------ export
    def export_plot(self):
        return self.graphics


# ------------------------------------------------------------------ helpers
def _value_name(dataset) -> str:
    return {"explicit": "rating", "implicit": "interaction", "documents": "weight",
            "images": "intensity"}.get(dataset.kind, "value")
