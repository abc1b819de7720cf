"""Delimited text tables: sniff the layout, read fast, explain what is wrong.

Reading happens in two passes over a small head and one fast pass over the
whole file:

1. :func:`sniff_table` reads the first 64 KiB and decides the encoding, the
   delimiter, whether there is a header and the type of each column, in
   Python (a few hundred lines, cheap).
2. :func:`read_table` reads everything with pyarrow's multi-threaded CSV
   reader into typed Arrow columns (int64 ids, float32 values), so a
   25-million-row file never becomes Python objects. Small all-numeric files
   (MovieLens 100K) are read by numpy instead (:func:`read_small_numeric`,
   the same columns; no pyarrow or pandas import for a terminal command);
   anything it is not sure of goes to pyarrow.
3. Only when that fails, :func:`locate_problem` walks the file line by line to
   find the first line at fault and say what is wrong with it. The slow path
   runs only for files that are wrong anyway.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from .budget import format_bytes
from .errors import DataError

__all__ = ["TableLayout", "sniff_table", "read_table", "iter_batches", "ReadAgain", "locate_problem", "physical_line"]

HEAD_BYTES = 64 * 1024
#: The longest line (or quoted record) the line-by-line diagnosis reads. A
#: line longer than this is the problem itself: no table needs a 16 MB cell.
LONGEST_LINE = 16 << 20
SNIFF_LINES = 200
DELIMITERS = ("::", "\t", ",", ";", "|", " ")
DELIMITER_NAMES = {"::": "'::'", "\t": "tabs", ",": "commas", ";": "semicolons", "|": "'|'", " ": "spaces"}

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|nan|inf|infinity)$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+-]?\d+$")


def is_number(token: str) -> bool:
    return bool(_NUMBER.match(token.strip()))


@dataclass
class TableLayout:
    """What sniffing found out about a delimited text file."""

    path: str
    encoding: str
    delimiter: str  # one of DELIMITERS, or "whitespace" for runs of blanks
    has_header: bool
    column_names: list[str]
    head_rows: list[list[str]]  # parsed data rows of the head (header excluded)
    numeric: list[bool] = field(default_factory=list)  # every head value numeric
    integral: list[bool] = field(default_factory=list)  # every head value an integer
    mean_length: list[float] = field(default_factory=list)
    has_spaces: list[bool] = field(default_factory=list)
    truncated: bool = False  # head did not reach the end of the file
    multiline: bool = False  # a quoted value in the head spans lines (documents)
    file_bytes: int = 0  # size of the whole file
    bytes_per_line: float = 0.0  # mean length of the head's lines, newline included

    @property
    def estimated_lines(self) -> int:
        """Lines in the whole file, estimated from the head (exact when the head is the file)."""
        if self.bytes_per_line <= 0:
            return 0
        return int(self.file_bytes / self.bytes_per_line) + 1

    @property
    def n_columns(self) -> int:
        return len(self.column_names)


def _decode_head(path: str, raw: bytes, complete: bool) -> tuple[str, str]:
    """Decode the head bytes, choosing UTF-8 and falling back to Latin-1."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise DataError(
            "the file is UTF-16/UTF-32 encoded, which is not supported",
            path,
            fix="save it as UTF-8 (most editors and spreadsheet programs offer 'CSV UTF-8')",
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"this is a binary file, not a text table (a NUL byte at offset {nul})",
            path,
            line=raw[:nul].count(b"\n") + 1,
            fix="open a CSV/TSV text file, or a .npy/.npz/.mtx file by its own extension",
        )
    if not complete:
        raw = raw[: raw.rfind(b"\n") + 1] or raw
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding = "latin-1"
        text = raw.decode(encoding)
    # A text table is mostly printable; control bytes mean something else.
    sample = text[:8192]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\r\n\t\f")
    if sample and control > max(2, len(sample) // 100):
        raise DataError(
            "this looks like a binary file, not a text table",
            path,
            fix="open a CSV/TSV text file, or a .npy/.npz/.mtx file by its own extension",
        )
    return text, encoding


_QUOTING_DELIMITERS = (",", ";", "\t")  # the delimiters read_table honours quotes for


def _ends_inside_quotes(line: str, inside: bool = False) -> bool:
    """Whether a quoted field is still open at the end of ``line``.

    Quotes count as CSV does: one opens a field only at its start (after a
    delimiter), ``""`` inside is an escaped quote, so ``5'2" tall`` in the
    middle of a field opens nothing.
    """
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if inside:
            if ch == '"':
                if i + 1 < n and line[i + 1] == '"':
                    i += 1
                else:
                    inside = False
        elif ch == '"' and (i == 0 or line[i - 1] in ",;\t|"):
            inside = True
        i += 1
    return inside


_LONGEST_RECORD = 200  # lines; a quote left open longer is a stray quote, not a record


def _records(lines: list[str], complete: bool = True) -> tuple[list[tuple[int, str]], bool]:
    """Join physical lines into records where a quoted value spans lines.

    Returns ``[(first physical line number, record)]`` of the non-blank
    records and whether any record spans lines. A quote that does not close
    within a few hundred lines is left alone: that is a broken line to
    report, not a document. When the text is only the head of the file, an
    open quote at its end is a record cut short and is dropped.
    """
    out: list[tuple[int, str]] = []
    multiline = False
    k = 0
    while k < len(lines):
        line, end = lines[k], k
        if '"' in line and _ends_inside_quotes(line):
            inside, m = True, k
            while inside and m + 1 < len(lines) and m - k < _LONGEST_RECORD:
                m += 1
                inside = _ends_inside_quotes(lines[m], True)
            if not inside:
                line, end, multiline = "\n".join(lines[k:m + 1]), m, True
            elif not complete and m + 1 == len(lines) and k > 0:
                break
        if line.strip():
            out.append((k + 1, line))
        k = end + 1
    return out, multiline


@contextlib.contextmanager
def _field_limit_at_least(n: int):
    """Let the csv module read fields of ``n`` characters (its default stops at 131,072).

    The limit is process-wide, so it is raised only while such a line is split
    and put back afterwards.
    """
    previous = csv.field_size_limit()
    if n <= previous:
        yield
        return
    csv.field_size_limit(n)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == "whitespace":
        return line.split()
    if delimiter == "::":
        return line.split("::")
    with _field_limit_at_least(len(line) + 1):
        if "\n" not in line:
            return next(csv.reader([line], delimiter=delimiter, skipinitialspace=delimiter != " "))
        # A record joined across lines (see _records): where this delimiter does
        # not open the quote, the line break ends a row; glue the pieces back so
        # the break stays inside one field.
        fields: list[str] = []
        for row in csv.reader(io.StringIO(line), delimiter=delimiter, skipinitialspace=delimiter != " "):
            if fields and row:
                fields[-1] += "\n" + row[0]
                fields.extend(row[1:])
            else:
                fields.extend(row)
        return fields


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    return [len(_split(line, delimiter)) for line in lines]


def _choose_delimiter(path: str, lines: list[str]) -> str:
    """The delimiter that splits every head line into the same >= 2 fields."""
    best = None
    for delimiter in DELIMITERS + ("whitespace",):
        if delimiter == "::" and "::" not in lines[0]:
            continue
        counts = _field_counts(lines, delimiter)
        if counts[0] >= 2 and all(c == counts[0] for c in counts):
            if delimiter == " " and any("  " in line.strip() for line in lines):
                continue  # runs of blanks: let "whitespace" take it
            return delimiter
        if counts[0] >= 2 and best is None and delimiter not in (" ", "whitespace"):
            best = (delimiter, counts)
    if len(lines) == 1 or all(len(_split(line, ",")) == 1 for line in lines):
        return ","  # a single column; the caller decides whether that is usable
    if best is not None:
        delimiter, counts = best
        bad = next(i for i, c in enumerate(counts) if c != counts[0])
        others = [d for d in DELIMITERS if d != delimiter and d in lines[bad]]
        detail = f" (it uses {DELIMITER_NAMES[others[0]]})" if others else ""
        raise DataError(
            f"this line has {_fields(counts[bad])} but line 1 has {_fields(counts[0])} separated by "
            f"{DELIMITER_NAMES[delimiter]}{detail}",
            path,
            line=bad + 1,  # caller maps head index to physical line
            fix="use one delimiter and the same number of columns on every line",
        )
    raise DataError(
        "cannot tell how the columns are separated",
        path,
        fix="separate columns with commas, tabs, semicolons or '::', the same on every line",
    )


def sniff_table(path: str) -> TableLayout:
    """Decide encoding, delimiter, header and column types from the file's head.

    Raises
    ------
    DataError
        Empty file, binary content, unsupported encoding, inconsistent
        delimiters in the head, or a header with no rows below it.
    """
    with open(path, "rb") as fh:
        raw = fh.read(HEAD_BYTES + 1)
    complete = len(raw) <= HEAD_BYTES
    raw = raw[:HEAD_BYTES]
    if not raw.strip():
        raise DataError("the file is empty", path, fix="choose a file that has data in it")
    text, encoding = _decode_head(path, raw, complete)
    head_bytes = len(raw) if complete else (raw.rfind(b"\n") + 1 or len(raw))
    file_bytes = os.path.getsize(path)
    numbered, multiline = _records(text.splitlines(), complete)
    numbered = numbered[:SNIFF_LINES]
    if not numbered:
        raise DataError("the file is empty", path, fix="choose a file that has data in it")
    lines = [ln for _, ln in numbered]
    try:
        delimiter = _choose_delimiter(path, lines)
    except DataError as err:
        if err.line is not None:
            err = DataError(err.problem, path, line=numbered[err.line - 1][0], fix=err.fix)
        raise err from None
    rows = [[tok.strip() for tok in _split(line, delimiter)] for line in lines]
    n_cols = len(rows[0])
    has_header = _looks_like_header(rows)
    if has_header:
        names = [name.strip().strip('"') for name in rows[0]]
        data_rows = rows[1:]
    else:
        names = [f"column{i + 1}" for i in range(n_cols)]
        data_rows = rows
    if not data_rows:
        if complete:
            raise DataError(
                "the file has a header but no data rows",
                path,
                line=numbered[0][0],
                fix="add rows of data below the header",
            )
    layout = TableLayout(
        path=path,
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
        column_names=names,
        head_rows=data_rows,
        truncated=not complete,
        multiline=multiline and delimiter in _QUOTING_DELIMITERS,
        file_bytes=file_bytes,
        bytes_per_line=head_bytes / max(text.count("\n"), 1),
    )
    for j in range(n_cols):
        col = [r[j] for r in data_rows if j < len(r) and r[j] != ""]
        layout.numeric.append(bool(col) and all(is_number(t) for t in col))
        layout.integral.append(bool(col) and all(_INTEGER.match(t) for t in col))
        layout.mean_length.append(sum(map(len, col)) / len(col) if col else 0.0)
        layout.has_spaces.append(any(" " in t for t in col))
    return layout


_SHORT_NAME = 32  # a column name is short; a document is not


def _looks_like_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns.

    Evidence, any of: a name over a column of numbers; two or more known
    column names (user, item, rating, text, category...); a short name over
    a column of long sentences (``category,text`` over documents). A row of
    only numbers and blanks is data: a blank cell names nothing.
    """
    first = rows[0]
    if all(is_number(t) or t == "" for t in first):
        return False
    if len(rows) == 1:
        return not any(is_number(t) for t in first)
    rest = rows[1:]
    for j, token in enumerate(first):
        if token == "":
            continue
        column = [r[j] for r in rest if j < len(r) and r[j] != ""]
        if column and not is_number(token) and all(is_number(t) for t in column):
            return True
    from .columns import role_of  # known names mean a header even over string columns

    if any(is_number(t) for t in first):
        return False
    named = [role_of(t) for t in first]
    if sum(r is not None for r in named) >= 2:
        return True
    for j, token in enumerate(first):
        column = [r[j] for r in rest if j < len(r) and r[j] != ""]
        if not column or not token or len(token) > _SHORT_NAME or "\n" in token:
            continue
        mean_length = sum(map(len, column)) / len(column)
        if mean_length >= 25 and mean_length >= 3 * len(token) and any(" " in t for t in column):
            return True
    return False


# --------------------------------------------------------------------------- reading


def read_table(layout: TableLayout, column_types: dict[int, str], id_columns=()):
    """Read the chosen columns of the whole file into an Arrow table.

    Parameters
    ----------
    layout : TableLayout
        From :func:`sniff_table`.
    column_types : dict of int to {"int64", "float32", "float64", "string", "timestamp"}
        Column index -> type; only these columns are read.
    id_columns : collection of int
        Columns holding ids, which fall back from int64 to string when a
        value further down is not a whole number.

    Returns
    -------
    pyarrow.Table
        Columns named ``c{index}``.

    Raises
    ------
    DataError
        Located by :func:`locate_problem` when the fast reader rejects the file.
    """
    fast = read_small_numeric(layout, column_types)
    if fast is not None:
        return fast
    return read_table_full(layout, column_types, id_columns)


def _arrow_options(layout: TableLayout, column_types: dict[int, str], block_size: int):
    """pyarrow's read/parse/convert options for ``layout`` and the physical -> ``c{j}`` names."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrow_types = {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float32": pa.float32(),
        "float64": pa.float64(),
        "string": pa.string(),
        "timestamp": pa.string(),  # parsed afterwards: numbers or dates
    }
    n_cols = layout.n_columns
    if layout.delimiter == "::":
        # pyarrow has one-character delimiters only: "a::b" splits on ':' into
        # a, "", b, so column j lives at position 2j.
        physical = [f"p{i}" for i in range(2 * n_cols - 1)]
        mapping = {f"c{j}": f"p{2 * j}" for j in range(n_cols)}
        delimiter = ":"
    else:
        physical = [f"c{j}" for j in range(n_cols)]
        mapping = {f"c{j}": f"c{j}" for j in range(n_cols)}
        delimiter = layout.delimiter
    include = [mapping[f"c{j}"] for j in sorted(column_types)]
    types = {mapping[f"c{j}"]: arrow_types[t] for j, t in column_types.items()}
    encoding = "utf8" if layout.encoding.startswith("utf-8") else layout.encoding
    read_options = pacsv.ReadOptions(
        column_names=physical,
        skip_rows=1 if layout.has_header else 0,
        encoding=encoding,
        block_size=block_size,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter,
        quote_char='"' if layout.delimiter in _QUOTING_DELIMITERS else False,
        newlines_in_values=layout.multiline,
        ignore_empty_lines=True,
    )
    convert_options = pacsv.ConvertOptions(
        include_columns=include,
        column_types=types,
        strings_can_be_null=False,
        null_values=[""],
    )
    inverse = {v: k for k, v in mapping.items()}
    return read_options, parse_options, convert_options, inverse


