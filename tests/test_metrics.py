"""Metrics: hand-worked values, edge cases, and a slow obvious reference on random data."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from mfstudio import metrics as M

L2_3 = math.log2(3)  # discount denominator at rank 2 is log2(2 + 1)


# ------------------------------------------------------------------- rmse / mae
def test_rmse_mae_by_hand():
    y = [1.0, 2.0, 3.0, 4.0]
    p = [2.0, 2.0, 1.0, 4.0]
    # errors: -1, 0, 2, 0 -> squares 1, 0, 4, 0 -> mean 5/4 -> rmse sqrt(1.25)
    assert M.rmse(y, p) == pytest.approx(math.sqrt(1.25))
    # |errors|: 1, 0, 2, 0 -> mean 3/4
    assert M.mae(y, p) == pytest.approx(0.75)


def test_rmse_mae_float32_input_accumulates_in_float64():
    y = np.array([3.5, 4.0, 1.0], dtype=np.float32)
    p = np.array([3.0, 4.5, 2.0], dtype=np.float32)
    # errors 0.5, -0.5, -1 -> squares .25 .25 1 -> mean 0.5 -> sqrt(0.5); mae 2/3
    assert M.rmse(y, p) == pytest.approx(math.sqrt(0.5), rel=1e-12)
    assert M.mae(y, p) == pytest.approx(2 / 3, rel=1e-12)
    assert M.rmse(y, y) == 0.0


@pytest.mark.parametrize("fn", [M.rmse, M.mae])
def test_rmse_mae_reject_empty_and_mismatched(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="shape"):
        fn([1.0, 2.0], [1.0, 2.0, 3.0])


# ------------------------------------------------------------- ranking metrics
# Four users, five items, k = 3. User 2 has no relevant item and is excluded.
#   user 0: list [0, 1, 2], relevant {0, 2}       -> hits 1 0 1
#   user 1: list [3, -1, 1], relevant {1}         -> hits 0 0 1 (slot 2 is padding)
#   user 2: list [4, 0, 1], relevant {}           -> excluded
#   user 3: list [2, 3, 4], relevant {0, 1, 3, 4} -> hits 0 1 1
RECOMMENDED = np.array([[0, 1, 2], [3, -1, 1], [4, 0, 1], [2, 3, 4]])
RELEVANT = sp.csr_matrix(
    np.array(
        [
            [1, 0, 1, 0, 0],
            [0, 1, 0, 0, 0],
            [0, 0, 0, 0, 0],
            [1, 1, 0, 1, 1],
        ],
        dtype=np.float32,
    )
)

# precision = hits / 3
P = [2 / 3, 1 / 3, 2 / 3]
# recall = hits / |relevant|: 2/2, 1/1, 2/4
R = [1.0, 1.0, 0.5]
# ndcg: DCG with gain 1/log2(rank + 1); IDCG over min(3, |rel|) ideal hits
#   user 0: (1 + 1/log2(4)) / (1 + 1/log2(3))
#   user 1: (1/log2(4)) / 1
#   user 3: (1/log2(3) + 1/log2(4)) / (1 + 1/log2(3) + 1/log2(4))
N = [
    (1 + 1 / 2) / (1 + 1 / L2_3),
    (1 / 2) / 1,
    (1 / L2_3 + 1 / 2) / (1 + 1 / L2_3 + 1 / 2),
]
# map: sum of precision@i at hit ranks i, divided by min(3, |rel|)
#   user 0: (1/1 + 2/3) / 2 = 5/6
#   user 1: (1/3) / 1       = 1/3
#   user 3: (1/2 + 2/3) / 3 = 7/18
A = [5 / 6, 1 / 3, 7 / 18]


def test_ranking_metrics_by_hand():
    assert M.precision_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(5 / 9)  # (2/3+1/3+2/3)/3
    assert M.recall_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(5 / 6)  # (1+1+0.5)/3
    assert M.ndcg_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(sum(N) / 3)
    assert M.map_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(14 / 27)  # (5/6+1/3+7/18)/3
    # and the per-user hand values themselves
    assert N[0] == pytest.approx(0.9197207891481876)
    assert N[2] == pytest.approx(0.5307212739772434)


def test_ranking_metrics_dict_and_per_user():
    out = M.ranking_metrics(RECOMMENDED, RELEVANT, 3)
    assert set(out) == {"precision@3", "recall@3", "ndcg@3", "map@3"}
    assert out["precision@3"] == pytest.approx(5 / 9)
    assert out["recall@3"] == pytest.approx(5 / 6)
    assert out["ndcg@3"] == pytest.approx(sum(N) / 3)
    assert out["map@3"] == pytest.approx(14 / 27)

    per = M.ranking_metrics(RECOMMENDED, RELEVANT, 3, average=False)
    for key, expected in (("precision@3", P), ("recall@3", R), ("ndcg@3", N), ("map@3", A)):
        got = per[key]
        assert got.shape == (4,)
        assert np.isnan(got[2]), "a user without relevant items is NaN"
        np.testing.assert_allclose(got[[0, 1, 3]], expected)
    np.testing.assert_allclose(M.ndcg_at_k(RECOMMENDED, RELEVANT, 3, average=False)[[0, 1, 3]], N)


def test_ranking_k_smaller_than_list():
    # k = 1: only the first column counts. hits: user0 1, user1 0 (item 3), user3 0 (item 2)
    out = M.ranking_metrics(RECOMMENDED, RELEVANT, 1)
    assert out["precision@1"] == pytest.approx(1 / 3)
    # recall: 1/2, 0, 0 -> mean 1/6
    assert out["recall@1"] == pytest.approx(1 / 6)
    # ndcg: IDCG@1 = 1 for everyone -> 1, 0, 0
    assert out["ndcg@1"] == pytest.approx(1 / 3)
    assert out["map@1"] == pytest.approx(1 / 3)


def test_padding_never_hits_and_counts_as_a_miss():
    rel = sp.csr_matrix(np.array([[1, 1, 0]]))
    rec = np.array([[0, -1, -1, -1]])
    # one hit in 4 slots; recall 1/2
    assert M.precision_at_k(rec, rel, 4) == pytest.approx(1 / 4)
    assert M.recall_at_k(rec, rel, 4) == pytest.approx(1 / 2)
    # ndcg: 1 / (1 + 1/log2(3))
    assert M.ndcg_at_k(rec, rel, 4) == pytest.approx(1 / (1 + 1 / L2_3))
    all_padding = np.full((1, 3), -1)
    assert M.precision_at_k(all_padding, rel, 3) == 0.0
    assert M.ndcg_at_k(all_padding, rel, 3) == 0.0


def test_duplicate_item_counts_once():
    rel = sp.csr_matrix(np.array([[1, 0, 1]]))
    rec = np.array([[2, 2, 0]])
    # hits 1 0 1 (the repeated 2 is not a second hit): precision 2/3, recall 1
    out = M.ranking_metrics(rec, rel, 3)
    assert out["precision@3"] == pytest.approx(2 / 3)
    assert out["recall@3"] == pytest.approx(1.0)
    # map: (1/1 + 2/3) / 2
    assert out["map@3"] == pytest.approx(5 / 6)


def test_explicit_zero_is_not_relevant_and_values_are_ignored():
    rel = sp.csr_matrix((np.array([0.0, 5.0, 0.1]), (np.array([0, 0, 0]), np.array([0, 1, 2]))), shape=(1, 3))
    rec = np.array([[0, 1, 2]])
    # relevant = {1, 2} (stored 0 at item 0 is dropped); hits 0 1 1
    assert M.recall_at_k(rec, rel, 3) == pytest.approx(1.0)
    assert M.precision_at_k(rec, rel, 3) == pytest.approx(2 / 3)


def test_no_user_with_relevant_items_gives_nan():
    rel = sp.csr_matrix((2, 4))
    rec = np.array([[0, 1], [2, 3]])
    assert math.isnan(M.precision_at_k(rec, rel, 2))
    assert np.isnan(M.ndcg_at_k(rec, rel, 2, average=False)).all()


def test_ranking_rejects_bad_input():
    with pytest.raises(ValueError, match="columns"):
        M.precision_at_k(RECOMMENDED, RELEVANT, 4)
    with pytest.raises(ValueError, match="rows"):
        M.precision_at_k(RECOMMENDED[:2], RELEVANT, 3)
    with pytest.raises(ValueError, match="k must"):
        M.precision_at_k(RECOMMENDED, RELEVANT, 0)
    with pytest.raises(ValueError, match="item 7"):
        M.precision_at_k(np.array([[7, 0, 1]] * 4), RELEVANT, 3)
    with pytest.raises(ValueError, match="sparse"):
        M.precision_at_k(RECOMMENDED, RELEVANT.toarray(), 3)
    with pytest.raises(ValueError, match="integer"):
        M.precision_at_k(RECOMMENDED.astype(float), RELEVANT, 3)


def _reference(recommended, relevant, k):
    """The obvious per-user loop, to check the vectorised code against."""
    dense = relevant.toarray() != 0
    sums = {"precision": [], "recall": [], "ndcg": [], "map": []}
    for u in range(dense.shape[0]):
        rel = set(np.flatnonzero(dense[u]).tolist())
        if not rel:
            continue
        seen, hits = set(), []
        for item in recommended[u, :k].tolist():
            hit = item >= 0 and item in rel and item not in seen
            if item >= 0:
                seen.add(item)
            hits.append(hit)
        n_hits = sum(hits)
        dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits) if h)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
        ap, running = 0.0, 0
        for i, h in enumerate(hits):
            if h:
                running += 1
                ap += running / (i + 1)
        sums["precision"].append(n_hits / k)
        sums["recall"].append(n_hits / len(rel))
        sums["ndcg"].append(dcg / idcg)
        sums["map"].append(ap / min(k, len(rel)))
    return {f"{name}@{k}": float(np.mean(v)) for name, v in sums.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 5, 10])
def test_ranking_matches_loop_reference(seed, k):
    rng = np.random.default_rng(seed)
    n_users, n_items = 60, 25
    relevant = sp.random(n_users, n_items, density=0.15, format="csr", random_state=seed)
    relevant.data[:] = rng.integers(1, 6, relevant.nnz)
    keep = np.ones(n_users)
    keep[rng.integers(0, n_users, 5)] = 0  # a few users with no relevant item
    relevant = (sp.diags(keep) @ relevant).tocsr()
    relevant.eliminate_zeros()
    assert (np.diff(relevant.indptr) == 0).any()
    recommended = np.stack([rng.permutation(n_items)[:12] for _ in range(n_users)])
    recommended[rng.random(recommended.shape) < 0.1] = -1  # padding
    dup = rng.random(recommended.shape) < 0.05  # some duplicates
    recommended[dup] = rng.integers(0, n_items, dup.sum())
    got = M.ranking_metrics(recommended, relevant, k)
    want = _reference(recommended, relevant, k)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
    assert M.ndcg_at_k(recommended, relevant, k) == pytest.approx(want[f"ndcg@{k}"], rel=1e-12)


# ------------------------------------------------------------------- coverage
def test_catalogue_coverage():
    rec = np.array([[0, 1, -1], [1, 2, -1]])
    # items {0, 1, 2} of 5
    assert M.catalogue_coverage(rec, 5) == pytest.approx(3 / 5)
    assert M.catalogue_coverage(np.full((2, 2), -1), 5) == 0.0
    assert M.catalogue_coverage(np.array([[0, 1], [2, 3]]), 4) == 1.0
    with pytest.raises(ValueError):
        M.catalogue_coverage(rec, 2)
    with pytest.raises(ValueError):
        M.catalogue_coverage(rec, 0)


# ---------------------------------------------------------- reconstruction error
def _random_factors(seed, m=30, n=40, r=4, density=0.2):
    rng = np.random.default_rng(seed)
    X = sp.random(m, n, density=density, format="csr", random_state=seed, dtype=np.float64)
    W = rng.random((m, r))
    H = rng.random((r, n))
    return X, W, H


def test_reconstruction_error_by_hand():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = np.array([[1.0], [2.0]])
    H = np.array([[1.0, 2.0]])
    # WH = [[1, 2], [2, 4]]; X - WH = [[0, 0], [1, 0]] -> ||.||_F = 1
    # ||X||_F = sqrt(1 + 4 + 9 + 16) = sqrt(30)
    out = M.reconstruction_error(X, W, H)
    assert out["absolute"] == pytest.approx(1.0)
    assert out["relative"] == pytest.approx(1 / math.sqrt(30))


@pytest.mark.parametrize("seed", [0, 1])
def test_reconstruction_error_dense_sparse_and_gram_path_agree(seed, monkeypatch):
    X, W, H = _random_factors(seed)
    Xd = X.toarray()
    want_abs = np.linalg.norm(Xd - W @ H)
    want_rel = want_abs / np.linalg.norm(Xd)
    dense = M.reconstruction_error(Xd, W, H)
    sparse_small = M.reconstruction_error(X, W, H)  # densified: small
    monkeypatch.setattr(M, "_DENSE_CELLS_LIMIT", 0)  # force the Gram identity
    sparse_gram = M.reconstruction_error(X, W, H)
    sparse_coo = M.reconstruction_error(X.tocoo(), W.astype(np.float32), H.astype(np.float32))
    for out in (dense, sparse_small, sparse_gram):
        assert out["absolute"] == pytest.approx(want_abs, rel=1e-10)
        assert out["relative"] == pytest.approx(want_rel, rel=1e-10)
    assert sparse_coo["absolute"] == pytest.approx(want_abs, rel=1e-5)


def test_reconstruction_error_gram_path_counts_duplicates_once_summed(monkeypatch):
    # COO with a duplicate (0, 0) entry means X[0, 0] = 1 + 2 = 3
    X = sp.coo_matrix((np.array([1.0, 2.0, 4.0]), (np.array([0, 0, 1]), np.array([0, 0, 1]))), shape=(2, 2))
    W = np.eye(2)
    H = np.zeros((2, 2))
    monkeypatch.setattr(M, "_DENSE_CELLS_LIMIT", 0)
    # X - 0 = [[3, 0], [0, 4]] -> 5
    assert M.reconstruction_error(X, W, H)["absolute"] == pytest.approx(5.0)


def test_reconstruction_error_exact_fit_and_zero_matrix():
    rng = np.random.default_rng(3)
    W, H = rng.random((5, 2)), rng.random((2, 6))
    out = M.reconstruction_error(W @ H, W, H)
    assert out["absolute"] == pytest.approx(0.0, abs=1e-12)
    assert M.reconstruction_error(np.zeros((5, 6)), np.zeros((5, 2)), H) == {"absolute": 0.0, "relative": 0.0}
    assert M.reconstruction_error(np.zeros((5, 6)), W, H)["relative"] == math.inf


def test_reconstruction_error_rejects_shape_mismatch():
    X, W, H = _random_factors(0)
    with pytest.raises(ValueError, match="shape"):
        M.reconstruction_error(X, W[:-1], H)
    with pytest.raises(ValueError, match="rank"):
        M.reconstruction_error(X, W, H[:-1])


@pytest.mark.parametrize("chunk", [7, 1 << 13])
def test_masked_reconstruction_error_matches_direct(chunk, monkeypatch):
    monkeypatch.setattr(M, "_CHUNK", chunk)  # several chunks, or one
    X, W, H = _random_factors(4)
    coo = X.tocoo()
    WH = W @ H
    resid = coo.data - WH[coo.row, coo.col]
    want_abs = np.sqrt(np.sum(resid**2))
    want_rel = want_abs / np.sqrt(np.sum(coo.data**2))
    out = M.masked_reconstruction_error(coo.row, coo.col, coo.data, W, H)
    assert out["absolute"] == pytest.approx(want_abs, rel=1e-12)
    assert out["relative"] == pytest.approx(want_rel, rel=1e-12)


def test_masked_reconstruction_error_by_hand():
    W = np.array([[1.0], [2.0]])
    H = np.array([[1.0, 3.0]])
    # WH = [[1, 3], [2, 6]]; observed (0,1)=4 and (1,0)=2 -> residuals 1 and 0
    out = M.masked_reconstruction_error([0, 1], [1, 0], [4.0, 2.0], W, H)
    assert out["absolute"] == pytest.approx(1.0)
    assert out["relative"] == pytest.approx(1 / math.sqrt(20))  # sqrt(16 + 4)
    with pytest.raises(ValueError):
        M.masked_reconstruction_error([0, 2], [1, 0], [4.0, 2.0], W, H)
    with pytest.raises(ValueError):
        M.masked_reconstruction_error([0], [1, 0], [4.0, 2.0], W, H)


def test_metrics_imports_no_qt():
    code = "import sys, mfstudio.metrics; assert 'PySide6' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- SparseRows: the CSR arrays the app's evaluation passes instead of a scipy matrix ---------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def _entries(draw):
    n_rows, n_cols = draw(st.integers(1, 8)), draw(st.integers(1, 9))
    size = draw(st.integers(0, 40))
    rows = draw(st.lists(st.integers(0, n_rows - 1), min_size=size, max_size=size))
    cols = draw(st.lists(st.integers(0, n_cols - 1), min_size=size, max_size=size))
    values = draw(st.lists(st.sampled_from([0.0, 1.0, 3.0, 5.0]), min_size=size, max_size=size))
    return n_rows, n_cols, np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(values)


@settings(max_examples=80, deadline=None)
@given(data=_entries(), seed=st.integers(0, 10_000), k=st.integers(1, 4))
def test_sparse_rows_give_the_metrics_scipy_gives(data, seed, k):
    """Unsorted entries, repeats and stored zeros: the same relevant sets, slices, shelves and metrics as scipy's."""
    n_rows, n_cols, rows, cols, values = data
    rng = np.random.default_rng(seed)
    reference = sp.csr_matrix((values, (rows, cols)), shape=(n_rows, n_cols))
    reference.sum_duplicates()
    stored = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_rows, n_cols))  # any value counts
    light = M.SparseRows.from_entries(rows, cols, n_rows, n_cols, values=values)
    # Zero values drop out before repeats merge (values here are never negative, so no sum cancels).
    dense = np.zeros((n_rows, n_cols), bool)
    dense[rows[values != 0], cols[values != 0]] = True
    assert light.shape == (n_rows, n_cols)
    for row in range(n_rows):
        assert light.indices[light.indptr[row]:light.indptr[row + 1]].tolist() == np.flatnonzero(dense[row]).tolist()
    every = M.SparseRows.from_entries(rows, cols, n_rows, n_cols)
    assert np.diff(every.indptr).tolist() == np.diff((stored > 0).astype(np.int8).tocsr().indptr).tolist()
    # Metrics: the same lists against scipy's matrix and against the arrays.
    recommended = np.stack([rng.permutation(n_cols) for _ in range(n_rows)])
    recommended = np.pad(recommended, ((0, 0), (0, max(0, k - n_cols))), constant_values=-1)
    ours, theirs = M.ranking_metrics(recommended, light, k, average=False), \
        M.ranking_metrics(recommended, reference, k, average=False)
    for name in theirs:
        np.testing.assert_array_equal(ours[name], theirs[name])
    # Row slices and a shelf of columns, renumbered as scipy's column indexing does.
    start, stop = sorted(rng.integers(0, n_rows + 1, size=2).tolist())
    part = light[start:stop]
    assert part.shape == (stop - start, n_cols)
    np.testing.assert_array_equal(np.diff(part.indptr), dense[start:stop].sum(axis=1))
    shelf = rng.permutation(n_cols)[: rng.integers(1, n_cols + 1)]
    on_shelf = light.on_columns(shelf)
    expected = dense[:, shelf]
    assert on_shelf.shape == expected.shape
    for row in range(n_rows):
        assert on_shelf.indices[on_shelf.indptr[row]:on_shelf.indptr[row + 1]].tolist() == \
            np.flatnonzero(expected[row]).tolist()
    # Rows of chosen users only, in their order.
    users = np.unique(rng.integers(0, n_rows, size=3))
    chosen = M.SparseRows.for_users(rows, cols, users, n_cols, values=values)
    for position, user in enumerate(users):
        assert chosen.indices[chosen.indptr[position]:chosen.indptr[position + 1]].tolist() == \
            np.flatnonzero(dense[user]).tolist()


def test_evaluation_ranks_without_importing_scipy_sparse():
    """A first fit's evaluation (both metric families) leaves scipy.sparse unimported: 0.2-0.3 s of every
    first fit in a window or a terminal."""
    code = """
import sys
import numpy as np
from mfstudio.data.samples import load_sample
from mfstudio.data.splits import random_split
from mfstudio.experiment import evaluate
from mfstudio.models import Baseline
data = load_sample("movies", n_users=80, n_items=60)
split = random_split(data, 0.2, seed=0)
model = Baseline().fit(split.train)
scores = evaluate(model, split.train, split.test, threshold=4.0)
assert 0 <= scores["precision@10"] <= 1 and "auc" in scores and "rmse" in scores, scores
print("SPARSE", "scipy.sparse" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SPARSE False" in proc.stdout
