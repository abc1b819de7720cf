"""Alternating least squares: explicit ratings (ALS-WR) and implicit feedback (HKV).

Both fix one side of the factorization, solve every row of the other side as
a small least-squares problem (in parallel: rows are independent), and swap.
Each half step can only lower the objective, so the training loss falls
monotonically (exactly for the direct solvers, nearly for a few CG steps).

- :class:`ALS` fits ratings. Each user's ridge penalty is ``reg * n_u`` (the
  "weighted-lambda" regularization of Zhou et al. 2008), so users and items
  with many ratings are not over-shrunk and those with few are not overfit;
  the biases are solved with the factors by augmenting the vectors with a
  constant column.
- :class:`ImplicitALS` fits interactions (clicks, plays, or ratings >=
  ``threshold``): every cell of the matrix is a 0/1 preference, weighted by a
  confidence that grows with the interaction's strength (Hu, Koren & Volinsky
  2008). The dense matrix is never formed; see :mod:`mfstudio.kernels.als`.

The kernels are in :mod:`mfstudio.kernels.als`; this module validates
parameters, builds the sparse structures once, initializes from a seeded
generator and loops.
"""

from __future__ import annotations

from dataclasses import replace

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp  # only for annotations: scipy.sparse is imported where it is used

from ..data.dataset import Dataset
from ..kernels import lazy

kernels = lazy("als")  # numba loads on the first fit, not with the method list
from .base import FactorModel, half_life_spec, positives_for, time_decay_weights
from .stopping import stop_requested, work_chunks
from ..data.errors import DataError
from .params import Param, ParamError, factors_spec, seed_spec
from ..spark import DEFAULT_MASTER, MASTER_PATTERN

__all__ = ["ALS", "ImplicitALS"]


def _by_blocks(sweep, bounds: np.ndarray, memory: dict) -> float:
    """Run ``sweep(sub_bounds)`` over consecutive runs of row blocks; the sum of what it returns.

    A half sweep of a large matrix takes seconds in one kernel call; in
    calls of ~60 ms a cancel lands between them (mfstudio.models.stopping).
    The blocks are the unchunked ones, so the result does not change.
    """
    total = 0.0
    for lo, hi in work_chunks(bounds.shape[0] - 1, 16, memory=memory):
        part = sweep(bounds[lo:hi + 1])
        total += 0.0 if part is None else part  # the explicit half sweeps return nothing
    return total


def _n_blocks(n_rows: int) -> int:
    """Row blocks per half sweep: enough to balance threads, few enough to amortize scratch."""
    return max(1, min(n_rows, 512))


#: Row blocks of the Gram matrix sums; fixed, so the summation order (and the
#: last bits of the result) does not depend on the machine's core count.
_GRAM_BLOCKS = 16


def _csr_pair(train: Dataset) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Row-major and column-major (as CSR of the transpose) copies, indices sorted."""
    csr = train.to_csr(np.float32)
    csr.sum_duplicates()
    csr.sort_indices()
    csc = csr.T.tocsr()
    csc.sort_indices()
    return csr, csc


# --------------------------------------------------------- Spark engine
def engine_specs() -> tuple[Param, ...]:
    """The declarations every Spark-capable model adds: ``engine``, ``spark_master``, ``spark_parquet_dir``.

    Returns
    -------
    tuple of Param
    """
    return (
        Param("engine", "choice", "local",
              "where the fit runs: local (mfstudio's own kernels) or spark (Spark MLlib's ALS, on spark_master)",
              choices=("local", "spark")),
        Param("spark_master", "str", DEFAULT_MASTER,
              "with engine = spark: local[*], local[N], spark://host:7077 (a cluster) or sc://host:15002 (Spark Connect)",
              pattern=MASTER_PATTERN,
              form="a Spark master URL: local[*], local[N], spark://host:port, sc://host:port, yarn or k8s://..."),
        Param("spark_parquet_dir", "str", "",
              "with engine = spark: empty to send the ratings through the driver (Arrow); for large data a folder "
              "every Spark executor can read, where the ratings are written as Parquet first"),
    )


def _pair_dots(rows: np.ndarray, cols: np.ndarray, U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``U[rows] . V[cols]`` per entry, in float64, a million entries at a time (25M x k would not fit twice)."""
    out = np.empty(rows.size, dtype=np.float64)
    step = 1 << 20
    for lo in range(0, rows.size, step):
        hi = min(lo + step, rows.size)
        out[lo:hi] = np.einsum("ij,ij->i", U[rows[lo:hi]].astype(np.float64), V[cols[lo:hi]].astype(np.float64))
    return out