class ReadAgain(Exception):
    """The streamed read must start over from the first line with another encoding or wider id types.

    Raised by :func:`iter_batches` part-way through a file, where the whole-file
    reader would simply have re-read it; whoever collects the batches drops what
    it has and calls :func:`iter_batches` again with ``layout`` and ``column_types``.
    """

    def __init__(self, layout: TableLayout, column_types: dict[int, str]):
        super().__init__("read again")
        self.layout = layout
        self.column_types = column_types


def _retry_or_locate(exc: Exception, layout: TableLayout, column_types: dict[int, str], id_columns):
    """What a reader failure means: ``(layout, column_types)`` to read again with, or the located DataError."""
    if "UTF8" in str(exc) and layout.encoding.startswith("utf-8"):
        # Valid UTF-8 in the head, not further down: old files (MovieLens
        # among them) are Latin-1, which decodes any byte.
        return replace(layout, encoding="latin-1"), column_types
    # Ids that looked like integers in the head may turn into strings
    # further down ("u1042"): that is legitimate, read them as strings.
    match = re.search(r"In CSV column #(\d+): CSV conversion error to (int32|int64)", str(exc))
    if match:
        bad = int(match.group(1))
        bad = bad // 2 if layout.delimiter == "::" else bad
        wider = {"int32": "int64", "int64": "string"}[match.group(2)]
        if column_types.get(bad) == match.group(2) and bad in (id_columns or ()):
            return layout, {**column_types, bad: wider}
    return locate_problem(layout, column_types, str(exc))


