"""timeSVD++: SVD++ whose biases move with time (Koren, KDD 2009).

Prediction of user ``u``'s rating of item ``i`` on day ``t``::

    r_ui(t) ~ mu + b_i + b_i,Bin(t) + b_u + alpha_u dev_u(t) [+ b_u,t]
              + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)

    dev_u(t) = sign(t - tbar_u) |t - tbar_u|^beta

with days counted from the data's timestamps (``Dataset.timestamps``,
seconds; a day is 86,400 of them), ``tbar_u`` the mean day of the user's
training ratings, ``Bin(t)`` one of ``n_bins`` equal spans of the training
days and ``b_u,t`` one bias per day a user rated on (``day_bias``). The
kernel, and which parts of the paper's model it fits and why, is
:mod:`mfstudio.kernels.timesvdpp`.

When a prediction has no time
-----------------------------
Scoring a test set reads each entry's time (:meth:`TimeSVDpp.predict_entries`).
``predict(users, items)``, recommendations and the new-user mode have none:
they predict *now*, meaning the item's bias in the latest time bin (the
catalogue as it is at the end of the training data) and the user's drift
term at the user's own latest training day (their last known state:
``dev_u`` is not extrapolated past it). The day-specific bias ``b_u,t``
belongs to its day only and is left out of "now".
"""

from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..data.errors import DataError
from ..kernels import lazy

# numba loads on the first fit, not with the method list
sgd_kernels = lazy("sgd")
kernels = lazy("timesvdpp")
from .params import Param, seed_spec
from .sgd import (N_BLOCKS, SVDpp, _SEED_HIGH, _biased_settings, _biased_spec, _csr, _first_chunk,
                  _weighted_sq_norms, threads_for)
from .stopping import stop_requested, work_chunks

__all__ = ["TimeSVDpp", "SECONDS_PER_DAY", "days_of"]

SECONDS_PER_DAY = 86_400


def days_of(timestamps) -> np.ndarray:
    """Whole days since the epoch (int64) of timestamps in seconds (floor, so times before 1970 work too)."""
    return np.floor_divide(np.asarray(timestamps, dtype=np.int64), SECONDS_PER_DAY)


def drift(delta_days, beta: float) -> np.ndarray:
    """``sign(d) |d|^beta`` of day differences ``d`` (float64): the paper's ``dev_u(t)``."""
    d = np.asarray(delta_days, dtype=np.float64)
    return np.sign(d) * np.abs(d) ** beta


