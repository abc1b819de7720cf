"""Ranking evaluation of a block of users in one parallel pass: top-k lists and AUC, seen items excluded.

Variant: per user (one ``prange`` iteration), a scratch mask of the items seen
in training, then

- the top ``k`` unseen items by insertion into a ``k``-long sorted buffer
  (higher score first, the lower item index on ties), one pass over the row:
  ``O(n_items)`` with ``k`` tiny, where numpy's ``argpartition`` over the whole
  block copied and partitioned every row (a third of the evaluation time on a
  200k x 50k set);
- the AUC as the Mann-Whitney statistic over the unseen items: for a user with
  few relevant items (the usual case) each relevant score is compared with
  every unseen score (``O(n_pos n_items)``, no allocation); with many, the
  unseen scores are sorted once and each relevant item is located by two
  binary searches (``O(n_items log n_items)``). Sorting every row in numpy was
  the evaluation's largest cost. With ``auc_negatives`` > 0 a user with more
  unseen items than that is compared with that many of them drawn uniformly
  (with replacement, SplitMix64 seeded by the row's ``row_seeds`` entry): the
  AUC is a mean over (relevant, non-relevant) pairs, so a uniform sample of
  the negatives estimates it without bias (Krichene & Rendle, KDD 2020, on
  which sampled metrics stay consistent: AUC is the one that does), and the
  pairwise count, 4.6e9 comparisons for 10,000 users of a 50,000-item
  catalogue, was most of the final evaluation.

Why: evaluation, not training, dominated a large ``implicit-als`` fit (89 s
wall for 3 s of training). :func:`mfstudio.metrics.auc_per_user` stays the
reference implementation the tests compare against.
"""

from __future__ import annotations

import numba
import numpy as np

from ._common import splitmix64

__all__ = ["rank_block", "rank_shared", "SORT_ABOVE_POSITIVES"]

#: Above this many relevant items a user's AUC sorts the unseen scores instead of comparing pairwise.
SORT_ABOVE_POSITIVES = 48


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _insert_top(buffer_items, buffer_scores, filled, item, score):
    """Insert (item, score) into a buffer sorted best first; returns the new fill count."""
    k = buffer_items.shape[0]
    if filled == k:
        last = buffer_scores[k - 1]
        if score < last or (score == last and item > buffer_items[k - 1]):
            return filled
        position = k - 1
    else:
        position = filled
        filled += 1
    while position > 0:
        previous = buffer_scores[position - 1]
        if previous > score or (previous == score and buffer_items[position - 1] < item):
            break
        buffer_items[position] = buffer_items[position - 1]
        buffer_scores[position] = previous
        position -= 1
    buffer_items[position] = item
    buffer_scores[position] = score
    return filled


