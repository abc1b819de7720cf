"""A 12-point sweep with 3-fold cross-validation on MovieLens 100K, against Surprise's GridSearchCV.

    python benchmarks/bench_sweep.py [--data ../shared/data/ml-100k] [--jobs 1,2] [--skip-surprise]

Prints, side by side in one run:

1. ``mfstudio.sweep.Sweep`` of ``sgd`` (20 epochs, our other defaults) over
   ``n_factors`` 10, 50, 100 x ``reg`` 0.02, 0.05, 0.1, 0.2 (12 points),
   ``kfold:3`` on ``u.data``, with each job count of ``--jobs``: wall time
   (worker start-up, numba's cache load in each worker and every fold
   included) and the best mean RMSE with its parameters.
2. ``surprise.model_selection.GridSearchCV(SVD, {"n_factors": [...],
   "reg_all": [...]}, cv=3)`` over the same grid (Surprise's other defaults:
   20 epochs, lr 0.005), single job: wall time and best mean RMSE. Its
   folds are its own (3-fold KFold, random_state 0), not ours.
3. The done-when check of issue 11: a sweep on ``u1.base`` of factors 10,
   50, 100 x reg 0.02, 0.05, 0.1 with 3 folds; the best point refitted on
   all of ``u1.base`` and scored on ``u1.test``, against ``sgd`` at its
   defaults on the same files.

Timing is wall-clock of the whole search (what a user waits for); numba's
kernels are warmed up once in this process first, so the jobs=1 run does
not pay a compile the others do not. Only ratios of one run mean anything.
Without the data folder the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FACTORS = [10, 50, 100]
REGS = [0.02, 0.05, 0.1, 0.2]
DONE_WHEN_REGS = [0.02, 0.05, 0.1]


def _sweep(data, factors, regs, jobs):
    from mfstudio.sweep import Axis, Sweep

    sweep = Sweep(data, "sgd", [Axis("n_factors", factors), Axis("reg", regs)], protocol="kfold:3", jobs=jobs)
    started = time.perf_counter()
    sweep.run()
    return sweep, time.perf_counter() - started


def _surprise(path: Path):
    try:
        from surprise import SVD, Dataset as SDataset, Reader
        from surprise.model_selection import GridSearchCV, KFold
    except ImportError:
        return None
    data = SDataset.load_from_file(str(path), reader=Reader(line_format="user item rating timestamp", sep="\t"))
    search = GridSearchCV(SVD, {"n_factors": FACTORS, "reg_all": REGS}, measures=["rmse"],
                          cv=KFold(3, random_state=0), n_jobs=1)
    started = time.perf_counter()
    search.fit(data)
    return search, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "ml-100k"))
    parser.add_argument("--jobs", default="1,2", help="job counts to time, comma-separated")
    parser.add_argument("--skip-surprise", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(args.data)
    if not (folder / "u.data").exists():
        print(f"bench_sweep: MovieLens 100K is not in {folder} (u.data missing); nothing measured")
        return 0

    from mfstudio.data import open_data
    from mfstudio.experiment import Experiment
    from mfstudio.models import BiasedSGD

    data = open_data(str(folder / "u.data"))
    BiasedSGD(n_epochs=1).fit(data.subset(np.arange(1000)))  # warm numba up outside the timings
    print(f"MovieLens 100K: {data.nnz:,} ratings; grid n_factors {FACTORS} x reg {REGS} = "
          f"{len(FACTORS) * len(REGS)} points, 3 folds each")
    print(f"{'search':<44} {'time':>8}  {'best RMSE':>9}  best point")
    for jobs in (int(j) for j in args.jobs.split(",")):
        sweep, seconds = _sweep(data, FACTORS, REGS, jobs)
        best = sweep.best
        failed = sum(p.status != "done" for p in sweep.results)
        print(f"{f'mfstudio Sweep sgd, jobs={jobs}':<44} {seconds:>7.1f}s  {best.mean:>9.4f}  {best.params}"
              + (f"  ({failed} failed)" if failed else ""))
    if not args.skip_surprise:
        result = _surprise(folder / "u.data")
        if result is None:
            print("surprise GridSearchCV(SVD): scikit-surprise is not installed (pip install scikit-surprise)")
        else:
            search, seconds = result
            print(f"{'surprise GridSearchCV(SVD, cv=3), n_jobs=1':<44} {seconds:>7.1f}s  "
                  f"{search.best_score['rmse']:>9.4f}  {search.best_params['rmse']}")

    base, test = folder / "u1.base", folder / "u1.test"
    if base.exists() and test.exists():
        train = open_data(str(base))
        held_out = open_data(str(test), kind=train.kind)
        sweep, seconds = _sweep(train, FACTORS, DONE_WHEN_REGS, None)
        print(f"\ndone-when: sweep on u1.base, n_factors {FACTORS} x reg {DONE_WHEN_REGS}, kfold:3, "
              f"jobs={sweep.jobs}: {len(sweep.results)} results in {seconds:.1f}s; best {sweep.best.params} "
              f"cv RMSE {sweep.best.mean:.4f} +- {sweep.best.std:.4f}")
        for label, params in (("best of the sweep", sweep.best_params()), ("sgd defaults", {})):
            experiment = Experiment(train, "sgd", params, test_data=held_out, test_name="u1.test").run()
            print(f"  refit on u1.base, scored on u1.test: {label:<18} RMSE {experiment.metrics['rmse']:.4f}  "
                  f"{params or BiasedSGD.defaults}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
