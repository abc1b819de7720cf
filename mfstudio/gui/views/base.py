"""What every result tab offers the main window."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QToolButton, QWidget

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
        layout = self.layout()
        if layout is not None:
            # Drawn over a plot's title or a tool bar it hid what it covered: push the
            # content down to leave the link a strip of its own (a few pixels more
            # than the usual top margin).
            margins = layout.contentsMargins()
            strip = button.height() + 2
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

    def set_run(self, run) -> None:
        self.run = run

    def applies_to(self, dataset, run) -> bool:
        """Whether this tab has something to show (tabs that don't are disabled)."""
        return dataset is not None

    # Export hooks: the main window's Export menu asks the current tab.
    def export_plot(self) -> pg.PlotItem | pg.GraphicsLayoutWidget | None:
        return None

    def export_table(self) -> QTableWidget | None:
        return None
