"""Evaluation metrics: rating error, top-k ranking quality, coverage, reconstruction error.

Pure functions over numpy arrays and scipy sparse matrices (or
:class:`SparseRows`, the same CSR arrays without importing scipy: what the
app's own evaluation passes, so that a first fit does not pay scipy.sparse's
0.2-0.3 s import); no Qt, no models, no Python loops over users. The ranking
metrics find every hit of a whole
batch of recommendation lists at once: each (user, item) pair is encoded as
one int64 key ``user * n_items + item``, and a single ``searchsorted`` against
the sorted keys of the relevant matrix (CSR order) tells which recommended
items are relevant.

Definitions are stated exactly in each docstring; they follow the common
conventions (e.g. those of RecBole and Microsoft Recommenders) with binary
relevance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data.arrays import unique_sorted

__all__ = [
    "SparseRows",
    "rmse",
    "mae",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "ranking_metrics",
    "catalogue_coverage",
    "reconstruction_error",
    "masked_reconstruction_error",
    "reconstruction_scores",
    "RECONSTRUCTION_METRIC_DESCRIPTIONS",
]

# Sparse X with at most this many cells is densified in reconstruction_error
# (exact, and cheap at this size); larger ones use the Gram-matrix identity.
_DENSE_CELLS_LIMIT = 1 << 22

# Entries per chunk when gathering W[rows] and H[:, cols] (bounds the
# temporaries to about _CHUNK * rank * 16 bytes; small chunks stay in cache).
_CHUNK = 1 << 13


# ------------------------------------------------------------------- rating error
def _paired(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty: there is nothing to score")
    return t, p


def rmse(y_true, y_pred) -> float:
    """Root mean squared error.

    ``sqrt(mean((y_true - y_pred) ** 2))``, accumulated in float64.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted values, of one shape.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ or the arrays are empty.
    """
    t, p = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error.

    ``mean(abs(y_true - y_pred))``, accumulated in float64.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted values, of one shape.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ or the arrays are empty.
    """
    t, p = _paired(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


# ---------------------------------------------------------------- ranking metrics
@dataclass(frozen=True, eq=False)  # arrays: == would be elementwise
class SparseRows:
    """A users x items 0/1 matrix as canonical CSR arrays, without scipy.

    Row ``u`` holds the items ``indices[indptr[u]:indptr[u + 1]]``, sorted and
    each once. Build it with :meth:`from_entries`; slice rows with
    ``rows[start:stop]``.

    Attributes
    ----------
    indptr : ndarray of int64, shape (n_rows + 1,)
    indices : ndarray of int64, shape (nnz,)
    n_cols : int
    """

    indptr: np.ndarray
    indices: np.ndarray
    n_cols: int

    @classmethod
    def from_entries(cls, rows, cols, n_rows: int, n_cols: int, values=None) -> "SparseRows":
        """The set of ``(rows[e], cols[e])`` pairs; an entry whose value is 0 is left out, repeats count once."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if values is not None:
            keep = np.asarray(values) != 0
            if not keep.all():
                rows, cols = rows[keep], cols[keep]
        keys = rows * max(int(n_cols), 1) + cols
        # Entries usually arrive sorted by (row, column) already (datasets are stored so): one pass
        # checks it, and only unsorted input pays for the sort.
        if keys.size > 1 and not (keys[1:] > keys[:-1]).all():
            keys = np.sort(keys)  # not np.unique: numpy 2's hashing unique took 8 s on 7M keys
            keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
        indptr = np.zeros(int(n_rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // max(int(n_cols), 1), minlength=int(n_rows)), out=indptr[1:])
        return cls(indptr, keys % max(int(n_cols), 1), int(n_cols))

    @classmethod
    def for_users(cls, rows, cols, users, n_cols: int, values=None) -> "SparseRows":
        """The entries of ``users`` (sorted row ids, distinct), one row per user in that order.

        ``rows``, ``cols`` (and ``values``, whose zeros are left out) describe every entry; the others
        are dropped in one pass.
        """
        rows = np.asarray(rows, dtype=np.int64)
        users = np.asarray(users, dtype=np.int64)
        chosen = np.zeros(max(int(rows.max()) + 1 if rows.size else 0, int(users[-1]) + 1 if users.size else 0),
                          dtype=bool)
        chosen[users] = True
        keep = np.flatnonzero(chosen[rows])
        return cls.from_entries(np.searchsorted(users, rows[keep]), np.asarray(cols)[keep], users.size, n_cols,
                                values=None if values is None else np.asarray(values)[keep])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.indptr.size - 1), int(self.n_cols))

    def __getitem__(self, rows: slice) -> "SparseRows":
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise ValueError("SparseRows slices rows with step 1 only")
        stop = max(stop, start)
        low, high = self.indptr[start], self.indptr[stop]
        return SparseRows(self.indptr[start:stop + 1] - low, self.indices[low:high], self.n_cols)

    def on_columns(self, columns) -> "SparseRows":
        """Only ``columns`` (distinct), renumbered to their positions in ``columns``."""
        columns = np.asarray(columns, dtype=np.int64)
        position = np.full(self.n_cols, -1, dtype=np.int64)
        position[columns] = np.arange(columns.size)
        row_of = np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self.indptr))
        new = position[self.indices]
        kept = new >= 0
        return SparseRows.from_entries(row_of[kept], new[kept], self.shape[0], columns.size)


def _as_rows(relevant) -> SparseRows:
    """``relevant`` (scipy sparse or :class:`SparseRows`) as canonical rows; explicit zeros are not relevant."""
    if isinstance(relevant, SparseRows):
        return relevant
    import scipy.sparse as sp

    if not sp.issparse(relevant):
        raise ValueError("relevant must be a scipy.sparse matrix (users x items)")
    rel = sp.csr_matrix(relevant, copy=True)
    rel.eliminate_zeros()
    rel.sum_duplicates()  # also sorts the indices within each row
    return SparseRows(rel.indptr.astype(np.int64), rel.indices.astype(np.int64), int(rel.shape[1]))


def _hits(recommended, relevant, k) -> tuple[np.ndarray, np.ndarray]:
    """Hit matrix of the top ``k`` and the number of relevant items per user.

    Returns ``hits`` (bool, n_users x k): ``hits[u, j]`` is true when the item
    at rank ``j + 1`` of user ``u``'s list is relevant to ``u``, is not padding
    and is that item's first occurrence in the list; and ``n_rel`` (int64,
    n_users): the number of relevant items of each user.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive whole number, not {k!r}")
    k = int(k)
    rec = np.asarray(recommended)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be a 2-D array (users x ranks), got {rec.ndim}-D")
    if rec.size and rec.dtype.kind not in "iu":
        raise ValueError(f"recommended must hold integer item indices, got dtype {rec.dtype}")
    if rec.shape[1] < k:
        raise ValueError(
            f"recommended has {rec.shape[1]} columns but k={k}: give at least k ranks "
            "per user (pad short lists with -1)"
        )
    rel = _as_rows(relevant)
    n_users, n_items = rel.shape
    if rec.shape[0] != n_users:
        raise ValueError(
            f"recommended has {rec.shape[0]} rows but relevant has {n_users}: one row per user in both"
        )
    top = rec[:, :k].astype(np.int64)
    if top.size and top.max() >= n_items:
        raise ValueError(f"recommended holds item {int(top.max())}, but relevant has only {n_items} items")
    valid = top >= 0

    n_rel = np.diff(rel.indptr).astype(np.int64)
    users = np.arange(n_users, dtype=np.int64)
    # CSR with sorted indices lists (user, item) keys in ascending order.
    rel_keys = np.repeat(users, n_rel) * n_items + rel.indices.astype(np.int64)
    top_keys = users[:, None] * n_items + top
    if rel_keys.size:
        pos = np.searchsorted(rel_keys, top_keys)
        np.minimum(pos, rel_keys.size - 1, out=pos)
        hits = valid & (rel_keys[pos] == top_keys)
    else:
        hits = np.zeros(top.shape, dtype=bool)

    # An item listed twice counts once, at its first (best) rank.
    if k > 1:
        order = np.argsort(top, axis=1, kind="stable")
        srt = np.take_along_axis(top, order, axis=1)
        dup_sorted = np.zeros(top.shape, dtype=bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
        dup = np.empty_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        hits &= ~dup
    return hits, n_rel


def _per_user(hits: np.ndarray, n_rel: np.ndarray, k: int) -> dict[str, np.ndarray]:
    has_rel = n_rel > 0
    denom_rel = np.where(has_rel, n_rel, 1).astype(np.float64)
    n_hits = hits.sum(axis=1, dtype=np.int64).astype(np.float64)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(ranks + 1.0)
    ideal_hits = np.minimum(n_rel, k)
    idcg = np.concatenate(([1.0], np.cumsum(discounts)))[ideal_hits]  # [0] unused
    cum_hits = np.cumsum(hits, axis=1, dtype=np.float64)
    out = {
        "precision": n_hits / k,
        "recall": n_hits / denom_rel,
        "ndcg": (hits @ discounts) / idcg,
        "map": (hits * (cum_hits / ranks)).sum(axis=1) / np.maximum(ideal_hits, 1),
    }
    for v in out.values():
        v[~has_rel] = np.nan
    return out


def _reduce(values: np.ndarray, n_rel: np.ndarray, average: bool):
    if not average:
        return values
    keep = n_rel > 0
    return float(values[keep].mean()) if keep.any() else float("nan")


def precision_at_k(recommended, relevant, k: int, average: bool = True):
    """Precision at k: the share of the top-k slots that hold a relevant item.

    For user ``u``: ``|top_k(u) ∩ rel(u)| / k``.

    Parameters
    ----------
    recommended : array_like of int, shape (n_users, m), m >= k
        Row ``u`` lists item indices for user ``u`` in rank order, best first.
        Negative entries are padding ("no item"): they never hit, and a
        padded slot still counts in the ``k`` of precision. Only the first
        ``k`` columns are used. An item listed twice counts once, at its
        first rank.
    relevant : scipy.sparse matrix or SparseRows, shape (n_users, n_items)
        Stored non-zero entries mark the relevant items of each user (e.g. the
        test set). Relevance is binary: values are ignored apart from
        explicit zeros, which are not relevant.
    k : int
        Cut-off rank, at least 1.
    average : bool, default True
        If True, return the mean over users with at least one relevant item
        (users with none are excluded: the metric is undefined for them);
        NaN if no user has a relevant item. If False, return one value per
        user, NaN for users without relevant items.

    Returns
    -------
    float or ndarray of float64
        The mean over users with relevant items, or the per-user values.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _reduce(_per_user(hits, n_rel, int(k))["precision"], n_rel, average)


def recall_at_k(recommended, relevant, k: int, average: bool = True):
    """Recall at k: the share of a user's relevant items found in the top k.

    For user ``u``: ``|top_k(u) ∩ rel(u)| / |rel(u)|`` (so at most
    ``k / |rel(u)|`` when a user has more than ``k`` relevant items).

    Parameters
    ----------
    recommended : array_like of int, shape (n_users, m), m >= k
        Row ``u`` lists item indices for user ``u`` in rank order, best first.
        Negative entries are padding ("no item"): they never hit, and a
        padded slot still counts in the ``k`` of precision. Only the first
        ``k`` columns are used. An item listed twice counts once, at its
        first rank.
    relevant : scipy.sparse matrix or SparseRows, shape (n_users, n_items)
        Stored non-zero entries mark the relevant items of each user (e.g. the
        test set). Relevance is binary: values are ignored apart from
        explicit zeros, which are not relevant.
    k : int
        Cut-off rank, at least 1.
    average : bool, default True
        If True, return the mean over users with at least one relevant item
        (users with none are excluded: the metric is undefined for them);
        NaN if no user has a relevant item. If False, return one value per
        user, NaN for users without relevant items.

    Returns
    -------
    float or ndarray of float64
        The mean over users with relevant items, or the per-user values.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _reduce(_per_user(hits, n_rel, int(k))["recall"], n_rel, average)


def ndcg_at_k(recommended, relevant, k: int, average: bool = True):
    """Normalised discounted cumulative gain at k, binary relevance.

    For user ``u`` with hits ``h_i`` (1 if the item at rank ``i`` is
    relevant, else 0), ranks counted from 1::

        DCG  = sum_{i=1..k} h_i / log2(i + 1)
        IDCG = sum_{i=1..min(k, |rel(u)|)} 1 / log2(i + 1)
        NDCG = DCG / IDCG

    so 1 means each of the first ``min(k, |rel(u)|)`` slots is a hit.

    Parameters
    ----------
    recommended : array_like of int, shape (n_users, m), m >= k
        Row ``u`` lists item indices for user ``u`` in rank order, best first.
        Negative entries are padding ("no item"): they never hit, and a
        padded slot still counts in the ``k`` of precision. Only the first
        ``k`` columns are used. An item listed twice counts once, at its
        first rank.
    relevant : scipy.sparse matrix or SparseRows, shape (n_users, n_items)
        Stored non-zero entries mark the relevant items of each user (e.g. the
        test set). Relevance is binary: values are ignored apart from
        explicit zeros, which are not relevant.
    k : int
        Cut-off rank, at least 1.
    average : bool, default True
        If True, return the mean over users with at least one relevant item
        (users with none are excluded: the metric is undefined for them);
        NaN if no user has a relevant item. If False, return one value per
        user, NaN for users without relevant items.

    Returns
    -------
    float or ndarray of float64
        The mean over users with relevant items, or the per-user values.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _reduce(_per_user(hits, n_rel, int(k))["ndcg"], n_rel, average)


def map_at_k(recommended, relevant, k: int, average: bool = True):
    """Mean average precision at k.

    For user ``u`` with hits ``h_i`` at ranks ``i = 1..k``::

        AP@k = sum_{i=1..k} h_i * precision@i / min(k, |rel(u)|)

    where ``precision@i`` is the number of hits in the first ``i`` slots
    divided by ``i``. MAP@k is the mean of AP@k over users.

    Parameters
    ----------
    recommended : array_like of int, shape (n_users, m), m >= k
        Row ``u`` lists item indices for user ``u`` in rank order, best first.
        Negative entries are padding ("no item"): they never hit, and a
        padded slot still counts in the ``k`` of precision. Only the first
        ``k`` columns are used. An item listed twice counts once, at its
        first rank.
    relevant : scipy.sparse matrix or SparseRows, shape (n_users, n_items)
        Stored non-zero entries mark the relevant items of each user (e.g. the
        test set). Relevance is binary: values are ignored apart from
        explicit zeros, which are not relevant.
    k : int
        Cut-off rank, at least 1.
    average : bool, default True
        If True, return the mean over users with at least one relevant item
        (users with none are excluded: the metric is undefined for them);
        NaN if no user has a relevant item. If False, return one value per
        user, NaN for users without relevant items.

    Returns
    -------
    float or ndarray of float64
        The mean over users with relevant items, or the per-user values.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _reduce(_per_user(hits, n_rel, int(k))["map"], n_rel, average)


def ranking_metrics(recommended, relevant, k: int, average: bool = True) -> dict:
    """Precision, recall, NDCG and MAP at k in one pass over a shared hit matrix.

    Definitions as in :func:`precision_at_k`, :func:`recall_at_k`,
    :func:`ndcg_at_k` and :func:`map_at_k`.

    Parameters
    ----------
    recommended : array_like of int, shape (n_users, m), m >= k
        Row ``u`` lists item indices for user ``u`` in rank order, best first.
        Negative entries are padding ("no item"): they never hit, and a
        padded slot still counts in the ``k`` of precision. Only the first
        ``k`` columns are used. An item listed twice counts once, at its
        first rank.
    relevant : scipy.sparse matrix or SparseRows, shape (n_users, n_items)
        Stored non-zero entries mark the relevant items of each user (e.g. the
        test set). Relevance is binary: values are ignored apart from
        explicit zeros, which are not relevant.
    k : int
        Cut-off rank, at least 1.
    average : bool, default True
        If True, return the mean over users with at least one relevant item
        (users with none are excluded: the metric is undefined for them);
        NaN if no user has a relevant item. If False, return one value per
        user, NaN for users without relevant items.

    Returns
    -------
    dict
        Keys ``"precision@{k}"``, ``"recall@{k}"``, ``"ndcg@{k}"``,
        ``"map@{k}"`` (e.g. ``"ndcg@10"``); values are floats, or per-user
        arrays when ``average`` is False.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    per_user = _per_user(hits, n_rel, int(k))
    return {f"{name}@{int(k)}": _reduce(v, n_rel, average) for name, v in per_user.items()}


def catalogue_coverage(recommended, n_items: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list.

    ``|{items in any row of recommended}| / n_items``; negative entries
    (padding) are ignored. Pass ``recommended[:, :k]`` for coverage at k.

    Parameters
    ----------
    recommended : array_like of int, shape (n_users, m)
        Item indices, one list per row.
    n_items : int
        Size of the catalogue (number of items that could be recommended).

    Returns
    -------
    float
        Between 0 and 1.
    """
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be a positive whole number, not {n_items!r}")
    rec = np.asarray(recommended)
    if rec.size and rec.dtype.kind not in "iu":
        raise ValueError(f"recommended must hold integer item indices, got dtype {rec.dtype}")
    items = rec[rec >= 0].astype(np.int64, copy=False).ravel()
    if items.size and items.max() >= n_items:
        raise ValueError(f"recommended holds item {int(items.max())}, but the catalogue has only {n_items}")
    seen = np.zeros(int(n_items), dtype=bool)
    seen[items] = True
    return float(np.count_nonzero(seen) / n_items)


def auc_per_user(scores, relevant, candidates=None) -> np.ndarray:
    """Area under the ROC curve of each user's scores: P(a relevant item outranks a non-relevant one).

    For user ``u`` with candidate items ``C(u)`` (all items, or those marked in
    ``candidates``), relevant ones ``P = rel(u) ∩ C(u)`` and the rest
    ``N = C(u) \\ P``: the share of pairs ``(p, n)`` with ``score(p) > score(n)``,
    ties counting one half (the Mann-Whitney U statistic over ``|P| |N|``).

    Parameters
    ----------
    scores : ndarray, shape (n_users, n_items)
        Any real scores; higher ranks first.
    relevant : scipy.sparse matrix, shape (n_users, n_items)
        Stored non-zero entries mark each user's relevant items.
    candidates : ndarray of bool, shape (n_users, n_items), optional
        The items that compete (e.g. everything not seen in training);
        default all.

    Returns
    -------
    ndarray of float64, shape (n_users,)
        NaN for users with no relevant or no non-relevant candidate.
    """
    import scipy.sparse as sp
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError("scores must be a 2-D array (users x items)")
    if not sp.issparse(relevant) or relevant.shape != scores.shape:
        raise ValueError("relevant must be a scipy.sparse matrix of the same shape as scores")
    n_users, n_items = scores.shape
    if candidates is None:
        candidates = np.ones(scores.shape, dtype=bool)
    candidates = np.asarray(candidates, dtype=bool)
    rel = sp.csr_matrix(relevant, copy=True)
    rel.eliminate_zeros()
    pos = rel.toarray().astype(bool) & candidates
    n_pos = pos.sum(axis=1).astype(np.float64)
    n_neg = candidates.sum(axis=1) - n_pos
    auc = np.full(n_users, np.nan)
    if n_users == 0 or not pos.any():
        return auc
    # Mann-Whitney through ranks without a per-row rank transform: non-candidates go
    # below every candidate, each row is sorted once, and rows are laid end to end
    # (shifted apart by more than their spread) so one searchsorted finds, for every
    # relevant item, how many candidates score below it and how many tie with it.
    finite = scores[candidates]
    floor = float(finite.min()) - 1.0 if finite.size else 0.0
    work = np.where(candidates, scores, floor)
    span = float(work.max()) - floor + 1.0
    shift = np.arange(n_users, dtype=np.float64)[:, None] * span
    ordered = (np.sort(work, axis=1) + shift).ravel()
    users, items = np.nonzero(pos)
    keys = work[users, items] + shift[users, 0]
    below = np.searchsorted(ordered, keys, side="left") - users * n_items
    ties = np.searchsorted(ordered, keys, side="right") - users * n_items - below
    n_out = (~candidates).sum(axis=1)
    ranks = below - n_out[users] + (ties + 1) / 2.0  # 1-based average rank among candidates
    rank_sum = np.bincount(users, ranks, minlength=n_users)
    ok = (n_pos > 0) & (n_neg > 0)
    auc[ok] = (rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1) / 2) / (n_pos[ok] * n_neg[ok])
    return auc


