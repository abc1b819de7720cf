"""What every result tab offers the main window."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QTableWidget, QWidget

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
