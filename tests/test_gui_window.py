"""The real window, driven as a user would: drop, run, watch, cancel, close."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QThread, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from mfstudio.models import MODELS  # noqa: E402


def load(qtbot, window, path):
    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        window.open_path(str(path))
    return window.dataset


def fit(qtbot, window, name, timeout=120_000, **params):
    panel = window.model_panel
    panel.select_method(name)
    for key, value in params.items():
        panel.set_param(key, value)
    with qtbot.waitSignal(window.fit_finished, timeout=timeout) as blocker:
        panel.run_button.click()
    return blocker.args[0]


def drop(window, path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    return True


def test_sample_loads_through_the_open_path_and_titles_the_window(qtbot, window):
    ds = load(qtbot, window, "sample:movies")
    assert ds.n_users == 1000
    assert window.windowTitle() == "mfstudio — Movies (sample)"
    assert window.data_panel.table_model.rowCount() == ds.nnz


def test_drop_of_a_ratings_file_loads_it_and_unsupported_drops_are_refused(qtbot, window, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n1,10,5\n1,11,3\n2,10,4\n")
    with qtbot.waitSignal(window.dataset_loaded, timeout=30_000):
        assert drop(window, path)
    assert window.dataset.nnz == 3 and window.dataset.source == str(path)
    assert str(path) in window.recent_files()
    binary = tmp_path / "movie.mp4"
    binary.write_bytes(b"\x00\x01")
    assert not drop(window, binary)


def test_fit_draws_one_point_per_epoch_and_fills_the_history(qtbot, window):
    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "baseline", n_epochs=6)
    assert run.status == "finished" and len(run.history) == 6
    assert window.training.curve_points(run) == 6
    assert run.metrics["rmse"] < 1.0 and "rmse" in run.baseline_metrics
    assert window.training.table.rowCount() == 1


def test_malformed_file_shows_one_sentence_and_keeps_the_data(qtbot, window, tmp_path):
    before = load(qtbot, window, "sample:toy-5x4")
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n4,5,abc\n")
    task = window.open_path(str(bad))
    qtbot.waitUntil(lambda: window._last_error is not None, timeout=30_000)
    task.wait()
    message, _ = window._last_error
    assert message == "bad.csv, line 3: column 'rating' holds 'abc', which is not a number; correct the value or delete the line."
    assert window.dataset is before
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and boxes[0].text() == message


def test_diverging_fit_reports_why_and_keeps_running(qtbot, window):
    if "sgd" not in MODELS:
        pytest.skip("needs the SGD model")
    load(qtbot, window, "sample:movies")
    panel = window.model_panel
    panel.select_method("sgd")
    panel.set_param("lr", 50.0)
    with qtbot.waitSignal(window.fit_failed, timeout=120_000) as blocker:
        panel.run_button.click()
    assert "learning rate" in blocker.args[0] and "lr" in blocker.args[0]
    assert window.worker is None and panel.run_button.isEnabled()


def _slow_model_name():
    for name in ("sgd", "als", "bpmf"):
        if name in MODELS:
            return name
    return "baseline"


def test_cancel_mid_fit_keeps_the_last_good_state(qtbot, window):
    load(qtbot, window, "sample:movies")
    name = _slow_model_name()
    panel = window.model_panel
    panel.select_method(name)
    panel.set_param("n_epochs", 100_000 if name == "baseline" else 5000)
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        panel.run_button.click()
        qtbot.waitUntil(lambda: window.current_run is not None and len(window.current_run.history) >= 3, timeout=60_000)
        window.cancel_fit()
    run = blocker.args[0]
    assert run.status == "cancelled" and 3 <= len(run.history) < 5000
    assert window.training.curve_points(run) == len(run.history)
    assert np.isfinite(run.model.predict([0, 1], [0, 1])).all()


def test_closing_during_a_fit_stops_the_worker(qtbot, window):
    load(qtbot, window, "sample:movies")
    name = _slow_model_name()
    window.model_panel.select_method(name)
    window.model_panel.set_param("n_epochs", 100_000 if name == "baseline" else 5000)
    window.model_panel.run_button.click()
    qtbot.waitUntil(lambda: window.current_run is not None and len(window.current_run.history) >= 1, timeout=60_000)
    thread: QThread = window.worker.thread
    window.close()
    assert window.worker is None
    assert thread.isFinished() and not thread.isRunning()


def test_fit_computes_off_the_gui_thread_and_delivers_steps_in_batches(qtbot, window, monkeypatch):
    """The structure that keeps the window live; the stall itself is measured in
    benchmarks/bench_gui_stall.py (timing stays out of the test suite)."""
    import threading

    load(qtbot, window, "sample:movies")
    cls = MODELS["baseline"]
    threads = set()
    original = cls._fit_steps

    def recording(self, train):
        for item in original(self, train):
            threads.add(threading.get_ident())
            yield item

    monkeypatch.setattr(cls, "_fit_steps", recording)
    deliveries = []
    window.model_panel.select_method("baseline")
    window.model_panel.set_param("n_epochs", 3000)
    started = time.perf_counter()
    with qtbot.waitSignal(window.fit_finished, timeout=300_000) as blocker:
        window.model_panel.run_button.click()
        window.worker.steps.connect(lambda steps: deliveries.append(len(steps)))
    elapsed = time.perf_counter() - started
    run = blocker.args[0]
    assert run.status == "finished" and len(run.history) == 3000
    assert threads and threading.get_ident() not in threads
    # Epochs arrive in batches, at most ~30 deliveries per second of fitting
    # however fast the epochs are, not one signal each.
    assert sum(deliveries) <= 3000 and len(deliveries) <= 30 * elapsed + 2, (len(deliveries), elapsed)


def test_event_loop_keeps_beating_during_a_fit(qtbot, window, capsys):
    """A 10 ms heartbeat on the GUI thread while a fit runs.

    The issue's bar is no stall over 200 ms; on a shared two-core CI machine the
    worst beat sits at 100-190 ms, too close to assert without flaky failures, so
    this test asserts what no machine load explains away (the loop keeps
    beating and never freezes for a second), prints the real median and
    maximum, and benchmarks/bench_gui_stall.py reports them per model.
    """
    from PySide6.QtCore import QTimer

    load(qtbot, window, "sample:movies")
    window.warm_up_kernels()  # as at launch: numba's one-time setup belongs to start-up
    qtbot.waitUntil(lambda: window.kernels_ready, timeout=600_000)
    gaps, last = [], [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(beat)
    timer.start()
    run = fit(qtbot, window, "sgd", n_epochs=80)
    timer.stop()
    assert run.status == "finished"
    beats = np.array(gaps[1:]) * 1000
    with capsys.disabled():
        print(f"\n[heartbeat] sgd, 80 epochs: {beats.size} beats, median {np.median(beats):.0f} ms, "
              f"worst {beats.max():.0f} ms")
    # Computing on the GUI thread would leave no beats at all during the fit.
    assert beats.size >= 5 and beats.max() < 1000


def test_a_session_walks_through_load_fit_every_tab_save_and_reopen(qtbot, window, tmp_path):
    """What a user does in a first session, end to end, on the experiment layer's numbers."""
    load(qtbot, window, "sample:movies")
    assert window.model_panel.split_spec() == "random:0.2"  # chosen for ratings, and said so
    assert window.model_panel.protocol_text.text().startswith("Chosen for this data")
    sgd = fit(qtbot, window, "sgd", n_epochs=4)
    bpr = fit(qtbot, window, "bpr", n_epochs=3)
    # both families on both runs, so the metrics table compares them on one footing
    for run in (sgd, bpr):
        assert {"precision@10", "ndcg@10", "auc", "coverage@10"} <= set(run.metrics)
    assert "rmse" in sgd.metrics and "rmse" not in bpr.metrics
    assert sgd.protocol == bpr.protocol and sgd.reference_name == "baseline (mean + biases)"
    shown = []
    for index, view in enumerate(window.views):
        if window.tabs.isTabEnabled(index):
            window.show_view(view.title)
            qtbot.wait(20)
            shown.append(view.title)
    assert {"Training", "Recommendations", "Factor space", "Matrix", "Metrics"} <= set(shown)
    metrics = window.metrics_view
    assert metrics.cell(metrics.row_of(bpr), "auc") == f"{bpr.metrics['auc']:.4f}"

    target = tmp_path / "session.mfproj"
    assert window.save_project_file(str(target)) == target
    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        window.open_project_file(str(target))
    names = [run.name for run in window.runs]
    assert names == [sgd.name, bpr.name]
    reopened = window.runs[1]
    assert reopened.metrics["auc"] == pytest.approx(bpr.metrics["auc"])
    assert reopened.protocol == bpr.protocol
    # the reopened BPR still never recommends what the user rated, whatever the rating
    model = reopened.model
    user = int(np.argmax(model.train_.row_counts()))
    items, _ = model.recommend([user], n=20)
    rated = set(model.train_.cols[model.train_.rows == user].tolist())
    assert not rated & set(items[0].tolist())


