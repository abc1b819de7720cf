"""Data roles: what the loader decided, why, and that the user can change it.

Issue 8, findings 2, 5 and 6: a ``save_npz`` count matrix read as ratings, a
document CSV whose header became a document and whose labels were dropped, a
typed-in toy grid read as (user, item, rating) rows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from mfstudio.cli import main
from mfstudio.data import DataError, load, load_sample, open_data
from tests.conftest import ML100K, needs_ml100k

TOY_5X4 = "5,3,0,1\n4,0,0,1\n1,1,0,5\n1,0,0,4\n0,1,5,4\n"
TOY_5X4_MATRIX = np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [1, 0, 0, 4], [0, 1, 5, 4]], dtype=float)


# ------------------------------------------------------- explicit or implicit

def _count_matrix(seed=0, shape=(200, 300), density=0.05):
    """Summed events: geometric counts 1..6, mostly 1 (as save_npz users have them)."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(*shape, density=density, format="csr", random_state=seed)
    matrix.data = np.minimum(rng.geometric(0.6, size=matrix.nnz), 6).astype(np.int64)
    return matrix


def _ratings_matrix(seed=0, shape=(200, 300), density=0.05):
    """MovieLens-like 1..5 stars, mode 4."""
    rng = np.random.default_rng(seed)
    matrix = sp.random(*shape, density=density, format="csr", random_state=seed)
    matrix.data = rng.choice([1, 2, 3, 4, 5], p=[0.06, 0.11, 0.27, 0.34, 0.22], size=matrix.nnz).astype(np.int64)
    return matrix


def test_save_npz_counts_up_to_six_are_interactions(tmp_path):
    matrix = _count_matrix()
    assert matrix.data.max() == 6 and np.mean(matrix.data == 1) > 0.5
    sp.save_npz(tmp_path / "events.npz", matrix)
    ds = load(tmp_path / "events.npz")
    assert ds.kind == "implicit"
    assert ds.rating_scale is None
    # The reason names what was seen: the range and the share of ones.
    share = f"{np.mean(matrix.data == 1):.0%}"
    assert "1 to 6" in ds.kind_reason and share in ds.kind_reason
    np.testing.assert_array_equal(ds.to_csr().toarray(), matrix.toarray())


def test_save_npz_of_ratings_is_explicit(tmp_path):
    sp.save_npz(tmp_path / "stars.npz", _ratings_matrix())
    ds = load(tmp_path / "stars.npz")
    assert ds.kind == "explicit" and ds.rating_scale == (1.0, 5.0)
    assert "4" in ds.kind_reason and "rating" in ds.kind_reason


def test_explicit_kind_is_honoured_on_a_count_matrix(tmp_path):
    sp.save_npz(tmp_path / "events.npz", _count_matrix())
    ds = load(tmp_path / "events.npz", kind="explicit")
    assert ds.kind == "explicit" and ds.rating_scale == (1.0, 6.0)
    assert "asked" in ds.kind_reason


def test_counts_in_a_headerless_table_are_interactions(write):
    matrix = _count_matrix(shape=(50, 80), density=0.2).tocoo()
    lines = [f"{u},{i},{v}" for u, i, v in zip(matrix.row, matrix.col, matrix.data)]
    ds = load(write("events.csv", "\n".join(lines) + "\n"))
    assert ds.kind == "implicit"
    assert load(write("events2.csv", "\n".join(lines) + "\n"), kind="explicit").kind == "explicit"


