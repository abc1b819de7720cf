"""Render every result tab of the window to PNG, after real fits, for a person to review.

Usage::

    python tools/render_views.py [--data sample:movies] [--models sgd,bpr,svd] [--sizes 1280x720,1920x1080]
                                 [--out renders/] [--sweep "sgd:n_factors=2,8,32;reg=0.01,0.1@kfold:3"]

Each size gets a fresh window (offscreen unless QT_QPA_PLATFORM says otherwise), the data loaded
through the window's own open path, each model fitted with the protocol the window chooses (append
``@SPEC`` to a model to choose, e.g. ``nmf@cells:0.1``), then every enabled tab shown and grabbed to
``OUT/<data>_<size>_<tab>.png``. Some tabs are also grabbed in a second state a user reaches with one
click (``..._<tab>_<state>.png``): the Recommendations tab with a recommended item selected (the "why
this item" table) and its "Compare runs side by side" page; the Topics & parts view of images with the
previous run's parts beside the latest run's. Look at every picture: would a user understand it at a
glance?
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path


def _pump(app, seconds: float = 0.4) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait(app, condition, timeout: float) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if condition():
            return True
        app.processEvents()
        time.sleep(0.02)
    return condition()


def _run_sweep(app, window, spec: str) -> None:
    """Run a sweep in the Sweep tab: ``METHOD:NAME=V1,V2[;NAME=V1,V2][@PROTOCOL]`` (fixed values from the panel)."""
    spec, _, protocol = spec.partition("@")
    method, _, axes = spec.partition(":")
    window.model_panel.select_method(method)
    view = window.show_view("Sweep")
    view.refresh_method()
    for k, axis in enumerate(axes.split(";")[:2]):
        name, _, values = axis.partition("=")
        view.param_boxes[k].setCurrentIndex(view.param_boxes[k].findData(name))
        view.value_edits[k].setText(values)
    if protocol:
        view.protocol_box.setCurrentIndex(view.protocol_box.findData(protocol))
    if view.start() is None:
        raise SystemExit(f"the sweep did not start: {view.state.text()}")
    _wait(app, lambda: view.worker is None, 900)
    _pump(app)


def _extra_states(view):
    """(suffix, set-up) pairs: states of a tab worth a picture of their own, reached as a user would."""
    title = view.title
    if title == "Recommendations" and getattr(view, "model", None) is not None:
        def why():
            view.tabs.setCurrentIndex(0)
            if view.recs_table.rowCount():
                view.recs_table.selectRow(0)

        yield "why", why
        if len(view.offered_runs()) > 1:
            yield "compare", view.show_comparison
    if title == "Topics & parts" and getattr(view, "mode", None) == "images" and view.compare_candidates():
        yield "side_by_side", lambda: view.compare_with(view.compare_candidates()[-1])


def render(data: str, models: list[str], width: int, height: int, out: Path, sweep: str | None = None) -> list[Path]:
    """Fit ``models`` on ``data`` in a window of this size and save every enabled tab; returns the PNG paths."""
    from PySide6.QtCore import QSettings

    from mfstudio.gui.app import create_app
    from mfstudio.gui.main_window import MainWindow

    app = create_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.confirm_discard_runs = lambda action: True  # a review render never keeps its runs
    window.resize(width, height)
    window.show()
    window.open_path(data)
    if not _wait(app, lambda: window.dataset is not None, 120):
        raise SystemExit(f"{data} did not load")
    _wait(app, lambda: not window.tasks, 120)
    for entry in models:
        name, _, protocol = entry.partition("@")
        window.model_panel.select_method(name)
        if protocol:
            window.model_panel.set_protocol(protocol)
        window.start_fit(name, window.model_panel.params(), window.model_panel.split_spec(), 0)
        _wait(app, lambda: window.worker is None, 600)
        _pump(app)
    if sweep:
        _run_sweep(app, window, sweep)
    stem = re.sub(r"[^A-Za-z0-9]+", "_", Path(data).name if not data.startswith("sample:") else data).strip("_")
    written = []
    for index, view in enumerate(window.views):
        if not window.tabs.isTabEnabled(index):
            continue
        window.show_view(view.title)
        _pump(app, 0.6)
        tab = re.sub(r"[^A-Za-z0-9]+", "_", view.title).strip("_").lower()
        path = out / f"{stem}_{width}x{height}_{tab}.png"
        window.grab().save(str(path))
        written.append(path)
        for suffix, set_up in _extra_states(view):
            set_up()
            _pump(app, 0.6)
            path = out / f"{stem}_{width}x{height}_{tab}_{suffix}.png"
            window.grab().save(str(path))
            written.append(path)
    window.close()
    _pump(app, 0.2)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample:movies")
    parser.add_argument("--models", default="sgd,bpr,svd")
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--out", default="renders")
    parser.add_argument("--sweep", help="also run a sweep in the Sweep tab: METHOD:NAME=V1,V2[;NAME=V1,V2][@PROTOCOL]")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        for path in render(args.data, args.models.split(","), width, height, out, sweep=args.sweep):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
