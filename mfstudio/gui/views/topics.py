"""Topics & parts: what NMF (or truncated SVD) found in documents and images.

Documents: one card per component with its heaviest words as bars, and the
share of documents it leads; clicking a card (or picking the topic in the
list) lists the documents most about it. Images: every component as a small
image, and for a chosen image its original, its reconstruction ``W[i] @ H``
and the parts that build it.

The model's ``user_factors_`` (W, rows x k) and ``components_`` (H, k x
columns; ``item_factors_.T`` where a model has no ``components_``) are
summarised by :mod:`mfstudio.inspect` (top words, lead shares, documents per
topic, agreement with a label column, an image taken apart); this view only
draws the records it gets back. When the documents carry labels
(``Dataset.row_labels``), the document list shows each one's label and the
heading how well topics agree with them (NMI, purity).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSizeF, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...inspect import (
    SignedTopicSummary,
    TopicAgreement,
    TopicSummary,
    display_levels,
    factors_of,
    has_signed_components,
    image_breakdown,
    strongest_parts,
    topic_documents,
    topic_label_agreement,
    signed_topic_summary,
    topic_summary,
)
from .base import ResultView, color

# factors_of lives in mfstudio.inspect; re-exported for callers that import it from here.
__all__ = ["TopicsView", "factors_of"]

TEXT_PREVIEW = 120  # characters of each document shown in the table
MAX_DOCUMENTS = 100  # rows of the "documents about this topic" table
N_STRONGEST = 4  # parts shown beside an image
LABEL_COLUMN = 5  # logical column of the documents table holding each document's label


class _Grid(pg.GraphicsLayoutWidget):
    """A grid of small plots that lives in a scroll area: the wheel scrolls the page."""

    #: The grid got a new size (its scroll area was resized, or a scroll bar came or went).
    resized = Signal()

    def wheelEvent(self, ev):  # noqa: N802 - Qt API
        ev.ignore()

    def resizeEvent(self, ev):  # noqa: N802 - Qt API
        super().resizeEvent(ev)
        self.resized.emit()
        # A redraw triggered by the signal may change our minimum height while
        # this resize is being handled; pyqtgraph then keeps the old pixel range
        # and stretches the grid past the scroll area. Re-sync once it settles.
        QTimer.singleShot(0, self._sync_range)

    def _sync_range(self) -> None:
        if not self.closed and self.range.size() != QSizeF(self.size()):
            pg.GraphicsView.resizeEvent(self, None)


def _small_plot(plot: pg.PlotItem) -> None:
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()


def _image_plot(plot: pg.PlotItem) -> pg.ImageItem:
    _small_plot(plot)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.invertY(True)  # row 0 at the top, as images are read
    plot.setAspectLocked(True)
    image = pg.ImageItem(axisOrder="row-major")
    plot.addItem(image)
    return image


# Ink on paper: 0 is white (the app's background), strong is dark.
_INK = pg.ColorMap([0.0, 1.0], [(255, 255, 255), (20, 20, 30)])
# Signed parts (SVD): blue below zero, white at zero, red above (colorcet's diverging D1A).
_SIGNED_MAP = "CET-D1A"
_UNBOUNDED = 16_777_215  # Qt's QWIDGETSIZE_MAX: no maximum height


def _colour_key(signed: bool) -> str:
    """One line saying what the colours of a run's parts mean."""
    if signed:
        return ("Colours: <span style='color:#c0392b'><b>red</b></span> = positive, "
                "<span style='color:#2c6fbb'><b>blue</b></span> = negative, white = 0 (each part scaled to its "
                "largest |value|). A part's sign is arbitrary: a part and its negative are the same pattern.")
    return "Colours: white = 0, darker = more ink (each part scaled to its largest value); parts only add."