def _spark_fit(model: FactorModel, train: Dataset, p: dict, implicit: bool):
    """Run the fit on Spark (:mod:`mfstudio.spark.engine`); set the factors; return the loss, or None if cancelled.

    The loss is the objective Spark minimized, computed here once from the
    factors it returned (Spark reports none per iteration): explicit, the
    ALS-WR objective without biases, as :class:`ALS` with ``use_bias=False``;
    implicit, HKV's with Spark's count-scaled ridge ``reg * n``.
    """
    from ..spark.engine import fit_factors

    result = fit_factors(train.rows, train.cols, train.values, train.row_ids, train.col_ids,
                         n_factors=p["n_factors"], n_epochs=p["n_epochs"], reg=p["reg"], seed=p["seed"],
                         master=p["spark_master"], implicit=implicit, alpha=p.get("alpha", 1.0),
                         parquet_dir=p["spark_parquet_dir"])
    if result is None:
        return None
    U, V = result.user_factors, result.item_factors
    model.user_factors_, model.item_factors_ = U, V
    for attr in ("user_bias_", "item_bias_", "global_mean_"):
        model.__dict__.pop(attr, None)  # Spark's ALS has no biases: nothing of an earlier local fit may stay
    model.engine_info = result.info
    n_u = np.bincount(train.rows, minlength=U.shape[0]).astype(np.float64)
    n_i = np.bincount(train.cols, minlength=V.shape[0]).astype(np.float64)
    U64, V64 = U.astype(np.float64), V.astype(np.float64)
    penalty = p["reg"] * (n_u @ np.einsum("ij,ij->i", U64, U64) + n_i @ np.einsum("ij,ij->i", V64, V64))
    dots = _pair_dots(train.rows, train.cols, U, V)
    if not implicit:
        sse = float(((train.values.astype(np.float64) - dots) ** 2).sum())
        return (sse + penalty) / max(train.nnz, 1)
    conf = 1.0 + p["alpha"] * np.abs(train.values.astype(np.float64))
    everywhere = float(np.sum((U64.T @ U64) * (V64.T @ V64)))  # sum over every cell of (x.y)^2
    observed = float((conf * (1.0 - dots) ** 2 - dots ** 2).sum())
    total_weight = float(conf.sum()) + float(U.shape[0]) * V.shape[0] - train.nnz
    return (everywhere + observed + penalty) / total_weight


