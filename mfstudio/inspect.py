"""What the result views show, computed: pure functions returning small frozen records.

The views in :mod:`mfstudio.gui.views` only draw. Each asks one function here
for what it shows (top words and lead shares of topics, an image taken apart
into its strongest parts, a block of data / reconstruction / residual, a 2-D
map of factor vectors, a spectrum) and sets the arrays of the returned record
on its plot items and tables. Everything here is numpy / scipy / scikit-learn
only, imports without Qt and is tested without it (``tests/test_inspect.py``);
the CLI can print the same records.

The shape follows pyapp-kit/ndv: ``controllers/_image_stats.py`` computes
the statistics an image view shows as a frozen dataclass, and the view's
abstract setters (``views/bases/_lut_view.py``) receive them without ever
touching the model.

Records are ``@dataclass(frozen=True, eq=False)``: frozen so a view cannot
change what it was given, ``eq=False`` because the generated ``__eq__``
would compare arrays element-wise and raise. Arrays they own are made
read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .data.arrays import unique_sorted

__all__ = [
    "EXPLAINED_VARIANCE_LABEL",
    "TrainingCurves",
    "SweepLine",
    "SweepGrid",
    "sweep_line",
    "sweep_grid",
    "SweepScatter",
    "sweep_scatter",
    "training_curves",
    "FROBENIUS_SHARE_LABEL",
    "FactorMap",
    "ImageBreakdown",
    "LogBars",
    "RankSummary",
    "ReconstructionBlock",
    "Spectrum",
    "TopicAgreement",
    "TopicDocuments",
    "TopicSummary",
    "component_order",
    "display_levels",
    "factor_map",
    "factors_of",
    "genre_categories",
    "genre_names",
    "genre_counts",
    "signed_topic_summary",
    "has_signed_components",
    "SignedTopicSummary",
    "with_categories",
    "has_factors_for",
    "image_breakdown",
    "lead_shares",
    "leading_orders",
    "limit_categories",
    "log_bars",
    "most_active",
    "principal_components",
    "reconstruction_block",
    "spectrum_from_step",
    "spectrum_of",
    "strongest_parts",
    "topic_documents",
    "topic_label_agreement",
    "topic_summary",
]

#: What ``explained_variance_ratio_`` means (the variance of the projected data
#: over the total variance of the columns, as scikit-learn's TruncatedSVD defines it).
EXPLAINED_VARIANCE_LABEL = "explained variance (as scikit-learn's TruncatedSVD)"
#: What ``frobenius_share_`` means (s_i² over the squared Frobenius norm of the matrix).
FROBENIUS_SHARE_LABEL = "share of squared Frobenius norm"

#: Categories a factor map colours at most; the rest are "other".
MAX_CATEGORIES = 12


def _readonly(array, dtype=None) -> np.ndarray:
    """A read-only copy (a record must not share memory with the model it came from)."""
    out = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


# =============================================================== factors
def factors_of(model) -> tuple[np.ndarray, np.ndarray] | None:
    """(W, H) of a fitted factorization, or None when it has no usable factors.

    Parameters
    ----------
    model : object
        A fitted model with ``user_factors_`` (W, rows x k) and
        ``components_`` (H, k x columns) or ``item_factors_`` (H transposed).

    Returns
    -------
    tuple of ndarray or None
        ``(W, H)`` with matching ``k >= 1``, else None.
    """
    if model is None:
        return None
    W = getattr(model, "user_factors_", None)
    H = getattr(model, "components_", None)
    if H is None:
        Q = getattr(model, "item_factors_", None)
        H = None if Q is None else np.asarray(Q).T
    if W is None or H is None:
        return None
    W, H = np.asarray(W), np.asarray(H)
    if W.ndim != 2 or H.ndim != 2 or W.shape[1] == 0 or W.shape[1] != H.shape[0]:
        return None
    return W, H


def has_factors_for(dataset, model) -> bool:
    """Whether ``model`` has user and item factors (k >= 1) shaped for ``dataset``'s rows and columns."""
    users = getattr(model, "user_factors_", None)
    items = getattr(model, "item_factors_", None)
    if dataset is None or users is None or items is None:
        return False
    users, items = np.shape(users), np.shape(items)
    return (len(users) == 2 and len(items) == 2 and users[1] >= 1 and items[1] == users[1]
            and users[0] == dataset.n_rows and items[0] == dataset.n_cols)


# ================================================================ topics
def lead_shares(W) -> np.ndarray:
    """Share of rows whose largest weight belongs to each component.

    Rows of all zeros lead nothing, so the shares sum to the share of rows
    with any weight.

    Parameters
    ----------
    W : array_like, shape (n_rows, k)

    Returns
    -------
    ndarray, shape (k,)
    """
    W = np.asarray(W)
    active = np.abs(W).sum(axis=1) > 0
    lead = np.argmax(W[active], axis=1)
    return np.bincount(lead, minlength=W.shape[1]) / max(W.shape[0], 1)


@dataclass(frozen=True, eq=False)
class TopicSummary:
    """The heaviest columns (words, pixels) of every component, and how much each leads.

    Attributes
    ----------
    words : tuple of tuple of str
        Per component, the names of its ``n`` heaviest columns, heaviest first.
    word_columns : ndarray of int, shape (k, n)
        Their column indices.
    weights : ndarray, shape (k, n)
        Their weights in H.
    lead_shares : ndarray, shape (k,)
        Share of rows whose strongest component it is (see :func:`lead_shares`).
    mean_weights : ndarray, shape (k,)
        Mean of each component's column of W.
    """

    words: tuple
    word_columns: np.ndarray
    weights: np.ndarray
    lead_shares: np.ndarray
    mean_weights: np.ndarray

    @property
    def n_components(self) -> int:
        return len(self.words)

    def top(self, component: int, n: int | None = None) -> list[tuple[str, float]]:
        """(word, weight) pairs of one component, heaviest first."""
        words = self.words[component][:n]
        return [(w, float(v)) for w, v in zip(words, self.weights[component])]


def topic_summary(W, H, terms, n_words: int = 8) -> TopicSummary:
    """Top words per component, lead shares and mean weights of a factorization.

    Parameters
    ----------
    W : array_like, shape (n_rows, k)
    H : array_like, shape (k, n_cols)
    terms : array_like, shape (n_cols,)
        Column names (the vocabulary).
    n_words : int
        How many of each component's heaviest columns to keep.

    Returns
    -------
    TopicSummary
    """
    W, H = np.asarray(W), np.asarray(H)
    terms = np.asarray(terms)
    n = max(0, min(int(n_words), H.shape[1]))
    # A stable sort keeps ties in vocabulary order, so the cards never reshuffle.
    order = np.argsort(-H, axis=1, kind="stable")[:, :n]
    weights = np.take_along_axis(H, order, axis=1).astype(np.float64)
    words = tuple(tuple(str(t) for t in terms[row]) for row in order)
    return TopicSummary(
        words=words,
        word_columns=_readonly(order),
        weights=_readonly(weights),
        lead_shares=_readonly(lead_shares(W)),
        mean_weights=_readonly(W.mean(axis=0), np.float64),
    )


