"""Truncated SVD: the best rank-k approximation of a matrix (Eckart-Young).

Two algorithms:

``randomized``
    Halko, Martinsson & Tropp (2011), "Finding structure with randomness",
    algorithm 4.4 (randomized subspace iteration): a Gaussian test matrix of
    ``k + n_oversamples`` columns, ``n_iter`` power iterations that
    re-orthonormalise both sides between products, then Rayleigh-Ritz on the
    subspace found. Sparse input is never densified: every product is a
    parallel numba sparse-dense kernel (:mod:`mfstudio.kernels.nmf`), and
    ``X^T B`` is taken in scatter form, so no transposed copy is made.
    Orthonormalisation works on the ``l x l`` Gram matrix in float64
    (eigenvalue "SVD-QR", which is Cholesky-QR that also hands over the Ritz
    values): on a tall matrix, a QR of the 100,000 x 110 block is the most
    expensive step of the textbook algorithm, the Gram matrix is cheap. Each
    power iteration is one step of :meth:`iter_fit`, with the Ritz estimate
    of the spectrum so far in ``extra["singular_values"]``.
``lanczos``
    ``scipy.sparse.linalg.svds`` (ARPACK, implicitly restarted Lanczos):
    accurate to machine precision, one step.

Centering (``center``) is applied implicitly: for ratings (``explicit``)
the mean (global, per user, per item, or the Baseline model's damped
biases) is subtracted from the observed entries only and **missing ratings
are zeros after centering**, i.e. they are imputed with the mean; for every
other kind the whole matrix, zeros included, is centered as ``X - A B^T``
(a rank-one or rank-three correction inside the products, never a dense
matrix). The mean is added back when predicting
(``global_mean_``, ``user_bias_``, ``item_bias_``).

The factors are split as ``user_factors_ = U * s`` and ``item_factors_ =
V``, so that ``user_factors_ @ item_factors_.T`` is the rank-k
reconstruction, ``item_factors_`` has orthonormal columns (a new row is
folded in by ``x @ V``), and ``components_ = V^T`` is the classic
``(k, n_cols)`` layout of scikit-learn's ``TruncatedSVD``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp  # only for annotations: scipy.sparse is imported where it is used

from ..data.arrays import unique_sorted
from ..data.dataset import Dataset
from ..data.errors import DataError
from ..kernels import lazy
from .base import FactorModel
from .params import FACTORS_HIGH, Param, ParamError, factors_spec, seed_spec

_nmf_kernels = lazy("nmf")  # numba loads on the first fit, not with the method list

__all__ = [
    "TruncatedSVD",
    "SparseOperator",
    "randomized_svd_steps",
    "single_threaded_blas",
    "CENTER_CHOICES",
    "decomposition_scores",
    "score_reconstruction",
    "unknown_cells",
    "observed_only",
]

CENTER_CHOICES = ("auto", "none", "global", "user", "item", "both")
_DTYPES = {"float32": np.float32, "float64": np.float64}

# Rows per chunk when a tall float32 block is cast to float64 for a Gram
# matrix (keeps the temporary at a few MB).
_GRAM_CHUNK = 8192

# Imputation (a fit that must leave some cells out): at most this many
# re-factorisations, stopping once the imputed values move by less than
# _IMPUTE_TOL of the data's norm. Measured on sample:bars with a 10% cell
# holdout, k=16: the held-out error falls 0.43 (zero-filled) -> 1e-3 by
# iteration ~12 (see tests/test_decomposition_protocol.py).
_IMPUTE_ITERATIONS = 30
_IMPUTE_TOL = 1e-4
# Grids with empty cells are imputed cell by cell; beyond this many cells the
# filled matrix would not fit in memory comfortably.
_IMPUTE_CELLS_LIMIT = 1 << 26


_BLAS_CONTROLLER = None


def single_threaded_blas():
    """Context manager: BLAS on one thread while a fit computes.

    The numba kernels own the cores during a fit; OpenBLAS threads spinning
    beside them (or on a machine busy with other work) made the tiny Gram
    products of a fit hundreds of times slower here (0.5 s instead of 1 ms
    for a 6000 x 30 Gram matrix). Entered per step, never across a yield,
    so the caller's BLAS settings are untouched between steps.
    """
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        import scipy.linalg  # noqa: F401  (load scipy's BLAS before looking for BLAS libraries)
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


class SparseOperator:
    """``X - A B^T`` for a CSR ``X``, as the products the SVD needs.

    ``matmul(C) = X C - A (B^T C)``, ``rmatmul(Q) = X^T Q - B (A^T Q)``,
    the sparse parts by the parallel numba kernels; ``.T`` swaps the two
    without copying ``X``. ``A`` (n x r) and ``B`` (m x r) are a low-rank
    correction (the means removed by centering), ``None`` for none.
    """

    def __init__(self, X: sp.csr_matrix, A=None, B=None, transposed: bool = False, Xt: sp.csr_matrix | None = None):
        self.X = X
        self.Xt = Xt  # optional CSR copy of X^T: X^T products then gather instead of scatter
        self.A = None if A is None else np.asarray(A).reshape(X.shape[0], -1)
        self.B = None if B is None else np.asarray(B).reshape(X.shape[1], -1)
        self.transposed = transposed
        n, m = X.shape
        self.shape = (m, n) if transposed else (n, m)
        self.dtype = X.dtype

    @property
    def T(self) -> "SparseOperator":
        return SparseOperator(self.X, self.A, self.B, not self.transposed, self.Xt)

    def _x_times(self, C):  # X @ C
        out = np.empty((self.X.shape[0], C.shape[1]), dtype=C.dtype)
        _nmf_kernels.spmm(self.X.indptr, self.X.indices, self.X.data, C, out)
        if self.A is not None:
            out -= (self.A @ (self.B.T @ C)).astype(C.dtype, copy=False)
        return out

    def _xt_times(self, Q):  # X^T @ Q
        out = np.empty((self.X.shape[1], Q.shape[1]), dtype=Q.dtype)
        if self.Xt is not None:
            _nmf_kernels.spmm(self.Xt.indptr, self.Xt.indices, self.Xt.data, Q, out)
        else:
            import numba

            _nmf_kernels.spmm_t(self.X.indptr, self.X.indices, self.X.data, Q, out,
                                max(1, numba.get_num_threads()))
        if self.A is not None:
            out -= (self.B @ (self.A.T @ Q)).astype(Q.dtype, copy=False)
        return out

    def matmul(self, C):
        C = np.ascontiguousarray(C)
        return self._xt_times(C) if self.transposed else self._x_times(C)

    def rmatmul(self, Q):
        Q = np.ascontiguousarray(Q)
        return self._x_times(Q) if self.transposed else self._xt_times(Q)

    def column_sums(self) -> np.ndarray:
        """Column sums of ``X - A B^T`` (the untransposed matrix) in float64."""
        X = self.X
        sums = np.bincount(X.indices, weights=X.data.astype(np.float64), minlength=X.shape[1])
        if self.A is not None:
            sums -= self.B.astype(np.float64) @ self.A.astype(np.float64).sum(axis=0)
        return sums

    def total_column_variance(self) -> float:
        """``sum_j var(column j of X - A B^T)`` (population variance), as scikit-learn's ``TruncatedSVD`` divides by.

        ``||X_c||_F^2 / n - ||column sums||^2 / n^2``: no dense copy of a sparse ``X``.
        """
        n = self.X.shape[0]
        sums = self.column_sums()
        return max(self.squared_norm() / n - float(sums @ sums) / (n * n), 0.0)

    def squared_norm(self) -> float:
        """``||X - A B^T||_F^2`` in float64, from the stored entries and the correction."""
        import scipy.sparse as sp
        data = self.X.data.astype(np.float64)
        total = float(data @ data)
        if self.A is not None:
            A = self.A.astype(np.float64)
            B = self.B.astype(np.float64)
            Xd = sp.csr_matrix((data, self.X.indices, self.X.indptr), shape=self.X.shape)
            total += -2.0 * float(np.sum(A * (Xd @ B))) + float(np.sum((A.T @ A) * (B.T @ B)))
        return max(total, 0.0)


def _gram64(Y: np.ndarray) -> np.ndarray:
    """``Y^T Y`` accumulated in float64, casting at most one chunk of rows at a time."""
    if Y.dtype == np.float64:
        return Y.T @ Y
    G = np.zeros((Y.shape[1], Y.shape[1]))
    for start in range(0, Y.shape[0], _GRAM_CHUNK):
        block = Y[start:start + _GRAM_CHUNK].astype(np.float64)
        G += block.T @ block
    return G


def _times64(Y: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``Y @ M`` with the products in float64, result in Y's dtype."""
    if Y.dtype == np.float64:
        return Y @ M
    out = np.empty((Y.shape[0], M.shape[1]), dtype=Y.dtype)
    for start in range(0, Y.shape[0], _GRAM_CHUNK):
        out[start:start + _GRAM_CHUNK] = Y[start:start + _GRAM_CHUNK].astype(np.float64) @ M
    return out


