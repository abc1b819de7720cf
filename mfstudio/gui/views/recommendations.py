"""Recommendations: what a model would suggest to a user, or to you.

"User" (an existing user): pick a user by id; the table of what they rated sits beside
the top-N the model predicts for them, and choosing a movie in either shows
the movies nearest to it in factor space. "New user": rate a handful of
items (popular ones first, or search the titles) and the list updates at
once, by folding your ratings into the fitted model.

Under a ranking model (BPR, implicit ALS) you tick what you liked; a tick is
kept as a tick (:data:`mfstudio.recommend.TICK`), never as a number, so a
switch to a rating model shows it as "ticked, give a rating" and leaves it
out of the fold-in until you choose one. The headings say which items are
left out of each list as already seen, and why.

"Compare runs side by side": one user's lists from two or more runs next to
each other (:func:`mfstudio.explain.compare_recommendations`), items that
more than one list holds tinted and marked "2 of 3", and for each list how
well known its items are (mean novelty in bits, mean share of users who
rated them).

Every row comes from :mod:`mfstudio.recommend` (raw ids, titles, scores):
the CLI and the tests see the same rows.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...data.errors import DataError
from ...recommend import (
    TICK,
    is_tick,
    known_ratings,
    read_new_user,
    recommendations_for,
    recommendations_for_new_user,
    default_min_support,
    similar_items_to,
)
from .base import ResultView, color

__all__ = ["RecommendationsView"]

N_POPULAR = 60  # items offered to rate in new-user mode
MIN_TITLE_WIDTH = 150  # px a title keeps before a table drops its genres column
N_SUGGESTED = 12  # of which first: the items onboarding suggests rating first (mfstudio.onboarding)
N_SEARCH = 150  # most search matches listed
N_SIMILAR = 10
N_COMPARED = 3  # runs ticked for comparison by default: the latest ones
#: Tints of an item that other compared lists hold too: some of them, and every one of them.
SHARED_SOME = "#fff1c2"
SHARED_ALL = "#f9d36b"
SHARED_MARK = "#8a5a00"
COMPARE_MIN_WIDTH = 240  # px of each list side by side
ITEM_ROLE = Qt.ItemDataRole.UserRole  # raw item id of a row
NUMBER_ROLE = Qt.ItemDataRole.UserRole + 1


#: Widest a side column (genres, counts) may be, as a share of its table's width:
#: at 1280 px a 150 px genre column left the title two characters ("T…").
SIDE_COLUMN_SHARE = 0.3


class _ColumnFitter(QObject):
    """Keeps a table's title column readable as the table is resized.

    The stretched (title) column gets what the others leave; the others are
    sized to their contents but capped at :data:`SIDE_COLUMN_SHARE` of the
    table's width (150 px at most), so long genre lists give way to the title
    (their tooltips show all of them).
    """

    def __init__(self, table: QTableWidget):
        super().__init__(table)
        self.table = table
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched, event):  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        table = self.table
        header = table.horizontalHeader()
        width = table.viewport().width()
        cap = max(48, min(150, int(SIDE_COLUMN_SHARE * width)))
        genres = getattr(table, "genre_column", None)  # set where the data has genres (_configure_labels)
        if genres is not None:
            table.setColumnHidden(genres, False)
        used = 0
        for c in range(table.columnCount()):
            if header.sectionResizeMode(c) == QHeaderView.ResizeMode.Stretch or table.isColumnHidden(c):
                continue
            if table.cellWidget(0, c) is None:  # a column of editors keeps the width it was given
                table.resizeColumnToContents(c)
            table.setColumnWidth(c, min(table.columnWidth(c), cap))
            used += table.columnWidth(c)
        # A narrow table (the new-user page at 1280 px) gives up the genres before the titles: a title cut to
        # three letters says nothing, and the genres are in the title's tooltip.
        if genres is not None and width - used < MIN_TITLE_WIDTH:
            table.setColumnHidden(genres, True)


def _table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table._fitter = _ColumnFitter(table)
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _cell(text, raw_item=None, number=None, right=False) -> QTableWidgetItem:
    item = QTableWidgetItem(str(text))
    if len(str(text)) > 12:
        item.setToolTip(str(text))  # columns are capped; the whole text on hover
    if raw_item is not None:
        item.setData(ITEM_ROLE, raw_item)
    if number is not None:
        item.setData(NUMBER_ROLE, float(number))
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _title_cell(title, raw_item, genres: str = "") -> QTableWidgetItem:
    """A title whose tooltip also names its genres (a narrow table hides the genres column)."""
    cell = _cell(title, raw_item)
    shown = _genres(str(genres)) if genres else ""
    cell.setToolTip(f"{title} — {shown}" if shown else str(title))
    return cell


def _genres(text: str) -> str:
    return text.replace("|", ", ")


def _value(v: float) -> str:
    return f"{v:g}" if float(v).is_integer() else f"{v:.1f}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class RecommendationsView(ResultView):
    """Top-N lists for a chosen user or for ratings typed in, with similar items."""

    title = "Recommendations"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = None
        self.current_user = None
        self.explanation = None
        self.new_ratings: dict = {}
        self._users: list[str] = []
        self._seen_values: dict = {}
        self._compare_ticked: list | None = None  # runs ticked in "Compare runs" (None: not chosen yet)
        self.comparison = None  # the ComparisonTable on screen
        self.compare_tables: list[QTableWidget] = []

        self.stack = QStackedWidget()
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.stack.addWidget(self.message)

        page = QWidget()
        self.n_spin = QSpinBox()
        self.n_spin.setRange(1, 200)
        self.n_spin.setValue(10)
        self.n_spin.setToolTip("How many items each list shows")
        self.n_spin.valueChanged.connect(self._refresh)
        # Items with a handful of ratings get factors fitted to noise: a large cosine by chance.
        self.support_spin = QSpinBox()
        self.support_spin.setRange(0, 100_000)
        self.support_spin.setKeyboardTracking(False)
        self.support_spin.setMaximumWidth(70)
        self.support_spin.setToolTip("List only items with at least this many ratings in the training data\n"
                                     "(0 lists every item). The default is chosen for the data: the 40th\n"
                                     "percentile of ratings per item, at least 5 but never above the median.")
        self.support_spin.valueChanged.connect(self._refresh)
        self._support_for = None  # the training data the support default was chosen for
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_user_page(), "User")
        self.tabs.setTabToolTip(0, "An existing user: what they rated, what is recommended for them, and why")
        self.tabs.addTab(self._build_new_user_page(), "New user")
        self.tabs.setTabToolTip(1, "Rate a few items yourself: the lists update at once, by folding your ratings in")
        self.tabs.addTab(self._build_compare_page(), "Compare runs")
        self.tabs.setTabToolTip(2, "One user's lists from two or more runs next to each other: which items they "
                                   "share, and how well known what each recommends is")
        self.tabs.addTab(self._build_time_page(), "Over time")
        self.tabs.setTabToolTip(3, "How the chosen user's predicted ratings moved over the months of the data "
                                   "(time-aware models: timeSVD++)")
        self.tabs.currentChanged.connect(self._refresh)
        self.tabs.setCornerWidget(self._corner(), Qt.Corner.TopRightCorner)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tabs)
        self.stack.addWidget(page)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self._show_message()

    def _corner(self) -> QWidget:
        corner = QWidget()
        row = QHBoxLayout(corner)
        row.setContentsMargins(0, 0, 4, 2)
        row.addWidget(QLabel("Show top"))
        row.addWidget(self.n_spin)
        self.support_label = QLabel("ratings")
        self.support_lead = QLabel("min.")
        self.support_lead.setToolTip(self.support_spin.toolTip())
        row.addSpacing(6)
        row.addWidget(self.support_lead)
        row.addWidget(self.support_spin)
        row.addWidget(self.support_label)
        return corner

    @property
    def min_support(self) -> int:
        """The fewest training ratings an item needs to be listed (the spin box; 0 lists all)."""
        return self.support_spin.value()

    def set_min_support(self, count: int) -> None:
        """List only items with at least ``count`` training ratings, and refresh the lists."""
        self.support_spin.setValue(int(count))

    def _support_text(self, item_word: str) -> str:
        """The filter in words, for the headings."""
        if self.min_support <= 1:
            return ""
        value = "ratings" if self.dataset is not None and self.dataset.kind == "explicit" else "interactions"
        return f"; only {item_word}s with at least {self.min_support:,} {value}"

    # ------------------------------------------------------------- layout
    def _build_user_page(self) -> QWidget:
        page = QWidget()
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("type a user id…")
        self.user_edit.setClearButtonEnabled(True)
        self.user_edit.setMaximumWidth(200)
        self.user_model = QStringListModel()
        self.completer = QCompleter(self.user_model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setMaxVisibleItems(12)
        self.user_edit.setCompleter(self.completer)
        self.completer.activated.connect(self.show_user)
        self.user_edit.returnPressed.connect(lambda: self.show_user(self.user_edit.text()))
        self.previous_button = QToolButton()
        self.previous_button.setArrowType(Qt.ArrowType.LeftArrow)
        self.previous_button.setToolTip("Previous user")
        self.previous_button.clicked.connect(lambda: self._step_user(-1))
        self.next_button = QToolButton()
        self.next_button.setArrowType(Qt.ArrowType.RightArrow)
        self.next_button.setToolTip("Next user")
        self.next_button.clicked.connect(lambda: self._step_user(+1))
        self.exclude_seen = QCheckBox("Hide items they already rated")
        self.exclude_seen.setChecked(True)
        self.exclude_seen.toggled.connect(self._refresh)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("User:"))
        bar.addWidget(self.user_edit)
        bar.addWidget(self.previous_button)
        bar.addWidget(self.next_button)
        bar.addSpacing(12)
        bar.addWidget(self.exclude_seen)
        bar.addStretch(1)
        self.user_info = _heading("")

        self.known_label = _heading("<b>What they rated</b>")
        self.known_table = _table(["title", "rating", "genres"], stretch=0)
        self.recs_label = _heading("<b>Recommended for them</b>")
        self.recs_table = _table(["rank", "title", "predicted", "they rated", "genres"], stretch=1)
        self.recs_table.horizontalHeaderItem(3).setToolTip("Their rating, for items they already rated")
        self.similar_label = _heading("")
        self.similar_table = _table(["title", "similarity", "genres"], stretch=0)
        # Why an item is recommended (mfstudio.explain): the entries that add up to its score.
        self.why_label = _heading("")
        self.why_table = _table(["because of", "their rating", "adds"], stretch=0)
        self.why_table.horizontalHeaderItem(2).setToolTip(
            "This entry's share of the item's score: all entries add up to the score in the list")
        for table in (self.known_table, self.recs_table):
            table.itemSelectionChanged.connect(lambda t=table: self._on_item_chosen(t))

        def boxed(label, table):
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 4, 0, 0)
            lay.addWidget(label)
            lay.addWidget(table)
            return box

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(boxed(self.known_label, self.known_table))
        top.addWidget(boxed(self.recs_label, self.recs_table))
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(boxed(self.similar_label, self.similar_table))
        lower.addWidget(boxed(self.why_label, self.why_table))
        lower.setChildrenCollapsible(False)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(lower)
        # The user's lists above; below, what an item picked there is like and (for a
        # recommended one) why: half the height each, dragged as the user likes.
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)

        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(self.user_info)
        layout.addWidget(split, 1)
        return page

    def _build_new_user_page(self) -> QWidget:
        page = QWidget()
        self.new_info = _heading("")
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("search titles…  (empty: the most rated items)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(lambda _: self._fill_rate_table())
        self.clear_button = QPushButton("Clear my ratings")
        self.clear_button.clicked.connect(self.clear_new_ratings)
        self.rate_table = _table(["title", "genres", "ratings", "your rating", "ask first"], stretch=0)
        self.rate_table.horizontalHeaderItem(2).setToolTip("How many users in the training data rated it")
        self.rate_table.horizontalHeaderItem(4).setToolTip(
            "The first items are the ones whose rating tells the model most about you: well known, divisive, and "
            "unlike what you already rated (hover for the reasons). They are chosen again after every rating.")
        self._suggested: dict = {}
        self.rate_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.rate_table.itemChanged.connect(self._on_check_changed)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.search_edit, 1)
        row.addWidget(self.clear_button)
        left_layout.addWidget(_heading("<b>Rate what you know</b> — recommendations update at once"))
        left_layout.addLayout(row)
        left_layout.addWidget(self.rate_table)

        self.new_recs_label = _heading("<b>Recommended for you</b>")
        self.new_recs_table = _table(["rank", "title", "predicted", "±", "genres"], stretch=1)
        self.new_recs_table.horizontalHeaderItem(3).setToolTip(
            "Unsure ±: how far the prediction could be off (one standard deviation), given how few ratings you "
            "gave: it shrinks as you rate more")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.new_recs_label)
        right_layout.addWidget(self.new_recs_table)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        # The list to rate has five columns (title, genres, count, the rating box, ask first) to the
        # recommendations' four short ones: it gets the larger share.
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 4)
        split.setChildrenCollapsible(False)
        # How many ratings a newcomer needs before their own factors help: simulated on the run's held-out
        # people on a worker (seconds), then kept per run.
        self.onboarding_label = _heading("")
        self._onboarding_sentences: dict = {}
        self._onboarding_task = None
        layout = QVBoxLayout(page)
        layout.addWidget(self.new_info)
        layout.addWidget(self.onboarding_label)
        layout.addWidget(split, 1)
        return page

    # ---------------------------------------------------------- ResultView
    def set_dataset(self, dataset) -> None:
        super().set_dataset(dataset)
        self.model = None
        self.current_user = None
        self.new_ratings = {}
        for table in (self.known_table, self.recs_table, self.similar_table, self.rate_table, self.new_recs_table):
            table.setRowCount(0)
        self._compare_ticked = None
        self.comparison = None
        self._clear_compare_lists()
        self._show_message()

    def offer_runs(self, runs, prefer=None) -> None:
        super().offer_runs(runs, prefer=prefer)
        self._fill_compare_runs()

    def set_run(self, run) -> None:
        previous = self.model
        super().set_run(run)
        if not self.applies_to(self.dataset, run):
            self.model = None
            self._show_message()
            return
        self.model = run.model
        train = self.model.train_
        self._users = [str(u) for u in train.row_ids.tolist()]
        self.user_model.setStringList(self._users)
        self.completer.setFilterMode(Qt.MatchFlag.MatchStartsWith if train.row_ids.dtype.kind in "iu"
                                     else Qt.MatchFlag.MatchContains)
        self._configure_labels()
        self.stack.setCurrentIndex(1)
        if self._support_for is not train:
            # A default for this data; a value the person chose stays while the training data does.
            self._support_for = train
            self.support_spin.blockSignals(True)
            self.support_spin.setValue(default_min_support(train))
            self.support_spin.blockSignals(False)
        if previous is None or previous.train_.shape != train.shape:
            self.new_ratings = {}
            self.current_user = None
        self._fill_rate_table()
        self._start_onboarding_curve(run)
        user = self.current_user if self.current_user is not None else train.row_ids[0].item()
        self.show_user(str(user))

    def applies_to(self, dataset, run) -> bool:
        if dataset is None or run is None or dataset.kind not in ("explicit", "implicit"):
            return False
        model = run.model
        if getattr(model, "train_", None) is None or not hasattr(model, "recommend"):
            return False
        factors = getattr(model, "item_factors_", None)
        if factors is None or getattr(model, "user_factors_", None) is None:
            return False
        return factors.shape[1] > 0 or getattr(model, "item_bias_", None) is not None

    def export_table(self):
        return self.new_recs_table if self.stack.currentIndex() == 1 and self.tabs.currentIndex() == 1 else self.recs_table

    # ------------------------------------------------------------ helpers
    def _show_message(self) -> None:
        if self.dataset is not None and self.dataset.kind not in ("explicit", "implicit"):
            text = f"Recommendations are for ratings or interactions; this dataset holds {self.dataset.kind} data."
        else:
            text = ("Fit a model on ratings or interactions to see what it would recommend.\n"
                    "Try File > Open Sample > Movies, then Run.")
        self.message.setText(text)
        self.stack.setCurrentIndex(0)

    @property
    def implicit(self) -> bool:
        """Whether the model learned from interactions (liked / not) rather than rating values."""
        return self.model is not None and (self.model.task == "ranking" or self.model.train_.kind == "implicit")

    @property
    def like_threshold(self) -> float | None:
        """The rating from which a ranking model fitted on ratings counts a like (None otherwise)."""
        model = self.model
        if model is None or model.task != "ranking" or model.train_.kind != "explicit":
            return None
        threshold = model.params.get("threshold")
        return None if threshold is None else float(threshold)

    @property
    def has_factors(self) -> bool:
        return self.model is not None and self.model.item_factors_.shape[1] > 0

    def _labels(self) -> tuple[str, str]:
        train = self.model.train_
        return train.row_label, train.col_label

    def _configure_labels(self) -> None:
        user, item = self._labels()
        value = "rating" if self.dataset.kind == "explicit" else "count"
        score = "score" if self.model.task == "ranking" else "predicted"
        self.known_table.setHorizontalHeaderLabels(["title", value, "genres"])
        self.recs_table.setHorizontalHeaderLabels(["rank", "title", score, "they rated", "genres"])
        self.new_recs_table.setHorizontalHeaderLabels(["rank", "title", score, "±", "genres"])
        self.rate_table.setHorizontalHeaderLabels(["title", "genres", "ratings", "liked it" if self.implicit else "your rating",
                                                   "ask first"])
        self.exclude_seen.setText(f"Hide {item}s they already {'rated' if value == 'rating' else 'used'}")
        self.support_label.setText("ratings" if value == "rating" else "interactions")
        genres = self.model.train_.item_genres is not None
        for table, col in ((self.known_table, 2), (self.recs_table, 4), (self.similar_table, 2), (self.rate_table, 1),
                           (self.new_recs_table, 4)):
            table.setColumnHidden(col, not genres)
            table.genre_column = col if genres else None
            table._fitter.fit()
        kind = "Tick what you liked" if self.implicit else "Give a few of them a rating"
        self.new_info.setText(
            f"{kind} ({N_POPULAR} most rated {item}s listed; search for others). The model folds your choices "
            f"into its fitted {item} factors and recommends from them — it is not retrained."
        )

    def _score_cell(self, score: float) -> QTableWidgetItem:
        """A predicted rating as the model's ``predict`` reports it: within the rating scale."""
        scale = self.model.train_.rating_scale
        shown = score
        if scale is not None and self.model.task == "rating":
            shown = min(max(score, scale[0]), scale[1])
        cell = _cell(f"{shown:.2f}", number=score, right=True)
        if shown != score:
            cell.setToolTip(f"raw score {score:.3f}; predictions are capped at the rating scale {_value(scale[0])}–{_value(scale[1])}")
        return cell

    def _model_name(self) -> str:
        model = self.model
        return model.title or model.name

    # ------------------------------------------------------- existing user
    def _step_user(self, step: int) -> None:
        if not self._users:
            return
        try:
            index = self._users.index(str(self.current_user))
        except ValueError:
            index = -step
        self.show_user(self._users[(index + step) % len(self._users)])

    def show_user(self, raw_user) -> None:
        """Show a user's ratings and recommendations (``raw_user`` as typed: "196" finds user 196)."""
        if self.model is None:
            return
        text = str(raw_user).strip()
        if self.user_edit.text() != text:
            self.user_edit.setText(text)
        train = self.model.train_
        index = int(train.row_of([text])[0]) if text else -1
        if index < 0:
            example = ", ".join(self._users[:3])
            user_word = self._labels()[0]
            self.user_info.setText(f"<span style='color:#b00'>There is no {user_word} “{text}” in the training data "
                                   f"(ids look like {example}).</span>")
            return
        self.current_user = train.row_ids[index].item()
        self._refresh_user()
        self._refresh_compare()
        self._refresh_time()

    def _refresh_user(self) -> None:
        model, user = self.model, self.current_user
        if model is None or user is None:
            return
        train = model.train_
        user_word, item_word = self._labels()
        known = known_ratings(model, user)
        self._seen_values = {row["item"]: row["value"] for row in known}
        threshold = self.like_threshold
        known_rows = []
        for r in known:
            cells = [_cell(r["title"], r["item"]), _cell(_value(r["value"]), number=r["value"], right=True),
                     _cell(_genres(r["genres"]))]
            if threshold is not None and r["value"] < threshold:
                # Below the threshold: not a like for the ranking model, but seen all the same.
                for cell in cells:
                    cell.setForeground(QColor("#777"))
                    cell.setToolTip(f"rated {_value(r['value'])}: below {_value(threshold)}, so {self._model_name()} "
                                    f"did not learn it as a like; it is still never recommended back")
            known_rows.append(cells)
        self._fill(self.known_table, known_rows)
        n = self.n_spin.value()
        exclude = self.exclude_seen.isChecked()
        recs = recommendations_for(model, user, n, exclude_seen=exclude, min_support=self.min_support)
        bold = QFont()
        bold.setBold(True)
        rows = []
        for r in recs:
            seen = self._seen_values.get(r["item"])
            cells = [_cell(r["rank"], number=r["rank"], right=True), _cell(r["title"], r["item"]),
                     self._score_cell(r["score"]),
                     _cell("" if seen is None else _value(seen), right=True), _cell(_genres(r["genres"]))]
            if seen is not None:
                for cell in cells:
                    cell.setForeground(QColor("#777"))
                cells[3].setToolTip("already rated: shown because 'hide' is off")
            rows.append(cells)
        self.recs_table.setColumnHidden(3, exclude)
        self._fill(self.recs_table, rows)
        values = np.asarray(list(self._seen_values.values()), dtype=float)
        mean = f", mean {values.mean():.2f}" if values.size and self.dataset.kind == "explicit" else ""
        unseen = train.n_cols - len(known)
        verb = "rated" if self.dataset.kind == "explicit" else "used"
        likes = ""
        if threshold is not None:
            n_likes = int((values >= threshold).sum())
            likes = f"; the {n_likes:,} rated {_value(threshold)} or more are the likes {self._model_name()} learned from"
        self.known_label.setText(f"<b>What {user_word} {user} {verb}</b> ({_plural(len(known), item_word)}{mean}{likes})")
        if exclude:
            any_value = " at any rating" if threshold is not None else ""
            where = (f"among the {unseen:,} they have not {verb}; the {_plural(len(known), item_word)} "
                     f"they {verb}{any_value} are hidden as seen")
        else:
            where = f"among all {train.n_cols:,}, seen ones included (greyed)"
        self.recs_label.setText(f"<b>Recommended for {user_word} {user}</b>: top {len(recs)} by {self._model_name()}, "
                                f"{where}{self._support_text(item_word)}")
        self.user_info.setText(f"{user_word.capitalize()} <b>{user}</b> of {train.n_rows:,}. "
                               f"Select {_a(item_word)} in either table to see the {item_word}s most like it "
                                f"(and, for a recommended one, why).")
        self._show_similar(None)
        self.show_why(None)

    # -------------------------------------------------------- similar items
    def _on_item_chosen(self, table: QTableWidget) -> None:
        rows = {index.row() for index in table.selectedIndexes()}
        if not rows:
            return
        other = self.recs_table if table is self.known_table else self.known_table
        other.blockSignals(True)
        other.clearSelection()
        other.blockSignals(False)
        column = 0 if table is self.known_table else 1
        item = table.item(min(rows), column)
        self._show_similar(item.data(ITEM_ROLE), item.text())
        self.show_why(item.data(ITEM_ROLE) if table is self.recs_table else None, item.text())

    def show_why(self, raw_item, title: str = "") -> None:
        """Explain a recommended item for the current user: the entries that add up to its score."""
        from ...explain import explain

        item_word = self._labels()[1] if self.model is not None else "item"
        self.explanation = None
        if raw_item is None or self.model is None or self.current_user is None:
            self.why_table.setRowCount(0)
            self.why_label.setText(f"<b>Why this {item_word}</b>: select a recommended {item_word} above.")
            return
        try:
            explanation = explain(self.model, self.current_user, raw_item, n=8)
        except (ValueError, TypeError, AttributeError) as exc:  # a model without factors, a user with no ratings
            self.why_table.setRowCount(0)
            self.why_label.setText(f"<b>Why “{html.escape(title)}”</b>: {html.escape(str(exc))}")
            return
        self.explanation = explanation
        rows = []
        for entry in explanation.contributions:
            rated = "" if entry.value is None else _value(entry.value)
            cells = [_cell(entry.title, entry.item), _cell(rated, number=entry.value, right=True),
                     _cell(f"{entry.contribution:+.3f}", number=entry.contribution, right=True)]
            if entry.kind != "item":
                for cell in cells:
                    cell.setForeground(QColor("#555"))
            rows.append(cells)
        self._fill(self.why_table, rows)
        pushed = [c.title for c in explanation.items if c.contribution > 0][:3]
        because = f"pushed up most by {', '.join(pushed)}" if pushed else "no rated item pushes it up"
        how = "exact, from the user's least-squares solve" if explanation.exact else "attribution, not exact"
        self.why_label.setText(f"<b>Why “{html.escape(title)}”</b>: {explanation.score:.3f} = the sum below ({how})")
        self.why_label.setToolTip(f"{because}.\n{explanation.method}")

    def _show_similar(self, raw_item, title: str = "") -> None:
        item_word = self._labels()[1] if self.model is not None else "item"
        if raw_item is None:
            self.similar_table.setRowCount(0)
            self.similar_label.setText(f"<b>Similar {item_word}s</b>: select {_a(item_word)} above.")
            return
        if not self.has_factors:
            self.similar_table.setRowCount(0)
            self.similar_label.setText(
                f"<b>Similar to “{title}”</b>: {self._model_name()} has no {item_word} factors, so it cannot say which "
                f"{item_word}s are alike; fit a factor model (SGD, ALS…) for this.")
            return
        rows = similar_items_to(self.model, raw_item, N_SIMILAR, min_support=self.min_support)
        self._fill(self.similar_table, [
            [_cell(r["title"], r["item"]), _cell(f"{r['similarity']:.3f}", number=r["similarity"], right=True),
             _cell(_genres(r["genres"]))]
            for r in rows
        ])
        self.similar_label.setText(f"<b>Similar to “{title}”</b> (cosine of the {item_word} factor vectors"
                                   f"{self._support_text(item_word)})")

    # ------------------------------------------------------------ new user
    def _candidates(self) -> np.ndarray:
        train = self.model.train_
        counts = train.col_counts()
        query = self.search_edit.text().strip().lower()
        if query:
            titles = np.char.lower(train.title_of(np.arange(train.n_cols)).astype(str))
            matches = np.flatnonzero(np.char.find(titles, query) >= 0)
            return matches[np.argsort(-counts[matches], kind="stable")][:N_SEARCH]
        from ...onboarding import items_to_rate

        # Ranking models keep the most-rated list: the suggestions reason about rating errors.
        items, self._suggested = items_to_rate(self.model, self.new_ratings, 0 if self.implicit else N_SUGGESTED,
                                               N_POPULAR)
        return items

    def _fill_rate_table(self) -> None:
        if self.model is None:
            return
        train = self.model.train_
        counts = train.col_counts()
        rated = train.col_of(list(self.new_ratings)) if self.new_ratings else np.zeros(0, np.int64)
        rated = rated[rated >= 0]
        candidates = self._candidates()
        items = np.concatenate([rated, candidates[~np.isin(candidates, rated)]]).astype(np.int64)
        titles = train.title_of(items)
        genres = train.item_genres[items] if train.item_genres is not None else [""] * items.size
        table = self.rate_table
        table.blockSignals(True)
        table.setRowCount(0)
        table.setRowCount(items.size)
        for row, (i, title, genre) in enumerate(zip(items.tolist(), titles, genres)):
            raw = train.col_ids[i].item()
            table.setItem(row, 0, _title_cell(title, raw, genre))
            table.setItem(row, 1, _cell(_genres(str(genre))))
            table.setItem(row, 2, _cell(f"{counts[i]:,}", number=counts[i], right=True))
            current = self.new_ratings.get(raw)
            suggestion = self._suggested.get(raw)
            why = _cell(f"#{suggestion.rank}" if suggestion is not None else "", right=True)
            if suggestion is not None:
                why.setToolTip(suggestion.reason)
                why.setForeground(QColor("#0072B2"))
            table.setItem(row, 4, why)
            if self.implicit:
                table.setItem(row, 3, self._tick_cell(raw, current))
            else:
                table.setItem(row, 3, QTableWidgetItem(""))
                table.setCellWidget(row, 3, self._rating_combo(raw, current))
        table.blockSignals(False)
        table.setColumnHidden(4, not self._suggested)
        table.resizeColumnToContents(2)
        table.resizeColumnToContents(3)
        table.resizeColumnToContents(4)
        self._update_new_user()

    def _tick_cell(self, raw_item, current) -> QTableWidgetItem:
        """A check box: ticked = liked; a rating given under a rating model is shown as such, not as a tick."""
        check = QTableWidgetItem("")
        check.setData(ITEM_ROLE, raw_item)
        check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        self._show_tick(check, current)
        return check

    def _show_tick(self, check: QTableWidgetItem, current) -> None:
        liked = current is not None and is_tick(current)
        text, tip = "", "Tick it if you liked it"
        if current is not None and not is_tick(current):
            threshold = self.like_threshold
            liked = threshold is None or float(current) >= threshold
            text = f"rated {_value(current)}"
            if liked:
                tip = f"You rated it {_value(current)}: a like for {self._model_name()}. Untick to remove it."
            else:
                tip = (f"You rated it {_value(current)}, below {_value(threshold)}: {self._model_name()} counts "
                       f"it as seen, not as a like. Tick it if you liked it.")
        check.setText(text)
        check.setToolTip(tip)
        check.setCheckState(Qt.CheckState.Checked if liked else Qt.CheckState.Unchecked)

    def _rating_levels(self) -> list[float]:
        lo, hi = self.model.train_.rating_scale or (1.0, 5.0)
        step = 1.0 if float(lo).is_integer() and float(hi).is_integer() else 0.5
        return [float(v) for v in np.arange(lo, hi + step / 2, step)]

    def _rating_combo(self, raw_item, current) -> QComboBox:
        combo = QComboBox()
        combo.addItem("—", None)
        if current is not None and is_tick(current):
            # A tick made under a ranking model: a rating model needs a number, and only the person can give it.
            combo.addItem("✓ liked: rate it", TICK)
        for level in self._rating_levels():
            combo.addItem(_value(level), level)
        if current is not None and is_tick(current):
            combo.setCurrentIndex(1)
            combo.setToolTip(f"You ticked this as liked. {self._model_name()} predicts ratings and cannot use a tick: "
                             f"choose a rating to count it. Until then it is left out (and not recommended to you).")
        else:
            if current is not None:
                index = combo.findData(float(current))
                combo.setCurrentIndex(max(index, 0))
            combo.setToolTip("Your rating; — means not rated")
        combo.currentIndexChanged.connect(lambda _, c=combo, r=raw_item: self.set_new_rating(r, c.currentData()))
        return combo

    def _on_check_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 3 and self.implicit:
            liked = item.checkState() == Qt.CheckState.Checked
            raw = item.data(ITEM_ROLE)
            current = self.new_ratings.get(raw)
            if liked:
                self.set_new_rating(raw, TICK)
            elif current is not None and not is_tick(current) and self.like_threshold is not None \
                    and float(current) < self.like_threshold:
                return  # the box of a low rating starts unticked; nothing to take back
            else:
                self.set_new_rating(raw, None)
            table = self.rate_table
            table.blockSignals(True)
            self._show_tick(item, self.new_ratings.get(raw))
            table.blockSignals(False)

    def set_new_rating(self, raw_item, value) -> None:
        """Rate an item as the new user; the list updates at once.

        ``value`` is a number (a rating), :data:`~mfstudio.recommend.TICK`
        ("liked", kept as a tick whatever model is shown later) or ``None``
        (take it back).
        """
        if value is None:
            self.new_ratings.pop(raw_item, None)
        elif is_tick(value):
            self.new_ratings[raw_item] = TICK
        else:
            self.new_ratings[raw_item] = float(value)
        self._update_new_user()
        if self._suggested and not self.search_edit.text().strip():
            # The next suggestions depend on what is rated now; rebuilt after this signal returns, since the
            # table's own widgets (the rating box just changed) are replaced.
            QTimer.singleShot(0, self._fill_rate_table)

    def clear_new_ratings(self) -> None:
        self.new_ratings = {}
        self._fill_rate_table()

    def _update_new_user(self) -> None:
        if self.model is None:
            return
        item_word = self._labels()[1]
        count = len(self.new_ratings)
        self.clear_button.setEnabled(count > 0)
        if not count:
            self.new_recs_table.setRowCount(0)
            self.new_recs_label.setText(f"<b>Recommended for you</b>: rate a few {item_word}s on the left to start.")
            return
        try:
            recs = recommendations_for_new_user(self.model, self.new_ratings, self.n_spin.value(),
                                                min_support=self.min_support)
        except DataError as exc:
            self.new_recs_table.setRowCount(0)
            self.new_recs_label.setText(f"<b>Recommended for you</b>: {exc}")
            return
        spreads, how = self._new_user_spreads()
        self._fill(self.new_recs_table, [
            [_cell(r["rank"], number=r["rank"], right=True), _title_cell(r["title"], r["item"], r["genres"]),
             self._score_cell(r["score"]),
             _cell(f"±{spreads[r['item']]:.2f}" if r["item"] in spreads else "",
                   number=spreads.get(r["item"], 0.0), right=True), _cell(_genres(r["genres"]))]
            for r in recs
        ])
        self.new_recs_table.setColumnHidden(3, not spreads)
        if spreads:
            self.new_recs_table.horizontalHeaderItem(3).setToolTip(
                f"Unsure ±: how far the prediction could be off (one standard deviation; {how}); it shrinks as you "
                f"rate more")
        self.new_recs_label.setText(f"<b>Recommended for you</b> by {self._model_name()}: "
                                    f"{self._new_user_explanation(item_word)}")

    def _start_onboarding_curve(self, run) -> None:
        """Say how many ratings a newcomer needs before their own factors beat the average viewer.

        Simulated by :func:`mfstudio.onboarding.ratings_to_beat_baseline` on the
        run's held-out people (a worker: seconds on MovieLens 100K); rating
        models with a test set only.
        """
        self.onboarding_label.setText("")
        self.onboarding_label.setVisible(False)
        split = None
        experiment = getattr(run, "experiment", None)
        if experiment is not None and experiment.splits:
            split = experiment.splits[0]
        if self.implicit or split is None or not getattr(self.model, "predicts_ratings", False):
            return
        self.onboarding_label.setVisible(True)
        known = self._onboarding_sentences.get(id(run))
        if known is not None and known[0] is run:
            self.onboarding_label.setText(known[1])
            return
        from ...onboarding import ratings_to_beat_baseline
        from ..worker import Task

        item_word = self._labels()[1]
        task = Task(ratings_to_beat_baseline, self.model, test=split.test, random_draws=1, max_users=100)
        task.done.connect(lambda curve: self._show_onboarding_curve(run, curve.sentence(item_word)))
        task.failed.connect(lambda message, _details: self._show_onboarding_curve(
            run, f"How many ratings a newcomer needs could not be simulated: {html.escape(message)}"))
        self._onboarding_task = task
        self.onboarding_label.setText("<i>Simulating newcomers on the held-out people: how many ratings it takes "
                                      "before your own factors beat the average viewer…</i>")
        task.start()

    def _show_onboarding_curve(self, run, text: str) -> None:
        import shiboken6

        # The simulation takes seconds on its own thread: the window (and this label) may be gone when it ends.
        if not shiboken6.isValid(self.onboarding_label):
            return
        self._onboarding_sentences[id(run)] = (run, text)
        if self.run is run:
            self.onboarding_label.setText(text)

    def _new_user_spreads(self) -> tuple[dict, str]:
        """``{raw item: spread}`` of the new user's predictions and how it was computed ({} for ranking models)."""
        if self.implicit:
            return {}, ""
        from ...onboarding import new_user_confidence

        try:
            confidence = new_user_confidence(self.model, self.new_ratings, n=self.n_spin.value(),
                                             min_support=self.min_support)
        except (DataError, ValueError):
            return {}, ""
        return {row.item: float(row.spread) for row in confidence.rows}, confidence.method

    def _new_user_explanation(self, item_word: str) -> str:
        """What the fold-in used and what the list leaves out, in the person's words."""
        given = read_new_user(self.model, self.new_ratings)
        ticks = sum(1 for v in self.new_ratings.values() if is_tick(v))
        ratings = len(self.new_ratings) - ticks
        parts = []
        if ticks:
            parts.append(f"{ticks} ticked as liked")
        if ratings:
            parts.append(f"{ratings} rated")
        text = f"from the {_plural(len(self.new_ratings), item_word)} you gave ({', '.join(parts)}); "
        text += f"all {given.seen.size:,} are left out of the list as seen{self._support_text(item_word)}."
        if given.unused_ticks:
            text += (f" <span style='color:#b00'>{_plural(len(given.unused_ticks), 'tick')} not used: this model "
                     f"predicts ratings, so rate {'it' if len(given.unused_ticks) == 1 else 'them'} to count.</span>")
        if given.not_liked:
            text += (f" {len(given.not_liked)} rated below {_value(self.like_threshold)}: seen, not counted as "
                     f"{'a like' if len(given.not_liked) == 1 else 'likes'}.")
        if given.unknown:
            text += f" {len(given.unknown)} not in the training data: ignored."
        return text

    # --------------------------------------------------------------- shared
    def _refresh(self, *_) -> None:
        if self.model is None:
            return
        self._refresh_user()
        self._update_new_user()
        self._refresh_compare()
        self._refresh_time()

    # ------------------------------------------------------------ over time
    def _build_time_page(self) -> QWidget:
        import pyqtgraph as pg

        page = QWidget()
        self.time_label = _heading("")
        self.time_plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.time_plot.setMouseEnabled(x=True, y=False)
        self.time_plot.showGrid(x=True, y=True, alpha=0.25)
        self.time_plot.setLabel("left", "predicted rating")
        # Two columns of legend above the curves: the y range leaves headroom for it (see _refresh_time).
        self.time_legend = self.time_plot.addLegend(offset=(10, 5), colCount=2)
        layout = QVBoxLayout(page)
        layout.addWidget(self.time_label)
        layout.addWidget(self.time_plot, 1)
        return page

    def _refresh_time(self) -> None:
        """Draw the chosen user's top recommendations' predicted ratings over the data's months (core: inspect)."""
        import pyqtgraph as pg

        from ...inspect import taste_over_time

        model, user = self.model, self.current_user
        self.time_plot.clear()
        self.time_legend.clear()
        time_aware = model is not None and hasattr(model, "predict_at")
        self.tabs.setTabEnabled(3, time_aware)
        if not time_aware or user is None:
            self.time_label.setText("Fit a time-aware method (timeSVD++, on ratings with timestamps) to see how a "
                                    "user's predicted taste changes over time; the other methods predict the same "
                                    "rating whatever the date.")
            return
        train = model.train_
        index = int(train.row_of([str(user)])[0])
        recs = recommendations_for(model, user, 5, exclude_seen=self.exclude_seen.isChecked(),
                                   min_support=self.min_support)
        items = train.col_of([str(r["item"]) for r in recs])
        taste = taste_over_time(model, index, items)
        if taste is None:
            return
        user_word, item_word = self._labels()
        for k, (row, prediction) in enumerate(zip(recs, taste.predictions)):
            self.time_plot.plot(taste.times, prediction, pen=pg.mkPen(color(k), width=2),
                                name=f"{row['title']}"[:40])
        self.time_plot.plot(taste.times, taste.level, pen=pg.mkPen("#777", width=2, style=Qt.PenStyle.DashLine),
                            name=f"{user_word} {user}'s own level (mean + bias + drift)")
        if taste.rated_times.size:
            self.time_plot.plot(taste.rated_times, taste.rated_values, pen=None, symbol="o", symbolSize=5,
                                symbolBrush=pg.mkBrush(90, 90, 90, 110), symbolPen=None,
                                name=f"their ratings ({taste.rated_times.size:,})")
        low, high = taste.scale
        self.time_plot.setYRange(low - 0.1 * (high - low), high + 0.45 * (high - low), padding=0)
        # Ticks only on the rating scale: the headroom above it is the legend's, not a rating.
        step = 1.0 if high - low >= 2 else (high - low) / 4 or 1.0
        self.time_plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in np.arange(low, high + step / 2, step)]])
        self.time_label.setText(
            f"<b>{user_word.capitalize()} {user}, over time</b>: the predicted rating of their top "
            f"{len(recs)} {item_word}s now, at each moment of the training data (item popularity per time "
            f"bin, the user's bias drifting around the days they rated). Dots: their actual ratings; dashed: "
            f"their own rating level without any {item_word}.")

    @staticmethod
    def _fill(table: QTableWidget, rows: list[list[QTableWidgetItem]]) -> None:
        table.blockSignals(True)
        table.clearSelection()
        table.setRowCount(0)
        table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, cell in enumerate(cells):
                table.setItem(r, c, cell)
        table.blockSignals(False)
        table._fitter.fit()

    # ------------------------------------------------------- side by side
    def _build_compare_page(self) -> QWidget:
        page = QWidget()
        self.compare_user_edit = QLineEdit()
        self.compare_user_edit.setPlaceholderText("type a user id…")
        self.compare_user_edit.setMaximumWidth(160)
        self.compare_completer = QCompleter(self.user_model, self)
        self.compare_completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.compare_user_edit.setCompleter(self.compare_completer)
        self.compare_completer.activated.connect(self.show_user)
        self.compare_user_edit.returnPressed.connect(lambda: self.show_user(self.compare_user_edit.text()))
        previous, following = QToolButton(), QToolButton()
        previous.setArrowType(Qt.ArrowType.LeftArrow)
        previous.setToolTip("Previous user")
        previous.clicked.connect(lambda: self._step_user(-1))
        following.setArrowType(Qt.ArrowType.RightArrow)
        following.setToolTip("Next user")
        following.clicked.connect(lambda: self._step_user(+1))
        # The runs to compare: one check box each, in a row that wraps.
        self.compare_runs = QListWidget()
        self.compare_runs.setFlow(QListView.Flow.LeftToRight)
        self.compare_runs.setWrapping(True)
        self.compare_runs.setResizeMode(QListView.ResizeMode.Adjust)
        self.compare_runs.setSpacing(2)
        self.compare_runs.setMaximumHeight(58)
        self.compare_runs.setToolTip("Tick the runs whose lists to show side by side (two or more)")
        self.compare_runs.itemChanged.connect(self._on_compare_ticked)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("User:"))
        bar.addWidget(self.compare_user_edit)
        bar.addWidget(previous)
        bar.addWidget(following)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Runs:"))
        bar.addWidget(self.compare_runs, 1)
        self.compare_info = _heading("")
        self.compare_lists = QWidget()
        self.compare_lists_layout = QHBoxLayout(self.compare_lists)
        self.compare_lists_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidget(self.compare_lists)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.compare_scroll = scroll
        self.compare_summary = _heading("")
        self.compare_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(self.compare_info)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.compare_summary)
        return page

    @property
    def comparing(self) -> bool:
        """Whether the "Compare runs side by side" page is the one shown."""
        return self.stack.currentIndex() == 1 and self.tabs.currentIndex() == 2

    def show_comparison(self) -> None:
        """Bring the side-by-side page forward (as a click on its tab would)."""
        self.tabs.setCurrentIndex(2)
        self._refresh_compare()

    def compared_runs(self) -> list:
        """The ticked runs, in the order of the Run box (oldest first)."""
        ticked = self._default_compared() if self._compare_ticked is None else self._compare_ticked
        return [run for run in self._offered if run in ticked]

    def _default_compared(self) -> list:
        """Until the person ticks runs themselves: the latest runs, the one chosen in the Run box among them."""
        offered = list(self._offered)
        ticked = offered[-N_COMPARED:]
        chosen = self.chosen_run()
        if chosen is not None and chosen not in ticked:
            ticked = [chosen, *offered[-(N_COMPARED - 1):]]
        return ticked

    def set_compared_runs(self, runs) -> None:
        """Tick exactly these runs (others unticked) and redraw the lists."""
        self._compare_ticked = [run for run in runs if run in self._offered]
        self._fill_compare_runs()
        self._refresh_compare()

    def _fill_compare_runs(self) -> None:
        offered = list(self._offered)
        if self._compare_ticked is not None:
            self._compare_ticked = [run for run in self._compare_ticked if run in offered]
        ticked = self.compared_runs()
        box = self.compare_runs
        box.blockSignals(True)
        box.clear()
        for k, run in enumerate(offered):
            model = run.model
            item = QListWidgetItem(f"{run.name}")
            item.setToolTip(f"{run.name}: {model.title or model.name}")
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if run in ticked else Qt.CheckState.Unchecked)
            item.setForeground(QColor(color(k)))
            box.addItem(item)
        box.blockSignals(False)

    def _on_compare_ticked(self, _item) -> None:
        box = self.compare_runs
        self._compare_ticked = [run for row, run in enumerate(self._offered)
                                if row < box.count() and box.item(row).checkState() == Qt.CheckState.Checked]
        self._refresh_compare()

    def _clear_compare_lists(self) -> None:
        layout = self.compare_lists_layout
        while layout.count():
            widget = layout.takeAt(0).widget()
            if widget is not None:
                # Off screen at once: a box left for deleteLater was drawn under the new ones.
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        self.compare_tables = []

    def _refresh_compare(self) -> None:
        """Draw the ticked runs' lists for the current user (only while the page is shown)."""
        from ...explain import compare_recommendations

        if self.model is None or not self.comparing:
            return
        user = self.current_user
        if self.compare_user_edit.text() != str(user):
            self.compare_user_edit.setText("" if user is None else str(user))
        self._clear_compare_lists()
        self.comparison = None
        runs = self.compared_runs()
        user_word, item_word = self._labels()
        value = "rated" if self.dataset.kind == "explicit" else "used"
        if len(self._offered) < 2:
            self.compare_info.setText(f"Only one run can be shown here. Fit another model on this data (e.g. SGD "
                                      f"and BPR, or ALS) to put their lists for the same {user_word} side by side.")
            self.compare_summary.setText("")
            return
        if not runs or user is None:
            self.compare_info.setText("Tick two or more runs above to put their lists side by side.")
            self.compare_summary.setText("")
            return
        names = {run.name: run.model for run in runs}
        table = compare_recommendations(names, user, n=self.n_spin.value(), min_support=self.min_support,
                                        skip_missing=True)
        self.comparison = table
        n_lists = table.n_lists
        self.compare_info.setText(
            f"Top {self.n_spin.value()} for {user_word} <b>{html.escape(str(user))}</b> from each ticked run, "
            f"{item_word}s they already {value} left out{self._support_text(item_word)}. "
            f"<span style='background:{SHARED_SOME}'>&nbsp;Tinted&nbsp;</span> = in more than one list "
            f"(\u25cf 2 of {n_lists}), <span style='background:{SHARED_ALL}'>&nbsp;darker&nbsp;</span> = in every "
            f"list. Select {_a(item_word)} to find it in the other lists."
            + ("" if n_lists >= 2 else " <b>Tick another run to compare.</b>"))
        for k, name in enumerate(table.names):
            run = runs[k]
            self.compare_lists_layout.addWidget(self._compare_box(table, name, run), 1)
        self.compare_summary.setText(self._compare_summary(table, item_word, value))

    def _compare_box(self, table, name: str, run) -> QWidget:
        model = run.model
        rows = table.lists[name]
        colour = color(self._offered.index(run)) if run in self._offered else "#222"
        box = QWidget()
        box.setMinimumWidth(COMPARE_MIN_WIDTH)  # narrower, a title was three letters: the page scrolls instead
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        method = model.title or model.name
        head = _heading(f"<b style='color:{colour}'>{html.escape(name)}</b>"
                        + ("" if method in name else f" <span style='color:#555'>({html.escape(method)})</span>"))
        layout.addWidget(head)
        if name in table.missing:
            layout.addWidget(_heading(f"<span style='color:#b00'>{html.escape(table.missing[name])}</span>"))
            layout.addStretch(1)
            return box
        users = model.train_.n_rows
        figures = _heading(
            f"mean novelty <b>{table.mean_novelty[name]:.2f}</b> bits · rated by <b>{table.mean_popularity[name]:.1%}"
            f"</b> of users on average · <b>{table.n_shared[name]}</b> of {len(rows)} in another list")
        figures.setToolTip(
            f"Novelty of an item = -log2(share of the {users:,} {model.train_.row_label}s of this run's training "
            f"data who rated it): 1 bit = half of them, 3 bits = one in eight; higher = less well known.\n"
            f"'rated by' is that share itself, averaged over the list.")
        layout.addWidget(figures)
        widget = _table(["#", "title", "rated by", "in lists"], stretch=1)
        widget.horizontalHeaderItem(2).setToolTip("Share of the training data's users who rated it "
                                                  "(novelty in bits in each cell's tooltip)")
        widget.horizontalHeaderItem(3).setToolTip("How many of the compared lists hold this item (\u25cf: more "
                                                  "than one)")
        cells = []
        for r in rows:
            shared, everywhere = r["shared"], r["in_lists"] == table.n_lists and table.n_lists > 1
            title = _cell(r["title"], r["item"])
            title.setToolTip(f"{r['title']}\nscore {r['score']:.3f} ({model.title or model.name}'s own scale)"
                             + (f"\n{_genres(r['genres'])}" if r.get("genres") else ""))
            popularity = _cell(f"{r['popularity']:.0%}" if r["popularity"] >= 0.01 else "<1%",
                               number=r["popularity"], right=True)
            popularity.setToolTip(f"novelty {r['novelty']:.2f} bits")
            mark = _cell(f"\u25cf {r['in_lists']} of {table.n_lists}" if shared else "", number=r["in_lists"])
            row = [_cell(r["rank"], number=r["rank"], right=True), title, popularity, mark]
            if shared:
                mark.setForeground(QColor(SHARED_MARK))
                for cell in row:
                    cell.setBackground(QColor(SHARED_ALL if everywhere else SHARED_SOME))
            cells.append(row)
        self._fill(widget, cells)
        widget.itemSelectionChanged.connect(lambda w=widget: self._on_compared_item(w))
        layout.addWidget(widget, 1)
        self.compare_tables.append(widget)
        return box

    def _compare_summary(self, table, item_word: str, value: str) -> str:
        parts = [f"{html.escape(a)} & {html.escape(b)}: {count}" for (a, b), count in table.overlap.items()]
        text = f"<b>Overlap</b> ({item_word}s both lists hold): " + "; ".join(parts) + "."
        if table.n_lists > 2:
            titles = []
            first = table.lists[table.names[0]]
            for raw in table.common:
                titles.extend(r["title"] for r in first if r["item"] == raw)
            text += (f" In every list: {len(table.common)}"
                     + (f" ({html.escape(', '.join(titles[:4]))}{'…' if len(titles) > 4 else ''})" if titles else "")
                     + ".")
        text += (f"<br><span style='color:#555'>Novelty = -log2(share of the training data's users who {value} the "
                 f"{item_word}), in bits: a list of well-known {item_word}s scores low, one of rarities high. "
                 f"Scores are on each model's own scale (hover a title), so only the orders compare.</span>")
        return text

    def _on_compared_item(self, source: QTableWidget) -> None:
        rows = {index.row() for index in source.selectedIndexes()}
        if not rows:
            return
        raw = source.item(min(rows), 1).data(ITEM_ROLE)
        for table in self.compare_tables:
            if table is source:
                continue
            table.blockSignals(True)
            table.clearSelection()
            for r in range(table.rowCount()):
                if table.item(r, 1).data(ITEM_ROLE) == raw:
                    table.selectRow(r)
                    table.scrollToItem(table.item(r, 1))
            table.blockSignals(False)

    def compared_titles(self) -> dict:
        """``run name -> titles of its list, top first`` as shown (for tests)."""
        if self.comparison is None:
            return {}
        return {name: [table.item(r, 1).text() for r in range(table.rowCount())]
                for name, table in zip([n for n in self.comparison.names if n not in self.comparison.missing],
                                       self.compare_tables)}

