"""Recommendation tables in the user's terms: raw ids in, titles and scores out.

Models work on internal ids; people think in "user 196" and "Star Wars
(1977)". These functions translate at the edge, so the CLI, the GUI tables
and the tests show the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data.errors import DataError

__all__ = [
    "Row", "TICK", "NewUserInput", "is_tick", "read_new_user", "recommendations_for", "known_ratings",
    "similar_items_to", "recommendations_for_new_user", "item_support", "default_min_support",
    "resolve_min_support", "MIN_SUPPORT_QUANTILE", "MIN_SUPPORT_FLOOR",
]

Row = dict  # {"rank", "item", "title", "score", "genres"}

#: A new user's "I liked this", with no rating: the value to give an item in
#: :func:`recommendations_for_new_user` (``None`` means the same).
TICK = "tick"


def _user_index(model, raw_user) -> int:
    train = model.train_
    index = int(train.row_of([raw_user])[0])
    if index < 0:
        sample = ", ".join(str(x) for x in train.row_ids[:3])
        raise DataError(
            f"there is no {train.row_label} '{raw_user}' in the training data",
            fix=f"use an id from the data (e.g. {sample}), or fold in a new {train.row_label}'s ratings",
        )
    return index


def _item_index(model, raw_item) -> int:
    train = model.train_
    index = int(train.col_of([raw_item])[0])
    if index < 0:
        raise DataError(f"there is no {train.col_label} '{raw_item}' in the training data", fix="use an id from the data")
    return index


def _rows(train, items: np.ndarray, scores: np.ndarray, score_name: str = "score") -> list[Row]:
    keep = items >= 0
    items, scores = items[keep], scores[keep]
    titles = train.title_of(items)
    genres = train.item_genres[items] if train.item_genres is not None else [""] * items.size
    return [
        {"rank": rank, "item": train.col_ids[i].item(), "title": str(t), score_name: float(s), "genres": str(g)}
        for rank, (i, t, s, g) in enumerate(zip(items, titles, scores, genres), start=1)
    ]


#: The default minimum support is this quantile of the training ratings per item ...
MIN_SUPPORT_QUANTILE = 40
#: ... raised to at least this many ratings, but never above the median (half the catalogue stays listable).
MIN_SUPPORT_FLOOR = 5


def item_support(train) -> np.ndarray:
    """How many training entries (ratings, interactions) each item has.

    Parameters
    ----------
    train : mfstudio.data.Dataset
        The training data (``model.train_``).

    Returns
    -------
    ndarray of int64, shape (n_cols,)
    """
    return np.asarray(train.col_counts(), dtype=np.int64)


def default_min_support(train) -> int:
    """A minimum number of training ratings an item needs before it is recommended or called similar.

    An item rated twice gets factors fitted to two numbers: its cosine to
    anything can be large by chance (ML-100K's *Santa with Muscles* next to
    *Alien*). The default is the 40th percentile of the ratings per rated
    item (a person rarely knows a film fewer people rated), raised to at
    least :data:`MIN_SUPPORT_FLOOR` but never above the median, so at least
    half of the rated items stay listable even on a toy matrix. On all of
    ML-100K this is 16 ratings, on an 80 % training split 13.

    Parameters
    ----------
    train : mfstudio.data.Dataset

    Returns
    -------
    int
        At least 1.
    """
    counts = item_support(train)
    counts = counts[counts > 0]
    if counts.size == 0:
        return 1
    quantile = float(np.percentile(counts, MIN_SUPPORT_QUANTILE))
    median = float(np.median(counts))
    return max(1, int(min(max(quantile, MIN_SUPPORT_FLOOR), median)))


def resolve_min_support(model, min_support: int | None) -> int:
    """``min_support`` as a number: None means :func:`default_min_support` of the model's training data."""
    if min_support is None:
        return default_min_support(model.train_)
    return max(0, int(min_support))


def _supported_top(model, items: np.ndarray, scores: np.ndarray, n: int, min_support: int):
    """The first ``n`` of a ranked list whose items have at least ``min_support`` training entries."""
    items, scores = np.asarray(items), np.asarray(scores)
    # Ranking the whole catalogue reaches the excluded entries (the query item, seen items) at -inf.
    keep = (items >= 0) & np.isfinite(scores)
    if min_support > 0:
        support = item_support(model.train_)
        keep &= support[np.where(keep, items, 0)] >= min_support
    return items[keep][:n], scores[keep][:n]


def _ranked_length(model, n: int, min_support: int) -> int:
    # With a filter the top n may all be rare items: rank the whole catalogue, then keep the supported ones.
    return int(model.train_.n_cols) if min_support > 0 else n


def recommendations_for(model, raw_user, n: int = 10, exclude_seen: bool = True,
                        min_support: int | None = 0) -> list[Row]:
    """Top-``n`` items for a user given by raw id, with titles, scores and genres.

    Parameters
    ----------
    model : fitted model
    raw_user : id as in the data file
    n : int
        List length.
    exclude_seen : bool
        Leave out the user's training items.
    min_support : int or None
        Only items with at least this many training ratings (see
        :func:`item_support`); 0 keeps every item, None uses
        :func:`default_min_support`.
    """
    user = _user_index(model, raw_user)
    support = resolve_min_support(model, min_support)
    items, scores = model.recommend([user], n=_ranked_length(model, n, support), exclude_seen=exclude_seen)
    items, scores = _supported_top(model, items[0], scores[0], n, support)
    return _rows(model.train_, items, scores)