@dataclass(frozen=True, eq=False)
class SignedTopicSummary:
    """Both ends of every component of a factorization with signs (an SVD).

    An SVD component is a direction: words at its negative end are as
    characteristic as those at its positive end (documents score high on
    one side or the other), and the sign itself is arbitrary.

    Attributes
    ----------
    positive_words, negative_words : tuple of tuple of str
        Per component, the ``n`` columns with the largest (most negative)
        weights, strongest first; only weights of that sign, so a side may
        hold fewer than ``n``.
    positive_weights, negative_weights : tuple of ndarray
        Their weights in H (negative ones are negative).
    """

    positive_words: tuple
    negative_words: tuple
    positive_weights: tuple
    negative_weights: tuple

    @property
    def n_components(self) -> int:
        return len(self.positive_words)

    def side(self, component: int, sign: str, n: int | None = None) -> list[tuple[str, float]]:
        """(word, weight) pairs of one end ("+" or "-") of a component, strongest first."""
        if sign not in ("+", "-"):
            raise ValueError('sign must be "+" or "-"')
        words = (self.positive_words if sign == "+" else self.negative_words)[component][:n]
        weights = (self.positive_weights if sign == "+" else self.negative_weights)[component]
        return [(w, float(v)) for w, v in zip(words, weights)]


def has_signed_components(H) -> bool:
    """Whether a factorization's components take both signs (SVD) rather than only non-negative ones (NMF)."""
    H = np.asarray(H)
    return bool(H.size) and bool((H < 0).any())


def signed_topic_summary(H, terms, n_words: int = 8) -> SignedTopicSummary:
    """The most positive and the most negative columns of every component.

    Parameters
    ----------
    H : array_like, shape (k, n_cols)
    terms : array_like, shape (n_cols,)
    n_words : int
        Columns kept per side.

    Returns
    -------
    SignedTopicSummary
    """
    H = np.asarray(H, dtype=np.float64)
    terms = np.asarray(terms)
    n = max(0, min(int(n_words), H.shape[1]))
    sides = {}
    for sign, values in (("+", H), ("-", -H)):
        order = np.argsort(-values, axis=1, kind="stable")[:, :n]
        picked = np.take_along_axis(H, order, axis=1)
        strong = np.take_along_axis(values, order, axis=1) > 0
        sides[sign] = (
            tuple(tuple(str(t) for t in terms[row[keep]]) for row, keep in zip(order, strong)),
            tuple(_readonly(w[keep]) for w, keep in zip(picked, strong)),
        )
    return SignedTopicSummary(positive_words=sides["+"][0], negative_words=sides["-"][0],
                              positive_weights=sides["+"][1], negative_weights=sides["-"][1])


@dataclass(frozen=True, eq=False)
class TopicDocuments:
    """The documents most about one topic, strongest first.

    Attributes
    ----------
    topic : int
    rows : ndarray of int
        Internal row indices, heaviest weight first (only positive weights).
    weights : ndarray
        ``W[rows, topic]``.
    shares : ndarray
        Each weight over the sum of that document's absolute weights.
    n_using : int
        How many documents have a positive weight for the topic.
    """

    topic: int
    rows: np.ndarray
    weights: np.ndarray
    shares: np.ndarray
    n_using: int


def topic_documents(W, topic: int, limit: int = 100) -> TopicDocuments:
    """The ``limit`` documents with the largest weight for ``topic``.

    Parameters
    ----------
    W : array_like, shape (n_rows, k)
    topic : int
        0-based component.
    limit : int
        Most documents returned.

    Returns
    -------
    TopicDocuments
    """
    W = np.asarray(W)
    weights = W[:, topic].astype(np.float64)
    order = np.argsort(-weights, kind="stable")
    order = order[weights[order] > 0][: max(int(limit), 0)]
    totals = np.abs(W[order]).sum(axis=1).astype(np.float64)
    shares = np.divide(weights[order], totals, out=np.zeros(order.size), where=totals > 0)
    return TopicDocuments(topic=int(topic), rows=_readonly(order), weights=_readonly(weights[order]),
                          shares=_readonly(shares), n_using=int((weights > 0).sum()))


@dataclass(frozen=True, eq=False)
class TopicAgreement:
    """How well each document's strongest topic agrees with its label.

    Attributes
    ----------
    nmi : float
        Normalized mutual information (scikit-learn's
        ``normalized_mutual_info_score``, arithmetic mean) between strongest
        topic and label: 1 when topics and labels partition the documents
        alike, near 0 when unrelated.
    purity : float
        Share of documents whose strongest topic's majority label is their label.
    labels : tuple of str
        Label names, the columns of ``contingency`` (sorted).
    contingency : ndarray of int, shape (k, n_labels)
        Documents per (strongest topic, label).
    majority_labels : tuple of str
        Per topic, its most frequent label ("" for a topic that leads no document).
    n_documents : int
        Documents scored (those with any weight).
    n_unassigned : int
        Documents left out because all their weights are zero (no strongest topic).
    """

    nmi: float
    purity: float
    labels: tuple
    contingency: np.ndarray
    majority_labels: tuple
    n_documents: int
    n_unassigned: int

    def majority_share(self, topic: int) -> float:
        """Share of the documents led by ``topic`` that carry its majority label."""
        row = self.contingency[topic]
        total = int(row.sum())
        return float(row.max()) / total if total else 0.0


def topic_label_agreement(doc_topic_weights, labels) -> TopicAgreement:
    """Agreement between each document's strongest topic and its label (NMI, purity).

    Parameters
    ----------
    doc_topic_weights : array_like, shape (n_docs, k)
        W of a topic model (any real weights; the strongest is the argmax).
    labels : array_like of str, shape (n_docs,)
        One label per document (``Dataset.row_labels``).

    Returns
    -------
    TopicAgreement

    Notes
    -----
    Documents whose weights are all zero have no strongest topic; they are
    left out of both scores and counted in ``n_unassigned``.
    """
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.metrics.cluster import contingency_matrix

    W = np.asarray(doc_topic_weights)
    labels = np.asarray(labels).astype(str)
    if W.ndim != 2 or labels.shape != (W.shape[0],):
        raise ValueError("need one label per document (row of the weights)")
    k = W.shape[1]
    assigned = np.abs(W).sum(axis=1) > 0
    topic = np.argmax(W[assigned], axis=1)
    kept = labels[assigned]
    names, label_code = np.unique(kept, return_inverse=True)
    counts = np.zeros((k, names.size), dtype=np.int64)
    if topic.size:
        # contingency_matrix drops topics that lead nothing; place its rows back at their topic.
        present = unique_sorted(topic)
        counts[present] = contingency_matrix(topic, label_code)
        nmi = float(normalized_mutual_info_score(kept, topic))
        purity = float(counts.max(axis=1).sum()) / topic.size
    else:
        nmi = purity = 0.0
    majority = tuple(str(names[np.argmax(row)]) if row.sum() else "" for row in counts)
    return TopicAgreement(nmi=nmi, purity=purity, labels=tuple(str(n) for n in names),
                          contingency=_readonly(counts), majority_labels=majority,
                          n_documents=int(topic.size), n_unassigned=int((~assigned).sum()))


