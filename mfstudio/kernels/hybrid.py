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
    sse = 0.0
    for x in range(rows.shape[0]):
        u = rows[x]
        i = cols[x]
        # A dropped side is seen through its features alone, as a cold row is (and its free part rests).
        keep_u = np.float32(0.0) if drop_user[x] else np.float32(1.0)
        keep_i = np.float32(0.0) if drop_item[x] else np.float32(1.0)
        b_u = keep_u * bu[u]
        b_i = keep_i * bi[i]
        for d in range(k):
            pu[d] = keep_u * P[u, d]
            qi[d] = keep_i * Q[i, d]
        for j in range(u_indptr[u], u_indptr[u + 1]):
            f = u_indices[j]
            w = u_weights[j]
            b_u += w * cu[f]
            for d in range(k):
                pu[d] += w * Y[f, d]
        for j in range(i_indptr[i], i_indptr[i + 1]):
            g = i_indices[j]
            w = i_weights[j]
            b_i += w * ci[g]
            for d in range(k):
                qi[d] += w * Z[g, d]
        dot = np.float32(0.0)
        for d in range(k):
            dot += pu[d] * qi[d]
        e = np.float32(values[x] - (mu + b_u + b_i + dot))
        sse += float(e) * float(e)

        bu[u] += keep_u * lrb * (e - regb * bu[u])
        bi[i] += keep_i * lrb * (e - regb * bi[i])
        for j in range(u_indptr[u], u_indptr[u + 1]):
            f = u_indices[j]
            w = u_weights[j]
            cu[f] += lrf * (w * e - regb * cu[f])
            for d in range(k):
                Y[f, d] += lrf * (w * e * qi[d] - regf * Y[f, d])
        for j in range(i_indptr[i], i_indptr[i + 1]):
            g = i_indices[j]
            w = i_weights[j]
            ci[g] += lrf * (w * e - regb * ci[g])
            for d in range(k):
                Z[g, d] += lrf * (w * e * pu[d] - regf * Z[g, d])
        for d in range(k):
            P[u, d] += keep_u * lr32 * (e * qi[d] - reg32 * P[u, d])
            Q[i, d] += keep_i * lr32 * (e * pu[d] - reg32 * Q[i, d])
    return sse


@njit(cache=True, nogil=True)
def compose(free, free_bias, indptr, indices, weights, emb, emb_bias, out, out_bias):
    """``out[r] = free[r] + sum_f w_rf emb[f]`` and the same for the biases, for every row ``r``."""
    k = free.shape[1]
    for r in range(free.shape[0]):
        b = free_bias[r]
        for d in range(k):
            out[r, d] = free[r, d]
        for j in range(indptr[r], indptr[r + 1]):
            f = indices[j]
            w = weights[j]
            b += w * emb_bias[f]
            for d in range(k):
                out[r, d] += w * emb[f, d]
        out_bias[r] = b
