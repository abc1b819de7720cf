"""Scale: one sgd epoch and one implicit-als iteration on 25M ratings shaped like MovieLens 25M.

    python benchmarks/bench_scale.py [--rows 25000000]

Uses the CSV written by ``load_25m.py`` (generated if missing), loads it
once, then in fresh child processes times:

- one epoch of ``sgd`` (BiasedSGD, k=100) on all 25M ratings,
- one iteration of ``implicit-als`` (k=64, ratings >= 4 as positives, CG),

reporting seconds (numba compilation excluded: each child warms its kernels
up on a tiny dataset first) and the child's peak resident memory next to the
size of the data arrays. There is no peer here: the point is that a
MovieLens-25M-sized fit is practical on a laptop-class machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD_BODY = r"""
import json, sys, time
from mfstudio.data import load
from mfstudio.warmup import warm_up
from mfstudio.models import MODELS
warm_up()
ds = load(sys.argv[1])
loaded_kb = peak_kb()
name, params = sys.argv[2], json.loads(sys.argv[3])
model = MODELS[name](**params)
steps = model.iter_fit(ds)
t = time.perf_counter()
step = next(steps)
seconds = time.perf_counter() - t
steps.close()
arrays = ds.rows.nbytes + ds.cols.nbytes + ds.values.nbytes
print(json.dumps({"seconds": seconds, "fit_seconds": step.seconds, "loss": step.train_loss,
                  "peak_kb": peak_kb(), "loaded_kb": loaded_kb, "arrays": arrays, "nnz": ds.nnz}))
"""


def main() -> int:
    from load_25m import PEAK, ensure_csv

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=25_000_000)
    parser.add_argument("--path", type=Path, default=HERE / "_data" / "ratings_25m.csv")
    args = parser.parse_args()
    ensure_csv(args.path, args.rows)
    jobs = [
        ("sgd", {"n_factors": 100, "n_epochs": 1}, "one epoch"),
        ("implicit-als", {"n_factors": 64, "n_epochs": 1}, "one iteration"),
    ]
    for name, params, what in jobs:
        out = subprocess.run([sys.executable, "-c", PEAK + CHILD_BODY, str(args.path), name, json.dumps(params)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<13} {what} on {r['nnz']:,} entries: {r['seconds']:.1f} s "
              f"(fit part {r['fit_seconds']:.1f} s); peak RSS {r['peak_kb'] / 1024:.0f} MiB "
              f"(after loading {r['loaded_kb'] / 1024:.0f} MiB; data arrays {r['arrays'] / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