class TimeSVDpp(SVDpp):
    """timeSVD++: SVD++ with item biases per time bin, a user bias drift and optional day-specific user biases.

    See the module notes for the prediction, and what "now" means when a
    prediction has no time. It needs ratings with timestamps.

    Parameters
    ----------
    n_factors, n_epochs, lr, lr_bias, reg, reg_bias, lr_decay, init_std
        As :class:`~mfstudio.models.sgd.SVDpp`.
    n_bins : int, default 30
        Equal spans the training days are cut into for the item biases
        ``b_i,Bin(t)`` (the paper's 30 over Netflix's ~6 years; on
        MovieLens 100K's 7 months that is about a week per bin).
    beta : float, default 0.4
        Exponent of the drift ``dev_u(t) = sign(t - tbar_u) |t - tbar_u|^beta`` (the paper's 0.4).
    lr_time : float, default 0.005
        Step size of the time-bin item biases and of the day biases.
    reg_time : float, default 5.0
        Their weight decay, per rating like every other weight decay here.
        Strong, because on MovieLens 100K (7 months, ~1.6 ratings per item
        and bin at 30 bins) weaker decay lets the bins fit noise: 0.1 gave a
        test RMSE 0.008 above SVD++'s on the per-user time split, 5.0 the
        same as SVD++ (see Notes). Lower it where items have many ratings
        per bin.
    lr_alpha : float, default 1e-5
        Step size of each user's drift ``alpha_u``: small, because ``dev``
        reaches ~8 after 200 days and its gradient grows with it (1e-4
        was 0.003 worse on MovieLens 100K).
    reg_alpha : float, default 1.0
        Weight decay of ``alpha_u``.
    day_bias : bool, default False
        Also fit ``b_u,t``, one bias per day a user rated on (the paper's
        eq. 8): useful where a user rates on many days (Netflix); on data
        where most users rate in one sitting it duplicates ``b_u``.
    seed : int or None, default 0

    Notes
    -----
    MovieLens 100K spans 7 months and most of its users rate in one or two
    sittings, so it holds little drift to learn: on ``--split
    time-user:0.2`` (each user's latest 20% held out) the defaults give a
    test RMSE of 0.9630 against SVD++'s 0.9625 and biased SGD's 0.9602
    (means over 3 seeds, spread ~0.006; ``benchmarks/bench_accuracy.py
    --time-only``). A weight decay of 0.1 on the bins was 0.008 worse, and
    day biases 0.001 better. Where popularity does move (the planted data of
    ``tests/test_timesvdpp.py``, items rising or falling over a year) the
    time terms recover the curves and cut the RMSE of the latest months by
    a quarter where SVD++ cannot.

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray of float32
        ``b_u`` and ``b_i``.
    item_bin_bias_ : ndarray of float32, shape (n_items, n_bins)
        ``b_i,Bin``.
    user_alpha_ : ndarray of float32, shape (n_users,)
        ``alpha_u``.
    user_mean_day_, user_last_day_ : ndarray of float64, shape (n_users,)
        ``tbar_u`` and the user's latest training day (days since the epoch).
    user_day_keys_, user_day_bias_ : ndarray, shape (n_user_days,)
        With ``day_bias``: the sorted keys ``u * n_days_ + (day - first_day_)``
        (float64, exact) of the days each user rated on, and their ``b_u,t``.
    first_day_ : float
        The first training day; bins and day keys count from it.
    bin_days_ : float
        Days per bin.
    n_days_ : int
        Days from the first to the last training day, both included.
    user_factors_, item_factors_, implicit_factors_, user_implicit_
        As :class:`~mfstudio.models.sgd.SVDpp`.
    """

    name = "timesvdpp"
    title = "timeSVD++ (time-aware)"
    summary = ("SVD++ that knows when each rating was made: an item's popularity may change from month to month and "
               "a user's generosity may drift. Needs timestamps, and beats SVD++ only where tastes or popularity "
               "really move (not in MovieLens 100K's 7 months).")
    objective = ("min sum_(u,i,t observed) (r_ui - mu - b_i - b_i,Bin(t) - b_u - alpha_u dev_u(t) [- b_u,t] "
                 "- q_i . (p_u + |N(u)|^-1/2 sum_(j in N(u)) y_j))^2 + reg_bias (b_u^2 + b_i^2) "
                 "+ reg_time (b_i,Bin^2 [+ b_u,t^2]) + reg_alpha alpha_u^2 + reg (|p_u|^2 + |q_i|^2 + sum |y_j|^2)")
    params_spec = (
        *_biased_spec(20, "passes over the users", 0.02,
                      "step size of the taste vectors and of the implicit item vectors y", 0.005,
                      "weight decay of the taste vectors and of y; higher fights overfitting", 0.1),
        Param("n_bins", "int", 30, "time bins of the item biases (the paper uses 30)", low=1, high=10_000),
        Param("beta", "float", 0.4, "exponent of each user's drift |t - mean day|^beta (the paper's 0.4)",
              low=0.0, high=2.0),
        Param("lr_time", "float", 0.005, "step size of the time-bin item biases and the day biases", low=0.0),
        Param("reg_time", "float", 5.0, "weight decay of the time-bin item biases and the day biases (strong: a bin "
              "of a few ratings overfits)", low=0.0),
        Param("lr_alpha", "float", 1e-5, "step size of each user's drift; small, as the drift term grows with time",
              low=0.0),
        Param("reg_alpha", "float", 1.0, "weight decay of each user's drift", low=0.0),
        Param("day_bias", "bool", False, "also fit one bias per day a user rated on (pays where users rate on "
              "many days)"),
        seed_spec("random seed of the start and of the shuffles"),
    )
    kinds = ("explicit",)

    # ------------------------------------------------------------ fitting
    def _validate(self, train: Dataset) -> None:
        super()._validate(train)
        if train.timestamps is None:
            raise DataError(f"{self.title} needs the time of each rating, but these ratings have no timestamps",
                            path=train.source, fix="load ratings with a timestamp column, or choose svdpp")

    def _fit_steps(self, train: Dataset):
        p = self.validate_params()
        k, n_epochs, lr, lr_bias, reg, reg_bias, lr_decay, init_std = _biased_settings(self)
        lr_time, reg_time, lr_alpha, reg_alpha = p["lr_time"], p["reg_time"], p["lr_alpha"], p["reg_alpha"]
        beta, n_bins = p["beta"], p["n_bins"]
        rng = np.random.default_rng(p["seed"])

        rows, cols, values = train.rows, train.cols, train.values
        n_users, n_items = train.shape
        nnz = values.size
        days = days_of(train.timestamps)
        first, last = int(days.min()), int(days.max())
        self.first_day_ = float(first)
        self.n_days_ = last - first + 1
        self.bin_days_ = self.n_days_ / n_bins
        user_count = np.bincount(rows, minlength=n_users).astype(np.float64)
        day_sum = np.bincount(rows, weights=(days - first).astype(np.float64), minlength=n_users)
        rated = user_count > 0
        mean_day = np.full(n_users, float(first))
        mean_day[rated] = first + day_sum[rated] / user_count[rated]
        last_day = mean_day.copy()  # users without ratings: dev 0 whenever asked
        np.maximum.at(last_day, rows, days.astype(np.float64))
        self.user_mean_day_, self.user_last_day_ = mean_day, last_day
        bins = self._bins(days, n_bins)
        devs = drift(days - mean_day[rows], beta).astype(np.float32)
        if p["day_bias"]:
            keys, slots = np.unique(rows.astype(np.int64) * self.n_days_ + (days - first), return_inverse=True)
            self.user_day_keys_ = keys.astype(np.float64)
            self.user_day_bias_ = np.zeros(keys.size, dtype=np.float32)
            slots = slots.astype(np.int64).reshape(-1)
            day_bias = self.user_day_bias_
        else:
            slots = np.full(nnz, -1, dtype=np.int64)
            day_bias = np.zeros(0, dtype=np.float32)

        # CSR by user, with every per-rating array in the same (stable) order.
        order = np.argsort(rows, kind="stable")
        indptr, indices, csr_values = _csr(rows, cols, values, n_users)
        # How often each time bias enters the objective: once per rating it serves (the penalty below).
        bin_weight = np.bincount(cols.astype(np.int64) * n_bins + bins, minlength=n_items * n_bins).astype(np.float64)
        day_weight = np.bincount(slots[slots >= 0], minlength=day_bias.size).astype(np.float64)
        bins, devs, slots = (np.ascontiguousarray(a[order]) for a in (bins, devs, slots))

        user_count, item_count, user_order, y_weight = self._init_svdpp_state(train, rng, k, init_std, indptr, indices)
        self.item_bin_bias_ = np.zeros((n_items, n_bins), dtype=np.float32)
        self.user_alpha_ = np.zeros(n_users, dtype=np.float32)
        P, Q, Y = self.user_factors_, self.item_factors_, self.implicit_factors_
        bu, bi, bib, alpha = self.user_bias_, self.item_bias_, self.item_bin_bias_, self.user_alpha_
        mu = self.global_mean_

        for epoch in range(n_epochs):
            scale = (1.0 - lr_decay) ** epoch
            sgd_kernels.shuffle(user_order, int(rng.integers(_SEED_HIGH)))
            seed = int(rng.integers(_SEED_HIGH))  # per user, so chunks of users keep the unchunked shuffles
            sse = 0.0
            users_first = max(16, _first_chunk(k) * n_users // max(nnz, 1))
            for lo, hi in work_chunks(n_users, users_first):
                with threads_for(nnz * k):
                    sse += kernels.timesvdpp_epoch(
                        indptr, indices, csr_values, bins, devs, slots, user_order[lo:hi], seed,
                        mu, bu, bi, bib, alpha, day_bias, P, Q, Y,
                        lr_bias * scale, lr * scale, lr_time * scale, lr_alpha * scale,
                        reg_bias, reg, reg_time, reg_alpha, N_BLOCKS)
            if stop_requested():
                del self.user_implicit_  # rebuilt on first use (_user_implicit)
                return
            sgd_kernels.implicit_sums(indptr, indices, Y, self.user_implicit_)
            penalty = (reg_bias * (_weighted_sq_norms(user_count, bu) + _weighted_sq_norms(item_count, bi))
                       + reg_time * (_weighted_sq_norms(bin_weight, bib.reshape(-1))
                                     + (_weighted_sq_norms(day_weight, day_bias) if day_bias.size else 0.0))
                       + reg_alpha * _weighted_sq_norms(user_count, alpha)
                       + reg * (_weighted_sq_norms(user_count, P) + _weighted_sq_norms(item_count, Q)
                                + _weighted_sq_norms(y_weight, Y)))
            yield (sse + penalty) / nnz, {}

    def _fitted_state_finite(self) -> bool:
        return super()._fitted_state_finite() and all(
            np.isfinite(getattr(self, a)).all()
            for a in ("item_bin_bias_", "user_alpha_", "user_day_bias_") if hasattr(self, a))

    # ------------------------------------------------------------ time
    def _bins(self, days, n_bins: int | None = None) -> np.ndarray:
        """The item-bias time bin of each day (int32); days outside the training span go to the nearest end."""
        n_bins = self.item_bin_bias_.shape[1] if n_bins is None else n_bins
        offset = np.asarray(days, dtype=np.float64) - self.first_day_
        return np.clip(np.floor(offset / self.bin_days_), 0, n_bins - 1).astype(np.int32)

    def _beta(self) -> float:
        return float(self.params["beta"])  # validated when the fit started (or the save was loaded)

    def _user_bias(self, users: np.ndarray) -> np.ndarray:
        """``b_u + alpha_u dev_u(t)`` at each user's latest training day ("now" for the user, see the module)."""
        users = np.asarray(users, dtype=np.int64)
        dev = drift(self.user_last_day_[users] - self.user_mean_day_[users], self._beta())
        return self.user_bias_[users].astype(np.float64) + self.user_alpha_[users].astype(np.float64) * dev

    def _item_bias_all(self) -> np.ndarray:
        """``b_i + b_i,Bin`` of the latest bin for every item ("now" for the catalogue)."""
        return self.item_bias_.astype(np.float64) + self.item_bin_bias_[:, -1].astype(np.float64)

    def _time_shift(self, users: np.ndarray, items: np.ndarray, days: np.ndarray) -> np.ndarray:
        """What predicting on ``days`` adds to the "now" prediction of each pair (0 for unknown or cold ids)."""
        n_users, n_items = self.user_factors_.shape[0], self.item_factors_.shape[0]
        known_u = (users >= 0) & (users < n_users)
        known_i = (items >= 0) & (items < n_items)
        trained_users, trained_items, _ = self._trained()
        known_u[known_u] = trained_users[users[known_u]]
        known_i[known_i] = trained_items[items[known_i]]
        shift = np.zeros(users.shape, dtype=np.float64)
        if known_i.any():
            i = items[known_i]
            bins = self._bins(days[known_i])
            shift[known_i] += self.item_bin_bias_[i, bins] - self.item_bin_bias_[i, -1]
        if known_u.any():
            u = users[known_u]
            d = days[known_u].astype(np.float64)
            beta = self._beta()
            mean_day = self.user_mean_day_[u]
            dev_then = drift(d - mean_day, beta)
            dev_now = drift(self.user_last_day_[u] - mean_day, beta)
            shift[known_u] += self.user_alpha_[u] * (dev_then - dev_now)
            keys = getattr(self, "user_day_keys_", None)
            if keys is not None and keys.size:
                offset = d - self.first_day_
                key = u * float(self.n_days_) + offset
                slot = np.minimum(np.searchsorted(keys, key), keys.size - 1)
                found = (offset >= 0) & (offset < self.n_days_) & (keys[slot] == key)
                shift[np.flatnonzero(known_u)[found]] += self.user_day_bias_[slot[found]]
        return shift

    # ------------------------------------------------------------ predicting
    def predict_at(self, users, items, timestamps) -> np.ndarray:
        """Predicted ratings of internal ``(user, item)`` pairs at given times, clipped to the rating scale.

        Parameters
        ----------
        users, items : array of int
            Internal ids (-1 or ids without training entries get the
            fallback of :meth:`predict`).
        timestamps : array of int
            Seconds since the epoch, one per pair (as ``Dataset.timestamps``).
            Times outside the training span use the nearest time bin; the
            user drift follows its formula.

        Returns
        -------
        ndarray of float64
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        days = days_of(timestamps).reshape(-1)
        if not users.shape == items.shape == days.shape:
            raise ValueError("users, items and timestamps must have one entry per prediction")
        scores = np.asarray(self._predict(users, items), dtype=np.float64) + self._time_shift(users, items, days)
        scale = self.train_.rating_scale
        if scale is not None:
            scores = np.clip(scores, scale[0], scale[1])
        return scores

    def predict_entries(self, data: Dataset) -> np.ndarray:
        """Predictions of ``data``'s entries at their own times (``data.timestamps``); "now" without them."""
        if data.timestamps is None:
            return self.predict(data.rows, data.cols)
        return self.predict_at(data.rows, data.cols, data.timestamps)

    def user_level_at(self, user: int, timestamps) -> np.ndarray:
        """A user's own rating level at given times, no item: ``mu + b_u + alpha_u dev_u(t)`` (float64).

        Day-specific biases are left out: they exist only on the days the user rated.
        """
        self._check_fitted()
        days = days_of(timestamps).astype(np.float64)
        return (float(self.global_mean_) + float(self.user_bias_[user])
                + float(self.user_alpha_[user]) * drift(days - self.user_mean_day_[user], self._beta()))

    def time_span(self) -> tuple[int, int]:
        """The first and last moment of the training data's item-bias bins, in seconds since the epoch."""
        self._check_fitted()
        last_day = self.first_day_ + self.item_bin_bias_.shape[1] * self.bin_days_
        return int(self.first_day_ * SECONDS_PER_DAY), int(last_day * SECONDS_PER_DAY)

    def item_bias_curve(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """An item's bias over the training span, ``b_i + b_i,Bin`` per bin, for plots and tests.

        Returns
        -------
        days : ndarray of float64, shape (n_bins,)
            The middle day of each bin (days since the epoch).
        bias : ndarray of float64, shape (n_bins,)
        """
        self._check_fitted()
        n_bins = self.item_bin_bias_.shape[1]
        middles = self.first_day_ + (np.arange(n_bins) + 0.5) * self.bin_days_
        return middles, float(self.item_bias_[item]) + self.item_bin_bias_[item].astype(np.float64)