def read_table_full(layout: TableLayout, column_types: dict[int, str], id_columns=()):
    """:func:`read_table` by pyarrow (pandas for whitespace), for files of any size: the reader of record."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if layout.delimiter == "whitespace":
        return _read_whitespace(layout, column_types, id_columns)
    read_options, parse_options, convert_options, inverse = _arrow_options(layout, column_types, 8 << 20)
    try:
        table = pacsv.read_csv(layout.path, read_options=read_options, parse_options=parse_options,
                               convert_options=convert_options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
        outcome = _retry_or_locate(exc, layout, column_types, id_columns)
        if isinstance(outcome, DataError):
            raise outcome from None
        return read_table_full(*outcome, id_columns)
    return table.rename_columns([inverse[name] for name in table.column_names])


#: Bytes of text per record batch of :func:`iter_batches` (pyarrow's block
#: size). pyarrow's streaming reader parses ahead: its pool peaked at ~40
#: blocks (334 MB with 8 MB blocks, 42 MB with 1 MB blocks on the 25M file),
#: and 1 MB blocks read as fast. The tests make it tiny to get many batches.
BATCH_BYTES = 1 << 20


def iter_batches(layout: TableLayout, column_types: dict[int, str], id_columns=(), block_size: int | None = None):
    """Read the chosen columns in record batches, never the whole file at once.

    The streaming twin of :func:`read_table_full` (same options, same column
    types, same errors), for loaders that copy each batch into arrays of
    their final types and drop it, so that the Arrow columns of a 25M-row file
    never sit in memory beside the numpy copies.

    Parameters
    ----------
    layout : TableLayout
        From :func:`sniff_table`; not whitespace-delimited (pandas reads those whole).
    column_types : dict of int to str
        As for :func:`read_table`.
    id_columns : collection of int
        Columns that may widen from int32 to int64 to strings.
    block_size : int, optional
        Bytes of text per batch; :data:`BATCH_BYTES` by default.

    Yields
    ------
    (int, dict of str to pyarrow.Array)
        The 0-based index of the batch's first data row, and its columns
        named ``c{index}``.

    Raises
    ------
    ReadAgain
        The file must be read again from the start with another encoding or
        a wider id type (the consumer starts over).
    DataError
        Located by :func:`locate_problem` when the reader rejects a line.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if layout.delimiter == "whitespace":
        raise ValueError("whitespace-delimited tables are read whole (read_table_full)")
    read_options, parse_options, convert_options, inverse = _arrow_options(
        layout, column_types, block_size or BATCH_BYTES)
    start = 0
    try:
        reader = pacsv.open_csv(layout.path, read_options=read_options, parse_options=parse_options,
                                convert_options=convert_options)
        names = [inverse[name] for name in reader.schema.names]
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            if batch.num_rows:
                yield start, dict(zip(names, batch.columns))
            start += batch.num_rows
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
        outcome = _retry_or_locate(exc, layout, column_types, id_columns)
        if isinstance(outcome, DataError):
            raise outcome from None
        raise ReadAgain(*outcome) from None


