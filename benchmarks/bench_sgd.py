"""Biased SGD and SVD++ against Surprise on MovieLens 100K, measured side by side in one run.

    python benchmarks/bench_sgd.py [--data ../shared/data/ml-100k] [--repeat 3] [--threads 1,2] [--sgd-only]
    python benchmarks/bench_sgd.py --hogwild-scan 100000,1000000,5000000   # where threads start to pay
    python benchmarks/bench_sgd.py --asm                                   # is the factor loop vectorised?

Prints, for the canonical folds u1..u5 (train ``uN.base``, test ``uN.test``):

1. ``sgd`` with k=100 and 20 epochs (our other defaults) against Surprise's
   ``SVD(n_factors=100, n_epochs=20)``: mean test RMSE and fit time per
   fold. Bar: RMSE no worse, fit at least 10x faster.
2. ``svdpp`` with k=20 and 20 epochs against Surprise's
   ``SVDpp(n_factors=20, n_epochs=20)`` on u1. Bar: RMSE no worse, fit at
   least 20x faster.
3. The CLI defaults of ``sgd`` and ``svdpp``: mean RMSE over u1..u5.

How it is timed: fit time is the wall-clock time of ``fit`` on a dataset
already in memory (loading and Surprise's ``build_full_trainset`` are
excluded), the best of ``--repeat`` runs, runs of the two libraries
interleaved so that both see the same machine load. numba's kernels are
warmed up (compiled, or loaded from numba's cache) before any timing, so
compile time is excluded. Ours is timed with each thread count in
``--threads`` (numba's Hogwild kernels); Surprise is single-threaded.
Ratios are totals over the folds (sum of Surprise's times / sum of ours).
Machines vary: only the ratios of one run mean anything. ``--sgd-only``
runs part 1 alone (Surprise's SVDpp takes ~20 s per fit).

``--asm`` compiles the serial SGD kernel afresh (numba cannot show the code
of a kernel loaded from its cache) and counts its 256-bit vector
instructions: FMAs and multiplies on ``ymm`` registers are the factor loops
running 8 float32 at a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numba  # noqa: E402

from mfstudio import metrics  # noqa: E402
from mfstudio.data import common_id_space, load  # noqa: E402
from mfstudio.models.sgd import BiasedSGD, SVDpp  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "ml-100k"


def load_folds(data: Path, folds):
    out = []
    for f in folds:
        train, test = common_id_space(load(data / f"u{f}.base"), load(data / f"u{f}.test"))
        out.append((f"u{f}", train, test))
    return out


def surprise_sets(train, test):
    """Surprise's trainset and testset over the same internal ids (built once, outside the timers)."""
    import pandas as pd
    from surprise import Dataset as SDataset
    from surprise import Reader

    frame = pd.DataFrame({"u": train.rows, "i": train.cols, "r": train.values.astype(float)})
    trainset = SDataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    testset = list(zip(test.rows.tolist(), test.cols.tolist(), test.values.astype(float).tolist()))
    return trainset, testset


def timed(fit):
    started = time.perf_counter()
    result = fit()
    return time.perf_counter() - started, result


def surprise_rmse(algo, testset, test):
    predictions = algo.test(testset)
    return metrics.rmse(test.values, np.array([p.est for p in predictions]))


