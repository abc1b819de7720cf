"""Which column is which: names first, then the shape of the values.

Ratings files in the wild call the same thing ``userId``, ``user_id``,
``UserID``, ``customer``... Names are compared after lower-casing and
dropping ``_``, ``-``, spaces and dots, against the lists below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ColumnRoles", "role_of", "assign_roles"]

_ROLE_NAMES = {
    "user": {
        "user", "userid", "users", "uid", "u", "customer", "customerid", "client", "clientid",
        "member", "memberid", "reader", "readerid", "visitor", "visitorid", "person", "rater",
        "raterid", "viewer", "listener", "account", "accountid", "profile", "profileid",
    },
    "item": {
        "item", "itemid", "items", "iid", "i", "movie", "movieid", "film", "filmid", "product",
        "productid", "book", "bookid", "isbn", "track", "trackid", "song", "songid", "artist",
        "artistid", "anime", "animeid", "game", "gameid", "article", "articleid", "asin",
        "business", "businessid", "restaurant", "joke", "jokeid", "recipe", "recipeid", "video",
        "videoid", "course", "courseid", "sku", "object", "objectid",
    },
    "rating": {
        "rating", "ratings", "rate", "score", "stars", "star", "value", "preference", "grade",
        "r", "userrating", "overall",
    },
    "count": {
        "count", "counts", "plays", "playcount", "listens", "listencount", "clicks", "clickcount",
        "views", "viewcount", "n", "quantity", "qty", "frequency", "freq", "weight", "interactions",
        "purchases", "times",
    },
    "timestamp": {
        "timestamp", "time", "ts", "date", "datetime", "unixtime", "unixtimestamp", "createdat",
        "created", "ratedat", "when", "epoch",
    },
    "text": {
        "text", "body", "content", "contents", "document", "review", "reviewtext",
        "abstract", "sentence", "message", "description", "comment", "tweet", "post", "summary",
        "paragraph", "article_text",
    },
    "doc_id": {"doc", "docid", "documentid", "id", "name", "filename", "file", "title", "label"},
}


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.strip().strip('"').lower())


def role_of(name: str) -> str | None:
    """The role a column name announces, or None."""
    key = _normalise(name)
    for role, names in _ROLE_NAMES.items():
        if key in names:
            return role
    return None


@dataclass
class ColumnRoles:
    """Column indices for each role (None where absent) and the kind they make."""

    kind: str  # explicit / implicit / documents / dense / ambiguous-3 (decided by values)
    user: int | None = None
    item: int | None = None
    value: int | None = None  # rating or count
    timestamp: int | None = None
    text: int | None = None
    doc_id: int | None = None
    reason: str = ""


def assign_roles(layout, kind_hint: str | None = None) -> ColumnRoles:
    """Decide what each column of a sniffed table holds.

    Parameters
    ----------
    layout : TableLayout
        The sniffed table.
    kind_hint : str, optional
        A kind the caller insists on ("explicit", "implicit", "documents",
        "dense"); only used to break ties the shape leaves open.

    Returns
    -------
    ColumnRoles
        ``kind="ratings?"`` means: user, item and a value column, and whether
        the values are ratings or counts is decided from the values.
    """
    from .errors import DataError

    n = layout.n_columns
    roles = [role_of(name) for name in layout.column_names] if layout.has_header else [None] * n
    textual = [
        not layout.numeric[j] and layout.mean_length[j] >= 25 and layout.has_spaces[j] for j in range(n)
    ]

    # 1. Documents: a named text column, or a column of long sentences.
    named_text = [j for j in range(n) if roles[j] == "text" and not layout.numeric[j]]
    text_col = max(named_text, key=lambda j: layout.mean_length[j]) if named_text else None
    if text_col is None and (kind_hint == "documents" or "user" not in roles):
        text_col = next((j for j in range(n) if textual[j]), None)
    if text_col is not None and (kind_hint in (None, "documents")) and not ("user" in roles and "item" in roles):
        doc_id = next((j for j in range(n) if roles[j] == "doc_id" and j != text_col), None)
        return ColumnRoles(kind="documents", text=text_col, doc_id=doc_id, reason="a text column")

    # 2. Named ratings / interactions.
    if "user" in roles and "item" in roles:
        user, item = roles.index("user"), roles.index("item")
        value = next((j for j in range(n) if roles[j] in ("rating", "count")), None)
        ts = next((j for j in range(n) if roles[j] == "timestamp"), None)
        if value is None:
            # An unnamed numeric column beside user and item is the value.
            value = next(
                (j for j in range(n) if roles[j] is None and layout.numeric[j] and j not in (user, item)), None
            )
        if value is None:
            kind = "implicit"
        elif roles[value] == "count":
            kind = "implicit"
        elif roles[value] == "rating":
            kind = "explicit"
        else:
            kind = "ratings?"
        return ColumnRoles(kind=kind, user=user, item=item, value=value, timestamp=ts, reason="column names")

    if n == 1:
        raise DataError(
            "the file has a single column, and mfstudio needs at least a user and an item column",
            layout.path,
            fix="add columns (user,item[,rating]) or open a document collection with a 'text' column",
        )

    # 3. By shape. Ratings files have at most four columns: user, item, value, time.
    all_numeric = all(layout.numeric)
    if kind_hint == "dense" or (all_numeric and (n >= 5 or not (layout.integral[0] and layout.integral[1]))):
        if not all_numeric:
            bad = layout.numeric.index(False)
            raise DataError(
                f"column {bad + 1} is not numeric, so the file is not a numeric grid",
                layout.path,
                fix="keep only numbers in a grid, or lay the data out as user,item,rating rows",
            )
        return ColumnRoles(kind="dense", reason="a numeric grid")
    if n == 2:
        return ColumnRoles(kind="implicit", user=0, item=1, reason="two columns: user,item")
    if n in (3, 4):
        if not layout.numeric[2]:
            raise DataError(
                "the third column is not numeric, so it cannot be a rating or a count",
                layout.path,
                fix="put user, item and a numeric rating in the first three columns, or add a header naming them",
            )
        ts = 3 if n == 4 else None
        kind = "ratings?" if kind_hint not in ("explicit", "implicit") else kind_hint
        return ColumnRoles(kind=kind, user=0, item=1, value=2, timestamp=ts, reason="column order user,item,value")
    raise DataError(
        f"cannot tell which of the {n} columns are the user, the item and the rating",
        layout.path,
        fix="add a header line naming them (e.g. user,item,rating)",
    )
