"""Train/test splits: partitions, sizes, seeds, per-user and temporal rules, cold counts, specs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfstudio.data import DataError, Dataset
from mfstudio.data.splits import (
    Split,
    kfold,
    random_split,
    split_from_spec,
    temporal_split,
    user_split,
)


def make_ds(rows, cols, timestamps=None, values=None, n_rows=None, n_cols=None, **kw) -> Dataset:
    rows = np.asarray(rows)
    cols = np.asarray(cols)
    n_rows = n_rows if n_rows is not None else int(rows.max()) + 1
    n_cols = n_cols if n_cols is not None else int(cols.max()) + 1
    if values is None:
        values = (np.arange(rows.size) % 5) + 1
    return Dataset(
        kind="explicit",
        rows=rows,
        cols=cols,
        values=values,
        row_ids=np.arange(n_rows) + 100,
        col_ids=np.array([f"item{j}" for j in range(n_cols)]),
        timestamps=timestamps,
        rating_scale=(1, 5),
        name="toy",
        **kw,
    )


def random_ds(seed=0, n_users=80, n_items=60, n=3000, with_time=True) -> Dataset:
    rng = np.random.default_rng(seed)
    # skewed activity: some users with a handful of ratings, some with many
    rows = np.minimum(rng.geometric(1 / 25, n) - 1, n_users - 1)
    rows = rng.permutation(rows)
    cols = rng.integers(0, n_items, n)
    ts = rng.integers(0, 50, n) * 1000 + 10**9 if with_time else None  # many ties
    return make_ds(rows, cols, timestamps=ts, values=rng.integers(1, 6, n), n_rows=n_users, n_cols=n_items)


def assert_partition(split: Split, ds: Dataset):
    tr, te = split.train_index, split.test_index
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(ds.nnz))
    assert split.n_train == tr.size == split.train.nnz
    assert split.n_test == te.size == split.test.nnz
    # entries are the dataset's own, in file order, with every id map kept
    for part, idx in ((split.train, tr), (split.test, te)):
        assert np.all(np.diff(idx) > 0)
        np.testing.assert_array_equal(part.rows, ds.rows[idx])
        np.testing.assert_array_equal(part.cols, ds.cols[idx])
        np.testing.assert_array_equal(part.values, ds.values[idx])
        if ds.timestamps is not None:
            np.testing.assert_array_equal(part.timestamps, ds.timestamps[idx])
        assert part.shape == ds.shape
        np.testing.assert_array_equal(part.row_ids, ds.row_ids)
        np.testing.assert_array_equal(part.col_ids, ds.col_ids)
        assert part.rating_scale == ds.rating_scale


def cold_reference(split: Split):
    """Cold counts by plain set arithmetic."""
    tr, te = split.train, split.test
    tr_users, tr_items = set(tr.rows.tolist()), set(tr.cols.tolist())
    users = {u for u in te.rows.tolist() if u not in tr_users}
    items = {i for i in te.cols.tolist() if i not in tr_items}
    entries = sum(1 for u, i in zip(te.rows.tolist(), te.cols.tolist()) if u not in tr_users or i not in tr_items)
    return len(users), len(items), entries


# ------------------------------------------------------------------------ random
def test_random_split_partition_size_and_seed():
    ds = random_ds()
    s = random_split(ds, 0.2, seed=0)
    assert_partition(s, ds)
    assert s.n_test == 600  # 0.2 * 3000 exactly
    assert s.description == "random 80/20, seed 0"
    again = random_split(ds, 0.2, seed=0)
    np.testing.assert_array_equal(s.test_index, again.test_index)
    other = random_split(ds, 0.2, seed=1)
    assert not np.array_equal(s.test_index, other.test_index)
    assert (s.cold_users, s.cold_items, s.cold_entries) == cold_reference(s)


def test_random_split_rounds_half_up():
    ds = make_ds(np.arange(10) % 3, np.arange(10))
    # 0.25 * 10 = 2.5 -> 3; 0.35 * 10 = 3.5 -> 4; 0.05 * 10 = 0.5 -> 1; 0.3 * 10 -> 3
    assert random_split(ds, 0.25).n_test == 3
    assert random_split(ds, 0.35).n_test == 4
    assert random_split(ds, 0.05).n_test == 1
    assert random_split(ds, 0.3).n_test == 3
    with pytest.raises(DataError, match="empty"):
        random_split(ds, 0.04)  # 0.4 -> 0


def test_random_split_sizes_for_many_fractions():
    ds = random_ds(n=1001)
    for f in (0.05, 0.1, 0.2, 0.33, 0.5, 0.9):
        s = random_split(ds, f, seed=3)
        assert s.n_test == int(np.floor(f * 1001 + 0.5))
        assert_partition(s, ds)


def test_random_split_empty_part_is_an_error():
    ds = make_ds([0, 1], [0, 1])
    with pytest.raises(DataError, match="test set empty") as err:
        random_split(ds, 0.1)  # 0.2 entries -> 0 in test
    assert "too small" in str(err.value)
    with pytest.raises(DataError, match="training set empty"):
        random_split(make_ds([0], [0]), 0.6)  # 0.6 -> 1 of 1 in test


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, "abc", None, True])
def test_fraction_is_validated(bad):
    ds = random_ds()
    with pytest.raises(DataError, match="fraction"):
        random_split(ds, bad)
    with pytest.raises(DataError, match="fraction"):
        user_split(ds, bad)


# ---------------------------------------------------------------------- per user
def test_user_split_counts_per_user_exact():
    # user u has counts[u] ratings
    counts = np.array([1, 3, 4, 5, 6, 10, 20, 2, 8])
    rows = np.repeat(np.arange(counts.size), counts)
    rng = np.random.default_rng(0)
    order = rng.permutation(rows.size)  # users interleaved in the file
    ds = make_ds(rows[order], rng.integers(0, 30, rows.size), n_cols=30)
    s = user_split(ds, 0.2, min_ratings=5, seed=0)
    assert_partition(s, ds)
    test_per_user = np.bincount(s.test.rows, minlength=counts.size)
    train_per_user = np.bincount(s.train.rows, minlength=counts.size)
    # below min_ratings (1, 3, 4, 2): nothing; 5 -> 1, 6 -> round(1.2)=1,
    # 10 -> 2, 20 -> 4, 8 -> round(1.6)=2
    np.testing.assert_array_equal(test_per_user, [0, 0, 0, 1, 1, 2, 4, 0, 2])
    np.testing.assert_array_equal(train_per_user, counts - test_per_user)
    assert s.cold_users == 0


def test_user_split_keeps_one_train_entry_and_honours_min_ratings():
    ds = random_ds(seed=2)
    counts = ds.row_counts()
    for f in (0.2, 0.5, 0.9):
        s = user_split(ds, f, min_ratings=4, seed=5)
        assert_partition(s, ds)
        test_u = np.bincount(s.test.rows, minlength=ds.n_rows)
        train_u = np.bincount(s.train.rows, minlength=ds.n_rows)
        assert np.all(test_u[counts < 4] == 0)
        q = counts >= 4
        assert np.all(train_u[q] >= 1)
        expected = np.minimum(np.floor(f * counts + 0.5), counts - 1)
        np.testing.assert_array_equal(test_u[q], expected[q])
        assert s.cold_users == 0  # per-user holdout never makes a cold user
        assert (s.cold_users, s.cold_items, s.cold_entries) == cold_reference(s)


def test_user_split_seeds_and_randomness():
    ds = random_ds(seed=4)
    a = user_split(ds, 0.3, seed=0)
    b = user_split(ds, 0.3, seed=0)
    c = user_split(ds, 0.3, seed=1)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    assert not np.array_equal(a.test_index, c.test_index)
    assert a.n_test == c.n_test  # per-user counts do not depend on the seed
    # not simply the first or last entries of each user in the file
    d = temporal_split(make_ds(ds.rows, ds.cols, timestamps=np.arange(ds.nnz), n_rows=ds.n_rows), 0.3, per_user=True)
    assert not np.array_equal(a.test_index, d.test_index)


def test_user_split_with_no_qualifying_user():
    ds = make_ds([0, 0, 1, 1, 2], [0, 1, 0, 1, 2])
    with pytest.raises(DataError, match="min_ratings"):
        user_split(ds, 0.2, min_ratings=5)
    with pytest.raises(DataError, match="min_ratings"):
        user_split(ds, 0.2, min_ratings=0)


# ---------------------------------------------------------------------- temporal
def test_temporal_global_and_cold_counts_by_hand():
    # (user, item, time); the three latest (times 8, 9, 10) go to test with fraction 0.3
    data = [
        (0, 0, 1), (0, 1, 2), (1, 0, 3), (1, 1, 4), (0, 2, 5),
        (1, 2, 6), (2, 0, 7), (0, 3, 8), (3, 4, 9), (2, 1, 10),
    ]
    rows, cols, ts = (np.array(c) for c in zip(*data))
    ds = make_ds(rows, cols, timestamps=ts)
    s = temporal_split(ds, 0.3)
    assert_partition(s, ds)
    np.testing.assert_array_equal(s.test_index, [7, 8, 9])
    # train users {0,1,2}, items {0,1,2}. Test: (0,3) item 3 cold; (3,4) user 3 and item 4 cold;
    # (2,1) warm. -> 1 cold user, 2 cold items, 2 cold test entries.
    assert (s.cold_users, s.cold_items, s.cold_entries) == (1, 2, 2)
    assert s.report() == "7 train / 3 test ratings; 1 test user and 2 test items have no training data (2 test ratings)"
    d = s.as_dict()
    assert d["cold_users"] == 1 and d["cold_items"] == 2 and d["cold_entries"] == 2
    assert d["n_train"] == 7 and d["n_test"] == 3 and d["report"] == s.report()
    json.dumps(d)


def test_report_wording():
    ds = make_ds([0, 0, 1, 1, 2], [0, 1, 0, 1, 1], timestamps=[1, 2, 3, 4, 5])
    s = temporal_split(ds, 0.2)  # test = (2, 1): user 2 only in test
    assert s.report() == "4 train / 1 test ratings; 1 test user has no training data (1 test rating)"
    ds = make_ds([0, 0, 1, 1, 1], [0, 1, 0, 1, 1], timestamps=[1, 2, 3, 4, 5])
    s = temporal_split(ds, 0.2)
    assert s.report() == "4 train / 1 test ratings; every test user and item has training data"
    assert "80/20" in str(s)


def test_temporal_ties_follow_file_order():
    ds = make_ds([0, 1, 2, 0, 1], [0, 1, 2, 1, 0], timestamps=[5, 5, 5, 5, 5])
    s = temporal_split(ds, 0.4)
    np.testing.assert_array_equal(s.test_index, [3, 4])  # the last lines are the latest
    ds = make_ds([0, 1, 2, 0, 1, 2], [0, 1, 2, 1, 0, 0], timestamps=[9, 5, 7, 7, 1, 7])
    # latest 3: time 9 (line 0), then among the three 7s the two latest lines (3, 5)
    np.testing.assert_array_equal(temporal_split(ds, 0.5).test_index, [0, 3, 5])


def test_temporal_global_every_test_after_every_train():
    ds = random_ds(seed=6)
    s = temporal_split(ds, 0.25)
    assert_partition(s, ds)
    assert s.n_test == 750
    assert s.test.timestamps.min() >= s.train.timestamps.max()
    assert "temporal" in s.description


def test_temporal_per_user():
    ds = random_ds(seed=7)
    counts = ds.row_counts()
    s = temporal_split(ds, 0.3, per_user=True, min_ratings=5)
    assert_partition(s, ds)
    test_u = np.bincount(s.test.rows, minlength=ds.n_rows)
    expected = np.where(counts >= 5, np.minimum(np.floor(0.3 * counts + 0.5), counts - 1), 0)
    np.testing.assert_array_equal(test_u, expected)
    # within each user, every test entry is later than every train entry: by
    # (timestamp, line), so ties are broken by file order
    for u in np.flatnonzero(test_u):
        tr = s.train_index[ds.rows[s.train_index] == u]
        te = s.test_index[ds.rows[s.test_index] == u]
        assert len(tr) >= 1
        last_train = max(zip(ds.timestamps[tr].tolist(), tr.tolist()))
        first_test = min(zip(ds.timestamps[te].tolist(), te.tolist()))
        assert first_test > last_train
    assert s.cold_users == 0


def test_temporal_per_user_huge_timestamp_span_uses_general_path():
    ts = np.array([0, 2**40, 5, 2**35, 7, 3, 2**34, 1, 2, 9])
    ds = make_ds([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], np.arange(10), timestamps=ts)
    s = temporal_split(ds, 0.4, per_user=True)
    # user 0: times 0, 2^40, 5, 2^35, 7 -> latest two are lines 1 and 3
    # user 1: times 3, 2^34, 1, 2, 9  -> latest two are lines 6 and 9
    np.testing.assert_array_equal(s.test_index, [1, 3, 6, 9])


def test_temporal_without_timestamps_is_a_data_error():
    ds = random_ds(with_time=False)
    with pytest.raises(DataError, match="no timestamp column") as err:
        temporal_split(ds, 0.2)
    assert "random" in str(err.value) and "user" in str(err.value)
    ds.source = "/data/ratings.csv"
    with pytest.raises(DataError, match="ratings.csv: the file has no timestamp column"):
        split_from_spec(ds, "time-user:0.2")


# -------------------------------------------------------------------------- kfold
def test_kfold_disjoint_and_covering():
    ds = random_ds(n=1003)
    folds = kfold(ds, 5, seed=0)
    assert len(folds) == 5
    tests = [f.test_index for f in folds]
    np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.arange(ds.nnz))
    assert sorted(t.size for t in tests) == [200, 200, 201, 201, 201]
    for f in folds:
        assert_partition(f, ds)
        assert (f.cold_users, f.cold_items, f.cold_entries) == cold_reference(f)
    assert folds[1].description == "5-fold, fold 2 of 5, seed 0"
    again = kfold(ds, 5, seed=0)
    other = kfold(ds, 5, seed=1)
    assert all(np.array_equal(a.test_index, b.test_index) for a, b in zip(folds, again))
    assert not np.array_equal(folds[0].test_index, other[0].test_index)


def test_kfold_validation():
    ds = make_ds([0, 1, 2], [0, 1, 2])
    with pytest.raises(DataError, match="at least 2"):
        kfold(ds, 1)
    with pytest.raises(DataError, match="needs at least 4"):
        kfold(ds, 4)
    with pytest.raises(DataError, match="whole number"):
        kfold(ds, 2.5)
    assert len(kfold(ds, 3)) == 3


# --------------------------------------------------------------------------- spec
def test_split_from_spec_valid_forms():
    ds = random_ds(seed=8)
    (r,) = split_from_spec(ds, "random:0.2", seed=3)
    np.testing.assert_array_equal(r.test_index, random_split(ds, 0.2, seed=3).test_index)
    (u,) = split_from_spec(ds, "user:0.25", seed=3)
    np.testing.assert_array_equal(u.test_index, user_split(ds, 0.25, seed=3).test_index)
    (t,) = split_from_spec(ds, "time:0.2")
    np.testing.assert_array_equal(t.test_index, temporal_split(ds, 0.2).test_index)
    (tu,) = split_from_spec(ds, "time-user:0.2")
    np.testing.assert_array_equal(tu.test_index, temporal_split(ds, 0.2, per_user=True).test_index)
    folds = split_from_spec(ds, "kfold:4", seed=2)
    assert len(folds) == 4
    np.testing.assert_array_equal(folds[2].test_index, kfold(ds, 4, seed=2)[2].test_index)
    (pct,) = split_from_spec(ds, " Random : 20% ", seed=3)
    np.testing.assert_array_equal(pct.test_index, r.test_index)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("shuffle:0.2", "unknown split kind"),
        ("random", "no value"),
        ("random:", "no value"),
        ("random:0", "between 0 and 1"),
        ("random:1", "between 0 and 1"),
        ("user:1.5", "between 0 and 1"),
        ("time:-0.1", "between 0 and 1"),
        ("random:abc", "not a number"),
        ("kfold:1", "at least 2"),
        ("kfold:0", "at least 2"),
        ("kfold:2.5", "not a whole number"),
        ("kfold:five", "not a whole number"),
        ("", "unknown split kind"),
    ],
)
def test_split_from_spec_invalid_forms(spec, fragment):
    ds = random_ds()
    with pytest.raises(DataError, match=fragment) as err:
        split_from_spec(ds, spec)
    message = str(err.value)
    assert "'random:0.2'" in message and "'kfold:5'" in message


def test_split_from_spec_too_small_dataset():
    ds = make_ds([0, 1, 2], [0, 1, 2], timestamps=[1, 2, 3])
    with pytest.raises(DataError, match="empty"):
        split_from_spec(ds, "random:0.1")
    with pytest.raises(DataError, match="empty"):
        split_from_spec(ds, "time:0.1")


def test_large_split_is_fast_enough():
    # 2M ratings: vectorised code takes well under a second per split; a
    # Python loop over ratings would take far longer.
    import time

    rng = np.random.default_rng(0)
    n, n_users = 2_000_000, 20_000
    ds = make_ds(
        rng.integers(0, n_users, n), rng.integers(0, 5_000, n),
        timestamps=rng.integers(0, 10**9, n), values=np.ones(n), n_rows=n_users, n_cols=5_000,
    )
    t0 = time.perf_counter()
    s = user_split(ds, 0.2, seed=0)
    t = temporal_split(ds, 0.2, per_user=True)
    elapsed = time.perf_counter() - t0
    assert s.n_test > 0.19 * n and t.n_test == s.n_test
    assert elapsed < 10
