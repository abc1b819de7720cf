"""Load any supported file or folder into a :class:`Dataset`, with no configuration.

:func:`load` looks at what it is given and picks the reader:

========================================  ==========================================
what                                      becomes
========================================  ==========================================
CSV / TSV / ``::`` / whitespace table     ratings (explicit), interactions (implicit),
                                          documents (a text column) or a dense grid
MovieLens file or folder                  ratings with titles and genres
folder of ``.txt`` files                  documents (scikit-learn vectorizer)
folder of images                          images, one row of pixels per image
one image                                 a dense matrix of its grey levels
``.mtx`` (+ vocabulary file)              documents, or an interaction matrix
``.npz`` from ``scipy.sparse.save_npz``   an interaction matrix
``.npy`` / ``.npz`` arrays                a dense matrix (3-D: images)
========================================  ==========================================

Every failure a user can fix is a :class:`~mfstudio.data.errors.DataError`
naming the file, the line where there is one, and what to do.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import movielens
from .arrays import unique_sorted
from .budget import array_bytes, check_allocation, check_array, format_bytes, npy_header, npz_members
from .columns import assign_roles
from .dataset import KINDS, Dataset, default_kind_choices
from .errors import DataError
from .tables import (
    _QUOTING_DELIMITERS,
    NumpyColumn,
    ReadAgain,
    TableLayout,
    first_bad_row,
    iter_batches,
    physical_line,
    read_table,
    sniff_table,
)
from .text import vectorize_texts

__all__ = ["load", "open_data", "can_load", "treat_as", "explicit_or_implicit", "TABLE_SUFFIXES", "IMAGE_SUFFIXES"]

TABLE_SUFFIXES = {".csv", ".tsv", ".tab", ".dat", ".data", ".txt", ".base", ".test", ".psv", ""}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}
TEXT_SUFFIXES = {".txt", ".text", ".md"}
ARRAY_SUFFIXES = {".npy", ".npz", ".mtx"}
_VOCAB_NAMES = ("{stem}.vocab", "{stem}.vocab.txt", "{stem}.terms", "{stem}_vocab.txt", "vocab.txt",
                "vocabulary.txt", "vocab", "terms.txt", "features.txt", "words.txt")


def can_load(path) -> bool:
    """Whether :func:`load` has a reader for ``path`` (by name alone, nothing is read).

    The GUI asks this before accepting a drop, so that unsupported files are
    refused before they land.
    """
    p = Path(path)
    if p.is_dir():
        return True
    suffix = p.suffix.lower()
    if p.name.lower() in movielens.RATINGS_FILES:
        return True
    if re.fullmatch(r"u[0-9ab]\.(base|test)", p.name.lower()):
        return True
    return suffix in TABLE_SUFFIXES | IMAGE_SUFFIXES | ARRAY_SUFFIXES


def load(
    path,
    *,
    kind: str | None = None,
    weighting: str = "tfidf",
    stop_words: str | None = "english",
    min_df: int | float | None = None,
    max_features: int | None = 20_000,
) -> Dataset:
    """Load a file or folder, recognising its layout.

    Parameters
    ----------
    path : str or os.PathLike
        File or folder.
    kind : {"explicit", "implicit", "documents", "dense", "images"}, optional
        Read the data as this kind instead of the detected one. Honoured for
        every layout where it makes sense (the dataset's
        ``summary().kind_choices`` lists them), refused with a
        :class:`DataError` elsewhere, never ignored. ``"explicit"`` on a grid
        reads 0 as unknown (unless blank cells mark the unknown ones),
        ``"dense"`` keeps every cell, 0 included.
    weighting, stop_words, min_df, max_features
        How documents are vectorised; see :func:`mfstudio.data.text.vectorize_texts`.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        One sentence naming the file, the line and the fix; also when
        ``kind`` does not fit the data (documents from a table without text).

    Notes
    -----
    The detected kind and the reason for it are in ``Dataset.kind_reason``;
    how ratings are told from counts is described in
    :func:`explicit_or_implicit`.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    doc_options = dict(weighting=weighting, stop_words=stop_words, min_df=min_df, max_features=max_features)
    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise DataError("no such file or folder", p, fix="check the path and try again")
    try:
        if p.is_dir():
            dataset = _load_folder(p, kind, doc_options)
        else:
            dataset = _load_file(p, kind, doc_options)
    except PermissionError:
        raise DataError("permission to read it was denied", p, fix="check the file's permissions") from None
    except IsADirectoryError:
        raise DataError("expected a file but found a folder", p, fix="open the folder itself") from None
    except MemoryError:
        raise DataError(
            "it is too large to fit in memory", p, fix="use a smaller file or a machine with more memory"
        ) from None
    if dataset.nnz == 0:
        raise DataError("no values were found in it", p, fix="check that the file holds data")
    return dataset


def open_data(spec, **options) -> Dataset:
    """Load ``spec``: a path, or ``sample:NAME`` for a built-in sample.

    The CLI and the GUI accept both forms wherever a dataset is asked for.
    """
    text = os.fspath(spec)
    if isinstance(text, str) and text.startswith("sample:"):
        from .samples import load_sample

        kind = options.get("kind")
        dataset = load_sample(text.split(":", 1)[1])
        return dataset if kind is None else treat_as(dataset, kind)
    return load(spec, **options)