# ================================================================ images
def strongest_parts(weights, H, n: int = 4) -> list[tuple[int, float]]:
    """The parts that contribute most to one image: (part, weight), largest contribution first.

    A part's contribution is ``|w_k| * ||H[k]||`` (the size of what it adds
    to the image); parts adding less than 5% of the largest contribution are
    left out.

    Parameters
    ----------
    weights : array_like, shape (k,)
        The image's row of W.
    H : array_like, shape (k, n_pixels)
    n : int
        Most parts returned.

    Returns
    -------
    list of (int, float)
    """
    weights = np.asarray(weights, dtype=np.float64)
    contribution = np.abs(weights) * np.linalg.norm(np.asarray(H, dtype=np.float64), axis=1)
    order = np.argsort(-contribution, kind="stable")[:n]
    floor = 0.05 * float(contribution.max()) if contribution.size else 0.0
    return [(int(t), float(weights[t])) for t in order if contribution[t] > max(floor, 0.0)]


@dataclass(frozen=True, eq=False)
class ImageBreakdown:
    """One image, its reconstruction ``W[i] @ H`` and the parts that build it.

    Attributes
    ----------
    index : int
    original, reconstruction : ndarray, shape image_shape
    relative_error : float
        ``||original - reconstruction|| / ||original||`` (0 for a blank image).
    parts : tuple of int
        The strongest parts (see :func:`strongest_parts`), strongest first.
    weights : tuple of float
        Their weights in W.
    strengths : tuple of float
        ``weight * max|H[part]|``: how strongly each appears (1 = the part at full strength).
    level_top : float
        Shared upper colour level of original and reconstruction.
    """

    index: int
    original: np.ndarray
    reconstruction: np.ndarray
    relative_error: float
    parts: tuple
    weights: tuple
    strengths: tuple
    level_top: float


def image_breakdown(pixels, W, H, index: int, image_shape, n_parts: int = 4) -> ImageBreakdown:
    """Take image ``index`` apart: original, reconstruction, error and strongest parts.

    Parameters
    ----------
    pixels : array_like or sparse row, shape (n_pixels,)
        The image's row of the data.
    W : array_like, shape (n_images, k)
    H : array_like, shape (k, n_pixels)
    index : int
    image_shape : tuple of int
        (height, width).
    n_parts : int

    Returns
    -------
    ImageBreakdown
    """
    if hasattr(pixels, "toarray"):
        pixels = pixels.toarray()
    original = np.asarray(pixels, dtype=np.float64).reshape(image_shape)
    H64 = np.asarray(H, dtype=np.float64)
    w = np.asarray(W)[index].astype(np.float64)
    rebuilt = (w @ H64).reshape(image_shape)
    norm = float(np.linalg.norm(original))
    error = float(np.linalg.norm(original - rebuilt)) / norm if norm > 0 else 0.0
    strong = strongest_parts(w, H64, n_parts)
    parts = tuple(t for t, _ in strong)
    return ImageBreakdown(
        index=int(index), original=_readonly(original), reconstruction=_readonly(rebuilt),
        relative_error=error, parts=parts, weights=tuple(v for _, v in strong),
        strengths=tuple(v * float(np.abs(H64[t]).max()) for t, v in strong),
        level_top=max(float(original.max()), 1e-12),
    )


def display_levels(image) -> tuple[float, float, bool]:
    """Colour levels for one image: ``(low, high, signed)``.

    Signed images (SVD parts) get levels symmetric around zero, so white can
    sit at zero between two hues; non-negative ones run from 0 to their maximum.
    """
    image = np.asarray(image)
    lo, hi = (float(image.min()), float(image.max())) if image.size else (0.0, 1.0)
    if lo < -1e-6 * max(abs(hi), 1e-12):
        m = max(-lo, hi, 1e-12)
        return -m, m, True
    return 0.0, (hi if hi > 0 else 1.0), False


# ================================================== reconstruction blocks
@dataclass(frozen=True, eq=False)
class ReconstructionBlock:
    """Data, the model's reconstruction and the residual on a block of rows and columns.

    Attributes
    ----------
    rows, cols : ndarray of int
        Internal ids of the block's rows and columns, in display order.
    original : ndarray, shape (len(rows), len(cols))
        The data; NaN where a cell is unknown (ratings), 0 where absent means zero.
    reconstruction : ndarray
        ``model.predict`` on every cell.
    residual : ndarray
        ``original - reconstruction``; NaN on unknown cells.
    observed : ndarray of bool
        Cells with an entry in the dataset.
    in_test : ndarray of bool
        Observed cells held out for testing.
    missing_is_zero : bool
    ordering : str
        How rows and columns were ordered, in words.
    data_levels : tuple of float
        Colour levels shared by data and reconstruction.
    residual_levels : tuple of float
        Symmetric colour levels of the residual.
    """

    rows: np.ndarray
    cols: np.ndarray
    original: np.ndarray
    reconstruction: np.ndarray
    residual: np.ndarray
    observed: np.ndarray
    in_test: np.ndarray
    missing_is_zero: bool
    ordering: str
    data_levels: tuple
    residual_levels: tuple


def most_active(counts, n: int) -> np.ndarray:
    """The ``n`` indices with the largest counts, ties broken by index, in index order."""
    return np.sort(np.argsort(-np.asarray(counts), kind="stable")[:n])


def component_order(factors) -> np.ndarray:
    """Order rows of non-negative factors by dominant component, then by its weight (descending)."""
    factors = np.asarray(factors)
    dominant = np.argmax(factors, axis=1)
    strength = factors[np.arange(len(factors)), dominant]
    return np.lexsort((-strength, dominant))