def test_on_a_warm_cache_the_window_is_ready_at_once_and_says_nothing_of_a_first_run(qtbot, window, monkeypatch):
    import mfstudio.warmup as warmup

    monkeypatch.setattr(warmup, "kernels_missing_from_cache", lambda: [])
    compiled = []
    monkeypatch.setattr(warmup, "warm_up", lambda *a, **k: compiled.append(1) or {"seconds": 0, "compiled": 0})
    window.warm_up_kernels()
    qtbot.waitUntil(lambda: window.kernels_ready, timeout=30_000)
    assert compiled == []  # nothing is prepared in advance: each kernel loads from the cache on first use
    assert window.model_panel.run_button.isEnabled()
    assert "first run" not in window.status_text.text() and "Ready" in window.status_text.text()


def test_with_kernels_missing_from_the_cache_the_status_says_first_run_and_run_waits(qtbot, window, monkeypatch):
    import threading

    import mfstudio.warmup as warmup

    release = threading.Event()

    def slow_warm_up(progress=None, first=None, lock=None, extras=True):
        release.wait(10)
        return {"seconds": 0.1, "compiled": 3, "from_cache": 0}

    monkeypatch.setattr(warmup, "kernels_missing_from_cache", lambda: ["sgd.sgd_epoch", "als.solve", "nmf.hals"])
    monkeypatch.setattr(warmup, "warm_up", slow_warm_up)
    window.warm_up_kernels()
    qtbot.waitUntil(lambda: "first run only" in window.status_text.text(), timeout=30_000)
    assert "3 to compile" in window.status_text.text()
    assert not window.model_panel.run_button.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: window.kernels_ready, timeout=30_000)
    assert window.model_panel.run_button.isEnabled() and "compiled 3" in window.status_text.text()


