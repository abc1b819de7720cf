"""Side information: what is known about users and items besides their ratings.

A :class:`SideFeatures` is a sparse indicator matrix (one row per internal
user or item id of a :class:`~mfstudio.data.dataset.Dataset`, one column per
feature) plus the feature names (``"genre=Comedy"``, ``"age=25-34"``) and the
file they came from. Categorical columns become one indicator per value;
multi-valued columns (``"Action|Comedy"``) one indicator per listed value.
It is the form hybrid models read (SVDFeature / LightFM: a row's vector is
the sum of its features' embeddings) and what the data panel and
``mfstudio info`` show.

Sources:

- MovieLens, with no configuration (:mod:`mfstudio.data.movielens` calls
  :func:`item_features_from_lists` and :func:`read_movielens_users`):
  genres and release decade of each movie; age band, gender and occupation
  of each user from ``u.user`` / ``users.dat``.
- Any file (:func:`read_feature_file`, ``--item-features`` /
  ``--user-features``): a delimited table whose first column is the id and
  whose other columns are categorical, ``|``-separated lists allowed.

Nothing here imports Qt or pandas.
"""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp  # only for annotations: scipy.sparse is imported where it is used

from .errors import DataError

__all__ = [
    "SideFeatures", "features_from_lists", "read_feature_file", "read_movielens_users", "attach_feature_file",
    "age_band",
]

