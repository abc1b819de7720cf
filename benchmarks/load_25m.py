"""Load time and peak memory for a 25-million-row ratings CSV shaped like MovieLens 25M.

    python benchmarks/load_25m.py [--rows 25000000] [--repeats 3] [--before DIR]

Writes ``benchmarks/_data/ratings_25m.csv`` (userId,movieId,rating,timestamp;
162,541 users x 59,047 movies with a power-law popularity, half-star ratings;
about 680 MB) once, then loads it with :func:`mfstudio.data.load` in a fresh
child process and prints:

- wall-clock load time,
- the child's peak resident memory, and the same for a child that only
  imports mfstudio (the interpreter and libraries), so the difference is
  what loading cost,
- the size of the arrays the Dataset keeps, for comparison,
- the bar of issue 13: the load's added peak at most 1.5x the kept arrays,
- pandas ``read_csv(engine="pyarrow")`` of the same file in the same run, as
  the peer: reading alone, with no id mapping or validation,
- with ``--before DIR`` (a folder holding another ``mfstudio`` package, e.g.
  ``git archive OLD mfstudio | tar -x -C DIR``), the same load by that code.

Runs are interleaved (ours, before, peer, ours, ...) and the best time of
``--repeats`` is shown (and the least CPU time, user + system of all the
load's threads, steadier than wall time on a busy machine), with the load average: the machine is shared, and
only a ratio inside one run means anything. "Added" peak = the child's VmHWM
minus that of a child that only imports mfstudio.data, pandas and
pyarrow.csv (the interpreter and libraries, measured the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# VmHWM is this process's own high-water mark; ru_maxrss can carry the
# parent's over the fork (the generator is large).
PEAK = r"""
def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""

CHILD_LOAD = PEAK + r"""
import json, sys, time
import mfstudio.data as d
import pandas, pyarrow.csv  # as in CHILD_IMPORT, so that only the load differs
import resource
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t, c = time.perf_counter(), cpu()
ds = d.load(sys.argv[1])
elapsed, cpu_seconds = time.perf_counter() - t, cpu() - c
arrays = ds.rows.nbytes + ds.cols.nbytes + ds.values.nbytes + (ds.timestamps.nbytes if ds.timestamps is not None else 0)
print(json.dumps({"seconds": elapsed, "cpu": cpu_seconds, "peak_kb": peak_kb(),
                  "arrays": arrays, "shape": ds.shape, "nnz": ds.nnz, "kind": ds.kind, "notes": ds.notes,
                  "module": d.__file__}))
"""

CHILD_IMPORT = PEAK + r"""
import json
import mfstudio.data, pandas, pyarrow.csv
print(json.dumps({"peak_kb": peak_kb()}))
"""

CHILD_PANDAS = PEAK + r"""
import json, sys, time
import pandas as pd
t = time.perf_counter()
frame = pd.read_csv(sys.argv[1], engine="pyarrow")
print(json.dumps({"seconds": time.perf_counter() - t, "peak_kb": peak_kb()}))
"""


