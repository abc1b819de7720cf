"""Help that teaches: how to read each result tab, and the bundled user guide.

Each result tab has a short "how to read this" (what the axes and colours
mean, what a good result looks like, one pitfall), shown from the tab's own
"How to read this" button and from the Help menu. The user guide is a single
HTML file in ``resources/`` shown in a :class:`QTextBrowser`: no web engine,
so it works in the frozen app and offscreen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

#: The bundled user guide (packaged with the other resources).
GUIDE_PATH = Path(__file__).resolve().parent / "resources" / "guide.html"


def _section(axes: str, good: str, pitfall: str) -> str:
    # One layout for every view, so a reader learns where to look.
    return (f"<p><b>What you see.</b> {axes}</p>"
            f"<p><b>A good result.</b> {good}</p>"
            f"<p><b>Pitfall.</b> {pitfall}</p>")


#: "How to read this" per result tab, keyed by the tab's title (``ResultView.title``).
VIEW_HELP: dict[str, str] = {
    "Training": _section(
        "Top: the objective (what the method minimises, penalty included) per epoch, divided by its "
        "first epoch's value so that every method shares one axis. Bottom: one error metric per epoch; "
        "for each run the dashed line is measured on the training data and the solid line on the held-out "
        "test data. The grey dashed line is the reference model (the baseline) that a run has to beat. "
        "Each run has its own colour; the table below lists the runs and lets you hide them.",
        "The objective falls and flattens (the optimiser converged), and the solid test line ends "
        "below the grey reference line. A small, steady gap between the dashed and the solid line is normal.",
        "A test line that turns upward while the train line keeps falling is overfitting: fewer factors, "
        "more regularization or fewer epochs. A falling objective alone says nothing about the test error.",
    ),
    "Spectrum": _section(
        "Top: one bar per singular value of a truncated SVD, strongest first (switch to a log scale to see "
        "the tail). Bottom, against the rank (the number of components kept): the cumulative explained "
        "variance and the relative reconstruction error. Drag the marker to a rank to read what keeping "
        "that many components gives.",
        "A few tall bars followed by a quick drop (an 'elbow'): the data has a few strong patterns and a "
        "rank just past the elbow keeps most of them.",
        "A slowly decaying spectrum with no elbow means there is no small rank that explains the data; "
        "do not read a rank off it. Explained variance on a training matrix says nothing about test error.",
    ),
    "Topics & parts": _section(
        "Documents: one card per component with its heaviest words as bars (longer bar: heavier word) and "
        "the share of documents the component leads; click a card to list the documents most about it. "
        "Images: each component as a small image, and for a chosen image its original, its reconstruction "
        "and the parts that build it, strongest first. SVD components have two signs: a large negative weight "
        "matters as much as a large positive one.",
        "Each card's words read as one subject, cards differ from one another, and no card leads almost "
        "all documents. For images, parts look like local strokes or pieces and the reconstruction error is small.",
        "Topics depend on the rank and the seed: a second fit can split or merge them. Cards full of "
        "stop words or numbers mean the vocabulary needs cleaning, not more factors.",
    ),
    "Recommendations": _section(
        "Left: what the chosen user rated (or what you rate as a new user). Right: the top-N items the "
        "model predicts for them, with the predicted score, leaving out what they already saw. Choosing "
        "an item in either list shows the items nearest to it in factor space (similar items). Choosing "
        "a recommended item also shows why: the rated items and factors that add up to its score. "
        "Compare runs puts the lists of several runs for one user side by side: tinted items are in more "
        "than one list; novelty (bits) is high for lists of rarely rated items.",
        "The list fits the user's history in a way a person would recognise, mixes well-known and "
        "less-known items, and similar items share a genre or a mood.",
        "Items with only a handful of ratings can land on top with extreme scores: check how many ratings "
        "an item has before trusting it. A list identical for every user means the model learned little beyond popularity.",
    ),
    "Factor space": _section(
        "Each point is an item (or user, or document) placed by its factor vector: either two chosen "
        "factors or the first two principal components of all vectors. Colour is a category (a genre, "
        "a document label, or the dominant component). Hover a point to see its name.",
        "Points of one colour gather in their own region and similar items sit close together.",
        "Two dimensions hide the rest: points that overlap here may be far apart in the other factors. "
        "Points with very few ratings cluster near the centre because regularization pulls them there.",
    ),
    "Matrix": _section(
        "A block of the most active rows and columns, three heatmaps side by side: the data, the model's "
        "reconstruction and the residual (data minus reconstruction). For ratings, a blank (grey) cell is "
        "unknown, not zero, and the residual exists only on observed cells.",
        "The reconstruction shows the same broad structure as the data, and the residual looks like "
        "faint, patternless noise centred on zero.",
        "Stripes or blocks left in the residual are structure the model missed (too few factors). "
        "The block is the busiest part of the data: the model usually does worse on the rest.",
    ),
    "Metrics": _section(
        "One row per run: the method, its parameters, the protocol, the test metrics and the time it "
        "took, with the reference model's score that it has to beat. With cross-validation a ± gives "
        "the spread over folds.",
        "A lower RMSE or MAE (rating prediction), or a higher precision@k, recall@k or NDCG (ranking), than "
        "the reference on the same protocol, by more than the spread over folds.",
        "Only compare rows that used the same data and protocol: a time-based split is harder than a "
        "random one, and 'all' scores reconstruction, not prediction.",
    ),
    "Sweep": _section(
        "One parameter: the validation error of each value (mean over the folds, bars one standard "
        "deviation) as a solid line, and the same error on the training folds dashed; the star is the best "
        "value. Two parameters: a heatmap of the validation error, brighter is better, the best cell outlined. "
        "The table lists every point with its spread, train error, time and status (pruned points stopped early "
        "under successive halving).",
        "A U shape: too few factors or too much regularization underfits (both errors high), too many or "
        "too little overfits (train keeps falling, validation rises). The best point sits at the bottom of "
        "the U, clearly apart from its neighbours by more than the bars.",
        "The sweep picks the best of many tries on the validation folds, so its best score flatters: judge "
        "the chosen setting on a test set it never saw (Fit best as a run scores it on the window's protocol).",
    ),
}


def view_help(title: str) -> str:
    """The "how to read this" HTML of the result tab called ``title``.

    Parameters
    ----------
    title : str
        A result tab's title (``ResultView.title``), e.g. ``"Spectrum"``.

    Returns
    -------
    str
        HTML with a heading and three paragraphs; a short notice for a tab without help.
    """
    body = VIEW_HELP.get(title)
    if body is None:
        return f"<h3>{title}</h3><p>There is no reading guide for this tab yet; see Help &gt; User guide.</p>"
    return f"<h3>How to read {title}</h3>{body}"


def guide_html() -> str:
    """The bundled user guide as HTML (a short notice if the file is missing from the installation)."""
    try:
        return GUIDE_PATH.read_text(encoding="utf-8")
    except OSError:
        return "<p>The user guide is missing from this installation (expected at " f"{GUIDE_PATH}).</p>"


class HelpDialog(QDialog):
    """A non-modal window that shows help HTML in a QTextBrowser (links to the web open in the browser)."""

    def __init__(self, title: str, html: str, parent=None, size: tuple[int, int] = (520, 420)):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        # Kept open beside the window while the user reads the view it explains.
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(*size)


def show_view_help(title: str, parent=None) -> HelpDialog:
    """Open the "how to read this" window of the result tab ``title`` and return it."""
    dialog = HelpDialog(f"How to read {title}", view_help(title), parent)
    dialog.show()
    return dialog


def show_user_guide(parent=None) -> HelpDialog:
    """Open the bundled user guide and return its window."""
    dialog = HelpDialog("mfstudio user guide", guide_html(), parent, size=(760, 620))
    dialog.show()
    return dialog
