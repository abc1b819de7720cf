"""A small fit from the terminal, whole process, against the same fit as a Surprise script, in one run.

    python benchmarks/bench_cli.py [--data ../shared/data/ml-100k] [--repeat 5] [--root OTHER_CHECKOUT]
                                   [--extra "--no-ranking"]

Measures the wall time of whole processes, as a user at a terminal meets them:

- ours: ``python -m mfstudio fit u1.base --test u1.test --model sgd --factors 100 --epochs 20``
  (import, load both files, the reference model, 20 epochs, scoring, printing);
- the peer: a Surprise script doing the same fit: ``Reader`` + ``Dataset.load_from_folds`` on
  u1.base/u1.test, ``SVD(n_factors=100, n_epochs=20)``, ``fit``, ``test``, ``accuracy.rmse``;
- with ``--root``: ours again from another checkout (the "before" of a change), same command.

The runs are interleaved (ours, peer, [root], ours, peer, ...) so that all see the same load;
one untimed run of each comes first (numba's on-disk cache is filled or loaded then, as on any
second use). Prints the median and the best of ``--repeat`` runs of each, the ratio
ours / peer (bar of issue 13: at most 0.8), the load average around the runs, and a breakdown of
one of our runs by ``-X importtime`` (import) and the command's own timings.
Machines vary: only the ratios of one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The folds of a DatasetUserFolds come from PredefinedKFold (Surprise 1.1).
PEER = r"""
import sys
from surprise import SVD, Dataset, Reader, accuracy
from surprise.model_selection import PredefinedKFold
base, test = sys.argv[1], sys.argv[2]
reader = Reader(line_format="user item rating timestamp", sep="\t")
data = Dataset.load_from_folds([(base, test)], reader=reader)
trainset, testset = next(PredefinedKFold().split(data))
algo = SVD(n_factors=100, n_epochs=20, random_state=0)
algo.fit(trainset)
accuracy.rmse(algo.test(testset))
"""


def _run(argv, cwd, env=None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _env_for(root: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    return env


def _import_breakdown(argv, cwd, env) -> list[tuple[str, float]]:
    """Top-level imports of one run of ours (``-X importtime``), largest first, in seconds."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv[1:]], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith(" ") and not name.startswith("  "):  # depth 1: what the program itself imported
            try:
                rows.append((name.strip(), int(cumulative) / 1e6))
            except ValueError:
                pass
    return sorted(rows, key=lambda r: -r[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ml-100k"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--root", help="another checkout to time as well (its mfstudio/ package)")
    parser.add_argument("--extra", default="", help="extra arguments for our fit command, e.g. '--threads 1'")
    args = parser.parse_args()
    data = Path(args.data)
    base, test = str(data / "u1.base"), str(data / "u1.test")
    fit = ["fit", base, "--test", test, "--model", "sgd", "--factors", "100", "--epochs", "20",
           *shlex.split(args.extra)]
    ours = [sys.executable, "-m", "mfstudio", *fit]
    peer = [sys.executable, "-c", PEER, base, test]
    runners = {"mfstudio (this checkout)": (ours, ROOT, _env_for(ROOT)),
               "Surprise SVD script": (peer, ROOT, None)}
    if args.root:
        other = Path(args.root).resolve()
        runners[f"mfstudio ({other})"] = ([sys.executable, "-m", "mfstudio", *fit], other, _env_for(other))

    print(f"command: mfstudio {' '.join(fit)}")
    print(f"load average before: {_load()}")
    for argv, cwd, env in runners.values():  # untimed: numba's cache filled or loaded, files in the page cache
        _run(argv, cwd, env)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(args.repeat):
        for name, (argv, cwd, env) in runners.items():
            times[name].append(_run(argv, cwd, env))
    print(f"load average after:  {_load()}  ({os.cpu_count()} cores)")
    peer_median = statistics.median(times["Surprise SVD script"])
    print(f"\n{'':<40} {'median s':>9} {'best s':>8} {'median / peer':>14}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<40} {median:>9.3f} {min(values):>8.3f} {median / peer_median:>13.2f}x")
    ratio = statistics.median(times["mfstudio (this checkout)"]) / peer_median
    print(f"\nbar (issue 13): ours at most 0.8x the peer's wall time: {'met' if ratio <= 0.8 else 'NOT met'} ({ratio:.2f}x)")
    print("\nwhere one run of ours spends its import time (-X importtime, top level, cumulative s):")
    for name, seconds in _import_breakdown(ours, ROOT, _env_for(ROOT))[:8]:
        print(f"  {name:<36} {seconds:6.3f}")


if __name__ == "__main__":
    main()