# ------------------------------------------------------------------ ALS
class ALS(FactorModel):
    """Explicit-rating ALS with weighted-lambda regularization (ALS-WR), with biases.

    Parameters
    ----------
    n_factors : int, default 50
        Length of the user and item factor vectors.
    reg : float, default 0.12
        lambda: each user's (item's) ridge penalty is ``reg * n_u`` (``reg *
        n_i``) times the squared norm of its factors and bias.
    n_epochs : int, default 12
        ALS iterations (users, then items, solved once each).
    use_bias : bool, default True
        Model ``mu + b_u + b_i + p_u . q_i``; without, ``p_u . q_i`` as in
        Zhou et al.
    half_life_days : float, default 0.0
        Time decay (ratings with timestamps, local engine): each squared
        error is weighted by ``0.5^((t_last - t) / half_life_days)``, ``t_last``
        the latest training rating, and each row's penalty ``reg * n_u``
        becomes ``reg`` times its weight sum: weighted least squares per
        row, in which only the weights' ratios within a row count, so a user
        whose ratings are all old is fitted to them as before, and one whose
        taste changed follows the recent ratings. 0 is off.
    seed : int, default 0
        Seeds the initial item factors.
    engine : {"local", "spark"}, default "local"
        ``spark`` fits with Spark MLlib's ALS on ``spark_master``
        (:mod:`mfstudio.spark.engine`): ``n_factors``, ``n_epochs``, ``reg``
        and ``seed`` become ``rank``, ``maxIter``, ``regParam`` (the same
        weighted-lambda) and ``seed``; ``use_bias`` has no Spark equivalent
        (the model has no biases). One step is reported, after the fit.
    spark_master : str, default "local[*]"
    spark_parquet_dir : str, default ""
        A folder every executor can read, to ship the ratings as Parquet; empty: Arrow through the driver.

    Attributes
    ----------
    user_factors_ : ndarray of float32, shape (n_users, n_factors)
    item_factors_ : ndarray of float32, shape (n_items, n_factors)
    user_bias_, item_bias_ : ndarray of float64 (with ``use_bias``, local engine)
    global_mean_ : float (with ``use_bias``, local engine)
    engine_info : dict (spark engine)
        The master, Spark's version and the seconds of each phase (:class:`mfstudio.spark.engine.SparkFit`).

    Notes
    -----
    The inherited :meth:`fold_in` solves exactly this model's user problem
    (ridge ``reg * n`` on ``[p_u, b_u]`` against ``r - mu - b_i``).
    """

    name = "als"
    title = "ALS (explicit, weighted-λ)"
    summary = ("Alternately solves every user's and every item's ratings as a small regularized least-squares fit: "
               "converges in a few epochs and needs no learning rate. With many factors and a small reg it overfits "
               "like SGD (test error rising while train error falls), and each epoch costs more as k grows.")
    objective = (
        "min sum_(u,i) (r_ui - mu - b_u - b_i - p_u.q_i)^2"
        " + reg (sum_u n_u (|p_u|^2 + b_u^2) + sum_i n_i (|q_i|^2 + b_i^2))"
    )
    params_spec = (
        factors_spec(50, "length of the user and item factor vectors"),
        Param("reg", "float", 0.12, "lambda; each user's penalty is lambda times their number of ratings (weighted-lambda)",
              low=0.0, low_open=True),
        Param("n_epochs", "int", 12, "ALS iterations: all users then all items solved once each", low=1, high=100_000),
        Param("use_bias", "bool", True, "add a global mean and user and item biases, solved with the factors"),
        half_life_spec(),
        seed_spec("seeds the random initial item factors"),
        *engine_specs(),
    )
    kinds = ("explicit",)
    task = "rating"
    #: Parameters Spark's ALS has no equivalent of, and why (the model panel shows them with engine = spark).
    spark_unmapped = {"use_bias": "Spark's ALS has no biases: the model is p_u . q_i alone",
                      "half_life_days": "Spark's ALS takes no per-rating weights"}

    def _check_together(self, values: dict) -> None:
        if values["engine"] == "spark" and values["half_life_days"]:
            raise ParamError("half_life_days has no Spark equivalent: Spark's ALS takes no per-rating weights",
                             param="half_life_days", fix="set half_life_days to 0, or choose engine = local")

    def expected_steps(self) -> int:
        # Spark reports no loss per iteration: one step, when the fit is done.
        return 1 if self.params.get("engine") == "spark" else super().expected_steps()

    def _fit_steps(self, train: Dataset):
        p = self.validate_params()
        if p["engine"] == "spark":
            loss = _spark_fit(self, train, p, implicit=False)
            if loss is not None:
                yield loss, {}
            return
        self.__dict__.pop("engine_info", None)
        k, reg, n_epochs, use_bias = p["n_factors"], p["reg"], p["n_epochs"], p["use_bias"]
        decay_weights = time_decay_weights(train, p["half_life_days"])
        rng = np.random.default_rng(p["seed"])

        csr, csc = _csr_pair(train)
        n_users, n_items = csr.shape
        nnz = csr.nnz
        user_counts = np.diff(csr.indptr).astype(np.float64)
        item_counts = np.diff(csc.indptr).astype(np.float64)
        total = float(nnz)
        # Unweighted, the kernels' weights argument is left out (not None): one compiled kernel for every plain fit.
        row_w = col_w = ()
        if decay_weights is not None:
            w_csr, w_csc = _csr_pair(replace(train, values=decay_weights))  # the same layout as csr, csc
            row_w, col_w = (w_csr.data.astype(np.float64),), (w_csc.data.astype(np.float64),)
            # The weighted objective: each row's penalty counts its ratings' weights (as the kernel's ridge does).
            user_counts = np.bincount(train.rows, weights=decay_weights, minlength=n_users)
            item_counts = np.bincount(train.cols, weights=decay_weights, minlength=n_items)
            total = float(decay_weights.sum())
        user_blocks = kernels.balanced_row_blocks(csr.indptr, k, _n_blocks(n_users))
        item_blocks = kernels.balanced_row_blocks(csc.indptr, k, _n_blocks(n_items))

        mu = float(csr.data.astype(np.float64).mean()) if use_bias else 0.0
        self.user_factors_ = np.zeros((n_users, k), dtype=np.float32)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(np.float32)
        user_bias = np.zeros(n_users)
        item_bias = np.zeros(n_items)
        for attr in ("user_bias_", "item_bias_", "global_mean_"):
            self.__dict__.pop(attr, None)
        if use_bias:
            self.global_mean_ = mu
            self.user_bias_ = user_bias
            self.item_bias_ = item_bias

        memories = ({}, {}, {})
        for _ in range(n_epochs):
            _by_blocks(lambda b: kernels.als_explicit_half_sweep(
                csr.indptr, csr.indices, csr.data, self.user_factors_, user_bias,
                self.item_factors_, item_bias, mu, reg, use_bias, b, *row_w), user_blocks, memories[0])
            _by_blocks(lambda b: kernels.als_explicit_half_sweep(
                csc.indptr, csc.indices, csc.data, self.item_factors_, item_bias,
                self.user_factors_, user_bias, mu, reg, use_bias, b, *col_w), item_blocks, memories[1])
            sse = _by_blocks(lambda b: kernels.als_explicit_sse(
                csr.indptr, csr.indices, csr.data, self.user_factors_, user_bias,
                self.item_factors_, item_bias, mu, use_bias, b, *row_w), user_blocks, memories[2])
            if stop_requested():
                return
            U = self.user_factors_.astype(np.float64)
            V = self.item_factors_.astype(np.float64)
            penalty = user_counts @ (np.einsum("ij,ij->i", U, U) + user_bias**2)
            penalty += item_counts @ (np.einsum("ij,ij->i", V, V) + item_bias**2)
            yield (sse + reg * penalty) / total, {}


