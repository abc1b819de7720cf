"""Cold kernel compile time: the first ever start, and the start after it, in fresh processes.

    python benchmarks/bench_startup_compile.py [--first sgd] [--root PATH] [--repeat 1]

Each measurement runs in a new Python process with an empty numba cache
(``NUMBA_CACHE_DIR`` set to a new temporary folder), as on a user's first
start, then once more on the cache that run filled (a second start). It
prints, side by side with the target of issue 13:

- seconds until the kernels of the first fit (``--first``, the model the
  window selects) are ready, and until every kernel is;
- how many kernel signatures were compiled, in how many dispatchers;
- on the second start: how many signatures came from the cache (all of
  them, or the on-disk cache is broken) and the seconds that took.

``--root`` runs the warm-up of another checkout (for before/after numbers
of the same machine in one run). Machines vary: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, sys, time
started = time.perf_counter()
import mfstudio, os
if os.path.exists(os.path.join(os.path.dirname(mfstudio.__file__), "warmup.py")):
    from mfstudio.warmup import warm_up, kernel_cache_stats, _dispatchers
else:  # checkouts from before the warm-up moved out of kernels/
    from mfstudio.kernels.warmup import warm_up, kernel_cache_stats, _dispatchers
imported = time.perf_counter() - started
marks = []
t0 = time.perf_counter()
def progress(done, total):
    marks.append(time.perf_counter() - t0)
stats = warm_up(progress=progress, first=sys.argv[1])
from mfstudio.models import MODELS
order = sorted(MODELS, key=lambda name: (name != sys.argv[1], name))
dispatchers = list(_dispatchers())
used = [(name, len(d.signatures)) for name, d in dispatchers if d.signatures]
print(json.dumps({"import": imported, "first": marks[0] if marks else None, "all": stats["seconds"], "marks": marks, "order": order,
                  "from_cache": stats["from_cache"], "compiled": stats["compiled"],
                  "signatures": sum(n for _, n in used), "dispatchers": len(used), "per_kernel": used}))
"""


def run(root: Path, cache: str, first: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", _CHILD, first], env=env, capture_output=True, text=True, cwd=root)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", default="sgd", help="model prepared first (the window's selection)")
    parser.add_argument("--root", type=Path, default=HERE.parent, help="checkout whose mfstudio is measured")
    parser.add_argument("--repeat", type=int, default=1, help="cold starts to run (each with a new empty cache)")
    parser.add_argument("--verbose", action="store_true", help="list the signatures per kernel")
    args = parser.parse_args(argv)
    print(f"checkout {args.root.resolve()}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'start':14s} {'first fit ready s':>17s} {'all kernels s':>13s} {'compiled':>8s} {'from cache':>10s} "
          f"{'signatures':>10s} {'kernels':>7s}   target")
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache:
            for label in ("first (cold)", "second (warm)"):
                r = run(args.root, cache, args.first)
                target = "first fit first, all <= 20 s" if label.startswith("first") else "all from cache"
                print(f"{label:14s} {r['first']:17.2f} {r['all']:13.2f} {r['compiled']:8d} {r['from_cache']:10d} "
                      f"{r['signatures']:10d} {r['dispatchers']:7d}   {target}")
                steps = [b - a for a, b in zip([0.0] + r["marks"][:-1], r["marks"])]
                names = r["order"] + ["extras"]
                print("    seconds per warm-up step: " + ", ".join(f"{n} {s:.1f}" for n, s in zip(names, steps)))
                if args.verbose and label.startswith("first"):
                    for name, n in r["per_kernel"]:
                        print(f"    {name}: {n}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
