"""Factorizations fitted by gradient descent: the tutorial's GD, biased SGD (Funk/Koren), SVD++.

- :class:`GradientDescentMF` (``gd``): ``r_ij ~ p_i . q_j`` fitted with the
  update of the classic quuxlabs tutorial, per entry or full batch. For
  teaching: it reproduces the tutorial's 5x4 toy.
- :class:`BiasedSGD` (``sgd``): ``r_ui ~ mu + b_u + b_i + p_u . q_i``, the
  Netflix-Prize workhorse, by shuffled SGD (Hogwild-parallel) or by
  mini-batch Adam / Adagrad.
- :class:`SVDpp` (``svdpp``): Koren's SVD++, which adds what a user chose to
  rate (implicit feedback) to their taste vector.

The numerics live in :mod:`mfstudio.kernels.sgd` (one kernel call = one
epoch); these classes validate parameters, initialise from a seeded
``numpy.random.Generator``, run the epochs and report the loss.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..data.dataset import Dataset
from ..kernels import lazy

kernels = lazy("sgd")  # numba loads on the first fit, not with the method list
from .base import FactorModel, half_life_spec, time_decay_weights
from .stopping import stop_requested, work_chunks
from .params import Param, ParamError, factors_spec, seed_spec

__all__ = ["GradientDescentMF", "BiasedSGD", "SVDpp", "use_hogwild", "threads_for"]

#: Hogwild chunks per epoch. Fixed (not the thread count) so that the work
#: split, and hence a single-threaded run, does not depend on the machine.
N_BLOCKS = 64

_SEED_HIGH = 2**63 - 1

#: Ratings x factors in the first kernel call of an epoch (about 50 ms of
#: SGD); later calls adapt to the time taken (mfstudio.models.stopping).
#: MovieLens 100K at the default sizes is one call, as without chunks.
_FIRST_CHUNK_WORK = 2**24


def use_hogwild(work: int) -> bool:
    """Whether an SGD epoch of ``work`` ratings x factors runs Hogwild on several threads.

    Only when numba has more than one thread and the epoch is at least
    :data:`mfstudio.kernels.sgd.HOGWILD_MIN_WORK`: below that a parallel
    region costs more than it saves (measured by ``benchmarks/bench_sgd.py
    --hogwild-scan``), so ``--threads`` never makes a small fit slower than
    one thread. Both kernels give the same result on one thread.
    """
    from numba import get_num_threads

    return work >= kernels.HOGWILD_MIN_WORK and get_num_threads() > 1


@contextmanager
def threads_for(work: int):
    """Within this block numba's parallel kernels use all threads if :func:`use_hogwild` says so, else one.

    For the Hogwild kernels that have no serial twin (SVD++, BPR): a
    parallel region run on one thread costs a few microseconds, whereas on
    busy cores a second thread makes small epochs several times slower
    (measured: SVD++ k=20 on MovieLens 100K, 0.63 s with 2 threads against
    0.22 s with 1). ``numba.set_num_threads`` acts on the calling thread
    only, so other fits are unaffected.
    """
    import numba

    if use_hogwild(work):
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _first_chunk(k: int, minimum: int = 1024) -> int:
    return max(minimum, _FIRST_CHUNK_WORK // max(k, 1))


def _biased_spec(n_factors: int, n_epochs_help: str, lr: float, lr_help: str, lr_bias: float, reg_help: str,
                 init_std: float) -> tuple[Param, ...]:
    """The parameters biased SGD and SVD++ share (defaults and wording differ)."""
    return (
        factors_spec(n_factors, "length of each taste vector"),
        Param("n_epochs", "int", 20, n_epochs_help, low=1, high=100_000),
        Param("lr", "float", lr, lr_help, low=0.0, low_open=True),
        Param("lr_bias", "float", lr_bias, "step size of the user and item biases", low=0.0),
        Param("reg", "float", 0.1, reg_help, low=0.0),
        Param("reg_bias", "float", 0.02, "weight decay of the biases", low=0.0),
        Param("lr_decay", "float", 0.0, "after each epoch the step sizes shrink by this fraction (0 = constant)",
              low=0.0, high=1.0, high_open=True),
        Param("init_std", "float", init_std, "spread of the random starting vectors", low=0.0),
    )


def _biased_settings(model) -> tuple:
    """The parameters biased SGD and SVD++ share, validated, in a fixed order."""
    p = model.validate_params()
    return tuple(p[name] for name in ("n_factors", "n_epochs", "lr", "lr_bias", "reg", "reg_bias", "lr_decay", "init_std"))


def _init_biased_model(model, train: Dataset, rng: np.random.Generator, k: int, init_std: float):
    """Global mean, zero biases and small random factors (zero for users/items without ratings).

    Returns the ratings per user and per item (float64), which the loss weights by.
    """
    n_users, n_items = train.shape
    user_count = np.bincount(train.rows, minlength=n_users).astype(np.float64)
    item_count = np.bincount(train.cols, minlength=n_items).astype(np.float64)
    model.global_mean_ = float(train.values.mean(dtype=np.float64))
    model.user_bias_ = np.zeros(n_users, dtype=np.float32)
    model.item_bias_ = np.zeros(n_items, dtype=np.float32)
    model.user_factors_ = _normal(rng, init_std, (n_users, k))
    model.item_factors_ = _normal(rng, init_std, (n_items, k))
    model.user_factors_[user_count == 0] = 0.0
    model.item_factors_[item_count == 0] = 0.0
    return user_count, item_count


def _csr(rows, cols, values, n_rows):
    """CSR arrays (indptr int64, indices int32, values float32) of COO triples, rows stable-sorted."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, np.ascontiguousarray(cols[order]), np.ascontiguousarray(values[order])