# ---------------------------------------------------------- reconstruction error
def _factors(W, H, shape=None) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W)
    H = np.asarray(H)
    if W.ndim != 2 or H.ndim != 2 or W.shape[1] != H.shape[0]:
        raise ValueError(
            f"W (m x r) and H (r x n) must be 2-D with matching rank, got {W.shape} and {H.shape}"
        )
    if shape is not None and (W.shape[0], H.shape[1]) != tuple(shape):
        raise ValueError(f"W @ H has shape {(W.shape[0], H.shape[1])} but X has shape {tuple(shape)}")
    return W, H


def _rowwise_dots(W, H, rows, cols) -> np.ndarray:
    """``(W @ H)[rows, cols]`` in float64 without forming ``W @ H``; chunked."""
    Ht = np.ascontiguousarray(H.T)  # gathering rows of H.T is contiguous, columns of H are not
    out = np.empty(rows.shape[0], dtype=np.float64)
    for start in range(0, rows.shape[0], _CHUNK):
        stop = start + _CHUNK
        out[start:stop] = np.einsum(
            "ij,ij->i", W[rows[start:stop]], Ht[cols[start:stop]], dtype=np.float64
        )
    return out


def _error_dict(sq_err: float, sq_norm: float) -> dict:
    absolute = float(np.sqrt(max(sq_err, 0.0)))
    norm = float(np.sqrt(max(sq_norm, 0.0)))
    if norm > 0:
        relative = absolute / norm
    else:
        relative = 0.0 if absolute == 0 else float("inf")
    return {"absolute": absolute, "relative": relative}


