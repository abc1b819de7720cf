"""timeSVD++ (Koren, "Collaborative filtering with temporal dynamics", KDD 2009): one SGD epoch per call.

Model, for a rating of user ``u`` on item ``i`` on day ``t``::

    r_ui(t) ~ mu + b_i + b_i,Bin(t) + b_u + alpha_u dev_u(t) [+ b_u,t]
              + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)

    dev_u(t) = sign(t - tbar_u) |t - tbar_u|^beta      (days; tbar_u the user's mean rating day)

Which variant, and why
----------------------
- The *bias* half of the paper's timeSVD++ (eq. 10 with the item-bin biases
  of eq. 6, the linear user drift of eq. 7 and, optionally, the day-specific
  user biases of eq. 8) on top of SVD++. Left out: the item-bias scaling
  ``c_u(t)`` and the drifting user factors ``p_u(t)``. The paper reports
  most of timeSVD++'s gain over SVD++ from the biases (its table 2:
  RMSE 0.9105 -> 0.8964 for the biases alone at f=50, 0.8924 with
  everything); every omitted term is another set of per-user parameters
  that MovieLens-sized data (most users active on one or two days) cannot
  fit.
- The per-rating quantities that depend only on the data (the item's time
  bin, ``dev_u(t)``, the slot of the user's day bias) are computed once by
  the model and passed in per rating, so the epoch does no power or
  division per rating.
- The SGD is the one of :func:`mfstudio.kernels.sgd.svdpp_epoch` (the
  "fast" SVD++ update): users in shuffled order, the implicit sum ``z_u``
  computed once per user and held fixed over the user's ratings, the
  ``y_j`` gradient applied once at the end of the user with the weight
  decay of ``|R(u)|`` per-rating steps. Why: Surprise's per-rating
  recomputation costs ``O(|N(u)|^2 k)`` per user, and the per-rating ``y``
  updates mostly chase noise. Users are cut into ``n_blocks`` chunks run by
  ``prange`` without locks (Hogwild: items, their bin biases and ``y_j``
  are shared; a collision is noise of SGD's own order). With one thread the
  chunks run in order, so a seed gives the same result every time.
- The time terms get their own step sizes and weight decays
  (``lr_time``/``reg_time`` for ``b_i,Bin`` and ``b_u,t``,
  ``lr_alpha``/``reg_alpha`` for ``alpha_u``), as in the paper: ``dev_u(t)``
  reaches ~10 after a year, so ``alpha_u``'s gradient ``e dev`` is that much
  larger than a bias's and wants a step ~1000 times smaller. Its step is
  also capped at ``1 / dev^2``, the step that alone would zero the
  rating's error (normalised LMS): a no-op at the paper's ``beta`` = 0.4
  (it needs ``dev`` > 100, i.e. 100,000 days), but with ``beta`` > 1,
  where ``dev`` reaches thousands of days^beta, plain SGD on ``alpha_u``
  diverges at any useful ``lr_alpha``.

Per rating, with ``e`` the error before the update and every right-hand side
read before any update of that rating::

    b_u   += lr_bias (e - reg_bias b_u)         b_i   += lr_bias (e - reg_bias b_i)
    b_i,B += lr_time (e - reg_time b_i,B)       b_u,t += lr_time (e - reg_time b_u,t)
    a_u   += s (e dev - reg_alpha a_u),  s = min(lr_alpha, 1 / dev^2)
    p_u   += lr (e q_i - reg p_u)               q_i   += lr (e (p_u + z_u) - reg q_i)

float32 parameters like the other SGD kernels; the error and the loss are
accumulated in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import MIX2 as _MIX2
from ._common import SAFE_FASTMATH, prefetch_row_for_write, splitmix64

__all__ = ["timesvdpp_epoch"]

#: How many ratings ahead the factor rows are prefetched (as in the SVD++ kernel).
_AHEAD = 4


@njit(cache=True, nogil=True, boundscheck=False, fastmath=SAFE_FASTMATH, parallel=True)
def timesvdpp_epoch(indptr, indices, values, bins, devs, day_slots, user_order, seed,
                    mu, user_bias, item_bias, bin_bias, alpha, day_bias, P, Q, Y,
                    lr_bias, lr, lr_time, lr_alpha, reg_bias, reg, reg_time, reg_alpha, n_blocks):
    """One epoch of timeSVD++ by SGD, user by user (the module notes say which variant and why).

    Parameters
    ----------
    indptr : int64 (n_users + 1,)
    indices : int32 (nnz,)
        The user's items, CSR by user; ``values`` (float32), ``bins`` (int32:
        the item-bias time bin of the rating), ``devs`` (float32:
        ``dev_u(t)``) and ``day_slots`` (int64: the index of ``b_u,t`` in
        ``day_bias``, or -1 without day biases) are in the same order.
    user_order : int32 (n_users,)
        The users' order this epoch.
    seed : int
        Seeds each user's rating shuffle (SplitMix64 of ``seed`` and the
        user id, so it does not depend on the thread that runs the user).
    mu : float
        The global mean (fixed).
    user_bias, item_bias, alpha : float32 (n_users,), (n_items,), (n_users,)
    bin_bias : float32 (n_items, n_bins)
    day_bias : float32 (n_user_days,)
        Empty when day biases are off.
    P, Q, Y : float32 (n_users, k), (n_items, k), (n_items, k)
        Updated in place, like every other parameter.
    lr_bias, lr, lr_time, lr_alpha, reg_bias, reg, reg_time, reg_alpha : float
    n_blocks : int
        Hogwild chunks of users.

    Returns
    -------
    float
        The sum of squared errors seen during the epoch.
    """
    n_users = user_order.shape[0]
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    lrb32 = np.float32(lr_bias)
    regb32 = np.float32(reg_bias)
    lrt32 = np.float32(lr_time)
    regt32 = np.float32(reg_time)
    lra32 = np.float32(lr_alpha)
    rega32 = np.float32(reg_alpha)
    max_count = 0
    for u in range(indptr.shape[0] - 1):
        max_count = max(max_count, indptr[u + 1] - indptr[u])
    losses = np.zeros(n_blocks)
    for b in prange(n_blocks):
        lo = (n_users * b) // n_blocks
        hi = (n_users * (b + 1)) // n_blocks
        z = np.empty(k, np.float32)
        g = np.empty(k, np.float32)
        pos = np.empty(max(max_count, 1), np.int64)
        acc = 0.0
        for t in range(lo, hi):
            u = user_order[t]
            start = indptr[u]
            stop = indptr[u + 1]
            count = stop - start
            if count == 0:
                continue
            norm = np.float32(1.0 / np.sqrt(count))
            for f in range(k):
                z[f] = 0.0
                g[f] = 0.0
            for x in range(start, stop):
                if x + _AHEAD < stop:
                    prefetch_row_for_write(Y, indices[x + _AHEAD])
                j = indices[x]
                for f in range(k):
                    z[f] += Y[j, f]
            for f in range(k):
                z[f] *= norm
            for x in range(count):
                pos[x] = start + x
            state = np.uint64(seed) ^ (np.uint64(u) * _MIX2)
            for x in range(count - 1, 0, -1):  # Fisher-Yates of this user's ratings
                state, bits = splitmix64(state)
                j = np.int64(((bits >> np.uint64(32)) * np.uint64(x + 1)) >> np.uint64(32))
                tmp = pos[x]
                pos[x] = pos[j]
                pos[j] = tmp
            for x in range(count):
                if x + _AHEAD < count:
                    prefetch_row_for_write(Q, indices[pos[x + _AHEAD]])
                idx = pos[x]
                i = indices[idx]
                bin_ = bins[idx]
                dev = devs[idx]
                slot = day_slots[idx]
                dot = np.float32(0.0)
                for f in range(k):
                    dot += (P[u, f] + z[f]) * Q[i, f]
                bu = user_bias[u]
                bi = item_bias[i]
                bib = bin_bias[i, bin_]
                au = alpha[u]
                but = day_bias[slot] if slot >= 0 else np.float32(0.0)
                err = (np.float64(values[idx]) - mu - np.float64(bu) - np.float64(bi) - np.float64(bib)
                       - np.float64(au) * np.float64(dev) - np.float64(but) - np.float64(dot))
                acc += err * err
                e = np.float32(err)
                user_bias[u] = bu + lrb32 * (e - regb32 * bu)
                item_bias[i] = bi + lrb32 * (e - regb32 * bi)
                bin_bias[i, bin_] = bib + lrt32 * (e - regt32 * bib)
                # Never a step past the one that alone would zero this rating's error (1 / dev^2):
                # plain SGD at the paper's beta, but a large beta (dev in the thousands) cannot diverge.
                step_a = lra32
                if lra32 * dev * dev > np.float32(1.0):
                    step_a = np.float32(1.0) / (dev * dev)
                alpha[u] = au + step_a * (e * dev - rega32 * au)
                if slot >= 0:
                    day_bias[slot] = but + lrt32 * (e - regt32 * but)
                for f in range(k):
                    pf = P[u, f]
                    qf = Q[i, f]
                    P[u, f] = pf + lr32 * (e * qf - reg32 * pf)
                    Q[i, f] = qf + lr32 * (e * (pf + z[f]) - reg32 * qf)
                    g[f] += e * qf
            decay = np.float32((1.0 - lr * reg) ** count)
            step = lr32 * norm
            for x in range(start, stop):
                if x + _AHEAD < stop:
                    prefetch_row_for_write(Y, indices[x + _AHEAD])
                j = indices[x]
                for f in range(k):
                    Y[j, f] = Y[j, f] * decay + step * g[f]
        losses[b] = acc
    return losses.sum()