def _table(headers: list[str], stretch: int | None = None) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    if stretch is not None:
        table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _item(text, number: float | None = None, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(str(text))
    if number is not None:
        item.setData(Qt.ItemDataRole.UserRole, float(number))
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class TopicsView(ResultView):
    """Topics of documents, or parts of images, found by a factorization."""

    title = "Topics & parts"
    #: A topic (0-based) was chosen by a click on its card or in the list.
    topic_selected = Signal(int)

    CARD_WIDTH = 300  # a card with its title and word axis needs ~285 px
    PART_SIZE = 118

    def __init__(self, parent=None):
        super().__init__(parent)
        self.W: np.ndarray | None = None
        self.H: np.ndarray | None = None
        self.mode: str | None = None  # "documents", "images" or None
        self.current_topic = 0
        self.current_image = 0
        self.cards: list[pg.PlotItem] = []
        self.part_plots: list[pg.PlotItem] = []
        self.summary: TopicSummary | None = None
        # Both ends of each component when the factors take both signs (SVD); None for NMF.
        self.signed: SignedTopicSummary | None = None
        self.agreement: TopicAgreement | None = None  # only when the documents have labels
        self._columns_used = 0
        self._csr = None

        self.stack = QStackedWidget()
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.stack.addWidget(self.message)
        self.stack.addWidget(self._build_documents_page())
        self.stack.addWidget(self._build_images_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._show_message()

    # ------------------------------------------------------------- layout
    def _build_documents_page(self) -> QWidget:
        page = QWidget()
        self.doc_heading = QLabel()
        self.doc_heading.setWordWrap(True)
        self.n_words = QSpinBox()
        self.n_words.setRange(3, 30)
        self.n_words.setValue(8)
        self.n_words.setToolTip("How many of each topic's heaviest words its card shows")
        self.n_words.valueChanged.connect(lambda _: self._draw_documents())
        self.topic_combo = QComboBox()
        self.topic_combo.setMinimumContentsLength(30)
        self.topic_combo.currentIndexChanged.connect(self._on_combo)
        # The heading spans the tab above its controls: beside them it wrapped into a
        # six-line column at 1280 px.
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Words per topic:"))
        bar.addWidget(self.n_words)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Topic:"))
        bar.addWidget(self.topic_combo)
        bar.addStretch(1)

        self.card_grid = _Grid()
        # An explicit minimum overrides the plots' own (their titles' widths
        # added up), so the grid follows the scroll area instead of overflowing it.
        self.card_grid.setMinimumWidth(120)
        self.card_grid.ci.setSpacing(6)
        self.card_grid.scene().sigMouseClicked.connect(self._on_card_click)
        self.card_scroll = QScrollArea()
        self.card_scroll.setWidget(self.card_grid)
        self.card_scroll.setWidgetResizable(True)
        self.card_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.card_grid.resized.connect(self._on_grid_resized)

        self.docs_label = QLabel()
        self.docs_label.setWordWrap(True)
        self.docs_table = _table(["#", "document", "weight", "share of doc", "text", "label"], stretch=4)
        self.docs_table.setToolTip("weight: the document's W value for this topic; "
                                   "share of doc: that weight over all of the document's weights")
        # The label column is added last (columns 0-4 keep their meaning) but shown next to the document id.
        self.docs_table.horizontalHeader().moveSection(LABEL_COLUMN, 2)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 4, 0, 0)
        lower_layout.addWidget(self.docs_label)
        lower_layout.addWidget(self.docs_table)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.card_scroll)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)

        # Not shown: the table File > Export > Current table writes (top words per topic).
        self.words_table = _table(["topic", "rank", "word", "weight", "leads (share of documents)"])

        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.doc_heading)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        return page

    def _build_images_page(self) -> QWidget:
        page = QWidget()
        self.parts_heading = QLabel()
        self.parts_heading.setWordWrap(True)
        self.parts_grid = _Grid()
        self.parts_grid.setMinimumWidth(120)
        self.parts_grid.ci.setSpacing(4)
        self.parts_scroll = QScrollArea()
        self.parts_scroll.setWidget(self.parts_grid)
        self.parts_scroll.setWidgetResizable(True)
        self.parts_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.parts_grid.resized.connect(self._on_grid_resized)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.parts_heading)
        left_layout.addWidget(self.parts_scroll, 1)

        self.image_spin = QSpinBox()
        self.image_spin.setMinimum(1)
        self.image_spin.setToolTip("Which image (row of the data) to take apart")
        self.image_spin.valueChanged.connect(lambda v: self.select_image(v - 1))
        self.image_id = QLabel()
        self.image_info = QLabel()
        self.image_info.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Image:"))
        controls.addWidget(self.image_spin)
        controls.addWidget(self.image_id, 1)
        self.detail = _Grid()
        self.detail.setMinimumWidth(120)  # its plots' titles must not widen the tab past the window
        self.detail.ci.setSpacing(4)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(controls)
        right_layout.addWidget(self.image_info)
        right_layout.addWidget(self.detail, 1)
        # The detail's eight plots are made when an image is first shown: on any other data they cost
        # 0.15 s of the window's start for nothing.
        self.strong_plots: list = []

        # Another run's parts beside these (NMF's strokes next to SVD's signed eigen-images):
        # it takes the place of the image breakdown while chosen; both grids scroll together.
        self.compare_heading = QLabel()
        self.compare_heading.setWordWrap(True)
        self.compare_grid = _Grid()
        self.compare_grid.setMinimumWidth(120)
        self.compare_grid.ci.setSpacing(4)
        self.compare_scroll = QScrollArea()
        self.compare_scroll.setWidget(self.compare_grid)
        self.compare_scroll.setWidgetResizable(True)
        self.compare_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.compare_grid.resized.connect(self._on_grid_resized)
        ours, theirs = self.parts_scroll.verticalScrollBar(), self.compare_scroll.verticalScrollBar()
        ours.valueChanged.connect(lambda v: self._sync_scroll(theirs, v))
        theirs.valueChanged.connect(lambda v: self._sync_scroll(ours, v))
        compare_page = QWidget()
        compare_layout = QVBoxLayout(compare_page)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.addWidget(self.compare_heading)
        compare_layout.addWidget(self.compare_scroll, 1)
        self.right_stack = QStackedWidget()
        self.right_stack.addWidget(right)
        self.right_stack.addWidget(compare_page)

        self.compare_combo = QComboBox()
        # Long run names must not widen the tab past the window (at 1280 px it scrolled sideways).
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setMinimumContentsLength(28)
        self.compare_combo.setToolTip("Put another run's parts beside this run's (e.g. NMF's strokes next to "
                                      "SVD's signed eigen-images); the first entry takes one image apart instead")
        self.compare_combo.activated.connect(lambda _: self._on_compare_chosen())
        compare_bar = QHBoxLayout()
        compare_bar.addWidget(QLabel("Right side:"))
        compare_bar.addWidget(self.compare_combo)
        self.compare_hint = QLabel()
        self.compare_hint.setStyleSheet("color: #555;")
        compare_bar.addWidget(self.compare_hint, 1)
        self.compared_run = None
        self._compare_columns = 0
        self.compare_plots: list[pg.PlotItem] = []
        self.compare_items: list[pg.ImageItem] = []

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.right_stack)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        self.parts_table = _table(["part", "leads (share of images)", "mean weight"])

        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(compare_bar)
        layout.addWidget(split, 1)  # the bar keeps its own height; the parts get the rest
        return page

    def _build_detail(self) -> None:
        if self.strong_plots:
            return
        ci = self.detail.ci
        self.original_plot = ci.addPlot(row=0, col=0, colspan=2)
        self.original_item = _image_plot(self.original_plot)
        self.reconstruction_plot = ci.addPlot(row=0, col=2, colspan=2)
        self.reconstruction_item = _image_plot(self.reconstruction_plot)
        for plot in (self.original_plot, self.reconstruction_plot):
            plot.getViewBox().setBorder(pg.mkPen("#bbb", width=1))
        label = ci.addLabel("Strongest parts in this image (× how strongly each appears; 1 = the part at full strength)",
                            row=1, col=0, colspan=N_STRONGEST, size="9pt")
        label.setMaximumHeight(24)
        self.strong_plots, self.strong_images = [], []
        for j in range(N_STRONGEST):
            plot = ci.addPlot(row=2, col=j)
            self.strong_plots.append(plot)
            self.strong_images.append(_image_plot(plot))
        ci.layout.setRowStretchFactor(0, 2)
        ci.layout.setRowStretchFactor(2, 1)

    # ---------------------------------------------------------- ResultView
    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self._csr = None
        self._clear()
        self._show_message()

    def offer_runs(self, runs, prefer=None) -> None:
        super().offer_runs(runs, prefer=prefer)
        self._fill_compare_combo()

    def set_run(self, run) -> None:
        super().set_run(run)
        self._clear()
        self._fill_compare_combo()
        if not self.applies_to(self.dataset, run):
            self._show_message()
            return
        self.W, self.H = factors_of(run.model)
        # Enough words for any setting of the spin box; changing it only redraws.
        n_words = self.n_words.maximum() if self.dataset.kind == "documents" else 0
        self.summary = topic_summary(self.W, self.H, self._train().col_ids, n_words)
        if self.dataset.kind == "documents" and has_signed_components(self.H):
            self.signed = signed_topic_summary(self.H, self._train().col_ids, n_words)
        labels = getattr(self.dataset, "row_labels", None)
        if self.dataset.kind == "documents" and labels is not None:
            self.agreement = topic_label_agreement(self.W, labels)
        if self.dataset.kind == "images":
            self.mode = "images"
            self._draw_images()
            self.stack.setCurrentIndex(2)
        else:
            self.mode = "documents"
            self._draw_documents()
            self.stack.setCurrentIndex(1)

    def applies_to(self, dataset, run) -> bool:
        if dataset is None or run is None or dataset.kind not in ("documents", "images"):
            return False
        if dataset.kind == "images" and dataset.image_shape is None:
            return False
        factors = factors_of(run.model)
        if factors is None:
            return False
        W, H = factors
        return W.shape[0] == dataset.n_rows and H.shape[1] == dataset.n_cols

    def export_plot(self):
        if self.mode == "documents":
            return self.card_grid
        if self.mode == "images":
            return self.parts_grid
        return None

    def export_table(self):
        if self.mode == "documents":
            return self.words_table
        if self.mode == "images":
            return self.parts_table
        return None

    # ------------------------------------------------------------ helpers
    def _clear(self) -> None:
        self.compare_grid.clear()
        self.compare_plots, self.compare_items = [], []
        self._compare_columns = 0
        self.W = self.H = None
        self.summary = self.agreement = self.signed = None
        self.mode = None
        self.cards = []
        self.part_plots = []
        self.card_grid.clear()
        self.parts_grid.clear()
        self.docs_table.setRowCount(0)
        self.words_table.setRowCount(0)
        self.parts_table.setRowCount(0)
        self.topic_combo.blockSignals(True)
        self.topic_combo.clear()
        self.topic_combo.blockSignals(False)

    def _show_message(self) -> None:
        if self.dataset is not None and self.dataset.kind not in ("documents", "images"):
            text = ("Topics and parts are for documents and images. "
                    f"This dataset holds {self.dataset.kind} data.")
        else:
            text = ("Fit NMF (or truncated SVD) on documents or images to see the topics or parts it finds.\n"
                    "Try File > Open Sample > Topics or Bars.")
        self.message.setText(text)
        self.stack.setCurrentIndex(0)

    @property
    def n_components(self) -> int:
        return 0 if self.H is None else self.H.shape[0]

    def _train(self):
        train = getattr(self.run.model, "train_", None) if self.run is not None else None
        return train if train is not None and train.shape == self.dataset.shape else self.dataset

    def lead_shares(self) -> np.ndarray:
        """Share of rows whose largest weight is each component's (see :func:`mfstudio.inspect.lead_shares`)."""
        return self.summary.lead_shares if self.summary is not None else np.zeros(0)

    @property
    def label_name(self) -> str:
        return getattr(self.dataset, "row_label_name", None) or "label"

    def _columns(self, cell_width: int) -> int:
        """Cards per row: as many as fit, then evened out (6 cards: 3 + 3, not 4 + 2)."""
        scroll = self.card_scroll if self.mode == "documents" else self.parts_scroll
        fit = max(1, int(scroll.viewport().width()) // cell_width)
        k = max(self.n_components, 1)
        rows = -(-k // fit)
        return -(-k // rows)

    @property
    def card_height(self) -> int:
        return max(140, 19 * self.n_card_rows + 58)

    @property
    def words_per_side(self) -> int:
        """Words shown at each end of a signed (SVD) card: half the "words" setting, at least 3."""
        return max(3, (self.n_words.value() + 1) // 2)

    @property
    def n_card_rows(self) -> int:
        return 2 * self.words_per_side if self.signed is not None else self.n_words.value()

    def signed_words(self, topic: int) -> list[tuple[str, float]]:
        """A signed card's rows, top to bottom: "+ word" (most positive first), then "- word" (most negative first)."""
        n = self.words_per_side
        return ([(f"+ {w}", v) for w, v in self.signed.side(topic, "+", n)]
                + [(f"- {w}", v) for w, v in self.signed.side(topic, "-", n)])

    def _on_grid_resized(self) -> None:
        # A signal, not an event filter: a Python eventFilter is called while Qt destroys the
        # view and crashes the process at exit.
        if self.mode == "documents" and self._columns(self.CARD_WIDTH) != self._columns_used:
            self._draw_cards()
        elif self.mode == "images" and self._columns(self.PART_SIZE) != self._columns_used:
            self._draw_part_grid()
        if self.mode == "images" and self.compared_run is not None and self._compare_columns \
                and self._compare_fit() != self._compare_columns:
            self._draw_compare()

    @staticmethod
    def _sync_scroll(bar, value: int) -> None:
        if bar.value() != value:
            bar.setValue(value)

    # ---------------------------------------------------------- documents
    def top_words(self, topic: int, n: int | None = None) -> list[tuple[str, float]]:
        """The ``n`` heaviest words of a topic with their weights, heaviest first."""
        n = self.n_words.value() if n is None else n
        return self.summary.top(topic, n)

    def _draw_documents(self) -> None:
        if self.mode != "documents":
            return
        k = self.n_components
        model = self.run.model
        heading = (f"<b>{k} topics</b> found by {model.title or model.name} in {self.dataset.n_rows:,} documents. "
                   "Each card shows a topic's heaviest words. <i>Click a card</i> to list the documents most about it.")
        if self.signed is not None:
            heading = heading.replace("a topic's heaviest words", (
                "both ends of a component: <b>+</b> words (coloured) and <b>-</b> words (grey); "
                "the sign is arbitrary"))
        agreement = self.agreement
        if agreement is not None:
            heading += (f"<br>Agreement of each document's strongest topic with its <b>{self.label_name}</b>: "
                        f"NMI {agreement.nmi:.2f}, purity {agreement.purity:.0%} "
                        f"({len(agreement.labels)} {self.label_name} values, {agreement.n_documents:,} documents).")
            self.doc_heading.setToolTip(self._contingency_text(agreement))
        else:
            self.doc_heading.setToolTip("")
        self.doc_heading.setText(heading)
        self.topic_combo.blockSignals(True)
        self.topic_combo.clear()
        for t in range(k):
            words = ", ".join(w for w, _ in self.top_words(t, 3))
            self.topic_combo.addItem(f"Topic {t + 1}: {words}")
        self.topic_combo.blockSignals(False)
        self._fill_words_table()
        self._draw_cards()
        self.select_topic(min(self.current_topic, k - 1))

    def _draw_cards(self) -> None:
        self.card_grid.clear()
        self.cards = []
        k = self.n_components
        columns = self._columns(self.CARD_WIDTH)
        self._columns_used = columns
        n = self.n_words.value()
        font = QFont()
        font.setPointSize(9)
        for t in range(k):
            plot = self.card_grid.ci.addPlot(row=t // columns, col=t % columns)
            _small_plot(plot)
            signed = self.signed is not None
            words = self.signed_words(t) if signed else self.top_words(t, n)
            y = np.arange(len(words))[::-1].astype(float)  # heaviest word on top
            if signed:
                # Negative weights grow to the left in grey: the other end of the same direction.
                values = np.array([v for _, v in words], dtype=float)
                brushes = [pg.mkBrush(color(t)) if v >= 0 else pg.mkBrush("#8a8a8a") for v in values]
                plot.addItem(pg.BarGraphItem(x0=np.minimum(values, 0), y=y, height=0.72, width=np.abs(values),
                                             brushes=brushes, pen=pg.mkPen(None)))
                widths = np.abs(values)
            else:
                widths = np.array([max(w, 0.0) for _, w in words])
                plot.addItem(pg.BarGraphItem(x0=np.zeros_like(y), y=y, height=0.72, width=widths,
                                             brush=pg.mkBrush(color(t)), pen=pg.mkPen(None)))
            left = plot.getAxis("left")
            left.setTicks([[(float(yy), word) for yy, (word, _) in zip(y, words)]])
            left.setStyle(tickLength=0, tickFont=font)
            left.setWidth(92)
            plot.hideAxis("bottom")
            top = float(widths.max()) if widths.size and widths.max() > 0 else 1.0
            plot.setXRange(-top if signed else 0, top, padding=0.03)
            plot.setYRange(-0.6, len(words) - 0.4, padding=0)
            plot.setTitle(self._card_title(t, selected=False), size="10pt")
            plot.setToolTip(f"Topic {t + 1}: " + ", ".join(f"{w} ({v:.3g})" for w, v in words))
            self.cards.append(plot)
        rows = (k + columns - 1) // columns
        self.card_grid.setMinimumHeight(rows * self.card_height)
        self._highlight_card()

    def card_words(self, topic: int) -> list[str]:
        """The words on a topic's card, top to bottom, as drawn (read back from its axis)."""
        ticks = self.cards[topic].getAxis("left")._tickLevels[0]
        return [label for _, label in sorted(ticks, key=lambda tick: -tick[0])]

    def _contingency_text(self, agreement: TopicAgreement) -> str:
        """The topic x label counts as a plain-text table (the heading's tooltip)."""
        header = "topic".ljust(9) + "".join(label[:10].rjust(11) for label in agreement.labels)
        lines = [header]
        for t, row in enumerate(agreement.contingency.tolist()):
            lines.append(f"Topic {t + 1}".ljust(9) + "".join(str(c).rjust(11) for c in row))
        return "<pre>" + "\n".join(lines) + "</pre>"

    def _card_title(self, t: int, selected: bool) -> str:
        leads = self.lead_shares()
        share = leads[t] if t < len(leads) else 0.0
        name = f"Topic {t + 1}"
        name = f"<b><u>{name}</u></b>" if selected else f"<b>{name}</b>"
        title = f"{name} <span style='color:#555'>· leads {share:.0%} of docs"
        agreement = self.agreement
        if agreement is not None and agreement.majority_labels[t]:
            title += f" · {agreement.majority_share(t):.0%} {agreement.majority_labels[t]}"
        return title + "</span>"

    def _highlight_card(self) -> None:
        for t, plot in enumerate(self.cards):
            selected = t == self.current_topic
            plot.getViewBox().setBorder(pg.mkPen(color(t), width=3) if selected else pg.mkPen("#ddd", width=1))
            plot.setTitle(self._card_title(t, selected), size="10pt")

    def _fill_words_table(self) -> None:
        table = self.words_table
        n = self.n_words.value()
        table.setRowCount(0)
        for t in range(self.n_components):
            if self.signed is not None:
                ranked = [(f"+{r}", w, v) for r, (w, v) in enumerate(self.signed.side(t, "+", n), start=1)]
                ranked += [(f"-{r}", w, v) for r, (w, v) in enumerate(self.signed.side(t, "-", n), start=1)]
            else:
                ranked = [(str(r), w, v) for r, (w, v) in enumerate(self.top_words(t, n), start=1)]
            for rank, word, weight in ranked:
                row = table.rowCount()
                table.insertRow(row)
                values = [f"Topic {t + 1}", rank, word, f"{weight:.6g}", f"{self.lead_shares()[t]:.4f}"]
                for col, text in enumerate(values):
                    table.setItem(row, col, QTableWidgetItem(text))

    def _on_card_click(self, event) -> None:
        pos = event.scenePos()
        for t, plot in enumerate(self.cards):
            if plot.sceneBoundingRect().contains(pos):
                self.select_topic(t)
                self.topic_selected.emit(t)
                return

    def _on_combo(self, index: int) -> None:
        if index >= 0 and self.mode == "documents":
            self.select_topic(index)
            self.topic_selected.emit(index)

    def select_topic(self, topic: int) -> None:
        """Show the documents most about ``topic`` (0-based), strongest first."""
        if self.mode != "documents" or not 0 <= topic < self.n_components:
            return
        self.current_topic = topic
        self.topic_combo.blockSignals(True)
        self.topic_combo.setCurrentIndex(topic)
        self.topic_combo.blockSignals(False)
        self._highlight_card()
        train = self._train()
        texts = self.dataset.texts if self.dataset.texts is not None else train.texts
        labels = getattr(self.dataset, "row_labels", None)
        docs = topic_documents(self.W, topic, MAX_DOCUMENTS)
        table = self.docs_table
        table.setRowCount(0)
        table.setRowCount(docs.rows.size)
        for row, (i, weight, share) in enumerate(zip(docs.rows.tolist(), docs.weights.tolist(),
                                                     docs.shares.tolist())):
            text = texts[i] if texts is not None else ""
            preview = " ".join(text.split())
            preview = preview[:TEXT_PREVIEW] + ("…" if len(preview) > TEXT_PREVIEW else "")
            table.setItem(row, 0, _item(row + 1, row + 1, align_right=True))
            table.setItem(row, 1, _item(train.row_ids[i]))
            table.setItem(row, 2, _item(f"{weight:.3f}", weight, align_right=True))
            table.setItem(row, 3, _item(f"{share:.0%}", share, align_right=True))
            item = _item(preview)
            item.setToolTip(text[:2000])
            table.setItem(row, 4, item)
            if labels is not None:
                table.setItem(row, LABEL_COLUMN, _item(labels[i]))
        table.setColumnHidden(4, texts is None)
        table.setColumnHidden(LABEL_COLUMN, labels is None)
        table.horizontalHeaderItem(LABEL_COLUMN).setText(self.label_name)
        for col in (0, 1, 2, 3, LABEL_COLUMN):
            table.resizeColumnToContents(col)
        words = ", ".join(w for w, _ in self.top_words(topic, 5))
        self.docs_label.setText(
            f"<b>Documents most about Topic {topic + 1}</b> ({words}…): "
            f"the {docs.rows.size} heaviest of {docs.n_using:,} that use it, strongest first."
        )

    def document_rows(self) -> list[tuple[str, float]]:
        """(document id, weight) of the rows of the documents table, top to bottom (for tests)."""
        table = self.docs_table
        return [(table.item(r, 1).text(), table.item(r, 2).data(Qt.ItemDataRole.UserRole))
                for r in range(table.rowCount())]

    def document_labels(self) -> list[str]:
        """The label shown for each row of the documents table, top to bottom (for tests)."""
        table = self.docs_table
        return [table.item(r, LABEL_COLUMN).text() if table.item(r, LABEL_COLUMN) else ""
                for r in range(table.rowCount())]

    # ------------------------------------------------------------- images
    def _draw_images(self) -> None:
        k = self.n_components
        leads, means = self.summary.lead_shares, self.summary.mean_weights
        model = self.run.model
        h, w = self.dataset.image_shape
        self.parts_heading.setText(
            f"<b>{k} parts</b> found by {model.title or model.name} in {self.dataset.n_rows:,} images of "
            f"{h}×{w} pixels. Each image ≈ a weighted sum of these parts.<br>{_colour_key(self.parts_signed)}"
        )
        self.image_spin.blockSignals(True)
        self.image_spin.setMaximum(self.dataset.n_rows)
        self.image_spin.setValue(min(self.current_image, self.dataset.n_rows - 1) + 1)
        self.image_spin.blockSignals(False)
        table = self.parts_table
        table.setRowCount(k)
        for t in range(k):
            table.setItem(t, 0, QTableWidgetItem(f"Part {t + 1}"))
            table.setItem(t, 1, QTableWidgetItem(f"{leads[t]:.4f}"))
            table.setItem(t, 2, QTableWidgetItem(f"{means[t]:.6g}"))
        self._draw_part_grid()
        self.select_image(self.image_spin.value() - 1)
        self._draw_compare()

    def part_image(self, t: int) -> np.ndarray:
        """Component ``t`` as an image (height x width)."""
        return self.H[t].reshape(self.dataset.image_shape)

    @staticmethod
    def _show(image_item: pg.ImageItem, image: np.ndarray, levels=None, signed: bool | None = None) -> None:
        """Draw an image: pixels stay square blocks (no smoothing), levels from :func:`display_levels`.

        ``signed`` True draws every part of a signed factorization (SVD) with the
        diverging map, 0 at its centre, even a part that happens to be all of one
        sign (SVD's first part): one colour scheme per run, so parts compare.
        """
        if levels is None:
            lo, hi, own_sign = display_levels(image)
            if signed and not own_sign:
                m = max(abs(lo), abs(hi), 1e-12)
                lo, hi = -m, m
            signed = bool(signed) or own_sign
            levels = (lo, hi)
        else:
            signed = bool(signed)
        # Signed (SVD) parts: blue < 0 < red, white at zero; otherwise ink on paper.
        image_item.setColorMap(pg.colormap.get(_SIGNED_MAP) if signed else _INK)
        image_item.setImage(image.astype(np.float32), levels=levels)
        view = image_item.getViewBox()
        if view is not None:
            view.setRange(xRange=(0, image.shape[1]), yRange=(0, image.shape[0]), padding=0)

    def _draw_part_grid(self) -> None:
        self.parts_grid.clear()
        self.part_plots = []
        columns = self._columns(self.PART_SIZE)
        self._columns_used = columns
        for t in range(self.n_components):
            plot = self.parts_grid.ci.addPlot(row=t // columns, col=t % columns)
            image = _image_plot(plot)
            self._show(image, self.part_image(t), signed=self.parts_signed)
            plot.setTitle(f"Part {t + 1}", size="9pt")
            plot.setToolTip(f"Part {t + 1}: leads {self.lead_shares()[t]:.0%} of images")
            self.part_plots.append(plot)
        rows = (self.n_components + columns - 1) // columns
        self.parts_grid.setMinimumHeight(rows * self.PART_SIZE)
        # Side by side, both grids keep rows of one height (filling the height, a grid of two
        # rows drew its parts at three times the size of its neighbour's).
        self.parts_grid.setMaximumHeight(rows * self.PART_SIZE if self.compared_run is not None else _UNBOUNDED)
        self._highlight_parts()

    def strongest_parts(self, index: int, n: int = N_STRONGEST) -> list[tuple[int, float]]:
        """The parts that contribute most to image ``index`` (see :func:`mfstudio.inspect.strongest_parts`)."""
        return strongest_parts(self.W[index], self.H, n)

    def breakdown(self, index: int):
        """Image ``index`` taken apart (:class:`mfstudio.inspect.ImageBreakdown`)."""
        if self._csr is None:
            self._csr = self.dataset.to_csr()
        return image_breakdown(self._csr[index], self.W, self.H, index, self.dataset.image_shape, N_STRONGEST)

    def select_image(self, index: int) -> None:
        """Show image ``index`` (0-based), its reconstruction and its strongest parts."""
        if self.mode != "images" or not 0 <= index < self.dataset.n_rows:
            return
        self.current_image = index
        if self.image_spin.value() != index + 1:
            self.image_spin.blockSignals(True)
            self.image_spin.setValue(index + 1)
            self.image_spin.blockSignals(False)
        raw_id = self.dataset.row_ids[index]
        self.image_id.setText(f"id <b>{raw_id}</b> of {self.dataset.n_rows:,}")
        parts = self.breakdown(index)
        levels = (0.0, parts.level_top)
        self._build_detail()
        self._show(self.original_item, parts.original, levels=levels)
        self._show(self.reconstruction_item, parts.reconstruction, levels=levels)
        self.original_plot.setTitle(f"Original ({raw_id})", size="10pt")
        self.reconstruction_plot.setTitle(f"Reconstruction W[i]·H (error {parts.relative_error:.1%})", size="10pt")
        strong = parts.parts
        for j, (plot, image) in enumerate(zip(self.strong_plots, self.strong_images)):
            if j < len(strong):
                t, strength = strong[j], parts.strengths[j]
                self._show(image, self.part_image(t), signed=self.parts_signed)
                plot.setTitle(f"Part {t + 1} × {strength:.2f}", size="9pt", color=color(j))
                plot.getViewBox().setBorder(pg.mkPen(color(j), width=3))
                plot.setVisible(True)
            else:
                image.clear()
                plot.setTitle("")
                plot.getViewBox().setBorder(None)
        self.image_info.setText(
            f"The model rebuilds this image from its {self.n_components} parts; "
            f"the {len(strong)} below carry most of it (framed in the same colours on the left)."
        )
        self._highlight_parts()

    def _highlight_parts(self) -> None:
        if self.mode != "images" or not self.part_plots:
            return
        strong = [t for t, _ in self.strongest_parts(self.current_image)]
        for t, plot in enumerate(self.part_plots):
            if t in strong:
                j = strong.index(t)
                plot.getViewBox().setBorder(pg.mkPen(color(j), width=3))
                plot.setTitle(f"<b>Part {t + 1}</b>", size="9pt", color=color(j))
            else:
                plot.getViewBox().setBorder(pg.mkPen("#ccc", width=1))
                plot.setTitle(f"Part {t + 1}", size="9pt", color="#222")

    # ------------------------------------------------- parts side by side
    @property
    def parts_signed(self) -> bool:
        """Whether the shown run's parts take both signs (SVD): drawn with the diverging map."""
        return self.H is not None and has_signed_components(self.H)

    def compare_candidates(self) -> list:
        """Runs whose parts can go beside the shown run's (the other runs of the Run box)."""
        return [run for run in self._offered if run is not self.run]

    def _fill_compare_combo(self) -> None:
        candidates = self.compare_candidates()
        if self.compared_run not in candidates:
            self.compared_run = None
        combo = self.compare_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("one image taken apart")
        self.compare_hint.setText("" if candidates else
                                  "fit a second model (e.g. NMF and SVD) to put their parts side by side")
        for run in candidates:
            model = run.model
            combo.addItem(f"{run.name}: its parts side by side", run)
            combo.setItemData(combo.count() - 1, f"{run.name} ({model.title or model.name})",
                              Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(0 if self.compared_run is None else candidates.index(self.compared_run) + 1)
        combo.setEnabled(bool(candidates))
        combo.blockSignals(False)

    def _on_compare_chosen(self) -> None:
        self.compare_with(self.compare_combo.currentData())

    def compare_with(self, run) -> None:
        """Put ``run``'s parts beside the shown run's (None: take one image apart instead)."""
        if run is not None and run not in self.compare_candidates():
            return
        self.compared_run = run
        index = 0 if run is None else self.compare_candidates().index(run) + 1
        if self.compare_combo.currentIndex() != index:
            self.compare_combo.setCurrentIndex(index)
        self._draw_compare()

    def compare_part_image(self, t: int) -> np.ndarray:
        """Part ``t`` of the run shown on the right, as an image."""
        return factors_of(self.compared_run.model)[1][t].reshape(self.dataset.image_shape)

    def _compare_fit(self) -> int:
        factors = factors_of(self.compared_run.model) if self.compared_run is not None else None
        k = 1 if factors is None else factors[1].shape[0]
        fit = max(1, int(self.compare_scroll.viewport().width()) // self.PART_SIZE)
        rows = -(-k // fit)
        return -(-k // rows)

    def _draw_compare(self) -> None:
        self.compare_grid.clear()
        self.compare_plots, self.compare_items = [], []
        self._compare_columns = 0
        run = self.compared_run
        if self.mode == "images" and self.part_plots:
            rows = -(-self.n_components // max(self._columns_used, 1))
            self.parts_grid.setMaximumHeight(rows * self.PART_SIZE if run is not None else _UNBOUNDED)
        self.parts_heading.setMinimumHeight(0)
        self.compare_heading.setMinimumHeight(0)
        if self.mode != "images" or run is None:
            self.right_stack.setCurrentIndex(0)
            return
        factors = factors_of(run.model)
        if factors is None:
            self.right_stack.setCurrentIndex(0)
            return
        H = factors[1]
        signed = has_signed_components(H)
        self.right_stack.setCurrentIndex(1)
        self.compare_heading.setText(
            f"<b>{H.shape[0]} parts</b> found by {run.name}, beside {self.run.name}'s on the left "
            f"(the two scroll together).<br>{_colour_key(signed)}")
        columns = self._compare_fit()
        self._compare_columns = columns
        for t in range(H.shape[0]):
            plot = self.compare_grid.ci.addPlot(row=t // columns, col=t % columns)
            image = _image_plot(plot)
            self._show(image, H[t].reshape(self.dataset.image_shape), signed=signed)
            plot.setTitle(f"Part {t + 1}", size="9pt", color="#222")
            plot.getViewBox().setBorder(pg.mkPen("#ccc", width=1))
            self.compare_plots.append(plot)
            self.compare_items.append(image)
        rows = (H.shape[0] + columns - 1) // columns
        self.compare_grid.setFixedHeight(rows * self.PART_SIZE)
        # Headings of one height, so the two grids start level and their rows scroll side by side.
        tall = max(self.parts_heading.heightForWidth(max(self.parts_heading.width(), 120)),
                   self.compare_heading.heightForWidth(max(self.compare_heading.width(), 120)))
        self.parts_heading.setMinimumHeight(tall)
        self.compare_heading.setMinimumHeight(tall)