def _ritz_orth(Y: np.ndarray):
    """Orthonormal basis of the columns of ``Y`` and their singular values.

    Eigen-decomposition of the float64 Gram matrix: ``Y^T Y = V L V^T``,
    ``Q = Y V L^{-1/2}`` (columns ordered by decreasing singular value
    ``sqrt(L)``). Directions with ``L`` below ``1e-12 * max(L)`` (a
    rank-deficient block) are dropped, so ``Q`` may have fewer columns.
    Orthogonality is then to about ``eps * cond(Y)^2`` in float64 terms,
    far below float32 rounding for the conditioning power iterations leave.

    Returns ``(Q, s, W)``: ``Y = Q diag(s) W^T`` is the thin SVD of ``Y``.
    """
    G = _gram64(Y)
    evals, evecs = np.linalg.eigh(G)
    evals, evecs = evals[::-1], evecs[:, ::-1]
    top = evals[0] if evals.size else 0.0
    keep = evals > max(top, 0.0) * 1e-12
    evals, evecs = evals[keep], evecs[:, keep]
    s = np.sqrt(evals)
    return _times64(Y, evecs / s), s, evecs


def randomized_svd_steps(op, k: int, n_oversamples: int, n_iter: int, rng: np.random.Generator, dtype=np.float32):
    """Randomized truncated SVD, one yield per power iteration.

    Parameters
    ----------
    op : SparseOperator
        The matrix (``shape``, ``matmul``, ``rmatmul``, ``T``).
    k, n_oversamples, n_iter : int
        Rank wanted, extra columns of the test matrix, power iterations.
    rng : numpy.random.Generator
        Draws the Gaussian test matrix.

    Yields
    ------
    ("estimate", s) after each power iteration (Ritz values of the current
    subspace, descending, length ``<= k + n_oversamples``), then once
    ``("final", (U, s, V))`` with ``U`` (n x k), ``s`` (k,) descending and
    ``V`` (m x k); fewer than ``k`` columns only if the matrix has lower rank.

    Notes
    -----
    Work is arranged on the taller side: with ``n >= m`` the test matrix
    ``Omega`` (m x l) is orthonormalised (cheap), ``Y = X Omega`` (n x l)
    is orthonormalised through its l x l Gram matrix, whose eigenvalues are
    at the same time the Ritz values ``sigma(X Omega)`` shown while
    iterating. ``2 n_iter + 2`` products with ``X`` in all, as the textbook
    algorithm.
    """
    n, m = op.shape
    if n < m:  # work on the transpose so the Gram matrices stay on the long side
        for tag, value in randomized_svd_steps(op.T, k, n_oversamples, n_iter, rng, dtype):
            if tag == "final":
                U, s, V = value
                value = (V, s, U)
            yield tag, value
        return
    ell = min(k + n_oversamples, m)
    omega = rng.standard_normal((m, ell)).astype(dtype)
    omega = _ritz_orth(omega)[0]
    for it in range(n_iter + 1):
        Y = op.matmul(omega)  # n x l
        Q, s_est, _ = _ritz_orth(Y)  # Ritz values of X Omega, Omega orthonormal
        Z = op.rmatmul(Q)  # m x l = (Q^T X)^T
        if it == n_iter:
            break
        yield "estimate", s_est
        omega = _ritz_orth(Z)[0]
    # Rayleigh-Ritz: B = Q^T X = Z^T = W diag(s) V^T, so Z = V diag(s) W^T
    # is the thin SVD of Z, and U = Q W.
    V, s, W = _ritz_orth(Z)
    U = _times64(Q, W)
    r = min(k, s.size)
    yield "final", (U[:, :r], s[:r], V[:, :r])


