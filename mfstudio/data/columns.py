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
    "doc_id": {"doc", "docid", "documentid", "id", "name", "filename", "file", "title"},
    "label": {
        "label", "labels", "category", "categories", "class", "classname", "topic", "genre",
        "tag", "section", "newsgroup", "target", "group",
    },
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
    reason: str = ""  # what the columns were taken to be and why, for Dataset.kind_reason


_KIND_WORDS = {
    "explicit": "ratings",
    "implicit": "interactions",
    "documents": "documents",
    "dense": "a numeric grid",
    "images": "images",
}

#: Unix seconds of any date after 12 January 1970 exceed this; a 4th column
#: of smaller whole numbers is not a time but a cell of a grid.
_SMALLEST_TIMESTAMP = 1_000_000


def _describe(layout, j: int) -> str:
    return f"'{layout.column_names[j]}'" if layout.has_header else f"{j + 1}"


def assign_roles(layout, kind_hint: str | None = None) -> ColumnRoles:
    """Decide what each column of a sniffed table holds.

    Parameters
    ----------
    layout : TableLayout
        The sniffed table.
    kind_hint : str, optional
        A kind the caller insists on ("explicit", "implicit", "documents",
        "dense", "images"). It is honoured or refused with a
        :class:`DataError`, never ignored: "documents" needs a text column,
        "dense" reads an all-numeric table as a grid, "images" is refused
        (a table is not a set of images).

    Returns
    -------
    ColumnRoles
        ``kind="ratings?"`` means: user, item and a value column, and whether
        the values are ratings or counts is decided from the values.

    Notes
    -----
    A table of only numbers with three or four columns could be ``user,
    item, rating[, time]`` rows or a small grid typed in. It is read as a
    grid when any of these holds (see :func:`grid_evidence`):

    - a cell is blank (a rating row cannot lack its user, item or value);
    - there are four columns and the fourth holds fractions or whole numbers
      below 1,000,000, which cannot be Unix seconds;
    - the third ("rating") column holds 0 and neither "id" column goes
      beyond that column's largest value: the whole table sits on one small
      scale, as a grid with 0 for unknown does.

    Otherwise it is read as rows, which is what ratings files without a
    header (MovieLens' ``u.data``) are.
    """
    from .errors import DataError

    n = layout.n_columns
    roles = [role_of(name) for name in layout.column_names] if layout.has_header else [None] * n
    textual = [
        not layout.numeric[j] and layout.mean_length[j] >= 25 and layout.has_spaces[j] for j in range(n)
    ]
    has_user_item = "user" in roles and "item" in roles

    # 1. Documents: a named text column, or a column of long sentences.
    named_text = [j for j in range(n) if roles[j] == "text" and not layout.numeric[j]]
    text_col = max(named_text, key=lambda j: layout.mean_length[j]) if named_text else None
    if text_col is None and (kind_hint == "documents" or "user" not in roles):
        text_col = next((j for j in range(n) if textual[j]), None)
    if kind_hint == "documents" and text_col is None:
        raise DataError(
            "no column holds text, so it cannot be read as documents",
            layout.path,
            fix="open it as ratings or interactions, or add a column of text named 'text'",
        )
    if text_col is not None and (kind_hint == "documents" or not has_user_item):
        if kind_hint not in (None, "documents"):
            raise DataError(
                f"column {_describe(layout, text_col)} holds text, so the file is a set of documents, "
                f"not {_KIND_WORDS[kind_hint]}",
                layout.path,
                fix="open it as documents",
            )
        doc_id = next((j for j in range(n) if roles[j] == "doc_id" and j != text_col), None)
        what = f"column {_describe(layout, text_col)}"
        return ColumnRoles(
            kind="documents",
            text=text_col,
            doc_id=doc_id,
            reason=(f"{what} holds text (about {layout.mean_length[text_col]:.0f} characters a line): "
                    "one document per line"),
        )
    if kind_hint == "images":
        raise DataError(
            "a table cannot be read as images",
            layout.path,
            fix="open a folder of images, or a .npy stack of them",
        )

    # 2. Named ratings / interactions.
    if has_user_item:
        user, item = roles.index("user"), roles.index("item")
        if kind_hint == "dense":
            raise DataError(
                f"it is a table of {_describe(layout, user)}, {_describe(layout, item)} rows, not a numeric grid",
                layout.path,
                fix="open it as ratings or interactions",
            )
        value = next((j for j in range(n) if roles[j] in ("rating", "count")), None)
        ts = next((j for j in range(n) if roles[j] == "timestamp"), None)
        if value is None:
            # An unnamed numeric column beside user and item is the value.
            value = next(
                (j for j in range(n) if roles[j] is None and layout.numeric[j] and j not in (user, item)), None
            )
        names = ", ".join(_describe(layout, j) for j in (user, item, value, ts) if j is not None)
        if value is None:
            kind = "implicit"
            reason = f"columns {names} and no value: each line is one interaction"
        elif roles[value] == "count":
            kind = "implicit"
            reason = f"columns {names}: the value column's name says counts"
        elif roles[value] == "rating":
            kind = "explicit"
            reason = f"columns {names}: the value column's name says ratings"
        else:
            kind = "ratings?"
            reason = f"columns {names}"
        return ColumnRoles(kind=kind, user=user, item=item, value=value, timestamp=ts, reason=reason)

    if n == 1:
        raise DataError(
            "the file has a single column, and mfstudio needs at least a user and an item column",
            layout.path,
            fix="add columns (user,item[,rating]) or open a document collection with a 'text' column",
        )

    # 3. By shape. Ratings files have at most four columns: user, item, value, time.
    all_numeric = all(layout.numeric)
    evidence = grid_evidence(layout) if all_numeric else None
    if kind_hint == "dense" or evidence:
        if not all_numeric:
            bad = layout.numeric.index(False)
            raise DataError(
                f"column {bad + 1} is not numeric, so the file is not a numeric grid",
                layout.path,
                fix="keep only numbers in a grid, or lay the data out as user,item,rating rows",
            )
        reason = "a numeric grid" + (f" ({evidence}, so not user,item,rating rows)" if evidence else "")
        return ColumnRoles(kind="dense", reason=reason)
    if n == 2:
        return ColumnRoles(kind="implicit", user=0, item=1,
                           reason="two columns and no value: each line is one (user, item) interaction")
    if n in (3, 4):
        if not layout.numeric[2]:
            raise DataError(
                "the third column is not numeric, so it cannot be a rating or a count",
                layout.path,
                fix="put user, item and a numeric rating in the first three columns, or add a header naming them",
            )
        ts = 3 if n == 4 else None
        reason = "columns read as user, item, value" + (", time" if ts is not None else "")
        return ColumnRoles(kind="ratings?", user=0, item=1, value=2, timestamp=ts, reason=reason)
    raise DataError(
        f"cannot tell which of the {n} columns are the user, the item and the rating",
        layout.path,
        fix="add a header line naming them (e.g. user,item,rating)",
    )