def compare(label, folds, sets, make_surprise, make_ours, threads, repeat):
    """Interleaved best-of-``repeat`` fit times and test RMSEs of both libraries, per fold."""
    rows = []
    for (name, train, test), (trainset, testset) in zip(folds, sets):
        best_s, best_o = float("inf"), {t: float("inf") for t in threads}
        rmse_o = {}
        for _ in range(repeat):
            seconds, algo = timed(lambda: make_surprise().fit(trainset))
            best_s = min(best_s, seconds)
            for t in threads:
                numba.set_num_threads(t)
                seconds, model = timed(lambda: make_ours().fit(train))
                best_o[t] = min(best_o[t], seconds)
                rmse_o[t] = model.score(test)["rmse"]
        rows.append({"fold": name, "s_rmse": surprise_rmse(algo, testset, test), "s_sec": best_s,
                     "o_rmse": rmse_o, "o_sec": best_o})
        numba.set_num_threads(max(threads))
    print(f"\n{label}")
    head = f"{'fold':5s} {'Surprise RMSE':>13s} " + " ".join(f"{f'ours RMSE {t}t':>13s}" for t in threads)
    head += f" {'Surprise s':>10s} " + " ".join(f"{f'ours s {t}t':>9s}" for t in threads)
    head += " " + " ".join(f"{f'speedup {t}t':>10s}" for t in threads)
    print(head)
    for r in rows:
        line = f"{r['fold']:5s} {r['s_rmse']:13.4f} " + " ".join(f"{r['o_rmse'][t]:13.4f}" for t in threads)
        line += f" {r['s_sec']:10.3f} " + " ".join(f"{r['o_sec'][t]:9.4f}" for t in threads)
        line += " " + " ".join(f"{r['s_sec'] / r['o_sec'][t]:9.1f}x" for t in threads)
        print(line)
    s_rmse = float(np.mean([r["s_rmse"] for r in rows]))
    o_rmse = {t: float(np.mean([r["o_rmse"][t] for r in rows])) for t in threads}
    s_total = sum(r["s_sec"] for r in rows)
    ratio = {t: s_total / sum(r["o_sec"][t] for r in rows) for t in threads}
    line = f"{'mean':5s} {s_rmse:13.4f} " + " ".join(f"{o_rmse[t]:13.4f}" for t in threads)
    line += f" {s_total / len(rows):10.3f} " + " ".join(f"{sum(r['o_sec'][t] for r in rows) / len(rows):9.4f}" for t in threads)
    line += " " + " ".join(f"{ratio[t]:9.1f}x" for t in threads)
    print(line)
    return s_rmse, o_rmse, ratio


def verdict(name, s_rmse, o_rmse, ratio, bar):
    parts = []
    for t in sorted(o_rmse):
        ok_rmse = o_rmse[t] <= s_rmse
        ok_speed = ratio[t] >= bar
        parts.append(f"{t} thread{'s' if t > 1 else ''}: RMSE {o_rmse[t]:.4f} vs {s_rmse:.4f} "
                     f"{'MET' if ok_rmse else 'NOT MET'}, speed {ratio[t]:.1f}x vs {bar}x {'MET' if ok_speed else 'NOT MET'}")
    print(f"bar [{name}]: " + "; ".join(parts))