def leading_orders(block) -> tuple[np.ndarray, np.ndarray]:
    """Row and column orders that put the block's leading pattern on the diagonal.

    The first left/right singular vectors of the double-centred block are a
    1-D embedding of its rows and columns (spectral seriation); sorting by
    them groups rows and columns that the model treats alike. A tiny SVD on
    the drawn block only: layout, not modelling.
    """
    block = np.asarray(block, dtype=np.float64)
    centred = block - block.mean(axis=1, keepdims=True)
    centred = centred - centred.mean(axis=0, keepdims=True)
    if not np.isfinite(centred).all() or not np.abs(centred).max(initial=0) > 0:
        return np.arange(block.shape[0]), np.arange(block.shape[1])
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # a tiny SVD: BLAS threads only slow it (busy machines: 100x)
        u, _, vt = np.linalg.svd(centred, full_matrices=False)
    lead_u, lead_v = u[:, 0], vt[0]
    sign = 1.0 if lead_v.sum() >= 0 else -1.0  # a fixed orientation, so redraws agree
    return np.argsort(-sign * lead_u, kind="stable"), np.argsort(-sign * lead_v, kind="stable")


def reconstruction_block(dataset, model, max_rows: int = 60, max_cols: int = 80,
                         test_index=None) -> ReconstructionBlock:
    """Data / reconstruction / residual on the most active rows and columns, ordered to show structure.

    Parameters
    ----------
    dataset : mfstudio.data.Dataset
    model : fitted factor model
        Needs ``predict(rows, cols)``, ``user_factors_`` and ``item_factors_``.
    max_rows, max_cols : int
        Block size (clipped to the data).
    test_index : array_like of int, optional
        Entries of ``dataset`` held out for testing (marked in ``in_test``).

    Returns
    -------
    ReconstructionBlock

    Notes
    -----
    For explicit ratings a missing cell is unknown, not zero: it is NaN in
    ``original`` and ``residual``. For every other kind an absent entry is a
    zero and every cell counts; implicit values are shown as 0/1. Rows and
    columns are grouped by dominant component when the factors are
    non-negative (NMF), else ordered by the prediction's leading pattern
    (:func:`leading_orders`).
    """
    missing_is_zero = dataset.kind != "explicit"
    binary = dataset.kind == "implicit"
    rows = most_active(dataset.row_counts(), min(int(max_rows), dataset.n_rows))
    cols = most_active(dataset.col_counts(), min(int(max_cols), dataset.n_cols))

    # The block's entries from the dataset's triples (no dense copy of the whole matrix).
    row_pos = np.full(dataset.n_rows, -1, dtype=np.int64)
    row_pos[rows] = np.arange(rows.size)
    col_pos = np.full(dataset.n_cols, -1, dtype=np.int64)
    col_pos[cols] = np.arange(cols.size)
    r_at, c_at = row_pos[dataset.rows], col_pos[dataset.cols]
    entries = np.flatnonzero((r_at >= 0) & (c_at >= 0))
    r_at, c_at = r_at[entries], c_at[entries]
    observed = np.zeros((rows.size, cols.size), dtype=bool)
    observed[r_at, c_at] = True
    values = dataset.values[entries].astype(np.float64)
    if binary:
        values = (values > 0).astype(np.float64)
    original = np.full((rows.size, cols.size), 0.0 if missing_is_zero else np.nan)
    original[r_at, c_at] = values
    in_test = np.zeros((rows.size, cols.size), dtype=bool)
    if test_index is not None and len(test_index):
        held_out = np.zeros(dataset.nnz, dtype=bool)
        held_out[np.asarray(test_index, dtype=np.int64)] = True
        in_test[r_at, c_at] = held_out[entries]

    grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
    predicted = np.asarray(model.predict(grid_r.ravel(), grid_c.ravel()), dtype=np.float64).reshape(grid_r.shape)
    residual = original - predicted
    if not missing_is_zero:
        residual[~observed] = np.nan

    user_f = np.asarray(model.user_factors_)[rows]
    item_f = np.asarray(model.item_factors_)[cols]
    if user_f.shape[1] >= 2 and user_f.min() >= 0 and item_f.min() >= 0:
        row_order, col_order = component_order(user_f), component_order(item_f)
        ordering = "grouped by their dominant component"
    else:
        row_order, col_order = leading_orders(predicted)
        ordering = "ordered by the model's leading pattern"
    ix = np.ix_(row_order, col_order)
    original, predicted, residual = original[ix], predicted[ix], residual[ix]

    # Data and reconstruction share one scale (the rating scale when there is one);
    # the residual's is symmetric, at its 99th percentile so one outlier does not wash it out.
    if dataset.rating_scale is not None and not binary:
        lo, hi = (float(v) for v in dataset.rating_scale)
    else:
        both = np.concatenate([original[np.isfinite(original)], predicted.ravel()])
        lo, hi = (float(np.percentile(both, 1)), float(np.percentile(both, 99))) if both.size else (0.0, 1.0)
        if binary:
            lo, hi = min(lo, 0.0), max(hi, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    finite_res = np.abs(residual[np.isfinite(residual)])
    span = float(np.percentile(finite_res, 99)) if finite_res.size else 1.0
    span = span if span > 0 else 1.0
    return ReconstructionBlock(
        rows=_readonly(rows[row_order]), cols=_readonly(cols[col_order]),
        original=_readonly(original), reconstruction=_readonly(predicted), residual=_readonly(residual),
        observed=_readonly(observed[ix]), in_test=_readonly(in_test[ix]),
        missing_is_zero=missing_is_zero, ordering=ordering,
        data_levels=(lo, hi), residual_levels=(-span, span),
    )


# ========================================================== factor maps
def principal_components(factors) -> tuple[np.ndarray, np.ndarray]:
    """First two principal-component coordinates of the rows, and each one's share of the spread.

    An eigen-decomposition of the k x k covariance: cheap for 100k rows.
    Each axis gets a fixed sign (largest loading positive), so redraws do
    not flip the picture.

    Parameters
    ----------
    factors : array_like, shape (n, k), k >= 2

    Returns
    -------
    coords : ndarray, shape (n, 2)
    shares : ndarray, shape (2,)
        Variance along each axis over the total variance.
    """
    x = np.asarray(factors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / max(len(x) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(vectors.shape[1])])
    vectors = vectors * np.where(signs == 0, 1, signs)
    total = values.sum()
    shares = values / total if total > 0 else np.zeros_like(values)
    return centred @ vectors[:, :2], shares[:2]


def limit_categories(names, codes, max_categories: int = MAX_CATEGORIES, by_count: bool = True):
    """Keep the ``max_categories`` most frequent categories; the rest become "other".

    Parameters
    ----------
    names : sequence of str
    codes : array_like of int
        Index into ``names`` per point.
    max_categories : int
    by_count : bool
        List categories largest first; when false and they all fit, keep their order.

    Returns
    -------
    names : list of str
    codes : ndarray of int64
    """
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=len(names))
    if not by_count and len(names) <= max_categories + 1:
        return [str(n) for n in names], codes
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    # One spare slot: "other" for a single leftover category would hide its name for nothing.
    keep = order[:max_categories] if len(order) > max_categories + 1 else order
    new_code = np.full(len(names), len(keep), dtype=np.int64)
    new_code[keep] = np.arange(len(keep))
    kept = [str(names[i]) for i in keep]
    if len(keep) < len(order):
        kept.append("other")
    return kept, new_code[codes]


