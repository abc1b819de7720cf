"""Bayesian personalized ranking (Rendle et al. 2009): learn to rank what a user chose above the rest.

BPR does not try to predict a value for a cell. For a user ``u``, an item
``i`` they interacted with and an item ``j`` they did not, it wants
``score(u, i) > score(u, j)`` and maximizes ``sum ln sigmoid(score(u, i) -
score(u, j))`` over sampled triples by stochastic gradient ascent, with L2
regularization. The score is ``p_u . q_i + b_i``. The epochs run in the
Hogwild kernel of :mod:`mfstudio.kernels.bpr`.
"""

from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..kernels import lazy

kernels = lazy("bpr")  # numba loads on the first fit, not with the method list
from .als import _csr_pair
from .params import Param, factors_spec, seed_spec
from .base import FactorModel, positives_for
from .sgd import threads_for
from .stopping import stop_requested, work_chunks

__all__ = ["BPR"]

#: Most positive x negative pairs the fold-in keeps (negatives are subsampled beyond).
_FOLD_IN_PAIRS = 1 << 22


class BPR(FactorModel):
    """BPR matrix factorization with an item bias, trained by Hogwild SGD.

    Parameters
    ----------
    n_factors : int, default 64
    lr : float, default 0.05
        SGD step size.
    reg : float, default 0.02
        L2 strength on the user and item factors and the item biases touched
        by each update.
    n_epochs : int, default 60
        Passes; one pass draws as many triples as there are interactions.
    threshold : float, default 4.0
        For rating data: ratings at or above it are the interactions.
    seed : int, default 0
        Seeds the initial factors and the triple sampling.

    Attributes
    ----------
    user_factors_ : ndarray of float32, shape (n_users, n_factors)
    item_factors_ : ndarray of float32, shape (n_items, n_factors)
    item_bias_ : ndarray of float32, shape (n_items,)
    fitted_on_ratings_ : int
        1 when the training data were ratings (fold-in then applies ``threshold``).
    train_ : Dataset
        Everything the model was given (all ratings): the seen items.
    fit_data_ : Dataset
        The interactions it learned from (ratings >= ``threshold``).

    Notes
    -----
    The training loss is the mean over the epoch's triples of
    ``-ln sigmoid(x_uij) + reg/2 (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)``,
    each triple evaluated just before its update. A too-large ``lr`` makes
    the factors grow without bound: the fit stops with ``FitDiverged``.
    """

    name = "bpr"
    title = "BPR (Bayesian personalized ranking)"
    summary = ("Learns to rank the items each person chose above random ones they did not: good for top-N lists "
               "from clicks or likes, but it predicts no ratings. Trained too long with little reg, its test "
               "precision peaks and then falls.")
    objective = "max sum_(u,i,j) ln sigmoid(p_u.(q_i - q_j) + b_i - b_j) - reg/2 (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)"
    params_spec = (
        factors_spec(64, "length of the user and item factor vectors"),
        Param("lr", "float", 0.05, "learning rate (step size) of the stochastic gradient updates",
              low=0.0, low_open=True),
        Param("reg", "float", 0.02, "L2 penalty on the factors and item biases each update touches", low=0.0),
        Param("n_epochs", "int", 60,
              "passes; one pass samples as many (user, liked, other) triples as there are interactions",
              low=1, high=100_000),
        Param("threshold", "float", 4.0, "for rating data: ratings at or above this count as interactions"),
        seed_spec("seeds the initial factors and the sampling of triples"),
    )
    kinds = ("implicit", "explicit")
    task = "ranking"

    def _prepare(self, train: Dataset) -> Dataset:
        prepared = positives_for(self, train)
        return prepared

    def _settings(self) -> dict:
        s = self.validate_params()
        s["k"] = s["n_factors"]
        return s

    def _fit_steps(self, train: Dataset):
        s = self._settings()
        k, lr, reg = s["k"], s["lr"], s["reg"]
        rng = np.random.default_rng(s["seed"])
        csr, _ = _csr_pair(train)
        n_users, n_items = csr.shape
        user_of = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(csr.indptr))
        n_samples = int(csr.nnz)
        n_blocks = kernels.bpr_block_count(n_samples)

        self.user_factors_ = (rng.standard_normal((n_users, k)) * 0.1).astype(np.float32)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * 0.1).astype(np.float32)
        self.item_bias_ = np.zeros(n_items, dtype=np.float32)
        for _ in range(s["n_epochs"]):
            seeds = rng.integers(0, np.iinfo(np.uint64).max, size=n_blocks, dtype=np.uint64, endpoint=True)
            # Runs of whole seeded blocks, each the size the unchunked epoch gives
            # it, so the triples drawn do not depend on the chunking.
            per_block = -(-n_samples // n_blocks)
            total = used = 0
            for lo, hi in work_chunks(-(-n_samples // per_block), max(1, 2**22 // (per_block * (k + 8)))):
                with threads_for(n_samples * k):  # Hogwild only where it wins (models.sgd.use_hogwild)
                    part, part_used = kernels.bpr_epoch(
                        csr.indptr, csr.indices, user_of, self.user_factors_, self.item_factors_, self.item_bias_,
                        lr, reg, min(hi * per_block, n_samples) - lo * per_block, seeds[lo:hi])
                total, used = total + part, used + part_used
            if stop_requested():
                return
            yield (total / used if used else 0.0), {"skipped": n_samples - int(used)}

    def _fitted_state_finite(self) -> bool:
        bias = getattr(self, "item_bias_", None)
        return super()._fitted_state_finite() and (bias is None or bool(np.isfinite(bias).all()))

    def fold_in(self, items, values=None) -> tuple[np.ndarray, float]:
        """Factors for a new user: the BPR objective solved for that user, items fixed.

        With the item factors and biases fixed, BPR's objective for one user
        (mean over pairs of positive ``i`` and non-positive ``j`` of
        ``-ln sigmoid(p . (q_i - q_j) + b_i - b_j)``, plus ``reg/2 |p|^2``) is
        smooth and convex in ``p``, so Newton's method solves it in a few
        steps. All pairs are used (the negatives are subsampled, with the
        model's seed, when the user has very many pairs).

        Which given items are positives: a tick (value NaN, or
        ``values=None`` for all) always is; a number is a rating when the
        model was fitted on ratings, a positive only at or above
        ``threshold`` (as in training), and an interaction count otherwise
        (a positive whatever its size).

        Returns
        -------
        (vector, 0.0)
            The user's factors (float32) and a zero bias (BPR has no user bias).
        """
        self._check_fitted()
        s = self._settings()
        items = np.asarray(items, dtype=np.int64).ravel()
        if values is not None and getattr(self, "fitted_on_ratings_", 0):
            values = np.asarray(values, dtype=np.float64).ravel()
            items = items[np.isnan(values) | (values >= s["threshold"])]
        return self._fold_in_positives(np.unique(items), s)

    def _fold_in_positives(self, positives: np.ndarray, s: dict) -> tuple[np.ndarray, float]:
        Q = self.item_factors_.astype(np.float64)
        bias = self.item_bias_.astype(np.float64)
        n_items, k = Q.shape
        reg = max(s["reg"], 1e-6)  # a little ridge keeps Newton's steps finite when reg is 0
        if positives.size == 0 or positives.size >= n_items:
            return np.zeros(k, dtype=np.float32), 0.0
        mask = np.ones(n_items, dtype=bool)
        mask[positives] = False
        negatives = np.flatnonzero(mask)
        if positives.size * negatives.size > _FOLD_IN_PAIRS:
            rng = np.random.default_rng(s["seed"])
            keep = max(1, _FOLD_IN_PAIRS // positives.size)
            negatives = np.sort(rng.choice(negatives, keep, replace=False))
        Qp, Qn = Q[positives], Q[negatives]
        bp, bn = bias[positives], bias[negatives]
        n_pairs = positives.size * negatives.size
        p = np.zeros(k)
        for _ in range(50):
            x = (Qp @ p + bp)[:, None] - (Qn @ p + bn)[None, :]
            g = 0.5 * (1.0 - np.tanh(0.5 * x))  # sigmoid(-x), overflow-free
            w = g * (1.0 - g)
            # gradient of mean softplus(-x): -mean g (q_i - q_j)
            grad = -(Qp.T @ g.sum(axis=1) - Qn.T @ g.sum(axis=0)) / n_pairs + reg * p
            # Hessian: mean w (q_i - q_j)(q_i - q_j)^T, expanded so that no pair array of k-vectors is formed
            wi, wj = w.sum(axis=1), w.sum(axis=0)
            cross = Qp.T @ (w @ Qn)
            H = ((Qp * wi[:, None]).T @ Qp + (Qn * wj[:, None]).T @ Qn - cross - cross.T) / n_pairs
            H[np.diag_indices(k)] += reg
            step = np.linalg.solve(H, grad)
            p -= step
            if np.abs(step).max() <= 1e-8 * max(1.0, np.abs(p).max()):
                break
        return p.astype(np.float32), 0.0
