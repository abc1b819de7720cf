"""Side features: loaded with MovieLens at no cost, from any file by flag, carried through subsets and splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfstudio.cli import main
from mfstudio.data import DataError, common_id_space, open_data, random_split
from mfstudio.data.features import SideFeatures, age_band, attach_feature_file, features_from_lists, read_feature_file
from mfstudio.data.samples import movies

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"


def _tiny_movielens(folder: Path) -> Path:
    """A three-user, three-movie folder in the MovieLens 100K layout."""
    folder.mkdir()
    (folder / "u.data").write_text("1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250951\n"
                                   "3\t30\t2\t881250952\n2\t30\t1\t881250953\n")
    flags = lambda on: "|".join("1" if g in on else "0" for g in range(19))  # noqa: E731
    (folder / "u.item").write_text(
        f"10|Alpha (1995)|01-Jan-1995||http://x|{flags({1, 5})}\n"
        f"20|Beta (1977)|01-Jan-1977||http://x|{flags({8})}\n"
        f"30|Gamma (1995)|01-Jan-1995||http://x|{flags({5})}\n", encoding="latin-1")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|17|M|student|32067\n")
    return folder / "u.data"


def test_a_movielens_folder_brings_genres_decades_and_demographics(tmp_path):
    data = open_data(_tiny_movielens(tmp_path / "ml"))
    items, users = data.item_features, data.user_features
    assert items is not None and users is not None
    row = lambda f, j: set(f.names[f.matrix[j].indices])  # noqa: E731
    alpha = int(data.col_of([10])[0])
    assert row(items, alpha) == {"genre=Action", "genre=Comedy", "decade=1990s"}
    beta = int(data.col_of([20])[0])
    assert row(items, beta) == {"genre=Drama", "decade=1970s"}
    assert row(users, int(data.row_of([2])[0])) == {"age=50-55", "gender=F", "occupation=other"}
    assert row(users, int(data.row_of([3])[0])) == {"age=under 18", "gender=M", "occupation=student"}
    lines = data.summary().side_features
    assert any("from u.item" in line and "(decade, genre)" in line for line in lines)
    assert any("from u.user" in line for line in lines)


def test_a_broken_user_file_is_a_note_not_a_failed_load(tmp_path):
    path = _tiny_movielens(tmp_path / "ml")
    (path.parent / "u.user").write_text("1|24|M|technician|85711\n2|old|F|other|94043\n")
    data = open_data(path)
    assert data.user_features is None and data.nnz == 5
    assert any("u.user, line 2" in note and "age" in note for note in data.notes)


@pytest.mark.skipif(not ML100K.is_dir(), reason="needs ../shared/data/ml-100k")
def test_ml100k_features_cover_every_movie_and_user():
    data = open_data(ML100K / "u.data")
    assert data.item_features.covered().all() and data.user_features.covered().all()
    assert data.user_features.matrix.sum(axis=1).A.ravel().tolist() == [3.0] * data.n_users
    assert "genre=Film-Noir" in data.item_features.names and "gender=F" in data.user_features.names


def test_feature_file_reads_categorical_and_multivalued_columns(tmp_path):
    data = open_data(_tiny_movielens(tmp_path / "ml"))
    path = tmp_path / "tags.csv"
    path.write_text("movie,tags,studio\n10,funny|old,A\n30,,B\n99,sad,C\n")
    features = read_feature_file(path, data.col_ids, "item")
    assert features.source == "tags.csv" and features.n_entities == data.n_cols
    row = lambda j: set(features.names[features.matrix[j].indices])  # noqa: E731
    assert row(int(data.col_of([10])[0])) == {"tags=funny", "tags=old", "studio=A"}
    assert row(int(data.col_of([30])[0])) == {"studio=B"}
    assert row(int(data.col_of([20])[0])) == set()  # not listed: no features, not an error
    assert "tags=sad" in features.names  # id 99 is not in the data, its values still name columns


@pytest.mark.parametrize("text, problem", [
    ("movie,tags\n10,a,b\n", "line 2: expected 2 fields"),
    ("movie,tags\n10,a\n10,b\n", "line 3: the item id '10' is listed twice"),
    ("movie,tags\n500,a\n", "none of its 1 ids is a item id"),
    ("just-one-column\n", "line 1: the first line has only one column"),
    ("", "is empty"),
])
def test_bad_feature_files_get_one_sentence_naming_file_and_line(tmp_path, text, problem):
    data = open_data(_tiny_movielens(tmp_path / "ml"))
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as refused:
        attach_feature_file(data, path, "item")
    assert str(refused.value).startswith("bad.csv") and problem in str(refused.value)


def test_subsets_splits_and_common_id_space_keep_features():
    data = movies(n_users=60, n_items=80, seed=1)
    split = random_split(data, 0.3, seed=0)
    for part in (split.train, split.test):
        assert part.item_features is data.item_features and part.user_features is data.user_features
    # A test file with an item the training file lacks: the new id gets the test file's features.
    train = data.subset(data.cols != 5)
    keep = np.flatnonzero(np.bincount(train.cols, minlength=data.n_cols) > 0)
    from dataclasses import replace

    remap = -np.ones(data.n_cols, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    train = replace(train, cols=remap[train.cols], col_ids=data.col_ids[keep],
                    item_titles=data.item_titles[keep], item_genres=data.item_genres[keep],
                    item_features=data.item_features.take(keep))
    new_train, new_test = common_id_space(train, data)
    assert new_train.item_features.n_entities == new_train.n_cols == new_test.n_cols
    moved = int(new_train.col_of([data.col_ids[5]])[0])
    assert moved == keep.size  # appended after the training ids
    np.testing.assert_array_equal(new_train.item_features.matrix[moved].toarray(),
                                  data.item_features.matrix[5].toarray())


def test_sample_movies_has_genre_features_and_planted_user_segments():
    data = movies(n_users=50, n_items=60, seed=0)
    genres = set(data.item_features.names[data.item_features.matrix[3].indices])
    assert genres == {f"genre={g}" for g in data.item_genres[3].split("|")}
    assert data.user_features.covered().all()
    assert all(name.startswith("segment=") for name in data.user_features.names)


def test_feature_tables_are_checked_and_aligned():
    table = features_from_lists([["a=1", "b=x"], [], ["a=1"]], "t")
    assert table.names.tolist() == ["a=1", "b=x"] and table.covered().tolist() == [True, False, True]
    assert table.take(np.array([2, -1])).matrix.toarray().tolist() == [[1.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError):
        SideFeatures(table.matrix, ["only-one"])
    assert age_band(17) == "under 18" and age_band(18) == "18-24" and age_band(44) == "35-44" and age_band(70) == "56+"


@settings(max_examples=60, deadline=None)
@given(lists=st.lists(st.lists(st.sampled_from(["g=a", "g=b", "age=18-24", "x=1", "x=2"]), max_size=6),
                      max_size=25),
       picks=st.lists(st.integers(-1, 30), max_size=30), extra=st.integers(0, 3))
def test_csr_arrays_agree_with_scipy_for_lists_take_extend_and_stack(lists, picks, extra):
    """The features keep plain CSR arrays (no scipy until .matrix is read); each operation equals scipy's."""
    import scipy.sparse as sp

    table = features_from_lists(lists, "t")
    dense = np.zeros((len(lists), table.n_features), np.float32)
    column = {name: j for j, name in enumerate(table.names.tolist())}
    for row, values in enumerate(lists):
        for value in values:
            dense[row, column[value]] += 1  # a value listed twice counts twice
    assert table.names.tolist() == sorted(column)
    assert table.matrix.has_canonical_format and table.matrix.dtype == np.float32
    np.testing.assert_array_equal(table.matrix.toarray(), dense)
    assert table.covered().tolist() == (dense.sum(axis=1) > 0).tolist()
    index = np.asarray([i if i < len(lists) else -1 for i in picks], dtype=np.int64)
    expected = np.zeros((index.size, table.n_features), np.float32)
    expected[index >= 0] = dense[index[index >= 0]]
    taken = table.take(index)
    np.testing.assert_array_equal(taken.matrix.toarray(), expected)
    grown = table.extended(extra)
    assert grown.n_entities == len(lists) + extra and not grown.covered()[len(lists):].any()
    stacked = table.stacked(taken)
    np.testing.assert_array_equal(stacked.matrix.toarray(),
                                  np.vstack([dense, expected]))
    # Built from a scipy matrix, the same features (duplicates summed).
    again = SideFeatures(sp.csr_matrix(dense), table.names, "t")
    np.testing.assert_array_equal(again.matrix.toarray(), dense)


def test_the_movies_sample_loads_its_features_without_importing_scipy_sparse():
    """The window opens on this sample: its features stay plain arrays until a hybrid reads the matrix."""
    import subprocess
    import sys

    code = """
import sys
from mfstudio.data.samples import load_sample
data = load_sample("movies")
assert data.item_features.covered().all() and data.user_features.n_entities == data.n_rows
print("SPARSE", "scipy.sparse" in sys.modules)
print(data.summary().side_features)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SPARSE False" in proc.stdout and "genre" in proc.stdout


def test_info_prints_one_line_per_feature_kind_and_the_flag_replaces_them(tmp_path, capsys):
    path = _tiny_movielens(tmp_path / "ml")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip().startswith("features")]
    assert len(lines) == 2 and "u.item" in lines[0] and "u.user" in lines[1]
    users = tmp_path / "people.tsv"
    users.write_text("user\tclub\n1\tchess|go\n2\tgo\n")
    assert main(["info", str(path), "--user-features", str(users), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["user_features"] == {"n_features": 2, "source": "people.tsv", "covered": 2, "columns": ["club"]}
    assert shown["item_features"]["source"] == "u.item"
