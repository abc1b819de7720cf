"""What every result tab offers the main window."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QTableWidget, QWidget

# Colours for runs and categories: colour-blind-safe (Okabe-Ito), then tab10
# colours that no Okabe-Ito colour resembles (a second blue read as the same run).
PALETTE = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
    "#000000", "#8c564b", "#9467bd", "#7f7f7f", "#bcbd22", "#d62728", "#17becf",
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