class TruncatedSVD(FactorModel):
    """Truncated singular value decomposition (LSA on documents, PCA with centering).

    Parameters
    ----------
    n_factors : int, default 20
        Rank ``k`` of the approximation (number of singular triplets).
    algorithm : {"randomized", "lanczos"}, default "randomized"
        Randomized subspace iteration (fast, sparse-friendly, one step per
        power iteration) or ARPACK Lanczos (``scipy.sparse.linalg.svds``;
        exact, one step; needs ``n_factors < min(n_rows, n_cols)``).
    n_iter : int, default 4
        Power iterations of the randomized algorithm (more: more accurate
        trailing singular values; 0 is a single pass).
    n_oversamples : int, default 10
        Extra random directions beyond ``n_factors`` (randomized only).
    center : {"auto", "none", "global", "user", "item", "both"} or bool, default "auto"
        Mean to subtract before the decomposition and add back when
        predicting: the global mean, row ("user") means, column ("item")
        means, or both (ratings: the damped user and item biases of the
        Baseline model; other data: double centering). "auto": "both" for
        ratings, "none" otherwise; True = "global", False = "none". "item"
        centering of a dense or image matrix is PCA. On ratings the mean is
        subtracted from the observed entries and **missing ratings count as
        zeros after centering** (they are imputed with the mean).
    dtype : {"float32", "float64"}, default "float32"
        Working precision of the products and the factors.
    seed : int, default 0
        Seed of the random test matrix (Lanczos: of its start vector).

    Attributes
    ----------
    user_factors_ : ndarray (n_rows, k)
        ``U * s``.
    item_factors_ : ndarray (n_cols, k)
        ``V`` (orthonormal columns).
    components_ : ndarray (k, n_cols)
        ``V^T`` (property).
    singular_values_ : ndarray (k,)
        Descending.
    explained_variance_ratio_ : ndarray (k,)
        scikit-learn's ``TruncatedSVD`` definition: the variance of each
        component's projection (column ``i`` of ``U * s``) divided by
        ``total_variance_``, the summed variance of the columns of the
        decomposed matrix ``X_c``. Without centering the column means are
        not variance, so the sum is well below ``frobenius_share_`` on
        non-negative data (documents, images); with ``center="item"`` (PCA)
        the two agree.
    frobenius_share_ : ndarray (k,)
        ``s_i^2 / ||X_c||_F^2``: the share of the squared Frobenius norm
        each component captures (column means included); cumulative sum at
        most 1. Not a variance.
    total_variance_ : float
        ``sum_j var(X_c[:, j])``.
    reconstruction_errors_ : ndarray (k,)
        Relative Frobenius error ``||X_c - X_c,r||_F / ||X_c||_F`` of the
        rank-r truncation for r = 1..k, ``sqrt(1 - cumsum(s^2) / ||X_c||^2)``.
    squared_norm_ : float
        ``||X_c||_F^2``.
    global_mean_ : float; user_bias_, item_bias_ : ndarray, when centered.
    n_unknown_cells_ : int
        Cells fitted by imputation rather than from data (see Notes).

    Notes
    -----
    Cells that are unknown although the kind's absent cells otherwise mean
    zero (``Dataset.missing_cells``: the training side of a cell holdout)
    and the empty cells of a dense grid or image set are not data: the SVD
    then imputes them (hard-impute EM, Mazumder et al. 2010 without
    shrinkage): start each at its column's mean over the known cells,
    factor the filled matrix, refill those cells with the rank-k
    reconstruction, and repeat, at most 30 times, until the filled values
    move by less than 1e-4 of the data's norm. One step per re-factorisation. Ratings are
    not imputed this way: centering already imputes them with the mean.
    """

    name = "svd"
    title = "Truncated SVD"
    summary = ("Splits the matrix into its strongest patterns, strongest first, and keeps the top k: exact, fast, "
               "no epochs to tune, and its spectrum shows how many patterns matter. It fills missing ratings with "
               "the baseline's guess, so it predicts ratings worse than SGD or ALS, and its mixed-sign parts are "
               "harder to read than NMF's.")
    objective = "min ||X_c - U diag(s) V^T||_F^2 over rank k (X_c = X minus its mean if centered; missing ratings = 0)"
    params_spec = (
        factors_spec(20, "number of singular values and vectors to keep (the rank)"),
        Param("algorithm", "choice", "randomized",
              "randomized (fast, shows the spectrum converging) or lanczos (exact, one step)",
              choices=("randomized", "lanczos")),
        Param("n_iter", "int", 4, "power iterations of the randomized algorithm: more is more accurate",
              low=0, high=1000),
        Param("n_oversamples", "int", 10, "extra random directions the randomized algorithm tracks beyond n_factors",
              low=0, high=FACTORS_HIGH),
        # True/False: what center meant before it took words (saved models and projects still say so).
        Param("center", "choice", "auto",
              "subtract means first: auto (both for ratings), none, global, user, item (PCA) or both",
              choices=CENTER_CHOICES, aliases=((True, "global"), (False, "none"), (None, "none"))),
        Param("dtype", "choice", "float32", "working precision: float32 (fast) or float64",
              choices=("float32", "float64")),
        seed_spec("seed of the random start; same seed, same factors"),
    )
    kinds = ("explicit", "implicit", "documents", "dense", "images")
    task = "reconstruction"

    # ---------------------------------------------------------------- params
    def _checked_params(self, train: Dataset) -> dict:
        p = self.validate_params()
        k, algorithm, center = p["n_factors"], p["algorithm"], p["center"]
        limit = min(train.shape)
        if algorithm == "lanczos" and k >= limit:
            raise ParamError(f"n_factors must be below min(n_rows, n_cols) = {limit} for the lanczos algorithm, not {k}",
                             param="n_factors", fix="lower n_factors or use the randomized algorithm")
        if k > limit:
            raise ParamError(f"n_factors must be at most min(n_rows, n_cols) = {limit}, not {k}", param="n_factors",
                             fix="lower n_factors")
        if center == "auto":
            center = "both" if train.kind == "explicit" else "none"
        return {"k": k, "algorithm": algorithm, "n_iter": p["n_iter"], "n_oversamples": p["n_oversamples"],
                "center": center, "dtype": _DTYPES[p["dtype"]], "seed": p["seed"]}

    # ------------------------------------------------------------- centering
    def _operator(self, train: Dataset, center: str, dtype) -> SparseOperator:
        """The (implicitly) centered matrix; the means it removed are set on self."""
        import scipy.sparse as sp
        X = train.to_csr(np.float64)
        n, m = X.shape
        self.global_mean_ = 0.0
        for name in ("user_bias_", "item_bias_"):
            if name in vars(self):
                delattr(self, name)
        if center == "none":
            return SparseOperator(X.astype(dtype))
        if train.kind == "explicit":
            # Observed entries only: subtract the mean from each stored value;
            # a missing rating stays a zero, i.e. it is imputed with the mean.
            coo = X.tocoo()
            if center == "both":
                from .baseline import Baseline

                base = Baseline().fit(train)
                self.global_mean_ = float(base.global_mean_)
                self.user_bias_ = np.asarray(base.user_bias_, dtype=np.float64)
                self.item_bias_ = np.asarray(base.item_bias_, dtype=np.float64)
                shift = self.global_mean_ + self.user_bias_[coo.row] + self.item_bias_[coo.col]
            else:
                mu = float(coo.data.mean())
                shift = np.full(coo.data.shape, mu)
                self.global_mean_ = mu
                if center == "user":
                    count = np.bincount(coo.row, minlength=n)
                    means = np.bincount(coo.row, coo.data, minlength=n) / np.maximum(count, 1)
                    self.user_bias_ = np.where(count > 0, means - mu, 0.0)
                    shift = shift + self.user_bias_[coo.row]
                elif center == "item":
                    count = np.bincount(coo.col, minlength=m)
                    means = np.bincount(coo.col, coo.data, minlength=m) / np.maximum(count, 1)
                    self.item_bias_ = np.where(count > 0, means - mu, 0.0)
                    shift = shift + self.item_bias_[coo.col]
            Xc = sp.csr_matrix((coo.data - shift, (coo.row, coo.col)), shape=X.shape)
            return SparseOperator(Xc.astype(dtype))
        # Every cell counts (zeros included): X - A B^T, never formed.
        mu = float(X.sum()) / (n * m)
        self.global_mean_ = mu
        row_means = np.asarray(X.sum(axis=1)).ravel() / m
        col_means = np.asarray(X.sum(axis=0)).ravel() / n
        ones_n, ones_m = np.ones(n), np.ones(m)
        if center == "global":
            A, B = np.full(n, mu), ones_m
        elif center == "user":
            self.user_bias_ = row_means - mu
            A, B = row_means, ones_m
        elif center == "item":  # PCA
            self.item_bias_ = col_means - mu
            A, B = ones_n, col_means
        else:  # both: X - r 1^T - 1 c^T + mu 1 1^T (double centering)
            self.user_bias_ = row_means - mu
            self.item_bias_ = col_means - mu
            A = np.column_stack([row_means, ones_n, -mu * ones_n])
            B = np.column_stack([ones_m, col_means, ones_m])
        return SparseOperator(X.astype(dtype), np.asarray(A, dtype=dtype), np.asarray(B, dtype=dtype))

    # ------------------------------------------------------------------ fit
    def _set_factors(self, U, s, V, k, dtype, n, m):
        r = s.size
        Uf = np.zeros((n, k), dtype=dtype)
        Vf = np.zeros((m, k), dtype=dtype)
        sf = np.zeros(k)
        Uf[:, :r] = U * s.astype(dtype)
        Vf[:, :r] = V
        sf[:r] = s
        # Sign convention (as scikit-learn's svd_flip on V): the largest-|.|
        # entry of each right singular vector is positive.
        big = np.argmax(np.abs(Vf), axis=0)
        signs = np.sign(Vf[big, np.arange(k)])
        signs[signs == 0] = 1
        self.user_factors_ = Uf * signs.astype(dtype)
        self.item_factors_ = Vf * signs.astype(dtype)
        self.singular_values_ = sf
        self.frobenius_share_ = sf**2 / self.squared_norm_ if self.squared_norm_ > 0 else np.zeros(k)
        # scikit-learn's TruncatedSVD: var(X V_i) = var(U_i s_i) over the rows, over the total column variance.
        projection_variance = np.var(Uf.astype(np.float64), axis=0)
        total = self.total_variance_
        self.explained_variance_ratio_ = projection_variance / total if total > 0 else np.zeros(k)
        self.reconstruction_errors_ = _relative_errors(sf, self.squared_norm_)

    def _prepared_operator(self, data: Dataset, p: dict) -> SparseOperator:
        with single_threaded_blas():
            op = self._operator(data, p["center"], p["dtype"])
            self.squared_norm_ = op.squared_norm()
            self.total_variance_ = op.total_column_variance()
        return op

    def _fit_steps(self, train: Dataset):
        p = self._checked_params(train)
        unknown = unknown_cells(train)
        self.n_unknown_cells_ = 0 if unknown is None else int(unknown.size)
        if unknown is not None:
            yield from self._imputing_steps(train, p, unknown)
            return
        k, dtype = p["k"], p["dtype"]
        n, m = train.shape
        op = self._prepared_operator(train, p)
        rng = np.random.default_rng(p["seed"])
        # Usable (zero) factors from the start, so a cancelled fit still predicts.
        self.user_factors_ = np.zeros((n, k), dtype=dtype)
        self.item_factors_ = np.zeros((m, k), dtype=dtype)
        if p["algorithm"] == "lanczos":
            with single_threaded_blas():
                U, s, V = _lanczos(op, k, rng, dtype)
                self._set_factors(U, s, V, k, dtype, n, m)
            loss = float(self.reconstruction_errors_[-1])
            yield loss, {"singular_values": self.singular_values_.copy(), "relative_error": loss}
            return
        steps = randomized_svd_steps(op, k, p["n_oversamples"], p["n_iter"], rng, dtype)
        while True:
            with single_threaded_blas():
                try:
                    tag, value = next(steps)
                except StopIteration:
                    return
                if tag == "estimate":
                    s_est = value[:k]
                    err = _relative_errors(s_est, self.squared_norm_)
                    loss = float(err[-1]) if err.size else 1.0
                    extra = {"singular_values": s_est.copy(), "relative_error": loss}
                else:
                    U, s, V = value
                    self._set_factors(U, s, V, k, dtype, n, m)
                    loss = float(self.reconstruction_errors_[-1])
                    extra = {"singular_values": self.singular_values_.copy(), "relative_error": loss}
            yield loss, extra

    def _imputing_steps(self, train: Dataset, p: dict, unknown: np.ndarray):
        """Hard-impute EM over the ``unknown`` cells: one step per re-factorisation (see the class notes)."""
        k, dtype = p["k"], p["dtype"]
        n, m = train.shape
        known = ~_in_sorted(train.rows.astype(np.int64) * m + train.cols, unknown)
        rows_k, cols_k, vals_k = train.rows[known], train.cols[known], train.values[known].astype(np.float64)
        rows_u, cols_u = np.divmod(unknown, m)
        known_per_col = n - np.bincount(cols_u, minlength=m)
        col_means = np.bincount(cols_k, weights=vals_k, minlength=m) / np.maximum(known_per_col, 1)
        fill = col_means[cols_u]
        known_norm = math.sqrt(float(vals_k @ vals_k)) or 1.0
        rows_all = np.concatenate([rows_k, rows_u])
        cols_all = np.concatenate([cols_k, cols_u])
        rng = np.random.default_rng(p["seed"])
        self.user_factors_ = np.zeros((n, k), dtype=dtype)
        self.item_factors_ = np.zeros((m, k), dtype=dtype)
        for _ in range(_IMPUTE_ITERATIONS):
            filled = replace(train, rows=rows_all, cols=cols_all, values=np.concatenate([vals_k, fill]),
                             timestamps=None, missing_cells=None)
            op = self._prepared_operator(filled, p)
            with single_threaded_blas():
                if p["algorithm"] == "lanczos":
                    U, s, V = _lanczos(op, k, rng, dtype)
                else:
                    for tag, value in randomized_svd_steps(op, k, p["n_oversamples"], p["n_iter"], rng, dtype):
                        if tag == "final":
                            U, s, V = value
                self._set_factors(U, s, V, k, dtype, n, m)
                P, Q = _augmented_factors(self)
                new_fill = np.einsum("ij,ij->i", P[rows_u], Q[cols_u])
                change = float(np.linalg.norm(new_fill - fill)) / known_norm
                fill = new_fill
                loss = decomposition_scores(self)["relative_error"]
            yield loss, {"singular_values": self.singular_values_.copy(), "relative_error": loss,
                         "imputation_change": change}
            if change < _IMPUTE_TOL:
                return

    def expected_steps(self) -> int:
        """One step per power iteration plus the final Rayleigh-Ritz step (lanczos: one).

        A fit that imputes unknown cells (see the class notes) takes up to
        30 steps, one per re-factorisation; known once fitting has started.
        """
        train = getattr(self, "train_", None)
        if train is not None and unknown_cells(train) is not None:
            return _IMPUTE_ITERATIONS
        if self.params["algorithm"] == "lanczos":
            return 1
        return int(self.params["n_iter"]) + 1

    # ------------------------------------------------------------ results
    @property
    def components_(self) -> np.ndarray:
        """``V^T``, shape (k, n_cols)."""
        return self.item_factors_.T

    def _predict(self, users, items):
        scores = super()._predict(users, items)
        return _clip_ratings(self, scores)

    def score(self, test: Dataset, k: int = 10, sample_users: int | None = None) -> dict:
        """RMSE/MAE on ratings; relative reconstruction error on other data (see :func:`score_reconstruction`)."""
        return score_reconstruction(self, test)


