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