def test_a_remembered_complete_cache_makes_the_window_ready_before_numba_is_asked(qtbot, window, monkeypatch):
    import threading

    import mfstudio.gui.main_window as main_window
    import mfstudio.warmup as warmup

    release, asked = threading.Event(), []

    def slow_check():
        asked.append(1)
        release.wait(10)
        return []

    monkeypatch.setattr(warmup, "kernel_cache_stamp", lambda: "same")
    monkeypatch.setattr(warmup, "kernels_missing_from_cache", slow_check)
    window.settings.setValue(main_window.KERNEL_STAMP_KEY, "same")
    window.warm_up_kernels()
    assert window.kernels_ready and window.model_panel.run_button.isEnabled()  # at once
    qtbot.waitUntil(lambda: asked == [1], timeout=30_000)  # the check still runs (no data loading here)
    release.set()
    qtbot.waitUntil(lambda: not any(t.thread.isRunning() for t in window.tasks), timeout=30_000)
    assert window.kernels_ready and "first run" not in window.status_text.text()


def test_the_cache_check_holds_the_fit_lock(qtbot, window, monkeypatch):
    # It imports numba; a fit importing it on another thread at the same time broke both imports.
    import mfstudio.warmup as warmup
    from mfstudio.gui.worker import ONE_FIT_AT_A_TIME

    held = []
    monkeypatch.setattr(warmup, "kernels_missing_from_cache", lambda: held.append(ONE_FIT_AT_A_TIME.locked()) or [])
    window.warm_up_kernels()
    qtbot.waitUntil(lambda: window.kernels_ready, timeout=30_000)
    assert held == [True]


