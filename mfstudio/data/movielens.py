"""MovieLens layouts: recognise them and attach titles, genres and side features.

The ratings files of MovieLens 100K (``u.data``, ``u1.base``...), 1M/10M
(``ratings.dat``) and latest/20M/25M (``ratings.csv``) are ordinary tables that
the generic reader already handles; what makes them MovieLens is the movie
file beside them. This module finds that file and turns it into a title and
a ``|``-joined genre string per item; and, with no configuration, the side
features hybrid models use (:mod:`mfstudio.data.features`): each movie's
genres and release decade (from the year in its title), and each user's age
band, gender and occupation from ``u.user`` (100K) or ``users.dat`` (1M).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
import re

import numpy as np

from .budget import check_allocation
from .dataset import Dataset
from .errors import DataError
from . import features as _features

__all__ = ["RATINGS_FILES", "find_ratings_file", "attach_movie_metadata", "movielens_name"]

#: Ratings file in a MovieLens folder, in order of preference.
RATINGS_FILES = ("u.data", "ratings.dat", "ratings.csv")

# u.genre lists these in this order; used when u.genre itself is missing.
_ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)


def find_ratings_file(folder: Path) -> Path | None:
    """The MovieLens ratings file in ``folder``, if it is a MovieLens folder."""
    for name in RATINGS_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def movielens_name(path: Path) -> str | None:
    """A display name such as "MovieLens 100K (u.data)" when ``path`` is a MovieLens file."""
    folder = path.parent
    if (folder / "u.item").is_file():
        return f"MovieLens 100K ({path.name})"
    if (folder / "movies.dat").is_file():
        size = "10M" if "10m" in folder.name.lower() else "1M"
        return f"MovieLens {size} ({path.name})"
    if (folder / "movies.csv").is_file():
        label = folder.name.replace("ml-", "").replace("-", " ") or "latest"
        return f"MovieLens {label} ({path.name})"
    return None


# Each reader returns (ids, titles, genres): int64 ids in file order and two
# lists of strings. u.item and movies.dat are small and read in Python (no
# pandas: a terminal fit on MovieLens 100K should not import it); movies.csv
# has quoted titles and is read by pandas.


def _ml100k_genre_names(folder: Path) -> list[str]:
    genre_file = folder / "u.genre"
    if not genre_file.is_file():
        return list(_ML100K_GENRES)
    pairs = []
    for line in genre_file.read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        if len(fields) > 2:
            raise ValueError(f"u.genre: expected 2 fields, saw {len(fields)}")
        if len(fields) == 2 and fields[0] != "" and fields[1].strip() != "":
            pairs.append((float(fields[1]), fields[0]))
    return [name for _, name in sorted(pairs, key=lambda pair: pair[0])]


def _read_ml100k_items(folder: Path) -> tuple[np.ndarray, list[str], list[str]]:
    genres = _ml100k_genre_names(folder)
    rows = [line.split("|") for line in (folder / "u.item").read_text(encoding="latin-1").splitlines() if line.strip()]
    width = len(rows[0]) if rows else 0
    ids, titles, joined = [], [], []
    for number, fields in enumerate(rows, start=1):
        if len(fields) > width:
            raise ValueError(f"Error tokenizing data. Expected {width} fields in line {number}, saw {len(fields)}")
        ids.append(int(fields[0]))
        titles.append(fields[1] if len(fields) > 1 else "")
        flags = fields[5:5 + len(genres)]
        joined.append("|".join(name for name, flag in zip(genres, flags) if flag.strip() and float(flag) != 0))
    return np.asarray(ids, dtype=np.int64), titles, joined


def _read_movies_dat(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    # Titles contain ':' and ',' but never '::'; the file is small (<= 11k lines).
    for encoding in ("utf-8", "latin-1"):
        try:
            text = path.read_text(encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
    rows = [line.split("::") for line in text.splitlines() if line.strip()]
    rows = [r for r in rows if len(r) >= 3 and r[0].strip().isdigit()]
    ids = np.asarray([int(r[0]) for r in rows], dtype=np.int64)
    return ids, [r[1] for r in rows], [_clean_genres(r[2]) for r in rows]


def _read_movies_csv(path: Path) -> tuple[np.ndarray, list[str], list[str]]:
    import pandas as pd

    table = pd.read_csv(path, dtype={"movieId": "int64", "title": "str", "genres": "str"}, encoding="utf-8")
    ids = table["movieId"].to_numpy()
    return (
        np.asarray(ids, dtype=np.int64),
        list(table["title"].fillna("").to_numpy()),
        [_clean_genres(g) for g in table["genres"].fillna("")],
    )


def _first_positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where each wanted id first occurs in ``ids`` (-1 where it does not)."""
    order = np.argsort(ids, kind="stable")  # stable: the first of repeated ids comes first
    ordered = ids[order]
    slot = np.searchsorted(ordered, wanted)  # leftmost: the first occurrence
    slot = np.minimum(slot, max(ordered.size - 1, 0))
    position = np.full(wanted.size, -1, dtype=np.int64)
    if ordered.size:
        found = ordered[slot] == wanted
        position[found] = order[slot[found]]
    return position


