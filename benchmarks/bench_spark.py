"""Spark local[2] against mfstudio's own ALS, side by side in one run.

    python benchmarks/bench_spark.py [--data ../shared/data/ml-100k] [--rows 25000000] [--skip-large]

Needs the spark extra (``pip install -e ".[spark]"``) and Java 17+.

For each dataset, each engine runs in a fresh child process (so a JVM that
is already warm, or numba kernels already compiled, do not favour the second
one) while this process samples the child's whole process tree (Python and
the JVM Spark starts) for peak resident memory:

- **ML-100K** u1.base / u1.test: ``als`` k=20, 10 epochs, reg 0.1, seed 0;
  local with biases (its default) and without (Spark's model), and
  ``--engine spark`` on ``local[2]``. RMSE on u1.test.
- **Generated 25M ratings** (a planted rank-10 model plus noise, MovieLens-25M
  shaped: 162k users, 59k items, skewed activity), 1% held out: ``als`` k=10,
  5 epochs, reg 0.05, local and Spark ``local[2]``.

For every Spark fit it also times the recommendations for all users:
Spark's ``recommendForAllUsers(10)`` (run to completion with a no-op sink),
and mfstudio's batched ``recommend`` (seen items excluded) on the same factors.

Times reported: the whole child ("total", data loading excluded), the fit as
the model reports it (``fit_seconds_``: for Spark it includes starting the
session and shipping the data), and for Spark the parts of it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_ML100K = ROOT.parent / "shared" / "data" / "ml-100k"


# ------------------------------------------------------------------ data
def planted(path: Path, n_rows: int, seed: int = 0) -> None:
    """Write a MovieLens-25M-shaped planted low-rank ratings set (.npz of rows, cols, values, test mask)."""
    rng = np.random.default_rng(seed)
    n_users, n_items, rank = 162_541, 59_047, 10
    item_weight = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_weight /= item_weight.sum()
    user_weight = rng.lognormal(0, 1.2, n_users)
    user_weight /= user_weight.sum()
    draw = int(n_rows * 1.35)  # one rating per (user, item): draw more pairs, drop repeats
    keys = np.unique(rng.choice(n_users, draw, p=user_weight).astype(np.int64) * n_items
                     + rng.choice(n_items, draw, p=item_weight))
    keys = rng.permutation(keys)[:n_rows]
    rows, cols = (keys // n_items).astype(np.int32), (keys % n_items).astype(np.int32)
    del keys
    P = rng.normal(0, 0.35, (n_users, rank)).astype(np.float32)
    Q = rng.normal(0, 0.35, (n_items, rank)).astype(np.float32)
    values = np.empty(n_rows, dtype=np.float32)
    for lo in range(0, n_rows, 1 << 22):
        hi = min(lo + (1 << 22), n_rows)
        raw = 3.5 + np.einsum("ij,ij->i", P[rows[lo:hi]], Q[cols[lo:hi]]) + rng.normal(0, 0.5, hi - lo)
        values[lo:hi] = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
    test = rng.random(n_rows) < 0.01
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, rows=rows, cols=cols, values=values, test=test)


def load_case(name: str, where: str):
    """(train, test) Datasets in one id space."""
    from mfstudio.data import Dataset, open_data
    from mfstudio.data.dataset import common_id_space

    if name == "ml-100k":
        return common_id_space(open_data(str(Path(where) / "u1.base")), open_data(str(Path(where) / "u1.test")))
    with np.load(where) as npz:
        rows, cols, values, test = npz["rows"], npz["cols"], npz["values"], npz["test"]
    n_users, n_items = int(rows.max()) + 1, int(cols.max()) + 1

    def part(mask):
        return Dataset(kind="explicit", rows=rows[mask], cols=cols[mask], values=values[mask],
                       row_ids=np.arange(1, n_users + 1), col_ids=np.arange(1, n_items + 1),
                       rating_scale=(0.5, 5.0), name=f"planted-{rows.size // 1_000_000}M")
    return part(~test), part(test)


# ------------------------------------------------------------------ child
def child(case: str, where: str, engine: str, params: dict) -> dict:
    """One fit in this (fresh) process; prints a JSON line."""
    from mfstudio.models import ALS

    train, test = load_case(case, where)
    out = {"nnz": int(train.nnz)}
    if engine == "local":  # compile the kernels first: numba's one-off cost is not the fit's
        ALS(n_factors=2, n_epochs=1).fit(load_case("ml-100k", str(DEFAULT_ML100K))[0] if DEFAULT_ML100K.exists()
                                         else train.subset(train.rows < 50))
    t = time.perf_counter()
    model = ALS(**params, engine=engine, spark_master="local[2]")
    model.fit(train)
    out["total_seconds"] = time.perf_counter() - t
    out["fit_seconds"] = model.fit_seconds_
    out["rmse"] = model.score(test)["rmse"]
    out["spark"] = getattr(model, "engine_info", None)
    users = np.arange(train.shape[0])
    t = time.perf_counter()
    for lo in range(0, users.size, 20_000):
        model.recommend(users[lo:lo + 20_000], n=10, exclude_seen=True)
    out["mfstudio_recommend_all_seconds"] = time.perf_counter() - t
    if engine == "spark":
        from pyspark.ml.recommendation import ALSModel

        from mfstudio.spark.engine import session_for
        from mfstudio.spark.interop import export_spark

        spark = session_for("local[2]")
        print(json.dumps(out), flush=True)  # the fit's figures, in case the recommendations hit the cap
        cap = float(os.environ.get("BENCH_SPARK_RECS_CAP", "900"))
        with tempfile.TemporaryDirectory() as folder:
            loaded = ALSModel.load(str(export_spark(model, Path(folder) / "m")))
            sc = spark.sparkContext
            sc.setJobGroup("bench-recs", "recommendForAllUsers", interruptOnCancel=True)
            timer = threading.Timer(cap, lambda: sc.cancelJobGroup("bench-recs"))
            timer.start()
            t = time.perf_counter()
            try:
                loaded.recommendForAllUsers(10).write.format("noop").mode("overwrite").save()
                out["spark_recommend_all_seconds"] = time.perf_counter() - t
            except Exception:
                out["spark_recommend_all_seconds"] = None
                out["spark_recommend_all_capped"] = cap
            timer.cancel()
        spark.stop()
    print(json.dumps(out))
    return out


def run_child(case: str, where: str, engine: str, params: dict) -> dict:
    """Run :func:`child` in a new process; sample its process tree's resident memory every 0.2 s."""
    import psutil

    proc = subprocess.Popen([sys.executable, __file__, "--child", case, where, engine, json.dumps(params)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [watched] + watched.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mib"] = peak / 2**20
    return result


def show(case: str, label: str, r: dict) -> None:
    if "error" in r:
        print(f"{case:<10} {label:<22} failed: {r['error']}")
        return
    line = (f"{case:<10} {label:<22} total {r['total_seconds']:7.1f} s  fit {r['fit_seconds']:7.1f} s  "
            f"RMSE {r['rmse']:.4f}  peak {r['peak_mib']:6.0f} MiB  "
            f"recs for all users: mfstudio {r['mfstudio_recommend_all_seconds']:.1f} s")
    if r.get("spark_recommend_all_seconds") is not None:
        line += f", Spark recommendForAllUsers {r['spark_recommend_all_seconds']:.1f} s"
    elif r.get("spark_recommend_all_capped"):
        line += f", Spark recommendForAllUsers not done in {r['spark_recommend_all_capped']:.0f} s (cancelled)"
    print(line, flush=True)
    if r.get("spark"):
        s = r["spark"]
        print(f"{'':<33} Spark {s['spark_version']}: session {s['session_seconds']:.1f} s, shipping "
              f"({s['shipping']}) {s['ship_seconds']:.1f} s, ALS.fit {s['fit_seconds']:.1f} s, "
              f"read back {s['read_back_seconds']:.1f} s", flush=True)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_ML100K, help="the MovieLens 100K folder")
    parser.add_argument("--rows", type=int, default=25_000_000, help="ratings in the generated large set")
    parser.add_argument("--skip-large", action="store_true", help="ML-100K only")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    print(f"cores: {os.cpu_count()}; Spark master local[2]; each row a fresh process", flush=True)
    small = {"n_factors": 20, "n_epochs": 10, "reg": 0.1, "seed": 0}
    if (args.data / "u1.base").exists():
        show("ml-100k", "als local (biases)", run_child("ml-100k", str(args.data), "local", small))
        show("ml-100k", "als local (no biases)", run_child("ml-100k", str(args.data), "local", {**small, "use_bias": False}))
        show("ml-100k", "als spark local[2]", run_child("ml-100k", str(args.data), "spark", small))
    else:
        print(f"ml-100k: {args.data} not found, skipped")
    if args.skip_large:
        return 0
    path = HERE / "_data" / f"planted_{args.rows // 1_000_000}m.npz"
    if not path.exists():
        t = time.perf_counter()
        planted(path, args.rows)
        print(f"generated {path.name} in {time.perf_counter() - t:.0f} s", flush=True)
    large = {"n_factors": 10, "n_epochs": 5, "reg": 0.05, "seed": 0, "use_bias": False}
    os.environ.setdefault("MFSTUDIO_SPARK_DRIVER_MEMORY", "12g")  # local mode: the driver is the executor
    label = f"{args.rows // 1_000_000}M"
    show(label, "als local (no biases)", run_child("planted", str(path), "local", large))
    show(label, "als spark local[2]", run_child("planted", str(path), "spark", large))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
