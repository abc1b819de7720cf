"""MovieLens layouts: recognise them and attach titles and genres.

The ratings files of MovieLens 100K (``u.data``, ``u1.base``...), 1M/10M
(``ratings.dat``) and latest/20M/25M (``ratings.csv``) are ordinary tables that
the generic reader already handles; what makes them MovieLens is the movie
file beside them. This module finds that file and turns it into a title and
a ``|``-joined genre string per item.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .budget import check_allocation
from .dataset import Dataset
from .errors import DataError

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


def _read_ml100k_items(folder: Path) -> tuple[pd.Series, pd.Series]:
    genre_file = folder / "u.genre"
    genres = list(_ML100K_GENRES)
    if genre_file.is_file():
        table = pd.read_csv(genre_file, sep="|", header=None, encoding="latin-1", names=["name", "index"])
        table = table.dropna()
        genres = [str(n) for n in table.sort_values("index")["name"]]
    items = pd.read_csv(
        folder / "u.item", sep="|", header=None, encoding="latin-1", dtype={0: "int64", 1: "str"}, quoting=3
    )
    flags = items.iloc[:, 5 : 5 + len(genres)].fillna(0).to_numpy(dtype=bool)
    names = np.asarray(genres, dtype=object)
    joined = ["|".join(names[row]) for row in flags]
    ids = items[0].to_numpy()
    return pd.Series(items[1].fillna("").to_numpy(), index=ids), pd.Series(joined, index=ids)


def _read_movies_dat(path: Path) -> tuple[pd.Series, pd.Series]:
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
    return (
        pd.Series([r[1] for r in rows], index=ids),
        pd.Series([_clean_genres(r[2]) for r in rows], index=ids),
    )


def _read_movies_csv(path: Path) -> tuple[pd.Series, pd.Series]:
    table = pd.read_csv(path, dtype={"movieId": "int64", "title": "str", "genres": "str"}, encoding="utf-8")
    ids = table["movieId"].to_numpy()
    return (
        pd.Series(table["title"].fillna("").to_numpy(), index=ids),
        pd.Series([_clean_genres(g) for g in table["genres"].fillna("")], index=ids),
    )


def _clean_genres(text: str) -> str:
    text = text.strip()
    return "" if text == "(no genres listed)" else text


def attach_movie_metadata(dataset: Dataset, ratings_path: Path) -> Dataset:
    """Add titles and genres from the MovieLens movie file beside ``ratings_path``.

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
            titles, genres = reader(folder) if filename == "u.item" else reader(source)
        except DataError as exc:
            return replace(dataset, notes=[*dataset.notes, f"titles not loaded: {exc}"])
        except (OSError, ValueError, IndexError, pd.errors.ParserError) as exc:
            note = f"titles not loaded: {DataError(str(exc), source)}"
            return replace(dataset, notes=[*dataset.notes, note])
        titles = titles[~titles.index.duplicated()]
        genres = genres[~genres.index.duplicated()]
        position = titles.index.get_indexer(dataset.col_ids)
        known = position >= 0
        title_arr = dataset.col_ids.astype(str).astype(object)
        title_arr[known] = titles.to_numpy()[position[known]]
        genre_arr = np.full(dataset.n_cols, "", dtype=object)
        genre_pos = genres.index.get_indexer(dataset.col_ids)
        genre_arr[genre_pos >= 0] = genres.to_numpy()[genre_pos[genre_pos >= 0]]
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
        return replace(
            dataset,
            item_titles=title_arr.astype(str),
            item_genres=genre_arr.astype(str),
            notes=notes,
        )
    return dataset
