"""Small files that declare huge sizes are refused, in one sentence, before anything large is allocated.

Each bomb here is scaled to ``MFSTUDIO_MEMORY_LIMIT=200M`` (so 100 MB may be
used): on code without the checks it loads for a few hundred megabytes, not
the gigabytes the full-size bombs of issue 9 took. ``tracemalloc`` sees
numpy's allocations, so its peak shows that the refusal came before them.
"""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfstudio.data import DataError, load

from .conftest import ML100K, needs_ml100k

MB = 2**20

#: What a refusal may allocate: headers, a few small arrays, Python objects.
REFUSAL_PEAK = 16 * MB


@pytest.fixture(autouse=True)
def _memory_limit(monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "200M")


def refused(path, *words, named=None) -> DataError:
    """Load ``path``, expect a DataError naming it (or ``named``), and check that little was allocated on the way.

    The measured load is the second: the first imports the readers (pyarrow, pandas: ~30 MB of module
    objects that tracemalloc counts too), which made the check depend on what earlier tests had imported.
    """
    with pytest.raises(DataError):
        load(path)
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as info:
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(named or os.path.basename(path)), message
    assert "\n" not in message and message.endswith(".")
    for word in words:
        assert word in message, message
    assert peak < REFUSAL_PEAK, f"{peak / MB:.0f} MB allocated before refusing: {message}"
    return info.value


def _npy_bytes(shape, descr="<f8", data=b"") -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return stream.getvalue() + data


def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name + ".npy", content)


# ------------------------------------------------------------------ the bombs


@pytest.mark.parametrize("form", ["coo", "csr"])
def test_save_npz_declaring_a_huge_shape_is_refused(tmp_path, form):
    n = 30_000_000  # ids alone: 480 MB
    matrix = sp.coo_matrix(([1.0], ([0], [0])), shape=(n, n))
    path = tmp_path / "bomb.npz"
    sp.save_npz(path, matrix.asformat(form), compressed=True)
    assert path.stat().st_size < 200_000
    refused(path, "30,000,000 x 30,000,000", "declares", "can be used")


def test_save_npz_with_indices_beyond_its_shape_names_the_file(tmp_path):
    path = tmp_path / "sparse_bad_indices.npz"
    matrix = sp.csr_matrix(([1.0, 2.0], [0, 1], [0, 1, 2]), shape=(2, 2))
    np.savez(path, format=np.array("csr"), shape=np.array([2, 2]), data=matrix.data,
             indices=np.array([0, 5], dtype=np.int32), indptr=matrix.indptr)
    refused(path, "damaged")


def test_matrix_market_declaring_a_huge_shape_is_refused(write):
    path = write("bomb.mtx", "%%MatrixMarket matrix coordinate real general\n30000000 30000000 1\n1 1 1.0\n")
    refused(path, "30,000,000 x 30,000,000", "can be used")


def test_matrix_market_declaring_more_entries_than_it_holds_is_refused(write):
    # scipy sizes its arrays by the declared count before reading a line.
    path = write("short.mtx", "%%MatrixMarket matrix coordinate real general\n10 10 40000000\n1 1 1.0\n")
    refused(path, "40,000,000 entries", "cut short")