def _lanczos(op: SparseOperator, k: int, rng, dtype):
    from scipy.sparse.linalg import LinearOperator, svds

    n, m = op.shape
    lin = LinearOperator(
        (n, m), dtype=dtype,
        matvec=lambda v: op.matmul(np.asarray(v, dtype=dtype).reshape(m, -1)).ravel(),
        matmat=lambda B: op.matmul(np.asarray(B, dtype=dtype)),
        rmatvec=lambda v: op.rmatmul(np.asarray(v, dtype=dtype).reshape(n, -1)).ravel(),
        rmatmat=lambda Q: op.rmatmul(np.asarray(Q, dtype=dtype)),
    )
    v0 = rng.uniform(-1.0, 1.0, size=min(n, m)).astype(dtype)
    U, s, Vt = svds(lin, k=k, v0=v0, solver="arpack")
    order = np.argsort(-s)
    return U[:, order].astype(dtype), s[order].astype(np.float64), Vt[order].T.astype(dtype)


def _relative_errors(s: np.ndarray, squared_norm: float) -> np.ndarray:
    """``sqrt(1 - cumsum(s^2) / ||X||^2)`` (clipped at 0), the rank-r errors for r = 1..len(s)."""
    s = np.asarray(s, dtype=np.float64)
    if squared_norm <= 0:
        return np.zeros(s.size)
    return np.sqrt(np.clip(1.0 - np.cumsum(s**2) / squared_norm, 0.0, None))


