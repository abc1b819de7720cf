"""Non-negative matrix factorization: ``X ~ W H`` with ``W, H >= 0``.

Because nothing can be subtracted, the ``k`` rows of ``H`` come out as
*parts*: the topics of a document collection (each a weighting of terms),
the strokes of a set of images, the "taste groups" of a ratings matrix; and
each row of ``W`` says how much of each part a document, image or user has.

Solvers (all on scipy sparse input without densifying it: every product
is a parallel numba kernel over the stored entries, see
:mod:`mfstudio.kernels.nmf`):

``"cd"`` (default)
    Coordinate descent on the rows of ``W`` and ``H^T`` (HALS; Cichocki &
    Phan 2009, Hsieh & Dhillon 2011, scikit-learn's ``"cd"``), *accelerated*
    as Gillis & Glineur (2012): the expensive part of an update, the sparse
    product ``X H^T`` (or ``W^T X``), is reused for several cheap inner
    sweeps, as many as pay off, each row stopping once its sweeps stop
    moving it.
``"hals"``
    The same updates, one sweep per product: plain HALS.
``"mu"``
    Lee & Seung's (2001) multiplicative updates, the classic; the only
    solver for ``beta_loss="kullback-leibler"``, where ``X ./ (W H)`` is
    evaluated at the stored entries only.

Missing entries. For ratings (``explicit``, and ``dense`` grids or image
sets with empty cells) a missing entry is unknown, not zero: the objective
sums over the observed entries only (masked HALS/CD, weighted MU). For
documents, images, implicit counts and full grids every cell counts and
unstored entries are zeros, except the ``missing_cells`` of a cell holdout
(:func:`mfstudio.data.splits.cell_split`): those have weight 0. They are
left out as a correction of the full-matrix update (each row's Gram matrix
minus the outer products of its left-out columns, see
``kernels.nmf.excluded_cd_rows``), so the cost is the full-matrix cost plus
``k^2/2`` per left-out cell per half-iteration; the same path serves a grid
or image set whose empty cells are fewer than its filled ones. Its limit: a
holdout of many millions of cells at large ``k`` (the correction then
dominates), and Kullback-Leibler is not offered with missing cells.

Regularization (``l1``, ``reg``) follows scikit-learn's scaling: the L1 and
L2 terms of a row of ``W`` are multiplied by the number of entries of that
row (``n_cols``, or its observed count for ratings), those of a column of
``H`` by ``n_rows`` (or its observed count), so their strength does not
depend on the matrix size: ``l1=a*r, reg=a*(1-r)`` here is scikit-learn's
``alpha_W=alpha_H=a, l1_ratio=r``.

Conventions: ``user_factors_ = W`` (n_rows x k), ``item_factors_ = H^T``
(n_cols x k), ``components_ = H`` (k x n_cols).
"""

from __future__ import annotations

import math

import numpy as np

from ..data.arrays import unique_sorted
from ..data.dataset import Dataset
from ..data.errors import DataError
from ..kernels import lazy

kernels = lazy("nmf")  # numba loads on the first fit, not with the method list
from .base import FactorModel
from .stopping import stop_requested, work_chunks
from .params import Param, ParamError, factors_spec, seed_spec
from .svd import (
    SparseOperator,
    _clip_ratings,
    _in_sorted,
    observed_only,
    randomized_svd_steps,
    score_reconstruction,
    single_threaded_blas,
)

__all__ = ["NMF", "nndsvd"]

_EPS = float(np.finfo(np.float32).eps)
# Above this density (and below _DENSE_CELLS cells) a fully observed matrix
# is held dense and its products go to BLAS.
_DENSE_FRACTION = 0.3
_DENSE_CELLS = 1 << 27
# Accelerated HALS (Gillis & Glineur 2012): inner sweeps up to 1 + ALPHA * rho,
# rho = cost(product + Gram) / cost(one sweep); a row stops when a sweep moves it
# by less than INNER_TOL times its first sweep.
_ALPHA = 0.5
_INNER_TOL = 0.1
_MAX_INNER = 20
# Power iterations of the randomized SVD behind NNDSVD.
_INIT_POWER_ITER = 2


