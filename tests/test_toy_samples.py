"""The tutorials' examples as they are: toy matrices, pasted grids, digits, and fit's reconstruction."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.errors import DataError
from mfstudio.data.samples import SAMPLES, digits, parse_grid_text

TOY_5X4 = np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [1, 0, 0, 4], [0, 1, 5, 4]])
TOY_5X3 = np.array([[5, 3, 0], [4, 0, 0], [1, 1, 0], [0, 0, 5], [0, 0, 4]])


@pytest.mark.parametrize("name, matrix", [("toy-5x4", TOY_5X4), ("toy-5x3", TOY_5X3)])
def test_toys_equal_the_tutorials_matrices(name, matrix):
    data = open_data(f"sample:{name}")
    np.testing.assert_array_equal(data.to_dense(fill=0), matrix)
    assert data.nnz == np.count_nonzero(matrix) and data.kind == "explicit"
    assert "tutorial" in SAMPLES[name].title


@pytest.mark.parametrize("text", [
    "5 3 0 1\n4 0 0 1\n1 1 0 5\n1 0 0 4\n0 1 5 4",
    "5,3,0,1\n4,0,0,1\n1,1,0,5\n1,0,0,4\n0,1,5,4\n",
    "5\t3\t0\t1\n4\t0\t0\t1\n\n1\t1\t0\t5\n1\t0\t0\t4\n0\t1\t5\t4",
    "R = [[5, 3, 0, 1],\n [4, 0, 0, 1],\n [1, 1, 0, 5],\n [1, 0, 0, 4],\n [0, 1, 5, 4]]".split("=", 1)[1],
    "[[5. 3. 0. 1.]\n [4. 0. 0. 1.]\n [1. 1. 0. 5.]\n [1. 0. 0. 4.]\n [0. 1. 5. 4.]]",
])
def test_pasted_grid_reads_like_the_sample(text):
    pasted, sample = parse_grid_text(text), open_data("sample:toy-5x4")
    assert (pasted.kind, pasted.shape, pasted.nnz) == (sample.kind, sample.shape, sample.nnz)
    np.testing.assert_array_equal(pasted.to_dense(0), sample.to_dense(0))
    np.testing.assert_array_equal(pasted.truth["matrix"], TOY_5X4)


def test_pasted_grid_zero_as_a_value_and_blank_cells():
    dense = parse_grid_text("1 2\n3 0", zero_is_unknown=False)
    assert dense.kind == "dense" and dense.nnz == 4
    blanks = parse_grid_text("1,,2\n3,0,-")
    assert blanks.nnz == 3 and blanks.kind == "explicit"


@pytest.mark.parametrize("text, words", [("", "no numbers"), ("1 2 3\n4 5", "line 2 has 2 cells"),
                                         ("1 2\n3 x", "'x' is not a number")])
def test_pasted_grid_errors_are_one_sentence(text, words):
    with pytest.raises(DataError, match=words):
        parse_grid_text(text)


def test_digits_are_scikit_learns_images():
    from sklearn.datasets import load_digits

    data = digits()
    assert data.kind == "images" and data.image_shape == (8, 8) and data.shape == (1797, 64)
    np.testing.assert_array_equal(data.to_dense(), load_digits().data)
    assert data.row_labels[:3].tolist() == ["0", "1", "2"]
    assert open_data("sample:digits").shape == (1797, 64)


def test_fit_split_none_json_reconstructs_the_known_cells(capsys):
    # The tutorial's own settings need 5,000 sweeps; no regularization reaches the known cells faster.
    code = main(["fit", "sample:toy-5x4", "--model", "gd", "--split", "none", "--json", "--reg", "0",
                 "--epochs", "500", "--factors", "2"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["protocol"] == "all"
    rec = result["reconstruction"]
    matrix = np.array(rec["matrix"])
    assert matrix.shape == (5, 4) and rec["rows"][0] == "U1" and rec["columns"][-1] == "D4"
    known = TOY_5X4 > 0
    assert np.abs(matrix - TOY_5X4)[known].max() < 0.1
    # The unknown cells are filled in, not left at 0: the tutorials' punchline.
    assert (matrix[~known] > 0.5).all()


def test_fit_json_has_no_reconstruction_for_large_data(capsys):
    code = main(["fit", "sample:movies", "--model", "baseline", "--json"])
    assert code == 0 and "reconstruction" not in json.loads(capsys.readouterr().out)
