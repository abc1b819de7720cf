"""The one in-memory form of every dataset mfstudio works on.

Whatever the file held (ratings, clicks, documents, a dense grid, images),
it becomes a :class:`Dataset`: the observed entries as sparse triples
``(row, col, value)`` over contiguous int32 internal ids, plus the maps back
to the raw ids the user knows, plus whatever metadata the source carried
(titles, genres, document texts, vocabulary, image shape, rating scale).

Only observed entries are stored. For ratings that is the point: a missing
rating is unknown, not zero. For dense grids and images every cell is
observed, so every cell is a triple (zeros included) and
:attr:`Dataset.fully_observed` is true.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from typing import TYPE_CHECKING

import numpy as np

from .arrays import unique_sorted
from .features import SideFeatures

if TYPE_CHECKING:
    # pandas is imported where an index is built: a terminal fit on a small file never needs it;
    # scipy.sparse (~0.3 s, most of it numpy.testing and numpy.f2py pulled in by scipy._lib) where a
    # matrix is built, so the window and the CLI start without it
    import pandas as pd
    import scipy.sparse as sp

__all__ = ["Dataset", "DatasetSummary", "KINDS", "default_kind_choices"]

#: The kinds of data, and what their rows and columns are called.
KINDS = {
    "explicit": ("user", "item"),
    "implicit": ("user", "item"),
    "documents": ("document", "term"),
    "dense": ("row", "column"),
    "images": ("image", "pixel"),
}


def _as_id_array(ids) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind in "U":
        return arr
    return np.asarray([str(x) for x in arr.tolist()], dtype=str) if arr.size else np.zeros(0, dtype=str)


@dataclass(frozen=True)
class DatasetSummary:
    """What a user wants to know about a dataset before fitting anything.

    Produced by :meth:`Dataset.summary`; :meth:`as_dict` gives the
    JSON-ready form that ``mfstudio info --json`` prints.
    """

    name: str
    kind: str
    n_rows: int
    n_cols: int
    nnz: int
    density: float
    rating_scale: tuple[float, float] | None
    value_min: float
    value_max: float
    value_mean: float
    value_histogram: tuple[np.ndarray, np.ndarray]  # (counts, bin edges)
    per_row: dict  # min / median / mean / max entries per row
    per_col: dict
    has_titles: bool
    has_timestamps: bool
    notes: tuple[str, ...]
    kind_reason: str = ""
    kind_choices: tuple[str, ...] = ()  # kinds ``load(..., kind=...)`` accepts for this data
    #: One line per kind of side features ("items: 23 features from u.item (genre, year) for ..."), and their dicts.
    side_features: tuple[str, ...] = ()
    side_features_dict: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready dict; row/column counts are also named after the kind."""
        row_name, col_name = KINDS[self.kind]
        counts, edges = self.value_histogram
        out = {
            "name": self.name,
            "kind": self.kind,
            "n_users": self.n_rows,
            "n_items": self.n_cols,
            "n_rows": self.n_rows,
            "n_cols": self.n_cols,
            "nnz": self.nnz,
            "density": self.density,
            "rating_scale": list(self.rating_scale) if self.rating_scale else None,
            "values": {"min": self.value_min, "max": self.value_max, "mean": self.value_mean},
            "value_histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
            f"per_{row_name}": self.per_row,
            f"per_{col_name}": self.per_col,
            "has_titles": self.has_titles,
            "has_timestamps": self.has_timestamps,
            "notes": list(self.notes),
            "kind_reason": self.kind_reason,
            "kind_choices": list(self.kind_choices),
            "item_features": self.side_features_dict.get("item"),
            "user_features": self.side_features_dict.get("user"),
        }
        if self.kind == "documents":
            out["n_docs"] = self.n_rows
            out["n_terms"] = self.n_cols
        return out