def generate(path: Path, n_rows: int, seed: int = 0) -> None:
    """Write a MovieLens-25M-like ratings CSV with pyarrow (a few seconds)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n_users, n_items = 162_541, 59_047
    path.parent.mkdir(parents=True, exist_ok=True)
    item_weight = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_weight /= item_weight.sum()
    user_weight = rng.lognormal(0, 1.2, n_users)
    user_weight /= user_weight.sum()
    # MovieLens has one rating per (user, movie): draw 35% more pairs than
    # needed, drop repeats, shuffle, keep n_rows.
    draw = int(n_rows * 1.35)
    users = rng.choice(n_users, draw, p=user_weight).astype(np.int64)
    items = rng.choice(n_items, draw, p=item_weight).astype(np.int64)
    keys = np.unique(users * n_items + items)
    if keys.size < n_rows:
        raise SystemExit(f"only {keys.size:,} distinct pairs drawn; ask for fewer rows")
    keys = rng.permutation(keys)[:n_rows]
    del users, items
    chunk = 5_000_000
    schema = pa.schema([("userId", pa.int64()), ("movieId", pa.int64()), ("rating", pa.float32()), ("timestamp", pa.int64())])
    with pacsv.CSVWriter(str(path), schema) as writer:
        for start in range(0, n_rows, chunk):
            part = keys[start:start + chunk]
            n = part.size
            ratings = (rng.integers(1, 11, n) / 2).astype(np.float32)
            stamps = rng.integers(789_652_009, 1_574_327_703, n)
            writer.write_table(pa.table({"userId": part // n_items + 1, "movieId": part % n_items + 1,
                                         "rating": ratings, "timestamp": stamps}, schema=schema))


def ensure_csv(path: Path, rows: int) -> None:
    """Generate the ratings CSV unless it is already there (it is reused across runs)."""
    if not path.exists():
        t = time.perf_counter()
        generate(path, rows)
        print(f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")


#: Issue 13's bar: the load's peak (above the imports) over the arrays the Dataset keeps.
BAR = 1.5


def child(code: str, *args: str, package_dir: Path | None = None) -> dict:
    # "python -c" puts the working directory first on sys.path: run in the
    # folder whose mfstudio is wanted (this one has none: the installed one).
    cwd = package_dir.resolve() if package_dir is not None else HERE
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(runs: list[dict]) -> dict:
    """The fastest run's time, the highest peak (a peak is a property of the code, not of the machine's load)."""
    return {**min(runs, key=lambda r: r["seconds"]), "peak_kb": max(r["peak_kb"] for r in runs),
            "all_seconds": [round(r["seconds"], 2) for r in runs],
            "cpu": min((r["cpu"] for r in runs if "cpu" in r), default=float("nan"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--path", type=Path, default=HERE / "_data" / "ratings_25m.csv")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a folder with another mfstudio package to load the file with")
    args = parser.parse_args()
    args.path = args.path.resolve()
    ensure_csv(args.path, args.rows)
    size_mib = args.path.stat().st_size / 2**20
    base = child(CHILD_IMPORT)
    runs: dict[str, list[dict]] = {"ours": [], "before": [], "peer": []}
    for _ in range(args.repeats):
        runs["ours"].append(child(CHILD_LOAD, str(args.path)))
        if args.before:
            runs["before"].append(child(CHILD_LOAD, str(args.path), package_dir=args.before))
        runs["peer"].append(child(CHILD_PANDAS, str(args.path)))
    ours, peer = best(runs["ours"]), best(runs["peer"])
    mib = lambda kb: kb / 1024  # noqa: E731 - VmHWM is in KiB
    print(f"file: {size_mib:.0f} MiB, {ours['nnz']:,} ratings, {ours['shape'][0]:,} users x {ours['shape'][1]:,} items")
    print(f"cores: {os.cpu_count()}, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"best of {args.repeats} interleaved runs")

    def report(label: str, r: dict) -> float:
        ratio = (r["peak_kb"] - base["peak_kb"]) * 1024 / r["arrays"]
        print(f"{label:26s}{r['seconds']:6.1f} s {r['all_seconds']} (CPU {r['cpu']:.1f} s)   peak RSS {mib(r['peak_kb']):6.0f} MiB, "
              f"added {mib(r['peak_kb'] - base['peak_kb']):5.0f} MiB = {ratio:.2f}x the kept arrays "
              f"({'meets' if ratio <= BAR else 'MISSES'} the {BAR}x bar)")
        return ratio

    print(f"arrays kept by the Dataset  {ours['arrays'] / 2**20:.0f} MiB; imports alone {mib(base['peak_kb']):.0f} MiB")
    report("mfstudio.data.load", ours)
    if args.before:
        before = best(runs["before"])
        report("  before (--before)", before)
        print(f"  (before = {Path(before['module']).parent.parent}; now = {Path(ours['module']).parent.parent})")
        print(f"  now / before: time {ours['seconds'] / before['seconds']:.2f}x, CPU {ours['cpu'] / before['cpu']:.2f}x, "
              f"added peak {(ours['peak_kb'] - base['peak_kb']) / (before['peak_kb'] - base['peak_kb']):.2f}x")
    print(f"{'pandas read_csv(pyarrow)':26s}{peer['seconds']:6.1f} s {peer['all_seconds']}   peak RSS "
          f"{mib(peer['peak_kb']):6.0f} MiB   (reading only)")
    print(f"ratio load / pandas read: time {ours['seconds'] / peer['seconds']:.2f}x, "
          f"peak {ours['peak_kb'] / peer['peak_kb']:.2f}x")
    if ours["notes"]:
        print("notes:", "; ".join(ours["notes"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
