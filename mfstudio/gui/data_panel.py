"""The data panel: what was loaded, at a glance, and a preview of the entries."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QTableView, QVBoxLayout, QWidget

_KIND_WORDS = {
    "explicit": "Explicit ratings",
    "implicit": "Implicit interactions",
    "documents": "Documents x terms",
    "dense": "Dense matrix",
    "images": "Images x pixels",
}


class EntriesModel(QAbstractTableModel):
    """The dataset's entries as a table: raw ids, title, value. Rows load lazily."""

    def __init__(self, dataset=None):
        super().__init__()
        self.dataset = dataset

    def set_dataset(self, dataset) -> None:
        self.beginResetModel()
        self.dataset = dataset
        self.endResetModel()

    def _columns(self) -> list[str]:
        ds = self.dataset
        cols = [ds.row_label, ds.col_label]
        if ds.item_titles is not None:
            cols.append("title")
        cols.append({"explicit": "rating", "implicit": "count", "documents": "weight"}.get(ds.kind, "value"))
        return cols

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if self.dataset is None or parent.isValid() else self.dataset.nnz

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if self.dataset is None else len(self._columns())

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal and self.dataset is not None:
            return self._columns()[section]
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) or self.dataset is None:
            return None
        ds, r = self.dataset, index.row()
        name = self._columns()[index.column()]
        if name == ds.row_label:
            return str(ds.row_ids[ds.rows[r]])
        if name == ds.col_label:
            return str(ds.col_ids[ds.cols[r]])
        if name == "title":
            return str(ds.item_titles[ds.cols[r]])
        return f"{ds.values[r]:g}"


class DataPanel(QWidget):
    """Kind (with the loader's reason, changeable), shape, density, value histogram, entries per row; a preview.

    Signals
    -------
    kind_requested(str)
        The user chose to treat the data as another kind; the window reloads it so.
    """

    kind_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.dataset = None
        self.name_label = QLabel("No data loaded. Drop a file here, or use File > Open Sample.")
        self.name_label.setWordWrap(True)
        font = self.name_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.name_label.setFont(font)
        self.fields = {}
        form = QFormLayout()
        self.treat_as = QComboBox()
        self.treat_as.setToolTip("What the values mean. mfstudio decided from the file (the reason is shown above); "
                                 "choose another kind to reload the data that way.")
        self.treat_as.activated.connect(self._on_treat_as)
        for key in ("kind", "why", "shape", "entries", "density", "scale", "per row", "per column", "features",
                    "notes"):
            label = QLabel("")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = label
            form.addRow(key + ":", label)
            if key == "why":
                form.addRow("treat as:", self.treat_as)

        self.value_plot = pg.PlotWidget()
        self.value_plot.setMinimumHeight(130)
        self.value_plot.setMaximumHeight(170)
        self.value_plot.setMouseEnabled(False, False)
        self.value_plot.setTitle("Values")
        self.count_plot = pg.PlotWidget()
        self.count_plot.setMinimumHeight(130)
        self.count_plot.setMaximumHeight(170)
        self.count_plot.setMouseEnabled(False, False)
        self.count_plot.setTitle("Entries per row")

        self.table_model = EntriesModel()
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.verticalHeader().setDefaultSectionSize(20)
        # Column widths from the first rows only: Qt's default measures 1,000 rows (32,000 cell lookups on
        # every load, 0.2 s of the window's start), and the visible rows are the first few dozen.
        self.table.horizontalHeader().setResizeContentsPrecision(100)
        self.table.verticalHeader().setResizeContentsPrecision(100)
        self.table.setAlternatingRowColors(True)
        self.table.setMinimumHeight(220)

        layout = QVBoxLayout(self)
        layout.addWidget(self.name_label)
        layout.addLayout(form)
        layout.addWidget(self.value_plot)
        layout.addWidget(self.count_plot)
        layout.addWidget(self.table, stretch=1)

    def _on_treat_as(self) -> None:
        kind = self.treat_as.currentData()
        if self.dataset is not None and kind != self.dataset.kind:
            self.kind_requested.emit(kind)

    def set_dataset(self, dataset) -> None:
        self.dataset = dataset
        s = dataset.summary()
        self.name_label.setText(s.name or "(unnamed)")
        rows, cols = dataset.row_label, dataset.col_label
        self.fields["kind"].setText(_KIND_WORDS[s.kind])
        self.fields["why"].setText(getattr(dataset, "kind_reason", "") or "-")
        self.treat_as.blockSignals(True)
        self.treat_as.clear()
        for kind in getattr(s, "kind_choices", None) or (s.kind,):
            self.treat_as.addItem(_KIND_WORDS[kind], kind)
        self.treat_as.setCurrentIndex(max(0, self.treat_as.findData(s.kind)))
        self.treat_as.setEnabled(self.treat_as.count() > 1)
        self.treat_as.blockSignals(False)
        self.fields["shape"].setText(f"{s.n_rows:,} {rows}s x {s.n_cols:,} {cols}s")
        self.fields["entries"].setText(f"{s.nnz:,} observed")
        self.fields["density"].setText(f"{s.density:.2%} of all cells")
        self.fields["scale"].setText(f"{s.rating_scale[0]:g} to {s.rating_scale[1]:g}" if s.rating_scale else "-")
        self.fields["per row"].setText(
            f"median {s.per_row['median']:g}, mean {s.per_row['mean']:.1f}, max {s.per_row['max']:,} per {rows}")
        self.fields["per column"].setText(
            f"median {s.per_col['median']:g}, mean {s.per_col['mean']:.1f}, max {s.per_col['max']:,} per {cols}")
        # Side information the hybrid model and the cold-start protocols use (MovieLens' u.item genres and
        # u.user demographics are found without asking; File > Attach ... Features adds others).
        if s.side_features:
            self.fields["features"].setText("\n".join(s.side_features))
        elif s.kind in ("explicit", "implicit"):
            self.fields["features"].setText("none (File > Attach Item/User Features adds a file of them)")
        else:
            self.fields["features"].setText("-")  # documents, images and grids are decomposed: no side information
        self.fields["features"].setToolTip(
            "Side information: what is known about the items (genres, year, tags...) and the users (age, "
            "occupation...). The hybrid model uses it to predict new items and new users, and the cold-start "
            "protocols (new items / new users held out) test exactly that.")
        self.fields["notes"].setText("; ".join(s.notes) or "-")

        counts, edges = s.value_histogram
        self.value_plot.clear()
        if len(counts):
            width = float(np.min(np.diff(edges))) * 0.85
            centers = (edges[:-1] + edges[1:]) / 2
            self.value_plot.addItem(pg.BarGraphItem(x=centers, height=counts, width=width, brush="#0072B2"))
        self.value_plot.setTitle("Values" if s.kind != "explicit" else "Ratings")
        self.value_plot.setLabel("left", "count")

        hist, edges = dataset.row_count_histogram()
        self.count_plot.clear()
        if hist.size:
            self.count_plot.plot(edges, hist, stepMode="center", fillLevel=0, brush="#E69F00", pen=pg.mkPen("#E69F00"))
        # Short: the axis below says "entries per ...", and a title wider than the
        # dock (long row names: "document") cut the plot off at its edge.
        self.count_plot.setTitle(f"Per {rows}")
        self.count_plot.setLabel("bottom", f"entries per {rows}")
        self.count_plot.setLabel("left", f"{rows}s")
        self.table_model.set_dataset(dataset)
        self.table.resizeColumnsToContents()