def reconstruction_error(X, W, H) -> dict:
    """Frobenius error of the full-matrix reconstruction ``X ≈ W @ H``.

    ``absolute = ||X - W H||_F`` and ``relative = absolute / ||X||_F``
    (0 if both are 0, inf if only ``X`` is 0).

    For a sparse ``X`` this is the *full-matrix* error: cells not stored in
    ``X`` count as zeros that ``W @ H`` should reproduce. That is the right
    measure for document-term matrices, images and dense grids (NMF, SVD),
    not for ratings, where a missing cell is unknown: use
    :func:`masked_reconstruction_error` there.

    A large sparse ``X`` is never densified; the error comes from::

        ||X - WH||^2 = ||X||^2 - 2 <X, WH> + ||WH||^2
        ||WH||^2     = sum((W^T W) * (H H^T))          (= trace((W^T W)(H H^T)))
        <X, WH>      = sum over stored (i, j) of X_ij * (W[i] . H[:, j])
                     = sum((X @ H^T) * W)                 (one sparse-dense product)

    in float64. When the relative error is tiny (below about 1e-7) this
    identity loses precision to cancellation; a small sparse ``X`` (up to
    ``2**22`` cells) is therefore densified and computed directly.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (m, n)
    W : ndarray, shape (m, r)
    H : ndarray, shape (r, n)

    Returns
    -------
    dict
        ``{"absolute": float, "relative": float}``.
    """
    return _error_dict(*_full_squares(X, W, H))


