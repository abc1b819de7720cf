"""mfstudio's implicit-feedback models against benfred/implicit, side by side in one run.

Two comparisons, each printed as a ratio measured in this process (timings on
a shared machine move from run to run; only side-by-side ratios mean much):

1. Speed: seconds per iteration of implicit ALS, k=64, conjugate gradient
   (3 steps), on a generated 200k x 50k power-law matrix with ~10M non-zeros
   (written once to ``benchmarks/_data/`` as a ``scipy.sparse.save_npz``
   file and loaded with :func:`mfstudio.data.load`), against
   ``implicit.cpu.als.AlternatingLeastSquares(factors=64, use_cg=True,
   calculate_training_loss=False)`` with the same number of threads and its
   BLAS limited to one thread (as implicit asks). numba kernels are compiled
   (or loaded from cache) on a tiny problem first, so compile time is not
   counted. The rounds alternate implicit / ours, and the first iteration of
   every fit (setup: CSR/CSC copies, initialization) is left out on both
   sides; the reported figure is the median iteration. Ours includes its
   training loss (computed inside the sweep), implicit's does not compute one.

2. Quality: precision@10 on MovieLens 100K u1 (ratings >= 4 are positives in
   train and test, training positives excluded from the lists), ours vs
   implicit with the same k, iterations, regularization and alpha (ALS) or
   learning rate and regularization (BPR), each the mean over a few seeds.

Run: ``.venv/bin/python benchmarks/bench_implicit.py [--rounds 2] [--iterations 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mfstudio import metrics  # noqa: E402
from mfstudio.data import Dataset, common_id_space, load  # noqa: E402
from mfstudio.models.als import ImplicitALS  # noqa: E402
from mfstudio.models.base import as_interactions  # noqa: E402
from mfstudio.models.bpr import BPR  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "_data"
MATRIX = DATA_DIR / "implicit_power_law_200k_50k_10m.npz"
ML100K = ROOT.parent / "shared" / "data" / "ml-100k"


# ------------------------------------------------------------------ data
def power_law_matrix(n_users=200_000, n_items=50_000, nnz=10_000_000, seed=0) -> sp.csr_matrix:
    """A users x items count matrix whose row and column sums follow power laws.

    Users and items get Zipf weights (exponents 0.8 and 0.9, shuffled); pairs
    are drawn with probability proportional to the product of the weights,
    duplicates dropped, until ``nnz`` distinct cells are found. Values are
    interaction counts ``1 + Geometric(0.5)``.
    """
    rng = np.random.default_rng(seed)
    pu = rng.permutation(1.0 / np.arange(1, n_users + 1) ** 0.8)
    pi = rng.permutation(1.0 / np.arange(1, n_items + 1) ** 0.9)
    pu /= pu.sum()
    pi /= pi.sum()
    keys = np.zeros(0, dtype=np.int64)
    while keys.size < nnz:
        draw = int((nnz - keys.size) * 1.3) + 1000
        u = rng.choice(n_users, draw, p=pu)
        i = rng.choice(n_items, draw, p=pi)
        keys = np.union1d(keys, u.astype(np.int64) * n_items + i)
    keys = np.sort(rng.choice(keys, nnz, replace=False))
    rows, cols = keys // n_items, keys % n_items
    values = (1 + rng.geometric(0.5, nnz)).astype(np.float32)
    return sp.csr_matrix((values, (rows.astype(np.int32), cols.astype(np.int32))), shape=(n_users, n_items))


def big_dataset() -> Dataset:
    if not MATRIX.is_file():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        sp.save_npz(MATRIX, power_law_matrix())
        print(f"generated {MATRIX.name} in {time.perf_counter() - started:.0f} s")
    return load(MATRIX, kind="implicit")


def as_csr(ds: Dataset) -> sp.csr_matrix:
    csr = ds.to_csr(np.float32)
    csr.sort_indices()
    return csr


# ------------------------------------------------------------------ speed
def warm_up(k: int) -> float:
    """Compile (or load from cache) every kernel ImplicitALS uses; returns the seconds it took."""
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(rng.random((50, 40)) < 0.2)
    tiny = Dataset(kind="implicit", rows=rows, cols=cols, values=np.ones(rows.size),
                   row_ids=np.arange(50), col_ids=np.arange(40))
    started = time.perf_counter()
    for solver in ("cg", "exact"):
        ImplicitALS(n_factors=k, n_epochs=1, solver=solver).fit(tiny)
    return time.perf_counter() - started


def ours_per_iteration(ds: Dataset, k: int, iterations: int, reg: float, alpha: float) -> tuple[list[float], float]:
    model = ImplicitALS(n_factors=k, n_epochs=iterations, reg=reg, alpha=alpha, solver="cg", cg_steps=3)
    times, last = [], time.perf_counter()
    started = last
    for _ in model.iter_fit(ds):
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times, last - started


def implicit_per_iteration(csr: sp.csr_matrix, k: int, iterations: int, reg: float, alpha: float,
                           threads: int) -> tuple[list[float], float]:
    from implicit.cpu.als import AlternatingLeastSquares

    times: list[float] = []
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=k, iterations=iterations, regularization=reg, alpha=alpha,
                                        use_cg=True, calculate_training_loss=False, num_threads=threads,
                                        random_state=0)
        started = time.perf_counter()
        model.fit(csr, show_progress=False, callback=lambda it, elapsed, loss: times.append(elapsed))
        total = time.perf_counter() - started
    return times, total


def speed(rounds: int, iterations: int) -> None:
    k, reg, alpha = 64, 0.01, 1.0
    threads = numba.get_num_threads()
    print(f"== implicit ALS speed: k={k}, CG 3 steps, {threads} threads each, reg={reg}, alpha={alpha} ==")
    print(f"numba warm-up (compile or cache load, not counted): {warm_up(k):.1f} s; "
          f"threading layer {numba.threading_layer()}")
    started = time.perf_counter()
    ds = big_dataset()
    csr = as_csr(ds)
    print(f"matrix: {ds.n_rows:,} x {ds.n_cols:,}, {ds.nnz:,} non-zeros "
          f"(max row {np.diff(csr.indptr).max():,}, max column {np.bincount(csr.indices).max():,}); "
          f"loaded in {time.perf_counter() - started:.1f} s")
    ours_all, theirs_all = [], []
    for r in range(1, rounds + 1):
        theirs, theirs_total = implicit_per_iteration(csr, k, iterations, reg, alpha, threads)
        ours, ours_total = ours_per_iteration(ds, k, iterations, reg, alpha)
        theirs_all += theirs[1:]
        ours_all += ours[1:]
        print(f"round {r}: implicit per iteration {' '.join(f'{t:.2f}' for t in theirs)} s (fit {theirs_total:.1f} s)")
        print(f"round {r}: mfstudio per iteration {' '.join(f'{t:.2f}' for t in ours)} s (fit {ours_total:.1f} s)")
    ours_med, theirs_med = statistics.median(ours_all), statistics.median(theirs_all)
    ratio = ours_med / theirs_med
    print(f"median s/iteration (first iteration of each fit excluded): mfstudio {ours_med:.3f}, "
          f"implicit {theirs_med:.3f}; ratio mfstudio/implicit = {ratio:.2f}x "
          f"(bar <= 0.80x: {'met' if ratio <= 0.8 else 'NOT met'})")


# ------------------------------------------------------------------ quality
def ml100k_u1():
    train, test = common_id_space(load(ML100K / "u1.base"), load(ML100K / "u1.test"))
    positives = as_interactions(train, 4.0)
    test_pos = as_interactions(test, 4.0)
    users = np.unique(test_pos.rows)
    return train, test, as_csr(positives), users, test_pos.to_csr()[users]


def implicit_precision(make_model, train_csr, users, relevant) -> float:
    with threadpool_limits(1, "blas"):
        model = make_model()
        model.fit(train_csr, show_progress=False)
        ids, _ = model.recommend(users, train_csr[users], N=10, filter_already_liked_items=True)
    return metrics.precision_at_k(np.asarray(ids, dtype=np.int64), relevant, 10)


def quality(seeds: int) -> None:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    if not (ML100K / "u1.base").is_file():
        print(f"== precision@10: skipped, {ML100K} is not here ==")
        return
    train, test, train_csr, users, relevant = ml100k_u1()
    threads = numba.get_num_threads()

    def report(title, ours, theirs, params):
        o, t = np.mean(ours), np.mean(theirs)
        se = np.std(np.subtract(ours, theirs), ddof=1) / np.sqrt(len(ours)) if len(ours) > 1 else float("nan")
        print(f"{title} ({params}; mean of {seeds} seeds):")
        print(f"  mfstudio {o:.4f} (per seed {' '.join(f'{v:.4f}' for v in ours)})")
        print(f"  implicit {t:.4f} (per seed {' '.join(f'{v:.4f}' for v in theirs)})")
        print(f"  difference {o - t:+.4f} (standard error of the paired difference {se:.4f})")
        print(f"  ratio mfstudio/implicit = {o / t:.3f} (bar >= 1: {'met' if o >= t else 'NOT met'})")

    print(f"== precision@10, MovieLens 100K u1, ratings >= 4 as positives, {users.size} test users ==")
    d = ImplicitALS.defaults
    ours, theirs = [], []
    for seed in range(seeds):
        ours.append(ImplicitALS(seed=seed).fit(train).score(test)["precision@10"])
        theirs.append(implicit_precision(
            lambda: AlternatingLeastSquares(factors=d["n_factors"], regularization=d["reg"], alpha=d["alpha"],
                                            iterations=d["n_epochs"], use_cg=True, num_threads=threads,
                                            random_state=seed),
            train_csr, users, relevant))
    report("implicit ALS, same nominal alpha", ours, theirs,
           f"k={d['n_factors']}, reg={d['reg']}, alpha={d['alpha']}, {d['n_epochs']} iterations, CG 3 steps")
    # implicit's confidence is alpha * r, the paper's (ours) 1 + alpha * r: handing implicit the
    # values 1 + alpha * r with its alpha = 1 makes the two objectives identical.
    matched = train_csr.copy()
    matched.data = (1.0 + d["alpha"] * matched.data).astype(np.float32)
    same = []
    for seed in range(seeds):
        same.append(implicit_precision(
            lambda: AlternatingLeastSquares(factors=d["n_factors"], regularization=d["reg"], alpha=1.0,
                                            iterations=d["n_epochs"], use_cg=True, num_threads=threads,
                                            random_state=seed),
            matched, users, relevant))
    report("implicit ALS, identical objective (implicit fed 1 + alpha r, alpha=1)", ours, same,
           f"k={d['n_factors']}, reg={d['reg']}, {d['n_epochs']} iterations, CG 3 steps")

    d = BPR.defaults
    ours, theirs = [], []
    for seed in range(seeds):
        ours.append(BPR(seed=seed).fit(train).score(test)["precision@10"])
        theirs.append(implicit_precision(
            lambda: BayesianPersonalizedRanking(factors=d["n_factors"], learning_rate=d["lr"],
                                                regularization=d["reg"], iterations=d["n_epochs"],
                                                num_threads=threads, random_state=seed),
            train_csr, users, relevant))
    report("BPR", ours, theirs, f"k={d['n_factors']}, lr={d['lr']}, reg={d['reg']}, {d['n_epochs']} epochs")
    own = [implicit_precision(lambda: BayesianPersonalizedRanking(num_threads=threads, random_state=seed),
                              train_csr, users, relevant) for seed in range(seeds)]
    print(f"  (for reference: implicit BPR at its own defaults, k=100, lr=0.01, reg=0.01, 100 epochs: "
          f"{np.mean(own):.4f})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternating implicit/ours fits in the speed test")
    parser.add_argument("--iterations", type=int, default=5, help="ALS iterations per fit in the speed test")
    parser.add_argument("--seeds", type=int, default=5, help="seeds averaged in the precision test")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args(argv)
    import implicit

    print(f"mfstudio vs implicit {implicit.__version__}; numba {numba.__version__}, numpy {np.__version__}, "
          f"{numba.get_num_threads()} threads")
    if not args.skip_quality:
        quality(args.seeds)
    if not args.skip_speed:
        speed(args.rounds, args.iterations)


if __name__ == "__main__":
    main()