def _weighted_sq_norms(counts: np.ndarray, X: np.ndarray) -> float:
    """``sum_r counts[r] * |X[r]|^2`` in float64 (the penalty of rows that appear counts[r] times)."""
    # Biases pass as one-column matrices: one compiled signature for both shapes.
    return float(kernels.weighted_sq_norm(counts, X.reshape(X.shape[0], -1)))


def _normal(rng: np.random.Generator, std: float, shape) -> np.ndarray:
    """float32 normal(0, std) draws (float32 sampling: no float64 temporary)."""
    out = rng.standard_normal(shape, dtype=np.float32)
    out *= np.float32(std)
    return out


# ============================================================ tutorial GD
class GradientDescentMF(FactorModel):
    """Plain matrix factorization ``r_ij ~ p_i . q_j`` by the classic tutorial's gradient descent.

    The model of Albert Au Yeung's tutorial (quuxlabs.com, 2010): no global
    mean and no biases, so the factors must carry everything. For each
    observed rating, with ``e = r_ij - p_i . q_j``::

        p_ik += lr * (2 e q_kj - reg p_ik)
        q_kj += lr * (2 e p_ik - reg q_kj)

    ``method="entry"`` applies that rating by rating (in the tutorial's
    row-by-row order, or shuffled each epoch); ``method="full"`` computes
    every gradient from the same factors and moves all rows at once
    (full-batch gradient descent, each row along its average gradient, see
    :func:`mfstudio.kernels.sgd.gd_full_epoch`; it wants a larger ``lr``,
    about 0.1).

    Parameters
    ----------
    n_factors : int, default 30
        Length of each user and item vector (the tutorial's ``K``, 2 there).
    n_epochs : int, default 100
        Passes over the ratings (the tutorial's ``steps``, 5000 there).
    lr : float, default 0.005
        Step size (the tutorial's ``alpha``, 0.0002 there).
    reg : float, default 0.2
        Weight decay per update (the tutorial's ``beta``, 0.02 there). The
        tutorial's value fits its 13 known cells exactly but overfits real
        data; 0.2 is best on MovieLens 100K and still fits the toy within
        about 0.3 stars.
    method : {"entry", "full"}, default "entry"
        Per-entry updates or full-batch gradient descent.
    shuffle : bool, default True
        For ``method="entry"``: visit the ratings in a fresh random order
        each epoch; False keeps the tutorial's row-by-row order.
    init_scale : float, default 1.0
        Factors start uniform in ``[0, init_scale * 2 sqrt(mean / n_factors))``
        (the tutorial's ``rand``, scaled) so the first predictions average
        ``init_scale^2`` times the mean rating.
    seed : int or None, default 0
        Seed of the initialisation and the shuffles.

    Attributes
    ----------
    user_factors_ : ndarray of float32, shape (n_users, n_factors)
    item_factors_ : ndarray of float32, shape (n_items, n_factors)
    """

    name = "gd"
    title = "Gradient descent MF (tutorial)"
    summary = ("The textbook version: every user and every item gets a short list of numbers, nudged rating by "
               "rating until their products match the known ratings. Made for learning, not results: without biases "
               "it rarely beats the baseline, and with many factors and little reg it overfits quickly.")
    objective = "min sum_(i,j observed) (r_ij - p_i . q_j)^2 + reg/2 (|p_i|^2 + |q_j|^2)"
    params_spec = (
        factors_spec(30, "length of each user and item vector (the tutorial's K)"),
        Param("n_epochs", "int", 100, "passes over the ratings (the tutorial's steps)", low=1, high=100_000),
        Param("lr", "float", 0.005, "step size (the tutorial's alpha); too high and the fit blows up. 'full' wants ~0.1",
              low=0.0, low_open=True),
        Param("reg", "float", 0.2, "weight decay that keeps the vectors small (the tutorial's beta)", low=0.0),
        Param("method", "choice", "entry", "'entry': update after every rating; 'full': one step per epoch from all ratings",
              choices=("entry", "full")),
        Param("shuffle", "bool", True, "entry method: random order each epoch (off: the tutorial's row-by-row order)"),
        Param("init_scale", "float", 1.0, "size of the random start; 1 starts the predictions at the mean rating", low=0.0),
        seed_spec("random seed of the start and of the shuffles"),
    )
    kinds = ("explicit",)

    def _fit_steps(self, train: Dataset):
        p = self.validate_params()
        k, n_epochs, lr, reg = p["n_factors"], p["n_epochs"], p["lr"], p["reg"]
        method, shuffle, init_scale = p["method"], p["shuffle"], p["init_scale"]
        rng = np.random.default_rng(p["seed"])

        rows, cols, values = train.rows, train.cols, train.values
        n_users, n_items = train.shape
        mean = max(float(values.mean()), 0.0)
        high = init_scale * 2.0 * np.sqrt(mean / k)
        self.user_factors_ = (rng.random((n_users, k)) * high).astype(np.float32)
        self.item_factors_ = (rng.random((n_items, k)) * high).astype(np.float32)
        P, Q = self.user_factors_, self.item_factors_
        user_count = np.bincount(rows, minlength=n_users).astype(np.float64)
        item_count = np.bincount(cols, minlength=n_items).astype(np.float64)
        nnz = values.size

        if method == "entry":
            # Our own copy of the triples in the tutorial's order (row by row,
            # columns ascending), shuffled in place each epoch if asked.
            order = np.lexsort((cols, rows))
            rows, cols, values = rows[order], cols[order], values[order]
            for _ in range(n_epochs):
                if shuffle:
                    kernels.shuffle_ratings(rows, cols, values, int(rng.integers(_SEED_HIGH)))
                sse = 0.0
                for lo, hi in work_chunks(nnz, _first_chunk(k)):
                    sse += kernels.gd_entry_epoch(rows[lo:hi], cols[lo:hi], values[lo:hi], P, Q, lr, reg)
                if stop_requested():
                    return
                yield self._loss(sse, user_count, item_count, reg, nnz), {}
        else:
            u_indptr, u_items, u_values = _csr(rows, cols, values, n_users)
            i_indptr, i_users, i_values = _csr(cols, rows, values, n_items)
            grad_P, grad_Q = np.empty_like(P), np.empty_like(Q)
            for _ in range(n_epochs):
                sse = kernels.gd_full_epoch(u_indptr, u_items, u_values, i_indptr, i_users, i_values,
                                            P, Q, lr, reg, grad_P, grad_Q)
                yield self._loss(sse, user_count, item_count, reg, nnz), {}

    def _loss(self, sse, user_count, item_count, reg, nnz) -> float:
        penalty = 0.5 * reg * (_weighted_sq_norms(user_count, self.user_factors_)
                               + _weighted_sq_norms(item_count, self.item_factors_))
        return (sse + penalty) / nnz