def _in_row_chunks(kernel, B, G, F, rest: tuple, memory: dict) -> float:
    """``kernel(B, G, F, *rest)`` on runs of its 64-row blocks; the sum of what it returns.

    The full-matrix row kernels update each row of ``F`` on its own, in fixed
    blocks of 64 rows: calling them on runs of whole blocks gives the same
    factors, in calls short enough for a cancel to land between them.
    """
    n = F.shape[0]
    total = 0.0
    for lo, hi in work_chunks(-(-n // 64), 16, memory=memory):
        a, b = lo * 64, min(hi * 64, n)
        total += kernel(B[a:b], G, F[a:b], *rest)
    return total


def nndsvd(X, k: int, variant: str, rng: np.random.Generator, masked: bool = False, Xt=None, n_iter: int = 2):
    """Non-negative double SVD initialisation (Boutsidis & Gallopoulos 2008).

    Each singular pair ``(u_j, v_j)`` is split into its positive and negative
    parts and the larger of ``(u+ v+^T, u- v-^T)`` becomes component ``j``;
    the first is ``(|u_1|, |v_1|)``. The SVD is the randomized one of
    :mod:`mfstudio.models.svd` (2 power iterations: an initialisation needs
    no more). ``variant``: "nndsvd" leaves the zeros, "nndsvda" fills them
    with the mean of ``X`` (as scikit-learn does; with ``masked``, the mean
    of the observed entries scaled as ``sqrt(mean / k)``).

    For ratings (``masked``) the SVD is taken of the zero-filled matrix
    scaled by ``cells / observed``, the usual spectral start of matrix
    completion, so the factors have the scale of the ratings.

    Returns
    -------
    W : ndarray (n, k) float32, Ht : ndarray (m, k) float32
    """
    import scipy.sparse as sp
    n, m = X.shape
    scale = (n * m) / max(X.nnz, 1) if masked else 1.0
    op = SparseOperator(sp.csr_matrix(X, dtype=np.float32), Xt=Xt)
    U = s = V = None
    for tag, value in randomized_svd_steps(op, k, 10, n_iter, rng, np.float32):
        if tag == "final":
            U, s, V = value
    U = U.astype(np.float64)
    V = V.astype(np.float64)
    s = s * scale
    W = np.zeros((n, k))
    Ht = np.zeros((m, k))
    r = s.size
    if r:
        W[:, 0] = math.sqrt(s[0]) * np.abs(U[:, 0])
        Ht[:, 0] = math.sqrt(s[0]) * np.abs(V[:, 0])
    for j in range(1, r):
        x, y = U[:, j], V[:, j]
        xp, yp = np.maximum(x, 0), np.maximum(y, 0)
        xn, yn = np.abs(np.minimum(x, 0)), np.abs(np.minimum(y, 0))
        xpn, ypn, xnn, ynn = (float(np.linalg.norm(v)) for v in (xp, yp, xn, yn))
        mp, mn = xpn * ypn, xnn * ynn
        if mp > mn:
            u, v, sigma = xp / xpn, yp / ypn, mp
        elif mn > 0:
            u, v, sigma = xn / xnn, yn / ynn, mn
        else:
            continue
        lbd = math.sqrt(s[j] * sigma)
        W[:, j] = lbd * u
        Ht[:, j] = lbd * v
    W[W < _EPS] = 0
    Ht[Ht < _EPS] = 0
    if variant == "nndsvda":
        if masked:
            avg = math.sqrt(float(X.data.mean()) / k)
        else:
            avg = float(X.data.sum(dtype=np.float64)) / (n * m)
        W[W == 0] = avg
        Ht[Ht == 0] = avg
    return W.astype(np.float32), Ht.astype(np.float32)


class NMF(FactorModel):
    """Non-negative matrix factorization ``X ~ W H`` (topics, parts, taste groups).

    Parameters
    ----------
    n_factors : int, default 10
        Number of parts ``k`` (topics, image parts).
    n_epochs : int, default 200
        Iterations; one iteration updates ``H`` then ``W`` once.
    solver : {"cd", "hals", "mu"}, default "cd"
        Accelerated coordinate descent (HALS with several inner sweeps per
        product), plain HALS, or multiplicative updates.
    beta_loss : {"frobenius", "kullback-leibler"}, default "frobenius"
        The divergence minimised; Kullback-Leibler (the Poisson likelihood,
        natural for word counts) needs ``solver="mu"``.
    init : {"nndsvda", "nndsvd", "random"}, default "nndsvda"
        Start: non-negative double SVD (zeros filled with the mean, or left),
        or ``sqrt(mean / k) * |N(0, 1)|`` entries.
    reg : float, default 0
        L2 strength on ``W`` and ``H`` (scikit-learn scaling, see the module notes).
    l1 : float, default 0
        L1 strength on ``W`` and ``H``: sparser parts and weights.
    tol : float, default 0
        Stop when an iteration lowers the loss by less than ``tol`` times
        the first iteration's loss; 0 runs all ``n_epochs``.
    seed : int, default 0
        Seed of the initialisation (the random start, or the randomized SVD).

    Attributes
    ----------
    user_factors_ : ndarray (n_rows, k) float32
        ``W``.
    item_factors_ : ndarray (n_cols, k) float32
        ``H^T``.
    components_ : ndarray (k, n_cols)
        ``H`` (property): row ``t`` is part ``t`` (a topic's term weights,
        an image part's pixels).
    masked_ : bool
        Whether the fit counted observed entries only (ratings, grids with empty cells).
    n_excluded_cells_ : int
        Cells left out of the objective by the correction path: the
        ``missing_cells`` of a cell holdout (or a grid's few empty cells).
    reconstruction_err_ : float
        Final ``||X - W H||_F`` (over observed entries when masked).
    relative_error_ : float
        ``reconstruction_err_ / ||X||_F``.

    Notes
    -----
    Each :class:`~mfstudio.models.base.FitStep` carries the objective as
    ``train_loss`` (``0.5 ||X - WH||^2 + penalties``, or the generalised KL
    divergence ``sum x log(x / v) - x + v``) and
    ``extra["relative_error"]``.
    """

    name = "nmf"
    title = "Non-negative matrix factorization"
    summary = ("Explains the data as sums of a few non-negative parts, such as topics in documents or strokes in "
               "images, which makes its factors easy to read. The parts change with the rank and the seed, and on "
               "ratings, where a missing rating is unknown rather than zero, SGD or ALS predict better.")
    objective = (
        "min 0.5 ||X - W H||_F^2 (or KL(X || W H)) + l1 (|W|_1 + |H|_1) + 0.5 reg (||W||_F^2 + ||H||_F^2), "
        "W, H >= 0; ratings: observed entries only"
    )
    params_spec = (
        factors_spec(10, "number of parts (topics, image parts)"),
        Param("n_epochs", "int", 200, "iterations (each updates both factors once)", low=1, high=100_000),
        Param("solver", "choice", "cd",
              "cd (fast coordinate descent), hals (one sweep per product) or mu (multiplicative updates)",
              choices=("cd", "hals", "mu")),
        Param("beta_loss", "choice", "frobenius",
              "frobenius (squared error) or kullback-leibler (for counts; needs solver mu)",
              choices=("frobenius", "kullback-leibler")),
        Param("init", "choice", "nndsvda", "nndsvda, nndsvd (from the SVD) or random",
              choices=("nndsvda", "nndsvd", "random")),
        Param("reg", "float", 0.0, "L2 penalty on both factors (scaled like scikit-learn's alpha)", low=0.0),
        Param("l1", "float", 0.0, "L1 penalty on both factors: sparser topics and weights", low=0.0),
        Param("tol", "float", 0.0,
              "stop when an iteration improves the loss by less than this fraction; 0 never stops early",
              low=0.0, high=1.0),
        seed_spec("seed of the initialisation; same seed, same factors"),
    )

    def _check_together(self, values: dict) -> None:
        if values["beta_loss"] == "kullback-leibler" and values["solver"] != "mu":
            raise ParamError(f"beta_loss 'kullback-leibler' needs solver 'mu' (solver is {values['solver']!r})",
                             param="solver", fix="choose solver 'mu' or beta_loss 'frobenius'")
    kinds = ("documents", "images", "dense", "implicit", "explicit")
    task = "reconstruction"

    # ---------------------------------------------------------------- params
    def _checked_params(self, train: Dataset) -> dict:
        p = self.validate_params()
        k, solver, beta, init = p["n_factors"], p["solver"], p["beta_loss"], p["init"]
        if init != "random" and k > min(train.shape):
            raise ParamError(
                f"n_factors must be at most min(n_rows, n_cols) = {min(train.shape)} with init {init!r}, not {k}",
                param="n_factors", fix="lower n_factors or use init 'random'")
        if beta == "kullback-leibler" and train.missing_cells is not None and train.missing_cells.size \
                and not self.is_masked(train):
            raise ParamError(
                "beta_loss 'kullback-leibler' cannot leave held-out cells out of the fit", param="beta_loss",
                fix="use beta_loss 'frobenius' with a cell holdout, or fit on all data")
        vmin = float(train.values.min())
        if vmin < 0:
            raise DataError(f"NMF needs non-negative data, but this dataset has values down to {vmin:g}",
                            fix="shift or clip the values, or use TruncatedSVD")
        return {"k": k, "n_epochs": p["n_epochs"], "solver": solver, "beta": beta, "init": init,
                "reg": p["reg"], "l1": p["l1"], "tol": p["tol"], "seed": p["seed"]}

    @staticmethod
    def is_masked(train: Dataset) -> bool:
        """Ratings (and grids or image sets with empty cells): missing entries are unknown, fit observed ones only."""
        return observed_only(train)

    @staticmethod
    def _excluded_cells(train: Dataset, X, masked: bool, beta: str):
        """Sorted flat indices of cells to leave out by the correction path, or None.

        The ``missing_cells`` of documents (and other all-cells kinds); or the
        empty cells of a grid or image set when they are fewer than its filled
        ones (the correction over them is then cheaper than the masked
        kernels' per-observed-entry Gram matrices; same objective).
        """
        n, m = X.shape
        if not masked:
            cells = train.missing_cells
            return unique_sorted(cells) if cells is not None and cells.size else None
        if train.kind in ("dense", "images") and beta == "frobenius" and n * m - X.nnz <= X.nnz:
            filled = np.zeros(n * m, dtype=bool)
            filled[np.repeat(np.arange(n, dtype=np.int64), np.diff(X.indptr)) * m + X.indices] = True
            return np.flatnonzero(~filled)
        return None

    # ------------------------------------------------------------------ fit
    def _fit_steps(self, train: Dataset):
        p = self._checked_params(train)
        k = p["k"]
        n, m = train.shape
        masked = self.is_masked(train)
        self.masked_ = masked
        X = train.to_csr(np.float32)
        X.sum_duplicates()
        excluded = self._excluded_cells(train, X, masked, p["beta"])
        self.n_excluded_cells_ = 0 if excluded is None else int(excluded.size)
        observed_kernels = masked and excluded is None  # else full-matrix kernels, corrected over `excluded`
        if excluded is not None:
            ex_rows, ex_cols = np.divmod(excluded, m)
            stored = np.repeat(np.arange(n, dtype=np.int64), np.diff(X.indptr)) * m + X.indices
            stored_but_left_out = _in_sorted(stored, excluded)
            if stored_but_left_out.any():  # a left-out cell must hold 0 in X: drop stored values there
                X.data[stored_but_left_out] = 0
                X.eliminate_zeros()
            ex_indptr = np.concatenate([[0], np.cumsum(np.bincount(ex_rows, minlength=n))]).astype(np.int64)
            ex_indices = ex_cols.astype(np.int32)
            by_col = np.argsort(ex_cols, kind="stable")  # rows stay ascending within a column
            ex_indptr_t = np.concatenate([[0], np.cumsum(np.bincount(ex_cols, minlength=m))]).astype(np.int64)
            ex_indices_t = ex_rows[by_col].astype(np.int32)
        Xt = X.T.tocsr()  # CSC of X, as CSR of X^T: rows = columns of X
        xx = float(np.dot(X.data.astype(np.float64), X.data.astype(np.float64)))
        rng = np.random.default_rng(p["seed"])

        with single_threaded_blas():
            W, Ht = self._initial_factors(X, Xt, k, p["init"], rng, masked)
        self.user_factors_ = W
        self.item_factors_ = Ht

        l1, l2 = p["l1"], p["reg"]
        if observed_kernels:
            row_count = np.diff(X.indptr).astype(np.float64)
            col_count = np.diff(Xt.indptr).astype(np.float64)
        elif excluded is not None:
            row_count = m - np.diff(ex_indptr).astype(np.float64)
            col_count = n - np.diff(ex_indptr_t).astype(np.float64)
        else:
            row_count = np.full(n, float(m))
            col_count = np.full(m, float(n))

        def penalty():
            if l1 == 0 and l2 == 0:
                return 0.0
            W64, H64 = W.astype(np.float64), Ht.astype(np.float64)
            total = row_count @ (l1 * W64.sum(axis=1) + 0.5 * l2 * (W64**2).sum(axis=1))
            total += col_count @ (l1 * H64.sum(axis=1) + 0.5 * l2 * (H64**2).sum(axis=1))
            return float(total)

        dense = (not observed_kernels and X.nnz >= _DENSE_FRACTION * n * m and n * m <= _DENSE_CELLS)
        Xd = X.toarray() if dense else None
        Xdt = np.ascontiguousarray(Xd.T) if dense else None
        if dense or observed_kernels:
            rho_w = rho_h = 0.0
        else:
            rho_w = (X.nnz / k + m) / n  # (product + Gram) / one sweep, for W
            rho_h = (X.nnz / k + n) / m
        if p["solver"] == "hals":
            inner_w = inner_h = 1
        elif observed_kernels:
            inner_w = inner_h = 10
        elif dense:
            inner_w = 1 + int(_ALPHA * (m / k + m / n))  # dense product: m k per row of W, vs k^2
            inner_h = 1 + int(_ALPHA * (n / k + n / m))
        else:
            inner_w = 1 + int(_ALPHA * rho_w)
            inner_h = 1 + int(_ALPHA * rho_h)
        inner_w, inner_h = min(inner_w, _MAX_INNER), min(inner_h, _MAX_INNER)

        def times_X(F):  # X @ F, F (m x k) -> (n x k)
            if dense:
                return Xd @ F
            out = np.empty((n, k), dtype=np.float32)
            kernels.spmm(X.indptr, X.indices, X.data, F, out)
            return out

        def times_Xt(F):  # X^T @ F, F (n x k) -> (m x k)
            if dense:
                return Xdt @ F
            out = np.empty((m, k), dtype=np.float32)
            kernels.spmm(Xt.indptr, Xt.indices, Xt.data, F, out)
            return out

        def gram(F):
            return (F.T @ F).astype(np.float64)

        first = prev = None
        memories = ({}, {})  # chunk sizes of the two half updates (mfstudio.models.stopping)
        for epoch in range(p["n_epochs"]):
            with single_threaded_blas():
                if p["beta"] == "kullback-leibler":
                    kernels.kl_mu_rows(Xt.indptr, Xt.indices, Xt.data, W, Ht, W.sum(axis=0).astype(np.float64),
                                       masked, l1 * (1.0 if masked else n), l2 * (1.0 if masked else n), _EPS)
                    kernels.kl_mu_rows(X.indptr, X.indices, X.data, Ht, W, Ht.sum(axis=0).astype(np.float64),
                                       masked, l1 * (1.0 if masked else m), l2 * (1.0 if masked else m), _EPS)
                    loss = kernels.kl_loss_rows(X.indptr, X.indices, X.data, W, Ht, masked, _EPS)
                    if not masked:
                        loss += float(W.sum(axis=0, dtype=np.float64) @ Ht.sum(axis=0, dtype=np.float64))
                    loss += penalty()
                    sq_err = self._squared_error(X, W, Ht, xx, masked, times_X)
                elif excluded is not None:
                    B = times_Xt(W)
                    if p["solver"] == "mu":
                        kernels.excluded_mu_rows(B, gram(W), ex_indptr_t, ex_indices_t, W, Ht, l1, l2, float(n), _EPS)
                        B = times_X(Ht)
                        G = gram(Ht)
                        inner = kernels.excluded_mu_rows(B, G, ex_indptr, ex_indices, Ht, W, l1, l2, float(m), _EPS)
                    else:
                        kernels.excluded_cd_rows(B, gram(W), ex_indptr_t, ex_indices_t, W, Ht, l1, l2, float(n),
                                                 inner_h, _INNER_TOL)
                        B = times_X(Ht)
                        G = gram(Ht)
                        inner = kernels.excluded_cd_rows(B, G, ex_indptr, ex_indices, Ht, W, l1, l2, float(m),
                                                         inner_w, _INNER_TOL)
                    # The full-matrix error counts the left-out cells as zeros to reproduce: take them back out.
                    full = xx - 2.0 * inner + float(np.sum(gram(W) * G))
                    sq_err = max(full - kernels.excluded_sq_rows(ex_indptr, ex_indices, W, Ht), 0.0)
                    loss = 0.5 * sq_err + penalty()
                elif masked:
                    if p["solver"] == "mu":
                        kernels.masked_mu_rows(Xt.indptr, Xt.indices, Xt.data, W, Ht, l1, l2, _EPS)
                        sq_err = kernels.masked_mu_rows(X.indptr, X.indices, X.data, Ht, W, l1, l2, _EPS)
                    else:
                        kernels.masked_cd_rows(Xt.indptr, Xt.indices, Xt.data, W, Ht, l1, l2, inner_h, _INNER_TOL)
                        sq_err = kernels.masked_cd_rows(X.indptr, X.indices, X.data, Ht, W, l1, l2, inner_w, _INNER_TOL)
                    loss = 0.5 * sq_err + penalty()
                else:
                    B = times_Xt(W)
                    if p["solver"] == "mu":
                        _in_row_chunks(kernels.mu_rows, B, gram(W), Ht, (l1 * n, l2 * n, _EPS), memories[0])
                        if stop_requested():
                            return
                        B = times_X(Ht)
                        G = gram(Ht)
                        inner = _in_row_chunks(kernels.mu_rows, B, G, W, (l1 * m, l2 * m, _EPS), memories[1])
                    else:  # "cd" and "hals" differ in their inner sweeps (inner_h, inner_w)
                        _in_row_chunks(kernels.hals_rows, B, gram(W), Ht, (l1 * n, l2 * n, inner_h, _INNER_TOL),
                                       memories[0])
                        if stop_requested():
                            return
                        B = times_X(Ht)
                        G = gram(Ht)
                        inner = _in_row_chunks(kernels.hals_rows, B, G, W, (l1 * m, l2 * m, inner_w, _INNER_TOL),
                                               memories[1])
                    if stop_requested():
                        return
                    sq_err = max(xx - 2.0 * inner + float(np.sum(gram(W) * G)), 0.0)
                    loss = 0.5 * sq_err + penalty()
                rel = math.sqrt(sq_err / xx) if xx > 0 else 0.0
                self.reconstruction_err_ = math.sqrt(sq_err)
                self.relative_error_ = rel
            yield loss, {"relative_error": rel}
            if first is None:
                first = loss
            elif p["tol"] > 0 and prev - loss < p["tol"] * abs(first):
                break
            prev = loss

    @staticmethod
    def _squared_error(X, W, Ht, xx, masked, times_X) -> float:
        """``||X - W H||^2`` (observed entries only when masked), for the KL solver's report."""
        if masked:
            from ..metrics import masked_reconstruction_error

            coo = X.tocoo()
            return masked_reconstruction_error(coo.row, coo.col, coo.data, W, Ht.T)["absolute"] ** 2
        B = times_X(Ht)
        inner = float(np.sum(W.astype(np.float64) * B))
        G = (Ht.T @ Ht).astype(np.float64)
        return max(xx - 2.0 * inner + float(np.sum((W.T @ W).astype(np.float64) * G)), 0.0)

    def _initial_factors(self, X, Xt, k, init, rng, masked):
        n, m = X.shape
        if init == "random":
            mean = float(X.data.mean()) if masked else float(X.data.sum(dtype=np.float64)) / (n * m)
            avg = math.sqrt(max(mean, 0.0) / k)
            Ht = np.abs(avg * rng.standard_normal((m, k))).astype(np.float32)
            W = np.abs(avg * rng.standard_normal((n, k))).astype(np.float32)
            return np.ascontiguousarray(W), np.ascontiguousarray(Ht)
        return nndsvd(X, k, init, rng, masked=masked, Xt=Xt, n_iter=_INIT_POWER_ITER)

    # ------------------------------------------------------------ results
    @property
    def components_(self) -> np.ndarray:
        """``H``, shape (k, n_cols): one part (topic, image part) per row."""
        return self.item_factors_.T

    def top_columns(self, n: int = 10):
        """Indices and weights of the ``n`` strongest columns (terms, pixels) of each part.

        Returns
        -------
        index : ndarray (k, n) int64; weight : ndarray (k, n) float32
        """
        H = self.components_
        n = min(n, H.shape[1])
        order = np.argsort(-H, axis=1, kind="stable")[:, :n]
        return order, np.take_along_axis(H, order, axis=1)

    def _predict(self, users, items):
        return _clip_ratings(self, super()._predict(users, items))

    def score(self, test: Dataset, k: int = 10, sample_users: int | None = None) -> dict:
        """RMSE/MAE (+ relative error) on ratings; relative reconstruction error on other data.

        See :func:`mfstudio.models.svd.score_reconstruction` for which entries count.
        """
        return score_reconstruction(self, test)

    def fold_in(self, items, values=None):
        """Non-negative weights of a new row (document, image, user) given its entries.

        Solves ``min_{w >= 0} ||x - H^T w||`` (non-negative least squares with
        ``H`` fixed): over the given entries only for ratings, over every
        column (unlisted ones being zeros) otherwise.

        Returns
        -------
        (vector, bias)
            ``w`` (k,) float32 and 0.0 (NMF has no biases).
        """
        from scipy.optimize import nnls

        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        values = np.ones(items.size) if values is None else np.asarray(values, dtype=np.float64)
        Ht = self.item_factors_.astype(np.float64)
        if items.size == 0:
            return np.zeros(Ht.shape[1], dtype=np.float32), 0.0
        if getattr(self, "masked_", self.is_masked(self.train_)):
            A, b = Ht[items], values
        else:
            b = np.zeros(Ht.shape[0])
            np.add.at(b, items, values)
            A = Ht
        w, _ = nnls(A, b)
        return w.astype(np.float32), 0.0