#: Files up to this size whose chosen columns are all numbers are read by
#: :func:`read_small_numeric` (no pyarrow, no pandas: a terminal command on
#: MovieLens 100K should not pay for importing them).
SMALL_TABLE_BYTES = 8 << 20

# Bytes a plain numeric table may hold; anything else (quotes, text, a BOM,
# "+5", "nan", spaces around values...) goes to the reader of record.
_NUMERIC_BYTES = b"0123456789.-eE\r\n"
_INT_TYPES = {"int32": np.int32, "int64": np.int64}
_FLOAT_TYPES = {"float32": np.float32, "float64": np.float64}


class NumpyColumn:
    """One column read by :func:`read_small_numeric`: the bits of Arrow's API the loaders use."""

    null_count = 0

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def to_numpy(self, zero_copy_only: bool = True) -> np.ndarray:
        return self.array

    def is_null(self) -> "NumpyColumn":
        return NumpyColumn(np.zeros(len(self.array), dtype=bool))


class NumpyTable:
    """Columns named ``c{index}`` read by :func:`read_small_numeric` (same names as :func:`read_table`'s)."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self._columns = columns

    @property
    def column_names(self) -> list[str]:
        return list(self._columns)

    @property
    def num_rows(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def column(self, name: str) -> NumpyColumn:
        return NumpyColumn(self._columns[name])

    def drop_columns(self, names) -> "NumpyTable":
        return NumpyTable({k: v for k, v in self._columns.items() if k not in set(names)})


def read_small_numeric(layout: TableLayout, column_types: dict[int, str]) -> NumpyTable | None:
    """The columns of a small, plain, all-numeric table, or None to use the full reader.

    The same result as :func:`read_table` for the files it accepts (the
    loader tests compare both): whole numbers into int32/int64 columns,
    numbers into float32/float64 columns, one row per non-empty line. It
    declines (None) whatever it cannot read exactly as the full reader
    does, and every file with a problem, so that errors are always located
    and worded by the one path that explains them.
    """
    if layout.file_bytes > SMALL_TABLE_BYTES or layout.multiline or not column_types:
        return None
    if any(t not in _INT_TYPES and t not in _FLOAT_TYPES for t in column_types.values()):
        return None
    delimiter = layout.delimiter
    if delimiter == "whitespace":
        allowed, sep = _NUMERIC_BYTES + b" \t", None
    elif len(delimiter) == 1 and delimiter not in " .-eE+":
        sep = delimiter.encode("ascii")
        allowed = _NUMERIC_BYTES + sep
    else:
        return None  # "::" and spaces: the full reader
    try:
        with open(layout.path, "rb") as fh:
            raw = fh.read(SMALL_TABLE_BYTES + 1)
    except OSError:
        return None
    if len(raw) > SMALL_TABLE_BYTES:
        return None
    body = raw
    if layout.has_header:
        end = raw.find(b"\n")
        if end <= 0 or not raw[:end].strip():
            return None
        body = raw[end + 1:]
    if body.translate(None, allowed):
        return None  # a byte a plain numeric table does not have
    if sep is None and re.search(rb"(^|\n)[ \t]+\S", body):
        return None  # leading blanks: pandas' reading of those is the reference
    n_cols = layout.n_columns
    # Every column is parsed (unused ones as float64), so a row with a
    # missing or an extra field fails here as it fails the full reader.
    widen = {"int32": "int64", "float32": "float64"}
    dtype = np.dtype([(f"c{j}", np.int64 if widen.get(column_types.get(j), column_types.get(j)) == "int64"
                       else np.float64) for j in range(n_cols)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": zero rows, as the full reader gives
            grid = np.loadtxt(io.BytesIO(body), dtype=dtype, delimiter=None if sep is None else sep.decode(),
                              comments=None, ndmin=1, encoding="ascii")
    except (ValueError, OverflowError, TypeError):
        return None
    columns = {}
    for j in sorted(column_types):
        kind = column_types[j]
        if sep is None:  # the whitespace reader (pandas) reads int32 as int64 and float32 as float64
            kind = widen.get(kind, kind)
        values = grid[f"c{j}"]
        if kind == "int32":
            if values.size and (values.min() < -(2**31) or values.max() > 2**31 - 1):
                return None  # the full reader widens the type (or reads strings)
            columns[f"c{j}"] = values.astype(np.int32)
        else:
            columns[f"c{j}"] = np.ascontiguousarray(values, dtype=_INT_TYPES.get(kind) or _FLOAT_TYPES[kind])
    return NumpyTable(columns)


def _read_whitespace(layout: TableLayout, column_types: dict[int, str], id_columns=()):
    """Runs of blanks as separators: pandas' C parser handles them, pyarrow does not."""
    import pandas as pd
    import pyarrow as pa

    dtypes = {
        "int32": "int64",
        "int64": "int64",
        "float32": "float64",  # read wide: pandas warns when a value overflows float32
        "float64": "float64",
        "string": "str",
        "timestamp": "str",
    }
    try:
        frame = pd.read_csv(
            layout.path,
            sep=r"\s+",
            header=None,
            skiprows=1 if layout.has_header else 0,
            usecols=sorted(column_types),
            dtype={j: dtypes[t] for j, t in column_types.items()},
            encoding=layout.encoding,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        as_strings = {j: "string" for j in id_columns if column_types.get(j) in ("int32", "int64")}
        if as_strings:
            return _read_whitespace(layout, {**column_types, **as_strings}, ())
        raise locate_problem(layout, column_types, str(exc)) from None
    frame.columns = [f"c{j}" for j in frame.columns]
    return pa.Table.from_pandas(frame, preserve_index=False)


# ------------------------------------------------------------------- diagnosis


def _iter_lines(layout: TableLayout):
    """(physical line number, text) of every non-blank line, header included."""
    with open(layout.path, encoding=layout.encoding, errors="strict", newline="") as fh:
        number = 0
        pending, start = None, 0  # a quoted value still open across lines
        try:
            while True:
                # Read at most LONGEST_LINE characters: a file without line
                # breaks must not become one string of its whole size.
                line = fh.readline(LONGEST_LINE + 1)
                if not line:
                    break
                number += 1
                if len(line) > LONGEST_LINE:
                    raise _too_long(layout, number, "this line")
                line = line.rstrip("\r\n")
                if layout.multiline:
                    if pending is not None:
                        pending += "\n" + line
                        if len(pending) > LONGEST_LINE:
                            raise _too_long(layout, start, "the quoted value that starts on this line")
                        if not _ends_inside_quotes(line, True):
                            yield start, pending
                            pending = None
                        continue
                    if '"' in line and _ends_inside_quotes(line):
                        pending, start = line, number
                        continue
                if line.strip():
                    yield number, line
            if pending is not None:
                yield start, pending
        except UnicodeDecodeError:
            raise DataError(
                f"the text is not valid {layout.encoding.upper()} after line {number}",
                layout.path,
                line=number + 1,
                fix="save the file as UTF-8",
            ) from None


def _too_long(layout: TableLayout, number: int, what: str) -> DataError:
    return DataError(
        f"{what} is longer than {format_bytes(LONGEST_LINE)}, which no table cell needs",
        layout.path,
        line=number,
        fix="check for a missing line break or an unclosed quote, or keep long texts in separate files",
    )


def physical_line(layout: TableLayout, data_row: int) -> int | None:
    """Physical line number of the ``data_row``-th (0-based) data row."""
    target = data_row + (1 if layout.has_header else 0)
    for k, (number, _) in enumerate(_iter_lines(layout)):
        if k == target:
            return number
    return None


def _describe_column(layout: TableLayout, j: int) -> str:
    name = layout.column_names[j]
    return f"column '{name}'" if layout.has_header else f"column {j + 1}"


def _shown(token: str) -> str:
    """A value as a message quotes it; a huge one by its length and its start."""
    if len(token) <= 40:
        return f"'{token}'"
    return f"a value of {len(token):,} characters ('{token[:20]}...')"


def locate_problem(layout: TableLayout, column_types: dict[int, str], reader_message: str = "") -> DataError:
    """Find the first line the fast reader could not take and explain it.

    Returns the :class:`DataError` (the caller raises it), so that the message
    names the line and what is wrong there rather than the reader's internals.
    """
    n_cols = layout.n_columns
    first = True
    for number, line in _iter_lines(layout):
        if first and layout.has_header:
            first = False
            continue
        first = False
        fields = _split(line, layout.delimiter)
        if len(fields) != n_cols:
            return DataError(
                f"this line has {_fields(len(fields))} where the file has {n_cols}",
                layout.path,
                line=number,
                fix="give every line the same columns, separated the same way",
            )
        for j, kind in column_types.items():
            token = fields[j].strip()
            if token == "" and kind != "string":
                return DataError(
                    f"{_describe_column(layout, j)} is empty",
                    layout.path,
                    line=number,
                    fix="fill in the value or delete the line",
                )
            if kind in ("float32", "float64") and not is_number(token):
                return DataError(
                    f"{_describe_column(layout, j)} holds {_shown(token)}, which is not a number",
                    layout.path,
                    line=number,
                    fix="correct the value or delete the line",
                )
            if kind in ("int32", "int64") and not _INTEGER.match(token):
                return DataError(
                    f"{_describe_column(layout, j)} holds {_shown(token)} where the other rows have whole numbers",
                    layout.path,
                    line=number,
                    fix="correct the value or delete the line",
                )
            if kind in ("int32", "int64") and _INTEGER.match(token) and abs(int(token)) >= 2**63:
                return DataError(
                    f"{_describe_column(layout, j)} holds a number too large for an id",
                    layout.path,
                    line=number,
                    fix="correct the value or delete the line",
                )
    brief = reader_message.strip().splitlines()[0][:200] if reader_message.strip() else "unknown reason"
    return DataError(f"the file could not be read as a table ({brief})", layout.path, fix="check that it is a plain CSV/TSV file")


def first_bad_row(mask: np.ndarray) -> int:
    """Index of the first True in a boolean mask (there must be one)."""
    return int(np.flatnonzero(mask)[0])