@pytest.mark.parametrize("size_line", ["0 5", "0 0"])
def test_matrix_market_array_with_no_rows_is_refused_not_a_crash(tmp_path, size_line):
    # scipy's reader kills the process (SIGFPE) on this file, so it runs in a child process.
    import subprocess
    import sys

    path = tmp_path / "empty.mtx"
    path.write_text(f"%%MatrixMarket matrix array real general\n{size_line}\n1.0\n2.0\n")
    code = ("import sys\nfrom mfstudio.data import DataError, load\n"
            "try:\n    load(sys.argv[1])\nexcept DataError as err:\n    print(err)\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.startswith("empty.mtx: ") and "empty" in result.stdout


def test_npz_declaring_a_huge_dense_array_is_refused(tmp_path):
    path = tmp_path / "dense.npz"
    np.savez_compressed(path, X=np.zeros((4000, 4000)))  # 128 MB of zeros in a 120 KB file
    assert path.stat().st_size < 1_000_000
    refused(path, "4,000 x 4,000 float64 array 'X'", "can be used")


def test_npy_header_declaring_more_than_the_file_holds_is_refused(write):
    path = write("cut.npy", _npy_bytes((3000, 3000), data=bytes(64)))
    refused(path, "3,000 x 3,000", "holds only")


def test_npz_member_declaring_more_than_it_holds_is_refused(tmp_path):
    path = tmp_path / "cut.npz"
    _zip(path, {"X": _npy_bytes((3000, 3000), data=bytes(64))})
    refused(path, "3,000 x 3,000", "holds only")


def test_empty_stack_with_a_huge_side_is_refused_at_once(write):
    # A (1, 2**31, 0) array holds nothing, but naming its pixel rows took minutes of CPU.
    refused(write("flat.npy", _npy_bytes((1, 2**31, 0))), "holds no values")


def test_big_image_is_refused_before_decoding(tmp_path):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("L", (4000, 4000)).save(path)
    refused(path, "4,000 x 4,000", "can be used")


def test_image_beyond_pillows_pixel_limit_is_refused(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.new("L", (150, 100)).save(path)
    # Pillow only warns between its limit and twice it; mfstudio refuses.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    refused(path, "150 x 100 pixels", "more than the 10,000")


def test_folder_of_big_images_is_refused_before_decoding(tmp_path):
    from PIL import Image

    for k in range(3):
        Image.new("L", (2500, 2500), color=k).save(tmp_path / f"{k}.png")
    refused(tmp_path, "3 images of 2,500x2,500 pixels", "can be used", named=tmp_path.name)


def test_folder_with_one_odd_image_size_is_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    from mfstudio.data import loaders

    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    Image.new("L", (9, 8)).save(tmp_path / "b.png")
    monkeypatch.setattr(loaders, "_open_grey", lambda path: pytest.fail("decoded before the sizes were compared"))
    refused(tmp_path, "9x8 pixels but a.png is 8x8", named="b.png")


def test_table_too_large_for_the_budget_is_refused_before_reading(write, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "2M")
    lines = ["user,item,rating"] + [f"u{i},item{i % 700},{1 + i % 5}" for i in range(30_000)]
    path = write("many.csv", "\n".join(lines) + "\n")
    error = refused(path, "lines of ratings", "can be used")
    assert error.fix


def test_one_huge_text_id_is_refused_by_its_line(write):
    # numpy keeps text ids at the width of the longest: 3,000 ids and one of
    # 300,000 characters took 7.2 GB from a 330 KB file.
    lines = ["user,item,rating"] + [f"u{i},i{i % 40},{1 + i % 5}" for i in range(1000)]
    lines.append("x" * 100_000 + ",i1,3")
    error = refused(write("long_id.csv", "\n".join(lines) + "\n"), "user id is 100,000 characters long")
    assert error.line == 1002


def test_text_ids_too_wide_for_the_budget_are_refused(write, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "20M")
    lines = ["user,item,rating"] + [f"u{i:0899d},i{i % 40},{1 + i % 5}" for i in range(5000)]
    refused(write("wide_ids.csv", "\n".join(lines) + "\n"), "5,000 distinct user ids, the longest 900 characters")


def test_images_holding_too_many_pixels_together_are_refused(tmp_path, monkeypatch):
    from PIL import Image

    for k in range(3):
        Image.new("L", (80, 50), color=k).save(tmp_path / f"{k}.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # each image is under it, the three are not
    refused(tmp_path, "12,000 pixels in all", named=tmp_path.name)


def test_grid_too_large_for_the_budget_is_refused(write, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "2M")
    rows = [",".join(str((i * 7 + j) % 13 + 0.5) for j in range(40)) for i in range(2_000)]
    refused(write("grid.csv", "\n".join(rows) + "\n"), "x 40 columns", "can be used")


@pytest.mark.parametrize("name", ["ok.npz", "ok.npy", "ok.mtx", "ok.png", "ok.csv"])
def test_files_within_the_budget_still_load(tmp_path, name):
    import scipy.io
    from PIL import Image

    rng = np.random.default_rng(0)
    grid = rng.integers(1, 6, size=(60, 40)).astype(np.float64)
    path = tmp_path / name
    if name == "ok.npz":
        sp.save_npz(path, sp.random(300, 200, density=0.05, format="csr", random_state=0))
    elif name == "ok.npy":
        np.save(path, grid)
    elif name == "ok.mtx":
        scipy.io.mmwrite(path, sp.random(300, 200, density=0.05, format="coo", random_state=0))
    elif name == "ok.png":
        Image.fromarray((grid * 40).astype(np.uint8)).save(path)
    else:
        path.write_text("user,item,rating\n" + "".join(f"{i % 97},{i % 89},{1 + i % 5}\n" for i in range(5000)))
    dataset = load(path)
    assert dataset.nnz > 0 and dataset.n_rows > 1 and dataset.n_cols > 1


# ------------------------------------------------------------------ fuzzing

_FUZZ = int(os.environ.get("MFSTUDIO_FUZZ", 40))
_fuzz = settings(max_examples=_FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_dims = st.one_of(st.integers(0, 50), st.integers(-5, 2**40), st.sampled_from([2**31 - 1, 2**31, 2**63 - 1]))
_shapes = st.lists(_dims, min_size=0, max_size=4).map(tuple)
_descrs = st.sampled_from(["<f8", "<f4", "<i4", "<i8", "|u1", "|b1", "<c16", "<U8", "|S4", "<m8[s]", "|V8"])


def _loads_or_refuses_cheaply(path) -> None:
    tracemalloc.start()
    try:
        try:
            dataset = load(path)
        except DataError as err:
            assert str(err).startswith(os.path.basename(path)) and "\n" not in str(err)
        else:
            assert dataset.nnz > 0 and dataset.rows.max() < dataset.n_rows
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 120 * MB  # the 100 MB budget plus what a small accepted file costs


@_fuzz
@given(shape=_shapes, descr=_descrs, data=st.binary(max_size=256))
def test_npy_declared_headers_never_escape_or_overallocate(tmp_path, shape, descr, data):
    path = tmp_path / "fuzz.npy"
    path.write_bytes(_npy_bytes(shape, descr, data))
    _loads_or_refuses_cheaply(path)


@_fuzz
@given(shape=_shapes, descr=_descrs, data=st.binary(max_size=256),
       name=st.sampled_from(["X", "arr_0", "data", "other"]))
def test_npz_declared_headers_never_escape_or_overallocate(tmp_path, shape, descr, data, name):
    path = tmp_path / "fuzz.npz"
    _zip(path, {name: _npy_bytes(shape, descr, data)})
    _loads_or_refuses_cheaply(path)


@_fuzz
@given(
    n_rows=_dims, n_cols=_dims,
    form=st.sampled_from(["csr", "csc", "coo", "bsr", "dia", "xyz"]),
    index=st.integers(-3, 2**33), count=st.integers(0, 4),
)
def test_sparse_npz_declared_shapes_never_escape_or_overallocate(tmp_path, n_rows, n_cols, form, index, count):
    path = tmp_path / "fuzz.npz"
    indices = np.full(count, index, dtype=np.int64)
    np.savez(path, format=np.array(form), shape=np.array([n_rows, n_cols], dtype=np.int64),
             data=np.ones(count), indices=indices, indptr=np.arange(count + 1), row=indices, col=indices)
    _loads_or_refuses_cheaply(path)


@_fuzz
@given(
    n_rows=_dims, n_cols=_dims, entries=_dims,
    form=st.sampled_from(["coordinate", "array"]),
    field=st.sampled_from(["real", "integer", "pattern"]),
    symmetry=st.sampled_from(["general", "symmetric"]),
    body=st.lists(st.tuples(st.integers(-2, 60), st.integers(-2, 60), st.floats(-5, 5)), max_size=5),
)
def test_matrix_market_declared_sizes_never_escape_or_overallocate(tmp_path, n_rows, n_cols, entries, form,
                                                                     field, symmetry, body):
    size_line = f"{n_rows} {n_cols} {entries}" if form == "coordinate" else f"{n_rows} {n_cols}"
    lines = [f"%%MatrixMarket matrix {form} {field} {symmetry}", size_line]
    for i, j, v in body:
        if form == "array":
            lines.append(f"{v}")
        else:
            lines.append(f"{i} {j}" if field == "pattern" else f"{i} {j} {v}")
    path = tmp_path / "fuzz.mtx"
    path.write_text("\n".join(lines) + "\n")
    _loads_or_refuses_cheaply(path)


@settings(max_examples=max(_FUZZ // 2, 5), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n_before=st.integers(0, 3000),
    field_length=st.integers(100_000, 300_000),
    column=st.integers(0, 2),
    quoted=st.booleans(),
    bad_after=st.booleans(),
)
def test_tables_with_huge_fields_never_escape(tmp_path, n_before, field_length, column, quoted, bad_after):
    # The first 64 KiB are sniffed; a huge field after them reaches the line-by-line diagnosis.
    lines = ["user,item,rating"] + [f"u{i},i{i % 40},{1 + i % 5}" for i in range(n_before)]
    fields = ["u1", "i1", "3"]
    fields[column] = ('"%s"' if quoted else "%s") % ("x" * field_length)
    lines.append(",".join(fields))
    if bad_after:
        lines.append("u2,i2,abc")
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(lines) + "\n")
    _loads_or_refuses_cheaply(path)


@pytest.mark.parametrize("make,kwargs,words", [
    ("movies", dict(n_users=5000, n_items=5000, density=0.2), "5,000 users x 5,000 movies"),
    ("topics_corpus", dict(n_docs=20_000, max_words=200), "20,000 documents"),
    ("bars", dict(n_images=2000, size=64), "2,000 images of 64x64 pixels"),
])
def test_samples_too_large_for_the_budget_are_refused_before_generating(make, kwargs, words):
    from mfstudio.data import samples

    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=words):
            getattr(samples, make)(**kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < REFUSAL_PEAK


@needs_ml100k
def test_movielens_100k_loads_within_a_200_mb_limit():
    dataset = load(ML100K)
    assert dataset.nnz == 100_000 and dataset.n_rows == 943 and dataset.n_cols == 1682


def test_a_huge_movie_title_leaves_the_ratings_loaded_without_titles(tmp_path, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "20M")
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n" + "".join(f"{u},{m},{1 + (u + m) % 5},{1000 + u}\n"
                                                     for u in range(1, 60) for m in range(1, 500, 7)))
    titles = [f'{m},"Movie {m} (1999)",Drama' for m in range(1, 500)]
    titles[7] = '8,"' + "A" * 100_000 + '",Drama'  # a rated movie: every title would be 400 KB wide
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n" + "\n".join(titles) + "\n")
    dataset = load(tmp_path / "ratings.csv")
    assert dataset.nnz == 59 * 72 and dataset.item_titles is None
    assert any(note.startswith("titles not loaded: movies.csv: the titles") for note in dataset.notes)


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="Linux reads /proc/meminfo; elsewhere psutil answers")
def test_available_memory_reads_what_psutil_reports_without_importing_it():
    import subprocess
    import sys

    code = """
import sys
from mfstudio.data.budget import available_memory
ours = available_memory()
print("PSUTIL", "psutil" in sys.modules)
import psutil
theirs = psutil.virtual_memory().available
print("RATIO", ours / theirs)
"""
    env = {k: v for k, v in os.environ.items() if k != "MFSTUDIO_MEMORY_LIMIT"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PSUTIL False" in proc.stdout
    ratio = float(proc.stdout.split("RATIO")[1])
    assert 0.9 < ratio < 1.1  # the same figure, read a moment apart
