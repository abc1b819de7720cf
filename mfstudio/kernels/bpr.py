"""Bayesian personalized ranking (BPR) kernel: one epoch of Hogwild SGD.

One call runs ``n_samples`` stochastic updates (an epoch is as many samples
as there are positive entries). Samples are drawn inside the kernel from
small counter-free generators, one per *block* of samples, each seeded from
``block_seeds`` (drawn in Python from ``np.random.default_rng(seed)``), so
the sampled triples do not depend on the number of threads; with one thread
the whole epoch, updates included, is reproducible. With several threads the
blocks run concurrently and update shared factor rows without locks
(Hogwild!, Niu et al. 2011): rows are touched by few samples at a time, so
the lost updates are rare and harmless, and the speed-up is linear.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# csr_contains stays importable from here: it is part of this family's public names.
from ._common import csr_contains, uniform_below
from ._common import splitmix64 as _splitmix64

__all__ = ["bpr_epoch", "csr_contains", "bpr_block_count"]

def bpr_block_count(n_samples: int) -> int:
    """How many independently seeded blocks an epoch of ``n_samples`` is cut into.

    Depends on the sample count only (never on the thread count), so that the
    same seed draws the same triples on any machine.
    """
    return int(min(1024, max(1, n_samples // 2048)))


@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def bpr_epoch(indptr, indices, user_of, X, Y, item_bias, lr, reg, n_samples, block_seeds):
    """One epoch of BPR-MF by Hogwild SGD with uniform negative sampling.

    Parameters
    ----------
    indptr, indices : CSR structure of the positives (users x items), each
        row's indices sorted ascending
    user_of : int32 (nnz,), the row of each entry
    X : float32 (n_users, k), user factors, updated
    Y : float32 (n_items, k), item factors, updated
    item_bias : float32 (n_items,), updated
    lr, reg : learning rate and L2 strength
    n_samples : int, triples to draw
    block_seeds : uint64 (n_blocks,), one seed per block of samples

    Returns
    -------
    (loss_sum, n_used) : (float, int)
        Sum over the used triples of ``-log sigmoid(x_uij)`` plus
        ``reg / 2 * (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)``, each
        term at the parameters the triple's update started from; and how
        many triples were used (a user who has every item has no negative).
    """
    # Variant: BPR-MF of Rendle, Freudenthaler, Gantner & Schmidt-Thieme
    # (2009) with an item bias: x_uij = p_u . (q_i - q_j) + b_i - b_j.
    # Triples are drawn as LearnBPR draws them: (u, i) uniform over the
    # positive entries (so active users get proportionally more updates),
    # j uniform over all items, redrawn while j is a positive of u (checked by
    # binary search in u's sorted CSR row; after 64 failures the triple is
    # skipped). Uniform negatives, unlike the popularity-weighted negatives
    # of benfred/implicit, keep popular items from being pushed down just for
    # being popular, which is what precision@k on MovieLens rewards. The
    # update is the gradient step on ln sigmoid(x_uij) - reg/2 ||theta||^2
    # with g = sigmoid(-x_uij), all factors read before any is written.
    n_blocks = block_seeds.shape[0]
    nnz = indices.shape[0]
    n_items = Y.shape[0]
    k = X.shape[1]
    per_block = (n_samples + n_blocks - 1) // n_blocks
    losses = np.zeros(n_blocks, dtype=np.float64)
    used = np.zeros(n_blocks, dtype=np.int64)
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    for blk in prange(n_blocks):
        state = block_seeds[blk]
        lo = blk * per_block
        hi = min(n_samples, lo + per_block)
        acc = 0.0
        count = 0
        for _ in range(lo, hi):
            state, z = _splitmix64(state)
            idx = uniform_below(z, nnz)
            u = user_of[idx]
            i = indices[idx]
            start, end = indptr[u], indptr[u + 1]
            if end - start >= n_items:
                continue
            j = -1
            for _try in range(64):
                state, z = _splitmix64(state)
                cand = uniform_below(z, n_items)
                if not csr_contains(indices, start, end, cand):
                    j = cand
                    break
            if j < 0:
                continue
            x = item_bias[i] - item_bias[j]
            norms = item_bias[i] * item_bias[i] + item_bias[j] * item_bias[j]
            for f in range(k):
                pu = X[u, f]
                qi = Y[i, f]
                qj = Y[j, f]
                x += pu * (qi - qj)
                norms += pu * pu + qi * qi + qj * qj
            xd = np.float64(x)
            # -log sigmoid(x) = log(1 + exp(-x)), computed without overflow
            if xd > 0:
                acc += np.log1p(np.exp(-xd))
            else:
                acc += -xd + np.log1p(np.exp(xd))
            acc += 0.5 * reg * np.float64(norms)
            count += 1
            g = np.float32(1.0 / (1.0 + np.exp(xd)))
            for f in range(k):
                pu = X[u, f]
                qi = Y[i, f]
                qj = Y[j, f]
                X[u, f] = pu + lr32 * (g * (qi - qj) - reg32 * pu)
                Y[i, f] = qi + lr32 * (g * pu - reg32 * qi)
                Y[j, f] = qj - lr32 * (g * pu + reg32 * qj)
            bi = item_bias[i]
            bj = item_bias[j]
            item_bias[i] = bi + lr32 * (g - reg32 * bi)
            item_bias[j] = bj - lr32 * (g + reg32 * bj)
        losses[blk] = acc
        used[blk] = count
    total = 0.0
    n_used = 0
    for blk in range(n_blocks):
        total += losses[blk]
        n_used += used[blk]
    return total, n_used