def _full_squares(X, W, H) -> tuple[float, float]:
    """``(||X - W H||_F^2, ||X||_F^2)`` over every cell, as :func:`reconstruction_error` computes them."""
    import scipy.sparse as sp
    if not sp.issparse(X):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D matrix, got {X.ndim}-D")
    W, H = _factors(W, H, X.shape)
    m, n = X.shape
    if not sp.issparse(X) or m * n <= _DENSE_CELLS_LIMIT:
        Xd = X.toarray() if sp.issparse(X) else X
        Xd = Xd.astype(np.float64, copy=False)
        R = Xd - W.astype(np.float64, copy=False) @ H.astype(np.float64, copy=False)
        return float(np.vdot(R, R)), float(np.vdot(Xd, Xd))

    Xc = sp.csr_matrix(X, dtype=np.float64)  # sums duplicate entries
    W64 = W.astype(np.float64, copy=False)
    H64 = H.astype(np.float64, copy=False)
    x_sq = float(np.dot(Xc.data, Xc.data))
    # <X, WH> = sum_ij X_ij (W H)_ij = sum(W * (X @ H^T)): one sparse-dense product
    inner = float(np.sum(W64 * (Xc @ H64.T)))
    wh_sq = float(np.sum((W64.T @ W64) * (H64 @ H64.T)))
    return x_sq - 2.0 * inner + wh_sq, x_sq


