"""Baseline: global mean plus user and item biases.

Every curve in the app is drawn against this line: a factorization that does
not beat ``mu + b_u + b_i`` has learned nothing about taste, only about
generous users and popular items.

The biases are the regularised least-squares estimates of Koren (2010,
"Factor in the neighbors", section 2.1), found by alternating exact updates,
each one a closed form per user (resp. item)::

    b_u = sum_{i in I(u)} (r_ui - mu - b_i) / (reg_user + |I(u)|)
    b_i = sum_{u in U(i)} (r_ui - mu - b_u) / (reg_item + |U(i)|)

Each update is one ``bincount`` over the ratings, so an epoch is two passes
over memory; no compiled kernel is needed.
"""

from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from .base import FactorModel
from .params import Param

__all__ = ["Baseline"]


class Baseline(FactorModel):
    """Global mean + regularised user and item biases.

    Parameters
    ----------
    n_epochs : int, default 10
        Alternating passes (b_u then b_i); three or four already converge.
    reg_user : float, default 15
        Shrinks the bias of users with few ratings towards zero.
    reg_item : float, default 10
        Shrinks the bias of items with few ratings towards zero.

    Attributes
    ----------
    global_mean_ : float
    user_bias_ : ndarray of shape (n_users,)
    item_bias_ : ndarray of shape (n_items,)
    user_factors_, item_factors_ : ndarray with 0 columns
        Present so that every model answers the same calls.
    """

    name = "baseline"
    title = "Baseline (biases)"
    summary = ("Average rating plus how generous each user is and how liked each item is: the bar every rating "
               "model must beat, and hard to overfit. It cannot personalise: every user's ranking is the same.")
    objective = "min sum (r_ui - mu - b_u - b_i)^2 + reg_user sum b_u^2 + reg_item sum b_i^2"
    params_spec = (
        Param("n_epochs", "int", 10, "alternating passes over users and items", low=1, high=100_000),
        Param("reg_user", "float", 15.0, "shrinks the bias of users with few ratings towards zero", low=0.0),
        Param("reg_item", "float", 10.0, "shrinks the bias of items with few ratings towards zero", low=0.0),
    )
    kinds = ("explicit", "dense")

    def _fit_steps(self, train: Dataset):
        p = self.validate_params()
        n_epochs, reg_user, reg_item = p["n_epochs"], p["reg_user"], p["reg_item"]
        rows, cols = train.rows, train.cols
        values = train.values.astype(np.float64)
        user_count = np.bincount(rows, minlength=train.n_rows)
        item_count = np.bincount(cols, minlength=train.n_cols)
        self.global_mean_ = float(values.mean())
        residual = values - self.global_mean_
        self.user_bias_ = np.zeros(train.n_rows)
        self.item_bias_ = np.zeros(train.n_cols)
        # No factors: the shared FactorModel machinery (recommend, fold-in,
        # save) then works on the biases alone.
        self.user_factors_ = np.zeros((train.n_rows, 0), dtype=np.float32)
        self.item_factors_ = np.zeros((train.n_cols, 0), dtype=np.float32)
        for _ in range(n_epochs):
            self.user_bias_ = np.bincount(rows, residual - self.item_bias_[cols], train.n_rows) / (reg_user + user_count)
            self.item_bias_ = np.bincount(cols, residual - self.user_bias_[rows], train.n_cols) / (reg_item + item_count)
            error = residual - self.user_bias_[rows] - self.item_bias_[cols]
            loss = (error @ error + reg_user * self.user_bias_ @ self.user_bias_
                    + reg_item * self.item_bias_ @ self.item_bias_) / values.size
            yield loss, {}


class Popularity(FactorModel):
    """Recommend what most people interacted with: the line ranking models must beat.

    The score of an item is the number of training users who interacted with
    it (for explicit data: rated it at or above ``threshold``), the same for
    every user; seen items are still excluded per user.

    Attributes
    ----------
    item_bias_ : ndarray of shape (n_items,)
        Interaction count of each item.
    """

    name = "popularity"
    title = "Popularity"
    summary = ("Everyone gets the most popular items they have not seen yet: the reference every ranking model "
               "must beat, and surprisingly strong. It cannot overfit, nor personalise, nor suggest anything obscure.")
    objective = "score(u, i) = number of users who interacted with i"
    params_spec = (Param("threshold", "float", 4.0, "for rating data: ratings at or above this count as interactions"),)
    kinds = ("implicit", "explicit")
    task = "ranking"
    #: Every user gets the same item scores: evaluation ranks them without a score matrix.
    same_scores_for_every_user = True

    def _prepare(self, train: Dataset) -> Dataset:
        from .base import as_interactions

        return as_interactions(train, self.validate_params()["threshold"])

    def _fit_steps(self, train: Dataset):
        self.item_bias_ = np.bincount(train.cols, minlength=train.n_cols).astype(np.float64)
        self.user_factors_ = np.zeros((train.n_rows, 0), dtype=np.float32)
        self.item_factors_ = np.zeros((train.n_cols, 0), dtype=np.float32)
        yield 0.0, {}