# ---------------------------------------------------------- Implicit ALS
def confidence(values: np.ndarray, scaling: str, alpha: float, epsilon: float) -> np.ndarray:
    """Hu-Koren-Volinsky confidence of each interaction value (float32).

    ``"linear"``: ``1 + alpha * r``; ``"log"``: ``1 + alpha * log(1 + r / epsilon)``.
    """
    r = np.asarray(values, dtype=np.float64)
    if scaling == "log":
        c = 1.0 + alpha * np.log1p(r / epsilon)
    else:
        c = 1.0 + alpha * r
    return c.astype(np.float32)


class ImplicitALS(FactorModel):
    """Implicit-feedback ALS of Hu, Koren & Volinsky (2008), with a conjugate-gradient solver.

    Every (user, item) cell carries a preference ``p_ui`` (1 if the user
    interacted with the item, else 0) and a confidence ``c_ui`` (1 for cells
    without an interaction, growing with the interaction's value otherwise);
    the model minimizes the confidence-weighted squared error over *all*
    cells, computed without ever forming the dense matrix.

    Parameters
    ----------
    n_factors : int, default 16
    reg : float, default 10.0
        Ridge strength on every user and item vector (plain lambda, as in
        HKV and benfred/implicit). Large because the squared error sums over
        every cell of the matrix; too large (here, beyond about twice the
        default on a few hundred items) and all factors collapse to zero.
    alpha : float, default 0.25
        Confidence slope. On MovieLens 100K (positives rated 4-5) low
        confidences rank best; on count data raise it (HKV used 40).
    scaling : {"linear", "log"}, default "linear"
        ``c = 1 + alpha * r`` or ``c = 1 + alpha * log(1 + r / epsilon)``.
    epsilon : float, default 1.0
        Scale of the log scaling (ignored by "linear").
    n_epochs : int, default 15
        ALS iterations (users, then items).
    solver : {"cg", "exact"}, default "cg"
        A few conjugate-gradient steps per row, warm-started from the previous
        factors (fast), or a Cholesky solve per row (exact, O(k^3) per row).
    cg_steps : int, default 3
        CG steps per row and half iteration (ignored by "exact").
    threshold : float, default 4.0
        For rating data: ratings at or above it are the interactions (their
        rating is the value ``r``); lower ratings are dropped.
    seed : int, default 0
        Seeds the initial factors.

    Attributes
    ----------
    user_factors_ : ndarray of float32, shape (n_users, n_factors)
    item_factors_ : ndarray of float32, shape (n_items, n_factors)
    fitted_on_ratings_ : int
        1 when the training data were ratings (fold-in then applies ``threshold``).
    train_ : Dataset
        Everything the model was given (all ratings): the seen items.
    fit_data_ : Dataset
        The interactions it learned from (ratings >= ``threshold``).

    Notes
    -----
    The training loss is the HKV objective divided by the total weight of the
    cells, ``sum c_ui + (n_users * n_items - nnz)``, so that it reads as a
    weighted mean squared error between 0 and 1.

    benfred/implicit's ``alpha`` multiplies the values into the confidence
    itself (``c = alpha * r``); here, as in the paper, ``c = 1 + alpha * r``.
    """

    name = "implicit-als"
    title = "Implicit ALS (Hu-Koren-Volinsky)"
    summary = ("Learns from what people interacted with, treating everything else as a weak 'no', by alternating "
               "least squares: fast and stable for clicks, plays or purchases. It ranks and predicts no ratings; too many "
               "factors or too little reg make it memorise heavy users and lose to popularity on the test set.")
    objective = "min sum_(u,i all) c_ui (p_ui - x_u.y_i)^2 + reg (sum_u |x_u|^2 + sum_i |y_i|^2),  c_ui = 1 + alpha r_ui"
    params_spec = (
        factors_spec(16, "length of the user and item factor vectors"),
        Param("reg", "float", 10.0, "ridge strength on every factor vector", low=0.0, low_open=True),
        Param("alpha", "float", 0.25, "how much more an interaction counts than a missing cell: c = 1 + alpha * value",
              low=0.0),
        Param("scaling", "choice", "linear",
              "confidence from the value: linear (1 + alpha r) or log (1 + alpha log(1 + r / epsilon))",
              choices=("linear", "log")),
        Param("epsilon", "float", 1.0, "scale of the log confidence (only with scaling = log)", low=0.0, low_open=True),
        Param("n_epochs", "int", 15, "ALS iterations: all users then all items solved once each", low=1, high=100_000),
        Param("solver", "choice", "cg", "cg: a few conjugate-gradient steps per row (fast); exact: Cholesky per row",
              choices=("cg", "exact")),
        Param("cg_steps", "int", 3, "conjugate-gradient steps per row and half iteration (only with solver = cg)",
              low=1, high=100),
        Param("threshold", "float", 4.0, "for rating data: ratings at or above this count as interactions"),
        seed_spec("seeds the random initial factors"),
        *engine_specs(),
    )
    kinds = ("implicit", "explicit")
    task = "ranking"
    #: Parameters Spark's ALS has no equivalent of, and why (the model panel shows them with engine = spark).
    spark_unmapped = {
        "scaling": "Spark's confidence is linear only (1 + alpha |r|)",
        "epsilon": "used only by the log scaling, which Spark lacks",
        "solver": "Spark solves each row exactly (Cholesky)",
        "cg_steps": "Spark uses no conjugate gradient",
        "reg": "kept, but Spark scales it by each row's count (reg * n_u), unlike the local engine",
    }

    def expected_steps(self) -> int:
        # Spark reports no loss per iteration: one step, when the fit is done.
        return 1 if self.params.get("engine") == "spark" else super().expected_steps()

    def _check_together(self, values: dict) -> None:
        if values["engine"] == "spark" and values["scaling"] != "linear":
            raise ParamError("scaling = log has no Spark equivalent: Spark's confidence is 1 + alpha * value",
                             param="scaling", fix="choose scaling = linear, or engine = local")

    def _prepare(self, train: Dataset) -> Dataset:
        prepared = positives_for(self, train)
        if (prepared.values < 0).any():
            raise DataError("implicit ALS needs interaction values >= 0 (counts, durations, ratings)",
                            fix="shift or clip the values, or choose BPR")
        return prepared

    def _settings(self) -> dict:
        s = self.validate_params()
        s["k"] = s["n_factors"]
        return s

    def _fit_steps(self, train: Dataset):
        s = self._settings()
        if s["engine"] == "spark":
            loss = _spark_fit(self, train, s, implicit=True)
            if loss is not None:
                yield loss, {}
            return
        self.__dict__.pop("engine_info", None)
        k, reg, solver, cg_steps = s["k"], s["reg"], s["solver"], s["cg_steps"]
        rng = np.random.default_rng(s["seed"])

        csr, csc = _csr_pair(train)
        n_users, n_items = csr.shape
        conf_u = confidence(csr.data, s["scaling"], s["alpha"], s["epsilon"])
        conf_i = confidence(csc.data, s["scaling"], s["alpha"], s["epsilon"])
        total_weight = float(conf_u.astype(np.float64).sum()) + float(n_users) * n_items - csr.nnz
        # Cost of a row ~ its entries plus the k x k products every row does (in entry units).
        user_blocks = kernels.balanced_row_blocks(csr.indptr, k / 2, _n_blocks(n_users))
        item_blocks = kernels.balanced_row_blocks(csc.indptr, k / 2, _n_blocks(n_items))

        # Small positive factors, as benfred/implicit starts: scores start
        # near zero and the first half sweep moves them to the data.
        self.user_factors_ = (rng.random((n_users, k), dtype=np.float32) * np.float32(0.01))
        self.item_factors_ = (rng.random((n_items, k), dtype=np.float32) * np.float32(0.01))
        X, Y = self.user_factors_, self.item_factors_

        def half(indptr, indices, conf, rows, other, blocks, memory):
            G = kernels.gram(other, reg, _GRAM_BLOCKS)
            if solver == "cg":
                G32 = G.astype(np.float32)
                return _by_blocks(lambda b: kernels.implicit_als_cg_half_sweep(
                    indptr, indices, conf, rows, other, G32, cg_steps, b), blocks, memory)
            return _by_blocks(lambda b: kernels.implicit_als_exact_half_sweep(
                indptr, indices, conf, rows, other, G, b), blocks, memory)

        memories = ({}, {})
        for _ in range(s["n_epochs"]):
            half(csr.indptr, csr.indices, conf_u, X, Y, user_blocks, memories[0])
            item_side = half(csc.indptr, csc.indices, conf_i, Y, X, item_blocks, memories[1])
            if stop_requested():
                return
            x_norm = float(np.einsum("ij,ij->", X, X, dtype=np.float64))
            yield (item_side + reg * x_norm) / total_weight, {}

    def fold_in(self, items, values=None) -> tuple[np.ndarray, float]:
        """Factors for a new user: the exact HKV solve with the item factors fixed.

        Solves ``(Y^T Y + Y_u^T (C_u - I) Y_u + reg I) x = Y_u^T C_u 1`` for
        the user's interactions. When the model was fitted on ratings, a
        number is a rating and only those at or above ``threshold`` count (as
        in training). A tick (value NaN) is a positive interaction; its value
        for the confidence is ``threshold`` on a model fitted on ratings (the
        least a "like" was worth in training) and 1 otherwise.
        ``values=None`` means every item is a tick.

        Returns
        -------
        (vector, 0.0)
            The user's factors (float32) and a zero bias (the model has none).
        """
        self._check_fitted()
        s = self._settings()
        items = np.asarray(items, dtype=np.int64).ravel()
        on_ratings = bool(getattr(self, "fitted_on_ratings_", 0))
        values = np.full(items.size, np.nan) if values is None else np.asarray(values, dtype=np.float64).ravel()
        ticks = np.isnan(values)
        if on_ratings:
            keep = ticks | (values >= s["threshold"])
            items, values, ticks = items[keep], values[keep], ticks[keep]
        values = np.where(ticks, s["threshold"] if on_ratings else 1.0, values)
        Y = self.item_factors_.astype(np.float64)
        k = Y.shape[1]
        if items.size == 0:
            return np.zeros(k, dtype=np.float32), 0.0
        c = confidence(np.maximum(values, 0.0), s["scaling"], s["alpha"], s["epsilon"]).astype(np.float64)
        Yu = Y[items]
        A = Y.T @ Y + s["reg"] * np.eye(k) + (Yu * (c - 1.0)[:, None]).T @ Yu
        b = Yu.T @ c
        return np.linalg.solve(A, b).astype(np.float32), 0.0
