"""How long from launching the window until the first fit starts, on a warm and on a cold kernel cache.

    python benchmarks/bench_window_ready.py [--repeat 3] [--cold] [--root OTHER_CHECKOUT]

Each measurement is a fresh process (offscreen Qt) doing what ``mfstudio`` does at launch
(:func:`mfstudio.gui.app.open_window`: show the window, load the movies sample, check numba's
cache after the first paint and compile what it lacks), and pressing Run for the selected method
as soon as the window allows it. The time is the parent's wall clock from
starting the process to the child printing that the fit started, so interpreter start-up and every
import are included. The warm launches share one settings file, as a user's launches do. ``--cold`` also measures once with an empty cache (``NUMBA_CACHE_DIR`` in a
temporary folder): the first-ever start. ``--root`` launches another checkout too (the "before"
of a change), interleaved with this one. The issue's bar: within 2 s on a warm cache, on every launch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from mfstudio.gui.app import configure_environment, create_app, open_window
import mfstudio
print("FROM", os.path.dirname(os.path.dirname(mfstudio.__file__)), flush=True)
configure_environment()
app = create_app()
from PySide6.QtCore import QSettings
settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
window = open_window(settings=settings)  # what a launch does: show, load the sample, check the kernels
def ready():
    return window.dataset is not None and window.model_panel.run_button.isEnabled() and window.kernels_ready
while not ready():
    app.processEvents(); time.sleep(0.005)
window.model_panel.run_button.click()
print("FIT_STARTED", window.worker is not None, window.status_text.text(), flush=True)
while window.worker is not None:
    app.processEvents(); time.sleep(0.01)
print("FIT_DONE", window.status_text.text(), flush=True)
"""


def measure(env, settings: str, cwd: str | None = None) -> tuple[float, float, str]:
    started = time.perf_counter()
    # cwd: ``python -c`` puts the working folder first on sys.path, before PYTHONPATH.
    child = subprocess.Popen([sys.executable, "-c", CHILD, settings], env=env, cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    fit_started = fit_done = None
    status = ""
    for line in child.stdout:
        if line.startswith("FROM"):
            status = line.split(" ", 1)[1].strip()
        elif line.startswith("FIT_STARTED"):
            fit_started = time.perf_counter() - started
        elif line.startswith("FIT_DONE"):
            fit_done = time.perf_counter() - started
            status = f"{line.strip()[len('FIT_DONE '):]}; code from {status}"
    child.wait()
    return fit_started, fit_done, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also measure a first-ever start (empty kernel cache)")
    parser.add_argument("--root", help="another checkout to launch as well, interleaved (its mfstudio/ package)")
    args = parser.parse_args()
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    launches = [("this checkout", env, here)]
    if args.root:
        root = os.path.abspath(args.root)
        launches.append((root, {**env, "PYTHONPATH": root + os.pathsep + env.get("PYTHONPATH", "")}, root))
    with tempfile.TemporaryDirectory() as tmp:
        # One settings file per checkout for the warm launches, as a user's own: what a launch remembers
        # (the window's layout, the kernel cache it found complete) is there at the next.
        settings = {name: os.path.join(tmp, f"warm{i}.ini") for i, (name, _, _) in enumerate(launches)}
        for name, launch_env, cwd in launches:
            measure(launch_env, settings[name], cwd)  # fills the cache if it is not already
        rows = []
        for _ in range(args.repeat):  # interleaved, so that both see the same load
            for name, launch_env, cwd in launches:
                rows.append((name, "warm cache", measure(launch_env, settings[name], cwd)))
        if args.cold:
            cache = os.path.join(tmp, "numba-cache")
            os.mkdir(cache)
            rows.append(("this checkout", "empty cache",
                         measure({**env, "NUMBA_CACHE_DIR": cache}, os.path.join(tmp, "cold.ini"), here)))
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name, label, (started, done, status) in rows:
        prefix = f"{label:12s}" if not args.root else f"{label:12s} {name[-24:]:>24s}"
        print(f"{prefix}  first fit started {started:6.2f} s after launch, finished {done:6.2f} s  ({status})")
    medians = {}
    for name, _, _ in launches:
        warm = sorted(r[2][0] for r in rows if r[0] == name and r[1] == "warm cache")
        medians[name] = warm[len(warm) // 2]
        print(f"{name}: median warm {medians[name]:.2f} s, slowest {warm[-1]:.2f} s (bar: 2 s)")
    if args.root:
        print(f"this / {args.root}: {medians['this checkout'] / medians[launches[1][0]]:.2f}")


if __name__ == "__main__":
    main()