#: Age bands of MovieLens 1M's users.dat (the codes it stores), used to band 100K's exact ages too.
_AGE_BANDS = ((1, "under 18"), (18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-49"), (50, "50-55"), (56, "56+"))

#: MovieLens 1M occupation codes (README of ml-1m).
_ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer", "programmer",
    "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
)


class SideFeatures:
    """Features of the rows (users) or columns (items) of a dataset.

    The indicator matrix is kept as plain CSR arrays; the scipy matrix is built
    the first time :attr:`matrix` is read, so loading a dataset with features
    (the movies sample the window opens with) does not import scipy.sparse.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array_like, shape (n_entities, n_features)
        1 where an entity has a feature. Row ``j`` belongs to internal id
        ``j`` of the dataset (``col_ids[j]`` for items, ``row_ids[j]`` for
        users); an entity the file did not list has an empty row. Duplicate
        entries are summed.
    names : array_like of str, shape (n_features,)
        ``"column=value"`` for each feature, e.g. ``"genre=Drama"``.
    source : str
        The file the features were read from (its name), or a short origin
        such as ``"generated"``.
    """

    __slots__ = ("_data", "_indices", "_indptr", "_n_features", "_matrix", "_names", "_source")

    def __init__(self, matrix, names, source: str = ""):
        import scipy.sparse as sp
        csr = sp.csr_matrix(matrix, dtype=np.float32)
        csr.sum_duplicates()
        self._assign(csr.data, csr.indices, csr.indptr, csr.shape[1], names, source)
        self._matrix = csr

    @classmethod
    def from_csr_arrays(cls, data, indices, indptr, n_features: int, names, source: str = "") -> "SideFeatures":
        """Features from canonical CSR arrays (column indices sorted and unique within each row), without scipy."""
        features = cls.__new__(cls)
        features._assign(data, indices, indptr, n_features, names, source)
        return features

    def _assign(self, data, indices, indptr, n_features, names, source):
        names = np.asarray(names, dtype=str)
        if names.ndim != 1 or int(n_features) != names.size:
            raise ValueError("side features need one name per feature column")
        self._data = np.ascontiguousarray(data, dtype=np.float32)
        self._indices = np.ascontiguousarray(indices, dtype=np.int32)
        self._indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self._n_features = int(n_features)
        self._names = names
        self._source = str(source)
        self._matrix = None

    @property
    def matrix(self) -> "sp.csr_matrix":
        """The indicator matrix, ``scipy.sparse.csr_matrix`` of float32, shape (n_entities, n_features)."""
        if self._matrix is None:
            import scipy.sparse as sp
            self._matrix = sp.csr_matrix((self._data, self._indices, self._indptr),
                                         shape=(self.n_entities, self._n_features))
        return self._matrix

    @property
    def names(self) -> np.ndarray:
        return self._names

    @property
    def source(self) -> str:
        return self._source

    @property
    def n_features(self) -> int:
        return self._n_features

    @property
    def n_entities(self) -> int:
        return int(self._indptr.size - 1)

    def covered(self) -> np.ndarray:
        """True for each entity that has at least one feature."""
        return np.diff(self._indptr) > 0

    def take(self, index: np.ndarray) -> "SideFeatures":
        """Rows ``index`` in that order; an index of -1 gives an empty row (an entity the features do not know)."""
        index = np.asarray(index, dtype=np.int64)
        known = index >= 0
        counts = np.zeros(index.size, dtype=np.int64)
        starts = np.zeros(index.size, dtype=np.int64)
        counts[known] = np.diff(self._indptr)[index[known]]
        starts[known] = self._indptr[index[known]]
        indptr = np.zeros(index.size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        # Entry e of output row r comes from position starts[r] + (e - indptr[r]).
        picked = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        return SideFeatures.from_csr_arrays(self._data[picked], self._indices[picked], indptr, self._n_features,
                                            self._names, self._source)

    def extended(self, n_extra: int) -> "SideFeatures":
        """The same features with ``n_extra`` empty rows appended (ids only a test file has)."""
        if n_extra <= 0:
            return self
        indptr = np.concatenate([self._indptr, np.full(n_extra, self._indptr[-1], dtype=np.int64)])
        return SideFeatures.from_csr_arrays(self._data, self._indices, indptr, self._n_features, self._names,
                                            self._source)

    def stacked(self, below: "SideFeatures") -> "SideFeatures":
        """These rows, then ``below``'s (same feature columns), under this one's names and source."""
        if below.n_features != self._n_features:
            raise ValueError("stacked side features need the same feature columns")
        indptr = np.concatenate([self._indptr, below._indptr[1:] + self._indptr[-1]])
        return SideFeatures.from_csr_arrays(np.concatenate([self._data, below._data]),
                                            np.concatenate([self._indices, below._indices]), indptr,
                                            self._n_features, self._names, self._source)

    def describe(self, entity: str) -> str:
        """One line: ``"23 features from u.item (genre, year) for 1,682 of 1,682 items"``."""
        columns = sorted({name.partition("=")[0] for name in self.names.tolist()})
        covered = int(self.covered().sum())
        kinds = f" ({', '.join(columns)})" if columns else ""
        origin = f" from {self.source}" if self.source else ""
        return (f"{self.n_features:,} features{origin}{kinds} for {covered:,} of {self.n_entities:,} "
                f"{entity}s")

    def as_dict(self) -> dict:
        """JSON-ready summary: count, source, covered entities, the feature columns."""
        return {
            "n_features": self.n_features,
            "source": self.source,
            "covered": int(self.covered().sum()),
            "columns": sorted({name.partition("=")[0] for name in self.names.tolist()}),
        }


def features_from_lists(values_per_entity: list[list[str]], source: str = "") -> SideFeatures:
    """Indicator features from each entity's list of ``"column=value"`` strings (in entity order).

    A value listed twice for one entity counts twice (its entry is 2), as summing duplicates would give.
    """
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, values in enumerate(values_per_entity):
        for value in values:
            rows.append(row)
            cols.append(vocabulary.setdefault(value, len(vocabulary)))
    names = np.asarray(list(vocabulary), dtype=str) if vocabulary else np.zeros(0, dtype=str)
    # Sorted names make the columns the same whatever order the file listed its entities in.
    order = np.argsort(names, kind="stable")
    column_of = np.empty(names.size, dtype=np.int64)
    column_of[order] = np.arange(names.size)
    n_entities, n_features = len(values_per_entity), int(names.size)
    # One key per (row, column) in row-major order: unique() sorts each row's columns and merges repeats.
    keys, counts = np.unique(np.asarray(rows, np.int64) * max(n_features, 1)
                             + column_of[np.asarray(cols, np.int64)], return_counts=True)
    indptr = np.zeros(n_entities + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // max(n_features, 1), minlength=n_entities), out=indptr[1:])
    return SideFeatures.from_csr_arrays(counts, keys % max(n_features, 1), indptr, n_features, names[order], source)


def align(ids_in_file: np.ndarray, lists: list[list[str]], dataset_ids: np.ndarray, source: str) -> SideFeatures:
    """Features for ``dataset_ids`` from per-file-row lists; ids the file lacks get empty rows."""
    if dataset_ids.dtype.kind in "iu":
        try:
            file_ids = np.asarray([int(x) for x in ids_in_file], dtype=np.int64)
        except ValueError:
            file_ids = np.asarray(ids_in_file, dtype=str)
            dataset_ids = dataset_ids.astype(str)
    else:
        file_ids = np.asarray(ids_in_file, dtype=str)
    table = features_from_lists(lists, source)
    position = {raw: row for row, raw in enumerate(file_ids.tolist())}
    index = np.asarray([position.get(raw, -1) for raw in dataset_ids.tolist()], dtype=np.int64)
    return table.take(index)


def age_band(age: int) -> str:
    """The MovieLens 1M band of an age in years: ``"25-34"``."""
    band = _AGE_BANDS[0][1]
    for low, name in _AGE_BANDS:
        if age >= low:
            band = name
    return band


def _read_text(path: Path) -> str:
    for encoding in ("utf-8", "latin-1"):
        try:
            return path.read_text(encoding=encoding)
        except UnicodeDecodeError:
            continue
    return path.read_text(encoding="latin-1", errors="replace")  # pragma: no cover - latin-1 decodes any byte


def read_movielens_users(folder: Path) -> tuple[np.ndarray, list[list[str]], str] | None:
    """``(ids, feature lists, file name)`` from ``u.user`` (100K) or ``users.dat`` (1M); None without either.

    100K: ``id|age|gender|occupation|zip``; 1M: ``id::gender::age code::occupation code::zip``.
    Each user gets ``age=<band>``, ``gender=<M|F>``, ``occupation=<name>``.

    Raises
    ------
    DataError
        A line with too few fields or an age that is not a number (file and line named).
    """
    for filename, sep in (("u.user", "|"), ("users.dat", "::")):
        path = folder / filename
        if not path.is_file():
            continue
        ids, lists = [], []
        for number, line in enumerate(_read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split(sep)
            if len(fields) < 4:
                raise DataError(f"expected at least 4 '{sep}'-separated fields, saw {len(fields)}", path, number,
                                fix="correct the line or remove the file")
            try:
                age = int(fields[1] if sep == "|" else fields[2])
            except ValueError:
                raise DataError(f"the age {fields[1 if sep == '|' else 2]!r} is not a whole number", path, number,
                                fix="correct the line or remove the file") from None
            gender = fields[2] if sep == "|" else fields[1]
            occupation = fields[3].strip()
            if sep == "::" and occupation.isdigit() and int(occupation) < len(_ML1M_OCCUPATIONS):
                occupation = _ML1M_OCCUPATIONS[int(occupation)]
            ids.append(fields[0].strip())
            lists.append([f"age={age_band(age)}", f"gender={gender.strip()}", f"occupation={occupation}"])
        return np.asarray(ids), lists, filename
    return None


def _split_row(line: str, delimiter: str) -> list[str]:
    if delimiter == "::":
        return line.split("::")
    import csv

    return next(csv.reader([line], delimiter=delimiter))


def read_feature_file(path, dataset_ids: np.ndarray, what: str = "item") -> SideFeatures:
    """Side features from a table: first column the id, every other column categorical.

    The delimiter is found from the first line (``,``, tab, ``;``, ``::`` or
    ``|``); a first line whose id does not look like any id of the data and
    whose fields are words is a header and names the columns (else they are
    ``col2``, ``col3``...). Within a field, ``|`` separates several values
    (``Action|Comedy``) unless ``|`` is the delimiter. Empty fields add no
    feature.

    Parameters
    ----------
    path : path-like
    dataset_ids : ndarray
        The raw ids of the dataset's users or items (``row_ids`` / ``col_ids``).
    what : {"item", "user"}
        For messages.

    Returns
    -------
    SideFeatures
        Aligned with ``dataset_ids``.

    Raises
    ------
    DataError
        Missing or unreadable file, no id column, a line with another number
        of fields than the first, an id listed twice, or no id in common with
        the data (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"there is no {what} feature file here", path, fix="check the path")
    try:
        text = _read_text(path)
    except OSError as exc:
        raise DataError(f"the {what} feature file cannot be read ({exc.strerror or exc})", path) from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise DataError(f"the {what} feature file is empty", path, fix="give a table: id, then feature columns")
    first = lines[0][1]
    delimiter = next((d for d in ("::", "\t", ",", ";", "|") if d in first), None)
    if delimiter is None:
        raise DataError(f"the first line has only one column, so it holds no {what} features", path, 1,
                        fix="give the id, then feature columns, separated by commas or tabs")
    known = set(dataset_ids.astype(str).tolist())
    header = _split_row(first, delimiter)
    has_header = header[0].strip() not in known and not header[0].strip().lstrip("-").isdigit()
    width = len(header)
    names = [h.strip() or f"col{j + 1}" for j, h in enumerate(header)] if has_header else \
        [f"col{j + 1}" for j in range(width)]
    body = lines[1:] if has_header else lines
    multi = delimiter != "|"
    ids, lists, seen = [], [], {}
    for number, line in body:
        fields = _split_row(line, delimiter)
        if len(fields) != width:
            raise DataError(f"expected {width} fields as on the first line, saw {len(fields)}", path, number,
                            fix="give every line the same columns")
        raw = fields[0].strip()
        if not raw:
            raise DataError(f"the {what} id is empty", path, number, fix="give each line an id first")
        if raw in seen:
            raise DataError(f"the {what} id {raw!r} is listed twice (first on line {seen[raw]})", path, number,
                            fix="list each id once; put several values in one field separated by '|'")
        seen[raw] = number
        values = []
        for name, field in zip(names[1:], fields[1:]):
            parts = field.split("|") if multi else [field]
            values.extend(f"{name}={part.strip()}" for part in parts if part.strip())
        ids.append(raw)
        lists.append(values)
    if not ids:
        raise DataError(f"the {what} feature file has a header but no rows", path)
    if not known & set(ids):
        example = next(iter(known), "")
        raise DataError(f"none of its {len(ids):,} ids is a {what} id of the data (e.g. {example!r})", path,
                        fix=f"give a file whose first column holds the data's {what} ids")
    return align(np.asarray(ids), lists, np.asarray(dataset_ids), path.name)


def attach_feature_file(dataset, path, what: str):
    """``dataset`` with item (``what="item"``) or user features read from ``path`` (replacing any it had)."""
    from dataclasses import replace

    if what == "item":
        return replace(dataset, item_features=read_feature_file(path, dataset.col_ids, "item"))
    if what == "user":
        return replace(dataset, user_features=read_feature_file(path, dataset.row_ids, "user"))
    raise ValueError(f"what must be 'item' or 'user', not {what!r}")