def _clean_genres(text: str) -> str:
    text = text.strip()
    return "" if text == "(no genres listed)" else text


_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _item_feature_lists(titles, genres) -> list[list[str]]:
    """``genre=...`` per genre and ``decade=1990s`` from the year a MovieLens title ends with."""
    out = []
    for title, joined in zip(titles, genres):
        values = [f"genre={g}" for g in str(joined).split("|") if g]
        found = _YEAR.search(str(title))
        if found:
            values.append(f"decade={int(found.group(1)) // 10 * 10}s")
        out.append(values)
    return out


def attach_movie_metadata(dataset: Dataset, ratings_path: Path) -> Dataset:
    """Titles, genres and item features from the movie file, user features from the user file.

    See :func:`attach_titles` and :func:`attach_user_features`.
    """
    return attach_user_features(attach_titles(dataset, ratings_path), ratings_path)


def attach_user_features(dataset: Dataset, ratings_path: Path) -> Dataset:
    """Add age band, gender and occupation from ``u.user`` / ``users.dat`` beside ``ratings_path``.

    A user file that cannot be read is reported as a note (file and line),
    not an error: the ratings themselves are fine.
    """
    if dataset.row_ids.dtype.kind != "i":
        return dataset
    try:
        found = _features.read_movielens_users(ratings_path.parent)
    except DataError as exc:
        return replace(dataset, notes=[*dataset.notes, f"user features not loaded: {exc}"])
    except OSError as exc:
        return replace(dataset, notes=[*dataset.notes, f"user features not loaded: {exc}"])
    if found is None:
        return dataset
    ids, lists, filename = found
    return replace(dataset, user_features=_features.align(ids, lists, dataset.row_ids, filename))


def attach_titles(dataset: Dataset, ratings_path: Path) -> Dataset:
    """Add titles, genres and item features (genres, decade) from the MovieLens movie file beside ``ratings_path``.

    Items the movie file does not list keep their raw id as title. A movie
    file that cannot be read is reported as a note, not an error: the
    ratings themselves are fine.
    """
    folder = ratings_path.parent
    readers = (("u.item", _read_ml100k_items), ("movies.dat", _read_movies_dat), ("movies.csv", _read_movies_csv))
    for filename, reader in readers:
        source = folder / filename
        if not source.is_file():
            continue
        if dataset.col_ids.dtype.kind != "i":
            return dataset
        try:
            # Read whole by pandas or as Python strings: ~10 bytes in memory per byte on disk.
            check_allocation(source.stat().st_size * 10, "the movie file", source)
            found = reader(folder) if filename == "u.item" else reader(source)
        except DataError as exc:
            return replace(dataset, notes=[*dataset.notes, f"titles not loaded: {exc}"])
        except (OSError, ValueError, IndexError) as exc:  # pandas' ParserError is a ValueError
            note = f"titles not loaded: {DataError(str(exc), source)}"
            return replace(dataset, notes=[*dataset.notes, note])
        ids, titles, genres = found
        position = _first_positions(ids, np.asarray(dataset.col_ids, dtype=np.int64))
        known = position >= 0
        title_arr = dataset.col_ids.astype(str).astype(object)
        title_arr[known] = np.asarray(titles, dtype=object)[position[known]]
        genre_arr = np.full(dataset.n_cols, "", dtype=object)
        genre_arr[known] = np.asarray(genres, dtype=object)[position[known]]
        notes = list(dataset.notes)
        # numpy widens every title to the longest one: a 1 MB "title" times
        # thousands of movies is gigabytes.
        longest = max((len(t) for t in title_arr), default=0) + max((len(g) for g in genre_arr), default=0)
        try:
            check_allocation(dataset.n_cols * longest * 4, f"the titles (the longest {longest:,} characters)", source)
        except DataError as exc:
            return replace(dataset, notes=[*notes, f"titles not loaded: {exc}"])
        missing = int((~known).sum())
        if missing:
            notes.append(f"{missing} items have no title in {filename}")
        item_features = _features.align(dataset.col_ids, _item_feature_lists(title_arr, genre_arr),
                                        dataset.col_ids, filename)
        return replace(
            dataset,
            item_titles=title_arr.astype(str),
            item_genres=genre_arr.astype(str),
            item_features=item_features,
            notes=notes,
        )
    return dataset