def hogwild_scan(sizes, k: int, repeat: int) -> int:
    """Serial :func:`sgd_epoch` against :func:`sgd_epoch_hogwild` on all threads, by epoch size.

    Synthetic ratings (power-law users and items, like real data) of growing
    size, k factors, one epoch per call after a warm-up, best of ``repeat``
    interleaved runs. Prints where Hogwild starts to win: the threshold
    :data:`mfstudio.kernels.sgd.HOGWILD_MIN_WORK` is set from it.
    """
    from mfstudio.kernels import sgd as K

    threads = numba.config.NUMBA_NUM_THREADS
    print(f"Hogwild scan: k={k}, {threads} threads vs 1 (serial kernel), best of {repeat}; "
          f"load average {os.getloadavg()[0]:.2f}; current HOGWILD_MIN_WORK = {K.HOGWILD_MIN_WORK:,}")
    print(f"{'ratings':>10s} {'work':>12s} {'serial s':>9s} {'hogwild s':>9s} {'hogwild/serial':>14s}")
    for nnz in sizes:
        rng = np.random.default_rng(0)
        n_users, n_items = max(100, nnz // 100), max(100, nnz // 60)
        rows = np.minimum(rng.pareto(1.2, nnz) * n_users / 20, n_users - 1).astype(np.int32)
        cols = np.minimum(rng.pareto(1.0, nnz) * n_items / 20, n_items - 1).astype(np.int32)
        values = rng.integers(1, 6, nnz).astype(np.float32)
        K.shuffle_ratings(rows, cols, values, 1)
        P0 = (rng.standard_normal((n_users, k)) * 0.05).astype(np.float32)
        Q0 = (rng.standard_normal((n_items, k)) * 0.05).astype(np.float32)
        best = {"serial": float("inf"), "hogwild": float("inf")}
        for _ in range(repeat + 1):  # the first round warms up
            for name, kernel, t in (("serial", K.sgd_epoch, 1), ("hogwild", K.sgd_epoch_hogwild, threads)):
                numba.set_num_threads(t)
                P, Q = P0.copy(), Q0.copy()
                bu, bi = np.zeros(n_users, np.float32), np.zeros(n_items, np.float32)
                started = time.perf_counter()
                kernel(rows, cols, values, 3.0, bu, bi, P, Q, 0.01, 0.01, 0.02, 0.05, 64)
                best[name] = min(best[name], time.perf_counter() - started)
        print(f"{nnz:10,d} {nnz * k:12,d} {best['serial']:9.4f} {best['hogwild']:9.4f} "
              f"{best['hogwild'] / best['serial']:13.2f}x")
    numba.set_num_threads(threads)
    return 0


_ASM_PROBE = """
import re, sys
import numpy as np
from mfstudio.kernels import sgd as K
n, k = 16, 100
ids = np.arange(n, dtype=np.int32)
P, Q = np.zeros((n, k), np.float32), np.zeros((n, k), np.float32)
bias = np.zeros(n, np.float32)
K.sgd_epoch(ids, ids, np.ones(n, np.float32), 3.0, bias, bias.copy(), P, Q, 0.01, 0.01, 0.02, 0.05, 64)
asm = K.sgd_epoch.inspect_asm(K.sgd_epoch.signatures[0])
lines = asm.splitlines()
print(f"serial SGD kernel (float32 factors): {len(lines)} lines of assembly")
for label, pattern in (("fused multiply-adds, 8 float32 (vfmadd*ps ymm)", r"vfmadd\\w*ps\\s.*%ymm"),
                       ("multiplies, 8 float32 (vmulps ymm)", r"vmulps\\s.*%ymm"),
                       ("256-bit loads/stores (vmovups ymm)", r"vmovups\\s.*%ymm"),
                       ("scalar float32 FMAs (vfmadd*ss: remainders, biases)", r"vfmadd\\w*ss\\s"),
                       ("write prefetches (prefetchw)", r"prefetchw")):
    print(f"  {sum(1 for line in lines if re.search(pattern, line)):4d}  {label}")
loops = [m.start() for m in re.finditer(r"vfmadd\\w*ps\\s.*%ymm", asm)]
sys.exit(0 if loops else 1)
"""


def show_asm() -> int:
    """Compile the serial SGD kernel in a fresh numba cache and count its vector instructions."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(HERE.parent)}
        done = subprocess.run([sys.executable, "-c", _ASM_PROBE], env=env)
    if done.returncode:
        print("no 256-bit FMA found: the factor loops are not vectorised on this CPU (or it lacks AVX2)")
    return done.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MovieLens 100K folder (u1.base ...)")
    parser.add_argument("--repeat", type=int, default=3, help="fits per library and fold; the best time counts")
    parser.add_argument("--threads", default=None,
                        help="comma-separated numba thread counts for our fits (default: 1 and all)")
    parser.add_argument("--hogwild-scan", default=None, metavar="SIZES",
                        help="only compare the serial and Hogwild SGD kernels on synthetic epochs of these "
                             "comma-separated rating counts (k=100), e.g. 100000,1000000,5000000")
    parser.add_argument("--sgd-only", action="store_true", help="only part 1 (sgd against Surprise SVD)")
    parser.add_argument("--asm", action="store_true",
                        help="only count the vector instructions of the compiled serial SGD kernel")
    args = parser.parse_args(argv)
    if args.asm:
        return show_asm()
    if args.hogwild_scan:
        return hogwild_scan([int(float(x)) for x in args.hogwild_scan.split(",")], 100, args.repeat)
    if not (args.data / "u1.base").is_file():
        print(f"MovieLens 100K not found in {args.data}: pass --data", file=sys.stderr)
        return 2
    available = numba.config.NUMBA_NUM_THREADS
    threads = sorted({int(t) for t in args.threads.split(",")}) if args.threads else sorted({1, available})
    threads = [min(t, available) for t in threads]

    folds = load_folds(args.data, range(1, 6))
    sets = [surprise_sets(train, test) for _, train, test in folds]
    from surprise import SVD, SVDpp as SurpriseSVDpp

    # Warm-up: compile (or load from numba's cache) every kernel these fits use.
    started = time.perf_counter()
    for t in threads:
        numba.set_num_threads(t)
        BiasedSGD(n_epochs=1).fit(folds[0][1])
        SVDpp(n_epochs=1).fit(folds[0][1])
    warm = time.perf_counter() - started

    print(f"MovieLens 100K from {args.data}; folds u1..u5 (u{{N}}.base -> u{{N}}.test)")
    print(f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}; numba {numba.__version__}, "
          f"threading layer {numba.threading_layer()}, thread counts timed: {threads}")
    print(f"fit time = wall clock of fit() on data in memory, best of {args.repeat} interleaved runs; "
          f"numba kernels warmed up first ({warm:.1f} s), so compile time is excluded")

    sgd_params = dict(n_factors=100, n_epochs=20)
    shown = {k: v for k, v in BiasedSGD.defaults.items() if k not in sgd_params}
    s_rmse, o_rmse, ratio = compare(
        f"[1] sgd {sgd_params} (other parameters: defaults {shown})\n    vs Surprise SVD(n_factors=100, n_epochs=20)",
        folds, sets, lambda: SVD(n_factors=100, n_epochs=20, random_state=0),
        lambda: BiasedSGD(**sgd_params), threads, args.repeat)
    verdict("sgd k=100: RMSE no worse, >= 10x faster", s_rmse, o_rmse, ratio, 10)

    same = [BiasedSGD(n_factors=100, n_epochs=20, lr=0.005, lr_bias=0.005, reg=0.02, reg_bias=0.02).fit(train)
            .score(test)["rmse"] for _, train, test in folds]
    print(f"    for reference, ours with Surprise's own hyperparameters (lr=0.005, reg=0.02): "
          f"mean RMSE {np.mean(same):.4f}")

    if args.sgd_only:
        print(f"\nload average at end {os.getloadavg()[0]:.2f}")
        return 0

    svdpp_params = dict(n_factors=20, n_epochs=20)
    shown = {k: v for k, v in SVDpp.defaults.items() if k not in svdpp_params}
    s_rmse, o_rmse, ratio = compare(
        f"[2] svdpp {svdpp_params} (other parameters: defaults {shown})\n    vs Surprise SVDpp(n_factors=20, n_epochs=20), fold u1",
        folds[:1], sets[:1], lambda: SurpriseSVDpp(n_factors=20, n_epochs=20, random_state=0),
        lambda: SVDpp(**svdpp_params), threads, args.repeat)
    verdict("svdpp k=20 on u1: RMSE no worse, >= 20x faster", s_rmse, o_rmse, ratio, 20)

    numba.set_num_threads(max(threads))
    print(f"\n[3] CLI defaults, mean over u1..u5 ({max(threads)} threads)")
    for cls in (BiasedSGD, SVDpp):
        scores, seconds = [], []
        for _, train, test in folds:
            sec, model = timed(lambda: cls().fit(train))
            seconds.append(sec)
            scores.append(model.score(test)["rmse"])
        print(f"{cls.name:6s} {cls.defaults}\n       RMSE per fold {np.round(scores, 4).tolist()} mean {np.mean(scores):.4f}; "
              f"fit {np.mean(seconds):.3f} s per fold")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