@dataclass(frozen=True, eq=False)
class FactorMap:
    """Points placed by their factor vectors, with a category per point.

    Attributes
    ----------
    side : str
        "items" (columns) or "users" (rows).
    coords : ndarray, shape (n, 2)
    axis_labels : tuple of str
        (x label, y label).
    category_names : tuple of str
        Categories, in legend order; "other" gathers the rest.
    category_codes : ndarray of int
        Index into ``category_names`` per point.
    category_counts : ndarray of int
        Points per category.
    colour_meaning : str
        What the colour stands for, in words.
    point_names : ndarray of str
        Hover name per point (titles for items, raw ids for rows).
    projection : str
        How the positions were made, in words.
    """

    side: str
    coords: np.ndarray
    axis_labels: tuple
    category_names: tuple
    category_codes: np.ndarray
    category_counts: np.ndarray
    colour_meaning: str
    point_names: np.ndarray
    projection: str

    @property
    def n_points(self) -> int:
        return len(self.coords)


def _categories(dataset, model, side: str, factors: np.ndarray, max_categories: int):
    """(names, codes, meaning) of the points' colours."""
    n, k = factors.shape
    labels = getattr(dataset, "row_labels", None)
    if side == "users" and labels is not None:
        name = getattr(dataset, "row_label_name", None) or "label"
        uniques, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
        names, codes = limit_categories(list(uniques), codes.ravel(), max_categories)
        return names, codes, f"the document's {name}"
    if dataset.kind in ("documents", "images") and k >= 2:
        codes = np.argmax(factors, axis=1)
        names = [f"component {c + 1}" for c in range(k)]
        if dataset.kind == "documents":
            # Name each component by its three heaviest terms.
            items = np.asarray(model.item_factors_)
            top = np.argsort(-items, axis=0)[:3]
            terms = dataset.title_of(top.ravel()).reshape(top.shape)
            names = [f"{c + 1}: {', '.join(terms[:, c])}" for c in range(k)]
        # Components keep their own order, so one component has one colour on both sides.
        names, codes = limit_categories(names, codes, max_categories, by_count=False)
        return names, codes, "the component that dominates each vector"
    if side == "items" and dataset.item_genres is not None:
        first = np.char.partition(dataset.item_genres.astype(str), "|")[:, 0]
        first = np.where(first == "", "(no genre)", first)
        uniques, codes = np.unique(first, return_inverse=True)
        names, codes = limit_categories(list(uniques), codes.ravel(), max_categories)
        return names, codes, "first genre"
    noun = (dataset.col_label if side == "items" else dataset.row_label) + "s"
    return [noun], np.zeros(n, dtype=np.int64), "one colour (no categories known)"


NO_GENRE = "(no genre)"
#: ``genre_categories``'s name for the items outside the highlighted genre.
REST_OF_ITEMS = "all other items"


def _genre_lists(item_genres) -> list[list[str]]:
    return [[g for g in str(entry).split("|") if g] for entry in np.asarray(item_genres).astype(str)]


