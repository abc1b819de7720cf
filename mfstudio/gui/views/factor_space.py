"""Factor space: items, users or documents as points, placed by their factor vectors.

Two chosen factors, or the first two principal components of the factor
vectors, coloured by the rarest genre of each item (or one chosen genre
against the rest, grey), by each document's label
when the documents carry one, or, for documents and terms, by the component
that dominates each vector. Titles show on hover. Positions, categories and
names come from :func:`mfstudio.inspect.factor_map`; this view only draws them.

Built for 100k points: one ScatterPlotItem, one brush array (one QBrush per
category, shared), ``pxMode=True``, no pen, cached symbols.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QVBoxLayout, QWidget

from ...inspect import FactorMap, factor_map, genre_categories, genre_names, has_factors_for, with_categories
from .base import PALETTE, ResultView

# Distinct category colours: Okabe-Ito (yellow last: faint on white), then the tab10 hues
# that differ from them. Grey is kept for "other".
CATEGORY_COLORS = [c for c in PALETTE[:7] if c != "#F0E442"] + [
    "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#F0E442"]
OTHER_COLOR = "#9a9a9a"
SIDES = ("items", "users")
PCA, FACTORS = "Principal components", "Two factors"
RAREST_GENRE = "rarest genre"  # the colour combo's first entry; the others highlight one genre


class FactorSpaceView(ResultView):
    """A 2-D map of the factor vectors, coloured by category, titles on hover."""

    title = "Factor space"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.map: FactorMap | None = None  # what is drawn
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
        self.colour_label = QLabel("Colour by")
        self.colour_combo = QComboBox()
        self.colour_combo.setToolTip("Colour each item by the rarest of its genres (the most telling one),\n"
                                     "or pick one genre to show its items in colour and the rest in grey.")
        # Short entries and a narrow combo: the controls row must fit a 1280 px window.
        self.colour_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.colour_combo.setMinimumContentsLength(11)
        self.colour_combo.currentIndexChanged.connect(self._redraw)
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
        # Colours get a row of their own (shown for items with genres): one row would not fit 1280 px.
        self.colour_row = QWidget()
        colour_controls = QHBoxLayout(self.colour_row)
        colour_controls.setContentsMargins(0, 0, 0, 0)
        colour_controls.addWidget(self.colour_label)
        colour_controls.addWidget(self.colour_combo)
        colour_controls.addStretch(1)

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
        layout.addWidget(self.colour_row)
        layout.addWidget(self.info)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.hover)
        self._on_mode()

    # ------------------------------------------------------------ protocol
    def applies_to(self, dataset, run) -> bool:
        if dataset is None or run is None:
            return False
        return has_factors_for(dataset, run.model)

    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self.side_combo.blockSignals(True)
        self.side_combo.setItemText(0, f"{dataset.col_label}s" if dataset is not None else "items")
        self.side_combo.setItemText(1, f"{dataset.row_label}s" if dataset is not None else "users")
        self.side_combo.blockSignals(False)
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        genres = getattr(dataset, "item_genres", None) if dataset is not None else None
        if genres is not None:
            self.colour_combo.addItem(RAREST_GENRE, None)
            for genre in genre_names(genres):
                self.colour_combo.addItem(f"only {genre}", genre)
        self.colour_combo.blockSignals(False)
        self._clear("Fit a factor model to see where its vectors lie.")

    def set_run(self, run) -> None:
        super().set_run(run)
        k = run.model.item_factors_.shape[1] if run is not None and self.applies_to(self.dataset, run) else 0
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

    def highlight_genre(self, genre: str | None) -> None:
        """Show ``genre``'s items in colour and the rest grey; None colours each item by its rarest genre."""
        index = self.colour_combo.findData(genre) if genre is not None else 0
        if genre is not None and index < 0:
            raise ValueError(f"no genre {genre!r} in this data")
        self.colour_combo.setCurrentIndex(index)

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
        self.map = None
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
        pca = self.mode_combo.currentText() == PCA
        fmap = factor_map(dataset, model, side, "pca" if pca else "factors",
                          self.x_spin.value() - 1, self.y_spin.value() - 1)
        highlight = None
        genre_colours = side == "items" and self.colour_combo.count() > 0 and dataset.kind not in ("documents", "images")
        self.colour_row.setVisible(genre_colours)
        if genre_colours:
            highlight = self.colour_combo.currentData()
            fmap = with_categories(fmap, *genre_categories(dataset.item_genres, highlight))
        self.map = fmap
        self._side = side
        n = fmap.n_points
        noun = (dataset.col_label if side == "items" else dataset.row_label) + "s"
        self.coords = fmap.coords
        self.plot.setLabel("bottom", fmap.axis_labels[0])
        self.plot.setLabel("left", fmap.axis_labels[1])

        # ---- colours: one shared QBrush per category, looked up by code (one brush array)
        names, codes = list(fmap.category_names), fmap.category_codes
        self.category_names, self.category_codes = names, codes
        self.category_colors = [OTHER_COLOR if name == "other" or (highlight is not None and i > 0)
                                else CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, name in enumerate(names)]
        alpha = 220 if n < 5000 else 150
        brushes = []
        for c in self.category_colors:
            qcolor = pg.mkColor(c)
            qcolor.setAlpha(alpha)
            brushes.append(pg.mkBrush(qcolor))
        lookup = np.empty(len(brushes), dtype=object)
        lookup[:] = brushes
        size = 8 if n < 3000 else 5 if n < 30000 else 3
        self._names = fmap.point_names
        self._noun = noun[:-1]

        # One setData call: positions, one brush array (shared QBrush objects), indices as data.
        # Highlighting draws the grey points first, so the chosen genre lies on top of them.
        order = np.argsort(-codes, kind="stable") if highlight is not None else np.arange(n)
        self.scatter.setData(x=fmap.coords[order, 0], y=fmap.coords[order, 1], data=order, brush=lookup[codes[order]],
                             size=size, pen=None, symbol="o", pxMode=True)
        # Frame the bulk of the points: a few extreme vectors (rarely seen items) would squash the rest.
        self.plot.enableAutoRange(enable=0.998 if n > 200 else True)
        self._build_legend(names, fmap.category_counts, fmap.colour_meaning)
        title = getattr(model, "title", "") or getattr(model, "name", "")
        self.plot.setTitle(f"{n:,} {noun} of {run.name or title}")
        self.info.setText(f"Each point is one of the {noun}, placed by its factor vector ({fmap.projection}); "
                          f"colour: {fmap.colour_meaning}. Points close together are treated alike by the model. "
                          "Hover for names.")
        self.hover.setText(" ")

    def _build_legend(self, names, counts, what):
        self.legend.clear()
        if len(names) <= 1:
            self.legend.setVisible(False)
            return
        self.legend.setColumnCount(1 if len(names) <= 16 else 2)
        for name, c, count in zip(names, self.category_colors, counts):
            sample = pg.ScatterPlotItem(symbol="o", size=10, brush=pg.mkBrush(c), pen=None)
            self.legend.addItem(sample, f"{_short(str(name))} ({count:,})")
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


#: Longest legend label: a topic's top words ("1: doctor, goal, patient, ...") would
#: otherwise widen the plot past a 1280-pixel window; the hover shows the full text.
_LEGEND_CHARS = 16


def _short(name: str) -> str:
    return name if len(name) <= _LEGEND_CHARS else name[: _LEGEND_CHARS - 1].rstrip(", ") + "…"
