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
    "similar_items_to", "recommendations_for_new_user",
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


def recommendations_for(model, raw_user, n: int = 10, exclude_seen: bool = True) -> list[Row]:
    """Top-``n`` items for a user given by raw id, with titles, scores and genres."""
    user = _user_index(model, raw_user)
    items, scores = model.recommend([user], n=n, exclude_seen=exclude_seen)
    return _rows(model.train_, items[0], scores[0])


def known_ratings(model, raw_user) -> list[Row]:
    """The user's training entries, highest value first (the "what they told us" table)."""
    train = model.train_
    user = _user_index(model, raw_user)
    mask = train.rows == user
    items, values = train.cols[mask].astype(np.int64), train.values[mask]
    order = np.argsort(-values, kind="stable")
    return _rows(train, items[order], values[order], score_name="value")


def similar_items_to(model, raw_item, n: int = 10) -> list[Row]:
    """Items nearest to one item in factor space (cosine similarity)."""
    item = _item_index(model, raw_item)
    items, sims = model.similar_items(item, n=n)
    return _rows(model.train_, np.asarray(items), np.asarray(sims), score_name="similarity")


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


def recommendations_for_new_user(model, ratings: dict, n: int = 10) -> list[Row]:
    """Fold in a new person's ticks and ratings ``{raw item: value}`` and recommend for them.

    Each value is a tick (:data:`TICK` or ``None``: "liked", a positive
    interaction) or a number (a rating; on implicit data a count); see
    :func:`read_new_user`. Every given item is left out of the list. Items
    the model does not know are ignored (they carry no factors).

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
    top_items, top_scores = model.recommend_for_new_user(given.items, given.values, n=n, also_seen=given.seen)
    return _rows(train, top_items, top_scores)