@numba.njit(parallel=True, cache=True, nogil=True, boundscheck=False)
def rank_block(scores, seen_indptr, seen_indices, relevant_indptr, relevant_indices, k, with_auc,
               auc_negatives, row_seeds):
    """Top-``k`` unseen items and AUC of each row of ``scores``.

    Parameters
    ----------
    scores : float32 array (n_users, n_items)
    seen_indptr, seen_indices : int arrays
        CSR rows of the items each user has in training (excluded everywhere).
    relevant_indptr, relevant_indices : int arrays
        CSR rows of each user's relevant test items.
    k : int
    with_auc : bool
    auc_negatives : int
        0: every unseen non-relevant item enters the AUC (exact). Otherwise a
        user with more of them than this is scored against this many drawn
        uniformly with replacement (an unbiased estimate of the exact AUC).
    row_seeds : uint64 array (n_users,)
        Seed of each row's draws (the caller passes the user's id, so a user
        gets the same sample whatever block it falls in).

    Returns
    -------
    top_items : int64 array (n_users, k)
        -1 where a user has fewer than ``k`` unseen items.
    top_scores : float32 array (n_users, k)
    auc : float64 array (n_users,)
        NaN without a relevant or a non-relevant unseen item (or without ``with_auc``).
    """
    n_users, n_items = scores.shape
    top_items = np.full((n_users, k), -1, dtype=np.int64)
    top_scores = np.full((n_users, k), -np.inf, dtype=np.float32)
    auc = np.full(n_users, np.nan)
    for u in numba.prange(n_users):
        row = scores[u]
        seen = np.zeros(n_items, dtype=np.bool_)
        for p in range(seen_indptr[u], seen_indptr[u + 1]):
            seen[seen_indices[p]] = True
        filled = 0
        items_u = top_items[u]
        scores_u = top_scores[u]
        # Most items score below the k-th best so far: one comparison with a local threshold skips
        # them before the mask and the insertion (the call per item cost ~20 ns, the whole pass).
        threshold = -np.inf
        for j in range(n_items):
            s = row[j]
            if s < threshold or seen[j]:
                continue
            filled = _insert_top(items_u, scores_u, filled, j, s)
            if filled == k:
                threshold = scores_u[k - 1]
        if not with_auc:
            continue
        # The relevant unseen items (duplicates in the test data counted once).
        start, stop = relevant_indptr[u], relevant_indptr[u + 1]
        positive = np.zeros(stop - start, dtype=np.int64)
        n_pos = 0
        for p in range(start, stop):
            j = relevant_indices[p]
            if not seen[j]:
                seen[j] = True  # marks it: a duplicate is skipped, and it is not a negative below
                positive[n_pos] = j
                n_pos += 1
        # The unseen non-relevant scores, packed: the comparisons below then run over one
        # contiguous array without a mask test, which the compiler vectorises.
        n_neg = 0
        for j in range(n_items):
            if not seen[j]:
                n_neg += 1
        if n_pos == 0 or n_neg == 0:
            continue
        negatives = np.empty(n_neg, dtype=np.float32)
        m = 0
        for j in range(n_items):
            if not seen[j]:
                negatives[m] = row[j]
                m += 1
        if 0 < auc_negatives < n_neg:
            drawn = np.empty(auc_negatives, dtype=np.float32)
            state = row_seeds[u]
            for i in range(auc_negatives):
                state, bits = splitmix64(state)
                drawn[i] = negatives[bits % np.uint64(n_neg)]
            negatives = drawn
            n_neg = auc_negatives
        wins = 0.0
        if n_pos <= SORT_ABOVE_POSITIVES:
            for q in range(n_pos):
                s = row[positive[q]]
                # int32 counters: LLVM packs 8 comparisons per instruction, 2.5x the int64 loop's speed.
                below = np.int32(0)
                ties = np.int32(0)
                for i in range(n_neg):
                    v = negatives[i]
                    below += np.int32(v < s)
                    ties += np.int32(v == s)
                wins += below + 0.5 * ties
        else:
            negatives.sort()
            for q in range(n_pos):
                s = row[positive[q]]
                lo = np.searchsorted(negatives, s, side="left")
                hi = np.searchsorted(negatives, s, side="right")
                wins += lo + 0.5 * (hi - lo)
        auc[u] = wins / (n_pos * n_neg)
    return top_items, top_scores, auc


