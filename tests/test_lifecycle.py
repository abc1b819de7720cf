"""The window's life: it asks before discarding runs, cancel lands mid-epoch, close and Ctrl+C always end it."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QThread, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from mfstudio.data.dataset import Dataset  # noqa: E402
from mfstudio.gui.main_window import MainWindow  # noqa: E402
from mfstudio.models import MODELS  # noqa: E402

#: The real question, before tests/conftest.py answers it with Discard for every test window.
REAL_QUESTION = MainWindow.ask_unsaved_runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def window(window):
    """The shared window (tests/conftest.py); its runs are forgotten so pytest-qt closes it without a question."""
    yield window
    window._unsaved_runs = {}


def load(qtbot, window, path):
    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        assert window.open_path(str(path)) is not None
    return window.dataset


def finished_run(qtbot, window, name="baseline", **params):
    window.model_panel.select_method(name)
    for key, value in {"n_epochs": 2, **params}.items():
        window.model_panel.set_param(key, value)
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        window.model_panel.run_button.click()
    return blocker.args[0]


def answer_next_question(button_text: str, seen: list):
    """Click ``button_text`` in the next modal message box, recording its text."""

    def click():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        button.click()

    QTimer.singleShot(0, click)


# ------------------------------------------------------------ unsaved runs
def test_opening_data_asks_first_and_cancel_keeps_the_runs(qtbot, window, monkeypatch):
    dataset = load(qtbot, window, "sample:movies")
    run = finished_run(qtbot, window)
    asked = []
    monkeypatch.setattr(window, "ask_unsaved_runs", lambda action: asked.append(action) or "cancel")
    assert window.open_path("sample:toy-5x4") is None
    assert window.reload_as("explicit") is None  # "treat as" reloads, so it asks too
    assert len(asked) == 2 and window.dataset is dataset and window.runs == [run]

    monkeypatch.setattr(window, "ask_unsaved_runs", lambda action: asked.append(action) or "discard")
    load(qtbot, window, "sample:toy-5x4")
    assert len(asked) == 3 and window.runs == [] and window.unsaved_runs() == []
    # Nothing left to lose: the next load does not ask.
    load(qtbot, window, "sample:movies")
    assert len(asked) == 3


def test_the_real_question_offers_save_discard_cancel(qtbot, window, monkeypatch):
    monkeypatch.setattr(MainWindow, "ask_unsaved_runs", REAL_QUESTION)
    load(qtbot, window, "sample:movies")
    finished_run(qtbot, window)
    finished_run(qtbot, window)
    seen = []
    answer_next_question("Cancel", seen)
    assert window.open_path("sample:toy-5x4") is None
    assert seen and seen[0].startswith("2 runs are not saved")
    assert len(window.runs) == 2

    answer_next_question("Discard", seen)
    load(qtbot, window, "sample:toy-5x4")
    assert len(seen) == 2 and window.runs == []


def test_save_in_the_question_writes_the_project_before_going_on(qtbot, window, monkeypatch, tmp_path):
    load(qtbot, window, "sample:movies")
    finished_run(qtbot, window)
    target = tmp_path / "kept.mfproj"
    monkeypatch.setattr(window, "ask_unsaved_runs", lambda action: "save")
    monkeypatch.setattr(window, "ask_project_path", lambda: None)  # the user cancels the file dialog
    assert window.open_path("sample:toy-5x4") is None and len(window.runs) == 1

    monkeypatch.setattr(window, "ask_project_path", lambda: str(target))
    load(qtbot, window, "sample:toy-5x4")
    written = list(tmp_path.glob("kept*"))
    assert written, "the project was not written"
    assert window.runs == []


def test_opening_a_project_and_quitting_ask_too(qtbot, window, monkeypatch, tmp_path):
    load(qtbot, window, "sample:movies")
    finished_run(qtbot, window)
    asked = []
    monkeypatch.setattr(window, "ask_unsaved_runs", lambda action: asked.append(action) or "cancel")
    assert window.open_project_file(str(tmp_path / "other.mfproj")) is None
    assert window.open_path(str(tmp_path / "other.mfproj")) is None  # a drop or a recent project
    window.close()
    assert len(asked) == 3 and window.isVisible() and len(window.runs) == 1


def test_quit_with_the_real_question_discarding(qtbot, window, monkeypatch):
    monkeypatch.setattr(MainWindow, "ask_unsaved_runs", REAL_QUESTION)
    load(qtbot, window, "sample:movies")
    finished_run(qtbot, window)
    seen = []
    answer_next_question("Cancel", seen)
    window.close()
    assert window.isVisible()
    answer_next_question("Discard", seen)
    window.close()
    assert len(seen) == 2 and "quit" in seen[0] and not window.isVisible()


# ------------------------------------------------------------ cancel mid-epoch
def _big_ratings(n_users=20_000, n_items=5_000, nnz=1_500_000, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n_users, nnz).astype(np.int32)
    cols = rng.integers(0, n_items, nnz).astype(np.int32)
    values = rng.integers(1, 6, nnz).astype(np.float32)
    return Dataset("explicit", rows, cols, values, np.arange(n_users), np.arange(n_items), name="big")


@pytest.mark.parametrize(("name", "n_factors"), [("sgd", 400), ("svdpp", 300), ("als", 150)])
def test_a_cancel_lands_within_250_ms_of_a_long_epoch(name, n_factors):
    """Epochs of several seconds; the flag set mid-epoch ends the fit within 250 ms."""
    from mfstudio.models.stopping import stop_when

    if name not in MODELS:
        pytest.skip(f"no {name} model")
    train = _big_ratings()
    # Compile (or load) the kernels on a small fit first: compilation is not the epoch.
    MODELS[name](n_factors=4, n_epochs=1).fit(_big_ratings(200, 100, 2_000))
    model = MODELS[name](n_factors=n_factors, n_epochs=50)
    stop = threading.Event()
    epochs, ended = [], []

    def fit():
        with stop_when(stop):
            for step in model.iter_fit(train):
                epochs.append(step)
        ended.append(time.perf_counter())

    thread = threading.Thread(target=fit)
    thread.start()
    time.sleep(1.5)
    stop.set()
    asked = time.perf_counter()
    thread.join(30)
    assert ended, "the fit did not stop"
    print(f"{name}: stopped {1000 * (ended[0] - asked):.0f} ms after the cancel, {len(epochs)} epochs done")
    assert ended[0] - asked < 0.25, f"{name}: stopped {ended[0] - asked:.3f} s after the cancel"
    assert len(epochs) < 50
    assert np.isfinite(model.user_factors_).all()


@pytest.mark.parametrize(("name", "module"), [("als", "als"), ("implicit-als", "als")])
def test_chunking_an_epoch_does_not_change_the_fit(name, module, monkeypatch):
    """Chunk sizes follow the clock; the result must not (same seed, same factors)."""
    import importlib

    from mfstudio.models import stopping

    if name not in MODELS:
        pytest.skip(f"no {name} model")
    train = _big_ratings(3_000, 800, 120_000, seed=3)
    whole = MODELS[name](n_factors=8, n_epochs=2).fit(train)
    target = importlib.import_module(f"mfstudio.models.{module}")
    calls = []

    def tiny_chunks(n, first, target_seconds=None, memory=None):
        for lo in range(0, n, 3):
            calls.append(1)
            yield lo, min(n, lo + 3)

    monkeypatch.setattr(target, "work_chunks", tiny_chunks)
    chunked = MODELS[name](n_factors=8, n_epochs=2).fit(train)
    assert len(calls) > 10
    np.testing.assert_array_equal(chunked.user_factors_, whole.user_factors_)
    np.testing.assert_array_equal(chunked.item_factors_, whole.item_factors_)
    assert stopping.stop_requested() is False


def test_chunks_adapt_to_the_time_each_takes_and_cover_the_pass():
    from mfstudio.models.stopping import work_chunks

    blocks = []
    for lo, hi in work_chunks(10_000, first=100, target_seconds=0.002):
        blocks.append((lo, hi))
        time.sleep(0.0005 * (hi - lo) / 100)  # 0.5 ms per 100 items: the right size is ~400
    assert blocks[0] == (0, 100) and blocks[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    sizes = [hi - lo for lo, hi in blocks[2:-1]]
    # Sleeps overshoot on a busy machine: the median, not every block, is near 400.
    assert sizes and 200 <= float(np.median(sizes)) <= 800, sizes


def test_without_a_flag_nothing_stops_and_other_threads_are_unaffected():
    from mfstudio.models.stopping import stop_requested, stop_when

    stop = threading.Event()
    stop.set()
    seen = []
    with stop_when(stop):
        other = threading.Thread(target=lambda: seen.append(stop_requested()))
        other.start()
        other.join()
        assert stop_requested()
    assert seen == [False] and not stop_requested()


# ------------------------------------------------------------ many cycles
def _rss_after_trim() -> int:
    """Resident memory after glibc hands freed heap pages back (where it can).

    glibc keeps freed arrays of a few hundred KiB in its heap (its mmap
    threshold rises as large blocks are freed), so a cleared run's memory
    stays in RSS though nothing references it: trimming first makes the
    figure count what is really kept.
    """
    import ctypes
    import ctypes.util

    import psutil

    gc.collect()
    name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and name:
        try:
            ctypes.CDLL(name).malloc_trim(0)
        except (OSError, AttributeError):  # musl has no malloc_trim
            pass
    return psutil.Process().memory_info().rss


def _thread_objects() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, QThread))


def test_start_cancel_cycles_leak_no_threads_and_little_memory(qtbot, window):
    from PySide6.QtCore import QObject

    load(qtbot, window, "sample:movies")
    name = "sgd" if "sgd" in MODELS else "baseline"
    window.model_panel.select_method(name)
    window.model_panel.set_param("n_epochs", 5000)

    def cycle():
        with qtbot.waitSignal(window.fit_finished, timeout=60_000):
            window.model_panel.run_button.click()
            window.cancel_fit()

    def clear_runs():
        window._unsaved_runs = {}
        window.set_dataset(window.dataset)
        gc.collect()

    for _ in range(10):  # kernels compiled, caches and pools filled
        cycle()
    clear_runs()
    qtbot.wait(200)
    threads_before, qthreads_before = threading.active_count(), _thread_objects()
    children_before = len(window.findChildren(QObject))
    rss_before = _rss_after_trim()
    cycles = 100
    for _ in range(cycles):
        cycle()
    clear_runs()
    qtbot.wait(200)
    growth = (_rss_after_trim() - rss_before) / cycles
    print(f"RSS growth per start/cancel cycle: {growth / 1024:.1f} KiB; threads {threads_before} -> "
          f"{threading.active_count()}, QThread objects {qthreads_before} -> {_thread_objects()}")
    assert threading.active_count() <= threads_before
    assert len(window.findChildren(QObject)) <= children_before
    assert _thread_objects() <= qthreads_before + 1  # the last finished thread is forgotten lazily
    assert growth < 1_000_000


# ------------------------------------------------------------ close and Ctrl+C (whole processes)
_DRIVER = textwrap.dedent(
    """
    import os, sys, threading, time
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import mfstudio.kernels.sgd as sgd_kernels
    from mfstudio.gui import app as gui_app

    MODE = sys.argv[1]
    entered = threading.Event()

    def stuck(*args, **kwargs):  # a 100-second epoch that never looks at the flag
        entered.set()
        time.sleep(100)
        return 0.0

    sgd_kernels.sgd_epoch = stuck

    def window():
        found = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow"]
        return found[0] if found and found[0].dataset is not None else None

    def later(ms, function):
        QTimer.singleShot(ms, function)

    def drive():
        win = window()
        if win is None:
            later(50, drive)
            return
        if MODE == "interrupt":
            print("READY", flush=True)
            return
        win.model_panel.select_method("sgd")
        win.model_panel.run_button.click()

        def close_in_kernel():
            if not entered.is_set():
                later(20, close_in_kernel)
                return
            started = time.perf_counter()
            win.close()
            print("CLOSE", time.perf_counter() - started, win.isVisible(), flush=True)

        close_in_kernel()

    gui_app.create_app()
    later(0, drive)
    code = gui_app.main(warm_up=False)
    print("LOOP ENDED", code, flush=True)
    sys.exit(code)
    """
)


def _start(tmp_path, mode):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.Popen([sys.executable, "-c", _DRIVER, mode], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _settings_file(tmp_path) -> Path:
    return tmp_path / "config" / "mfstudio" / "mfstudio.conf"


def test_closing_during_a_100_second_epoch_hides_at_once_and_exits_0(tmp_path):
    process = _start(tmp_path, "close")
    try:
        out, err = process.communicate(timeout=90)
    finally:
        process.kill()
    assert process.returncode == 0, err[-2000:]
    close_line = next(line for line in out.splitlines() if line.startswith("CLOSE"))
    _, seconds, visible = close_line.split()
    assert float(seconds) < 1.0 and visible == "False"
    assert "Destroyed while thread" not in err
    assert "geometry" in _settings_file(tmp_path).read_text()


def test_ctrl_c_in_the_terminal_quits_cleanly(tmp_path):
    process = _start(tmp_path, "interrupt")
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "READY" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        assert "READY" in line
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "KeyboardInterrupt" not in err
    assert "geometry" in _settings_file(tmp_path).read_text()