def genre_counts(item_genres) -> dict:
    """How many items carry each genre (an item with three genres counts once for each).

    Parameters
    ----------
    item_genres : array_like of str
        One "A|B|C" string per item (``Dataset.item_genres``).

    Returns
    -------
    dict
        ``{genre: number of items}``, most common first (ties alphabetical).
    """
    counts: dict = {}
    for genres in _genre_lists(item_genres):
        for genre in set(genres):
            counts[genre] = counts.get(genre, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def genre_names(item_genres) -> list[str]:
    """The genres that occur, alphabetically (the "highlight one genre" choices)."""
    return sorted(genre_counts(item_genres))


def genre_categories(item_genres, highlight: str | None = None, max_categories: int = MAX_CATEGORIES):
    """Colour categories for items with genres: each item's rarest genre, or one genre against the rest.

    Colouring by the alphabetically first genre paints nearly everything
    "Action", "Adventure", "Comedy" or "Drama" and never shows "Sci-Fi"; the
    rarest genre an item carries is the most telling one (*Alien*, Action |
    Horror | Sci-Fi | Thriller, is coloured Horror rather than Action).

    Parameters
    ----------
    item_genres : array_like of str
        One "A|B|C" string per item.
    highlight : str, optional
        Colour only this genre's items; everything else is :data:`REST_OF_ITEMS`.
    max_categories : int
        As for :func:`limit_categories` (rarest-genre colouring only).

    Returns
    -------
    names : list of str
        In legend order; with ``highlight``, ``[highlight, REST_OF_ITEMS]``.
    codes : ndarray of int64
        Index into ``names`` per item.
    meaning : str
        What the colour stands for, in words.
    """
    lists = _genre_lists(item_genres)
    if highlight is not None:
        inside = np.fromiter((highlight in genres for genres in lists), dtype=bool, count=len(lists))
        return [str(highlight), REST_OF_ITEMS], np.where(inside, 0, 1).astype(np.int64), \
            f"{highlight} against all other items"
    counts = genre_counts(item_genres)
    # Ties between equally rare genres go alphabetically, so the colouring is the same on every run.
    rarest = [min(genres, key=lambda g: (counts[g], g)) if genres else NO_GENRE for genres in lists]
    uniques, codes = np.unique(np.asarray(rarest, dtype=str), return_inverse=True)
    names, codes = limit_categories(list(uniques), codes.ravel(), max_categories)
    return names, codes, "each item's rarest genre"


def with_categories(fmap: "FactorMap", names, codes, meaning: str) -> "FactorMap":
    """The same map with other colour categories (e.g. from :func:`genre_categories`)."""
    import dataclasses

    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape != (fmap.n_points,):
        raise ValueError(f"need one category per point ({fmap.n_points}), got {codes.shape}")
    return dataclasses.replace(
        fmap, category_names=tuple(str(n) for n in names), category_codes=_readonly(codes),
        category_counts=_readonly(np.bincount(codes, minlength=len(names))), colour_meaning=meaning)


def factor_map(dataset, model, side: str = "items", mode: str = "pca", x: int = 0, y: int = 1,
               max_categories: int = MAX_CATEGORIES) -> FactorMap:
    """A 2-D map of a model's item or user vectors, coloured by category.

    Parameters
    ----------
    dataset : mfstudio.data.Dataset
    model : fitted factor model with ``user_factors_`` and ``item_factors_``
    side : {"items", "users"}
        Columns (items, terms, pixels) or rows (users, documents, images).
    mode : {"pca", "factors"}
        The first two principal components of the vectors, or two factors as they are.
    x, y : int
        0-based factors for ``mode="factors"``.
    max_categories : int

    Returns
    -------
    FactorMap

    Notes
    -----
    An SVD keeps its scale on one side (``U * s``, ``V``): items get their
    singular values back so strong patterns count more than weak ones.
    Non-negative factors (NMF) carry an arbitrary scale per component; for
    PCA each component is scaled to a maximum of 1 so none dominates.
    Colours: a document's label when the data has labels (``row_labels``);
    else, for documents and images, the dominant component; else an item's
    first genre; else one colour.
    """
    if side not in ("items", "users"):
        raise ValueError('side must be "items" or "users"')
    raw = np.asarray(model.item_factors_ if side == "items" else model.user_factors_)
    n, k = raw.shape
    factors = raw
    notes = []
    sv = getattr(model, "singular_values_", None)
    if side == "items" and sv is not None and np.size(sv) == k:
        factors = raw * np.asarray(sv, dtype=raw.dtype)
        notes.append("factors weighted by their singular values")
    if mode == "pca" and k >= 2:
        projected = factors
        if factors.min() >= 0:
            top = factors.max(axis=0)
            projected = factors / np.where(top > 0, top, 1)
            notes.insert(0, "each component scaled to a maximum of 1")
        coords, shares = principal_components(projected)
        labels = tuple(f"PC {d + 1} ({100 * shares[d]:.0f}% of the spread)" for d in range(2))
        how = "the two directions along which the vectors vary most"
    else:
        fx = min(int(x), k - 1)
        fy = int(y)
        xs = factors[:, fx]
        ys = factors[:, fy] if k >= 2 and fy < k else np.zeros(n)
        coords = np.column_stack([xs, ys]).astype(np.float64)
        labels = (f"factor {fx + 1}", f"factor {fy + 1}" if k >= 2 else "(the model has one factor)")
        how = "two of the model's factors"
    names, codes, meaning = _categories(dataset, model, side, raw, max_categories)
    if side == "items":
        point_names = dataset.title_of(np.arange(n)).astype(str)
    else:
        point_names = np.asarray(dataset.row_ids).astype(str)
    return FactorMap(
        side=side, coords=_readonly(coords), axis_labels=labels,
        category_names=tuple(names), category_codes=_readonly(codes, np.int64),
        category_counts=_readonly(np.bincount(codes, minlength=len(names))),
        colour_meaning=meaning, point_names=_readonly(point_names),
        projection=", ".join([how, *notes]),
    )


# ============================================================== spectra
@dataclass(frozen=True, eq=False)
class RankSummary:
    """What keeping ``rank`` components gives (None where the model does not say)."""

    rank: int
    singular_value: float | None
    cumulative_explained: float | None
    cumulative_frobenius_share: float | None
    error: float | None


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Singular values and what each rank explains.

    Attributes
    ----------
    singular_values : ndarray, shape (k,)
    explained : ndarray or None
        Per-component ``explained_variance_ratio_`` (:data:`EXPLAINED_VARIANCE_LABEL`).
    cumulative : ndarray or None
        Its running sum.
    frobenius_share : ndarray or None
        Per-component ``frobenius_share_`` (:data:`FROBENIUS_SHARE_LABEL`), when the model has it.
    cumulative_frobenius : ndarray or None
    errors : ndarray or None
        Relative reconstruction error at each rank (``reconstruction_errors_``).
    """

    singular_values: np.ndarray
    explained: np.ndarray | None
    cumulative: np.ndarray | None
    frobenius_share: np.ndarray | None
    cumulative_frobenius: np.ndarray | None
    errors: np.ndarray | None

    explained_label = EXPLAINED_VARIANCE_LABEL
    frobenius_label = FROBENIUS_SHARE_LABEL

    @property
    def k(self) -> int:
        return int(self.singular_values.size)

    def at_rank(self, rank: int) -> RankSummary:
        """The quantities at ``rank`` (1-based); None where unknown."""
        i = int(rank) - 1

        def pick(arr):
            return float(arr[i]) if arr is not None and 0 <= i < arr.size else None

        return RankSummary(rank=int(rank), singular_value=pick(self.singular_values),
                           cumulative_explained=pick(self.cumulative),
                           cumulative_frobenius_share=pick(self.cumulative_frobenius), error=pick(self.errors))


def _vector(value):
    if value is None:
        return None
    value = np.asarray(value, dtype=np.float64).ravel()
    return value if value.size else None


def _spectrum(values, explained, frobenius, errors) -> Spectrum:
    values = _vector(values)
    k = values.size
    explained, frobenius, errors = (None if a is None else a[:k] for a in (_vector(explained), _vector(frobenius),
                                                                           _vector(errors)))
    return Spectrum(
        singular_values=_readonly(values),
        explained=None if explained is None else _readonly(explained),
        cumulative=None if explained is None else _readonly(np.cumsum(explained)),
        frobenius_share=None if frobenius is None else _readonly(frobenius),
        cumulative_frobenius=None if frobenius is None else _readonly(np.cumsum(frobenius)),
        errors=None if errors is None else _readonly(errors),
    )


def spectrum_of(model) -> Spectrum | None:
    """The spectrum of a fitted SVD, read from its fitted attributes; None without ``singular_values_``.

    Reads ``singular_values_``, ``explained_variance_ratio_`` (scikit-learn's
    definition), ``frobenius_share_`` (s_i² over the squared Frobenius norm,
    when the model has it) and ``reconstruction_errors_``.
    """
    values = _vector(getattr(model, "singular_values_", None))
    if values is None:
        return None
    return _spectrum(values, getattr(model, "explained_variance_ratio_", None),
                     getattr(model, "frobenius_share_", None), getattr(model, "reconstruction_errors_", None))


def spectrum_from_step(extra: dict | None, rank: int | None = None) -> Spectrum | None:
    """The spectrum estimated so far by a fit in progress (a step's ``extra``); None without one.

    Parameters
    ----------
    extra : dict
        May hold ``singular_values``, ``explained_variance_ratio``,
        ``frobenius_share`` and ``reconstruction_errors``.
    rank : int, optional
        Keep only the first ``rank`` values (a randomized SVD may track a few
        more directions than it returns).
    """
    extra = extra or {}
    values = _vector(extra.get("singular_values"))
    if values is None:
        return None
    if rank:
        values = values[: int(rank)]
        if not values.size:
            return None
    return _spectrum(values, extra.get("explained_variance_ratio"), extra.get("frobenius_share"),
                     extra.get("reconstruction_errors"))


@dataclass(frozen=True, eq=False)
class LogBars:
    """Bars of positive values on a log10 axis: each runs from ``base`` to ``log10(value)``."""

    base: float
    heights: np.ndarray
    top: float


def log_bars(values) -> LogBars:
    """Bar geometry for drawing ``values`` on a log scale.

    Zeros (and values below a tenth of the smallest positive one) are drawn at
    that tenth, so they show as short bars rather than as minus infinity.
    """
    values = np.asarray(values, dtype=np.float64)
    positive = values[values > 0]
    floor = positive.min() if positive.size else 1.0
    shown = np.log10(np.maximum(values, floor / 10))
    base = float(np.floor(shown.min()) - 0.1)
    return LogBars(base=base, heights=_readonly(shown - base), top=float(shown.max()))


# ------------------------------------------------------------------ training curves
@dataclass(frozen=True, eq=False)
class TrainingCurves:
    """One run's curves as the Training view draws them.

    ``objective`` is the objective divided by its first usable value, so models
    whose objectives differ by orders of magnitude share one axis; ``train`` and
    ``test`` are the chosen metric per epoch (``train_<metric>`` and
    ``<metric>``), empty when the run never reported them. With early stopping,
    ``validation`` is the metric on the validation part carved from the
    training data (``val_<metric>``, what the fit stopped on), ``best_epoch``
    the epoch whose model was kept and ``stopped_epoch`` the epoch it stopped
    at (None when every planned epoch ran). The bounds are the finite extremes
    of what is drawn (None when nothing is).
    """

    epochs: np.ndarray
    objective: np.ndarray
    objective_bounds: tuple[float, float] | None
    train: np.ndarray
    test: np.ndarray
    error_bounds: tuple[float, float] | None
    validation: np.ndarray = field(default_factory=lambda: np.empty(0))
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def value_at(self, epoch: int) -> float | None:
        """The validation value (else the test value) at ``epoch``, for a marker; None if not measured."""
        for curve in (self.validation, self.test):
            if curve.size:
                hits = np.flatnonzero(self.epochs == epoch)
                if hits.size and np.isfinite(curve[hits[0]]):
                    return float(curve[hits[0]])
        return None


def finite_bounds(*arrays) -> tuple[float, float] | None:
    """Smallest and largest finite value over the arrays, or None when there is none."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays]) if arrays else np.empty(0)
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else None


def training_curves(history, metric: str | None, train_prefix: str = "train_",
                    validation_prefix: str = "val_") -> TrainingCurves:
    """Epochs, the normalised objective and one metric's train/test (and validation) curves of a run's history."""
    history = list(history)  # one snapshot: the worker may append while we read
    epochs = np.array([s.epoch for s in history], dtype=float)
    losses = np.array([s.train_loss for s in history], dtype=float)
    usable = losses[np.isfinite(losses) & (losses != 0)]
    objective = losses / (float(abs(usable[0])) if usable.size else 1.0)
    empty = np.empty(0)
    train = test = empty
    if metric is not None:
        train = np.array([s.metrics.get(train_prefix + metric, np.nan) for s in history], dtype=float)
        test = np.array([s.metrics.get(metric, np.nan) for s in history], dtype=float)
    bounds = finite_bounds(train, test) if metric is not None else None
    # A curve of NaN alone is no curve: it stays empty, so what is drawn is what was measured.
    train = train if np.isfinite(train).any() else empty
    test = test if np.isfinite(test).any() else empty
    validation = empty
    if metric is not None:
        validation = np.array([s.metrics.get(validation_prefix + metric, np.nan) for s in history], dtype=float)
        validation = validation if np.isfinite(validation).any() else empty
        if validation.size:
            bounds = finite_bounds(train, test, validation)
    # Early stopping's record rides on each step (mfstudio.experiment.EarlyStopper); the last one says it all.
    # Under k-fold the history is the first fold's, and so are these epochs.
    record = next((s.extra.get("early_stopping") for s in reversed(history)
                   if isinstance(getattr(s, "extra", None), dict) and s.extra.get("early_stopping")), None)
    best = stopped = None
    if record:
        best = record.get("best_epoch")
        stopped = history[-1].epoch if record.get("stopped") else None
    return TrainingCurves(epochs, objective, finite_bounds(objective), train, test, bounds, validation, best, stopped)


# ------------------------------------------------------------------ sweeps
@dataclass
class SweepLine:
    """A one-parameter sweep as the Sweep tab draws it: validation (and train) error against the value.

    ``x`` is sorted; ``mean``/``std`` are the validation metric over the folds,
    ``train_mean``/``train_std`` the same metric on the training folds (NaN
    where a model has none), so over- and underfitting show as the two
    curves part. ``best`` is the index of the best point in ``x`` (None if
    no point finished). ``log_x`` says the values span a decade or more and
    are positive, so a log axis reads better.
    """

    name: str
    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    train_mean: np.ndarray
    train_std: np.ndarray
    best: int | None
    log_x: bool


@dataclass
class SweepGrid:
    """A two-parameter grid sweep as a heatmap: ``mean[i, j]`` at ``x_values[i]``, ``y_values[j]`` (NaN: not yet)."""

    x_name: str
    y_name: str
    x_values: list
    y_values: list
    mean: np.ndarray
    std: np.ndarray
    best: tuple[int, int] | None


_SCORED = ("done", "pruned")


def _scored_points(points) -> list:
    return [p for p in points if p.status in _SCORED and p.mean is not None and np.isfinite(p.mean)]


def _best_index(means: np.ndarray, lower_is_better: bool) -> int | None:
    finite = np.isfinite(means)
    if not finite.any():
        return None
    masked = np.where(finite, means, np.inf if lower_is_better else -np.inf)
    return int(np.argmin(masked) if lower_is_better else np.argmax(masked))


def sweep_line(points, name: str, lower_is_better: bool) -> SweepLine:
    """Arrange a sweep's finished points (:class:`mfstudio.sweep.SweepPoint`) along parameter ``name``.

    Points pruned by successive halving are left out (their score is from
    fewer epochs, not comparable), as are failed ones. With other swept
    parameters present, the best score per value of ``name`` is kept.
    """
    by_value: dict = {}
    for point in _scored_points(points):
        if point.status != "done" or name not in point.params:
            continue
        value = float(point.params[name])
        kept = by_value.get(value)
        if kept is None or (point.mean < kept.mean if lower_is_better else point.mean > kept.mean):
            by_value[value] = point
    xs = np.array(sorted(by_value), dtype=float)
    chosen = [by_value[x] for x in xs]

    def column(attr):
        return np.array([np.nan if getattr(p, attr) is None else float(getattr(p, attr)) for p in chosen], dtype=float)

    mean = column("mean")
    log_x = bool(xs.size >= 2 and xs.min() > 0 and xs.max() / xs.min() >= 10)
    return SweepLine(name, xs, mean, column("std"), column("train_mean"), column("train_std"),
                     _best_index(mean, lower_is_better), log_x)


def sweep_grid(points, x_name: str, y_name: str, x_values, y_values, lower_is_better: bool) -> SweepGrid:
    """Arrange a two-parameter grid sweep's finished points as a matrix over the grid's values."""
    x_values, y_values = list(x_values), list(y_values)
    mean = np.full((len(x_values), len(y_values)), np.nan)
    std = np.full_like(mean, np.nan)
    for point in _scored_points(points):
        if point.status != "done":
            continue
        try:
            i = x_values.index(point.params[x_name])
            j = y_values.index(point.params[y_name])
        except (KeyError, ValueError):
            continue
        mean[i, j], std[i, j] = point.mean, point.std
    flat = _best_index(mean.ravel(), lower_is_better)
    best = None if flat is None else tuple(int(v) for v in np.unravel_index(flat, mean.shape))
    return SweepGrid(x_name, y_name, x_values, y_values, mean, std, best)


@dataclass
class SweepScatter:
    """A random sweep over two parameters as dots: positions (log10 where the axis is log) and colour shares.

    ``goodness`` runs from 0 (worst point) to 1 (best), whichever way the metric
    points, so one colour map reads "brighter is better"; ``best`` indexes the best dot.
    """

    x: np.ndarray
    y: np.ndarray
    goodness: np.ndarray
    best: int | None


def sweep_scatter(points, x_name: str, y_name: str, lower_is_better: bool, log_x: bool = False,
                  log_y: bool = False) -> SweepScatter:
    """Arrange a random two-parameter sweep's finished points for a scatter plot."""
    scored = [p for p in _scored_points(points) if p.status == "done"]
    means = np.array([p.mean for p in scored], dtype=float)
    xs = np.array([float(p.params[x_name]) for p in scored], dtype=float)
    ys = np.array([float(p.params[y_name]) for p in scored], dtype=float)
    if not scored:
        return SweepScatter(xs, ys, means, None)
    low, high = means.min(), means.max()
    goodness = (means - low) / (high - low) if high > low else np.ones_like(means)
    if lower_is_better:
        goodness = 1 - goodness
    return SweepScatter(np.log10(xs) if log_x else xs, np.log10(ys) if log_y else ys, goodness,
                        _best_index(means, lower_is_better))


def log_ticks(low: float, high: float, max_labels: int = 7) -> tuple[list, list]:
    """Readable ticks for an axis drawn in log10 units (the positions of a log-scale scatter).

    pyqtgraph's own log axis labels every 2..9 multiple of each decade, and
    on a narrow plot they run into each other ("3·10¹4·10¹5·10¹"). These are
    decade ticks with plain labels (0.001, 0.01, 0.1, 1, 10), with unlabelled
    minor ticks at the multiples 2..9 between them; a range that holds only two
    decades also labels the 3 multiples, one that holds fewer the 2 and 5
    multiples (all of them under 0.6 decades), so at least two values can be
    read; a range of many decades labels every second (third...) one.

    Parameters
    ----------
    low, high : float
        The visible range in log10 units (e.g. -4.2 and -0.7 for 6e-5 .. 0.2).
    max_labels : int
        Most labelled decades.

    Returns
    -------
    major : list of (position, label)
    minor : list of (position, "")
        Positions are log10 of the values, as pyqtgraph's ``AxisItem.setTicks`` takes them.
    """
    if not (np.isfinite(low) and np.isfinite(high)) or high < low:
        return [], []
    first, last = int(np.floor(low)), int(np.ceil(high))
    decades = list(range(first, last + 1))
    inside = [d for d in decades if low - 1e-9 <= d <= high + 1e-9]
    labelled = (set(range(1, 10)) if high - low < 0.6 else {1, 2, 5} if len(inside) < 2
                else {1, 3} if len(inside) == 2 else {1})
    step = max(1, int(np.ceil(len(inside) / max(max_labels, 1))))
    major, minor = [], []
    for d in decades:
        for m in range(1, 10):
            position = d + float(np.log10(m))
            if position < low - 1e-9 or position > high + 1e-9:
                continue
            if m in labelled and (m != 1 or (d - first) % step == 0):
                major.append((position, f"{m * 10.0 ** d:g}"))
            elif len(inside) <= 6 or m == 1:
                minor.append((position, ""))
    return major, minor


@dataclass
class TasteOverTime:
    """A user's predicted taste across the training span of a time-aware model (the Recommendations view).

    Attributes
    ----------
    times : ndarray of float64
        Evenly spaced moments over the training span, in seconds since the epoch.
    items : ndarray of int
        Internal ids of the items followed.
    predictions : ndarray of float64, shape (len(items), len(times))
        The model's predicted rating of each item by the user at each moment.
    level : ndarray of float64
        The user's own rating level at each moment: mean + their bias + its drift (no item).
    rated_times, rated_values : ndarray
        When the user rated in training, and what (the dots under the curves).
    scale : (float, float)
        The rating scale the curves live on (the data's, else the predictions' range): the plot's y range.
    """

    times: np.ndarray
    items: np.ndarray
    predictions: np.ndarray
    level: np.ndarray
    rated_times: np.ndarray
    rated_values: np.ndarray
    scale: tuple = (1.0, 5.0)


def taste_over_time(model, user: int, items, n_points: int = 60) -> TasteOverTime | None:
    """How a time-aware model's predictions for one user moved over the training span.

    Parameters
    ----------
    model : fitted model
        One that predicts at given times (``predict_at``, ``user_level_at``: timeSVD++); None is
        returned for any other, whose predictions do not depend on time.
    user : int
        Internal user id.
    items : array of int
        Internal item ids to follow (e.g. the user's top recommendations).
    n_points : int
        Moments over the span from the first to the last training day.

    Returns
    -------
    TasteOverTime or None
    """
    if not all(hasattr(model, name) for name in ("predict_at", "user_level_at", "time_span")):
        return None
    train = model.train_
    items = np.asarray(items, dtype=np.int64)
    first, last = model.time_span()
    times = np.linspace(float(first), float(last), max(int(n_points), 2))
    stamps = times.astype(np.int64)
    predictions = np.array([model.predict_at(np.full(times.size, user), np.full(times.size, item), stamps)
                            for item in items]).reshape(items.size, times.size)
    level = model.user_level_at(user, stamps)
    mine = train.rows == user
    rated_times = (train.timestamps[mine].astype(np.float64) if train.timestamps is not None
                   else np.zeros(0))
    scale = train.rating_scale or ((float(np.nanmin(predictions)), float(np.nanmax(predictions))) if predictions.size
                                   else (float(level.min()), float(level.max())))
    return TasteOverTime(times, items, predictions, level, rated_times, train.values[mine].astype(np.float64),
                         (float(scale[0]), float(scale[1])))
