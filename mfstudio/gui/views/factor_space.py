"""Factor space: items, users or documents as points, placed by their factor vectors.

Two chosen factors, or the first two principal components of the factor
vectors (a projection for drawing: an SVD of the centred k x k covariance),
coloured by the first genre of each item or, for documents and terms, by the
component that dominates each vector. Titles show on hover.

Built for 100k points: one ScatterPlotItem, one brush array (one QBrush per
category, shared), ``pxMode=True``, no pen, cached symbols.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from .base import PALETTE, ResultView

# Distinct category colours: Okabe-Ito (yellow last: faint on white), then the tab10 hues
# that differ from them. Grey is kept for "other".
CATEGORY_COLORS = [c for c in PALETTE[:7] if c != "#F0E442"] + [
    "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#F0E442"]
MAX_CATEGORIES = 12
OTHER_COLOR = "#9a9a9a"
SIDES = ("items", "users")
PCA, FACTORS = "Principal components", "Two factors"


class FactorSpaceView(ResultView):
    """A 2-D map of the factor vectors, coloured by category, titles on hover."""

    title = "Factor space"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.coords: np.ndarray | None = None  # (n, 2) drawn positions
        self.category_names: list[str] = []
        self.category_codes: np.ndarray | None = None  # (n,) index into category_names
        self.category_colors: list[str] = []
        self._names: np.ndarray | None = None  # hover names, one per point
        self._side = "items"
        self._noun = "item"

        # ---- controls
        self.side_combo = QComboBox()
        self.side_combo.addItem("items", "items")
        self.side_combo.addItem("users", "users")
        self.mode_combo = QComboBox()
        self.mode_combo.addItems([PCA, FACTORS])
        self.mode_combo.setToolTip("Principal components: the two directions along which the vectors vary most.\n"
                                   "Two factors: any two of the model's factors, as they are.")
        self.x_spin = QSpinBox()
        self.y_spin = QSpinBox()
        for spin, value in ((self.x_spin, 1), (self.y_spin, 2)):
            spin.setRange(1, 1)
            spin.setValue(value)
            spin.setPrefix("factor ")
            spin.setKeyboardTracking(False)
        self.side_combo.currentIndexChanged.connect(self._redraw)
        self.mode_combo.currentIndexChanged.connect(self._on_mode)
        self.x_spin.valueChanged.connect(self._redraw)
        self.y_spin.valueChanged.connect(self._redraw)
        self.x_label, self.y_label = QLabel("x:"), QLabel("y:")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Show"))
        controls.addWidget(self.side_combo)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Axes"))
        controls.addWidget(self.mode_combo)
        controls.addWidget(self.x_label)
        controls.addWidget(self.x_spin)
        controls.addWidget(self.y_label)
        controls.addWidget(self.y_spin)
        controls.addStretch(1)

        # ---- plot
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.scatter = pg.ScatterPlotItem(pxMode=True, pen=None, size=6, symbol="o", useCache=True,
                                          hoverable=True, tip=self._tip)
        self.scatter.sigHovered.connect(self._on_hovered)
        self.plot.addItem(self.scatter)
        # The legend sits beside the plot, not on the points.
        self.legend = pg.LegendItem(labelTextColor="#222", verSpacing=-6)
        self.legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.plot.layout.addItem(self.legend, 2, 3)
        self.plot.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.info = QLabel("Fit a factor model to see its items and users in factor space.")
        self.info.setWordWrap(True)
        self.hover = QLabel(" ")
        self.hover.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QWidget()
        top.setLayout(controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(top)
        layout.addWidget(self.info)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.hover)
        self._on_mode()

    # ------------------------------------------------------------ protocol
    def applies_to(self, dataset, run) -> bool:
        if dataset is None or run is None:
            return False
        users = getattr(run.model, "user_factors_", None)
        items = getattr(run.model, "item_factors_", None)
        return (users is not None and items is not None and np.ndim(items) == 2 and np.shape(items)[1] >= 1
                and np.shape(items)[0] == dataset.n_cols and np.shape(users)[0] == dataset.n_rows)

    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self.side_combo.blockSignals(True)
        self.side_combo.setItemText(0, f"{dataset.col_label}s" if dataset is not None else "items")
        self.side_combo.setItemText(1, f"{dataset.row_label}s" if dataset is not None else "users")
        self.side_combo.blockSignals(False)
        self._clear("Fit a factor model to see where its vectors lie.")

    def set_run(self, run) -> None:
        super().set_run(run)
        k = np.shape(getattr(run.model, "item_factors_", np.zeros((0, 0))))[1] if run is not None else 0
        for spin in (self.x_spin, self.y_spin):
            spin.blockSignals(True)
            spin.setRange(1, max(k, 1))
            spin.blockSignals(False)
        if self.y_spin.value() == self.x_spin.value() and k >= 2:
            self.y_spin.blockSignals(True)
            self.y_spin.setValue(2 if self.x_spin.value() != 2 else 1)
            self.y_spin.blockSignals(False)
        self._redraw()

    def set_side(self, side: str) -> None:
        """Show "items" (columns: items, terms, pixels) or "users" (rows: users, documents, images)."""
        self.side_combo.setCurrentIndex(SIDES.index(side))

    def set_axes(self, mode: str, x: int = 1, y: int = 2) -> None:
        """``mode`` "pca" or "factors" (then ``x``, ``y`` are 1-based factor numbers)."""
        for spin, value in ((self.x_spin, x), (self.y_spin, y)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        index = 0 if mode == "pca" else 1
        if self.mode_combo.currentIndex() == index:
            self._redraw()
        else:
            self.mode_combo.setCurrentIndex(index)

    # -------------------------------------------------------------- drawing
    def _on_mode(self, *_):
        manual = self.mode_combo.currentText() == FACTORS
        for widget in (self.x_spin, self.y_spin, self.x_label, self.y_label):
            widget.setEnabled(manual)
        self._redraw()

    def _clear(self, message: str) -> None:
        self.coords = None
        self.category_codes = None
        self.category_names, self.category_colors = [], []
        self._names = None
        self.scatter.clear()
        self.legend.clear()
        self.legend.setVisible(False)
        self.info.setText(message)
        self.hover.setText(" ")

    def _redraw(self, *_):
        dataset, run = self.dataset, self.run
        if dataset is None or run is None or not self.applies_to(dataset, run):
            self._clear("This run has no factors to place in a map." if run is not None
                        else "Fit a factor model to see where its vectors lie.")
            return
        model = run.model
        side = SIDES[self.side_combo.currentIndex()]
        self._side = side
        factors = np.asarray(model.item_factors_ if side == "items" else model.user_factors_)
        n, k = factors.shape
        raw = factors
        weighted = False
        sv = getattr(model, "singular_values_", None)
        if side == "items" and sv is not None and np.size(sv) == k:
            # An SVD keeps the scale on one side (U * s, V): give the items their singular
            # values back, so that strong patterns count more than weak ones in the map.
            factors = factors * np.asarray(sv, dtype=factors.dtype)
            weighted = True
        noun = (dataset.col_label if side == "items" else dataset.row_label) + "s"

        # ---- positions
        scaled = False
        if self.mode_combo.currentText() == PCA and k >= 2:
            projected = factors
            if factors.min() >= 0:
                # Non-negative factors (NMF) carry an arbitrary scale per component; even it out
                # so one component does not dominate the picture.
                top = factors.max(axis=0)
                projected = factors / np.where(top > 0, top, 1)
                scaled = True
            coords, shares = _principal_components(projected)
            labels = [f"PC {d + 1} ({100 * shares[d]:.0f}% of the spread)" for d in range(2)]
        else:
            fx, fy = self.x_spin.value() - 1, self.y_spin.value() - 1
            x = factors[:, min(fx, k - 1)]
            y = factors[:, fy] if k >= 2 and fy < k else np.zeros(n)
            coords = np.column_stack([x, y]).astype(np.float64)
            labels = [f"factor {min(fx, k - 1) + 1}", f"factor {fy + 1}" if k >= 2 else "(the model has one factor)"]
        self.coords = coords
        self.plot.setLabel("bottom", labels[0])
        self.plot.setLabel("left", labels[1])

        # ---- colours
        names, codes, what = self._categories(side, raw)
        self.category_names, self.category_codes = names, codes
        self.category_colors = [OTHER_COLOR if name == "other" else CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
                                for i, name in enumerate(names)]
        alpha = 220 if n < 5000 else 150
        brushes = []
        for c in self.category_colors:
            qcolor = pg.mkColor(c)
            qcolor.setAlpha(alpha)
            brushes.append(pg.mkBrush(qcolor))
        lookup = np.empty(len(brushes), dtype=object)
        lookup[:] = brushes
        size = 8 if n < 3000 else 5 if n < 30000 else 3

        # ---- hover names
        if side == "items":
            self._names = dataset.title_of(np.arange(n)).astype(str)
        else:
            self._names = np.asarray(dataset.row_ids).astype(str)
        self._noun = noun[:-1]

        # One setData call: positions, one brush array (shared QBrush objects), indices as data.
        self.scatter.setData(x=coords[:, 0], y=coords[:, 1], data=np.arange(n), brush=lookup[codes],
                             size=size, pen=None, symbol="o", pxMode=True)
        # Frame the bulk of the points: a few extreme vectors (rarely seen items) would squash the rest.
        self.plot.enableAutoRange(enable=0.998 if n > 200 else True)
        self._build_legend(names, codes, what)
        title = getattr(model, "title", "") or getattr(model, "name", "")
        self.plot.setTitle(f"{n:,} {noun} of {run.name or title}")
        how = ("the two directions along which the vectors vary most" if self.mode_combo.currentText() == PCA and k >= 2
               else "two of the model's factors")
        if scaled:
            how += ", each component scaled to a maximum of 1"
        if weighted:
            how += ", factors weighted by their singular values"
        self.info.setText(f"Each point is one of the {noun}, placed by its factor vector ({how}); "
                          f"colour: {what}. Points close together are treated alike by the model. Hover for names.")
        self.hover.setText(" ")

    def _categories(self, side: str, factors: np.ndarray):
        """(category names, code per point, what the colour means)."""
        dataset = self.dataset
        n, k = factors.shape
        if dataset.kind in ("documents", "images") and k >= 2:
            codes = np.argmax(factors, axis=1)
            # Name each component by its three heaviest columns (terms), when the columns have names.
            names = [f"component {c + 1}" for c in range(k)]
            if dataset.kind == "documents":
                items = np.asarray(self.run.model.item_factors_)
                top = np.argsort(-items, axis=0)[:3]
                terms = dataset.title_of(top.ravel()).reshape(top.shape)
                names = [f"{c + 1}: {', '.join(terms[:, c])}" for c in range(k)]
            # Components keep their own order, so one component has one colour on both sides.
            return _limit(names, codes, "the component that dominates each vector", by_count=False)
        if side == "items" and dataset.item_genres is not None:
            first = np.char.partition(dataset.item_genres.astype(str), "|")[:, 0]
            first = np.where(first == "", "(no genre)", first)
            uniques, codes = np.unique(first, return_inverse=True)
            return _limit(list(uniques), codes.ravel(), "first genre")
        noun = (dataset.col_label if side == "items" else dataset.row_label) + "s"
        return [noun], np.zeros(n, dtype=np.int64), "one colour (no categories known)"

    def _build_legend(self, names, codes, what):
        self.legend.clear()
        if len(names) <= 1:
            self.legend.setVisible(False)
            return
        counts = np.bincount(codes, minlength=len(names))
        self.legend.setColumnCount(1 if len(names) <= 16 else 2)
        for name, c, count in zip(names, self.category_colors, counts):
            sample = pg.ScatterPlotItem(symbol="o", size=10, brush=pg.mkBrush(c), pen=None)
            self.legend.addItem(sample, f"{name} ({count:,})")
        self.legend.setVisible(True)

    # -------------------------------------------------------------- hover
    def _describe(self, index: int) -> str:
        index = int(index)
        name = self._names[index] if self._names is not None else str(index)
        category = self.category_names[self.category_codes[index]] if self.category_codes is not None else ""
        text = f"{self._noun} {name}" if self._side == "users" else name
        if self._side == "items" and self.dataset is not None and self.dataset.item_titles is not None:
            text = f"{name}  (id {self.dataset.col_ids[index]})"
        return f"{text}  [{category}]" if category and len(self.category_names) > 1 else text

    def _tip(self, x, y, data):
        return self._describe(data) if data is not None else ""

    def _on_hovered(self, item, points, ev):
        if len(points):
            shown = [self._describe(p.data()) for p in points[:3]]
            more = f"  (+{len(points) - 3} more here)" if len(points) > 3 else ""
            self.hover.setText(";  ".join(shown) + more)

    # ------------------------------------------------------------ export
    def export_plot(self):
        return self.plot

    def point_count(self) -> int:
        """Number of points drawn (for tests)."""
        return len(self.scatter.data)

    def point_colors(self) -> list[str]:
        """The colour of every drawn point, as '#rrggbb' (for tests)."""
        return [b.color().name() for b in self.scatter.data["brush"]]


def _principal_components(factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal-component coordinates of the rows, and each one's share of the spread.

    Drawing only: an eigen-decomposition of the k x k covariance, cheap for
    100k rows.
    """
    x = np.asarray(factors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / max(len(x) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    # A fixed sign per axis (largest loading positive) so redraws do not flip.
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
    vectors = vectors * np.where(signs == 0, 1, signs)
    total = values.sum()
    shares = values / total if total > 0 else np.zeros_like(values)
    return centred @ vectors[:, :2], shares[:2]


def _limit(names: list[str], codes: np.ndarray, what: str, by_count: bool = True):
    """Keep the MAX_CATEGORIES most frequent categories; the rest become "other".

    Categories are listed largest first, or in their given order when
    ``by_count`` is false and they all fit.
    """
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=len(names))
    if not by_count and len(names) <= MAX_CATEGORIES + 1:
        return [str(n) for n in names], codes, what
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    keep = order[:MAX_CATEGORIES] if len(order) > MAX_CATEGORIES + 1 else order
    new_code = np.full(len(names), len(keep), dtype=np.int64)
    new_code[keep] = np.arange(len(keep))
    kept_names = [str(names[i]) for i in keep]
    if len(keep) < len(order):
        kept_names.append("other")
    return kept_names, new_code[codes], what