def masked_reconstruction_error(rows, cols, values, W, H) -> dict:
    """Frobenius error of ``W @ H`` over the observed entries only.

    With ``e_t = values[t] - (W @ H)[rows[t], cols[t]]``::

        absolute = sqrt(sum_t e_t ** 2)
        relative = absolute / sqrt(sum_t values[t] ** 2)

    The right measure for ratings, where unobserved cells are unknown
    (``absolute / sqrt(len(values))`` is the RMSE over those entries).
    ``W @ H`` is never formed; computed in float64, in chunks.

    Parameters
    ----------
    rows, cols : array_like of int, shape (nnz,)
        Row and column of each observed entry.
    values : array_like of float, shape (nnz,)
    W : ndarray, shape (m, r)
    H : ndarray, shape (r, n)

    Returns
    -------
    dict
        ``{"absolute": float, "relative": float}``.
    """
    rows = np.asarray(rows).astype(np.int64, copy=False)
    cols = np.asarray(cols).astype(np.int64, copy=False)
    values = np.asarray(values, dtype=np.float64)
    if rows.ndim != 1 or rows.shape != cols.shape or rows.shape != values.shape:
        raise ValueError("rows, cols and values must be 1-D arrays of one length")
    W, H = _factors(W, H)
    if rows.size:
        if rows.min() < 0 or rows.max() >= W.shape[0]:
            raise ValueError(f"a row index is outside W's {W.shape[0]} rows")
        if cols.min() < 0 or cols.max() >= H.shape[1]:
            raise ValueError(f"a column index is outside H's {H.shape[1]} columns")
    resid = values - _rowwise_dots(W, H, rows, cols)
    return _error_dict(float(np.dot(resid, resid)), float(np.dot(values, values)))


