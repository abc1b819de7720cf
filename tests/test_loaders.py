"""Loaders: layouts recognised without configuration, values and ids exact."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from mfstudio.data import DataError, can_load, load
from tests.conftest import ML100K, needs_ml100k


def entries(ds):
    """{(raw user, raw item): value} of a dataset, for exact comparisons."""
    return {
        (ds.row_ids[r].item() if hasattr(ds.row_ids[r], "item") else ds.row_ids[r],
         ds.col_ids[c].item() if hasattr(ds.col_ids[c], "item") else ds.col_ids[c]): float(v)
        for r, c, v in zip(ds.rows, ds.cols, ds.values)
    }


@pytest.fixture(autouse=True)
def _small_reader_matches_full_reader(monkeypatch):
    """Every table the numpy reader of small numeric files reads here is read again by pyarrow/pandas and compared."""
    from mfstudio.data import tables

    original = tables.read_small_numeric

    def checked(layout, column_types):
        fast = original(layout, column_types)
        if fast is not None:
            full = tables.read_table_full(layout, column_types)
            assert sorted(fast.column_names) == sorted(full.column_names)
            for name in fast.column_names:
                ours = fast.column(name).to_numpy()
                theirs = full.column(name).to_numpy(zero_copy_only=False)
                assert ours.dtype == theirs.dtype, name
                np.testing.assert_array_equal(ours, theirs)
        return fast

    monkeypatch.setattr(tables, "read_small_numeric", checked)


# ------------------------------------------------------------------ MovieLens

ML100K_ITEMS = (
    "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
    "3|Café Society (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n"
)


def test_movielens_100k_layout_gets_titles_genres_and_scale(write):
    data = write("ml/u.data", "1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t3\t4\t881250951\n2\t1\t1\t881250952\n")
    write("ml/u.item", ML100K_ITEMS, encoding="latin-1")
    for target in (data, data.parent):
        ds = load(target)
        assert ds.kind == "explicit"
        assert ds.name.startswith("MovieLens 100K")
        assert ds.shape == (2, 3)
        assert ds.rating_scale == (1.0, 5.0)
        assert list(ds.item_titles) == ["Toy Story (1995)", "GoldenEye (1995)", "Café Society (1995)"]
        assert ds.item_genres[0] == "Animation|Children's|Comedy"
        assert ds.item_genres[1] == "Action|Adventure|Thriller"
        assert entries(ds) == {(1, 1): 5.0, (1, 2): 3.0, (2, 3): 4.0, (2, 1): 1.0}
        assert ds.timestamps.tolist() == [881250949, 881250950, 881250951, 881250952]


def test_movielens_1m_layout(write):
    write("ml-1m/ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300275\n")
    write(
        "ml-1m/movies.dat",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "3::Star Wars: Episode IV - A New Hope (1977)::Action\n",
        encoding="latin-1",
    )
    ds = load(write.__self__ if False else (write("ml-1m/README", "x").parent))
    assert ds.name.startswith("MovieLens 1M")
    assert ds.shape == (2, 2)
    assert dict(zip(ds.col_ids.tolist(), ds.item_titles)) == {
        661: "James and the Giant Peach (1996)",
        1193: "One Flew Over the Cuckoo's Nest (1975)",
    }
    assert entries(ds)[(2, 1193)] == 4.0


def test_movielens_latest_layout_with_quoted_titles_and_half_stars(write):
    ratings = write("ml-latest-small/ratings.csv",
                    "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,0.5,964982224\n")
    write("ml-latest-small/movies.csv",
          'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,"American President, The (1995)",(no genres listed)\n')
    ds = load(ratings)
    assert ds.kind == "explicit" and ds.rating_scale == (0.5, 4.5)
    assert list(ds.item_titles) == ["Toy Story (1995)", "American President, The (1995)"]
    assert list(ds.item_genres) == ["Adventure|Animation", ""]


@needs_ml100k
def test_real_movielens_100k_file_and_folder():
    for target in (ML100K / "u.data", ML100K):
        ds = load(target)
        assert (ds.n_users, ds.n_items, ds.nnz) == (943, 1682, 100_000)
        assert ds.rating_scale == (1.0, 5.0)
        assert ds.title_of(ds.col_of([50]))[0] == "Star Wars (1977)"


# -------------------------------------------------------------- generic tables

@pytest.mark.parametrize(
    "text",
    [
        "user,item,rating\nalice,matrix,5\nbob,matrix,3\nalice,up,4\n",
        "user\titem\trating\nalice\tmatrix\t5\nbob\tmatrix\t3\nalice\tup\t4\n",
        "user;item;rating\nalice;matrix;5\nbob;matrix;3\nalice;up;4\n",
        "alice  matrix   5\nbob matrix 3\nalice up    4\n",
        "alice::matrix::5\nbob::matrix::3\nalice::up::4\n",
        "UserID|MovieName|Stars\nalice|matrix|5\nbob|matrix|3\nalice|up|4\n",
        "\ufeffrating,customer_id,product\n5,alice,matrix\n3,bob,matrix\n4,alice,up\n",
    ],
    ids=["comma", "tab", "semicolon", "whitespace", "double-colon", "pipe-named", "bom-reordered"],
)
def test_delimiters_headers_and_column_names(write, text):
    ds = load(write("r.txt", text))
    assert ds.kind == "explicit"
    assert entries(ds) == {("alice", "matrix"): 5.0, ("bob", "matrix"): 3.0, ("alice", "up"): 4.0}


def test_columns_found_by_shape_without_header(write):
    ds = load(write("r.csv", "10,100,4,1000000000\n11,100,2,1000000500\n10,101,5,1000000900\n"))
    assert ds.kind == "explicit" and ds.timestamps is not None
    assert entries(ds) == {(10, 100): 4.0, (11, 100): 2.0, (10, 101): 5.0}


def test_two_columns_are_implicit_interactions(write):
    ds = load(write("clicks.csv", "u1,a\nu1,b\nu2,a\n"))
    assert ds.kind == "implicit" and ds.rating_scale is None
    assert entries(ds) == {("u1", "a"): 1.0, ("u1", "b"): 1.0, ("u2", "a"): 1.0}


def test_counts_detected_by_name_and_by_values(write):
    named = load(write("plays.csv", "user,artist,plays\n1,7,3\n2,7,1\n"))
    assert named.kind == "implicit"
    by_values = load(write("anon.csv", "1,7,250\n2,7,1\n2,8,33\n"))
    assert by_values.kind == "implicit"
    ratings = load(write("stars.csv", "1,7,4\n2,7,1\n2,8,3\n"))
    assert ratings.kind == "explicit"
    forced = load(write("forced.csv", "1,7,4\n2,7,1\n2,8,3\n"), kind="implicit")
    assert forced.kind == "implicit"


def test_ids_that_turn_into_strings_after_the_sniffed_head(write):
    lines = [f"{u},{u % 97},{1 + u % 5}" for u in range(8000)] + ["u-x,5,3"]
    ds = load(write("late.csv", "\n".join(lines) + "\n"))
    assert ds.n_users == 8001
    assert ds.row_of(["u-x"])[0] >= 0 and ds.row_of(["17"])[0] >= 0


def test_dates_as_timestamps(write):
    ds = load(write("d.csv", "user,item,rating,date\n1,1,5,2024-01-31\n1,2,3,2024-02-01 12:00:00\n"))
    assert ds.timestamps.tolist() == [1706659200, 1706788800]


def test_raw_ids_round_trip_and_typed_lookup(write):
    ds = load(write("r.csv", "user,item,rating\n196,242,3\n186,302,3\n22,377,1\n"))
    assert ds.row_ids.dtype.kind == "i"
    internal = ds.row_of(["196", 22, "nobody"])
    assert internal[2] == -1
    assert ds.row_ids[internal[0]] == 196 and ds.row_ids[internal[1]] == 22


def test_duplicates_keep_latest_rating(write):
    ds = load(write("dup.csv", "user,item,rating,timestamp\n1,2,3,10\n1,2,5,5\n1,3,4,1\n2,2,1,1\n1,3,2,9\n"))
    assert entries(ds) == {(1, 2): 3.0, (1, 3): 2.0, (2, 2): 1.0}
    assert any("2 repeated (user, item) pairs" in note and "latest" in note for note in ds.notes)


def test_duplicates_without_time_keep_last_in_file(write):
    ds = load(write("dup.csv", "user,item,rating\n1,2,3\n1,2,5\n"))
    assert entries(ds) == {(1, 2): 5.0}
    assert any("last rating in the file" in note for note in ds.notes)


def test_duplicate_counts_are_summed(write):
    ds = load(write("plays.csv", "user,item,count\n1,2,3\n1,2,4\n2,2,1\n"))
    assert entries(ds) == {(1, 2): 7.0, (2, 2): 1.0}
    assert any("added up" in note for note in ds.notes)


# ----------------------------------------------------------------- documents

def test_csv_with_text_column_becomes_documents(write):
    rows = ["id,text"] + [f'd{i},"the rocket launch reached orbit while the crew studied planets {i}"' for i in range(5)] + [
        f'e{i},"the chef added garlic butter and basil to the simmering pasta sauce"' for i in range(5)]
    ds = load(write("docs.csv", "\n".join(rows) + "\n"))
    assert ds.kind == "documents" and ds.n_rows == 10
    assert list(ds.row_ids[:2]) == ["d0", "d1"]
    vocab = set(ds.col_ids)
    assert {"rocket", "orbit", "garlic", "pasta"} <= vocab and "the" not in vocab
    assert ds.texts[5].startswith("the chef")


def test_text_folder_counts_weighting(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("apple banana apple cherry")
    (folder / "b.txt").write_text("banana banana durian")
    (folder / "sub" / "c.txt").write_bytes("cherry éclair apple".encode("latin-1"))
    ds = load(folder, weighting="count", stop_words=None)
    assert ds.kind == "documents"
    assert list(ds.row_ids) == ["a", "b", "sub/c"]
    counts = dict(zip(ds.col_ids[ds.cols[ds.rows == 0]], ds.values[ds.rows == 0]))
    assert counts == {"apple": 2.0, "banana": 1.0, "cherry": 1.0}
    assert "éclair" in set(ds.col_ids)


def test_matrix_market_with_vocabulary_in_either_orientation(tmp_path):
    matrix = sp.coo_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=float))
    scipy.io.mmwrite(tmp_path / "corpus.mtx", matrix)
    (tmp_path / "corpus.vocab").write_text("alpha\nbeta\ngamma\n")
    ds = load(tmp_path / "corpus.mtx")
    assert ds.kind == "documents" and ds.shape == (2, 3)
    assert list(ds.col_ids) == ["alpha", "beta", "gamma"]
    scipy.io.mmwrite(tmp_path / "tdm.mtx", matrix.T)
    (tmp_path / "tdm.vocab").write_text("alpha\nbeta\ngamma\n")
    transposed = load(tmp_path / "tdm.mtx")
    assert transposed.shape == (2, 3)
    np.testing.assert_array_equal(transposed.to_dense(0), matrix.toarray())


def test_matrix_market_vocabulary_of_wrong_length(tmp_path):
    scipy.io.mmwrite(tmp_path / "m.mtx", sp.coo_matrix(np.eye(3)))
    (tmp_path / "m.vocab").write_text("a\nb\n")
    with pytest.raises(DataError, match="word list has 2 lines but the matrix is 3 x 3"):
        load(tmp_path / "m.mtx")


# ---------------------------------------------------------- arrays and images

def test_save_npz_is_an_interaction_matrix(tmp_path):
    matrix = sp.random(30, 20, density=0.2, format="csr", random_state=1)
    matrix.data = np.ceil(matrix.data * 40)
    sp.save_npz(tmp_path / "m.npz", matrix)
    ds = load(tmp_path / "m.npz")
    assert ds.kind == "implicit"
    np.testing.assert_array_equal(ds.to_csr().toarray(), matrix.toarray())


def test_npy_grid_and_image_stack(tmp_path):
    grid = np.arange(12, dtype=float).reshape(3, 4)
    grid[1, 2] = np.nan
    np.save(tmp_path / "g.npy", grid)
    ds = load(tmp_path / "g.npy")
    assert ds.kind == "dense" and ds.nnz == 11 and not ds.fully_observed
    np.testing.assert_array_equal(ds.to_dense(), grid.astype(np.float32))
    stack = np.random.default_rng(0).random((5, 4, 6))
    np.save(tmp_path / "s.npy", stack)
    images = load(tmp_path / "s.npy")
    assert images.kind == "images" and images.image_shape == (4, 6) and images.shape == (5, 24)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", X=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="never unpickles"):
        load(tmp_path / "evil.npz")
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="never unpickles"):
        load(tmp_path / "evil.npy")


def test_numeric_grid_csv_with_empty_cells(write):
    ds = load(write("grid.csv", "a,b,c,d,e\n1.5,2,3,4,5\n6,,8,9,10\n"))
    assert ds.kind == "dense" and ds.shape == (2, 5) and ds.nnz == 9
    assert list(ds.col_ids) == ["a", "b", "c", "d", "e"]
    assert any("unknown, not zero" in n for n in ds.notes)


def test_image_folder_and_single_image(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    for k in range(3):
        pixels = np.zeros((4, 5), dtype=np.uint8)
        pixels[k, :] = 255
        Image.fromarray(pixels).save(folder / f"img{k}.png")
    ds = load(folder)
    assert ds.kind == "images" and ds.image_shape == (4, 5) and ds.shape == (3, 20)
    dense = ds.to_dense()
    assert dense[1].reshape(4, 5)[1].tolist() == [1.0] * 5 and dense[1].sum() == 5
    single = load(folder / "img2.png")
    assert single.kind == "dense" and single.shape == (4, 5)


def test_can_load_filters_by_name(tmp_path):
    assert can_load(tmp_path)
    for name in ("r.csv", "u.data", "u1.base", "ratings.dat", "x.mtx", "x.npz", "a.png", "corpus.txt"):
        assert can_load(tmp_path / name), name
    for name in ("a.exe", "a.pdf", "movie.mp4"):
        assert not can_load(tmp_path / name), name


def test_summary_counts(write):
    ds = load(write("r.csv", "user,item,rating\n1,1,1\n1,2,5\n2,1,5\n3,3,4\n"))
    s = ds.summary().as_dict()
    assert (s["n_users"], s["n_items"], s["nnz"]) == (3, 3, 4)
    assert s["rating_scale"] == [1.0, 5.0]
    assert s["per_user"]["max"] == 2 and s["per_item"]["min"] == 1
    assert sum(s["value_histogram"]["counts"]) == 4
    assert s["density"] == pytest.approx(4 / 9)


def test_row_count_histogram_has_a_bin_per_count_then_log_spaced_bins():
    """What the data panel's "Per user" plot draws, computed in the core."""
    from mfstudio.data.dataset import Dataset

    def data(per_row):
        rows = np.repeat(np.arange(len(per_row)), per_row)
        cols = np.concatenate([np.arange(c) for c in per_row]).astype(np.int64)
        return Dataset(kind="implicit", rows=rows, cols=cols, values=np.ones(rows.size),
                       row_ids=np.arange(len(per_row)), col_ids=np.arange(max(per_row)), name="t")

    counts, edges = data([1, 1, 3, 0, 5]).row_count_histogram()
    assert edges.tolist() == [0, 1, 2, 3, 4, 5, 6] and counts.tolist() == [1, 2, 0, 1, 0, 1]
    per_row = [1] * 50 + [2] * 20 + [40] * 5 + [400]
    counts, edges = data(per_row).row_count_histogram()
    assert len(edges) <= 31 and edges[0] == 1 and edges[-1] == 401 and (np.diff(edges) > 0).all()
    assert counts.sum() == len(per_row) and counts[0] == 50