# ================================================================ biased SGD
class BiasedSGD(FactorModel):
    """Biased matrix factorization ``mu + b_u + b_i + p_u . q_i`` by stochastic gradient descent.

    Simon Funk's Netflix-Prize SVD with Koren's biases. With ``optimizer="sgd"``
    each epoch visits the ratings in a fresh random order and, for each,
    with ``e = r_ui - prediction``::

        b_u += lr_bias (e - reg_bias b_u)      b_i += lr_bias (e - reg_bias b_i)
        p_u += lr (e q_i - reg p_u)            q_i += lr (e p_u - reg q_i)

    Large epochs run Hogwild-parallel on numba's threads (lock-free updates on
    chunks of the shuffled ratings, :func:`use_hogwild`); small ones, and
    every epoch on one thread, run serially, where a seed gives the same
    factors every time. ``optimizer="adam"`` or ``"adagrad"`` instead take
    one adaptive step per mini-batch of ``batch_size`` ratings, as the Keras
    embedding tutorials do (same objective; they want their own ``lr``:
    about 0.005 for Adam, 0.05 for Adagrad).

    Parameters
    ----------
    n_factors : int, default 100
    n_epochs : int, default 20
    lr : float, default 0.03
        Step size of the factor vectors.
    lr_bias : float, default 0.01
        Step size of the biases.
    reg : float, default 0.1
        Weight decay of the factor vectors.
    reg_bias : float, default 0.02
        Weight decay of the biases.
    lr_decay : float, default 0.0
        After each epoch both step sizes are multiplied by ``1 - lr_decay``.
    init_std : float, default 0.05
        Factors start normal(0, init_std); biases start at 0.
    optimizer : {"sgd", "adam", "adagrad"}, default "sgd"
    batch_size : int, default 256
        Ratings per step for Adam and Adagrad (unused by "sgd").
    half_life_days : float, default 0.0
        Time decay (``optimizer="sgd"``, ratings with timestamps): each
        rating's step, weight decay included, is scaled by ``0.5^((t_last -
        t) / half_life_days)`` with ``t_last`` the latest training rating,
        so recent ratings outweigh old ones where tastes change. 0 is off.
        The steps shrink with the weights (a 30-day half-life over a year
        of ratings averages 1/8), so a short half-life wants more epochs.
    seed : int or None, default 0

    Notes
    -----
    The defaults are the best of a grid on MovieLens 100K (mean test RMSE
    over u1..u5, k=100): Surprise's ``SVD`` settings (lr 0.005, reg 0.02)
    give 0.940 after 20 epochs; a larger step with stronger weight decay
    (lr 0.03, reg 0.1, smaller start) gives 0.910 in the same 20 epochs, and
    40 epochs or learning-rate decay do not improve on it (within 0.001).

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray of float32
    user_factors_, item_factors_ : ndarray of float32, shape (n, n_factors)
        Users and items without training ratings keep zero vectors and
        biases, so they are predicted from the rest of the model.
    """

    name = "sgd"
    title = "Biased SGD (Funk SVD)"
    summary = ("The Netflix-Prize classic: average rating, plus how generous each user and how liked each item is, "
               "plus a match between user tastes and item traits, learned one rating at a time. A strong rating "
               "predictor, but it needs a tuned learning rate and reg, and overfits when run too long.")
    objective = ("min sum_(u,i observed) (r_ui - mu - b_u - b_i - p_u . q_i)^2 "
                 "+ reg_bias (b_u^2 + b_i^2) + reg (|p_u|^2 + |q_i|^2)")
    params_spec = (
        *_biased_spec(100, "passes over the ratings", 0.03,
                      "step size of the taste vectors (Adam wants ~0.005, Adagrad ~0.05)", 0.01,
                      "weight decay of the taste vectors; higher fights overfitting", 0.05),
        Param("optimizer", "choice", "sgd", "'sgd': one rating at a time; 'adam' / 'adagrad': adaptive steps per mini-batch",
              choices=("sgd", "adam", "adagrad")),
        Param("batch_size", "int", 256, "ratings per step for adam and adagrad", low=1, high=1_000_000),
        half_life_spec(),
        seed_spec("random seed of the start and of the shuffles"),
    )
    kinds = ("explicit",)

    def _check_together(self, values: dict) -> None:
        if values["half_life_days"] and values["optimizer"] != "sgd":
            raise ParamError(f"half_life_days weights each rating's step, which optimizer = {values['optimizer']} "
                             "does not take one rating at a time", param="half_life_days",
                             fix="choose optimizer = sgd, or set half_life_days to 0")

    #: Keras's Adam/Adagrad constants (initial Adagrad accumulator 0.1).
    beta1, beta2, adam_eps, adagrad_eps, adagrad_init = 0.9, 0.999, 1e-7, 1e-7, 0.1

    def _fit_steps(self, train: Dataset):
        p = self.validate_params()
        k, n_epochs, lr, lr_bias, reg, reg_bias, lr_decay, init_std = _biased_settings(self)
        optimizer, batch_size = p["optimizer"], p["batch_size"]
        decay_weights = time_decay_weights(train, p["half_life_days"])
        rng = np.random.default_rng(p["seed"])

        rows, cols, values = train.rows, train.cols, train.values
        n_users, n_items = train.shape
        nnz = values.size
        user_count, item_count = _init_biased_model(self, train, rng, k, init_std)
        P, Q, bu, bi = self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_
        mu = self.global_mean_
        total = float(nnz)
        if decay_weights is not None:
            # The loss is the weighted objective: each row's penalty counts its ratings' weights, not their number.
            user_count = np.bincount(rows, weights=decay_weights, minlength=n_users)
            item_count = np.bincount(cols, weights=decay_weights, minlength=n_items)
            total = float(decay_weights.sum())
            weights = decay_weights.astype(np.float32)  # shuffled in place with the triples
        rows, cols, values = rows.copy(), cols.copy(), values.copy()  # shuffled in place each epoch

        if optimizer != "sgd":
            use_adam = optimizer == "adam"
            fill = 0.0 if use_adam else self.adagrad_init
            second = [np.full(a.shape, fill, np.float32) for a in (bu, bi, P, Q)]
            first = [np.zeros_like(a) for a in (bu, bi, P, Q)]  # unused by Adagrad
            grads = [np.empty_like(a) for a in (bu, bi, P, Q)]
            stamps = [np.full(n_users, -1, np.int64), np.full(n_items, -1, np.int64)]
            eps = self.adam_eps if use_adam else self.adagrad_eps
            step = 0

        for epoch in range(n_epochs):
            scale = (1.0 - lr_decay) ** epoch
            shuffle_seed = int(rng.integers(_SEED_HIGH))
            kernels.shuffle_ratings(rows, cols, values, shuffle_seed)
            if decay_weights is not None:
                kernels.shuffle(weights, shuffle_seed)  # the same seed, the same permutation as the triples
            sse = 0.0
            if optimizer == "sgd":
                # Chunks of the shuffled stream; Hogwild cuts each into N_BLOCKS for the threads.
                epoch_kernel = kernels.sgd_epoch_hogwild if use_hogwild(nnz * k) else kernels.sgd_epoch
                for lo, hi in work_chunks(nnz, _first_chunk(k)):
                    # Unweighted, the argument is left out (not None): one compiled kernel for every plain fit.
                    extra = () if decay_weights is None else (weights[lo:hi],)
                    sse += epoch_kernel(rows[lo:hi], cols[lo:hi], values[lo:hi], mu, bu, bi, P, Q,
                                        lr_bias * scale, lr * scale, reg_bias, reg, N_BLOCKS, *extra)
            else:
                # Chunks of whole batches, so that the batches are the unchunked ones.
                n_batches = -(-nnz // batch_size)
                for lo, hi in work_chunks(n_batches, max(1, _first_chunk(k) // batch_size)):
                    a, b = lo * batch_size, min(hi * batch_size, nnz)
                    part, n_steps = kernels.minibatch_epoch(
                        rows[a:b], cols[a:b], values[a:b], mu, bu, bi, P, Q,
                        first[0], second[0], first[1], second[1], first[2], second[2], first[3], second[3],
                        *grads, *stamps, use_adam, lr_bias * scale, lr * scale, reg_bias, reg,
                        self.beta1, self.beta2, eps, batch_size, step)
                    sse += part
                    step += n_steps
            if stop_requested():
                return
            penalty = (reg_bias * (_weighted_sq_norms(user_count, bu) + _weighted_sq_norms(item_count, bi))
                       + reg * (_weighted_sq_norms(user_count, P) + _weighted_sq_norms(item_count, Q)))
            yield (sse + penalty) / total, {}

    def _fitted_state_finite(self) -> bool:
        return super()._fitted_state_finite() and all(
            np.isfinite(getattr(self, a)).all() for a in ("user_bias_", "item_bias_") if hasattr(self, a))


# ===================================================================== SVD++
class SVDpp(FactorModel):
    """Koren's SVD++: biased MF whose user vector also sums the items the user rated.

    Prediction::

        r_ui ~ mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)

    where ``N(u)`` is the set of items ``u`` rated in the training data: *that*
    someone rated a film says something about their taste, whatever the
    rating. Fitted user by user with the fast update of
    :func:`mfstudio.kernels.sgd.svdpp_epoch` (the implicit sum once per user
    per epoch; 20-100x faster than Surprise's per-rating recomputation).

    Parameters
    ----------
    n_factors : int, default 20
    n_epochs : int, default 20
    lr : float, default 0.02
        Step size of ``p_u``, ``q_i`` and ``y_j``.
    lr_bias : float, default 0.005
    reg : float, default 0.1
        Weight decay of ``p_u``, ``q_i`` and ``y_j``.
    reg_bias : float, default 0.02
    lr_decay : float, default 0.0
        After each epoch the step sizes are multiplied by ``1 - lr_decay``.
    init_std : float, default 0.1
        ``p``, ``q`` and ``y`` start normal(0, init_std).
    seed : int or None, default 0

    Notes
    -----
    Defaults: best of a grid on MovieLens 100K (mean test RMSE over u1..u5):
    0.910 with k=20 and 20 epochs (Surprise's settings, lr 0.007 and reg
    0.02, give 0.921 here); k=50 or 40 epochs gain under 0.002.

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray of float32
    user_factors_ : ndarray of float32, shape (n_users, n_factors)
        The explicit part ``p_u``.
    item_factors_ : ndarray of float32, shape (n_items, n_factors)
    implicit_factors_ : ndarray of float32, shape (n_items, n_factors)
        ``y_j``.
    user_implicit_ : ndarray of float32, shape (n_users, n_factors)
        ``|N(u)|^-1/2 sum_{j in N(u)} y_j``, cached after each epoch (saved
        with the model; recomputed from the training data if absent).
    """

    name = "svdpp"
    title = "SVD++"
    summary = ("Biased SGD that also learns from which items each user chose to rate, not only from the ratings "
               "they gave: a small gain in RMSE over biased SGD at many times the cost per epoch, and it overfits the "
               "same way.")
    objective = ("min sum_(u,i observed) (r_ui - mu - b_u - b_i - q_i . (p_u + |N(u)|^-1/2 sum_(j in N(u)) y_j))^2 "
                 "+ reg_bias (b_u^2 + b_i^2) + reg (|p_u|^2 + |q_i|^2 + sum_(j in N(u)) |y_j|^2)")
    params_spec = (
        *_biased_spec(20, "passes over the users", 0.02,
                      "step size of the taste vectors and of the implicit item vectors y", 0.005,
                      "weight decay of the taste vectors and of y; higher fights overfitting", 0.1),
        seed_spec("random seed of the start and of the shuffles"),
    )
    kinds = ("explicit",)

    def _fit_steps(self, train: Dataset):
        k, n_epochs, lr, lr_bias, reg, reg_bias, lr_decay, init_std = _biased_settings(self)
        rng = np.random.default_rng(self.validate_params()["seed"])

        rows, cols, values = train.rows, train.cols, train.values
        n_users, n_items = train.shape
        nnz = values.size
        indptr, indices, csr_values = _csr(rows, cols, values, n_users)
        user_count, item_count, user_order, y_weight = self._init_svdpp_state(train, rng, k, init_std, indptr, indices)
        P, Q, Y = self.user_factors_, self.item_factors_, self.implicit_factors_
        bu, bi = self.user_bias_, self.item_bias_
        mu = self.global_mean_

        for epoch in range(n_epochs):
            scale = (1.0 - lr_decay) ** epoch
            kernels.shuffle(user_order, int(rng.integers(_SEED_HIGH)))
            seed = int(rng.integers(_SEED_HIGH))  # per user, so chunks of users keep the unchunked shuffles
            sse = 0.0
            users_first = max(16, _first_chunk(k) * n_users // max(nnz, 1))
            for lo, hi in work_chunks(n_users, users_first):
                with threads_for(nnz * k):
                    sse += kernels.svdpp_epoch(indptr, indices, csr_values, user_order[lo:hi], seed,
                                               mu, bu, bi, P, Q, Y, lr_bias * scale, lr * scale, reg_bias, reg,
                                               N_BLOCKS)
            if stop_requested():
                # The cache is a full pass: rebuilt on first use instead (_user_implicit).
                del self.user_implicit_
                return
            kernels.implicit_sums(indptr, indices, Y, self.user_implicit_)
            penalty = (reg_bias * (_weighted_sq_norms(user_count, bu) + _weighted_sq_norms(item_count, bi))
                       + reg * (_weighted_sq_norms(user_count, P) + _weighted_sq_norms(item_count, Q)
                                + _weighted_sq_norms(y_weight, Y)))
            yield (sse + penalty) / nnz, {}

    # ------------------------------------------------------------ the user side
    def _init_svdpp_state(self, train: Dataset, rng: np.random.Generator, k: int, init_std: float, indptr, indices):
        """Biases, factors and implicit vectors ``y`` at their start, and what the epochs need (SVD++, timeSVD++).

        Returns ``(user_count, item_count, user_order, y_weight)``: ratings per user and item, the user
        visiting order the epochs shuffle, and how often each ``y_j`` enters the penalty (once per rating
        of each user who rated ``j``).
        """
        n_users, n_items = train.shape
        user_count, item_count = _init_biased_model(self, train, rng, k, init_std)
        self.implicit_factors_ = _normal(rng, init_std, (n_items, k))
        self.implicit_factors_[item_count == 0] = 0.0
        self.user_implicit_ = np.zeros((n_users, k), dtype=np.float32)
        user_order = np.arange(n_users, dtype=np.int32)
        y_weight = np.bincount(indices, weights=user_count[np.repeat(np.arange(n_users), np.diff(indptr))],
                               minlength=n_items)
        return user_count, item_count, user_order, y_weight

    def _user_implicit(self) -> np.ndarray:
        """``|N(u)|^-1/2 sum y_j`` for every user (cached; rebuilt from ``train_`` if missing)."""
        cached = getattr(self, "user_implicit_", None)
        if cached is None or cached.shape != self.user_factors_.shape:
            train = self.train_
            indptr, indices, _ = _csr(train.rows, train.cols, train.values, train.n_rows)
            cached = np.zeros(self.user_factors_.shape, dtype=np.float32)
            kernels.implicit_sums(indptr, indices, self.implicit_factors_, cached)
            self.user_implicit_ = cached
        return cached

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] + self._user_implicit()[users]

    def _fitted_state_finite(self) -> bool:
        return super()._fitted_state_finite() and all(
            np.isfinite(getattr(self, a)).all()
            for a in ("implicit_factors_", "user_bias_", "item_bias_") if hasattr(self, a))

    def fold_in(self, items, values=None) -> tuple[np.ndarray, float]:
        """Vector and bias of a new user; their ``N(u)`` is the items they rated.

        The implicit part ``z = |N|^-1/2 sum_{j in N} y_j`` follows from the
        items alone; ``p`` and ``b_u`` then solve the ridge regression of
        ``r - mu - b_i - q_i . z`` on ``[q_i, 1]`` (the base class's
        fold-in). Returns ``(p + z, b_u)``: the vector that scores like a
        trained user's :meth:`_user_vectors`.
        """
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        values = np.ones(items.size) if values is None else np.asarray(values, dtype=np.float64)
        z = np.zeros(self.item_factors_.shape[1], dtype=np.float64)
        if items.size:
            z = self.implicit_factors_[items].astype(np.float64).sum(axis=0) / np.sqrt(items.size)
        adjusted = values - self.item_factors_[items].astype(np.float64) @ z
        vector, bias = super().fold_in(items, adjusted)
        return (vector.astype(np.float64) + z).astype(np.float32), bias
