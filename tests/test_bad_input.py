"""Bad input: one DataError naming the file, the line and the fix; nothing else escapes."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfstudio.data import DataError, Dataset, load

CASES = [
    # (file name, content, expected line or None, words the message must contain)
    ("empty.csv", b"", None, "empty"),
    ("blank.csv", b"\n\n  \n", None, "empty"),
    ("header.csv", b"user,item,rating\n", 1, "header but no data"),
    ("junk.csv", bytes(range(256)) * 4, 1, "binary"),
    ("mixed.csv", b"1,2,3\n4,5,6\n7\t8\t9\n", 3, "separated by commas"),
    ("nonnumeric.csv", b"user,item,rating\n1,2,3\n\n4,5,abc\n", 4, "'abc', which is not a number"),
    ("nan.csv", b"user,item,rating\n1,2,3\n4,5,nan\n", 3, "not a finite number"),
    ("inf.csv", b"user,item,rating\n1,2,3\n4,5,inf\n", 3, "not a finite number"),
    ("negative.csv", b"user,item,count\n1,2,3\n4,5,-2\n", 3, "negative"),
    ("ragged.csv", b"1,2,3,4,5\n1,2,3,4,5\n1,2,3\n", 3, "3 fields"),
    ("emptyvalue.csv", b"user,item,rating\n1,2,3\n4,5,\n", 3, "missing"),
    ("utf16.csv", "user,item\n1,2\n".encode("utf-16"), None, "UTF-16"),
    ("onecolumn.csv", b"1\n2\n3\n", None, "single column"),
    ("badtext3rd.csv", b"1,2,x\n3,4,y\n", None, "third column is not numeric"),
    ("baddate.csv", b"user,item,rating,date\n1,2,3,2024-01-01\n1,3,4,yesterday\n", 3, "neither a number of seconds nor a date"),
    ("inf_grid.csv", b"1,2,3,4,5\n1,inf,3,4,5\n", 2, "infinite"),
]


@pytest.mark.parametrize("name,content,line,words", CASES, ids=[c[0] for c in CASES])
def test_bad_file_gives_one_located_sentence(write, name, content, line, words):
    path = write(name, content)
    with pytest.raises(DataError) as info:
        load(path)
    err = info.value
    message = str(err)
    assert words in message
    assert message.startswith(name)
    assert err.line == line
    if line is not None:
        assert f"line {line}:" in message
    assert err.fix, "every error says what to do"
    assert "\n" not in message and message.endswith(".")


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder is empty"):
        load(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(DataError, match="no files mfstudio can read"):
        load(tmp_path / "other")


def test_images_of_different_sizes_name_the_odd_one(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(DataError) as info:
        load(tmp_path)
    assert info.value.path.endswith("b.png") and "4x5 pixels but a.png is 4x4" in str(info.value)


def test_unreadable_image_is_named(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="a.png: this image cannot be read"):
        load(tmp_path)


def test_latin1_ratings_with_a_late_bad_byte_still_load(write):
    # The head is valid UTF-8; a Latin-1 byte comes far after it.
    lines = [f"user{i},item{i % 50},{1 + i % 5}" for i in range(6000)] + ["caf\xe9,item1,4"]
    ds = load(write("late.csv", "\n".join(lines) + "\n", encoding="latin-1"))
    assert ds.nnz == 6001 and ds.row_of(["café"])[0] >= 0


# ------------------------------------------------------------ property-based

def _assert_valid(ds: Dataset) -> None:
    assert ds.nnz > 0
    assert ds.rows.dtype == np.int32 and ds.cols.dtype == np.int32
    assert ds.rows.max() < ds.n_rows and ds.cols.max() < ds.n_cols
    assert np.isfinite(ds.values).all()
    assert len(np.unique(ds.rows.astype(np.int64) * ds.n_cols + ds.cols)) == ds.nnz


def _load_or_data_error(path):
    try:
        ds = load(path)
    except DataError as err:
        assert str(err).endswith(".") and "\n" not in str(err)
        return None
    _assert_valid(ds)
    return ds


@settings(max_examples=int(__import__("os").environ.get("MFSTUDIO_FUZZ", 150)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=400))
def test_random_bytes_give_a_dataset_or_a_data_error(write, content):
    _load_or_data_error(write("random.csv", content))


_cell = st.one_of(
    st.integers(-5, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=string.ascii_letters + string.digits + " ._-\"'é", max_size=8),
    st.just(""),
)
_row = st.lists(_cell, min_size=1, max_size=6)


@settings(max_examples=int(__import__("os").environ.get("MFSTUDIO_FUZZ", 200)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(_row, min_size=0, max_size=12),
    delimiter=st.sampled_from([",", "\t", ";", "::", " ", "|"]),
    header=st.sampled_from(["", "user,item,rating\n", "userId\titemId\tcount\n", "text\n", "a,b,c,d,e\n"]),
    name=st.sampled_from(["r.csv", "r.tsv", "u.data", "r.dat", "r.txt"]),
)
def test_malformed_tables_give_a_dataset_or_a_data_error(write, rows, delimiter, header, name):
    text = header + "\n".join(delimiter.join(r) for r in rows) + "\n"
    _load_or_data_error(write(name, text))


# ------------------------------------------------ huge fields and far dates

def _ratings_head(n: int = 8000) -> list[str]:
    # More than the 64 KiB the sniffer reads, so what follows is seen only by the full read.
    return ["user,item,rating"] + [f"u{i},i{i % 50},{1 + i % 5}" for i in range(n)]


def test_a_huge_field_after_the_head_is_located_not_a_csv_traceback(write):
    # The csv module stops at 131,072 characters a field; the diagnosis must not.
    lines = _ratings_head() + ["u1,i1," + "7x" * 70_000]
    with pytest.raises(DataError) as info:
        load(write("huge_field.csv", "\n".join(lines) + "\n"))
    assert info.value.line == 8002
    assert "column 'rating' holds a value of 140,000 characters" in str(info.value)


def test_a_huge_quoted_field_before_the_bad_line_does_not_hide_it(write):
    lines = _ratings_head() + ['u1,"' + "x" * 140_000 + '",3', "u2,i2,abc"]
    with pytest.raises(DataError) as info:
        load(write("huge_quoted.csv", "\n".join(lines) + "\n"))
    assert info.value.line == 8003 and "'abc', which is not a number" in str(info.value)


def test_a_line_longer_than_any_table_needs_is_refused_by_its_number(write, monkeypatch):
    from mfstudio.data import tables

    monkeypatch.setattr(tables, "LONGEST_LINE", 100_000)  # 16 MB in use; small here to keep the test fast
    lines = _ratings_head() + ["u1,i1," + "9" * 150_000, "u2,i2,abc"]
    with pytest.raises(DataError) as info:
        load(write("no_breaks.csv", "\n".join(lines) + "\n"))
    assert info.value.line == 8002 and "longer than" in str(info.value)


def test_a_far_future_date_is_read_as_seconds_not_a_pandas_overflow(write):
    dataset = load(write("far.csv", "user,item,rating,date\n1,2,3,2024-01-01\n1,3,4,9999-12-31\n2,2,5,1970-01-02\n"))
    by_item = dict(zip(dataset.col_ids[dataset.cols].tolist(), dataset.timestamps.tolist()))
    assert dataset.timestamps.max() == 253_402_214_400  # 9999-12-31 00:00:00 UTC
    assert by_item[3] > by_item[2]


@settings(max_examples=int(__import__("os").environ.get("MFSTUDIO_FUZZ", 30)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n_head=st.integers(0, 7000),
    field_length=st.integers(131_000, 200_000),
    column=st.integers(0, 3),
    quoted=st.booleans(),
    tail=st.sampled_from(["", "u9,i9,abc\n", "u9,i9\n", "u9,i9,3,2024-01-01\n", 'u9,"i9\n']),
)
def test_huge_fields_anywhere_give_a_dataset_or_a_data_error(write, n_head, field_length, column, quoted, tail):
    lines = ["user,item,rating,date"] + [f"u{i},i{i % 50},{1 + i % 5},2024-01-{1 + i % 28:02d}" for i in range(n_head)]
    fields = ["u1", "i1", "3", "2024-02-01"]
    fields[column] = ('"%s"' if quoted else "%s") % ("z" * field_length)
    text = "\n".join(lines) + "\n" + ",".join(fields) + "\n" + tail
    _load_or_data_error(write("huge.csv", text))
