"""How long from launching the window until the first fit starts, on a warm and on a cold kernel cache.

    python benchmarks/bench_window_ready.py [--repeat 3] [--cold]

Each measurement is a fresh process (offscreen Qt) doing what ``mfstudio`` does at launch
(:func:`mfstudio.gui.app.open_window`: show the window, load the movies sample, check numba's
cache after the first paint and compile what it lacks), and pressing Run for the selected method
as soon as the window allows it. The time is the parent's wall clock from
starting the process to the child printing that the fit started, so interpreter start-up and every
import are included. ``--cold`` also measures once with an empty cache (``NUMBA_CACHE_DIR`` in a
temporary folder): the first-ever start. The issue's bar: within 2 s on a warm cache.
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


def measure(env) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", CHILD, os.path.join(tmp, "s.ini")], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        fit_started = fit_done = None
        status = ""
        for line in child.stdout:
            if line.startswith("FIT_STARTED"):
                fit_started = time.perf_counter() - started
            elif line.startswith("FIT_DONE"):
                fit_done = time.perf_counter() - started
                status = line.strip()[len("FIT_DONE "):]
        child.wait()
        return fit_started, fit_done, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="also measure a first-ever start (empty kernel cache)")
    args = parser.parse_args()
    env = dict(os.environ)
    measure(env)  # fills the cache if it is not already
    rows = [("warm cache", measure(env)) for _ in range(args.repeat)]
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            rows.append(("empty cache", measure({**env, "NUMBA_CACHE_DIR": cache})))
    print(f"load average {os.getloadavg()[0]:.1f}")
    for label, (started, done, status) in rows:
        print(f"{label:12s}  first fit started {started:6.2f} s after launch, finished {done:6.2f} s  ({status})")
    warm = sorted(r[1][0] for r in rows if r[0] == "warm cache")
    print(f"median warm: {warm[len(warm) // 2]:.2f} s (bar: 2 s)")


if __name__ == "__main__":
    main()
