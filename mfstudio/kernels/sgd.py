"""Stochastic-gradient kernels: textbook GD, biased SGD (serial / Hogwild / Adam / Adagrad), SVD++.

One call is one epoch. Every kernel updates the factor arrays in place and
returns the sum of squared errors it saw during the epoch (float64), each
rating's error taken just before that rating's update (the "running" loss
Surprise, LIBMF and Keras report). The regularisation part of the objective
is added by the model from the factors at the end of the epoch.

Conventions shared by all kernels
---------------------------------
- Factors, biases and optimizer state are float32 arrays, rows indexed by
  the internal ids; the rating data is COO (``rows``, ``cols``, ``values``)
  or CSR (``indptr``, ``indices``, ``values``) as the variant needs.
- Randomness comes from the model's seeded ``numpy.random.Generator``: it
  draws one 63-bit seed per epoch, and :func:`shuffle` /
  :func:`shuffle_ratings` turn that seed into a permutation with a
  SplitMix64 stream (a Fisher-Yates shuffle in compiled code is several
  times cheaper than ``Generator.permutation`` plus the gathers, which at
  MovieLens size would cost a good part of an SGD epoch). The COO kernels
  visit the triples in the order they are stored; the model shuffles its
  own copy in place.
- Biased SGD has a serial kernel (:func:`sgd_epoch`) and a Hogwild twin
  (:func:`sgd_epoch_hogwild`) that the models run only on epochs of at
  least :data:`HOGWILD_MIN_WORK` ratings x factors, where threads pay.
- Hogwild (Niu, Recht, Re & Wright, NIPS 2011): the shuffled ratings are
  cut into ``n_blocks`` contiguous chunks and ``prange`` runs the chunks on
  the available threads, each updating the shared factors without locks.
  Ratings are sparse, so two threads rarely touch the same row at once, and
  when they do, one update is partly overwritten: noise of the same order
  as SGD's own. The chunking does not depend on the number of threads, and
  with one thread the chunks run in order, so a single-threaded run is
  exactly the serial algorithm over the same permutation (bit for bit
  reproducible for a seed).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._common import MIX2 as _MIX2
from ._common import SAFE_FASTMATH, prefetch_row_for_write, prefetch_short_row_for_write, splitmix64

__all__ = [
    "shuffle",
    "shuffle_ratings",
    "gd_entry_epoch",
    "gd_full_epoch",
    "sgd_epoch",
    "sgd_epoch_hogwild",
    "HOGWILD_MIN_WORK",
    "minibatch_epoch",
    "svdpp_epoch",
    "implicit_sums",
    "weighted_sq_norm",
]


@njit(cache=True, nogil=True)
def _shuffle_range(arr, lo, hi, state):
    """Fisher-Yates shuffle of ``arr[lo:hi]`` in place; returns the advanced state.

    The bounded draw is Lemire's multiply-shift on the top 32 bits (bias below
    2**-32 for the sizes seen here, irrelevant for SGD ordering).
    """
    for x in range(hi - lo - 1, 0, -1):
        state, bits = splitmix64(state)
        j = np.int64(((bits >> np.uint64(32)) * np.uint64(x + 1)) >> np.uint64(32))
        tmp = arr[lo + x]
        arr[lo + x] = arr[lo + j]
        arr[lo + j] = tmp
    return state


@njit(cache=True, nogil=True)
def shuffle(order, seed):
    """Shuffle ``order`` in place with a SplitMix64 Fisher-Yates seeded by ``seed``.

    Same ``seed``, same permutation, on every machine and thread count.
    """
    _shuffle_range(order, 0, order.shape[0], np.uint64(seed))


@njit(cache=True, nogil=True)
def shuffle_ratings(rows, cols, values, seed):
    """Shuffle the triples ``(rows[x], cols[x], values[x])`` together, in place.

    A Fisher-Yates shuffle of the already shuffled arrays is again a uniform
    permutation, so an epoch can shuffle the model's own copy instead of
    building an index array and gathering through it.
    """
    state = np.uint64(seed)
    for x in range(rows.shape[0] - 1, 0, -1):
        state, bits = splitmix64(state)
        j = np.int64(((bits >> np.uint64(32)) * np.uint64(x + 1)) >> np.uint64(32))
        r = rows[x]
        rows[x] = rows[j]
        rows[j] = r
        c = cols[x]
        cols[x] = cols[j]
        cols[j] = c
        v = values[x]
        values[x] = values[j]
        values[j] = v


#: How many ratings ahead the factor rows are prefetched.
_AHEAD = 4


# --------------------------------------------------------------------------- GD
@njit(cache=True, nogil=True, fastmath=True)
def gd_entry_epoch(rows, cols, values, P, Q, lr, reg):
    """One sweep of the classic tutorial's per-entry gradient descent (no biases).

    Variant: Albert Au Yeung's "Matrix Factorization: A Simple Tutorial and
    Implementation in Python" (quuxlabs, 2010), the update most people meet
    first. For each observed ``r_ij``, in the order the triples are stored::

        e = r_ij - p_i . q_j
        for k in factors:
            p_ik += lr * (2 e q_kj - reg p_ik)
            q_kj += lr * (2 e p_ik - reg q_kj)      # uses the p_ik just updated

    which is SGD on ``sum e_ij^2 + reg/2 (|p_i|^2 + |q_j|^2)`` per observed
    entry. The tutorial updates ``q_kj`` with the *new* ``p_ik`` (its loops
    overwrite ``P`` in place); we keep that quirk so that, in the tutorial's
    order, this reproduces its numbers. It is serial by design: this is the
    teaching model, and the order is part of the lesson.

    Returns the sum of squared errors seen during the sweep.
    """
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    two = np.float32(2.0)
    sse = 0.0
    for x in range(rows.shape[0]):
        i = rows[x]
        j = cols[x]
        dot = np.float32(0.0)
        for f in range(k):
            dot += P[i, f] * Q[j, f]
        e = values[x] - dot
        sse += np.float64(e) * np.float64(e)
        for f in range(k):
            P[i, f] += lr32 * (two * e * Q[j, f] - reg32 * P[i, f])
            Q[j, f] += lr32 * (two * e * P[i, f] - reg32 * Q[j, f])
    return sse


@njit(cache=True, nogil=True, fastmath=True)
def gd_full_epoch(u_indptr, u_items, u_values, i_indptr, i_users, i_values, P, Q, lr, reg, grad_P, grad_Q):
    """One step of full-batch gradient descent on the tutorial's objective.

    Variant: all gradients are computed from the same (old) ``P`` and ``Q``,
    then every row moves at once, as textbook batch GD does. Each row follows
    the *average* gradient over its own ratings::

        p_i += lr * mean_{j in R(i)} (2 e_ij q_j - reg p_i)
        q_j += lr * mean_{i in R(j)} (2 e_ij p_i - reg q_j)

    Why the average: the summed gradient of a row grows with its number of
    ratings, so with a summed gradient the largest stable ``lr`` is set by
    the most active user or most popular item (about ``1 / (2 n_max |q|^2)``,
    ~1e-4 on MovieLens) and every other row crawls. Averaging is the
    diagonal (Jacobi) preconditioner of the block Hessian: every row sees the
    same curvature scale, so one ``lr`` of order 0.1 suits rows with 5 and
    with 500 ratings. Rows without ratings do not move.

    Gradients are gathered per user from the CSR and per item from the CSC
    (no scattered writes). Serial: this is the teaching model, and a serial
    kernel compiles in a fraction of the time of a ``prange`` one.
    ``grad_P`` and ``grad_Q`` are scratch arrays shaped like ``P`` and ``Q``.

    Returns the sum of squared errors before the step.
    """
    n_users, k = P.shape
    n_items = Q.shape[0]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    two = np.float32(2.0)
    sse_rows = np.zeros(n_users)
    for u in range(n_users):
        start, stop = u_indptr[u], u_indptr[u + 1]
        for f in range(k):
            grad_P[u, f] = 0.0
        acc = 0.0
        for x in range(start, stop):
            j = u_items[x]
            dot = np.float32(0.0)
            for f in range(k):
                dot += P[u, f] * Q[j, f]
            e = u_values[x] - dot
            acc += np.float64(e) * np.float64(e)
            for f in range(k):
                grad_P[u, f] += two * e * Q[j, f] - reg32 * P[u, f]
        sse_rows[u] = acc
        if stop > start:
            scale = lr32 / np.float32(stop - start)
            for f in range(k):
                grad_P[u, f] *= scale
    for j in range(n_items):
        start, stop = i_indptr[j], i_indptr[j + 1]
        for f in range(k):
            grad_Q[j, f] = 0.0
        for x in range(start, stop):
            u = i_users[x]
            dot = np.float32(0.0)
            for f in range(k):
                dot += P[u, f] * Q[j, f]
            e = i_values[x] - dot
            for f in range(k):
                grad_Q[j, f] += two * e * P[u, f] - reg32 * Q[j, f]
        if stop > start:
            scale = lr32 / np.float32(stop - start)
            for f in range(k):
                grad_Q[j, f] *= scale
    for u in range(n_users):
        for f in range(k):
            P[u, f] += grad_P[u, f]
    for j in range(n_items):
        for f in range(k):
            Q[j, f] += grad_Q[j, f]
    return sse_rows.sum()


# -------------------------------------------------------------------- biased SGD
#: Ratings x factors per epoch from which :func:`sgd_epoch_hogwild` beats
#: :func:`sgd_epoch`; below it the models run the serial kernel whatever the
#: thread count. Measured with ``python benchmarks/bench_sgd.py
#: --hogwild-scan 100000,1000000,4000000,10000000`` (k=100, 2 threads against
#: 1 on 2 shared cores, load average ~7, November 2026): Hogwild took 3.5x
#: the serial time at 1e7 (MovieLens 100K's size), 1.7x at 1e8 (1M ratings),
#: 0.77x at 4e8 and 0.97x at 1e9. The threshold sits between the last loss
#: and the first win, so ``--threads`` never makes a small fit slower.
#: Re-measured with the faster serial loop (load ~1.8): 2.07x at 1e7, 1.09x
#: at 1e8, 0.93x at 4e8, so it stays.
HOGWILD_MIN_WORK = 300_000_000


@njit(cache=True, nogil=True, boundscheck=False, fastmath=SAFE_FASTMATH)
def _sgd_block(rows, cols, values, lo, hi, mu32, user_bias, item_bias, P, Q, lrb32, regb32, lr32, decay, weights):
    """Biased SGD over the stored ratings ``lo:hi``; returns their squared errors (float64 sum).

    ``weights`` (float32, one per stored rating, or None) scales each
    rating's whole step, weight decay included: SGD on ``sum_x w_x (e_x^2 +
    penalties)``. With None the weight branches are pruned when numba
    compiles, so the unweighted loop carries no trace of them.

    Variant: the plain serial loop, per rating a dot product, then one fused
    update of both rows (each reads the old ``p_u`` and ``q_i`` before either
    is written). Why this shape, measured on MovieLens 100K u1 at k=100 (20
    epochs, CPU time, best of 21-25 interleaved runs of throwaway copies of
    the loop in one process, 2 shared cores, November 2026; 62-65 ms
    against 69-77 ms for the loop it replaced; ``benchmarks/bench_sgd.py --asm``
    shows the vector instructions):

    - Per rating the time goes to loop set-up and remainders more than to
      arithmetic: at k=96 (no remainder after 32- and 16-wide vector bodies)
      the loop takes 15% less than at k=100. So the fewer loops per rating
      the better: the row prefetch is :func:`prefetch_short_row_for_write`
      (its lines unrolled, no loop: -8%); and the row ids are unsigned, and
      the rating positions too, so numba emits no negative-index
      wrap-around per access (-6% and -4%).
    - Things that did not pay and were removed or not taken: computing the
      next rating's dot product inside this rating's update loop (the
      previous version; four row streams and alias checks per rating cost
      what the overlap saved), two ratings at once when they share no row,
      a vector body of a multiple of 16 with a scalar tail, reading the
      triples through a shuffled index, a Fisher-Yates swap fused into the
      loop, rows scaled lazily (one FMA less per factor, a division and a
      fold per epoch more), and a prefetch distance other than 3-8 ratings.

    The inner loops are float32 over the contiguous factor rows, so that
    they vectorise (AVX2: 8 factors per instruction, FMA); nothing is
    allocated. The error is float32 too (float32 keeps ~7 digits of a 1-5
    rating, far below SGD's own noise); the loss is summed in float64.
    Fast-math is limited to :data:`SAFE_FASTMATH` (reassociation for the
    vectorised dot product, FMA contraction): no assumption that NaN or
    infinity never occur, since a diverging fit is detected by them.
    """
    k = P.shape[1]
    acc = 0.0
    one = np.float32(1.0)
    # Positions and ids are >= 0: held unsigned, numba emits no negative-index wrap-around per access
    # (uint64 throughout: numba would turn uint64 + int64 into float64).
    ahead = np.uint64(_AHEAD)
    end = np.uint64(hi)
    for x in range(np.uint64(lo), end):
        if x + ahead < end:
            prefetch_short_row_for_write(P, np.uint32(rows[x + ahead]))
            prefetch_short_row_for_write(Q, np.uint32(cols[x + ahead]))
        u = np.uint32(rows[x])
        i = np.uint32(cols[x])
        pu = P[u]
        qi = Q[i]
        dot = np.float32(0.0)
        for f in range(k):
            dot += pu[f] * qi[f]
        bu = user_bias[u]
        bi = item_bias[i]
        e = (values[x] - mu32 - bu - bi) - dot
        if weights is None:
            acc += np.float64(e) * np.float64(e)
            lrb = lrb32
            step = lr32 * e
            keep = decay
        else:
            w = weights[x]
            acc += np.float64(w) * np.float64(e) * np.float64(e)
            lrb = lrb32 * w
            step = lr32 * w * e
            keep = one - (one - decay) * w  # 1 - w lr reg
        user_bias[u] = bu + lrb * (e - regb32 * bu)
        item_bias[i] = bi + lrb * (e - regb32 * bi)
        for f in range(k):
            pf = pu[f]
            qf = qi[f]
            pu[f] = keep * pf + step * qf
            qi[f] = keep * qf + step * pf
    return acc


@njit(cache=True, nogil=True, boundscheck=False, fastmath=SAFE_FASTMATH)
def sgd_epoch(rows, cols, values, mu, user_bias, item_bias, P, Q, lr_bias, lr, reg_bias, reg, n_blocks, weights=None):
    """One epoch of Funk/Koren biased matrix factorization by SGD, on one thread.

    Variant: the SVD of Simon Funk's Netflix Prize write-up with the biases
    of Koren, Bell & Volinsky (IEEE Computer 2009, eq. 5), exactly as
    Surprise's ``SVD`` updates it, but over a fresh shuffle every epoch
    (Surprise walks the ratings user by user in the same order each epoch)::

        e    = r_ui - (mu + b_u + b_i + p_u . q_i)
        b_u += lr_bias * (e - reg_bias * b_u)
        b_i += lr_bias * (e - reg_bias * b_i)
        p_u += lr * (e q_i - reg p_u)          # both with the old p_u, q_i
        q_i += lr * (e p_u - reg q_i)

    ``mu`` (the global mean) is fixed. The ratings are visited in the order
    they are stored: the model shuffles its own copy of the triples in place
    before each epoch (:func:`shuffle_ratings`), so the epoch streams through
    memory instead of gathering through a permutation. The loop itself is
    :func:`_sgd_block` (how it is made fast is said there).

    ``n_blocks`` is accepted for the signature of
    :func:`sgd_epoch_hogwild`, whose one-thread result this is exactly: the
    blocks are contiguous and visiting them in order is visiting the stream
    in order.

    ``weights`` (float32 per stored rating, in the same order; the model
    shuffles them with the triples) scales each rating's step (see
    :func:`_sgd_block`); None, the default, is plain SGD.

    Serial on purpose: on small problems (MovieLens 100K is ~8M
    ratings x factors per epoch) a parallel region costs more than it saves
    on a shared machine (measured: 2 threads 3.5x slower than 1 on 2 busy
    cores, see :data:`HOGWILD_MIN_WORK`), and a serial kernel compiles in a fraction of a ``prange`` one's
    time, so the first fit starts sooner.

    Returns the sum of squared errors seen during the epoch.
    """
    lr32 = np.float32(lr)
    decay = np.float32(1.0) - lr32 * np.float32(reg)
    return _sgd_block(rows, cols, values, np.int64(0), np.int64(rows.shape[0]), np.float32(mu), user_bias, item_bias,
                      P, Q, np.float32(lr_bias), np.float32(reg_bias), lr32, decay, weights)


@njit(cache=True, nogil=True, boundscheck=False, fastmath=SAFE_FASTMATH, parallel=True)
def sgd_epoch_hogwild(rows, cols, values, mu, user_bias, item_bias, P, Q, lr_bias, lr, reg_bias, reg, n_blocks,
                      weights=None):
    """:func:`sgd_epoch` with the stream cut into ``n_blocks`` chunks run by ``prange`` without locks.

    Hogwild (see the module notes). With one thread the chunks run in order
    and the result is :func:`sgd_epoch`'s exactly. The models call it only
    when an epoch is large enough for threads to pay
    (:data:`HOGWILD_MIN_WORK`).

    Returns the sum of squared errors seen during the epoch.
    """
    n = rows.shape[0]
    lr32 = np.float32(lr)
    decay = np.float32(1.0) - lr32 * np.float32(reg)
    mu32 = np.float32(mu)
    lrb32 = np.float32(lr_bias)
    regb32 = np.float32(reg_bias)
    losses = np.zeros(n_blocks)
    for b in prange(n_blocks):
        lo = np.int64((n * b) // n_blocks)  # int64 as in sgd_epoch: one compiled _sgd_block for both
        hi = np.int64((n * (b + 1)) // n_blocks)
        losses[b] = _sgd_block(rows, cols, values, lo, hi, mu32, user_bias, item_bias, P, Q, lrb32, regb32, lr32, decay,
                               weights)
    return losses.sum()


@njit(cache=True, nogil=True, fastmath=True)
def _adaptive_row(theta, g, m, v, use_adam, lr_t, beta1, beta2, eps):
    """One Adam (bias-corrected step size ``lr_t``) or Adagrad step of the 1-D parameter row ``theta``."""
    one = np.float32(1.0)
    if use_adam:
        for f in range(theta.shape[0]):
            m[f] = beta1 * m[f] + (one - beta1) * g[f]
            v[f] = beta2 * v[f] + (one - beta2) * g[f] * g[f]
            theta[f] -= lr_t * m[f] / (np.sqrt(v[f]) + eps)
    else:
        for f in range(theta.shape[0]):
            v[f] += g[f] * g[f]
            theta[f] -= lr_t * g[f] / (np.sqrt(v[f]) + eps)


@njit(cache=True, nogil=True, fastmath=True)
def minibatch_epoch(rows, cols, values, mu, user_bias, item_bias, P, Q, m_ub, v_ub, m_ib, v_ib, m_P, v_P, m_Q, v_Q,
                    grad_ub, grad_ib, grad_P, grad_Q, stamp_u, stamp_i,
                    use_adam, lr_bias, lr, reg_bias, reg, beta1, beta2, eps, batch_size, step0):
    """One epoch of mini-batch Adam or Adagrad on the biased-MF objective.

    Variant: what the Keras "collaborative filtering with embeddings"
    tutorials train (user and item embeddings plus bias embeddings, dot
    product, squared error, Adam), written out as sparse updates. The
    objective is the same as :func:`sgd_epoch`'s: per rating
    ``1/2 (e^2 + reg_bias (b_u^2 + b_i^2) + reg (|p_u|^2 + |q_i|^2))``; a
    batch's gradient is its sum over the batch (a user rated three times in a
    batch gets three gradients), all computed from the parameters as they
    were when the batch started.

    Only the rows a batch touches are updated ("lazy" Adam, as
    ``torch.optim.SparseAdam`` and TF-Addons ``LazyAdam`` do): dense Adam
    would decay the moments of every row every step, O(n_rows k) per batch.
    The bias correction uses the global step count ``t`` (``step0`` plus the
    batches before this one), Keras style::

        lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
        m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
        theta -= lr_t m / (sqrt(v) + eps)

    Adagrad: ``v += g^2; theta -= lr g / (sqrt(v) + eps)`` (the model starts
    ``v`` at Keras's 0.1); ``m_*`` are then unused.

    Batches are consecutive slices of the ratings as stored (the model
    shuffles them in place each epoch). The batch gradients are gathered in
    the row-sized scratch arrays ``grad_*``; ``stamp_u`` / ``stamp_i``
    (int64, one per row, never equal to a step number on entry for a row
    not yet seen this call: the model starts them at -1) mark which rows the
    current batch has touched, so no sorting is needed.

    Serial on purpose: each step reads the moments the previous step wrote,
    batches are short, and a serial kernel compiles in a few seconds where a
    ``prange`` one takes several times longer. Use ``optimizer="sgd"`` for
    multi-threaded (Hogwild) training.

    Returns ``(sum of squared errors seen during the epoch, number of batches)``.
    """
    n = rows.shape[0]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    lrb32 = np.float32(lr_bias)
    regb32 = np.float32(reg_bias)
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    eps32 = np.float32(eps)
    k = P.shape[1]
    err = np.empty(batch_size, np.float32)
    touched_u = np.empty(batch_size, np.int64)
    touched_i = np.empty(batch_size, np.int64)
    acc = 0.0
    t = step0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        t += 1
        if use_adam:
            corr = np.float32(np.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t))
        else:
            corr = np.float32(1.0)
        for x in range(m):
            u = rows[start + x]
            i = cols[start + x]
            dot = np.float32(0.0)
            for f in range(k):
                dot += P[u, f] * Q[i, f]
            ev = np.float64(values[start + x]) - mu - np.float64(user_bias[u]) - np.float64(item_bias[i]) - np.float64(dot)
            acc += ev * ev
            err[x] = np.float32(ev)
        n_u = 0
        n_i = 0
        for x in range(m):
            u = rows[start + x]
            i = cols[start + x]
            e = err[x]
            if stamp_u[u] != t:
                stamp_u[u] = t
                touched_u[n_u] = u
                n_u += 1
                grad_ub[u] = 0.0
                for f in range(k):
                    grad_P[u, f] = 0.0
            if stamp_i[i] != t:
                stamp_i[i] = t
                touched_i[n_i] = i
                n_i += 1
                grad_ib[i] = 0.0
                for f in range(k):
                    grad_Q[i, f] = 0.0
            grad_ub[u] += regb32 * user_bias[u] - e
            grad_ib[i] += regb32 * item_bias[i] - e
            for f in range(k):
                grad_P[u, f] += reg32 * P[u, f] - e * Q[i, f]
                grad_Q[i, f] += reg32 * Q[i, f] - e * P[u, f]
        for r in range(n_u):
            u = touched_u[r]
            _adaptive_row(user_bias[u:u + 1], grad_ub[u:u + 1], m_ub[u:u + 1], v_ub[u:u + 1],
                          use_adam, lrb32 * corr, b1, b2, eps32)
            _adaptive_row(P[u], grad_P[u], m_P[u], v_P[u], use_adam, lr32 * corr, b1, b2, eps32)
        for r in range(n_i):
            i = touched_i[r]
            _adaptive_row(item_bias[i:i + 1], grad_ib[i:i + 1], m_ib[i:i + 1], v_ib[i:i + 1],
                          use_adam, lrb32 * corr, b1, b2, eps32)
            _adaptive_row(Q[i], grad_Q[i], m_Q[i], v_Q[i], use_adam, lr32 * corr, b1, b2, eps32)
    return acc, t - step0


# ------------------------------------------------------------------------- SVD++
@njit(cache=True, nogil=True, fastmath=True, parallel=True)
def svdpp_epoch(indptr, indices, values, user_order, seed, mu, user_bias, item_bias, P, Q, Y,
                lr_bias, lr, reg_bias, reg, n_blocks):
    """One epoch of Koren's SVD++, user by user, with the fast implicit-term update.

    Model (Koren, KDD 2008, eq. 15)::

        r_ui ~ mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)

    with ``N(u)`` the items ``u`` rated in the training data (the CSR row).

    Variant, and why: Surprise's ``SVDpp`` recomputes the implicit sum
    ``z_u = |N(u)|^-1/2 sum y_j`` and updates every ``y_j`` of the user after
    *each* rating, which costs O(|N(u)| k) per rating, O(sum_u |N(u)|^2 k)
    per epoch: quadratic in user activity. Here, as in LibRec's and most
    fast implementations (the "standard fast approximation"), an epoch walks
    the users in shuffled order and, per user:

    1. computes ``z_u`` once;
    2. runs plain biased SGD over the user's ratings in shuffled order with
       ``z_u`` held fixed, accumulating ``g = sum_i e_ui q_i`` (``q_i`` before
       its update, as Surprise uses it);
    3. applies the ``y_j`` gradient once, at the end of the user::

           y_j <- y_j (1 - lr reg)^|R(u)| + lr |N(u)|^-1/2 g

       i.e. the weight decay Surprise applies once per rating, applied
       |R(u)| times exactly (stable however active the user), and the sum of
       the data gradients it applies one by one.

    That makes an epoch O(nnz k), like plain SGD: on MovieLens 100K, 20-100x
    faster than Surprise's SVDpp, at the same or better accuracy (the
    per-rating updates of ``y`` mostly chase noise within one user).

    ``user_order`` is the user permutation of this epoch; ``seed`` seeds the
    per-user rating shuffle (SplitMix64 of ``seed`` and the user id, so it
    does not depend on the thread that runs the user). The users are cut
    into ``n_blocks`` chunks run by ``prange`` without locks (Hogwild; items
    and their ``y_j`` are shared).

    Returns the sum of squared errors seen during the epoch.
    """
    n_users = user_order.shape[0]
    k = P.shape[1]
    lr32 = np.float32(lr)
    reg32 = np.float32(reg)
    lrb32 = np.float32(lr_bias)
    regb32 = np.float32(reg_bias)
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
            _shuffle_range(pos, 0, count, state)
            for x in range(count):
                if x + _AHEAD < count:
                    prefetch_row_for_write(Q, indices[pos[x + _AHEAD]])
                idx = pos[x]
                i = indices[idx]
                dot = np.float32(0.0)
                for f in range(k):
                    dot += (P[u, f] + z[f]) * Q[i, f]
                bu = user_bias[u]
                bi = item_bias[i]
                err = np.float64(values[idx]) - mu - np.float64(bu) - np.float64(bi) - np.float64(dot)
                acc += err * err
                e = np.float32(err)
                user_bias[u] = bu + lrb32 * (e - regb32 * bu)
                item_bias[i] = bi + lrb32 * (e - regb32 * bi)
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


@njit(cache=True, nogil=True, fastmath=True)
def implicit_sums(indptr, indices, Y, out):
    """``out[u] = |N(u)|^-1/2 sum_{j in N(u)} Y[j]`` for every user (0 where N(u) is empty)."""
    n_users = indptr.shape[0] - 1
    k = Y.shape[1]
    for u in range(n_users):
        start = indptr[u]
        stop = indptr[u + 1]
        acc = np.zeros(k, np.float64)
        for x in range(start, stop):
            j = indices[x]
            for f in range(k):
                acc[f] += Y[j, f]
        norm = 1.0 / np.sqrt(stop - start) if stop > start else 0.0
        for f in range(k):
            out[u, f] = acc[f] * norm


@njit(cache=True, nogil=True, fastmath=True)
def weighted_sq_norm(weights, X):
    """``sum_r weights[r] * |X[r]|^2`` in float64, for a 2-D ``X`` (biases come as one-column matrices).

    The penalty of rows that appear ``weights[r]`` times in the objective.
    """
    total = 0.0
    for r in range(X.shape[0]):
        acc = 0.0
        for f in range(X.shape[1]):
            acc += np.float64(X[r, f]) * np.float64(X[r, f])
        total += weights[r] * acc
    return total
