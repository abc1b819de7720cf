"""Big tables are read in record batches; the result must be the whole-file reader's, to the byte and the sentence.

Each file here is loaded twice: whole (the reader used for small files) and
streamed in many tiny batches (``tables.BATCH_BYTES`` of a few hundred bytes,
``loaders.STREAM_TABLE_BYTES`` at 0), and the two Datasets, or the two error
sentences, are compared.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfstudio.data import DataError, load, loaders, tables

FIELDS = ("kind", "name", "kind_reason", "notes", "rating_scale", "kind_choices")


def _load(path, streamed: bool, monkeypatch, batch_bytes: int = 200, **options):
    with monkeypatch.context() as patch:
        patch.setattr(loaders, "STREAM_TABLE_BYTES", 0 if streamed else 1 << 62)
        patch.setattr(tables, "BATCH_BYTES", batch_bytes)
        calls = []
        original = loaders._stream_once

        def spy(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)

        patch.setattr(loaders, "_stream_once", spy)
        try:
            result = load(path, **options)
        except DataError as err:
            result = err
        return result, bool(calls)


def assert_same_load(path, monkeypatch, batch_bytes: int = 200, read=True, **options):
    """Load ``path`` whole and streamed; the same Dataset or the same DataError. Returns the Dataset or error.

    ``read=False`` accepts errors found before any reading (by sniffing the head).
    """
    whole, taken = _load(path, False, monkeypatch, **options)
    assert not taken
    streamed, taken = _load(path, True, monkeypatch, batch_bytes, **options)
    assert taken or (not read and isinstance(streamed, DataError)), "the streamed reader was not used"
    if isinstance(whole, DataError) or isinstance(streamed, DataError):
        assert isinstance(whole, DataError) and isinstance(streamed, DataError), (whole, streamed)
        assert str(streamed) == str(whole)
        assert streamed.line == whole.line
        return streamed
    for name in ("rows", "cols", "values", "row_ids", "col_ids"):
        ours, theirs = getattr(streamed, name), getattr(whole, name)
        assert ours.dtype == theirs.dtype, name
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
    if whole.timestamps is None:
        assert streamed.timestamps is None
    else:
        assert streamed.timestamps.dtype == whole.timestamps.dtype
        np.testing.assert_array_equal(streamed.timestamps, whole.timestamps)
    for name in FIELDS:
        assert getattr(streamed, name) == getattr(whole, name), name
    return streamed


def _ratings(n: int, seed: int = 0, header: str = "userId,movieId,rating,timestamp") -> str:
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 300, n)
    items = rng.integers(1, 80, n)
    stars = rng.integers(1, 11, n) / 2
    stamps = rng.integers(800_000_000, 900_000_000, n)
    lines = [header] + [f"{u},{i},{r:g},{t}" for u, i, r, t in zip(users, items, stars, stamps)]
    return "\n".join(lines) + "\n"


def test_many_batches_with_repeated_pairs_give_the_whole_file_dataset(write, monkeypatch):
    # 3,000 rows over 300 x 80 pairs: many repeats, kept latest by time.
    path = write("ratings.csv", _ratings(3_000))
    ds = assert_same_load(path, monkeypatch)
    assert ds.notes and "repeated" in ds.notes[0]
    assert ds.nnz < 3_000


def test_counts_are_summed_the_same_way(write, monkeypatch):
    rng = np.random.default_rng(1)
    rows = "\n".join(f"u{u},i{i},{c}" for u, i, c in zip(rng.integers(0, 40, 900), rng.integers(0, 30, 900),
                                                      rng.integers(1, 4, 900)))
    path = write("plays.csv", "user,item,count\n" + rows + "\n")
    ds = assert_same_load(path, monkeypatch)
    assert ds.kind == "implicit" and ds.row_ids.dtype.kind == "U"


def test_text_ids_dates_and_no_header(write, monkeypatch):
    rng = np.random.default_rng(2)
    days = rng.integers(1, 28, 700)
    rows = [f"user {u:03d}\titem-{i}\t{r}\t2024-02-{d:02d} 12:00:0{d % 10}"
            for u, i, r, d in zip(rng.integers(0, 90, 700), rng.integers(0, 50, 700), rng.integers(1, 6, 700), days)]
    path = write("text.tsv", "\n".join(rows) + "\n")
    ds = assert_same_load(path, monkeypatch)
    assert ds.timestamps is not None


def test_ids_that_turn_into_text_after_the_sniffed_head(write, monkeypatch):
    # The head (64 KiB) holds whole-number ids; 'u42' comes later, so both
    # readers start over with text ids (the streamed one part-way through).
    body = _ratings(9_000, seed=3, header="user,item,rating")
    body = "\n".join(",".join(line.split(",")[:3]) for line in body.splitlines()) + "\n"
    path = write("late.csv", body + "u42,7,3\n" + "8,i9,4\n")
    ds = assert_same_load(path, monkeypatch, batch_bytes=4096)
    assert "u42" in ds.row_ids.tolist() and "i9" in ds.col_ids.tolist()


def test_wide_ids_then_a_late_latin1_text_id(write, monkeypatch):
    head = "".join(f"{10**12 + k},{k % 17},{1 + k % 5}\n" for k in range(4000))
    path = write("wide.csv", head.encode("ascii"))
    ds = assert_same_load(path, monkeypatch, batch_bytes=4096)
    assert ds.row_ids.dtype == np.int64 and ds.row_ids.max() == 10**12 + 3999
    # Read again as Latin-1, then again with text ids: two restarts part-way.
    path = write("wide_latin1.csv", (head + "caf\xe9,4,5\n").encode("latin-1"))
    ds = assert_same_load(path, monkeypatch, batch_bytes=4096)
    assert "caf\xe9" in ds.row_ids.tolist()


BAD = [
    ("missing user", "user,item,rating\n1,2,3\n,5,4\n"),
    ("missing item late, missing value early", "user,item,rating\n1,,3\n" + "1,2,3\n" * 60 + "4,,\n"),
    ("nan", "user,item,rating\n1,2,3\n" + "2,3,4\n" * 80 + "4,5,nan\n"),
    ("inf then a bad date", "user,item,rating,date\n1,2,inf,2024-01-01\n" + "2,3,4,2024-01-02\n" * 50
     + "1,3,4,yesterday\n"),
    ("bad date", "user,item,rating,date\n" + "2,3,4,2024-01-02\n" * 50 + "1,3,4,yesterday\n"),
    ("negative count", "user,item,count\n" + "1,2,3\n" * 50 + "4,5,-2\n"),
    ("not a number", "user,item,rating\n" + "1,2,3\n" * 60 + "\n4,5,abc\n"),
    ("ragged after the head", "user,item,rating\n" + "1,2,3\n" * 12_000 + "1,2\n"),
    ("long text id", "user,item,rating\n" + "a,b,3\n" * 60 + "x" * 1500 + ",b,3\n"),
    ("missing timestamp", "user,item,rating,timestamp\n" + "1,2,3,881250949\n" * 60 + "1,2,3,\n"),
]


@pytest.mark.parametrize("content", [c for _, c in BAD], ids=[name for name, _ in BAD])
def test_bad_files_get_the_same_sentence_and_line(write, monkeypatch, content):
    path = write("bad.csv", content)
    err = assert_same_load(path, monkeypatch, batch_bytes=2048)
    assert isinstance(err, DataError) and err.line is not None


def test_loading_as_another_kind_is_the_same(write, monkeypatch):
    path = write("ratings.csv", _ratings(800, seed=4))
    ds = assert_same_load(path, monkeypatch, kind="implicit")
    assert ds.kind == "implicit"


def test_growing_past_the_estimated_length(write, monkeypatch):
    # Long lines in the head, short ones after: the estimate falls far short
    # and the arrays grow while batches arrive.
    head = "".join(f"{k},{k % 13},{1 + k % 5},{'1' * 9}{k:09d}\n" for k in range(10))
    tail = "".join(f"{k % 50},{k % 7},3,1\n" for k in range(5_000))
    path = write("grow.csv", "user,item,rating,timestamp\n" + head + tail)
    monkeypatch.setattr(tables.TableLayout, "estimated_lines", property(lambda self: 3))
    ds = assert_same_load(path, monkeypatch)
    assert ds.nnz > 10


@pytest.mark.parametrize("n_cols,max_ranges", [(400, 256), (1 << 25, 256), (1 << 30, 256), (1 << 30, 4)],
                         ids=["one range", "a few ranges", "many ranges", "slices (too many ranges)"])
def test_repeat_check_agrees_with_one_sort(monkeypatch, n_cols, max_ranges):
    rng = np.random.default_rng(5)
    monkeypatch.setattr(loaders, "_KEY_SLICE", 64)
    monkeypatch.setattr(loaders, "_MAX_KEY_RANGES", max_ranges)
    monkeypatch.setattr(loaders, "_REMAP_STEP", 100)  # several steps per range
    monkeypatch.setattr(loaders, "_KEY_STEP", 70)
    for trial in range(200):
        n = int(rng.integers(2, 2_000))
        rows = rng.integers(0, int(rng.integers(1, 300)), n).astype(np.int32)
        cols = rng.integers(0, 400, n).astype(np.int32)
        if trial % 2:  # mostly no repeats: keep the first of each pair
            _, first = np.unique(rows.astype(np.int64) * 400 + cols, return_index=True)
            rows, cols = rows[np.sort(first)], cols[np.sort(first)]
        if trial % 4 >= 2:  # sorted by user, as MovieLens files are
            order = np.argsort(rows, kind="stable")
            rows, cols = rows[order], cols[order]
        key = rows.astype(np.int64) * 400 + cols
        assert loaders._has_repeats(rows, cols, n_cols) == (np.unique(key).size < key.size), trial


cell = st.sampled_from(["1", "2", "17", "300", "-4", "3.5", "", "nan", "x", "u7", "2024-01-05", "1e40", " 5"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=60), st.integers(40, 400))
def test_any_small_table_loads_the_same_streamed(write, monkeypatch, rows, batch_bytes):
    text = "user,item,rating\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    path = write("any.csv", text)
    assert_same_load(path, monkeypatch, batch_bytes=batch_bytes, read=False)


def test_shuffled_twelve_digit_ids_stream_into_the_same_codes(write, monkeypatch):
    """int64 ids are kept raw while streaming and coded by sorting at the end (the Python dict took 13 s
    for 3M rows): unordered, repeated ids with a missing one at the end give what the whole-file reader gives."""
    rng = np.random.default_rng(5)
    users = rng.integers(10**11, 10**12, 700)[rng.integers(0, 700, 6000)]
    items = rng.integers(2**31, 2**40, 90)[rng.integers(0, 90, 6000)]
    body = "user,item,rating\n" + "".join(f"{u},{i},{1 + k % 5}\n" for k, (u, i) in enumerate(zip(users, items)))
    ds = assert_same_load(write("shuffled_wide.csv", body), monkeypatch, batch_bytes=2048)
    assert ds.row_ids.dtype == np.int64 and list(ds.row_ids) == sorted(set(users.tolist()))
    # Repeated (user, item) pairs are merged into one entry, as every loader does.
    assert set(zip(ds.row_ids[ds.rows].tolist(), ds.col_ids[ds.cols].tolist())) == \
        set(zip(users.tolist(), items.tolist()))
    error = assert_same_load(write("missing_wide.csv", body + ",77,3\n"), monkeypatch, batch_bytes=2048)
    assert "6002" in str(error)  # the header is line 1: the empty user id is on line 6,002
