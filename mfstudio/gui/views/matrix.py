"""Matrix: the data, the model's reconstruction and the residual, side by side, on a sampled block.

The block is the most active rows and columns (users who rated most, items
rated most), ordered so that structure shows: rows and columns are sorted by
the leading pattern of the model's predicted block (the first singular
vectors of the double-centred prediction, a 1-D embedding computed on the
small block only, for drawing). For ratings a missing cell is unknown, not
zero: it is drawn blank (grey), and the residual exists only on observed
cells. For documents, implicit feedback, images and dense grids an absent
entry is a zero and every cell counts.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from .base import ResultView

MISSING_COLOR = "#d4d4d4"


class MatrixView(ResultView):
    """Original, reconstruction and residual heatmaps of a block of the matrix."""

    title = "Matrix"

    def __init__(self, parent=None, max_rows: int = 60, max_cols: int = 80):
        super().__init__(parent)
        # The block drawn (None until a run is shown).
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
        titles = ("Data", "Model reconstruction", "Residual (data − model)")
        maps = (pg.colormap.get("viridis"), pg.colormap.get("viridis"), pg.colormap.get("CET-D1A"))
        for col, (title, cmap) in enumerate(zip(titles, maps)):
            plot = self.graphics.addPlot(row=0, col=col, title=title)
            plot.invertY(True)  # row 0 at the top, as a matrix is read
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getViewBox().setBackgroundColor(MISSING_COLOR)
            plot.getAxis("left").setWidth(42)
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
        return _factor_count(run.model) > 0 and _fits(dataset, run.model)

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
        model = run.model
        self.missing_is_zero = dataset.kind != "explicit"
        binary = dataset.kind == "implicit"

        # Most active rows and columns (ties broken by index, so the block is stable).
        n_r = min(self.rows_spin.value(), dataset.n_rows)
        n_c = min(self.cols_spin.value(), dataset.n_cols)
        rows = np.sort(np.argsort(-dataset.row_counts(), kind="stable")[:n_r])
        cols = np.sort(np.argsort(-dataset.col_counts(), kind="stable")[:n_c])

        # The observed entries of the block, from the dataset's triples (no dense copy of everything).
        row_pos = np.full(dataset.n_rows, -1, dtype=np.int64)
        row_pos[rows] = np.arange(rows.size)
        col_pos = np.full(dataset.n_cols, -1, dtype=np.int64)
        col_pos[cols] = np.arange(cols.size)
        r_at, c_at = row_pos[dataset.rows], col_pos[dataset.cols]
        entries = np.flatnonzero((r_at >= 0) & (c_at >= 0))
        observed = np.zeros((rows.size, cols.size), dtype=bool)
        observed[r_at[entries], c_at[entries]] = True
        values = dataset.values[entries].astype(np.float64)
        if binary:
            values = (values > 0).astype(np.float64)
        original = np.full((rows.size, cols.size), 0.0 if self.missing_is_zero else np.nan)
        original[r_at[entries], c_at[entries]] = values
        in_test = np.zeros((rows.size, cols.size), dtype=bool)
        if run.test_index is not None and len(run.test_index):
            held_out = np.zeros(dataset.nnz, dtype=bool)
            held_out[np.asarray(run.test_index, dtype=np.int64)] = True
            in_test[r_at[entries], c_at[entries]] = held_out[entries]

        # The model's prediction on the whole block grid.
        grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
        predicted = np.asarray(model.predict(grid_r.ravel(), grid_c.ravel()), dtype=np.float64).reshape(grid_r.shape)
        residual = original - predicted
        if not self.missing_is_zero:
            residual[~observed] = np.nan

        # Order rows and columns by the leading pattern of the prediction (drawing only).
        user_f = np.asarray(model.user_factors_)[rows]
        item_f = np.asarray(model.item_factors_)[cols]
        if user_f.shape[1] >= 2 and user_f.min() >= 0 and item_f.min() >= 0:
            # Non-negative factors (NMF): group by the dominant component, strongest first.
            row_order, col_order = _component_order(user_f), _component_order(item_f)
            self.ordering = "grouped by their dominant component"
        else:
            row_order, col_order = _leading_orders(predicted)
            self.ordering = "ordered by the model's leading pattern"
        self.block_rows, self.block_cols = rows[row_order], cols[col_order]
        ix = np.ix_(row_order, col_order)
        self.original, self.reconstruction, self.residual = original[ix], predicted[ix], residual[ix]
        self.observed, self.in_test = observed[ix], in_test[ix]

        # Colour levels: data and reconstruction share one scale, the residual is symmetric.
        if dataset.rating_scale is not None and not binary:
            lo, hi = dataset.rating_scale
        else:
            both = np.concatenate([self.original[np.isfinite(self.original)], self.reconstruction.ravel()])
            lo, hi = (float(np.percentile(both, 1)), float(np.percentile(both, 99))) if both.size else (0.0, 1.0)
            if binary:
                lo, hi = min(lo, 0.0), max(hi, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        finite_res = np.abs(self.residual[np.isfinite(self.residual)])
        span = float(np.percentile(finite_res, 99)) if finite_res.size else 1.0
        span = span if span > 0 else 1.0
        levels = ((lo, hi), (lo, hi), (-span, span))
        value_name = _value_name(dataset)
        for image, bar, arr, lv in zip(self.images, self.colorbars, self._arrays(), levels):
            image.setImage(arr.astype(np.float32), autoLevels=False, levels=lv)
            image.setRect(0, 0, arr.shape[1], arr.shape[0])
            bar.setLevels(lv)

        row_name, col_name = dataset.row_label, dataset.col_label
        for k, plot in enumerate(self.plots):
            plot.setLabel("bottom", f"{col_name}s")
            plot.setLabel("left", f"{row_name}s")
            plot.setRange(xRange=(0, cols.size), yRange=(0, rows.size), padding=0)
        self.plots[0].setTitle(f"Data ({value_name})")

        blank = "" if self.missing_is_zero else "; grey cells are unrated (unknown, not zero)"
        self.caption.setText(
            f"The {rows.size} most active {row_name}s × {cols.size} most active {col_name}s, "
            f"{self.ordering}{blank}. Hover a cell for details."
        )
        self.hover.setText(" ")

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
def _factor_count(model) -> int:
    factors = getattr(model, "user_factors_", None)
    items = getattr(model, "item_factors_", None)
    if factors is None or items is None or np.ndim(factors) != 2:
        return 0
    return int(np.shape(factors)[1])


def _fits(dataset, model) -> bool:
    return np.shape(model.user_factors_)[0] == dataset.n_rows and np.shape(model.item_factors_)[0] == dataset.n_cols


def _value_name(dataset) -> str:
    return {"explicit": "rating", "implicit": "interaction", "documents": "weight",
            "images": "intensity"}.get(dataset.kind, "value")


def _component_order(factors: np.ndarray) -> np.ndarray:
    """Order rows of non-negative factors by dominant component, then by its weight (descending)."""
    dominant = np.argmax(factors, axis=1)
    strength = factors[np.arange(len(factors)), dominant]
    return np.lexsort((-strength, dominant))


def _leading_orders(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column orders that put the block's leading pattern on the diagonal.

    The first left/right singular vectors of the double-centred block are a
    1-D embedding of its rows and columns (spectral seriation); sorting by
    them groups rows and columns that the model treats alike. A tiny SVD on
    the drawn block only: layout, not modelling.
    """
    centred = block - block.mean(axis=1, keepdims=True)
    centred = centred - centred.mean(axis=0, keepdims=True)
    if not np.isfinite(centred).all() or not np.abs(centred).max(initial=0) > 0:
        return np.arange(block.shape[0]), np.arange(block.shape[1])
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # a tiny SVD: BLAS threads only slow it (busy machines: 100x)
        u, _, vt = np.linalg.svd(centred, full_matrices=False)
    lead_u, lead_v = u[:, 0], vt[0]
    sign = 1.0 if lead_v.sum() >= 0 else -1.0  # a fixed orientation, so redraws agree
    return np.argsort(-sign * lead_u, kind="stable"), np.argsort(-sign * lead_v, kind="stable")
