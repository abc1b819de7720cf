"""Hybrid factorization: ratings plus side features (SVDFeature / LightFM form), and its cold-start reference.

- :class:`HybridMF` (``hybrid``): each user and item vector is its own free
  part plus the sum of its features' embeddings, biases likewise, fitted by
  SGD (:mod:`mfstudio.kernels.hybrid`). A cold item (no rating in training)
  is predicted from its features (genres, decade); a cold user from their
  features (age band, gender, occupation) and, in fold-in, whatever they
  rated.
- :class:`HybridBPR` (``hybrid-bpr``): the same parametrisation for
  interactions (clicks, plays, or ratings >= ``threshold``), fitted with the
  BPR loss as LightFM does; it ranks, as ``bpr`` does, and scores new items
  and users from their features.
- :class:`DemographicBaseline`: the reference for new users: mean + item
  bias + the bias and the per-item taste of the user's demographic groups.
- :class:`FeaturePopularity` and :class:`DemographicPopularity`: the
  references for new items and new users on interaction data (popularity of
  the items sharing a new item's features; popularity within a new user's
  groups).

The references are not registered models: :func:`mfstudio.experiment.reference_model_for`
uses them for the ``cold-items:F`` / ``cold-users:F`` protocols.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp  # only for annotations: scipy.sparse is imported where it is used

from ..data.dataset import Dataset
from ..data.errors import DataError
from .base import FactorModel, positives_for
from .params import Param, factors_spec, seed_spec
from .stopping import work_chunks

__all__ = ["HybridMF", "HybridBPR", "DemographicBaseline", "FeaturePopularity", "DemographicPopularity",
           "feature_weights"]

_SEED_HIGH = 2**63 - 1
#: Ratings x factors in the first kernel call of an epoch (~50 ms); later calls adapt.
_FIRST_CHUNK_WORK = 2**22


def feature_weights(features, n: int, normalize: str) -> sp.csr_matrix:
    """The (n x n_features) weight matrix of a side-feature table: each row scaled by ``normalize``.

    ``"sqrt"`` divides a row by the square root of its feature count (as SVD++
    scales its implicit sum), ``"mean"`` by the count, ``"none"`` keeps the
    indicators. Without features: an n x 0 matrix.
    """
    import scipy.sparse as sp
    if features is None:
        return sp.csr_matrix((n, 0), dtype=np.float32)
    matrix = sp.csr_matrix(features.matrix, dtype=np.float32, copy=True)
    counts = np.diff(matrix.indptr).astype(np.float64)
    if normalize != "none" and matrix.nnz:
        scale = np.ones_like(counts)
        has = counts > 0
        scale[has] = 1.0 / (np.sqrt(counts[has]) if normalize == "sqrt" else counts[has])
        matrix = sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ matrix, dtype=np.float32)
    matrix.sort_indices()
    return matrix


def _csr_arrays(matrix: sp.csr_matrix):
    return (np.ascontiguousarray(matrix.indptr, dtype=np.int64), np.ascontiguousarray(matrix.indices, dtype=np.int32),
            np.ascontiguousarray(matrix.data, dtype=np.float32))


def _feature_specs(init_std: float, unit: str, task: str, plain: str) -> tuple[Param, ...]:
    """The parameters both hybrid models declare alike: start spread, dropout, which features, their scaling."""
    return (
        Param("init_std", "float", init_std, "spread of the random starting vectors", low=0.0),
        Param("dropout", "float", 0.2, f"share of {unit} on which a user's (an item's) own vector and bias are "
              f"dropped, so the features learn to {task} alone, as for a new user or item", low=0.0, high=1.0,
              high_open=True),
        Param("features", "choice", "both", f"which side features to use: item, user, both, or none (plain {plain})",
              choices=("both", "items", "users", "none")),
        Param("normalize", "choice", "sqrt", "scale a row's feature weights by 1/sqrt(count), 1/count, or not",
              choices=("sqrt", "mean", "none")),
    )


class HybridMF(FactorModel):
    """Biased factorization whose user and item vectors include their side features' embeddings.

    The prediction is ``mu + b_u + b_i + p_u . q_i`` with (SVDFeature, LightFM)::

        p_u = P[u] + sum_{f in F(u)} w_uf Y[f]      b_u = bu[u] + sum_f w_uf cu[f]
        q_i = Q[i] + sum_{g in G(i)} w_ig Z[g]      b_i = bi[i] + sum_g w_ig ci[g]

    where ``F(u)`` are the user's features (:attr:`Dataset.user_features`:
    age band, gender, occupation for MovieLens), ``G(i)`` the item's
    (:attr:`Dataset.item_features`: genres, decade) and ``w`` their weights
    after ``normalize``. Fitted by shuffled SGD on the squared error (the
    kernel's comment says why this variant). Rows without a training rating
    keep ``P[u] = 0``, ``bu[u] = 0``: their vectors come from their features
    alone, which is how a new movie or a new member is predicted.

    Parameters
    ----------
    n_factors : int, default 50
    n_epochs : int, default 20
    lr : float, default 0.01
        Step size of the free vectors.
    lr_bias : float, default 0.01
        Step size of the free biases.
    reg : float, default 0.1
        Weight decay of the free vectors.
    reg_bias : float, default 0.05
        Weight decay of the biases (free and per feature).
    reg_features : float, default 0.01
        Weight decay of the feature embeddings (each is shared by many rows,
        so it is updated far more often than a free vector).
    lr_features : float, default 0.001
        Step size of the feature embeddings and feature biases.
    init_std : float, default 0.05
        Free vectors and embeddings start normal(0, init_std); biases at 0.
    dropout : float, default 0.2
        Share of the ratings on which a user's (an item's, drawn apart) own
        vector and bias are left out, so that the features learn to predict
        alone (DropoutNet's idea; the kernel's comment says why).
    features : {"both", "items", "users", "none"}, default "both"
        Which side features to use ("none" is plain biased SGD: an ablation).
    normalize : {"sqrt", "mean", "none"}, default "sqrt"
        How a row's feature weights are scaled by its feature count.
    seed : int or None, default 0

    Notes
    -----
    Defaults chosen on MovieLens 100K cold-start splits (seed 0): with
    ``lr_features`` equal to ``lr`` the feature parameters wandered and new
    users were predicted worse than by the item bias alone; a tenth of it,
    ``reg`` 0.1 and ``reg_bias`` 0.05 gave RMSE ~0.996 on cold items (baseline
    1.021) and ~1.015 on cold users (mean + item bias 1.017).

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of float32, shape (n, n_factors)
        The composed vectors ``p_u`` and ``q_i`` of every user and item, cold
        ones included (what prediction and recommendation use).
    user_bias_, item_bias_ : ndarray of float32
        The composed biases.
    global_mean_ : float
    user_feature_factors_, item_feature_factors_ : ndarray of float32, shape (n_features, n_factors)
        The embeddings ``Y`` and ``Z`` of each feature (in the order of the
        dataset's ``user_features.names`` / ``item_features.names``).
    user_feature_bias_, item_feature_bias_ : ndarray of float32, shape (n_features,)
    """

    name = "hybrid"
    title = "Hybrid (ratings + features)"
    summary = ("Biased factorization whose vectors add up what is known of each user and item (genres, decade, age, "
               "occupation), so new items and users are predicted from their features. It needs informative "
               "features: without them it is biased SGD, and ML-100K's demographics do not beat their own average.")
    objective = ("min sum (r_ui - mu - b_u - b_i - p_u . q_i)^2 + reg (|P_u|^2 + |Q_i|^2) + reg_bias (b^2) "
                 "+ reg_features (|Y_f|^2 + |Z_g|^2), with p_u = P_u + sum_f w_uf Y_f, q_i = Q_i + sum_g w_ig Z_g")
    params_spec = (
        factors_spec(50, "length of each taste vector"),
        Param("n_epochs", "int", 20, "passes over the ratings", low=1, high=100_000),
        Param("lr", "float", 0.01, "step size of the taste vectors and feature embeddings", low=0.0, low_open=True),
        Param("lr_bias", "float", 0.01, "step size of the biases", low=0.0),
        Param("reg", "float", 0.1, "weight decay of each user's and item's own vector", low=0.0),
        Param("reg_bias", "float", 0.05, "weight decay of the biases", low=0.0),
        Param("reg_features", "float", 0.01, "weight decay of the feature embeddings", low=0.0),
        Param("lr_features", "float", 0.001, "step size of the feature embeddings and feature biases (each is "
              "stepped by every rating of its group, so it wants a smaller step)", low=0.0),
        *_feature_specs(0.05, "ratings", "predict", "SGD"),
        seed_spec("random seed of the start and of the shuffles"),
    )
    kinds = ("explicit",)

    def _handles_cold(self) -> bool:
        # Cold rows are predicted from their features: their composed vectors are the model's answer.
        # A cold row without features has a zero vector and bias, which is the mean-plus-bias fallback anyway.
        return False

    def _weights(self, train: Dataset, normalize: str, use: str):
        user_w = feature_weights(train.user_features if use in ("both", "users") else None, train.n_rows, normalize)
        item_w = feature_weights(train.item_features if use in ("both", "items") else None, train.n_cols, normalize)
        return user_w, item_w

    def _fit_steps(self, train: Dataset):
        from ..kernels import hybrid as kernels
        from ..kernels.sgd import shuffle_ratings

        p = self.validate_params()
        k, n_epochs, init_std = p["n_factors"], p["n_epochs"], p["init_std"]
        lr, lr_bias, reg, reg_bias, reg_f = p["lr"], p["lr_bias"], p["reg"], p["reg_bias"], p["reg_features"]
        rng = np.random.default_rng(p["seed"])
        n_users, n_items = train.shape
        user_w, item_w = self._weights(train, p["normalize"], p["features"])
        u_arrays, i_arrays = _csr_arrays(user_w), _csr_arrays(item_w)
        user_has, item_has = np.diff(user_w.indptr) > 0, np.diff(item_w.indptr) > 0
        dropout = p["dropout"]

        self.global_mean_ = mu = float(train.values.mean(dtype=np.float64))
        P, Q, bu, bi, Y, Z, cu, ci = self._start(rng, train, k, init_std, user_w, item_w, u_arrays, i_arrays)

        rows, cols, values = train.rows.copy(), train.cols.copy(), train.values.copy()  # shuffled in place
        nnz = values.size
        first = max(1, _FIRST_CHUNK_WORK // max(k, 1))
        memory: dict = {}
        for _ in range(n_epochs):
            shuffle_ratings(rows, cols, values, int(rng.integers(_SEED_HIGH)))
            # Only a side that has features can be dropped: else the rating would teach nothing.
            drop_user = (rng.random(nnz) < dropout) & user_has[rows]
            drop_item = (rng.random(nnz) < dropout) & item_has[cols]
            sse, done = 0.0, 0
            for lo, hi in work_chunks(nnz, first, memory=memory):
                sse += kernels.hybrid_sgd_epoch(rows[lo:hi], cols[lo:hi], values[lo:hi], drop_user[lo:hi],
                                                drop_item[lo:hi], mu, P, Q, bu, bi, Y, Z, cu, ci,
                                                *u_arrays, *i_arrays, lr, lr_bias, reg, reg_bias, reg_f,
                                                p["lr_features"])
                done = hi
            self._compose(P, Q, bu, bi, u_arrays, i_arrays)
            if done < nnz:  # cancelled mid-epoch: the composed state is valid, the epoch is not reported
                return
            penalty = (reg * (float(np.sum(P * P)) + float(np.sum(Q * Q)))
                       + reg_f * (float(np.sum(Y * Y)) + float(np.sum(Z * Z)))
                       + reg_bias * (float(bu @ bu) + float(bi @ bi) + float(cu @ cu) + float(ci @ ci)))
            yield (sse + penalty) / nnz, {}

    def _start(self, rng, train: Dataset, k: int, init_std: float, user_w, item_w, u_arrays, i_arrays):
        """Free parts, embeddings and biases at their start, and the composed fitted attributes from them.

        Returns ``P, Q, bu, bi, Y, Z, cu, ci`` (the kernels' state). Rows
        without a training entry keep a zero free part: the features alone
        speak for a cold row.
        """
        n_users, n_items = train.shape
        P = (rng.standard_normal((n_users, k)) * init_std).astype(np.float32)
        Q = (rng.standard_normal((n_items, k)) * init_std).astype(np.float32)
        P[np.bincount(train.rows, minlength=n_users) == 0] = 0.0
        Q[np.bincount(train.cols, minlength=n_items) == 0] = 0.0
        Y = (rng.standard_normal((user_w.shape[1], k)) * init_std).astype(np.float32)
        Z = (rng.standard_normal((item_w.shape[1], k)) * init_std).astype(np.float32)
        bu, bi = np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)
        cu, ci = np.zeros(user_w.shape[1], np.float32), np.zeros(item_w.shape[1], np.float32)
        self.user_factors_ = np.zeros((n_users, k), np.float32)
        self.item_factors_ = np.zeros((n_items, k), np.float32)
        self.user_bias_ = np.zeros(n_users, np.float32)
        self.item_bias_ = np.zeros(n_items, np.float32)
        self.user_feature_factors_, self.item_feature_factors_ = Y, Z
        self.user_feature_bias_, self.item_feature_bias_ = cu, ci
        self._compose(P, Q, bu, bi, u_arrays, i_arrays)
        return P, Q, bu, bi, Y, Z, cu, ci

    def _compose(self, P, Q, bu, bi, u_arrays, i_arrays) -> None:
        from ..kernels.hybrid import compose

        compose(P, bu, *u_arrays, self.user_feature_factors_, self.user_feature_bias_,
                self.user_factors_, self.user_bias_)
        compose(Q, bi, *i_arrays, self.item_feature_factors_, self.item_feature_bias_,
                self.item_factors_, self.item_bias_)

    def _fitted_state_finite(self) -> bool:
        return all(np.isfinite(getattr(self, name)).all() for name in (
            "user_factors_", "item_factors_", "user_feature_factors_", "item_feature_factors_"))

    def _feature_prior(self, features) -> tuple[np.ndarray, float]:
        """The vector and bias a new user's features give (column indices of ``user_features.names``); zeros without."""
        k = self.item_factors_.shape[1]
        if features is None or not len(features):
            return np.zeros(k), 0.0
        features = np.asarray(features, dtype=np.int64)
        n_feat = self.user_feature_factors_.shape[0]
        if features.min() < 0 or features.max() >= n_feat:
            raise DataError(f"a feature index is outside 0 to {n_feat - 1}")
        normalize = self.params.get("normalize", "sqrt")
        w = {"sqrt": 1.0 / np.sqrt(features.size), "mean": 1.0 / features.size}.get(normalize, 1.0)
        return (w * self.user_feature_factors_[features].sum(axis=0).astype(np.float64),
                w * float(self.user_feature_bias_[features].sum()))

    def fold_in(self, items, values=None, features=None) -> tuple[np.ndarray, float]:
        """A new user's vector from their ratings and, when given, their features.

        Ridge regression of ``value - mu - b_i`` on the item vectors, as for
        every factor model, but shrunk towards the vector and bias the user's
        features give (``sum_f w_f Y[f]``, ``sum_f w_f cu[f]``) instead of towards
        zero: with no rating the answer is the features' own, and each rating
        moves it away from there.

        Parameters
        ----------
        items, values
            As :meth:`FactorModel.fold_in`.
        features : array of int, optional
            Column indices of the user's features in the training data's
            ``user_features.names``.
        """
        self._check_fitted()
        k = self.item_factors_.shape[1]
        prior, prior_bias = self._feature_prior(features)
        items = np.asarray(items, dtype=np.int64)
        values = np.ones(items.size) if values is None else np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(values)  # ticks say nothing about a rating value
        items, values = items[keep], values[keep]
        q = np.hstack([self.item_factors_[items].astype(np.float64), np.ones((items.size, 1))])
        target = values - self._mu() - self.item_bias_[items] - q @ np.append(prior, prior_bias)
        reg = float(self.validate_params()["reg"]) * max(items.size, 1)
        gram = q.T @ q + reg * np.eye(k + 1)
        delta = np.linalg.solve(gram, q.T @ target) if items.size else np.zeros(k + 1)
        return (prior + delta[:-1]).astype(np.float32), float(prior_bias + delta[-1])


class HybridBPR(HybridMF):
    """The hybrid factorization for interactions: free parts plus feature embeddings, BPR loss (LightFM's form).

    The score of an item for a user is ``p_u . q_i + b_i`` with the composed
    vectors and item bias of :class:`HybridMF` (no user bias and no mean:
    they change no ranking). For each interaction ``(u, i)`` of a shuffled
    epoch a negative ``j`` is drawn uniformly from the items with training
    interactions that ``u`` has none with, and ``ln sigmoid(score(u, i) -
    score(u, j))`` is stepped up (:func:`mfstudio.kernels.hybrid.hybrid_bpr_epoch`
    says why this variant). Rows without a training interaction keep a zero
    free part: a new item is ranked by its features' embeddings and bias, a
    new user by their features' embeddings.

    Parameters
    ----------
    n_factors : int, default 64
    n_epochs : int, default 30
        Passes; each visits every interaction once.
    lr : float, default 0.05
        Step size of the free vectors and free item biases (BPR's).
    reg : float, default 0.02
        Weight decay of the free vectors and biases each step touches.
    lr_features : float, default 0.01
        Step size of the feature embeddings and feature biases (each is
        stepped by every interaction of its group).
    reg_features : float, default 0.002
        Weight decay of the feature embeddings and biases.
    init_std : float, default 0.1
        Free vectors and embeddings start normal(0, init_std); biases at 0.
    dropout : float, default 0.2
        Share of the triples on which a side's own vector is left out, so
        that the features learn to rank alone (as :class:`HybridMF`).
    features : {"both", "items", "users", "none"}, default "both"
        Which side features to use ("none" is BPR with uniform negatives among warm items).
    normalize : {"sqrt", "mean", "none"}, default "sqrt"
    threshold : float, default 4.0
        For rating data: ratings at or above it are the interactions.
    seed : int or None, default 0

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of float32
        Composed vectors of every user and item, cold ones included.
    item_bias_ : ndarray of float32
        Composed item biases.
    user_feature_factors_, item_feature_factors_, item_feature_bias_ : ndarray of float32
        The feature embeddings (``user_feature_bias_`` exists and is zero).
    fitted_on_ratings_ : int
        1 when the training data were ratings.
    """

    name = "hybrid-bpr"
    title = "Hybrid BPR (interactions + features)"
    summary = ("BPR ranking whose vectors add up what is known of each user and item (genres, decade, age, "
               "occupation), so new items and new users get a ranking from their features. For clicks, plays "
               "or likes; it predicts no ratings.")
    objective = ("max sum_(u,i,j) ln sigmoid(p_u.(q_i - q_j) + b_i - b_j) - reg/2 (|P_u|^2 + |Q_i|^2 + |Q_j|^2 + "
                 "b^2) - reg_features/2 |Y, Z, c|^2, with p_u = P_u + sum_f w_uf Y_f, q_i = Q_i + sum_g w_ig Z_g")
    params_spec = (
        factors_spec(64, "length of each taste vector"),
        Param("n_epochs", "int", 30, "passes; each visits every interaction once with a sampled negative",
              low=1, high=100_000),
        Param("lr", "float", 0.05, "step size of each user's and item's own vector and bias", low=0.0,
              low_open=True),
        Param("reg", "float", 0.02, "weight decay of the own vectors and biases each step touches", low=0.0),
        Param("lr_features", "float", 0.01, "step size of the feature embeddings and feature biases (each is "
              "stepped by every interaction of its group, so it wants a smaller step)", low=0.0),
        Param("reg_features", "float", 0.002, "weight decay of the feature embeddings and biases", low=0.0),
        *_feature_specs(0.1, "triples", "rank", "BPR"),
        Param("threshold", "float", 4.0, "for rating data: ratings at or above this count as interactions"),
        seed_spec("random seed of the start, the shuffles and the negatives"),
    )
    kinds = ("implicit", "explicit")
    task = "ranking"

    def _prepare(self, train: Dataset) -> Dataset:
        return positives_for(self, train)

    def _fit_steps(self, train: Dataset):
        import scipy.sparse as sp
        from ..kernels import hybrid as kernels
        from ..kernels.sgd import shuffle_ratings

        p = self.validate_params()
        k, init_std = p["n_factors"], p["init_std"]
        rng = np.random.default_rng(p["seed"])
        n_users, n_items = train.shape
        user_w, item_w = self._weights(train, p["normalize"], p["features"])
        u_arrays, i_arrays = _csr_arrays(user_w), _csr_arrays(item_w)
        user_has, item_has = np.diff(user_w.indptr) > 0, np.diff(item_w.indptr) > 0
        csr = sp.csr_matrix((np.ones(train.nnz, np.float32), (train.rows, train.cols)), shape=(n_users, n_items))
        csr.sum_duplicates()
        csr.sort_indices()
        indptr, indices = csr.indptr.astype(np.int64), csr.indices.astype(np.int32)
        warm_items = np.flatnonzero(np.diff(csr.tocsc().indptr) > 0).astype(np.int32)
        user_count = np.diff(indptr)

        # bu and cu stay zero (BPR has no user bias), so user_bias_ does too.
        P, Q, bu, bi, Y, Z, cu, ci = self._start(rng, train, k, init_std, user_w, item_w, u_arrays, i_arrays)

        users = np.repeat(np.arange(n_users, dtype=np.int32), user_count)
        items = indices.copy()
        dummy = np.zeros(users.size, np.float32)  # shuffle_ratings moves values too
        n = users.size
        state = np.array([rng.integers(_SEED_HIGH)], dtype=np.uint64)
        first = max(1, _FIRST_CHUNK_WORK // (3 * max(k, 1)))
        memory: dict = {}
        for _ in range(p["n_epochs"]):
            shuffle_ratings(users, items, dummy, int(rng.integers(_SEED_HIGH)))
            loss, used, done = 0.0, 0, 0
            for lo, hi in work_chunks(n, first, memory=memory):
                part, part_used = kernels.hybrid_bpr_epoch(
                    users[lo:hi], items[lo:hi], indptr, indices, warm_items, state, p["dropout"], user_has, item_has,
                    P, Q, bu, bi, Y, Z, cu, ci, *u_arrays, *i_arrays, p["lr"], p["reg"], p["reg_features"],
                    p["lr_features"])
                loss, used, done = loss + part, used + part_used, hi
            self._compose(P, Q, bu, bi, u_arrays, i_arrays)
            if done < n:  # cancelled mid-epoch: the composed state is valid, the epoch is not reported
                return
            yield (loss / used if used else 0.0), {"skipped": n - int(used)}

    def _fitted_state_finite(self) -> bool:
        return super()._fitted_state_finite() and bool(np.isfinite(self.item_bias_).all())

    def fold_in(self, items, values=None, features=None) -> tuple[np.ndarray, float]:
        """A new user's vector: BPR's Newton fold-in (:meth:`mfstudio.models.BPR.fold_in`) on the composed items.

        Which given items are positives follows BPR (ticks always; ratings at
        or above ``threshold`` when the model was fitted on ratings). With no
        positive, the vector the user's ``features`` give (column indices in
        the training data's ``user_features.names``), or zeros.

        Returns
        -------
        (vector, 0.0)
        """
        from .bpr import BPR

        vector, bias = BPR.fold_in(self, items, values)
        if vector.any():
            return vector, bias
        return self._feature_prior(features)[0].astype(np.float32), 0.0  # no positive: the features' vector

    def _settings(self) -> dict:
        # What BPR.fold_in reads (its Newton solve is ours too: the item side is our composed vectors and biases).
        s = self.validate_params()
        s["k"] = s["n_factors"]
        return s

    def _fold_in_positives(self, positives, s):
        from .bpr import BPR

        return BPR._fold_in_positives(self, positives, s)


class DemographicBaseline(FactorModel):
    """Mean + biases + what the user's demographic groups think of each item: the reference for new users.

    Fitted on top of :class:`~mfstudio.models.baseline.Baseline`'s biases, in
    closed form (shrunk means of residuals):

    - ``g_f``: the mean user bias of the users with feature ``f`` (shrunk
      by ``reg_group``); a user without ratings gets the sum of their
      groups' ``g_f`` as their bias ("how generous people like them are");
    - ``d_fi``: the mean residual ``r - mu - b_u - b_i`` of the ratings of
      item ``i`` by users with feature ``f`` (shrunk by ``reg_group``): the
      popularity of the item within the group beyond its overall bias.

    The groups' terms add up (one per feature the user has: age band,
    gender, occupation), as in an additive model; averaging them instead
    was measured worse on MovieLens 100K's new users (cold-users:0.1 RMSE
    1.0137 -> 1.0141 with seed 0, 1.0286 -> 1.0398 with seed 1).

    The prediction ``mu + b_u + b_i + sum_{f in F(u)} d_fi`` is written in
    the factor form (user vectors are the users' feature weights, item
    vectors the ``d`` columns), so recommendation and scoring need nothing
    of their own. Without user features it is the baseline.
    """

    name = "demographic-baseline"
    title = "Demographic baseline"
    summary = "Mean + biases, with a new user's bias and per-item tastes taken from their demographic groups."
    objective = "mu + b_u + b_i + sum_{f in F(u)} d_fi, all shrunk means"
    params_spec = (
        Param("reg_group", "float", 100.0, "shrinks each group's bias and per-item taste towards zero", low=0.0),
    )
    kinds = ("explicit",)

    def _handles_cold(self) -> bool:
        return False

    def _fit_steps(self, train: Dataset):
        import scipy.sparse as sp
        from .baseline import Baseline

        reg_group = self.validate_params()["reg_group"]
        base = Baseline().fit(train)
        self.global_mean_ = base.global_mean_
        user_bias = base.user_bias_.astype(np.float64)
        item_bias = base.item_bias_.astype(np.float64)
        # Membership indicators: a user in several groups gets each group's terms in full (the sum).
        members = weights = feature_weights(train.user_features, train.n_rows, "none")
        n_feat = weights.shape[1]
        warm = np.bincount(train.rows, minlength=train.n_rows) > 0
        if n_feat:
            warm_members = sp.diags(warm.astype(np.float64)) @ members
            group_bias = (warm_members.T @ user_bias) / (reg_group + np.asarray(warm_members.sum(axis=0)).ravel())
            residual = train.values - self.global_mean_ - user_bias[train.rows] - item_bias[train.cols]
            per_rating = members[train.rows]  # ratings x features: which groups each rater belongs to
            by_item = sp.csr_matrix((residual, (train.cols, np.arange(train.nnz))), shape=(train.n_cols, train.nnz))
            count = sp.csr_matrix((np.ones(train.nnz), (train.cols, np.arange(train.nnz))),
                                  shape=(train.n_cols, train.nnz))
            d = (by_item @ per_rating).toarray() / (reg_group + (count @ per_rating).toarray())  # items x features
            cold_bias = np.asarray(weights @ group_bias).ravel()
            user_bias = np.where(warm, user_bias, cold_bias)
            self.user_factors_ = weights.toarray().astype(np.float32)
            self.item_factors_ = d.astype(np.float32)
        else:
            self.user_factors_ = np.zeros((train.n_rows, 0), np.float32)
            self.item_factors_ = np.zeros((train.n_cols, 0), np.float32)
        self.user_bias_ = user_bias.astype(np.float32)
        self.item_bias_ = item_bias.astype(np.float32)
        yield 0.0, {}


class FeaturePopularity(FactorModel):
    """Popularity, with a new item scored by the popularity of the items that share its features.

    The reference for new items on interaction data (``cold-items:F``). An
    item with training interactions scores its own count, as in
    :class:`~mfstudio.models.baseline.Popularity`; an item without any scores
    the mean, over its features ``g``, of the mean count of the warm items
    that have ``g`` ("how popular a new comedy of the 1990s can expect to
    be"), and an item without features the mean count of all warm items.
    Every user gets the same scores.

    Why this and not plain popularity: a new item has count 0, so popularity
    ranks every new item last and cannot tell one from another; this is the
    best a model that reads item features but no taste can do, which is what
    the hybrid must beat.
    """

    name = "feature-popularity"
    title = "Popularity by features"
    summary = "Item counts; a new item gets the mean count of the items sharing its features."
    objective = "score(i) = count(i) if i has interactions, else mean_{g in G(i)} mean_{j warm, g in G(j)} count(j)"
    params_spec = ()
    kinds = ("implicit",)
    task = "ranking"
    #: Every user gets the same item scores: evaluation ranks them without a score matrix.
    same_scores_for_every_user = True

    def _handles_cold(self) -> bool:
        return False  # cold items have their features' score, which is the point

    def _fit_steps(self, train: Dataset):
        import scipy.sparse as sp
        counts = np.bincount(train.cols, minlength=train.n_cols).astype(np.float64)
        warm = counts > 0
        scores = counts.copy()
        fallback = float(counts[warm].mean()) if warm.any() else 0.0
        weights = feature_weights(train.item_features, train.n_cols, "mean")
        if weights.shape[1]:
            members = sp.csr_matrix(weights, copy=True)  # a view would turn the weights into ones too
            members.data[:] = 1.0
            warm_members = sp.diags(warm.astype(np.float64)) @ members
            n_warm = np.asarray(warm_members.sum(axis=0)).ravel()
            group = np.where(n_warm > 0, (warm_members.T @ counts) / np.maximum(n_warm, 1), fallback)
            by_features = np.asarray(weights @ group).ravel()
            has = np.diff(weights.indptr) > 0
            scores[~warm] = np.where(has[~warm], by_features[~warm], fallback)
        else:
            scores[~warm] = fallback
        self.item_bias_ = scores
        self.user_factors_ = np.zeros((train.n_rows, 0), dtype=np.float32)
        self.item_factors_ = np.zeros((train.n_cols, 0), dtype=np.float32)
        yield 0.0, {}


class DemographicPopularity(FactorModel):
    """Popularity within the user's demographic groups: the reference for new users on interaction data.

    For each user feature ``f`` (``gender=F``, ``age=25-34``...) and item
    ``i``, the share of the warm users with ``f`` who interacted with ``i``,
    shrunk towards the item's share among all warm users by ``reg_group``
    pseudo-users::

        s_fi = (c_fi + reg_group s_i) / (n_f + reg_group)

    A user's score of ``i`` is the mean of ``s_fi`` over their features (a
    user without features: ``s_i``, plain popularity). Written in the factor
    form (user vectors: the users' mean feature weights plus a "no features"
    column; item vectors: the ``s`` columns), so scoring needs nothing of its
    own; cold users with features are scored like any other
    (:func:`mfstudio.experiment.cold_rows_predicted`).
    """

    name = "demographic-popularity"
    title = "Popularity within the user's groups"
    summary = "What people of the same age band, gender, occupation... interacted with most."
    objective = "score(u, i) = mean_{f in F(u)} (c_fi + reg_group s_i) / (n_f + reg_group)"
    params_spec = (
        Param("reg_group", "float", 10.0, "pseudo-users pulling each group's item shares towards everyone's",
              low=0.0),
    )
    kinds = ("implicit",)
    task = "ranking"

    def _handles_cold(self) -> bool:
        return False

    def _fit_steps(self, train: Dataset):
        import scipy.sparse as sp
        reg_group = self.validate_params()["reg_group"]
        seen = sp.csr_matrix((np.ones(train.nnz), (train.rows, train.cols)), shape=train.shape)
        seen.data[:] = 1.0  # duplicates count once: the share of users, not of events
        seen.sum_duplicates()
        seen.data[:] = 1.0
        warm = np.diff(seen.indptr) > 0
        share = np.asarray(seen.sum(axis=0)).ravel() / max(int(warm.sum()), 1)
        weights = feature_weights(train.user_features, train.n_rows, "mean")
        n_feat = weights.shape[1]
        has = np.diff(weights.indptr) > 0
        if n_feat:
            members = sp.csr_matrix(weights, copy=True)  # a view would turn the weights into ones too
            members.data[:] = 1.0
            warm_members = sp.diags(warm.astype(np.float64)) @ members
            n_group = np.asarray(warm_members.sum(axis=0)).ravel()
            counts = (warm_members.T @ seen).toarray()  # features x items
            groups = (counts + reg_group * share[None, :]) / (n_group[:, None] + reg_group + 1e-12)
            item_factors = np.hstack([groups.T, share[:, None]])
        else:
            item_factors = share[:, None]
        user_factors = np.hstack([weights.toarray(), (~has).astype(np.float64)[:, None]]) if n_feat \
            else np.ones((train.n_rows, 1))
        self.user_factors_ = user_factors.astype(np.float32)
        self.item_factors_ = item_factors.astype(np.float32)
        yield 0.0, {}
