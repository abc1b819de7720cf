"""Recommendation tables in the user's terms: raw ids in, titles and scores out.

Models work on internal ids; people think in "user 196" and "Star Wars
(1977)". These functions translate at the edge, so the CLI, the GUI tables
and the tests show the same rows.
"""

from __future__ import annotations

import numpy as np

from .data.errors import DataError

__all__ = ["Row", "recommendations_for", "known_ratings", "similar_items_to", "recommendations_for_new_user"]

Row = dict  # {"rank", "item", "title", "score", "genres"}


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


def recommendations_for_new_user(model, ratings: dict, n: int = 10) -> list[Row]:
    """Fold in a new person's ratings ``{raw item: value}`` and recommend for them.

    Items the model does not know are ignored (they carry no factors).
    """
    train = model.train_
    raw_items = list(ratings)
    items = train.col_of(raw_items)
    known = items >= 0
    if not known.any():
        raise DataError("none of the rated items is in the training data", fix="rate items from the list")
    values = np.asarray([float(ratings[r]) for r in raw_items])[known]
    top_items, top_scores = model.recommend_for_new_user(items[known], values, n=n)
    return _rows(train, top_items, top_scores)