def known_ratings(model, raw_user) -> list[Row]:
    """The user's training entries, highest value first (the "what they told us" table)."""
    train = model.train_
    user = _user_index(model, raw_user)
    mask = train.rows == user
    items, values = train.cols[mask].astype(np.int64), train.values[mask]
    order = np.argsort(-values, kind="stable")
    return _rows(train, items[order], values[order], score_name="value")


def similar_items_to(model, raw_item, n: int = 10, min_support: int | None = 0) -> list[Row]:
    """Items nearest to one item in factor space (cosine similarity).

    Parameters
    ----------
    model : fitted model
    raw_item : id as in the data file
    n : int
        List length.
    min_support : int or None
        Only items with at least this many training ratings; 0 keeps every
        item, None uses :func:`default_min_support`. The query item itself
        is never filtered (asking about a rare item is fine).
    """
    item = _item_index(model, raw_item)
    support = resolve_min_support(model, min_support)
    items, sims = model.similar_items(item, n=_ranked_length(model, n, support))
    items, sims = _supported_top(model, items, sims, n, support)
    return _rows(model.train_, items, sims, score_name="similarity")


def is_tick(value) -> bool:
    """Whether a new user's value is a tick (:data:`TICK`, ``None`` or NaN) rather than a rating."""
    if value is None or (isinstance(value, str) and value.strip().lower() == TICK):
        return True
    return isinstance(value, (int, float, np.integer, np.floating)) and math.isnan(float(value))


@dataclass(frozen=True)
class NewUserInput:
    """How a model reads a new user's ticks and ratings (what new-user mode tells the person).

    Attributes
    ----------
    items : ndarray of int64
        Internal ids of the given items the model uses in the fold-in.
    values : ndarray of float64
        Their values as the model's ``fold_in`` takes them: NaN for a tick.
    seen : ndarray of int64
        Internal ids of every given item the model knows; all are left out
        of the recommendations (the person has seen them).
    unused_ticks : tuple
        Raw ids of ticks a model of rating values cannot use (it needs a
        number); they are still left out of the list.
    not_liked : tuple
        Raw ids rated below a ranking model's ``threshold``: seen, not a like.
    unknown : tuple
        Raw ids the training data does not have (no factors to use).
    """

    items: np.ndarray
    values: np.ndarray
    seen: np.ndarray
    unused_ticks: tuple
    not_liked: tuple
    unknown: tuple


def read_new_user(model, ratings: dict) -> NewUserInput:
    """Interpret ``{raw item: value}`` for ``model``: each value a tick or a rating.

    A tick (:data:`TICK`, ``None`` or NaN) is a positive interaction, "I
    liked it". A number is a rating when the model was fitted on ratings
    (a ranking model then counts it as a like only at or above its
    ``threshold``, as in training) and an interaction count on implicit
    data. A model that predicts ratings regresses on the numbers, so it
    cannot use a tick: those are reported in ``unused_ticks``, never turned
    into a rating.
    """
    from .models.base import TICK_VALUE

    train = model.train_
    raw_items = list(ratings)
    index = train.col_of(raw_items) if raw_items else np.zeros(0, np.int64)
    ticks = np.asarray([is_tick(ratings[r]) for r in raw_items], dtype=bool)
    values = np.asarray([TICK_VALUE if t else float(ratings[r]) for r, t in zip(raw_items, ticks)], dtype=np.float64)
    known = index >= 0
    unknown = tuple(r for r, k in zip(raw_items, known) if not k)
    rating_model = model.task != "ranking" and train.kind == "explicit"
    use = known & ~ticks if rating_model else known
    unused_ticks = tuple(r for r, k, t in zip(raw_items, known, ticks) if k and t) if rating_model else ()
    not_liked: tuple = ()
    threshold = model.params.get("threshold")
    if model.task == "ranking" and train.kind == "explicit" and threshold is not None:
        not_liked = tuple(r for r, k, t, v in zip(raw_items, known, ticks, values) if k and not t and v < threshold)
    return NewUserInput(
        items=np.asarray(index[use], dtype=np.int64), values=values[use],
        seen=np.asarray(index[known], dtype=np.int64), unused_ticks=unused_ticks, not_liked=not_liked,
        unknown=unknown,
    )


def recommendations_for_new_user(model, ratings: dict, n: int = 10, min_support: int | None = 0) -> list[Row]:
    """Fold in a new person's ticks and ratings ``{raw item: value}`` and recommend for them.

    Each value is a tick (:data:`TICK` or ``None``: "liked", a positive
    interaction) or a number (a rating; on implicit data a count); see
    :func:`read_new_user`. Every given item is left out of the list. Items
    the model does not know are ignored (they carry no factors).
    ``min_support`` is as for :func:`recommendations_for`.

    Raises
    ------
    DataError
        None of the items is known, or a model of rating values got only
        ticks (it needs ratings).
    """
    train = model.train_
    given = read_new_user(model, ratings)
    if given.seen.size == 0:
        raise DataError("none of the rated items is in the training data", fix="rate items from the list")
    if given.items.size == 0 and given.unused_ticks:
        raise DataError(
            f"{model.title or model.name} predicts ratings and cannot use a tick "
            f"({len(given.unused_ticks)} ticked {train.col_label}{'s' if len(given.unused_ticks) != 1 else ''})",
            fix="give them a rating, or choose a ranking model (BPR, implicit ALS)",
        )
    support = resolve_min_support(model, min_support)
    top_items, top_scores = model.recommend_for_new_user(given.items, given.values,
                                                         n=_ranked_length(model, n, support), also_seen=given.seen)
    top_items, top_scores = _supported_top(model, top_items, top_scores, n, support)
    return _rows(train, top_items, top_scores)