def grid_evidence(layout) -> str | None:
    """Why an all-numeric table is a grid rather than ``user,item,value`` rows.

    Parameters
    ----------
    layout : TableLayout
        A sniffed table whose columns are all numeric (blank cells allowed).

    Returns
    -------
    str or None
        A short phrase naming what was seen (e.g. "some cells are blank"),
        or None when the table reads as rows. The rules are listed in
        :func:`assign_roles`; they look at the sniffed head only, which holds
        the whole of any grid small enough to be typed in.
    """
    n = layout.n_columns
    if n >= 5:
        return f"{n} numeric columns, more than a ratings file has"
    if not (layout.integral[0] and layout.integral[1]):
        return "the first columns hold fractions, so they are not ids"
    rows = layout.head_rows
    if any(len(r) < n or any(t == "" for t in r) for r in rows):
        return "some cells are blank"
    columns = [[float(r[j]) for r in rows if j < len(r) and r[j] != ""] for j in range(n)]
    if n == 4:
        times = columns[3]
        if not layout.integral[3]:
            return "its 4th column holds fractions, not times"
        if times and max(times) < _SMALLEST_TIMESTAMP:
            return f"its 4th column holds numbers up to {max(times):g}, too small to be times"
    if n in (3, 4) and columns[2]:
        values = columns[2]
        lowest = min(min(c) for c in columns if c)
        if 0.0 in values and lowest >= 0 and max(columns[0]) <= max(values) and max(columns[1]) <= max(values):
            return f"every column holds numbers from {lowest:g} to {max(values):g}, with 0 among the values"
    return None