#: One line per reconstruction score, for tooltips, the metrics table and readers of ``--json``.
RECONSTRUCTION_METRIC_DESCRIPTIONS = {
    "relative_error": "share of the data's Frobenius norm the reconstruction misses, ||X - WH|| / ||X|| "
                      "over the cells scored; 0 = perfect",
    "rmse": "root mean squared error per cell scored (absent cells that mean zero count as zeros), "
            "in the data's own units",
    "absolute_error": "||X - WH||_F over the cells scored, in the data's own units",
    "explained_variance_ratio": "share of the total variance of the data's columns that the components capture "
                                "(scikit-learn's TruncatedSVD definition, summed over components)",
    "frobenius_share": "share of the data's squared Frobenius norm the components capture, sum s_i^2 / ||X||^2; "
                       "not a variance: column means count as captured too",
}


def _values_at(X, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``X[rows, cols]`` in float64; cells a sparse ``X`` does not store are 0."""
    import scipy.sparse as sp
    if not sp.issparse(X):
        return np.asarray(X, dtype=np.float64)[rows, cols]
    Xc = sp.csr_matrix(X, dtype=np.float64)  # a copy: sum_duplicates must not touch the caller's matrix
    Xc.sum_duplicates()  # also sorts the indices, so the flat keys below are ascending
    n_cols = Xc.shape[1]
    stored = np.repeat(np.arange(Xc.shape[0], dtype=np.int64), np.diff(Xc.indptr)) * n_cols + Xc.indices
    wanted = rows.astype(np.int64) * n_cols + cols
    out = np.zeros(wanted.shape[0])
    if stored.size:
        pos = np.minimum(np.searchsorted(stored, wanted), stored.size - 1)
        hit = stored[pos] == wanted
        out[hit] = Xc.data[pos[hit]]
    return out


def reconstruction_scores(X, W, H, *, observed_only: bool = False, exclude_cells=None) -> dict:
    """Relative error, RMSE and absolute error of ``X ≈ W @ H`` over the cells a model represents.

    Which cells are scored:

    - ``observed_only=False`` (documents, images, full grids): every cell,
      cells not stored in a sparse ``X`` counting as zeros, except the
      ``exclude_cells`` (cells held out of a fit: unknown, not zero);
    - ``observed_only=True`` (ratings, grids with empty cells): the stored
      entries of ``X`` only (explicit zeros included).

    With ``e`` the residuals over the ``N`` cells scored::

        absolute_error = sqrt(sum e^2)
        relative_error = absolute_error / sqrt(sum x^2)  (0 = perfect; see RECONSTRUCTION_METRIC_DESCRIPTIONS)
        rmse           = sqrt(sum e^2 / N)

    Nothing of the size of ``X`` is formed when ``X`` is large and sparse
    (see :func:`reconstruction_error`); the excluded cells are subtracted
    from the full-matrix sums.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix, shape (m, n)
    W : ndarray, shape (m, r)
    H : ndarray, shape (r, n)
    observed_only : bool, default False
        Score the stored entries of ``X`` only.
    exclude_cells : array_like of int, optional
        Flat indices ``row * n + col`` of cells to leave out (full-matrix mode only).

    Returns
    -------
    dict
        ``{"relative_error": float, "rmse": float, "absolute_error": float}``.

    Raises
    ------
    ValueError
        Shapes that do not match, or no cell left to score.
    """
    import scipy.sparse as sp
    if observed_only:
        if exclude_cells is not None and len(exclude_cells):
            raise ValueError("exclude_cells applies to full-matrix scores; with observed_only, leave those cells out of X")
        if sp.issparse(X):
            coo = sp.coo_matrix(X)
            rows, cols, values = coo.row, coo.col, coo.data
        else:
            X = np.asarray(X)
            rows, cols = np.nonzero(np.ones(X.shape, dtype=bool))
            values = X[rows, cols]
        if len(values) == 0:
            raise ValueError("X stores no entries: there is nothing to score")
        err = masked_reconstruction_error(rows, cols, values, W, H)
        absolute, n_cells = err["absolute"], len(values)
        return {"relative_error": err["relative"], "rmse": float(absolute / np.sqrt(n_cells)), "absolute_error": absolute}
    sq_err, sq_norm = _full_squares(X, W, H)
    m, n = X.shape
    n_cells = m * n
    if exclude_cells is not None and len(exclude_cells):
        cells = unique_sorted(np.asarray(exclude_cells, dtype=np.int64))
        if cells[0] < 0 or cells[-1] >= n_cells:
            raise ValueError(f"exclude_cells holds a cell outside the {m} x {n} matrix")
        rows, cols = np.divmod(cells, n)
        W, H = _factors(W, H, X.shape)
        x = _values_at(X, rows, cols)
        resid = x - _rowwise_dots(W, H, rows, cols)
        sq_err = max(sq_err - float(resid @ resid), 0.0)
        sq_norm = max(sq_norm - float(x @ x), 0.0)
        n_cells -= cells.size
    if n_cells == 0:
        raise ValueError("every cell is excluded: there is nothing to score")
    out = _error_dict(sq_err, sq_norm)
    return {"relative_error": out["relative"], "rmse": float(out["absolute"] / np.sqrt(n_cells)),
            "absolute_error": out["absolute"]}