def treat_as(dataset: Dataset, kind: str) -> Dataset:
    """The same entries read as another kind, where no file needs re-reading.

    Used for built-in samples (which have no file) and by anyone holding a
    dataset: ratings <-> interactions, images -> a dense matrix, a grid with
    0 for unknown -> the full grid (from ``truth["matrix"]``) and back.

    Parameters
    ----------
    dataset : Dataset
    kind : str
        One of ``dataset.summary().kind_choices``.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        ``kind`` is not among the dataset's choices.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    if kind == dataset.kind:
        return dataset
    choices = tuple(dataset.kind_choices) or default_kind_choices(dataset)
    where = dataset.source or dataset.name
    if kind not in choices:
        raise DataError(
            f"it holds {_KIND_WORDS[dataset.kind]}, which cannot be read as {_KIND_WORDS[kind]}",
            where,
            fix=f"choose one of: {', '.join(choices)}",
        )
    asked = f"read as {_KIND_WORDS[kind]} as asked (detected: {_KIND_WORDS[dataset.kind]})"
    grid = dataset.truth.get("matrix")
    if grid is not None and np.shape(grid) == dataset.shape:
        # A small grid kept whole (the tutorial toys): re-read it like a typed grid.
        converted = _dataset_from_grid(Path(where), np.asarray(grid, dtype=np.float64), kind=kind,
                                       row_ids=dataset.row_ids, col_ids=dataset.col_ids, name=dataset.name)
        return replace(converted, source=dataset.source, notes=list(dataset.notes), truth=dict(dataset.truth))
    values = dataset.values
    if kind == "implicit" and dataset.nnz and float(values.min()) < 0:
        raise DataError("it has negative values, and interaction counts cannot be", where,
                        fix="read it as ratings or as a dense grid")
    rating_scale = None
    if kind == "explicit":
        rating_scale = dataset.rating_scale or _scale_of(values)
    return replace(dataset, kind=kind, rating_scale=rating_scale, kind_reason=asked,
                   kind_choices=choices, notes=list(dataset.notes), truth=dict(dataset.truth))


_KIND_WORDS = {
    "explicit": "explicit ratings",
    "implicit": "interactions (implicit)",
    "documents": "documents",
    "dense": "a dense grid of numbers",
    "images": "images",
}


def _scale_of(values: np.ndarray) -> tuple[float, float] | None:
    if not values.size:
        return None
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if lo < hi else None


def _refuse(p, what: str, kind: str, choices) -> DataError:
    return DataError(
        f"it is {what}, which cannot be read as {_KIND_WORDS[kind]}",
        p,
        fix=f"choose one of: {', '.join(choices)}",
    )


# ---------------------------------------------------------------- dispatch


def _load_file(p: Path, kind, doc_options) -> Dataset:
    suffix = p.suffix.lower()
    if p.stat().st_size == 0:
        raise DataError("the file is empty", p, fix="choose a file that has data in it")
    if suffix == ".mtx":
        return _load_matrix_market(p, kind)
    if suffix == ".npz":
        return _load_npz(p, kind)
    if suffix == ".npy":
        return _load_npy(p, kind)
    if suffix in IMAGE_SUFFIXES:
        return _load_single_image(p, kind)
    return _load_table(p, kind, doc_options)


def _load_folder(p: Path, kind, doc_options) -> Dataset:
    ratings = movielens.find_ratings_file(p)
    if ratings is not None and kind in (None, "explicit", "implicit"):
        return _load_table(ratings, kind, doc_options)
    files = sorted((f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")), key=_natural_key)
    if not files:
        raise DataError("the folder is empty", p, fix="choose a folder with text files or images in it")
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    texts = [f for f in files if f.suffix.lower() in TEXT_SUFFIXES]
    if kind in ("images", "dense") or (images and len(images) >= len(texts) and kind != "documents"):
        if not images:
            raise DataError("the folder has no image files", p, fix="add .png or .jpg images of one size")
        if kind in ("explicit", "implicit"):
            raise _refuse(p, f"a folder of {len(images)} images", kind, _IMAGE_CHOICES)
        dataset = _load_image_folder(p, images)
        return treat_as(dataset, kind) if kind == "dense" else dataset
    if texts:
        if kind not in (None, "documents"):
            raise _refuse(p, f"a folder of {len(texts)} text files", kind, ("documents",))
        return _load_text_folder(p, texts, doc_options)
    shown = ", ".join(f.name for f in files[:3])
    raise DataError(
        f"the folder has no files mfstudio can read as one dataset (found {shown}"
        + (", ..." if len(files) > 3 else "")
        + ")",
        p,
        fix="open a ratings file directly, or a folder of .txt documents or of images",
    )


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


# ---------------------------------------------------------------- tables


#: Bytes one line of a user,item,value table costs on its way to a Dataset
#: (Arrow columns, id codes, the duplicate check's sorted keys): 73 (integer
#: ids) and 85 (text ids) measured on two million rows, rounded up.
_BYTES_PER_TABLE_ROW = 96

#: Bytes per byte of a document table: the texts as Python strings, their
#: tokens and the vectorizer's counts.
_BYTES_PER_DOCUMENT_BYTE = 8


def _check_table_size(p: Path, layout: TableLayout, roles) -> None:
    """Refuse, before reading, a table whose estimated rows (from its size and its head) do not fit.

    Text files cannot declare a size, so the number of lines is estimated
    from the mean length of the head's lines; the estimate errs on the
    generous side only for files whose later lines are much shorter.
    """
    lines = layout.estimated_lines
    about = f"about {lines:,} lines" if layout.truncated else f"{lines:,} lines"
    if roles.kind == "documents":
        need = layout.file_bytes * _BYTES_PER_DOCUMENT_BYTE
        what = f"the {format_bytes(layout.file_bytes)} of documents in it"
    elif roles.kind == "dense":
        need = lines * layout.n_columns * (GRID_BYTES_PER_CELL + 8)
        what = f"its grid of {about} x {layout.n_columns:,} columns"
    else:
        # String ids are kept as text too; their bytes come on top of the row cost.
        need = lines * _BYTES_PER_TABLE_ROW + layout.file_bytes
        what = f"its {about} of ratings or interactions"
    check_allocation(need, what, p, fix="use a smaller file or a sample of its lines")


def _load_table(p: Path, kind, doc_options) -> Dataset:
    layout = sniff_table(str(p))
    roles = assign_roles(layout, kind)
    _check_table_size(p, layout, roles)
    if roles.kind == "documents":
        return _documents_from_table(p, layout, roles, doc_options)
    if roles.kind == "dense":
        return _grid_from_table(p, layout, kind, roles.reason)
    dataset = _triples_from_table(p, layout, roles, kind)
    if dataset.col_ids.dtype.kind == "i":
        dataset = movielens.attach_movie_metadata(dataset, p)
    return dataset


#: Tables of at least this many bytes are read in record batches
#: (:func:`_triples_streamed`): the Arrow columns of a whole 25M-row file
#: beside their numpy copies were twice the arrays a Dataset keeps. Smaller
#: files are read whole (the numpy reader of small numeric files included).
STREAM_TABLE_BYTES = 32 << 20


def _triples_from_table(p: Path, layout: TableLayout, roles, kind_hint) -> Dataset:
    # int32 ids halve the memory of a big file; wider ids fall back to int64,
    # then to strings (read_table retries).
    types = {j: ("int32" if layout.integral[j] else "string") for j in (roles.user, roles.item)}
    if roles.value is not None:
        types[roles.value] = "float32"
    if roles.timestamp is not None:
        types[roles.timestamp] = "int64" if layout.integral[roles.timestamp] else "timestamp"
    if layout.file_bytes >= STREAM_TABLE_BYTES and layout.delimiter != "whitespace":
        return _triples_streamed(p, layout, roles, kind_hint, types)
    table = read_table(layout, types, id_columns=(roles.user, roles.item))

    def column(j):
        return table.column(f"c{j}")

    for j, what in ((roles.user, "user id"), (roles.item, "item id"), (roles.value, "value")):
        if j is not None and column(j).null_count:
            row = first_bad_row(column(j).is_null().to_numpy(zero_copy_only=False))
            raise DataError(
                f"the {what} is missing", p, line=physical_line(layout, row), fix="fill it in or delete the line"
            )
    # Columns are converted one at a time and dropped, so the Arrow table and
    # its numpy copies never coexist whole.
    user_codes, user_ids = _factorize(column(roles.user), p, "user id", layout)
    table = table.drop_columns([f"c{roles.user}"])
    item_codes, item_ids = _factorize(column(roles.item), p, "item id", layout)
    table = table.drop_columns([f"c{roles.item}"])
    if roles.value is not None:
        values64 = column(roles.value).to_numpy()
        bad = _unusable(values64)
        if bad.any():
            row = first_bad_row(bad)
            raise _bad_value(p, layout, row, values64[row])
    else:
        values64 = np.ones(len(user_codes), dtype=np.float32)

    def timestamps():
        return None if roles.timestamp is None else _timestamps(p, layout, column(roles.timestamp))

    return _triples_dataset(p, roles, kind_hint, (user_codes, user_ids), (item_codes, item_ids), values64,
                            timestamps, layout)


def _bad_value(p: Path, layout: TableLayout, row: int, value) -> DataError:
    return DataError(
        f"the value is {value:g} (not a finite number within float32 range)",
        p,
        line=physical_line(layout, row),
        fix="correct or delete that line",
    )


def _missing(p: Path, layout: TableLayout, row: int, what: str) -> DataError:
    return DataError(f"the {what} is missing", p, line=physical_line(layout, row), fix="fill it in or delete the line")


def _triples_dataset(p: Path, roles, kind_hint, users, items, values64, timestamps, layout) -> Dataset:
    """The Dataset from coded ids and values: kind, counts' sign, times, repeated pairs, the loader's report.

    ``timestamps`` is called after the kind is decided, so that its errors come
    after the values' ones whichever reader produced the columns.
    """
    user_codes, user_ids = users
    item_codes, item_ids = items
    kind = roles.kind
    if kind == "ratings?":
        kind, why = explicit_or_implicit(values64)
        reason = f"{roles.reason}; {why}"
    else:
        reason = f"{roles.reason}: read as {_KIND_WORDS[kind]}"
    if kind_hint in ("explicit", "implicit") and kind_hint != kind:
        reason = f"read as {_KIND_WORDS[kind_hint]} as asked ({roles.reason}; detected: {_KIND_WORDS[kind]})"
        kind = kind_hint
    if kind == "implicit" and (values64 < 0).any():
        row = first_bad_row(values64 < 0)
        raise DataError(
            f"the count is negative ({values64[row]:g}), and interaction counts cannot be",
            p,
            line=physical_line(layout, row),
            fix="remove negative counts, or open the file as ratings if they are scores",
        )
    timestamps = timestamps()

    notes = []
    rows, cols, values, timestamps, n_merged = _merge_duplicates(
        user_codes, item_codes, values64, timestamps, len(item_ids), sum_values=(kind == "implicit")
    )
    if n_merged:
        policy = "their counts were added up" if kind == "implicit" else (
            "the latest rating of each was kept" if timestamps is not None else "the last rating in the file was kept")
        notes.append(f"{n_merged:,} repeated (user, item) pairs: {policy}")
    rating_scale = None
    if kind == "explicit":
        lo, hi = float(values.min()), float(values.max())
        rating_scale = (lo, hi) if lo < hi else None
    name = movielens.movielens_name(p) or p.name
    return Dataset(
        kind=kind,
        rows=rows,
        cols=cols,
        values=values,
        row_ids=user_ids,
        col_ids=item_ids,
        timestamps=timestamps,
        rating_scale=rating_scale,
        name=name,
        source=str(p),
        notes=notes,
        kind_reason=reason,
        kind_choices=("explicit", "implicit"),
    )


# ------------------------------------------------------- streamed tables

#: Entries remapped per step when codes are rewritten in place: the
#: temporaries stay a few MB whatever the file's size.
_REMAP_STEP = 1 << 20


def _steps(n: int, step: int | None = None):
    step = step or _REMAP_STEP
    for start in range(0, n, step):
        yield start, min(start + step, n)


class _IdColumn:
    """The ids of one column as record batches arrive, coded once the file is read.

    Whole-number ids (read as int32) are copied raw into the int32 array that
    becomes the codes and are rewritten in place at the end, by a lookup table
    over their range (or their sorted uniques when the range is wide): no
    hashing, no second array. int64 ids are copied raw into an int64 array
    (8 more bytes per row while the file is read) and coded at the end by
    their sorted uniques: 4.6 s for 3M rows with 300k twelve-digit user ids,
    against 14.5 s through the Python dict below. Text ids are
    coded per batch through one shared dictionary (Arrow's dictionary encoding
    of the batch, then its distinct values looked up in a Python dict), in
    first-seen order, and renumbered in sorted raw-id order at the end. Either
    way the result is :func:`_factorize`'s: int32 codes in sorted raw-id order
    and the raw ids.
    """

    def __init__(self, kind: str, capacity: int):
        self.codes = np.empty(capacity, dtype=np.int32)
        self.raw = kind == "int32"
        self.text = kind == "string"
        self.wide = np.empty(capacity, dtype=np.int64) if kind == "int64" else None
        self.lo: int | None = None
        self.hi: int | None = None
        self.seen: dict = {}
        self.null_row: int | None = None
        self.long: tuple[int, int] | None = None  # (row, length) of the first id over LONGEST_ID characters
        # Which ids 0..hi occur, marked while each batch is in cache; given up
        # (None) for negative ids or ids too sparse for a table of this length.
        self.present: np.ndarray | None = np.zeros(0, dtype=bool) if self.raw else None
        self.present_limit = max(4 * capacity, 1 << 20)

    def resize(self, capacity: int) -> None:
        # realloc: the pages move (or grow in place) without a second copy resident
        self.codes.resize(capacity, refcheck=False)
        if self.wide is not None:
            self.wide.resize(capacity, refcheck=False)

    def add(self, chunk, start: int) -> None:
        import pyarrow.compute as pc

        end = start + len(chunk)
        if chunk.null_count:
            if self.null_row is None:
                self.null_row = start + first_bad_row(chunk.is_null().to_numpy(zero_copy_only=False))
            chunk = chunk.fill_null("" if self.text else 0)  # the load fails on the missing id anyway
        if self.raw:
            part = chunk.to_numpy()
            if part.size:
                lo, hi = int(part.min()), int(part.max())
                self.lo = lo if self.lo is None else min(self.lo, lo)
                self.hi = hi if self.hi is None else max(self.hi, hi)
            self.codes[start:end] = part
            if self.present is not None and part.size:
                if lo < 0 or hi >= self.present_limit:
                    self.present = None
                else:
                    if hi >= self.present.size:
                        self.present.resize(max(hi + 1, 2 * self.present.size), refcheck=False)  # zero-filled
                    self.present[part] = True
            return
        if self.wide is not None:
            self.wide[start:end] = chunk.to_numpy()
            return
        encoded = chunk.dictionary_encode()
        dictionary = encoded.dictionary
        if self.text and self.long is None and len(dictionary):
            if (pc.max(pc.utf8_length(dictionary)).as_py() or 0) > LONGEST_ID:
                lengths = pc.utf8_length(chunk).to_numpy(zero_copy_only=False)
                row = first_bad_row(lengths > LONGEST_ID)
                self.long = (start + row, int(lengths[row]))
        if self.long is not None:
            self.codes[start:end] = 0  # the load fails on the long id: keep no more of them
            return
        seen = self.seen
        mapping = np.fromiter((seen.setdefault(v, len(seen)) for v in dictionary.to_pylist()),
                              dtype=np.int32, count=len(dictionary))
        self.codes[start:end] = mapping[encoded.indices.to_numpy(zero_copy_only=False)]

    def finish(self, n: int, path, what: str, layout) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, raw ids)`` as :func:`_factorize` gives them; refuses long ids and oversized dictionaries."""
        codes = self.codes
        if self.long is not None:
            row, length = self.long
            raise DataError(
                f"the {what} is {length:,} characters long, and an id has at most {LONGEST_ID:,}",
                path,
                line=physical_line(layout, row),
                fix="check for a missing delimiter or an unclosed quote on that line",
            )
        if self.raw:
            if n == 0:
                return codes, np.zeros(0, dtype=np.int64)
            lo, hi = self.lo, self.hi
            if self.present is not None and hi < max(4 * n, 1 << 20):
                # The table from 0 saves subtracting lo from every id; below lo it is all False.
                present = self.present[:hi + 1]
                lookup = np.cumsum(present, dtype=np.int64).astype(np.int32) - 1
                for a, b in _steps(n):
                    codes[a:b] = lookup[codes[a:b]]
                return codes, np.flatnonzero(present).astype(np.int64)
            if hi - lo < max(4 * n, 1 << 20):
                present = np.zeros(hi - lo + 1, dtype=bool)
                for a, b in _steps(n):
                    present[codes[a:b] - lo] = True
                lookup = np.cumsum(present, dtype=np.int64).astype(np.int32) - 1
                for a, b in _steps(n):
                    codes[a:b] = lookup[codes[a:b] - lo]
                return codes, np.flatnonzero(present).astype(np.int64) + lo
            return _code_by_sorted_uniques(codes, codes, n)
        if self.wide is not None:
            wide, self.wide = self.wide[:n], None
            return _code_by_sorted_uniques(wide, codes, n)
        keys = list(self.seen)
        self.seen = {}
        if self.text:
            longest = max(map(len, keys), default=0) or 1
            # The list of Python strings, the array, and its sorted copy.
            check_allocation(
                len(keys) * (longest * 4 * 2 + 64),
                f"its {len(keys):,} distinct {what}s, the longest {longest:,} characters,",
                path,
                fix=f"use short {what}s (a number or a word), or check for a missing delimiter or an unclosed quote",
            )
            dictionary = np.asarray(keys, dtype=str)
        else:
            dictionary = np.asarray(keys, dtype=np.int64)
        del keys
        order = np.argsort(dictionary, kind="stable")
        rank = np.empty(order.size, dtype=np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        for a, b in _steps(n):
            codes[a:b] = rank[codes[a:b]]
        return codes, dictionary[order]


def _code_by_sorted_uniques(raw: np.ndarray, codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``codes[:n]`` = the position of each of ``raw[:n]`` among its sorted uniques (``raw`` may be ``codes``)."""
    uniques = unique_sorted(raw[:n])
    for a, b in _steps(n):
        codes[a:b] = np.searchsorted(uniques, raw[a:b])
    return codes, uniques.astype(np.int64)


def _triples_streamed(p: Path, layout: TableLayout, roles, kind_hint, types) -> Dataset:
    """:func:`_triples_from_table` for big files: record batches copied into arrays of the final dtypes.

    Each batch's columns go straight into int32 codes, float32 values and
    int64 times (grown in place, never concatenated) and the batch is dropped,
    so the peak is the kept arrays plus one batch and the duplicate check's
    slices. The problems a whole-file read finds are noted at their first row
    and raised once the file is read, in the whole-file reader's order, so the
    two paths give the same Dataset and the same sentence for the same file.
    """
    while True:
        try:
            return _stream_once(p, layout, roles, kind_hint, types)
        except ReadAgain as again:  # another encoding or wider ids: start over, as read_table_full does
            layout, types = again.layout, again.column_types


def _stream_once(p: Path, layout: TableLayout, roles, kind_hint, types) -> Dataset:
    # Untouched pages of np.empty cost no memory, so an estimate on the
    # generous side is free; growing reallocates in place.
    capacity = int(layout.estimated_lines * 1.1) + 1024
    users = _IdColumn(types[roles.user], capacity)
    items = _IdColumn(types[roles.item], capacity)
    values = np.empty(capacity, dtype=np.float32) if roles.value is not None else None
    stamps = np.empty(capacity, dtype=np.int64) if roles.timestamp is not None else None
    value_null = bad_value = stamp_error = None
    n = 0
    for start, columns in iter_batches(layout, types, id_columns=(roles.user, roles.item)):
        end = start + len(columns[f"c{roles.user}"])
        if end > capacity:
            capacity = max(end, int(capacity * 1.25))
            for array in (values, stamps):
                if array is not None:
                    array.resize(capacity, refcheck=False)
            users.resize(capacity)
            items.resize(capacity)
        users.add(columns[f"c{roles.user}"], start)
        items.add(columns[f"c{roles.item}"], start)
        if values is not None:
            chunk = columns[f"c{roles.value}"]
            if chunk.null_count:
                if value_null is None:
                    value_null = start + first_bad_row(chunk.is_null().to_numpy(zero_copy_only=False))
                chunk = chunk.fill_null(0)
            part = chunk.to_numpy()
            if bad_value is None:
                bad = _unusable(part)
                if bad.any():
                    row = first_bad_row(bad)
                    bad_value = (start + row, part[row])
            values[start:end] = part
        if stamps is not None and stamp_error is None:
            try:
                stamps[start:end] = _timestamps(p, layout, columns[f"c{roles.timestamp}"], first_row=start)
            except DataError as err:
                stamp_error = err
        n = end
    del columns
    for array in (values, stamps):
        if array is not None:
            array.resize(n, refcheck=False)
    users.resize(n)
    items.resize(n)
    for row, what in ((users.null_row, "user id"), (items.null_row, "item id"), (value_null, "value")):
        if row is not None:
            raise _missing(p, layout, row, what)
    user_codes, user_ids = users.finish(n, p, "user id", layout)
    item_codes, item_ids = items.finish(n, p, "item id", layout)
    if bad_value is not None:
        raise _bad_value(p, layout, *bad_value)
    if values is None:
        values = np.ones(n, dtype=np.float32)

    def timestamps():
        if stamp_error is not None:
            raise stamp_error
        return stamps

    return _triples_dataset(p, roles, kind_hint, (user_codes, user_ids), (item_codes, item_ids), values,
                            timestamps, layout)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _unusable(values: np.ndarray) -> np.ndarray:
    """NaN, infinite, or too large for the float32 values a Dataset keeps."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(values) <= _FLOAT32_MAX)


#: Rating scales end at 10 at most (1-5 stars, 1-10 marks, 0-10 points).
_LARGEST_RATING = 10


def explicit_or_implicit(values: np.ndarray, *, default: str = "explicit") -> tuple[str, str]:
    """Decide from the values alone whether they are ratings or interaction counts.

    Parameters
    ----------
    values : ndarray
        The stored values (observed cells only).
    default : {"explicit", "implicit"}
        The reading when the values fit neither picture. A value column in a
        user,item,value table is a rating by convention ("explicit"); a
        ``scipy.sparse.save_npz`` matrix is an interaction matrix unless its
        values look like a rating scale ("implicit").

    Returns
    -------
    (str, str)
        The kind and one sentence naming what was seen, e.g.
        ``"whole numbers from 1 to 6, 71% of them 1: read as interaction
        counts (implicit)"``.

    Notes
    -----
    The rule, in order:

    1. Fractions or negative numbers are never counts: ratings (half stars)
       or scores.
    2. One value only (all 1s): interactions.
    3. Whole numbers above 10: more than a rating scale holds: counts.
    4. Counts of summed events fall off from the smallest value: the
       smallest value (at least 1) is the most common, holds at least 35% of
       the values, and the upper half of the range holds under 25%. That is
       a geometric-like decay (mostly 1s, a few 2s, fewer 3s...).
    5. Otherwise, three or more levels on a short scale whose most common
       value is not the bottom of a decay are ratings (MovieLens: 1-5, most
       often 4, 34%). Two levels (or nothing decisive) get ``default``.

    A ratings file with mostly 1-star ratings falling off towards 5 would
    read as counts; the reason shown says so, and ``kind="explicit"`` reads
    it as ratings.
    """
    n = values.size
    if n == 0:
        return default, "no values"
    lo, hi = float(values.min()), float(values.max())
    # A slice at a time: np.round of 25M values is another 100 MB.
    whole = all(bool(np.all(part == np.round(part))) for part in (values[i:i + (1 << 20)] for i in range(0, n, 1 << 20)))
    if not whole or lo < 0:
        step = _scale_step(values)
        if step is not None:
            return "explicit", f"values {lo:g} to {hi:g} in steps of {step:g}: read as explicit ratings"
        sign = "negative numbers" if lo < 0 else "fractions"
        return "explicit", f"values from {lo:g} to {hi:g} with {sign}, which counts never have: read as explicit scores"
    if lo == hi:
        return "implicit", f"every value is {lo:g}: read as interactions (implicit)"
    if hi > _LARGEST_RATING:
        return "implicit", (f"whole numbers from {lo:g} up to {hi:g}, more than a rating scale holds: "
                            "read as interaction counts (implicit)")
    # A strided sample keeps the shares exact enough and the memory small on 25M values.
    sample = values[:: max(1, n // 2_000_000)]
    counts = np.bincount((sample - lo).astype(np.int64))
    n = sample.size
    shares = counts / n
    mode = lo + int(np.argmax(counts))
    levels = int(np.count_nonzero(counts))
    upper = float(shares[lo + np.arange(counts.size) > (lo + hi) / 2].sum())
    if lo >= 1 and mode == lo and shares[0] >= 0.35 and upper < 0.25:
        return "implicit", (f"whole numbers from {lo:g} to {hi:g}, {shares[0]:.0%} of them {lo:g}, fewer of each "
                            "higher value: read as interaction counts (implicit)")
    if levels >= 3 or default == "explicit":
        return "explicit", (f"values {lo:g} to {hi:g} in steps of 1, most often {mode:g} "
                            f"({shares[int(mode - lo)]:.0%}): read as explicit ratings")
    return "implicit", f"whole numbers {lo:g} and {hi:g} only: read as interaction counts (implicit)"


def _scale_step(values: np.ndarray) -> float | None:
    """The step of a short rating scale (0.5 for half stars), or None when the values are not on one."""
    levels = unique_sorted(values[:200_000])
    if not 2 <= levels.size <= 21:
        return None
    step = float(np.diff(levels).min())
    on_grid = np.allclose((levels - levels[0]) / step, np.round((levels - levels[0]) / step), atol=1e-6)
    return step if on_grid and (levels[-1] - levels[0]) / step <= 20 else None


#: The longest text id read. Ids are names or codes; a longer "id" is a
#: missing delimiter or a stray quote, and numpy would widen every id to it.
LONGEST_ID = 1000


def _factorize(column, path=None, what: str = "id", layout=None) -> tuple[np.ndarray, np.ndarray]:
    """Internal codes (int32, in sorted raw-id order) and the raw ids.

    Text ids become a fixed-width numpy array, as wide as the longest id for
    every id: ids over :data:`LONGEST_ID` characters are refused, and the
    array's size is checked against the budget before it is made.

    Integer ids spanning a modest range (MovieLens: up to ~300k) go through a
    lookup table, one O(n) pass with no hashing and no sort of the ratings;
    other ids through pandas' hash factorize or Arrow's dictionary encoding.
    Never one Python object per row.
    """
    if isinstance(column, NumpyColumn):  # a small numeric file, read without pyarrow
        if column.array.dtype.kind not in "iu":
            raise TypeError("numeric ids only")
        integer, parts = True, [column.array]
    else:
        import pyarrow as pa

        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        integer = pa.types.is_integer(column.type)
        parts = [chunk.to_numpy() for chunk in chunks] if integer else None
    if integer:
        lo = min((int(part.min()) for part in parts if part.size), default=0)
        hi = max((int(part.max()) for part in parts if part.size), default=0)
        n = sum(part.size for part in parts)
        if hi - lo < max(4 * n, 1 << 20):
            present = np.zeros(hi - lo + 1, dtype=bool)
            for part in parts:
                present[part - lo] = True
            lookup = np.cumsum(present, dtype=np.int64).astype(np.int32) - 1
            codes = np.concatenate([lookup[part - lo] for part in parts]) if parts else np.zeros(0, np.int32)
            return codes, np.flatnonzero(present).astype(np.int64) + lo
        import pandas as pd

        codes, uniques = pd.factorize(np.concatenate(parts), sort=True)
        return codes.astype(np.int32), np.asarray(uniques, dtype=np.int64)
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column

    encoded = array.dictionary_encode()
    n_ids = len(encoded.dictionary)
    longest = pc.max(pc.utf8_length(encoded.dictionary)).as_py() or 1
    if longest > LONGEST_ID:
        lengths = pc.utf8_length(array).to_numpy(zero_copy_only=False)
        row = first_bad_row(lengths > LONGEST_ID)
        raise DataError(
            f"the {what} is {int(lengths[row]):,} characters long, and an id has at most {LONGEST_ID:,}",
            path,
            line=physical_line(layout, row) if layout is not None else None,
            fix="check for a missing delimiter or an unclosed quote on that line",
        )
    # The list of Python strings, the array, and its sorted copy.
    check_allocation(
        n_ids * (longest * 4 * 2 + 64),
        f"its {n_ids:,} distinct {what}s, the longest {longest:,} characters,",
        path,
        fix=f"use short {what}s (a number or a word), or check for a missing delimiter or an unclosed quote",
    )
    dictionary = np.asarray(encoded.dictionary.to_pylist(), dtype=str)
    order = np.argsort(dictionary, kind="stable")
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    codes = rank[encoded.indices.to_numpy()]
    return codes, dictionary[order]


def _timestamps(p: Path, layout: TableLayout, column, first_row: int = 0) -> np.ndarray:
    """Seconds since 1970 of a timestamp column (numbers or dates); ``first_row`` is the data row it starts at."""
    if isinstance(column, NumpyColumn):  # whole numbers of seconds from a small numeric file
        return column.array.astype(np.int64, copy=False)
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        if column.null_count:
            row = first_bad_row(column.is_null().to_numpy(zero_copy_only=False))
            raise DataError("the timestamp is missing", p, line=physical_line(layout, first_row + row), fix="fill it in or delete the line")
        return column.to_numpy()
    text = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"the timestamp '{text.iloc[row]}' is neither a number of seconds nor a date",
            p,
            line=physical_line(layout, first_row + row),
            fix="write dates as 2024-01-31 or 2024-01-31 12:00:00, or as Unix seconds",
        )
    # pandas keeps far dates (9999-12-31) at a coarse resolution; subtracting
    # a nanosecond epoch would overflow, so seconds are taken at their own unit.
    # Floor, not round: 12:00:00.9 is still in second 12:00:00.
    try:
        seconds = parsed.dt.tz_convert(None).dt.floor("s").dt.as_unit("s").astype("int64")
    except (OverflowError, pd.errors.OutOfBoundsDatetime, ValueError) as exc:
        raise DataError(f"a date in the timestamp column cannot be converted to seconds ({exc})", p,
                        fix="write dates between the years 1678 and 2261, or as Unix seconds") from None
    return seconds.to_numpy(dtype=np.int64)


#: Entries per slice of the repeated-pairs check: its int64 keys are sorted a
#: slice of users at a time, not 200 MB at once for 25M ratings.
_KEY_SLICE = 1 << 21


def _slice_has_repeats(rows: np.ndarray, cols: np.ndarray, width: int) -> bool:
    """Whether a pair repeats among these entries: one sort of their keys, 32-bit when the rows' span allows."""
    lo = int(rows.min())
    if (int(rows.max()) - lo + 1) * width <= 1 << 32:
        key = (rows - lo).astype(np.uint32)
        key *= np.uint32(width)
        key += cols.view(np.uint32)  # codes are >= 0
    else:
        key = rows.astype(np.int64)
        key *= width
        key += cols
    key.sort()
    return bool((key[1:] == key[:-1]).any())


#: Most row ranges the 32-bit repeat check cuts a table into (one sort each).
_MAX_KEY_RANGES = 256
#: Entries per step of its counting sort: each carries ~40 bytes of int64 temporaries.
_KEY_STEP = 1 << 18


def _has_repeats(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> bool:
    """Whether any (row, col) pair occurs twice, with 4 bytes of key per entry instead of 8.

    A pair repeats only within one row, so rows are cut into ranges narrow
    enough for ``row * n_cols + col`` modulo 2**32 to tell their pairs apart;
    one uint32 buffer holds every entry's key grouped by range (a
    counting sort, filled a step of entries at a time), and each range's
    segment is sorted in place. One pass over the entries, 100 MB of keys at
    25M instead of 200 MB. Tables too wide for a few ranges fall back to
    :func:`_has_repeats_sliced`.
    """
    n = rows.size
    if n < 2:
        return False
    width = max(n_cols, 1)
    n_rows = int(rows.max()) + 1
    per_range = max((1 << 32) // width, 1)  # rows whose keys fit in 32 bits together
    n_ranges = -(-n_rows // per_range)
    if n_ranges > _MAX_KEY_RANGES:
        return _has_repeats_sliced(rows, cols, width)
    if n_ranges == 1:
        return _slice_has_repeats(rows, cols, width)
    range_of_row = (np.arange(n_rows) // per_range).astype(np.uint8 if n_ranges <= 256 else np.int16)
    counts = np.zeros(n_ranges, dtype=np.int64)
    for a, b in _steps(n):
        counts += np.bincount(range_of_row[rows[a:b]], minlength=n_ranges)
    starts = np.r_[0, np.cumsum(counts)]
    filled = starts[:-1].copy()
    keys = np.empty(n, dtype=np.uint32)
    w32 = np.uint32(width)
    for a, b in _steps(n, _KEY_STEP):
        r = rows[a:b]
        which = range_of_row[r]
        order = np.argsort(which, kind="stable")  # radix sort of one-byte values
        step_counts = np.bincount(which, minlength=n_ranges)
        # Wrapping at 2**32 keeps keys of one range distinct (its rows span at most 2**32 / width).
        key = r.astype(np.uint32)
        key *= w32
        key += cols[a:b].view(np.uint32)  # codes are >= 0
        dest = np.arange(b - a) + np.repeat(filled - (np.cumsum(step_counts) - step_counts), step_counts)
        keys[dest] = key[order]
        filled += step_counts
    for lo, hi in zip(starts[:-1], starts[1:]):
        segment = keys[lo:hi]
        segment.sort()
        for a, b in _steps(segment.size - 1):
            if (segment[a + 1:b + 1] == segment[a:b]).any():
                return True
    return False


def _has_repeats_sliced(rows: np.ndarray, cols: np.ndarray, width: int) -> bool:
    """:func:`_has_repeats` for very wide tables: ranges of rows holding about :data:`_KEY_SLICE` entries each.

    Each range's entries are found by a pass over a one-byte range number per
    entry and their keys sorted on their own: more passes, the same bounded memory.
    """
    n = rows.size
    slices = -(-n // _KEY_SLICE)
    if slices == 1:
        return _slice_has_repeats(rows, cols, width)
    # np.bincount widens int32 input to an int64 copy (200 MB at 25M): count a step at a time.
    per_row = np.zeros(int(rows.max()) + 1, dtype=np.int64)
    for a, b in _steps(n):
        per_row += np.bincount(rows[a:b], minlength=per_row.size)
    cuts = np.searchsorted(np.cumsum(per_row), np.arange(1, slices) * _KEY_SLICE, side="right")
    slice_of_row = np.zeros(per_row.size, dtype=np.int16 if slices > 127 else np.int8)
    np.add.at(slice_of_row, cuts, 1)
    np.cumsum(slice_of_row, dtype=slice_of_row.dtype, out=slice_of_row)
    slice_of = slice_of_row[rows]
    for k in range(int(slice_of_row[-1]) + 1):
        where = np.flatnonzero(slice_of == k)
        if where.size > 1 and _slice_has_repeats(rows[where], cols[where], width):
            return True
    return False


def _merge_duplicates(rows, cols, values, timestamps, n_cols, *, sum_values):
    """Resolve repeated (row, col) pairs: sum counts, or keep the latest rating.

    Returns the arrays with one entry per pair (in file order) and how many
    entries were merged away. The common case, no duplicates, costs one sort
    of the pair keys; only the entries of repeated pairs are sorted further.
    """
    if not _has_repeats(rows, cols, n_cols):
        return rows, cols, values, timestamps, 0
    # Files with repeats pay for whole-length keys; big ones rarely have any.
    key = rows.astype(np.int64) * max(n_cols, 1) + cols
    sorted_key = np.sort(key)
    dup_keys = np.unique(sorted_key[1:][sorted_key[1:] == sorted_key[:-1]])
    del sorted_key
    position = np.minimum(np.searchsorted(dup_keys, key), dup_keys.size - 1)
    involved = np.flatnonzero(dup_keys[position] == key)
    sub_key = key[involved]
    # Within a pair, sort by time so that "last" means latest; the stable sort
    # keeps file order as the tie-breaker (and as the order without times).
    if timestamps is not None:
        order = involved[np.lexsort((timestamps[involved], sub_key))]
    else:
        order = involved[np.argsort(sub_key, kind="stable")]
    group_key = key[order]
    starts = np.flatnonzero(np.r_[True, group_key[1:] != group_key[:-1]])
    ends = np.r_[starts[1:], group_key.size] - 1
    winners = order[ends]
    n_merged = int(involved.size - winners.size)
    out_values = values.copy()
    if sum_values:
        out_values[winners] = np.add.reduceat(values[order], starts)
    keep_mask = np.ones(key.size, dtype=bool)
    keep_mask[involved] = False
    keep_mask[winners] = True
    keep = np.flatnonzero(keep_mask)
    return (
        rows[keep],
        cols[keep],
        out_values[keep],
        None if timestamps is None else timestamps[keep],
        n_merged,
    )


def _grid_from_table(p: Path, layout: TableLayout, kind, reason: str) -> Dataset:
    types = {j: "float64" for j in range(layout.n_columns)}
    table = read_table(layout, types)
    grid = np.column_stack([table.column(f"c{j}").to_numpy(zero_copy_only=False) for j in range(layout.n_columns)])
    col_ids = np.asarray(layout.column_names if layout.has_header else [str(j + 1) for j in range(layout.n_columns)])
    what = reason.replace("a numeric grid", f"a {grid.shape[0]:,} x {grid.shape[1]:,} numeric grid", 1)
    return _dataset_from_grid(p, grid.astype(np.float64), kind=kind, col_ids=col_ids, layout=layout, what=what)


_GRID_KINDS = ("explicit", "implicit", "dense")


def _dataset_from_grid(
    p: Path,
    grid: np.ndarray,
    *,
    kind: str | None = None,
    col_ids=None,
    row_ids=None,
    layout=None,
    name=None,
    what: str = "a numeric grid",
    detect: bool = True,
) -> Dataset:
    """A matrix given cell by cell; NaN (or an empty cell) is unknown, inf is an error.

    Which cells are entries depends on the kind:

    - ``"dense"``: every cell that is not blank, 0 included;
    - ``"explicit"``: ratings; 0 is unknown too (the tutorials write their
      toy matrices that way) unless blank cells already mark the unknown ones;
    - ``"implicit"``: interactions; 0 is "no interaction", so only non-zero
      cells are entries.

    With ``kind=None`` (and ``detect``), a grid of whole numbers from 0 to
    10 that holds 0 and no blank cell, or blank cells and whole numbers up
    to 10, is read as ratings or interactions
    (:func:`explicit_or_implicit` on the entries); any other grid as dense.
    """
    if grid.ndim != 2 or grid.size == 0:
        raise DataError("the array is not a 2-D matrix with data", p, fix="save a 2-D numeric array")
    infinite = np.isinf(grid) | (np.abs(np.nan_to_num(grid)) > _FLOAT32_MAX)
    if infinite.any():
        r, c = (int(v) for v in np.argwhere(infinite)[0])
        line = physical_line(layout, r) if layout is not None else None
        where = f"column {c + 1}" if line is not None else f"row {r + 1}, column {c + 1}"
        raise DataError(
            f"{where} is infinite or too large", p, line=line, fix="replace it by a number, or leave the cell empty to mark it unknown"
        )
    observed = ~np.isnan(grid)
    known = grid[observed]
    n_blank = int(grid.size - known.size)
    n_zero = int(np.count_nonzero(known == 0))
    non_negative = not known.size or float(known.min()) >= 0
    choices = _GRID_KINDS if non_negative else ("explicit", "dense")
    if kind is not None and kind not in choices:
        raise _refuse(p, what if what.startswith("a ") else f"a grid of numbers ({what})", kind, choices)
    small_whole = bool(known.size) and non_negative and float(known.max()) <= _LARGEST_RATING and bool(
        np.all(known == np.round(known)))
    blank_words = f"{n_blank:,} blank cell{'s' * (n_blank != 1)} read as unknown"
    zero_words = f"0 in {n_zero / grid.size:.0%} of cells read as unknown (the tutorials' convention)"
    if kind is None:
        if detect and small_whole and n_zero and not n_blank and n_zero < grid.size:
            entries = observed & (grid != 0)
            kind, why = explicit_or_implicit(grid[entries])
            reason = f"{what}: {zero_words}; {why}"
        elif detect and small_whole and n_blank:
            entries = observed
            kind, why = explicit_or_implicit(known)
            reason = f"{what}: {blank_words}; {why}"
        else:
            entries, kind = observed, "dense"
            reason = f"{what}: every number is a value" + (f", {blank_words}" if n_blank else "")
    else:
        drop_zeros = kind == "implicit" or (kind == "explicit" and not n_blank)
        entries = observed & (grid != 0) if drop_zeros else observed
        unknown = []
        if n_blank:
            unknown.append(blank_words)
        if drop_zeros and n_zero:
            unknown.append("0 read as unknown" if kind == "explicit" else "0 read as no interaction")
        reason = f"read as {_KIND_WORDS[kind]} as asked; {what}" + "".join(f"; {u}" for u in unknown)
    rows, cols = np.nonzero(entries)
    values = grid[rows, cols]
    notes = []
    missing = int(grid.size - rows.size)
    if missing:
        marks = "empty, NaN or 0" if missing > n_blank else "empty or NaN"
        notes.append(f"{missing:,} of {grid.size:,} cells ({marks}) are treated as unknown, not zero")
    return Dataset(
        kind=kind,
        rows=rows,
        cols=cols,
        values=values,
        row_ids=row_ids if row_ids is not None else np.arange(1, grid.shape[0] + 1),
        col_ids=col_ids if col_ids is not None else np.arange(1, grid.shape[1] + 1),
        rating_scale=_scale_of(values) if kind == "explicit" else None,
        name=name or p.name,
        source=str(p),
        notes=notes,
        kind_reason=reason,
        kind_choices=choices,
    )


def _documents_from_table(p: Path, layout: TableLayout, roles, doc_options) -> Dataset:
    # Quoted texts may span lines anywhere in the file, not only in the sniffed head.
    layout = replace(layout, multiline=layout.delimiter in _QUOTING_DELIMITERS)
    table = read_table(layout, {j: "string" for j in range(layout.n_columns)})
    texts = table.column(f"c{roles.text}").to_pylist()
    n = len(texts)

    def label(j):
        return layout.column_names[j] if layout.has_header else f"column {j + 1}"

    # The other columns are kept by what their values look like, not their
    # names: unique short strings name the documents, a few repeated ones
    # label them (a category), anything else is reported as unused.
    ids = labels = None
    id_col = label_col = None
    unused = []
    from .columns import role_of

    others = [j for j in range(layout.n_columns) if j != roles.text]
    # Readable names first (a title beats a numeric id), named label columns first.
    others.sort(key=lambda j: (layout.numeric[j], role_of(layout.column_names[j]) != "label" if layout.has_header else True))
    for j in others:
        column = ["" if v is None else str(v).strip() for v in table.column(f"c{j}").to_pylist()]
        distinct = len(set(column))
        longest = max((len(v) for v in column), default=0)
        if ids is None and distinct == n and "" not in column and longest <= 200:
            ids, id_col = column, j
        elif labels is None and 2 <= distinct <= max(2, min(n // 3, 1000)) and longest <= 100:
            labels, label_col = column, j
        else:
            unused.append(f"'{label(j)}'" if layout.has_header else label(j))
    notes = []
    if id_col is not None:
        notes.append(f"documents named by column '{label(id_col)}'")
    if label_col is not None:
        notes.append(f"column '{label(label_col)}' ({len(set(labels))} values) kept as each document's label")
    if unused:
        notes.append(f"column{'s' * (len(unused) > 1)} {', '.join(unused)} not used")
    weighting = doc_options.get("weighting", "tfidf")
    reason = f"{roles.reason} ({'TF-IDF' if weighting == 'tfidf' else 'term counts'}): read as documents"
    dataset = vectorize_texts(
        texts,
        ids,
        name=p.name,
        source=p,
        row_labels=labels,
        row_label_name=None if label_col is None else label(label_col),
        kind_reason=reason,
        **doc_options,
    )
    return replace(dataset, notes=[*dataset.notes, *notes])


# ------------------------------------------------------------- text folders


def _read_text_file(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise DataError("this is a binary file, not text", path, fix="remove it from the folder")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _load_text_folder(p: Path, files: list[Path], doc_options) -> Dataset:
    texts = [_read_text_file(f) for f in files]
    ids = [str(f.relative_to(p).with_suffix("")) for f in files]
    suffixes = "/".join(sorted({f.suffix.lower() for f in files}))
    weighting = "TF-IDF" if doc_options.get("weighting", "tfidf") == "tfidf" else "term counts"
    reason = f"a folder of {len(files):,} {suffixes} files: read as documents ({weighting})"
    return vectorize_texts(texts, ids, name=p.name, source=p, kind_reason=reason, **doc_options)


# ------------------------------------------------------------------- images


#: Bytes one cell of a grid costs while it becomes a Dataset: the float64
#: grid, the masks and copies of the checks, the nonzero() indices and the
#: entries. Peak RSS over the baseline: 63 per cell for a 3000 x 3000 .npy
#: (its own 8 included), 59 for a 3000 x 3000 PNG.
GRID_BYTES_PER_CELL = 64

#: Bytes one pixel position of an image stack costs beyond its cells: the
#: ``p{row}_{col}`` column name, as a Python string and in the numpy array.
_BYTES_PER_PIXEL_NAME = 130

#: Bytes one row or column id costs (the id, its counts in the summary).
_BYTES_PER_ID = 32


def _image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` from the image's header; no pixel is decoded.

    Pillow's ``MAX_IMAGE_PIXELS`` (about 89 million) is its own line between
    an image and a decompression bomb; beyond it the image is refused here
    rather than decoded into gigabytes.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns about big images on opening; the size is judged below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DataError("this image cannot be read", path, fix="remove it or save it again as PNG") from None
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise DataError(
            f"the image declares {width:,} x {height:,} pixels, more than the {limit:,} an image may have",
            path,
            fix="scale it down (a few hundred pixels a side is plenty for factorization)",
        )
    return height, width


def _check_pixel_total(p: Path, n_images: int, shape) -> None:
    """Refuse image stacks holding more pixels in all than Pillow allows one image.

    Small PNGs of one colour compress a thousandfold, so a folder of a few
    kilobytes can unpack to gigabytes; the whole stack is held to the one-image limit.
    """
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    total = n_images * int(shape[0]) * int(shape[1])
    if limit and total > limit:
        raise DataError(
            f"its {n_images:,} images of {shape[1]:,}x{shape[0]:,} pixels hold {total:,} pixels in all, "
            f"more than the {limit:,} a stack of images may have",
            p,
            fix="use fewer images, or scale them down",
        )


def _open_grey(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    _image_size(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DataError("this image cannot be read", path, fix="remove it or save it again as PNG") from None


def _load_image_folder(p: Path, files: list[Path]) -> Dataset:
    # Every header first: an odd size or a bomb is refused before anything is decoded.
    shape = _image_size(files[0])
    for f in files[1:]:
        size = _image_size(f)
        if size != shape:
            raise DataError(
                f"this image is {size[1]}x{size[0]} pixels but {files[0].name} is {shape[1]}x{shape[0]}",
                f,
                fix="resize all images to one size",
            )
    n_pixels = shape[0] * shape[1]
    _check_pixel_total(p, len(files), shape)
    check_allocation(
        len(files) * n_pixels * GRID_BYTES_PER_CELL + n_pixels * _BYTES_PER_PIXEL_NAME,
        f"the {len(files):,} images of {shape[1]:,}x{shape[0]:,} pixels",
        p,
        fix="use fewer or smaller images",
    )
    first = _open_grey(files[0])
    stack = np.empty((len(files), first.size), dtype=np.float32)
    stack[0] = first.ravel()
    for k, f in enumerate(files[1:], start=1):
        pixels = _open_grey(f)
        if pixels.shape != first.shape:  # a header that lied about its size
            raise DataError(
                f"this image is {pixels.shape[1]}x{pixels.shape[0]} pixels but {files[0].name} is "
                f"{first.shape[1]}x{first.shape[0]}",
                f,
                fix="resize all images to one size",
            )
        stack[k] = pixels.ravel()
    ids = [str(f.relative_to(p)) for f in files]
    reason = f"a folder of {len(files):,} images of {first.shape[1]}x{first.shape[0]} pixels: one row of pixels per image"
    return _images_dataset(p, stack, first.shape, ids, reason)


_IMAGE_CHOICES = ("dense", "images")


def _images_dataset(p: Path, stack: np.ndarray, shape, ids, reason: str) -> Dataset:
    h, w = shape
    n = stack.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int32), h * w)
    cols = np.tile(np.arange(h * w, dtype=np.int32), n)
    return Dataset(
        kind="images",
        rows=rows,
        cols=cols,
        values=stack.ravel(),
        row_ids=np.asarray(ids),
        col_ids=np.asarray([f"p{r}_{c}" for r in range(h) for c in range(w)]),
        image_shape=(h, w),
        name=p.name,
        source=str(p),
        kind_reason=reason,
        kind_choices=_IMAGE_CHOICES,
    )


def _load_single_image(p: Path, kind) -> Dataset:
    if kind not in (None, "dense"):
        raise _refuse(p, "one image, a matrix of grey levels", kind, ("dense",))
    height, width = _image_size(p)
    check_allocation(height * width * GRID_BYTES_PER_CELL, f"the {width:,} x {height:,} pixel image", p,
                     fix="scale it down")
    pixels = _open_grey(p)
    dataset = _dataset_from_grid(p, pixels.astype(np.float64), kind="dense",
                                 what="one image, a matrix of grey levels")
    dataset = replace(dataset, kind_choices=("dense",),
                      kind_reason="one image: its grey levels read as a dense matrix")
    return replace(dataset, notes=[*dataset.notes, f"{pixels.shape[1]}x{pixels.shape[0]} image as a matrix of grey levels"])


# ------------------------------------------------------------- binary arrays


def _check_numeric(p: Path, array: np.ndarray, what: str = "the array") -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} holds {array.dtype} values, not numbers", p, fix="save a numeric array")
    return array


def _describe_shape(shape) -> str:
    return " x ".join(f"{int(d):,}" for d in shape) if len(shape) else "scalar"


def _check_declared_array(p: Path, shape, dtype, stored_bytes: int | None, member: str | None = None) -> None:
    """Refuse an array whose header declares more than the file holds or than memory allows.

    Parameters
    ----------
    p : Path
        The file (named in the message).
    shape, dtype
        What the ``.npy`` header declares.
    stored_bytes : int, optional
        Bytes of data the file (or zip member) holds after the header; a
        header declaring more is a damaged or crafted file.
    member : str, optional
        The array's name inside an ``.npz`` archive.
    """
    what = f"the {_describe_shape(shape)} {np.dtype(dtype)} array" + (f" '{member}'" if member else "")
    if np.dtype(dtype).hasobject:
        raise DataError(
            "it holds Python objects, which mfstudio never unpickles for safety",
            p,
            fix="save a plain numeric array (np.save with a numeric dtype)",
        )
    check_array(shape, dtype, f"{what} it declares", p, fix="save a smaller array")
    declared = array_bytes(shape, dtype)
    if stored_bytes is not None and declared > stored_bytes:
        raise DataError(
            f"{what} it declares needs {format_bytes(declared)} but the file holds only "
            f"{format_bytes(max(stored_bytes, 0))} of data",
            p,
            fix="the file is cut short or damaged; save it again",
        )
    cells = declared // max(np.dtype(dtype).itemsize, 1)
    # A 3-D stack is images: each pixel position also gets a column name.
    names = int(shape[1]) * int(shape[2]) * _BYTES_PER_PIXEL_NAME if len(shape) == 3 else 0
    check_allocation(declared + cells * GRID_BYTES_PER_CELL + names, f"{what} it declares", p,
                     fix="use a smaller array or a sample of its rows")


def _load_npy(p: Path, kind) -> Dataset:
    try:
        with open(p, "rb") as stream:
            shape, _, dtype = npy_header(stream)
            data_offset = stream.tell()
    except (ValueError, OSError, EOFError):
        raise DataError("it is not a valid .npy file", p, fix="save it again with numpy.save") from None
    _check_declared_array(p, shape, dtype, p.stat().st_size - data_offset)
    try:
        array = np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(
                "it holds Python objects, which mfstudio never unpickles for safety",
                p,
                fix="save a plain numeric array (np.save with a numeric dtype)",
            ) from None
        raise DataError("it is not a valid .npy file", p, fix="save it again with numpy.save") from None
    except (OSError, EOFError):
        raise DataError("it is not a valid .npy file", p, fix="save it again with numpy.save") from None
    return _dataset_from_array(p, array, kind)


def _dataset_from_array(p: Path, array: np.ndarray, kind=None) -> Dataset:
    array = _check_numeric(p, array)
    if array.size == 0:
        # Also a guard: a (1, 2**31, 0) stack would name 2**31 empty pixel rows one by one.
        raise DataError(f"the {_describe_shape(array.shape)} array holds no values", p,
                        fix="save an array with at least one row and one column")
    if array.ndim == 3 and array.shape[0] > 0:
        n, h, w = array.shape
        if kind not in (None, "images", "dense"):
            raise _refuse(p, f"a stack of {n} images", kind, _IMAGE_CHOICES)
        stack = array.reshape(n, h * w).astype(np.float32)
        if not np.isfinite(stack).all():
            raise DataError("the image stack has NaN or infinite pixels", p, fix="replace them by numbers")
        reason = f"a 3-D array: a stack of {n:,} images of {w}x{h} pixels"
        dataset = _images_dataset(p, stack, (h, w), [f"img{i + 1:04d}" for i in range(n)], reason)
        return treat_as(dataset, kind) if kind == "dense" else dataset
    if array.ndim != 2:
        raise DataError(
            f"the array has {array.ndim} dimension(s); mfstudio needs a 2-D matrix or a 3-D stack of images",
            p,
            fix="reshape it to rows x columns",
        )
    what = f"a {array.shape[0]:,} x {array.shape[1]:,} array"
    return _dataset_from_grid(p, array.astype(np.float64), kind=kind, what=what)


_SPARSE_KEYS = {"format", "shape", "data"}


def _load_npz(p: Path, kind) -> Dataset:
    # Only the zip directory and the .npy headers are read before deciding:
    # which array to use, and whether it fits.
    members = npz_members(p)
    by_name = {m.name: m for m in members}
    if any(m.dtype.hasobject for m in members):
        raise DataError(
            "it holds Python objects, which mfstudio never unpickles for safety",
            p,
            fix="save plain numeric arrays",
        )
    if _SPARSE_KEYS <= set(by_name):
        return _load_sparse_npz(p, members, kind)
    if not members:
        raise DataError("the archive holds no arrays", p, fix="save at least one 2-D array in it")
    names = [m.name for m in members]
    preferred = [k for k in ("X", "data", "matrix", "ratings", "arr_0") if k in by_name and len(by_name[k].shape) in (2, 3)]
    candidates = preferred or [m.name for m in members if len(m.shape) in (2, 3)]
    if not candidates:
        raise DataError(
            f"none of its arrays ({', '.join(names[:5])}) is a 2-D matrix", p, fix="save a 2-D numeric array in it"
        )
    chosen = by_name[candidates[0]]
    # The zip's own size is the data plus a header of at most a few KB.
    _check_declared_array(p, chosen.shape, chosen.dtype, chosen.file_bytes, member=chosen.name)
    try:
        with np.load(p, allow_pickle=False) as archive:
            array = archive[chosen.name]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise DataError(
                "it holds Python objects, which mfstudio never unpickles for safety",
                p,
                fix="save plain numeric arrays",
            ) from None
        raise DataError("the archive is damaged", p, fix="save it again with numpy.savez") from None
    except (OSError, zipfile.BadZipFile, EOFError):
        raise DataError("the archive is damaged", p, fix="save it again with numpy.savez") from None
    dataset = _dataset_from_array(p, array, kind)
    if len(members) > 1:
        dataset = replace(dataset, notes=[*dataset.notes, f"used array '{chosen.name}' of {len(members)} in the archive"])
    return dataset


#: Bytes one stored entry of a sparse matrix costs on its way to a Dataset:
#: scipy's arrays, the COO copy, float64 values, the Dataset's own arrays
#: (34 measured for a 2-million-entry save_npz file; doubled for the summary and the split).
_BYTES_PER_SPARSE_ENTRY = 64


def _check_sparse_shape(p: Path, shape, nnz: int, what: str) -> None:
    """Refuse a sparse matrix whose declared shape or entries would not fit in memory."""
    n_rows, n_cols = (int(d) for d in shape)
    if n_rows < 0 or n_cols < 0:
        raise DataError(f"{what} declares a negative size {n_rows:,} x {n_cols:,}", p,
                        fix="the file is damaged; export it again")
    check_allocation(
        (n_rows + n_cols) * _BYTES_PER_ID + nnz * _BYTES_PER_SPARSE_ENTRY,
        f"the {n_rows:,} x {n_cols:,} matrix with {nnz:,} entr{'y' if nnz == 1 else 'ies'} it declares",
        p,
        fix="check the shape the file declares, or use a smaller matrix",
    )


def _load_sparse_npz(p: Path, members, kind) -> Dataset:
    """A ``scipy.sparse.save_npz`` file, its declared shape and sizes checked before loading."""
    import scipy.sparse as sp

    by_name = {m.name: m for m in members}
    for name in ("format", "shape"):
        if by_name[name].nbytes > 1024 or by_name[name].file_bytes > 4096:
            raise DataError(f"its '{name}' entry is {format_bytes(by_name[name].file_bytes)}, not a few bytes",
                            p, fix="save it again with scipy.sparse.save_npz")
    damaged = "save it again with scipy.sparse.save_npz"
    try:
        with np.load(p, allow_pickle=False) as archive:
            shape = archive["shape"]
            form = archive["format"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise DataError("the sparse matrix in it is damaged", p, fix=damaged) from None
    if shape.shape != (2,) or shape.dtype.kind not in "iu":
        raise DataError(f"its declared shape {shape.tolist()} is not two whole numbers", p, fix=damaged)
    nnz = by_name["data"].shape[0] if len(by_name["data"].shape) == 1 else 0
    _check_sparse_shape(p, shape, nnz, "the sparse matrix")
    # The arrays themselves (a zip bomb declares small headers and huge members, or the reverse).
    check_allocation(sum(max(m.nbytes, m.file_bytes) for m in members) * 3,
                     f"the sparse matrix's {len(members)} arrays", p, fix="use a smaller matrix")
    try:
        matrix = sp.load_npz(p)
        # load_npz checks the array lengths only; an index beyond the declared
        # shape would surface later, far from the file.
        if hasattr(matrix, "check_format"):
            matrix.check_format(full_check=True)
        coo = matrix.tocoo()
    except (ValueError, OSError, KeyError, IndexError, TypeError, zipfile.BadZipFile) as exc:
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(f"the sparse matrix in it is damaged ({detail})", p, fix=damaged) from None
    if coo.nnz and (coo.row.min() < 0 or coo.col.min() < 0 or coo.row.max() >= coo.shape[0]
                    or coo.col.max() >= coo.shape[1]):
        raise DataError(f"the sparse matrix has an entry outside its declared {coo.shape[0]:,} x {coo.shape[1]:,} shape",
                        p, fix=damaged)
    return _interaction_matrix(p, coo, kind, what="a scipy sparse matrix")


_SPARSE_CHOICES = ("explicit", "implicit", "documents")


def _interaction_matrix(p: Path, matrix, kind, col_ids=None, row_ids=None, what="a sparse matrix",
                        detected=None) -> Dataset:
    """A sparse matrix's stored entries; absent cells are unknown or zero, by kind.

    ``detected`` is the kind the layout itself says (documents when a word
    list was found); without it the values decide (:func:`explicit_or_implicit`,
    interactions unless they look like a rating scale).
    """
    if kind is not None and kind not in _SPARSE_CHOICES:
        raise _refuse(p, what, kind, _SPARSE_CHOICES)
    coo = matrix.tocoo()
    coo.sum_duplicates()
    values = coo.data.astype(np.float64)
    if _unusable(values).any():
        raise DataError("the matrix has NaN or infinite entries", p, fix="replace them by numbers")
    if detected is not None:
        auto, why = detected
    else:
        auto, why = explicit_or_implicit(values, default="implicit")
    if kind is None:
        kind, reason = auto, f"{what} of {values.size:,} stored values: {why}"
    elif kind == auto:
        reason = f"{what} of {values.size:,} stored values: {why}"
    else:
        reason = f"read as {_KIND_WORDS[kind]} as asked ({what}; detected: {_KIND_WORDS[auto]})"
    if kind == "implicit" and (values < 0).any():
        raise DataError("the matrix has negative counts", p, fix="remove them, or open it as ratings")
    rating_scale = None
    if kind == "explicit" and values.size and values.min() < values.max():
        rating_scale = (float(values.min()), float(values.max()))
    n_rows, n_cols = coo.shape
    return Dataset(
        kind=kind,
        rows=coo.row,
        cols=coo.col,
        values=values,
        row_ids=row_ids if row_ids is not None else np.arange(n_rows),
        col_ids=col_ids if col_ids is not None else np.arange(n_cols),
        rating_scale=rating_scale,
        name=p.name,
        source=str(p),
        kind_reason=reason,
        kind_choices=_SPARSE_CHOICES,
    )


#: The fewest bytes a MatrixMarket line can take: "1 1\n" for a coordinate
#: entry, "1\n" for a value of the array format.
_MTX_MIN_ENTRY_BYTES = {"coordinate": 4, "array": 2}


def _check_matrix_market(p: Path) -> None:
    """Refuse a MatrixMarket file whose size line declares more than the file or memory holds."""
    import scipy.io

    try:
        n_rows, n_cols, entries, form, field, symmetry = scipy.io.mminfo(p)
    except (ValueError, OSError, IndexError, UnicodeDecodeError, TypeError) as exc:
        message = str(exc).splitlines()[0][:120] if str(exc) else "unreadable"
        raise DataError(f"it is not a valid MatrixMarket file ({message})", p,
                        fix="check the %%MatrixMarket header and the size line") from None
    n_rows, n_cols, entries = int(n_rows), int(n_cols), int(entries)
    if min(n_rows, n_cols, entries) < 0:
        raise DataError(f"its size line declares a negative size ({n_rows:,} {n_cols:,} {entries:,})", p,
                        fix="correct the size line")
    if form == "array" and (n_rows == 0 or n_cols == 0):
        # Also a guard: scipy's reader dies of a floating point exception
        # (the whole process, no Python error) on an array with no rows.
        raise DataError(f"its size line declares an empty {n_rows:,} x {n_cols:,} matrix", p,
                        fix="export the matrix again with its rows and columns")
    smallest = _MTX_MIN_ENTRY_BYTES.get(form, 2) * entries
    size = p.stat().st_size
    if smallest > size:
        raise DataError(
            f"its size line declares {entries:,} entries, which need at least {format_bytes(smallest)}, "
            f"but the file is {format_bytes(size)}",
            p,
            fix="the file is cut short or its size line is wrong; export it again",
        )
    if form == "array":
        check_allocation(n_rows * n_cols * GRID_BYTES_PER_CELL, f"the {n_rows:,} x {n_cols:,} matrix it declares",
                         p, fix="use a smaller matrix")
    else:
        # A symmetric file stores one triangle; the matrix holds up to twice as many entries.
        stored = entries * (2 if symmetry != "general" else 1)
        _check_sparse_shape(p, (n_rows, n_cols), stored, "the MatrixMarket file")


def _load_matrix_market(p: Path, kind) -> Dataset:
    import scipy.io

    _check_matrix_market(p)
    try:
        matrix = scipy.io.mmread(p)
    except (ValueError, OSError, IndexError, UnicodeDecodeError, TypeError) as exc:
        message = str(exc).splitlines()[0][:120] if str(exc) else "unreadable"
        raise DataError(f"it is not a valid MatrixMarket file ({message})", p, fix="check the %%MatrixMarket header and the size line") from None
    if isinstance(matrix, np.ndarray):
        return _dataset_from_array(p, np.asarray(matrix), kind)
    vocabulary = _find_vocabulary(p, matrix.shape)
    if vocabulary is None:
        return _interaction_matrix(p, matrix, kind, what="a MatrixMarket sparse matrix")
    terms, transpose = vocabulary
    if transpose:  # the file is term x document; mfstudio keeps documents as rows
        matrix = matrix.T
    dataset = _interaction_matrix(
        p, matrix, kind, col_ids=np.asarray(terms), what="a MatrixMarket matrix",
        detected=("documents", f"a word list of {len(terms):,} terms beside it: read as documents (term weights)"))
    if dataset.kind != "documents":
        return replace(dataset, notes=[*dataset.notes, f"items named by the {len(terms):,} terms of its word list"])
    width = max(4, len(str(dataset.n_rows)))
    return replace(dataset, row_ids=np.asarray([f"doc{i + 1:0{width}d}" for i in range(dataset.n_rows)]),
                   notes=[*dataset.notes, f"vocabulary of {len(terms):,} terms from its word list"])


def _find_vocabulary(p: Path, shape) -> tuple[list[str], bool] | None:
    """A vocabulary file beside ``p`` whose length matches one side of the matrix."""
    for pattern in _VOCAB_NAMES:
        candidate = p.parent / pattern.format(stem=p.stem)
        if not candidate.is_file():
            continue
        terms = [line.split("\t")[0].strip() for line in _read_text_file(candidate).splitlines() if line.strip()]
        if len(terms) == shape[1]:
            return terms, False
        if len(terms) == shape[0]:
            return terms, True
        raise DataError(
            f"the word list has {len(terms):,} lines but the matrix is {shape[0]:,} x {shape[1]:,}",
            candidate,
            fix="use the vocabulary file that belongs to this matrix, one term per line",
        )
    return None