def _clip_ratings(model: FactorModel, scores: np.ndarray) -> np.ndarray:
    """Ratings are predicted within the rating scale (the class task is 'reconstruction')."""
    scale = model.train_.rating_scale
    if model.train_.kind == "explicit" and scale is not None:
        return np.clip(scores, scale[0], scale[1])
    return scores


def observed_only(train: Dataset) -> bool:
    """Whether a decomposition of ``train`` represents its stored entries only.

    True for ratings and for dense grids or image sets with empty cells (an
    empty cell is unknown); false for documents, interaction counts and full
    grids, whose absent cells are zeros the model must reproduce.
    """
    return train.kind == "explicit" or (train.kind in ("dense", "images") and not train.fully_observed)


def unknown_cells(train: Dataset) -> np.ndarray | None:
    """Sorted flat indices ``row * n_cols + col`` of the cells an SVD of ``train`` must impute, or None.

    ``train.missing_cells`` (the training side of a cell holdout), or every
    empty cell of a dense grid or image set. Ratings give None: centering
    already imputes their missing cells with the mean.

    Raises
    ------
    ValueError
        A grid with empty cells too large to impute cell by cell.
    """
    if train.kind == "explicit":
        return None
    if train.missing_cells is not None and train.missing_cells.size:
        return unique_sorted(train.missing_cells)
    if train.kind in ("dense", "images") and not train.fully_observed:
        n, m = train.shape
        if n * m > _IMPUTE_CELLS_LIMIT:
            raise DataError(
                f"this {n:,} x {m:,} grid has {n * m - train.nnz:,} empty cells, too many to impute one by one",
                train.source, fix="fit NMF (which leaves them out) or treat the data as ratings",
            )
        filled = np.zeros(n * m, dtype=bool)
        filled[train.rows.astype(np.int64) * m + train.cols] = True
        return np.flatnonzero(~filled)
    return None


