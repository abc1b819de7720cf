"""SGD kernel of the hybrid factorization: free vectors plus feature embeddings.

Variant
-------
The SVDFeature form (Chen et al., JMLR 2012) that LightFM (Kula, 2015) also
uses, for ratings with squared loss. A user's vector is their own free part
plus the weighted sum of the embeddings of their features; an item's
likewise; biases the same way::

    p_u = P[u] + sum_{f in F(u)} w_uf Y[f]        b_u = bu[u] + sum_f w_uf cu[f]
    q_i = Q[i] + sum_{g in G(i)} w_ig Z[g]        b_i = bi[i] + sum_g w_ig ci[g]
    r_ui ~ mu + b_u + b_i + p_u . q_i

Why this variant: it is the one that answers the cold start directly. An
item with no rating has ``Q[i] = 0`` and ``bi[i] = 0`` and is predicted from
its features alone; a user likewise. LightFM drops the free part and adds
an identity feature per row instead, which is the same model: we keep the
free part explicit so that it can be regularised on its own (``reg``) while
feature embeddings, shared by many rows, get theirs (``reg_features``).

The weights ``w`` are the feature matrix's values after the model's
normalisation (``1/sqrt(|F(u)|)`` by default, as SVD++ scales its implicit
sum), so a row with many features does not get a longer vector.

Each rating takes one plain SGD step on every parameter it touches, with
``e = r_ui - prediction`` and the composed ``p_u``, ``q_i`` of before the
step::

    bu[u] += lr_bias (e - reg_bias bu[u])       cu[f] += lr_features (w e - reg_bias cu[f])
    P[u]  += lr (e q_i - reg P[u])              Y[f]  += lr_features (w e q_i - reg_features Y[f])
    Q[i]  += lr (e p_u - reg Q[i])              Z[g]  += lr_features (w e p_u - reg_features Z[g])

Feature parameters get their own, smaller step (``lr_features``): a feature
such as ``gender=M`` is stepped by most ratings of an epoch, so at the free
vectors' step size it would wander with the last few hundred ratings
instead of settling on what its whole group shares (measured on MovieLens
100K cold users: with the same step the features made new users' RMSE worse
than the item bias alone).

Free-part dropout (DropoutNet, Volkovs et al., NeurIPS 2017): for a random
share of the ratings (``drop_user`` / ``drop_item`` flags per rating) the
user's (item's) free part is left out of the prediction and not stepped,
so that rating trains the features to predict it alone. Without it the
free parts absorb everything a group shares (the free bias of every
warm user soaks up their age band's generosity) and the features, which are
all a new user has, learn only what is left over.

Serial on purpose: a feature such as ``gender=M`` is touched by most
ratings, so Hogwild threads would collide on it constantly; an epoch of
MovieLens 100K takes tens of milliseconds on one thread anyway. One kernel
call is a chunk of an epoch (the model chunks with
:func:`mfstudio.models.stopping.work_chunks`), so cancel stays responsive.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["hybrid_sgd_epoch", "compose"]


# The three pieces below are what every hybrid kernel does per entry, whatever its loss: build a row's
# vector from its free part and its features, and step a row (free or feature) along a gradient. The
# ratings kernel and the ranking kernel differ only in the error they compute and which rows they step.

@njit(cache=True, nogil=True, fastmath=True)
def _compose_row(free, free_bias, r, keep, indptr, indices, weights, emb, emb_bias, out):
    """``out = keep * free[r] + sum_f w_rf emb[f]``; returns the bias composed the same way."""
    b = keep * free_bias[r]
    for d in range(out.shape[0]):
        out[d] = keep * free[r, d]
    for j in range(indptr[r], indptr[r + 1]):
        f = indices[j]
        w = weights[j]
        b += w * emb_bias[f]
        for d in range(out.shape[0]):
            out[d] += w * emb[f, d]
    return b


@njit(cache=True, nogil=True, fastmath=True)
def _step_row(M, bias, r, w, scale, direction, lr, reg, lr_bias, reg_bias):
    """One gradient step of row ``r``: ``M[r] += lr (w scale direction - reg M[r])``, its bias likewise.

    ``scale`` is the loss's derivative in the score (the rating error, or
    BPR's ``sigmoid(-x)`` with the sign of the side), ``w`` the row's weight
    in the composed vector (1 for a free part, the feature weight for an
    embedding). ``lr_bias`` 0 leaves the bias alone.
    """
    bias[r] += lr_bias * (w * scale - reg_bias * bias[r])
    for d in range(direction.shape[0]):
        M[r, d] += lr * (w * scale * direction[d] - reg * M[r, d])


@njit(cache=True, nogil=True, fastmath=True)
def _step_features(indptr, indices, weights, r, emb, emb_bias, scale, direction, lr, reg, lr_bias, reg_bias):
    """:func:`_step_row` on every feature embedding of row ``r``, each with its weight."""
    for j in range(indptr[r], indptr[r + 1]):
        _step_row(emb, emb_bias, indices[j], weights[j], scale, direction, lr, reg, lr_bias, reg_bias)


@njit(cache=True, nogil=True, fastmath=True)
def hybrid_sgd_epoch(rows, cols, values, drop_user, drop_item, mu, P, Q, bu, bi, Y, Z, cu, ci,
                     u_indptr, u_indices, u_weights, i_indptr, i_indices, i_weights,
                     lr, lr_bias, reg, reg_bias, reg_features, lr_features):
    """One SGD pass over the given ratings (a chunk of a shuffled epoch); returns the sum of squared errors.

    ``P``/``Q`` (n x k) and ``bu``/``bi`` are the free parts, ``Y``/``Z``
    (n_features x k) and ``cu``/``ci`` the feature embeddings and biases, all
    updated in place. The feature matrices come as CSR arrays whose values
    are the already normalised weights.
    """
    k = P.shape[1]
    pu = np.empty(k, dtype=np.float32)
    qi = np.empty(k, dtype=np.float32)
    lr32 = np.float32(lr)
    lrb = np.float32(lr_bias)
    reg32 = np.float32(reg)
    regb = np.float32(reg_bias)
    regf = np.float32(reg_features)
    lrf = np.float32(lr_features)
    one = np.float32(1.0)
    sse = 0.0
    for x in range(rows.shape[0]):
        u = rows[x]
        i = cols[x]
        # A dropped side is seen through its features alone, as a cold row is (and its free part rests).
        keep_u = np.float32(0.0) if drop_user[x] else one
        keep_i = np.float32(0.0) if drop_item[x] else one
        b_u = _compose_row(P, bu, u, keep_u, u_indptr, u_indices, u_weights, Y, cu, pu)
        b_i = _compose_row(Q, bi, i, keep_i, i_indptr, i_indices, i_weights, Z, ci, qi)
        dot = np.float32(0.0)
        for d in range(k):
            dot += pu[d] * qi[d]
        e = np.float32(values[x] - (mu + b_u + b_i + dot))
        sse += float(e) * float(e)

        _step_features(u_indptr, u_indices, u_weights, u, Y, cu, e, qi, lrf, regf, lrf, regb)
        _step_features(i_indptr, i_indices, i_weights, i, Z, ci, e, pu, lrf, regf, lrf, regb)
        if not drop_user[x]:
            _step_row(P, bu, u, one, e, qi, lr32, reg32, lrb, regb)
        if not drop_item[x]:
            _step_row(Q, bi, i, one, e, pu, lr32, reg32, lrb, regb)
    return sse


@njit(cache=True, nogil=True)
def compose(free, free_bias, indptr, indices, weights, emb, emb_bias, out, out_bias):
    """``out[r] = free[r] + sum_f w_rf emb[f]`` and the same for the biases, for every row ``r``."""
    for r in range(free.shape[0]):
        out_bias[r] = _compose_row(free, free_bias, r, np.float32(1.0), indptr, indices, weights, emb, emb_bias, out[r])
