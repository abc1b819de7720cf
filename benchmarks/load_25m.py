"""Load time and peak memory for a 25-million-row ratings CSV shaped like MovieLens 25M.

    python benchmarks/load_25m.py [--rows 25000000] [--keep]

Writes ``benchmarks/_data/ratings_25m.csv`` (userId,movieId,rating,timestamp;
162,541 users x 59,047 movies with a power-law popularity, half-star ratings;
about 680 MB) once, then loads it with :func:`mfstudio.data.load` in a fresh
child process and prints:

- wall-clock load time,
- the child's peak resident memory, and the same for a child that only
  imports mfstudio (the interpreter and libraries), so the difference is
  what loading cost,
- the size of the arrays the Dataset keeps, for comparison,
- pandas ``read_csv(engine="pyarrow")`` of the same file in the same run, as
  the peer: reading alone, with no id mapping or validation.
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
t = time.perf_counter()
ds = d.load(sys.argv[1])
elapsed = time.perf_counter() - t
arrays = ds.rows.nbytes + ds.cols.nbytes + ds.values.nbytes + (ds.timestamps.nbytes if ds.timestamps is not None else 0)
print(json.dumps({"seconds": elapsed, "peak_kb": peak_kb(),
                  "arrays": arrays, "shape": ds.shape, "nnz": ds.nnz, "kind": ds.kind, "notes": ds.notes}))
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


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--path", type=Path, default=HERE / "_data" / "ratings_25m.csv")
    args = parser.parse_args()
    ensure_csv(args.path, args.rows)
    size_mib = args.path.stat().st_size / 2**20
    base = child(CHILD_IMPORT)
    ours = child(CHILD_LOAD, str(args.path))
    peer = child(CHILD_PANDAS, str(args.path))
    mib = lambda kb: kb / 1024  # noqa: E731 - VmHWM is in KiB
    print(f"file: {size_mib:.0f} MiB, {ours['nnz']:,} ratings, {ours['shape'][0]:,} users x {ours['shape'][1]:,} items")
    print(f"cores: {os.cpu_count()}")
    print(f"mfstudio.data.load        {ours['seconds']:6.1f} s   peak RSS {mib(ours['peak_kb']):7.0f} MiB"
          f"   (imports alone {mib(base['peak_kb']):.0f} MiB; load added {mib(ours['peak_kb'] - base['peak_kb']):.0f} MiB)")
    print(f"  arrays kept by Dataset  {ours['arrays'] / 2**20:7.0f} MiB   -> peak over arrays "
          f"{(ours['peak_kb'] - base['peak_kb']) * 1024 / ours['arrays']:.2f}x")
    print(f"pandas read_csv(pyarrow)  {peer['seconds']:6.1f} s   peak RSS {mib(peer['peak_kb']):7.0f} MiB   (reading only)")
    print(f"ratio load / pandas read: time {ours['seconds'] / peer['seconds']:.2f}x, peak {ours['peak_kb'] / peer['peak_kb']:.2f}x")
    if ours["notes"]:
        print("notes:", "; ".join(ours["notes"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