def _in_sorted(keys: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``keys`` are in the sorted int64 array ``sorted_set``."""
    if sorted_set.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, keys), sorted_set.size - 1)
    return sorted_set[pos] == keys


def _stored_entry_scores(model: FactorModel, data: Dataset) -> dict:
    """``relative_error``, ``rmse``, ``absolute_error`` over ``data``'s stored entries (zeros included)."""
    values = data.values.astype(np.float64)
    err = values - model.predict(data.rows, data.cols)
    sq_err = float(err @ err)
    return {"relative_error": float(math.sqrt(sq_err / max(values @ values, 1e-300))),
            "rmse": float(math.sqrt(sq_err / values.size)),
            "absolute_error": float(math.sqrt(sq_err))}


def decomposition_scores(model: FactorModel) -> dict:
    """How well a fitted SVD or NMF represents the data it was fitted to (the "fit on all data" scores).

    The cells scored are the ones the model was asked to represent: every
    cell of documents, images and full grids (absent cells are zeros) except
    the ``missing_cells`` of a cell holdout; the observed entries only for
    ratings and grids with empty cells (see :func:`observed_only`).

    Returns
    -------
    dict
        ``relative_error`` (share of the data's Frobenius norm the
        reconstruction misses; 0 = perfect) and ``rmse`` (per cell); for an
        SVD also ``explained_variance_ratio`` (summed over components,
        scikit-learn's ``TruncatedSVD`` definition) and ``frobenius_share``
        (summed ``s_i^2 / ||X||_F^2``). One line on each key:
        :data:`mfstudio.metrics.RECONSTRUCTION_METRIC_DESCRIPTIONS`.
    """
    from .. import metrics

    model._check_fitted()
    train = model.train_
    if observed_only(train):
        result = _stored_entry_scores(model, train)
    else:
        P, Q = _augmented_factors(model)
        result = metrics.reconstruction_scores(train.to_csr(np.float64), P, Q.T, exclude_cells=train.missing_cells)
    scores = {"relative_error": result["relative_error"], "rmse": result["rmse"]}
    for attribute, key in (("explained_variance_ratio_", "explained_variance_ratio"), ("frobenius_share_", "frobenius_share")):
        value = getattr(model, attribute, None)
        if value is not None:
            scores[key] = float(np.sum(value))
    return scores


def score_reconstruction(model: FactorModel, test: Dataset) -> dict:
    """How well ``model`` reconstructs ``test`` (shared by SVD and NMF).

    Ratings (``explicit`` training data): ``rmse`` and ``mae`` over the test
    ratings, plus ``relative_error`` over them. Other kinds:
    ``relative_error``, ``rmse`` and ``absolute_error``

    - over the cells the model was fitted to represent (as
      :func:`decomposition_scores`) when ``test`` holds the training entries
      themselves;
    - over every cell, zeros included, when ``test`` is fully observed;
    - otherwise over ``test``'s stored entries, explicit zeros included: the
      held-out cells of :func:`mfstudio.data.splits.cell_split`, or the
      held-out entries of a random split.
    """
    from .. import metrics

    model._check_fitted()
    train = model.train_
    if test.nnz == 0:
        raise ValueError("the test set is empty: there is nothing to score")
    if train.kind == "explicit":
        predictions = model.predict(test.rows, test.cols)
        values = test.values.astype(np.float64)
        out = {"rmse": metrics.rmse(values, predictions), "mae": metrics.mae(values, predictions)}
        err = values - predictions
        out["relative_error"] = float(math.sqrt(err @ err / max(values @ values, 1e-300)))
        return out
    same_entries = test is train or (
        test.nnz == train.nnz and np.array_equal(test.rows, train.rows) and np.array_equal(test.cols, train.cols)
    )
    if same_entries:
        if observed_only(train):
            return _stored_entry_scores(model, test)
        P, Q = _augmented_factors(model)
        return metrics.reconstruction_scores(test.to_csr(np.float64), P, Q.T, exclude_cells=train.missing_cells)
    if test.fully_observed:
        P, Q = _augmented_factors(model)
        return metrics.reconstruction_scores(test.to_csr(np.float64), P, Q.T)
    return _stored_entry_scores(model, test)


def _augmented_factors(model: FactorModel):
    """``(P, Q)`` with ``P @ Q.T`` = the model's full prediction (mean and biases included)."""
    P = model.user_factors_.astype(np.float64)
    Q = model.item_factors_.astype(np.float64)
    n, m = P.shape[0], Q.shape[0]
    ub = getattr(model, "user_bias_", None)
    ib = getattr(model, "item_bias_", None)
    mu = float(getattr(model, "global_mean_", 0.0))
    extra_p = [np.ones(n), (np.zeros(n) if ub is None else ub) + mu]
    extra_q = [np.zeros(m) if ib is None else ib, np.ones(m)]
    return np.column_stack([P] + extra_p), np.column_stack([Q] + extra_q)
