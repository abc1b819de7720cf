"""What every result tab offers the main window."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QTableWidget, QToolButton, QWidget

# Colours for runs and categories, drawn on white: colour-blind-safe Okabe-Ito without
# its yellow (1.3:1 against white: a run drawn in it could not be read), then the tab10
# colours that no Okabe-Ito colour resembles and that stay dark (their olive and cyan are
# as faint as the yellow; their red reads as the vermillion to red-green colour-blind eyes).
PALETTE = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
    "#8c564b", "#9467bd", "#7f7f7f",
]


def color(k: int) -> str:
    return PALETTE[k % len(PALETTE)]


def fit_seconds(run) -> float | None:
    """The run's training time in seconds: its model's own ``fit_seconds_`` (None if unknown).

    The one source for every place that shows a run's time (this table's "fit time",
    the status bar), so they agree: it leaves out the split, the reference model and
    the scoring that the wall clock around a fit includes.
    """
    seconds = getattr(run.model, "fit_seconds_", None)
    if seconds is None and run.history:
        seconds = run.history[-1].seconds
    return None if seconds is None else float(seconds)


def seconds_text(seconds: float) -> str:
    """A time as the table and the status bar write it ("0.29 s")."""
    return f"{seconds:.2f} s"


class ResultView(QWidget):
    """A tab of the results area.

    The main window calls :meth:`set_dataset` when data changes and
    :meth:`set_run` when a run finishes or another run is selected; the
    training view also gets :meth:`add_steps` while a fit runs. Views only
    draw: every number they show comes from the dataset, the model or the
    core functions.
    """

    #: Tab title.
    title = ""
    #: Whether the tab shows one run at a time, chosen in its own "Run" box (the
    #: Training and Metrics tabs show every run and have none).
    shows_one_run = True

    def __init__(self, parent=None):
        super().__init__(parent)
        self.dataset = None
        self.run = None
        # A small link in the top-right corner, in a strip the view's layout
        # leaves free above its content (see _place_help_button): every view
        # gets one without making room for it itself, and it covers nothing.
        self.help_button = QToolButton(self)
        self.help_button.setText("How to read this")
        self.help_button.setAutoRaise(True)
        self.help_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.help_button.setToolTip("What the axes and colours of this tab mean, what a good result looks like (F1)")
        # Underlined blue on a white backing: reads as a link, and stays legible over a plot's corner.
        self.help_button.setStyleSheet("QToolButton { color: #0060a0; font-size: 8pt; text-decoration: underline;"
                                       " background: rgba(255, 255, 255, 220); padding: 0px 3px; border: none; }")
        self.help_button.clicked.connect(self.show_help)
        self._help_dialog = None
        # The tab's own choice of run, beside the help link in the same strip: a tab
        # shows the latest run it can draw without the user finding that run in the
        # Training history (Spectrum stayed grey until the SVD row was clicked).
        self.run_label = QLabel("Run:", self)
        self.run_combo = QComboBox(self)
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.run_combo.setMinimumContentsLength(12)
        self.run_combo.setToolTip("The run this tab shows: only runs it can draw are listed; "
                                  "a new run it can draw is shown when it finishes")
        self.run_combo.activated.connect(self._on_run_activated)
        self._offered: list = []
        for widget in (self.run_label, self.run_combo):
            widget.setVisible(self.shows_one_run)

    def show_help(self):
        """Open (or bring forward) this view's "how to read this" window and return it."""
        from ..help import show_view_help

        if self._help_dialog is not None:
            try:
                self._help_dialog.raise_()
                self._help_dialog.activateWindow()
                return self._help_dialog
            except RuntimeError:  # closed: Qt deleted it (WA_DeleteOnClose)
                self._help_dialog = None
        self._help_dialog = show_view_help(self.title, self)
        self._help_dialog.destroyed.connect(self._forget_help)
        return self._help_dialog

    def _forget_help(self, *_args):
        self._help_dialog = None

    def _place_help_button(self):
        button = self.help_button
        button.adjustSize()
        strip = button.height() + 2
        if self.shows_one_run:
            self.run_combo.adjustSize()
            self.run_label.adjustSize()
            strip = max(strip, self.run_combo.height() + 4)
            self.run_label.move(6, (strip - self.run_label.height()) // 2)
            self.run_combo.move(6 + self.run_label.width() + 4, 2)
            self.run_label.raise_()
            self.run_combo.raise_()
        layout = self.layout()
        if layout is not None:
            # Drawn over a plot's title or a tool bar it hid what it covered: push the
            # content down to leave the link (and the run box) a strip of their own.
            margins = layout.contentsMargins()
            if margins.top() < strip:
                layout.setContentsMargins(margins.left(), strip, margins.right(), margins.bottom())
        # The right edge of what is on screen: a view wider than its tab (inside a
        # scroll area) would otherwise put the link out of sight.
        visible = self.visibleRegion().boundingRect()
        right = visible.right() if not visible.isEmpty() else self.width() - 1
        button.move(right - button.width() - 3, 1)
        button.raise_()  # widgets a view adds after __init__ would otherwise cover it

    def resizeEvent(self, event):  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._place_help_button()

    def showEvent(self, event):  # noqa: N802 - Qt API
        super().showEvent(event)
        self._place_help_button()

    def set_dataset(self, dataset) -> None:
        self.dataset = dataset
        self.run = None
        if self.shows_one_run:
            self.offer_runs([])

    def set_run(self, run) -> None:
        self.run = run

    # ------------------------------------------------------------ the run box
    def can_show(self, run) -> bool:
        """Whether this tab can draw ``run`` (a finished, cancelled or failed run with at least one epoch)."""
        return (run is not None and getattr(run, "status", "finished") != "running" and bool(run.history)
                and self.applies_to(self.dataset, run))

    def offer_runs(self, runs, prefer=None) -> None:
        """List in the Run box the runs of ``runs`` this tab can draw, and choose one.

        The choice is ``prefer`` when the tab can draw it (the run that just
        finished, or the one clicked in the Training history), else the run
        chosen before if it is still listed, else the latest. The tab draws
        it when it is next shown (:meth:`show_chosen_run`).
        """
        offered = [run for run in runs if self.can_show(run)]
        previous = self.chosen_run()
        choice = prefer if prefer in offered else previous if previous in offered else (offered[-1] if offered else None)
        self._offered = offered
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in offered:
            status = "" if getattr(run, "status", "finished") == "finished" else f" ({run.status})"
            self.run_combo.addItem(f"{run.name}{status}")
        if choice is not None:
            self.run_combo.setCurrentIndex(offered.index(choice))
        self.run_combo.blockSignals(False)
        self._place_help_button()

    def offered_runs(self) -> list:
        """The runs listed in the Run box, oldest first."""
        return list(self._offered)

    def chosen_run(self):
        """The run chosen in the Run box (None when the tab can draw none)."""
        index = self.run_combo.currentIndex()
        return self._offered[index] if 0 <= index < len(self._offered) else None

    def choose_run(self, run) -> None:
        """Choose ``run`` in the Run box (as a user would) and draw it."""
        if run in self._offered:
            self.run_combo.setCurrentIndex(self._offered.index(run))
            self.show_chosen_run()

    def show_chosen_run(self) -> None:
        """Draw the chosen run if it is not the one drawn."""
        chosen = self.chosen_run()
        if chosen is not self.run:
            self.set_run(chosen)

    def _on_run_activated(self, _index: int) -> None:
        self.show_chosen_run()

    def applies_to(self, dataset, run) -> bool:
        """Whether this tab has something to show (tabs that don't are disabled)."""
        return dataset is not None

    # Export hooks: the main window's Export menu asks the current tab.
    def export_plot(self) -> pg.PlotItem | pg.GraphicsLayoutWidget | None:
        return None

    def export_table(self) -> QTableWidget | None:
        return None