def rank_shared(item_scores, seen_indptr, seen_indices, relevant_indptr, relevant_indices, k, with_auc):
    """:func:`rank_block` for a model that gives every user the same item scores (popularity).

    Variant: the items are ordered once; a user's top ``k`` is the first ``k``
    unseen items of that order, and the AUC counts the items below each
    relevant score by binary search in the sorted scores of all items, minus
    the user's own seen and relevant items (sorted per user): ``O((s + p)
    log(s + p) + p log n)`` per user for ``s`` seen and ``p`` relevant items,
    instead of a pass over every item. Why: the reference line of a large
    implicit fit was ranked as expensively as the model itself. Same tie rules
    and results as :func:`rank_block` on a matrix whose rows all equal
    ``item_scores``.

    Parameters
    ----------
    item_scores : float32 array (n_items,)
    seen_indptr, seen_indices, relevant_indptr, relevant_indices, k, with_auc
        As in :func:`rank_block`.

    Returns
    -------
    top_items, top_scores, auc
        As in :func:`rank_block`.
    """
    # Best first, the lower item index first on ties (the insertion buffer's rule): a stable sort
    # of the negated scores keeps equal scores in item order. Sorted once per call, by NumPy: inside
    # the kernel numba compiled its own merge sort and quicksort for it, 4 of the first start's seconds.
    order = np.argsort(-item_scores, kind="stable")
    ascending = np.sort(item_scores)
    return _rank_shared_sorted(item_scores, order, ascending, seen_indptr, seen_indices, relevant_indptr,
                               relevant_indices, k, with_auc)


@numba.njit(parallel=True, cache=True, nogil=True, boundscheck=False)
def _rank_shared_sorted(item_scores, order, ascending, seen_indptr, seen_indices, relevant_indptr, relevant_indices,
                        k, with_auc):
    """The kernel of :func:`rank_shared`, given the items best first (``order``) and the scores ascending."""
    n_users = seen_indptr.shape[0] - 1
    n_items = item_scores.shape[0]
    top_items = np.full((n_users, k), -1, dtype=np.int64)
    top_scores = np.full((n_users, k), -np.inf, dtype=np.float32)
    auc = np.full(n_users, np.nan)
    for u in numba.prange(n_users):
        s0, s1 = seen_indptr[u], seen_indptr[u + 1]
        r0, r1 = relevant_indptr[u], relevant_indptr[u + 1]
        # The user's excluded items (seen, then relevant unseen), sorted and unique.
        excluded = np.empty(s1 - s0 + r1 - r0, dtype=np.int64)
        n_seen = 0
        for p in range(s0, s1):
            excluded[n_seen] = seen_indices[p]
            n_seen += 1
        seen_sorted = np.unique(excluded[:n_seen])
        filled = 0
        for t in range(n_items):
            if filled == k:
                break
            j = order[t]
            at = np.searchsorted(seen_sorted, j)
            if at < seen_sorted.shape[0] and seen_sorted[at] == j:
                continue
            top_items[u, filled] = j
            top_scores[u, filled] = item_scores[j]
            filled += 1
        if not with_auc:
            continue
        positives = np.empty(r1 - r0, dtype=np.int64)
        n_pos = 0
        for p in range(r0, r1):
            j = relevant_indices[p]
            at = np.searchsorted(seen_sorted, j)
            if not (at < seen_sorted.shape[0] and seen_sorted[at] == j):
                positives[n_pos] = j
                n_pos += 1
        positives = np.unique(positives[:n_pos])
        n_pos = positives.shape[0]
        n_neg = n_items - seen_sorted.shape[0] - n_pos
        if n_pos == 0 or n_neg == 0:
            continue
        # Scores of everything that is not a negative, sorted: subtracted from the all-item counts.
        taken = np.empty(seen_sorted.shape[0] + n_pos, dtype=np.float32)
        for q in range(seen_sorted.shape[0]):
            taken[q] = item_scores[seen_sorted[q]]
        for q in range(n_pos):
            taken[seen_sorted.shape[0] + q] = item_scores[positives[q]]
        taken.sort()
        wins = 0.0
        for q in range(n_pos):
            value = item_scores[positives[q]]
            below = np.searchsorted(ascending, value, side="left") - np.searchsorted(taken, value, side="left")
            equal = (np.searchsorted(ascending, value, side="right") - np.searchsorted(ascending, value, side="left")
                     - (np.searchsorted(taken, value, side="right") - np.searchsorted(taken, value, side="left")))
            wins += below + 0.5 * equal
        auc[u] = wins / (n_pos * n_neg)
    return top_items, top_scores, auc