def test_info_json_shows_kind_reason_and_choices(tmp_path, capsys):
    sp.save_npz(tmp_path / "events.npz", _count_matrix())
    assert main(["info", str(tmp_path / "events.npz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "implicit"
    assert "interaction" in info["kind_reason"]
    assert set(info["kind_choices"]) >= {"explicit", "implicit"}
    assert main(["info", str(tmp_path / "events.npz")]) == 0
    assert "kind why" in capsys.readouterr().out


# ------------------------------------------------------------ forced kinds

def test_a_kind_that_does_not_fit_is_refused_in_one_sentence(write):
    ratings = write("r.csv", "user,item,rating\nalice,matrix,5\nbob,matrix,3\nalice,up,4\n")
    with pytest.raises(DataError) as info:
        load(ratings, kind="documents")
    message = str(info.value)
    assert message.startswith("r.csv") and "text" in message and info.value.fix
    with pytest.raises(DataError, match="r.csv"):
        load(ratings, kind="images")


def _files_of_every_layout(write, tmp_path):
    sp.save_npz(tmp_path / "events.npz", _count_matrix(shape=(20, 30), density=0.3))
    np.save(tmp_path / "grid.npy", np.arange(12, dtype=float).reshape(3, 4))
    return [
        write("ratings.csv", "user,item,rating\nalice,matrix,5\nbob,matrix,3\nalice,up,4\n"),
        write("toy.csv", TOY_5X4),
        write("docs.csv", _document_csv(30)),
        tmp_path / "events.npz",
        tmp_path / "grid.npy",
        "sample:toy-5x4",
        "sample:movies",
        "sample:bars",
    ]


def test_every_offered_kind_loads_as_that_kind_and_others_are_refused(write, tmp_path):
    from mfstudio.data import KINDS

    for spec in _files_of_every_layout(write, tmp_path):
        ds = open_data(spec)
        summary = ds.summary()
        assert ds.kind_reason, spec
        assert summary.kind_reason == ds.kind_reason
        assert ds.kind in summary.kind_choices, spec
        assert summary.as_dict()["kind_choices"] == list(summary.kind_choices)
        for kind in KINDS:
            if kind in summary.kind_choices:
                assert open_data(spec, kind=kind).kind == kind, (spec, kind)
            else:
                with pytest.raises(DataError):
                    open_data(spec, kind=kind)


# ---------------------------------------------------------- document CSVs

CATEGORIES = ("space", "cooking", "sport")
WORDS = {
    "space": "rocket orbit planet astronaut launch telescope galaxy",
    "cooking": "garlic butter pasta sauce basil oven recipe",
    "sport": "goal match referee striker league stadium coach",
}


def _document_csv(n: int, *, with_title: bool = False) -> str:
    rng = np.random.default_rng(n)
    header = "title,category,text" if with_title else "category,text"
    lines = [header]
    for i in range(n):
        category = CATEGORIES[i % 3]
        words = " ".join(rng.choice(WORDS[category].split(), size=8))
        text = f'"{words}, and more {i}"'
        lines.append(f"Story {i},{category},{text}" if with_title else f"{category},{text}")
    return "\n".join(lines) + "\n"


def test_document_csv_header_is_not_a_document_and_labels_are_kept(write):
    ds = load(write("news.csv", _document_csv(1249)))
    assert ds.kind == "documents" and ds.n_rows == 1249
    assert ds.row_label_name == "category"
    assert list(ds.row_labels) == [CATEGORIES[i % 3] for i in range(1249)]
    assert not any("category" == t.strip() or t.startswith("text") for t in ds.texts[:1])
    assert "documents" in ds.kind_reason


def test_document_csv_unique_title_becomes_the_row_ids(write):
    ds = load(write("titled.csv", _document_csv(40, with_title=True)))
    assert list(ds.row_ids[:3]) == ["Story 0", "Story 1", "Story 2"]
    assert ds.row_label_name == "category" and ds.row_labels[4] == CATEGORIES[1]


def test_document_csv_with_multiline_quotes_and_commas(write):
    rows = ["label,body"]
    texts = []
    for i in range(12):
        category = CATEGORIES[i % 3]
        text = f"First line about {WORDS[category]}, with a comma.\nSecond line, number {i}, \"\"quoted\"\"."
        texts.append(text.replace('""', '"'))
        rows.append(f'{category},"{text}"')
    ds = load(write("multi.csv", "\n".join(rows) + "\n"))
    assert ds.kind == "documents" and ds.n_rows == 12
    assert ds.texts == texts
    assert ds.row_label_name == "label" and list(ds.row_labels) == [CATEGORIES[i % 3] for i in range(12)]


# ------------------------------------------------------------- typed grids

def test_typed_toy_grid_reads_zero_as_unknown(write):
    ds = load(write("toy.csv", TOY_5X4))
    assert ds.shape == (5, 4)
    assert ds.kind == "explicit" and ds.nnz == 13 and ds.rating_scale == (1.0, 5.0)
    np.testing.assert_array_equal(ds.to_dense(0), TOY_5X4_MATRIX)
    assert "0" in ds.kind_reason and "unknown" in ds.kind_reason


def test_typed_toy_grid_as_dense_keeps_zero_as_a_value(write):
    ds = load(write("toy.csv", TOY_5X4), kind="dense")
    assert ds.kind == "dense" and ds.shape == (5, 4) and ds.nnz == 20 and ds.fully_observed
    np.testing.assert_array_equal(ds.to_dense(), TOY_5X4_MATRIX)


@pytest.mark.parametrize(
    "text",
    [
        TOY_5X4.replace(",", " "),
        TOY_5X4.replace(",", "  "),
        TOY_5X4.replace(",", "\t"),
        "5,3,,1\n4,,,1\n1,1,,5\n1,,,4\n,1,5,4\n",
    ],
    ids=["spaces", "aligned", "tabs", "blank-cells"],
)
def test_typed_grid_in_other_notations(write, text):
    ds = load(write("toy.txt", text))
    assert ds.shape == (5, 4), "the first row is data, not a header"
    assert ds.kind == "explicit" and ds.nnz == 13
    np.testing.assert_array_equal(ds.to_dense(0), TOY_5X4_MATRIX)


def test_typed_grids_agree_with_the_built_in_toys(write):
    for name, text in (
        ("toy-5x4", TOY_5X4),
        ("toy-5x3", "5,3,0\n4,0,0\n1,1,0\n0,0,5\n0,0,4\n"),
    ):
        typed, sample = load(write(f"{name}.csv", text)), load_sample(name)
        assert (typed.kind, typed.shape, typed.nnz, typed.rating_scale) == (
            sample.kind, sample.shape, sample.nnz, sample.rating_scale)
        np.testing.assert_array_equal(typed.to_dense(0), sample.to_dense(0))
        assert typed.summary().kind_choices == sample.summary().kind_choices
        typed_dense, sample_dense = load(write(f"{name}-d.csv", text), kind="dense"), open_data(f"sample:{name}", kind="dense")
        assert typed_dense.nnz == sample_dense.nnz == sample.n_rows * sample.n_cols
        np.testing.assert_array_equal(typed_dense.to_dense(), sample_dense.to_dense())


def test_triples_still_read_as_triples(write):
    # A 4th column of Unix seconds is a timestamp, and item ids above the
    # rating scale mean ids, not cells of a grid.
    ds = load(write("r.csv", "10,100,4,1000000000\n11,100,2,1000000500\n10,101,5,1000000900\n"))
    assert ds.kind == "explicit" and ds.timestamps is not None and ds.nnz == 3
    assert "rating" in ds.kind_reason


@needs_ml100k
@pytest.mark.parametrize("name", ["u.data", "u1.base"])
def test_real_movielens_files_are_ratings_with_a_reason(name):
    ds = load(ML100K / name)
    assert ds.kind == "explicit" and ds.timestamps is not None and ds.rating_scale == (1.0, 5.0)
    assert "4" in ds.kind_reason  # the most common rating
