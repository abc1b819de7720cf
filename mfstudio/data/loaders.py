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
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from . import movielens
from .columns import assign_roles
from .dataset import KINDS, Dataset
from .errors import DataError
from .tables import TableLayout, first_bad_row, physical_line, read_table, sniff_table
from .text import vectorize_texts

__all__ = ["load", "open_data", "can_load", "TABLE_SUFFIXES", "IMAGE_SUFFIXES"]

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
        Insist on a kind where the layout leaves a choice (e.g. a
        ``user,item,value`` file whose values could be ratings or counts).
    weighting, stop_words, min_df, max_features
        How documents are vectorised; see :func:`mfstudio.data.text.vectorize_texts`.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        One sentence naming the file, the line and the fix.
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

        return load_sample(text.split(":", 1)[1])
    return load(spec, **options)


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
        return _load_npy(p)
    if suffix in IMAGE_SUFFIXES:
        return _load_single_image(p)
    return _load_table(p, kind, doc_options)


def _load_folder(p: Path, kind, doc_options) -> Dataset:
    ratings = movielens.find_ratings_file(p)
    if ratings is not None and kind not in ("documents", "images"):
        return _load_table(ratings, kind, doc_options)
    files = sorted((f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")), key=_natural_key)
    if not files:
        raise DataError("the folder is empty", p, fix="choose a folder with text files or images in it")
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    texts = [f for f in files if f.suffix.lower() in TEXT_SUFFIXES]
    if kind == "images" or (images and len(images) >= len(texts) and kind != "documents"):
        if not images:
            raise DataError("the folder has no image files", p, fix="add .png or .jpg images of one size")
        return _load_image_folder(p, images)
    if texts:
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


def _load_table(p: Path, kind, doc_options) -> Dataset:
    layout = sniff_table(str(p))
    roles = assign_roles(layout, kind)
    if roles.kind == "documents":
        return _documents_from_table(p, layout, roles, doc_options)
    if roles.kind == "dense":
        return _grid_from_table(p, layout)
    dataset = _triples_from_table(p, layout, roles, kind)
    if dataset.col_ids.dtype.kind == "i":
        dataset = movielens.attach_movie_metadata(dataset, p)
    return dataset


def _triples_from_table(p: Path, layout: TableLayout, roles, kind_hint) -> Dataset:
    # int32 ids halve the memory of a big file; wider ids fall back to int64,
    # then to strings (read_table retries).
    types = {j: ("int32" if layout.integral[j] else "string") for j in (roles.user, roles.item)}
    if roles.value is not None:
        types[roles.value] = "float32"
    if roles.timestamp is not None:
        types[roles.timestamp] = "int64" if layout.integral[roles.timestamp] else "timestamp"
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
    user_codes, user_ids = _factorize(column(roles.user))
    table = table.drop_columns([f"c{roles.user}"])
    item_codes, item_ids = _factorize(column(roles.item))
    table = table.drop_columns([f"c{roles.item}"])
    if roles.value is not None:
        values64 = column(roles.value).to_numpy()
        bad = _unusable(values64)
        if bad.any():
            row = first_bad_row(bad)
            raise DataError(
                f"the value is {values64[row]:g} (not a finite number within float32 range)",
                p,
                line=physical_line(layout, row),
                fix="correct or delete that line",
            )
    else:
        values64 = np.ones(len(user_codes), dtype=np.float32)

    kind = roles.kind
    if kind == "ratings?":
        kind = kind_hint if kind_hint in ("explicit", "implicit") else _explicit_or_implicit(values64)
    elif kind_hint in ("explicit", "implicit"):
        kind = kind_hint
    if kind == "implicit" and (values64 < 0).any():
        row = first_bad_row(values64 < 0)
        raise DataError(
            f"the count is negative ({values64[row]:g}), and interaction counts cannot be",
            p,
            line=physical_line(layout, row),
            fix="remove negative counts, or open the file as ratings if they are scores",
        )
    timestamps = None
    if roles.timestamp is not None:
        timestamps = _timestamps(p, layout, column(roles.timestamp))
    del table

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
    )


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _unusable(values: np.ndarray) -> np.ndarray:
    """NaN, infinite, or too large for the float32 values a Dataset keeps."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(values) <= _FLOAT32_MAX)


def _explicit_or_implicit(values: np.ndarray) -> str:
    """Counts are whole, non-negative and spread wide; ratings sit on a short scale."""
    if values.size == 0:
        return "explicit"
    whole = bool(np.all(values == np.round(values)))
    lo, hi = float(values.min()), float(values.max())
    if whole and lo >= 0 and (hi > 10 or lo == hi):
        return "implicit"
    return "explicit"


def _factorize(column) -> tuple[np.ndarray, np.ndarray]:
    """Internal codes (int32, in sorted raw-id order) and the raw ids.

    Integer ids spanning a modest range (MovieLens: up to ~300k) go through a
    lookup table, one O(n) pass with no hashing and no sort of the ratings;
    other ids through pandas' hash factorize or Arrow's dictionary encoding.
    Never one Python object per row.
    """
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if pa.types.is_integer(column.type):
        parts = [chunk.to_numpy() for chunk in chunks]
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
        codes, uniques = pd.factorize(np.concatenate(parts), sort=True)
        return codes.astype(np.int32), np.asarray(uniques, dtype=np.int64)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    encoded = array.dictionary_encode()
    dictionary = np.asarray(encoded.dictionary.to_pylist(), dtype=str)
    order = np.argsort(dictionary, kind="stable")
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    codes = rank[encoded.indices.to_numpy()]
    return codes, dictionary[order]


def _timestamps(p: Path, layout: TableLayout, column) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        if column.null_count:
            row = first_bad_row(column.is_null().to_numpy(zero_copy_only=False))
            raise DataError("the timestamp is missing", p, line=physical_line(layout, row), fix="fill it in or delete the line")
        return column.to_numpy()
    text = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"the timestamp '{text.iloc[row]}' is neither a number of seconds nor a date",
            p,
            line=physical_line(layout, row),
            fix="write dates as 2024-01-31 or 2024-01-31 12:00:00, or as Unix seconds",
        )
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.int64)


def _merge_duplicates(rows, cols, values, timestamps, n_cols, *, sum_values):
    """Resolve repeated (row, col) pairs: sum counts, or keep the latest rating.

    Returns the arrays with one entry per pair (in file order) and how many
    entries were merged away. The common case, no duplicates, costs one sort
    of the pair keys; only the entries of repeated pairs are sorted further.
    """
    # One int64 key array, sorted in place: at 25M ratings each such array is
    # 200 MB, and the unsorted keys are only needed when there are repeats.
    sorted_key = rows.astype(np.int64)
    sorted_key *= max(n_cols, 1)
    sorted_key += cols
    sorted_key.sort()
    repeated = sorted_key[1:] == sorted_key[:-1]
    if not repeated.any():
        return rows, cols, values, timestamps, 0
    dup_keys = np.unique(sorted_key[1:][repeated])
    del sorted_key, repeated
    key = rows.astype(np.int64) * max(n_cols, 1) + cols
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


def _grid_from_table(p: Path, layout: TableLayout) -> Dataset:
    types = {j: "float64" for j in range(layout.n_columns)}
    table = read_table(layout, types)
    grid = np.column_stack([table.column(f"c{j}").to_numpy(zero_copy_only=False) for j in range(layout.n_columns)])
    col_ids = np.asarray(layout.column_names if layout.has_header else [str(j + 1) for j in range(layout.n_columns)])
    return _dataset_from_grid(p, grid.astype(np.float64), col_ids=col_ids, layout=layout)


def _dataset_from_grid(p: Path, grid: np.ndarray, *, col_ids=None, layout=None, name=None) -> Dataset:
    """A dense matrix; NaN (or an empty cell) is an unobserved entry, inf is an error."""
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
    rows, cols = np.nonzero(observed)
    notes = []
    missing = int(grid.size - rows.size)
    if missing:
        notes.append(f"{missing:,} empty or NaN cells are treated as unknown, not zero")
    return Dataset(
        kind="dense",
        rows=rows,
        cols=cols,
        values=grid[rows, cols],
        row_ids=np.arange(1, grid.shape[0] + 1),
        col_ids=col_ids if col_ids is not None else np.arange(1, grid.shape[1] + 1),
        name=name or p.name,
        source=str(p),
        notes=notes,
    )


def _documents_from_table(p: Path, layout: TableLayout, roles, doc_options) -> Dataset:
    types = {roles.text: "string"}
    if roles.doc_id is not None:
        types[roles.doc_id] = "string"
    table = read_table(layout, types)
    texts = table.column(f"c{roles.text}").to_pylist()
    ids = table.column(f"c{roles.doc_id}").to_pylist() if roles.doc_id is not None else None
    if ids is not None and len(set(ids)) != len(ids):
        ids = None  # ids must be unique to map back; fall back to row numbers
    return vectorize_texts(texts, ids, name=p.name, source=p, **doc_options)


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
    return vectorize_texts(texts, ids, name=p.name, source=p, **doc_options)


# ------------------------------------------------------------------- images


def _open_grey(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise DataError("this image cannot be read", path, fix="remove it or save it again as PNG") from None


def _load_image_folder(p: Path, files: list[Path]) -> Dataset:
    first = _open_grey(files[0])
    stack = np.empty((len(files), first.size), dtype=np.float32)
    stack[0] = first.ravel()
    for k, f in enumerate(files[1:], start=1):
        pixels = _open_grey(f)
        if pixels.shape != first.shape:
            raise DataError(
                f"this image is {pixels.shape[1]}x{pixels.shape[0]} pixels but {files[0].name} is "
                f"{first.shape[1]}x{first.shape[0]}",
                f,
                fix="resize all images to one size",
            )
        stack[k] = pixels.ravel()
    ids = [str(f.relative_to(p)) for f in files]
    return _images_dataset(p, stack, first.shape, ids)


def _images_dataset(p: Path, stack: np.ndarray, shape, ids) -> Dataset:
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
    )


def _load_single_image(p: Path) -> Dataset:
    pixels = _open_grey(p)
    dataset = _dataset_from_grid(p, pixels.astype(np.float64))
    return replace(dataset, notes=[*dataset.notes, f"{pixels.shape[1]}x{pixels.shape[0]} image as a matrix of grey levels"])


# ------------------------------------------------------------- binary arrays


def _check_numeric(p: Path, array: np.ndarray, what: str = "the array") -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} holds {array.dtype} values, not numbers", p, fix="save a numeric array")
    return array


def _load_npy(p: Path) -> Dataset:
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
    return _dataset_from_array(p, array)


def _dataset_from_array(p: Path, array: np.ndarray) -> Dataset:
    array = _check_numeric(p, array)
    if array.ndim == 3 and array.shape[0] > 0:
        n, h, w = array.shape
        stack = array.reshape(n, h * w).astype(np.float32)
        if not np.isfinite(stack).all():
            raise DataError("the image stack has NaN or infinite pixels", p, fix="replace them by numbers")
        return _images_dataset(p, stack, (h, w), [f"img{i + 1:04d}" for i in range(n)])
    if array.ndim != 2:
        raise DataError(
            f"the array has {array.ndim} dimension(s); mfstudio needs a 2-D matrix or a 3-D stack of images",
            p,
            fix="reshape it to rows x columns",
        )
    return _dataset_from_grid(p, array.astype(np.float64))


_SPARSE_KEYS = {"format", "shape", "data"}


def _load_npz(p: Path, kind) -> Dataset:
    import scipy.sparse as sp

    try:
        archive = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise DataError("it is not a valid .npz archive", p, fix="save it again with numpy.savez or scipy.sparse.save_npz") from None
    with archive:
        keys = list(archive.files)
        if _SPARSE_KEYS <= set(keys):
            try:
                matrix = sp.load_npz(p)
            except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
                raise DataError(f"the sparse matrix in it is damaged ({exc})", p, fix="save it again with scipy.sparse.save_npz") from None
            return _interaction_matrix(p, matrix, kind)
        if not keys:
            raise DataError("the archive holds no arrays", p, fix="save at least one 2-D array in it")
        try:
            arrays = {k: archive[k] for k in keys}
        except ValueError:
            raise DataError(
                "it holds Python objects, which mfstudio never unpickles for safety",
                p,
                fix="save plain numeric arrays",
            ) from None
        except (OSError, zipfile.BadZipFile, EOFError):
            raise DataError("the archive is damaged", p, fix="save it again with numpy.savez") from None
    preferred = [k for k in ("X", "data", "matrix", "ratings", "arr_0") if k in arrays and arrays[k].ndim in (2, 3)]
    candidates = preferred or [k for k in keys if arrays[k].ndim in (2, 3)]
    if not candidates:
        raise DataError(
            f"none of its arrays ({', '.join(keys[:5])}) is a 2-D matrix", p, fix="save a 2-D numeric array in it"
        )
    dataset = _dataset_from_array(p, arrays[candidates[0]])
    if len(keys) > 1:
        dataset = replace(dataset, notes=[*dataset.notes, f"used array '{candidates[0]}' of {len(keys)} in the archive"])
    return dataset


def _interaction_matrix(p: Path, matrix, kind, col_ids=None, row_ids=None) -> Dataset:
    coo = matrix.tocoo()
    coo.sum_duplicates()
    values = coo.data.astype(np.float64)
    if _unusable(values).any():
        raise DataError("the matrix has NaN or infinite entries", p, fix="replace them by numbers")
    if kind is None or kind not in ("explicit", "implicit", "documents"):
        kind = _explicit_or_implicit(values)
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
    )


def _load_matrix_market(p: Path, kind) -> Dataset:
    import scipy.io

    try:
        matrix = scipy.io.mmread(p)
    except (ValueError, OSError, IndexError, UnicodeDecodeError, TypeError) as exc:
        message = str(exc).splitlines()[0][:120] if str(exc) else "unreadable"
        raise DataError(f"it is not a valid MatrixMarket file ({message})", p, fix="check the %%MatrixMarket header and the size line") from None
    if isinstance(matrix, np.ndarray):
        return _dataset_from_array(p, np.asarray(matrix))
    vocabulary = _find_vocabulary(p, matrix.shape)
    if vocabulary is None:
        return _interaction_matrix(p, matrix, kind)
    terms, transpose = vocabulary
    if transpose:  # the file is term x document; mfstudio keeps documents as rows
        matrix = matrix.T
    dataset = _interaction_matrix(p, matrix, "documents", col_ids=np.asarray(terms))
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
