"""The one-pass ranking kernel agrees with the reference implementations (AUC, top-k with seen items excluded)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mfstudio.kernels.ranking import SORT_ABOVE_POSITIVES, rank_block, rank_shared
from mfstudio.metrics import auc_per_user


def _case(seed, n_users, n_items, density_seen, density_rel, ties):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n_users, n_items)).astype(np.float32)
    if ties:
        scores = np.round(scores, 1)  # many equal scores: the ties rule matters
    seen = sp.random(n_users, n_items, density=density_seen, format="csr", random_state=seed)
    relevant = sp.random(n_users, n_items, density=density_rel, format="csr", random_state=seed + 1)
    relevant.data[:] = 1
    seen.data[:] = 1
    return scores, seen, relevant


def _run(scores, seen, relevant, k, with_auc=True, auc_negatives=0):
    return rank_block(scores, seen.indptr.astype(np.int64), seen.indices.astype(np.int64),
                      relevant.indptr.astype(np.int64), relevant.indices.astype(np.int64), k, with_auc,
                      auc_negatives, np.arange(scores.shape[0], dtype=np.uint64))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_users=st.integers(1, 12), n_items=st.integers(1, 90),
       density_seen=st.floats(0, 0.6), density_rel=st.floats(0, 0.9), ties=st.booleans(), k=st.integers(1, 12))
def test_auc_and_top_k_match_the_reference(seed, n_users, n_items, density_seen, density_rel, ties, k):
    scores, seen, relevant = _case(seed, n_users, n_items, density_seen, density_rel, ties)
    top_items, top_scores, auc = _run(scores, seen, relevant, k)
    unseen = ~seen.toarray().astype(bool)
    expected = auc_per_user(scores, relevant, unseen)
    np.testing.assert_allclose(auc, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    for u in range(n_users):
        candidates = np.flatnonzero(unseen[u])
        # Best first; on equal scores the lower item index first.
        order = candidates[np.lexsort((candidates, -scores[u, candidates]))][:k]
        got = top_items[u][top_items[u] >= 0]
        assert got.tolist() == order.tolist()
        np.testing.assert_array_equal(top_scores[u][: got.size], scores[u, got])


def test_users_with_many_relevant_items_take_the_sorting_path_and_agree():
    n_items = 400
    scores, seen, relevant = _case(3, 5, n_items, 0.1, 0.5, ties=True)
    assert (relevant.getnnz(axis=1) > SORT_ABOVE_POSITIVES).all()
    _top, _scores, auc = _run(scores, seen, relevant, 10)
    unseen = ~seen.toarray().astype(bool)
    np.testing.assert_allclose(auc, auc_per_user(scores, relevant, unseen), rtol=1e-12)


def test_a_perfect_ranking_has_auc_one_and_a_reversed_one_zero():
    scores = np.array([[4, 3, 2, 1]], dtype=np.float32)
    relevant = sp.csr_matrix(np.array([[1, 1, 0, 0]]))
    nothing = sp.csr_matrix((1, 4))
    assert _run(scores, nothing, relevant, 2)[2][0] == pytest.approx(1.0)
    assert _run(-scores, nothing, relevant, 2)[2][0] == pytest.approx(0.0)


def test_serial_and_parallel_pair_dots_agree_and_small_batches_take_the_serial_one(monkeypatch):
    from mfstudio.data import open_data
    from mfstudio.kernels import predict
    from mfstudio.models import MODELS

    rng = np.random.default_rng(0)
    P = rng.normal(size=(50, 7)).astype(np.float32)
    Q = rng.normal(size=(40, 7)).astype(np.float32)
    rows, cols = rng.integers(0, 50, 1000), rng.integers(0, 40, 1000)
    serial, parallel = np.ones(1000), np.ones(1000)
    predict.add_pair_dots_serial(P, Q, rows, cols, serial)
    predict.add_pair_dots(P, Q, rows, cols, parallel)
    np.testing.assert_allclose(serial, parallel, rtol=1e-12)
    np.testing.assert_allclose(serial, 1 + np.einsum("nk,nk->n", P[rows].astype(float), Q[cols].astype(float)),
                               rtol=1e-5)
    model = MODELS["sgd"](n_factors=4, n_epochs=1).fit(open_data("sample:movies"))
    used = []
    # The models reach the kernels through mfstudio.kernels.lazy: patching the kernel module is what they see.
    parallel_kernel, serial_kernel = predict.add_pair_dots, predict.add_pair_dots_serial
    monkeypatch.setattr(predict, "add_pair_dots", lambda *a: used.append("parallel") or parallel_kernel(*a))
    monkeypatch.setattr(predict, "add_pair_dots_serial", lambda *a: used.append("serial") or serial_kernel(*a))
    model.predict(model.train_.row_ids[:10], model.train_.col_ids[:10])
    assert used == ["serial"]
    monkeypatch.setattr(predict, "PARALLEL_PAIR_WORK", 0)
    model.predict(model.train_.row_ids[:10], model.train_.col_ids[:10])
    assert used == ["serial", "parallel"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_users=st.integers(1, 12), n_items=st.integers(1, 90),
       density_seen=st.floats(0, 0.6), density_rel=st.floats(0, 0.9), ties=st.booleans(), k=st.integers(1, 12))
def test_the_shared_scores_kernel_equals_the_block_kernel_on_repeated_rows(seed, n_users, n_items, density_seen,
                                                                         density_rel, ties, k):
    # Popularity gives every user the same scores: its kernel must rank exactly as rank_block does.
    scores, seen, relevant = _case(seed, n_users, n_items, density_seen, density_rel, ties)
    shared = scores[0].copy()
    block = np.ascontiguousarray(np.broadcast_to(shared, scores.shape))
    expected = _run(block, seen, relevant, k)
    got = rank_shared(shared, seen.indptr.astype(np.int64), seen.indices.astype(np.int64),
                      relevant.indptr.astype(np.int64), relevant.indices.astype(np.int64), k, True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_the_auc_on_drawn_negatives_is_an_unbiased_estimate_and_exact_in_small_catalogues():
    # 300 users x 4,000 items, 9 relevant each: 500 drawn negatives per user.
    scores, seen, relevant = _case(11, 300, 4_000, 0.01, 9 / 4_000, ties=False)
    relevant.data[:] = 1
    unseen = ~seen.toarray().astype(bool)
    exact = auc_per_user(scores, relevant, unseen)
    drawn = _run(scores, seen, relevant, 10, auc_negatives=500)[2]
    users = np.isfinite(exact)
    difference = drawn[users] - exact[users]
    # Per user the estimate moves (500 of ~4,000 negatives), but it is centred on the exact value:
    # the mean over 300 users sits within a few standard errors of the exact mean.
    assert np.abs(difference).max() > 1e-6
    assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(users.sum()) + 1e-9
    # The same user gets the same draws in any block (seeded by the row's seed, not its position).
    again = rank_block(scores[::-1].copy(), *_csr_args(seen[::-1]), *_csr_args(relevant[::-1]), 10, True, 500,
                       np.arange(scores.shape[0], dtype=np.uint64)[::-1].copy())[2][::-1]
    np.testing.assert_array_equal(again, drawn)
    # A catalogue no larger than the draw is scored exactly.
    np.testing.assert_allclose(_run(scores, seen, relevant, 10, auc_negatives=4_000)[2], exact, rtol=1e-12,
                               equal_nan=True)


def _csr_args(matrix):
    matrix = sp.csr_matrix(matrix)
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)
