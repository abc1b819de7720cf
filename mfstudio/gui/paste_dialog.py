"""File > Paste a Matrix: type or paste a small grid (a tutorial's ratings matrix) and load it as data.

The text is read by :func:`mfstudio.data.samples.parse_grid_text` (the core decides what it means);
the dialog only collects it and the one choice that changes its meaning: whether 0 is "unknown"
(the tutorials' convention for a rating nobody gave) or a value.
"""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
)

#: What the box shows before anything is typed: the classic 5 x 4 tutorial matrix.
EXAMPLE = "5 3 0 1\n4 0 0 1\n1 1 0 5\n1 0 0 4\n0 1 5 4"


class PasteMatrixDialog(QDialog):
    """A text box for a grid of numbers, and whether 0 means unknown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Paste a matrix")
        intro = QLabel("One row per line; numbers separated by spaces, commas or tabs (a matrix copied from "
                       "a tutorial or from print(R) works as it is). Empty, '-', '?' or 'nan' cells are unknown.")
        intro.setWordWrap(True)
        self.editor = QPlainTextEdit()
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlaceholderText(EXAMPLE)
        self.editor.setPlainText(EXAMPLE)
        self.zero_box = QCheckBox("0 means unknown (not rated), as in the tutorials")
        self.zero_box.setChecked(True)
        self.zero_box.setToolTip("Ticked: only the non-zero cells are ratings, and a model fills in the zeros. "
                                 "Unticked: every number, 0 included, is a value of a dense matrix.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.zero_box)
        layout.addWidget(buttons)
        self.resize(520, 360)

    def text(self) -> str:
        """What was typed."""
        return self.editor.toPlainText()

    def zero_is_unknown(self) -> bool:
        """Whether 0 is read as an unknown cell."""
        return self.zero_box.isChecked()
