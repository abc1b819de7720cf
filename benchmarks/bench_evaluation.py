"""Ranking evaluation of one block of users: the numba kernel against the numpy reference, side by side.

    python benchmarks/bench_evaluation.py [--users 512] [--items 50000] [--positives 9] [--seen 40] [--repeat 5]

Times, on the same random block (float32 scores, ``--seen`` training items and ``--positives``
relevant test items per user), best of ``--repeat``, interleaved:

- ``mfstudio.kernels.ranking.rank_block`` (top-10 lists and AUC in one parallel pass), compiled first;
- the numpy path it replaced: :func:`mfstudio.metrics.auc_per_user` (one sort per row) and
  ``mfstudio.models.base._top_n`` (argpartition) after masking seen items.

It checks that both give the same AUC (1e-9) before printing anything. The full-data picture is the
``fit`` command of issue 13: ``python -m mfstudio fit big.npz --model implicit-als --factors 64 --epochs 3``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.sparse as sp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=512)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--positives", type=int, default=9)
    parser.add_argument("--seen", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from mfstudio.experiment import AUC_NEGATIVES
    from mfstudio.kernels.ranking import rank_block
    from mfstudio.metrics import auc_per_user
    from mfstudio.models.base import _top_n

    rng = np.random.default_rng(0)
    n, m = args.users, args.items
    scores = rng.normal(size=(n, m)).astype(np.float32)

    def rows(per_user):
        indices = np.concatenate([np.sort(rng.choice(m, per_user, replace=False)) for _ in range(n)])
        return sp.csr_matrix((np.ones(indices.size), indices, np.arange(0, n * per_user + 1, per_user)), shape=(n, m))

    seen, relevant = rows(args.seen), rows(args.positives)
    args_kernel = (scores, seen.indptr.astype(np.int64), seen.indices.astype(np.int64),
                   relevant.indptr.astype(np.int64), relevant.indices.astype(np.int64), 10, True)
    exact = (*args_kernel, 0, np.arange(n, dtype=np.uint64))  # every unseen item in the AUC
    sampled = (*args_kernel, AUC_NEGATIVES, np.arange(n, dtype=np.uint64))  # what ranking_scores passes
    rank_block(*exact)  # compile (or load from the cache)

    def numpy_path():
        unseen = ~seen.toarray().astype(bool)
        auc = auc_per_user(scores, relevant, unseen)
        masked = np.where(unseen, scores, -np.inf)
        _top_n(masked, 10)
        return auc

    reference = numpy_path()
    np.testing.assert_allclose(rank_block(*exact)[2], reference, rtol=1e-9, equal_nan=True)
    sampled_auc = rank_block(*sampled)[2]
    kernel_times, sampled_times, numpy_times = [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        rank_block(*exact)
        kernel_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        rank_block(*sampled)
        sampled_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        numpy_path()
        numpy_times.append(time.perf_counter() - t)
    ours, ours_sampled, theirs = min(kernel_times), min(sampled_times), min(numpy_times)
    print(f"block of {n} users x {m:,} items, {args.positives} relevant and {args.seen} seen per user "
          f"(load {os.getloadavg()[0]:.1f})")
    print(f"  numba rank_block (top-10 + exact AUC)           : {ours * 1e3:8.1f} ms")
    print(f"  numba rank_block (top-10 + AUC on {AUC_NEGATIVES:,} drawn items): {ours_sampled * 1e3:8.1f} ms")
    print(f"  numpy sort + argpartition (exact AUC)           : {theirs * 1e3:8.1f} ms")
    print(f"  speed-up exact: {theirs / ours:.1f}x (same AUC to 1e-9); sampled: {theirs / ours_sampled:.1f}x, mean AUC "
          f"{np.nanmean(sampled_auc):.5f} vs exact {np.nanmean(reference):.5f}, per-user difference at most "
          f"{np.nanmax(np.abs(sampled_auc - reference)):.4f}")


if __name__ == "__main__":
    main()