@dataclass(eq=False)
class Dataset:
    """Observed entries of a matrix, with the ids and metadata to explain them.

    Parameters
    ----------
    kind : {"explicit", "implicit", "documents", "dense", "images"}
        What the values mean: ratings, interaction counts, term weights,
        plain numbers, pixel intensities.
    rows, cols : array of int
        Internal (contiguous, 0-based) row and column index of each entry.
    values : array of float
        The value of each entry.
    row_ids, col_ids : array
        Raw id of each internal row / column (``row_ids[i]`` is the id the
        user knows for internal row ``i``): int64 or str.
    timestamps : array of int64, optional
        Seconds since the epoch for each entry (ratings files that have them).
    rating_scale : (float, float), optional
        Lowest and highest possible rating, for clipping predictions.
    item_titles : array of str, optional
        Human-readable name of each column (movie titles).
    item_genres : array of str, optional
        ``"|"``-joined genres of each column.
    texts : list of str, optional
        The text of each document row.
    image_shape : (int, int), optional
        ``(height, width)`` of each image row.
    name : str
        Short display name.
    source : str, optional
        Path the data came from.
    notes : list of str
        Things the loader did that the user should know (duplicates merged...).
    truth : dict of str to ndarray
        Ground truth of generated samples, for tests and teaching.
    kind_reason : str
        One sentence saying why the loader chose ``kind`` (shown in the data
        panel and ``mfstudio info``), e.g. "whole numbers 1 to 6, mostly 1:
        read as interaction counts".
    row_labels : array of str, optional
        A category per row that the file carried beside the data (a document
        CSV's label column); used to colour plots and to score topics (NMI).
    row_label_name : str, optional
        The name of that label column (e.g. ``"category"``).
    missing_cells : ndarray of int64, optional
        Sorted flat indices ``row * n_cols + col`` of cells that are unknown
        although absent cells of this kind otherwise mean zero (documents): the
        training side of a cell holdout. Models that treat absent cells as
        zeros must leave these out of their loss.
    kind_choices : tuple of str
        The kinds this data may be treated as (what ``load(path, kind=...)``
        accepts for its source); empty means "derive from the kind" (see
        :func:`default_kind_choices`).
    item_features, user_features : SideFeatures, optional
        What is known about each column (item) or row (user) besides its
        entries: a sparse indicator matrix whose row ``j`` belongs to
        internal id ``j`` (``col_ids[j]`` / ``row_ids[j]``), the feature names
        and the source file (:class:`mfstudio.data.features.SideFeatures`).
        MovieLens folders fill both (genres and decade; age band, gender,
        occupation); subsets and splits keep them, so a cold item of a test
        set still has its features.

    Notes
    -----
    Construction validates and normalises dtypes (int32 indices, float32
    values); a Dataset that exists is consistent.
    """

    kind: str
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    row_ids: np.ndarray
    col_ids: np.ndarray
    timestamps: np.ndarray | None = None
    rating_scale: tuple[float, float] | None = None
    item_titles: np.ndarray | None = None
    item_genres: np.ndarray | None = None
    texts: list[str] | None = None
    image_shape: tuple[int, int] | None = None
    name: str = ""
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    truth: dict = field(default_factory=dict)
    kind_reason: str = ""
    row_labels: np.ndarray | None = None
    row_label_name: str | None = None
    missing_cells: np.ndarray | None = None
    kind_choices: tuple[str, ...] = ()
    item_features: SideFeatures | None = None
    user_features: SideFeatures | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        self.rows = np.ascontiguousarray(self.rows, dtype=np.int32)
        self.cols = np.ascontiguousarray(self.cols, dtype=np.int32)
        self.values = np.ascontiguousarray(self.values, dtype=np.float32)
        self.row_ids = _as_id_array(self.row_ids)
        self.col_ids = _as_id_array(self.col_ids)
        n = self.rows.shape[0]
        if self.rows.ndim != 1 or self.cols.shape != (n,) or self.values.shape != (n,):
            raise ValueError("rows, cols and values must be 1-D arrays of one length")
        if self.timestamps is not None:
            self.timestamps = np.ascontiguousarray(self.timestamps, dtype=np.int64)
            if self.timestamps.shape != (n,):
                raise ValueError("timestamps must have one entry per value")
        if n:
            if self.rows.min() < 0 or self.rows.max() >= len(self.row_ids):
                raise ValueError("a row index is outside row_ids")
            if self.cols.min() < 0 or self.cols.max() >= len(self.col_ids):
                raise ValueError("a column index is outside col_ids")
            if not np.isfinite(self.values).all():
                raise ValueError("values must be finite")
        if self.rating_scale is not None:
            lo, hi = (float(v) for v in self.rating_scale)
            if not lo < hi:
                raise ValueError("rating_scale must be (low, high) with low < high")
            self.rating_scale = (lo, hi)
        for name in ("item_titles", "item_genres"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.asarray(arr, dtype=str)
                if arr.shape != (len(self.col_ids),):
                    raise ValueError(f"{name} must have one entry per column")
                setattr(self, name, arr)
        for name, count in (("item_features", len(self.col_ids)), ("user_features", len(self.row_ids))):
            features = getattr(self, name)
            if features is not None:
                if not isinstance(features, SideFeatures):
                    raise ValueError(f"{name} must be a SideFeatures")
                if features.n_entities != count:
                    raise ValueError(f"{name} must have one row per {'column' if name == 'item_features' else 'row'}")
        if self.row_labels is not None:
            self.row_labels = np.asarray(self.row_labels, dtype=str)
            if self.row_labels.shape != (len(self.row_ids),):
                raise ValueError("row_labels must have one entry per row")
        if self.missing_cells is not None:
            self.missing_cells = np.ascontiguousarray(self.missing_cells, dtype=np.int64)
        if self.texts is not None and len(self.texts) != len(self.row_ids):
            raise ValueError("texts must have one entry per row")
        if self.image_shape is not None:
            h, w = (int(v) for v in self.image_shape)
            if h * w != len(self.col_ids):
                raise ValueError("image_shape must multiply to the number of columns")
            self.image_shape = (h, w)

    # ----------------------------------------------------------------- shape
    @property
    def n_rows(self) -> int:
        return len(self.row_ids)

    @property
    def n_cols(self) -> int:
        return len(self.col_ids)

    n_users = n_rows
    n_items = n_cols

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_cols)

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    @property
    def density(self) -> float:
        cells = self.n_rows * self.n_cols
        return self.nnz / cells if cells else 0.0

    @property
    def fully_observed(self) -> bool:
        """True when every cell is observed (dense grids, images)."""
        return self.nnz == self.n_rows * self.n_cols

    @property
    def row_label(self) -> str:
        """What one row is called: user, document, image..."""
        return KINDS[self.kind][0]

    @property
    def col_label(self) -> str:
        return KINDS[self.kind][1]

    @property
    def vocabulary(self) -> np.ndarray | None:
        """Terms of a document-term dataset (its column ids)."""
        return self.col_ids if self.kind == "documents" else None

    # ------------------------------------------------------------ conversion
    def to_csr(self, dtype=np.float32) -> sp.csr_matrix:
        """Observed entries as a CSR matrix (rows x cols); missing cells are absent."""
        import scipy.sparse as sp
        coo = sp.coo_matrix((self.values.astype(dtype, copy=False), (self.rows, self.cols)), shape=self.shape)
        return coo.tocsr()

    def to_csc(self, dtype=np.float32) -> sp.csc_matrix:
        """Observed entries as a CSC matrix (rows x cols)."""
        return self.to_csr(dtype).tocsc()

    def to_dense(self, fill: float = np.nan) -> np.ndarray:
        """The matrix as a dense float array, unobserved cells set to ``fill``."""
        out = np.full(self.shape, fill, dtype=np.float32)
        out[self.rows, self.cols] = self.values
        return out

    def row_counts(self) -> np.ndarray:
        """Number of observed entries in each row (ratings per user)."""
        return np.bincount(self.rows, minlength=self.n_rows)

    def row_count_histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """How many rows have how many entries: ``(counts, edges)`` as :func:`numpy.histogram` gives them.

        One bin per count when the busiest row has at most ``bins`` entries;
        beyond, at most ``bins`` log-spaced integer edges (most users rate a
        few dozen items, a few rate hundreds). Empty arrays for a dataset
        without rows. What the data panel's "Per user" plot draws.
        """
        per_row = self.row_counts()
        if per_row.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        top = max(int(per_row.max()), 1)
        edges = unique_sorted(np.geomspace(1, top + 1, bins).astype(int)) if top > bins else np.arange(0, top + 2)
        return np.histogram(per_row, bins=edges)

    def col_counts(self) -> np.ndarray:
        """Number of observed entries in each column (ratings per item)."""
        return np.bincount(self.cols, minlength=self.n_cols)

    # ------------------------------------------------------------------ ids
    @cached_property
    def _row_index(self) -> pd.Index:
        import pandas as pd

        return pd.Index(self.row_ids)

    @cached_property
    def _col_index(self) -> pd.Index:
        import pandas as pd

        return pd.Index(self.col_ids)

    def row_of(self, raw_ids) -> np.ndarray:
        """Internal row ids of raw ids; -1 where a raw id is unknown.

        Raw ids may be given as the strings a user typed: ``"196"`` finds user
        ``196`` in a dataset whose ids are integers.
        """
        return self._lookup(self._row_index, self.row_ids, raw_ids)

    def col_of(self, raw_ids) -> np.ndarray:
        """Internal column ids of raw ids; -1 where a raw id is unknown."""
        return self._lookup(self._col_index, self.col_ids, raw_ids)

    @staticmethod
    def _lookup(index: pd.Index, ids: np.ndarray, raw_ids) -> np.ndarray:
        raw = np.atleast_1d(np.asarray(raw_ids))
        if ids.dtype.kind == "i" and raw.dtype.kind not in "iu":
            # Typed ids ("196") against integer ids: convert what converts.
            import pandas as pd

            converted = pd.to_numeric(pd.Series(raw.astype(str)), errors="coerce")
            found = index.get_indexer(converted.fillna(-(2**62)).astype(np.int64).to_numpy())
            return found.astype(np.int64)
        if ids.dtype.kind == "U" and raw.dtype.kind != "U":
            raw = raw.astype(str)
        return index.get_indexer(raw).astype(np.int64)

    def title_of(self, cols) -> np.ndarray:
        """Display names of internal columns: titles where known, else raw ids."""
        cols = np.asarray(cols)
        if self.item_titles is not None:
            return self.item_titles[cols]
        return self.col_ids[cols].astype(str)

    # -------------------------------------------------------------- subsets
    def subset(self, mask_or_index, name: str | None = None) -> "Dataset":
        """A dataset with only some entries, keeping every id map and all metadata.

        Train and test sets made this way share one internal id space, so a
        model trained on one can score the other directly.
        """
        sel = np.asarray(mask_or_index)
        return replace(
            self,
            rows=self.rows[sel],
            cols=self.cols[sel],
            values=self.values[sel],
            timestamps=None if self.timestamps is None else self.timestamps[sel],
            name=name if name is not None else self.name,
            notes=list(self.notes),
            truth=dict(self.truth),
        )

    # -------------------------------------------------------------- summary
    def summary(self, bins: int | None = None) -> DatasetSummary:
        """Shape, density, value histogram and entries per row and column."""
        values = self.values
        if self.nnz:
            vmin, vmax = float(values.min()), float(values.max())
            vmean = float(values.mean(dtype=np.float64))
        else:
            vmin = vmax = vmean = float("nan")
        if bins is None:
            # Ratings on a small grid (1..5, halves) get one bar per level.
            uniq = unique_sorted(values[: min(self.nnz, 200_000)]) if self.nnz else np.zeros(0)
            if 0 < len(uniq) <= 21:
                step = np.diff(uniq).min() if len(uniq) > 1 else 1.0
                edges = np.append(uniq - step / 2, uniq[-1] + step / 2)
                counts, edges = np.histogram(values, bins=edges)
            else:
                counts, edges = np.histogram(values, bins=20) if self.nnz else (np.zeros(0, int), np.zeros(0))
        else:
            counts, edges = np.histogram(values, bins=bins)
        return DatasetSummary(
            name=self.name,
            kind=self.kind,
            n_rows=self.n_rows,
            n_cols=self.n_cols,
            nnz=self.nnz,
            density=self.density,
            rating_scale=self.rating_scale,
            value_min=vmin,
            value_max=vmax,
            value_mean=vmean,
            value_histogram=(counts, edges),
            per_row=_count_stats(self.row_counts()),
            per_col=_count_stats(self.col_counts()),
            has_titles=self.item_titles is not None,
            has_timestamps=self.timestamps is not None,
            notes=tuple(self.notes),
            kind_reason=self.kind_reason,
            kind_choices=tuple(self.kind_choices) or default_kind_choices(self),
            side_features=tuple(
                f"{self.col_label if side == 'item' else self.row_label}s: "
                f"{features.describe(self.col_label if side == 'item' else self.row_label)}"
                for side, features in (("item", self.item_features), ("user", self.user_features))
                if features is not None),
            side_features_dict={side: features.as_dict() for side, features in
                                (("item", self.item_features), ("user", self.user_features)) if features is not None},
        )

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, kind={self.kind!r}, {self.n_rows} {self.row_label}s x "
            f"{self.n_cols} {self.col_label}s, nnz={self.nnz})"
        )


