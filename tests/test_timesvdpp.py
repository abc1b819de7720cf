"""Time in the models, on planted data whose answer is known.

timeSVD++ (mfstudio.models.timesvdpp): drifting item popularity, day-specific user moods, and what "now"
means when a prediction has no time. Time-decay weights (``half_life_days`` of sgd and als): tastes that
flipped half-way through the year."""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio import metrics
from mfstudio.data.dataset import Dataset
from mfstudio.data.errors import DataError
from mfstudio.data.splits import random_split, temporal_split
from mfstudio.experiment import Experiment, rating_errors
from mfstudio.models import MODELS, load_model
from mfstudio.models.params import ParamError
from mfstudio.models.timesvdpp import SECONDS_PER_DAY, TimeSVDpp, days_of

START = 1_500_000_000  # 2017-07-14, in seconds
SPAN_DAYS = 360
N_DRIFTING = 20  # items 0..19 rise, 20..39 fall, the rest keep their bias


def drifting(seed=0, n_users=400, n_items=60, per_user=40, k=3):
    """Ratings whose item biases move linearly over a year: rising items go from -1 to +1, falling ones back.

    ``r = 3.5 + b_u + b_i(t) + p_u . q_i + noise(0.3)`` with ``b_i(t) = base_i + slope_i (2 t / SPAN - 1)``,
    times uniform over the year. Returns the dataset, ``base`` and ``slope``.
    """
    rng = np.random.default_rng(seed)
    slope = np.zeros(n_items)
    slope[:N_DRIFTING] = 1.0
    slope[N_DRIFTING:2 * N_DRIFTING] = -1.0
    base = rng.normal(0, 0.3, n_items)
    P, Q = rng.normal(0, 0.4, (n_users, k)), rng.normal(0, 0.4, (n_items, k))
    user_bias = rng.normal(0, 0.3, n_users)
    rows = np.repeat(np.arange(n_users), per_user)
    cols = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    day = rng.uniform(0, SPAN_DAYS, rows.size)
    item_bias = base[cols] + slope[cols] * (2 * day / SPAN_DAYS - 1)
    values = (3.5 + user_bias[rows] + item_bias + np.einsum("ij,ij->i", P[rows], Q[cols])
              + rng.normal(0, 0.3, rows.size))
    data = Dataset(kind="explicit", rows=rows, cols=cols, values=values, row_ids=np.arange(n_users),
                   col_ids=np.arange(n_items), timestamps=(START + day * SECONDS_PER_DAY).astype(np.int64),
                   name="drifting items")
    return data, base, slope


@pytest.fixture(scope="module")
def drift_fit():
    data, base, slope = drifting()
    split = temporal_split(data, 0.2)  # the latest 20% of the year: a future the models have not seen
    # 10 bins of ~29 days: ~20 training ratings per item and bin (30 would leave ~7, mostly noise). With that
    # much data per bin the weight decay can be far weaker than the default's, which is set for MovieLens
    # 100K's ~1.6 ratings per item and bin (the default still beats SVD++ here, by less: 0.82 against 0.90).
    model = TimeSVDpp(n_bins=10, reg_time=1.0, seed=0).fit(split.train)
    return data, base, slope, split, model


def planted_curve(model, base, slope, item):
    days, learned = model.item_bias_curve(item)
    t = days * SECONDS_PER_DAY - START  # bin middles, back on the planted clock
    return learned, base[item] + slope[item] * (2 * t / (SPAN_DAYS * SECONDS_PER_DAY) - 1)


def test_recovers_the_planted_drift_of_item_biases(drift_fit):
    _, base, slope, _, model = drift_fit
    correlations, rises = [], []
    for item in range(2 * N_DRIFTING):
        learned, planted = planted_curve(model, base, slope, item)
        correlations.append(np.corrcoef(learned, planted)[0, 1])
        rises.append((learned[-1] - learned[0]) * slope[item])
    # Why 0.9: each bin's bias is estimated from ~20 ratings whose residual spread is ~0.5 (noise 0.3 plus
    # what the factors have not learned yet), so ~0.11 of sampling noise per bin, against a planted curve
    # whose spread over the training months is ~0.46 (a line covering 1.6): correlation ~0.97 if SGD
    # converged. The weight decay scales the curve but leaves its correlation alone.
    assert np.median(correlations) > 0.9, correlations
    assert min(correlations) > 0.75, correlations
    assert min(rises) > 0, "a drifting item's bias moved the wrong way"
    # And it does not invent drift: items with a constant bias get flatter curves than drifting ones.
    spread = [np.std(model.item_bias_curve(item)[1]) for item in range(model.item_bin_bias_.shape[0])]
    assert max(spread[2 * N_DRIFTING:]) < np.median(spread[:2 * N_DRIFTING]), spread


