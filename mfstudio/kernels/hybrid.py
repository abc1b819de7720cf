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

Implicit data: BPR loss (LightFM's ``loss='bpr'``)
---------------------------------------------------
:func:`hybrid_bpr_epoch` fits the same parametrisation to interactions with
Rendle et al.'s BPR loss, as LightFM does: for a user ``u``, an item ``i``
they interacted with and an item ``j`` they did not, maximise
``ln sigmoid(x_uij)`` with ``x_uij = p_u . (q_i - q_j) + b_i - b_j`` (no
user bias: it cancels in the difference). Each positive of the shuffled
epoch is visited once (as the ratings kernel visits each rating; LearnBPR's
draws with replacement would make cancel points and chunk sizes change the
draws), and its negative ``j`` is drawn uniformly from the *warm* items
(with at least one training interaction) that the user did not interact
with, by rejection against the user's sorted CSR row (64 tries, then the
positive is skipped). Why warm only: a cold item has no interaction
because it is new, not because nobody wanted it; drawn as a negative, its
features' embeddings would learn "new = unwanted" and the model would rank
every new item last, which is exactly what the features are there to
prevent. Uniform, not popularity-weighted, for the reason BPR's kernel
gives. Draws come from one SplitMix64 state carried across chunk calls, so
the epoch does not depend on where the model cut it. Free-part dropout as
above, drawn per triple for ``u``, ``i`` and ``j``; feature embeddings get
their own step ``lr_features`` and decay ``reg_features``; free vectors and
item biases get BPR's ``lr`` and ``reg``. Serial, for the same reason as the
ratings kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._common import csr_contains, splitmix64, uniform_below

_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

__all__ = ["hybrid_sgd_epoch", "hybrid_bpr_epoch", "compose"]


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


@njit(cache=True, nogil=True, fastmath=True)
def _dropped(state, rate, has_features):
    """``(state, whether a row with features has its free part dropped for this triple)``."""
    if rate <= 0.0 or not has_features:
        return state, False
    state, z = splitmix64(state)
    return state, np.float64(z >> np.uint64(11)) * _TO_UNIT < rate


@njit(cache=True, nogil=True, fastmath=True)
def hybrid_bpr_epoch(users, positives, indptr, indices, warm_items, state, dropout, user_has, item_has,
                     P, Q, bu, bi, Y, Z, cu, ci, u_indptr, u_indices, u_weights, i_indptr, i_indices, i_weights,
                     lr, reg, reg_features, lr_features):
    """One BPR pass over the given (user, positive item) pairs, a chunk of a shuffled epoch.

    Parameters
    ----------
    users, positives : int32 (n,)
        The chunk's interactions.
    indptr, indices : CSR of every training interaction (rows sorted), for the rejection of negatives.
    warm_items : int32 (m,)
        The items negatives are drawn from (those with a training interaction).
    state : uint64 (1,)
        SplitMix64 state, advanced in place.
    dropout : float
        Chance that a side's free part (and free bias) is left out of a triple.
    user_has, item_has : bool (n_users,), (n_items,)
        Whether the row has features (only such a row can be dropped).
    P, Q, bu, bi, Y, Z, cu, ci
        As :func:`hybrid_sgd_epoch` (``bu`` and ``cu`` are zeros and stay so:
        BPR has no user bias).

    Returns
    -------
    (loss_sum, n_used) : (float, int)
        Sum of ``-ln sigmoid(x_uij)`` over the triples used (each before its
        update), and how many were used.
    """
    k = P.shape[1]
    pu = np.empty(k, dtype=np.float32)
    qi = np.empty(k, dtype=np.float32)
    qj = np.empty(k, dtype=np.float32)
    diff = np.empty(k, dtype=np.float32)
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    regf = np.float32(reg_features)
    lrf = np.float32(lr_features)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    s = state[0]
    n_warm = warm_items.shape[0]
    loss = 0.0
    used = 0
    for x in range(users.shape[0]):
        u = users[x]
        i = positives[x]
        start, end = indptr[u], indptr[u + 1]
        j = -1
        for _try in range(64):
            s, z = splitmix64(s)
            cand = warm_items[uniform_below(z, n_warm)]
            if not csr_contains(indices, start, end, cand):
                j = cand
                break
        if j < 0:
            continue
        s, drop_u = _dropped(s, dropout, user_has[u])
        s, drop_i = _dropped(s, dropout, item_has[i])
        s, drop_j = _dropped(s, dropout, item_has[j])
        _compose_row(P, bu, u, zero if drop_u else one, u_indptr, u_indices, u_weights, Y, cu, pu)
        b_i = _compose_row(Q, bi, i, zero if drop_i else one, i_indptr, i_indices, i_weights, Z, ci, qi)
        b_j = _compose_row(Q, bi, j, zero if drop_j else one, i_indptr, i_indices, i_weights, Z, ci, qj)
        xij = b_i - b_j
        for d in range(k):
            diff[d] = qi[d] - qj[d]
            xij += pu[d] * diff[d]
        xd = np.float64(xij)
        # -ln sigmoid(x) = ln(1 + exp(-x)), without overflow
        loss += np.log1p(np.exp(-xd)) if xd > 0 else -xd + np.log1p(np.exp(xd))
        used += 1
        g = np.float32(1.0 / (1.0 + np.exp(xd)))  # d ln sigmoid(x) / dx

        # User features carry no bias (lr_bias 0): a user's bias cancels in x_uij.
        _step_features(u_indptr, u_indices, u_weights, u, Y, cu, g, diff, lrf, regf, zero, zero)
        _step_features(i_indptr, i_indices, i_weights, i, Z, ci, g, pu, lrf, regf, lrf, regf)
        _step_features(i_indptr, i_indices, i_weights, j, Z, ci, -g, pu, lrf, regf, lrf, regf)
        if not drop_u:
            _step_row(P, bu, u, one, g, diff, lr32, reg32, zero, zero)
        if not drop_i:
            _step_row(Q, bi, i, one, g, pu, lr32, reg32, lr32, reg32)
        if not drop_j:
            _step_row(Q, bi, j, one, -g, pu, lr32, reg32, lr32, reg32)
    state[0] = s
    return loss, used


@njit(cache=True, nogil=True)
def compose(free, free_bias, indptr, indices, weights, emb, emb_bias, out, out_bias):
    """``out[r] = free[r] + sum_f w_rf emb[f]`` and the same for the biases, for every row ``r``."""
    for r in range(free.shape[0]):
        out_bias[r] = _compose_row(free, free_bias, r, np.float32(1.0), indptr, indices, weights, emb, emb_bias, out[r])
