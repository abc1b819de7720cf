"""Text corpora -> document-term datasets, tokenised by scikit-learn.

scikit-learn's vectorizers already do tokenising, stop words, document
frequency cuts and TF-IDF weighting well; this module only chooses sensible
defaults for the corpus size and turns their output into a :class:`Dataset`.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset
from .errors import DataError

__all__ = ["vectorize_texts", "WEIGHTINGS"]

WEIGHTINGS = ("tfidf", "count")


def vectorize_texts(
    texts,
    doc_ids=None,
    *,
    weighting: str = "tfidf",
    stop_words: str | None = "english",
    min_df: int | float | None = None,
    max_df: float = 0.95,
    max_features: int | None = 20_000,
    name: str = "",
    source=None,
    row_labels=None,
    row_label_name: str | None = None,
    kind_reason: str | None = None,
) -> Dataset:
    """Turn documents into a document-term :class:`Dataset`.

    Parameters
    ----------
    texts : sequence of str
        One string per document.
    doc_ids : sequence, optional
        Raw id of each document (file names, a CSV id column); defaults to
        ``doc0001``, ``doc0002``...
    weighting : {"tfidf", "count"}
        TF-IDF (l2-normalised rows, the usual input for NMF topic models) or
        raw term counts (for KL-divergence NMF).
    stop_words : "english" or None
        scikit-learn's English stop word list, or keep every word.
    min_df : int or float, optional
        Drop terms in fewer documents than this (a count, or a fraction).
        Default: 2 for corpora of 20 documents or more, else 1, so that tiny
        corpora keep their words.
    max_df : float
        Drop terms in more than this fraction of documents (near stop words).
    max_features : int, optional
        Keep only the most frequent terms.
    name, source : str
        Display name and origin, stored on the dataset.
    row_labels : sequence of str, optional
        A category per document (a CSV's label column), kept as
        ``Dataset.row_labels``.
    row_label_name : str, optional
        The name of that category (the column's header).
    kind_reason : str, optional
        Why these are documents, for ``Dataset.kind_reason``; by default
        "N texts: read as documents (TF-IDF)".

    Returns
    -------
    Dataset
        Kind ``"documents"``: rows are documents, columns are terms
        (``col_ids`` is the vocabulary), ``texts`` holds the documents.

    Raises
    ------
    DataError
        No documents, or no terms left after the stop-word and frequency cuts.
    """
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    texts = [t if isinstance(t, str) else "" for t in texts]
    if doc_ids is None:
        width = max(4, len(str(len(texts))))
        doc_ids = [f"doc{i + 1:0{width}d}" for i in range(len(texts))]
    doc_ids = list(doc_ids)
    if len(doc_ids) != len(texts):
        raise ValueError("doc_ids must have one entry per text")
    if row_labels is not None and len(row_labels) != len(texts):
        raise ValueError("row_labels must have one entry per text")
    if not texts:
        raise DataError("there are no documents", source, fix="add text files or rows with text")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}")
    if min_df is None:
        min_df = 2 if len(texts) >= 20 else 1
    # max_df as a fraction only makes sense once there are enough documents.
    max_df_used = max_df if len(texts) >= 20 else 1.0
    cls = TfidfVectorizer if weighting == "tfidf" else CountVectorizer
    vectorizer = cls(
        stop_words=stop_words,
        min_df=min_df,
        max_df=max_df_used,
        max_features=max_features,
        dtype=np.float32,
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError as exc:
        # scikit-learn says "empty vocabulary" or "After pruning, no terms remain".
        raise DataError(
            f"no words are left to analyse ({exc})",
            source,
            fix="use documents with more text, or lower min_df / switch off stop words",
        ) from None
    coo = matrix.tocoo()
    vocabulary = vectorizer.get_feature_names_out().astype(str)
    notes = [
        f"{weighting} weighting, {len(vocabulary)} terms"
        + (", English stop words removed" if stop_words else "")
        + f", terms in fewer than {min_df} documents dropped" * (min_df not in (0, 1))
    ]
    empty_docs = int((np.diff(matrix.tocsr().indptr) == 0).sum())
    if empty_docs:
        notes.append(f"{empty_docs} documents have no remaining terms")
    return Dataset(
        kind="documents",
        rows=coo.row,
        cols=coo.col,
        values=coo.data,
        row_ids=np.asarray([str(d) for d in doc_ids]),
        col_ids=vocabulary,
        texts=texts,
        name=name,
        source=None if source is None else str(source),
        notes=notes,
        row_labels=None if row_labels is None else np.asarray([str(v) for v in row_labels]),
        row_label_name=row_label_name if row_labels is not None else None,
        kind_reason=kind_reason or (
            f"{len(texts):,} texts: read as documents ({'TF-IDF' if weighting == 'tfidf' else 'term counts'})"),
        kind_choices=("documents",),
    )