def test_predicts_a_later_time_holdout_where_svdpp_cannot(drift_fit):
    _, _, _, split, model = drift_fit
    ours = rating_errors(model, split.test)["rmse"]
    svdpp = rating_errors(MODELS["svdpp"](seed=0).fit(split.train), split.test)["rmse"]
    # SVD++ has one bias per item: in the holdout's months a rising item sits ~0.8 above its average over
    # the training months, and a falling one as far below (a gap of ~0.8 on two thirds of the ratings).
    assert ours < 0.85 * svdpp, (ours, svdpp)
    # Without its time terms the model is SVD++: the gain comes from them, not from the fit.
    assert rating_errors(TimeSVDpp(n_bins=10, reg_time=1.0, seed=0, lr_time=0.0, lr_alpha=0.0).fit(split.train),
                         split.test)["rmse"] > 0.95 * svdpp


def test_scoring_reads_each_entrys_time(drift_fit):
    data, _, _, split, model = drift_fit
    test = split.test
    at_times = model.predict_at(test.rows, test.cols, test.timestamps)
    np.testing.assert_array_equal(model.predict_entries(test), at_times)
    assert not np.allclose(at_times, model.predict(test.rows, test.cols))
    assert rating_errors(model, test)["rmse"] == pytest.approx(metrics.rmse(test.values, at_times))
    # The experiment layer scores the same way (a global time split of the same data).
    experiment = Experiment(data, "timesvdpp", {"n_bins": 10, "reg_time": 1.0, "seed": 0}, protocol="time:0.2",
                            ranking=False).run()
    fitted = experiment.model
    held = experiment.splits[0].test
    assert experiment.metrics["rmse"] == pytest.approx(
        metrics.rmse(held.values, fitted.predict_at(held.rows, held.cols, held.timestamps)), rel=1e-9)


def test_now_is_the_latest_bin_and_each_users_latest_day(drift_fit):
    _, _, _, split, model = drift_fit
    train = split.train
    last_bin = model._bins(days_of(train.timestamps)) == model.item_bin_bias_.shape[1] - 1
    users = np.unique(train.rows[last_bin])[:50]  # users whose latest day lies in the latest bin
    last_day = np.array([days_of(train.timestamps[train.rows == u]).max() for u in users])
    items = np.arange(users.size) % train.n_cols
    np.testing.assert_allclose(model.predict(users, items),
                               model.predict_at(users, items, last_day * SECONDS_PER_DAY + 3600), rtol=1e-6)
    # Recommendations rank by the same "now" scores.
    scores = model.score_matrix(users[:3])
    np.testing.assert_allclose(scores[np.arange(3), items[:3]], model.predict(users[:3], items[:3]), rtol=1e-5)


def day_moods(seed=1, n_users=300, n_items=80, days_per_user=4, per_day=12):
    """Each user rates on a few days, each day in a mood: ``+-0.8`` on every rating of that day."""
    rng = np.random.default_rng(seed)
    rows, cols, times, mood = [], [], [], []
    for u in range(n_users):
        days = rng.choice(200, days_per_user, replace=False)
        for d in days:
            rows.append(np.full(per_day, u))
            cols.append(rng.choice(n_items, per_day, replace=False))
            times.append(START + d * SECONDS_PER_DAY + rng.integers(0, 3600, per_day))
            mood.append(np.full(per_day, rng.choice([-0.8, 0.8])))
    rows, cols, times, mood = (np.concatenate(a) for a in (rows, cols, times, mood))
    item_bias = rng.normal(0, 0.4, n_items)
    values = 3.5 + item_bias[cols] + mood + rng.normal(0, 0.2, rows.size)
    return Dataset(kind="explicit", rows=rows, cols=cols, values=values, row_ids=np.arange(n_users),
                   col_ids=np.arange(n_items), timestamps=times, name="day moods")


def test_day_biases_capture_a_users_mood_of_the_day():
    split = random_split(day_moods(), 0.2, seed=0)  # test ratings fall on days the user also rated in training
    plain = TimeSVDpp(n_bins=4, seed=0).fit(split.train)
    daily = TimeSVDpp(n_bins=4, seed=0, day_bias=True, reg_time=0.1, lr_time=0.02).fit(split.train)
    with_days, without = rating_errors(daily, split.test)["rmse"], rating_errors(plain, split.test)["rmse"]
    # The mood is +-0.8 on every rating of a day; a per-user bias cannot follow it, a per-day one can.
    assert with_days < 0.7 * without, (with_days, without)


def test_refuses_ratings_without_timestamps_in_one_sentence():
    data, _, _ = drifting(n_users=30, per_user=10)
    untimed = Dataset(kind="explicit", rows=data.rows, cols=data.cols, values=data.values,
                      row_ids=data.row_ids, col_ids=data.col_ids)
    with pytest.raises(DataError, match="timestamp") as refused:
        TimeSVDpp(n_epochs=1).fit(untimed)
    assert "\n" not in str(refused.value) and "svdpp" in str(refused.value)