def default_kind_choices(dataset: Dataset) -> tuple[str, ...]:
    """The kinds a dataset's entries can be read as, when its loader did not say.

    Ratings and interactions swap freely (the same triples); a dense grid can
    also be read as ratings or, when nothing is negative, interactions;
    images are also a plain dense matrix; documents are only documents.
    """
    if dataset.kind in ("explicit", "implicit"):
        choices = {"explicit", "implicit"}
    elif dataset.kind == "dense":
        choices = {"dense", "explicit"}
        if not dataset.nnz or float(dataset.values.min()) >= 0:
            choices.add("implicit")
    elif dataset.kind == "images":
        choices = {"images", "dense"}
    else:
        choices = {dataset.kind}
    return tuple(k for k in KINDS if k in choices)


def _extend_ids(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference ids followed by the ids only ``other`` has; and where each of ``other`` lands."""
    if reference.dtype.kind != other.dtype.kind:
        reference, other = reference.astype(str), other.astype(str)
    # The reference ids are distinct (an id map): a sorted lookup finds each of other's.
    order = np.argsort(reference, kind="stable")
    ordered = reference[order]
    slot = np.minimum(np.searchsorted(ordered, other), max(len(ordered) - 1, 0))
    position = np.full(len(other), -1, dtype=np.int64)
    if len(ordered):
        found = ordered[slot] == other
        position[found] = order[slot[found]]
    new = position < 0
    combined = np.concatenate([reference, other[new]])
    position[new] = len(reference) + np.arange(int(new.sum()))
    return combined, position


def common_id_space(train: Dataset, test: Dataset) -> tuple[Dataset, Dataset]:
    """Put two separately loaded datasets (u1.base and u1.test) into one id space.

    The train ids keep their internal numbers; ids only the test set has are
    appended after them, so they show up as users or items without training
    data (counted by the split report) instead of being dropped.

    Returns
    -------
    (Dataset, Dataset)
        Train and test, sharing ``row_ids`` and ``col_ids``.
    """
    row_ids, row_pos = _extend_ids(train.row_ids, test.row_ids)
    col_ids, col_pos = _extend_ids(train.col_ids, test.col_ids)
    extra_cols = len(col_ids) - train.n_cols

    def extended(meta_train, meta_test):
        if meta_train is None:
            return None
        tail = np.asarray(col_ids[train.n_cols:], dtype=str)
        if meta_test is not None:
            tail = meta_test[col_pos >= train.n_cols][np.argsort(col_pos[col_pos >= train.n_cols])]
        return np.concatenate([meta_train, tail]) if extra_cols else meta_train

    def features(mine, theirs, ids, position, n_own):
        # Train's features for its ids; for the ids only the test file has, the test file's (else empty rows).
        if mine is None:
            return None
        out = mine.extended(len(ids) - n_own)
        if theirs is not None and len(ids) > n_own and list(theirs.names) == list(mine.names):
            new = position >= n_own
            out = mine.stacked(theirs.take(np.flatnonzero(new)[np.argsort(position[new])]))
        return out

    shared = dict(
        row_ids=row_ids,
        col_ids=col_ids,
        item_titles=extended(train.item_titles, test.item_titles),
        item_genres=extended(train.item_genres, test.item_genres),
        rating_scale=train.rating_scale or test.rating_scale,
        item_features=features(train.item_features, test.item_features, col_ids, col_pos, train.n_cols),
        user_features=features(train.user_features, test.user_features, row_ids, row_pos, train.n_rows),
    )
    new_train = replace(train, **shared, texts=None, notes=list(train.notes), truth=dict(train.truth))
    new_test = replace(
        test,
        rows=row_pos[test.rows],
        cols=col_pos[test.cols],
        texts=None,
        notes=list(test.notes),
        truth={},
        **shared,
    )
    return new_train, new_test


def _count_stats(counts: np.ndarray) -> dict:
    if counts.size == 0:
        return {"min": 0, "median": 0.0, "mean": 0.0, "max": 0, "empty": 0}
    return {
        "min": int(counts.min()),
        "median": float(np.median(counts)),
        "mean": float(counts.mean()),
        "max": int(counts.max()),
        "empty": int((counts == 0).sum()),
    }