def test_a_remembered_stamp_the_check_contradicts_falls_back_to_preparing(qtbot, window, monkeypatch):
    import threading

    import mfstudio.gui.main_window as main_window
    import mfstudio.warmup as warmup

    release = threading.Event()

    def slow_warm_up(progress=None, first=None, lock=None, extras=True):
        release.wait(10)
        return {"seconds": 0.1, "compiled": 1, "from_cache": 0}

    monkeypatch.setattr(warmup, "kernel_cache_stamp", lambda: "same")
    monkeypatch.setattr(warmup, "kernels_missing_from_cache", lambda: ["sgd.sgd_epoch"])
    monkeypatch.setattr(warmup, "warm_up", slow_warm_up)
    window.settings.setValue(main_window.KERNEL_STAMP_KEY, "same")
    window.warm_up_kernels()
    assert window.kernels_ready
    qtbot.waitUntil(lambda: "first run only" in window.status_text.text(), timeout=30_000)
    assert not window.kernels_ready and not window.model_panel.run_button.isEnabled()
    assert window.settings.value(main_window.KERNEL_STAMP_KEY) is None
    release.set()
    qtbot.waitUntil(lambda: window.kernels_ready, timeout=30_000)
    assert window.settings.value(main_window.KERNEL_STAMP_KEY) == "same"  # compiled: remembered again


def test_a_check_that_finds_every_kernel_remembers_the_stamp_and_a_change_forgets_it(qtbot, window, monkeypatch,
                                                                                     tmp_path):
    import mfstudio.gui.main_window as main_window
    import mfstudio.warmup as warmup

    monkeypatch.setattr(warmup, "kernels_missing_from_cache", lambda: [])
    monkeypatch.setattr(warmup, "kernel_cache_stamp", lambda: "first")
    window.warm_up_kernels()
    assert not window.kernels_ready  # nothing remembered yet: the check decides
    qtbot.waitUntil(lambda: window.kernels_ready, timeout=30_000)
    assert window.settings.value(main_window.KERNEL_STAMP_KEY) == "first"
    # The real stamp follows the cache: a new index file in numba's cache folder changes it.
    monkeypatch.undo()
    cache = tmp_path / "numba-cache"
    (cache / "kernels_x").mkdir(parents=True)
    (cache / "kernels_x" / "sgd.sgd_epoch-1.py311.nbi").write_bytes(b"index")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    before = warmup.kernel_cache_stamp()
    assert before is not None and before == warmup.kernel_cache_stamp()
    (cache / "kernels_x" / "als.solve-9.py311.nbi").write_bytes(b"index")
    assert warmup.kernel_cache_stamp() != before
    (cache / "kernels_x" / "als.solve-9.py311.nbi").unlink()
    (cache / "kernels_x" / "sgd.sgd_epoch-1.py311.nbi").unlink()
    assert warmup.kernel_cache_stamp() is None  # a wiped cache is never taken as complete


def test_progress_without_epochs_drives_the_bar_and_the_status_line(window):
    # What a Spark fit reports while it runs (mfstudio.spark.progress through FitWorker.progress).
    window._on_engine_progress(3, 8, "Spark: stage 1, 3 of 8 tasks")
    assert (window.progress.value(), window.progress.maximum()) == (3, 8)
    assert window.status_text.text() == "Spark: stage 1, 3 of 8 tasks" and window.epoch_text.text() == ""