def test_a_saved_model_predicts_at_times_as_before(drift_fit, tmp_path):
    _, _, _, split, _ = drift_fit
    model = TimeSVDpp(n_bins=10, n_epochs=3, day_bias=True, seed=0).fit(split.train)
    loaded = load_model(model.save(tmp_path / "model"))
    test = split.test
    np.testing.assert_allclose(loaded.predict_entries(test), model.predict_entries(test), rtol=1e-6)
    # The saved training data carries no times: the day biases must come back from the model's own arrays.
    first = split.train
    np.testing.assert_allclose(loaded.predict_entries(first), model.predict_entries(first), rtol=1e-6)
    assert not np.allclose(model.predict_entries(first),
                           TimeSVDpp(n_bins=10, n_epochs=3, seed=0).fit(split.train).predict_entries(first))


# ------------------------------------------------------------ time-decay weights (sgd, als)

def flipped_tastes(seed=2, n_users=300, n_items=80, per_user=40):
    """Two kinds of film; half the users switch from the first kind to the second half-way through the year.

    A "changer" rates kind A 4.5 and kind B 1.5 before day 180, the reverse after; the other users keep
    preferring A. Returns the dataset, the changers and each item's kind (0 = A, 1 = B).
    """
    rng = np.random.default_rng(seed)
    kind = np.arange(n_items) % 2
    changer = np.arange(n_users) % 2 == 0
    rows = np.repeat(np.arange(n_users), per_user)
    cols = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    day = rng.uniform(0, SPAN_DAYS, rows.size)
    likes_b = changer[rows] & (day >= SPAN_DAYS / 2)
    values = np.where((kind[cols] == 1) == likes_b, 4.5, 1.5) + rng.normal(0, 0.3, rows.size)
    data = Dataset(kind="explicit", rows=rows, cols=cols, values=np.clip(values, 1, 5), row_ids=np.arange(n_users),
                   col_ids=np.arange(n_items), timestamps=(START + day * SECONDS_PER_DAY).astype(np.int64),
                   rating_scale=(1, 5), name="flipped tastes")
    return data, np.flatnonzero(changer), kind


@pytest.mark.parametrize("name", ["sgd", "als"])
def test_a_half_life_follows_the_recent_ratings_of_users_whose_taste_changed(name):
    data, changers, kind = flipped_tastes()
    split = temporal_split(data, 0.2, per_user=True)  # each user's latest ratings: after the flip
    # SGD's steps shrink with the weights (1/8 on average here), so it gets more epochs than its default 20.
    epochs = {"n_epochs": 60} if name == "sgd" else {}
    plain = MODELS[name](seed=0, **epochs).fit(split.train)
    decayed = MODELS[name](seed=0, half_life_days=30.0, **epochs).fit(split.train)

    def b_over_a(model):  # how much more a changer is predicted to like kind B than kind A, now
        scores = model.score_matrix(changers)
        return scores[:, kind == 1].mean(axis=1) - scores[:, kind == 0].mean(axis=1)

    # A changer's training year is half A-lover, half B-lover: without decay the two about cancel out (the
    # A-loving stable users pull them to A). Ratings 30 days old weigh half, 180 days old 1/64: the model
    # follows the second half, where B is liked by 3 stars (measured: -0.9 and -0.7 without, 2.0 with).
    assert np.median(b_over_a(plain)) < 0.0
    assert np.median(b_over_a(decayed)) > 1.5, np.median(b_over_a(decayed))
    # Scored at the holdout (after the flip), the decayed model is the better one for the changers.
    held = split.test.subset(np.isin(split.test.rows, changers))
    assert rating_errors(decayed, held)["rmse"] < 0.6 * rating_errors(plain, held)["rmse"]


@pytest.mark.parametrize("name", ["sgd", "als"])
def test_a_half_life_on_ratings_without_timestamps_is_refused_in_one_sentence(name):
    data, _, _ = flipped_tastes(n_users=20, per_user=10)
    untimed = Dataset(kind="explicit", rows=data.rows, cols=data.cols, values=data.values,
                      row_ids=data.row_ids, col_ids=data.col_ids)
    MODELS[name](n_epochs=1).fit(untimed)  # without a half-life, times are not needed
    with pytest.raises(ParamError, match="timestamp") as refused:
        MODELS[name](n_epochs=1, half_life_days=30.0).fit(untimed)
    assert refused.value.param == "half_life_days" and "\n" not in str(refused.value)


def test_a_half_life_needs_one_rating_at_a_time_and_the_local_engine():
    with pytest.raises(ParamError, match="optimizer"):
        MODELS["sgd"](optimizer="adam", half_life_days=30.0).validate_params()
    with pytest.raises(ParamError, match="Spark"):
        MODELS["als"](engine="spark", half_life_days=30.0).validate_params()


def test_weights_shuffle_with_the_ratings_they_belong_to():
    """The model shuffles its weights by the seed of the triples' shuffle: the same permutation, always."""
    from mfstudio.kernels import sgd as K

    n = 1000
    rows, cols = np.arange(n, dtype=np.int32), np.arange(n, dtype=np.int32)[::-1].copy()
    values = np.arange(n, dtype=np.float32)
    weights = np.arange(n, dtype=np.float32)
    K.shuffle_ratings(rows, cols, values, 12345)
    K.shuffle(weights, 12345)
    np.testing.assert_array_equal(weights, values)
    assert not np.array_equal(weights, np.arange(n, dtype=np.float32))
