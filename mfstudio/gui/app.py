"""Start the desktop app: ``mfstudio`` or ``mfstudio FILE...`` (what a double-click sends)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["main", "open_window", "configure_environment", "create_app", "quit_on_interrupt",
           "exit_without_waiting"]

#: How long the end of the event loop waits for worker threads before the process exits anyway.
EXIT_WAIT_SECONDS = 0.5


def configure_environment() -> None:
    """Settings that must be in place before numba or Qt are imported.

    numba caches compiled kernels beside the sources by default, which a
    frozen app or a read-only install cannot write: keep them in the user's
    cache folder so that the second start reuses them.
    """
    if "NUMBA_CACHE_DIR" not in os.environ:
        import platformdirs

        cache = Path(platformdirs.user_cache_dir("mfstudio", appauthor=False)) / "numba"
        cache.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(cache)


def create_app(argv=None):
    """The QApplication with mfstudio's identity and pyqtgraph's global options."""
    from PySide6.QtWidgets import QApplication

    import pyqtgraph as pg

    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("mfstudio")
    app.setOrganizationName("mfstudio")
    # No display name: Qt appends it to every window title, and the main window's
    # title already starts with "mfstudio" ("mfstudio — X — mfstudio").
    # Wayland finds the icon and groups windows through the .desktop file's name.
    app.setDesktopFileName("mfstudio")
    icon = _icon_path()
    if icon is not None:
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="#222")
    collect_garbage_on_the_gui_thread()
    return app


#: The timer that runs Python's cyclic garbage collector on the GUI thread (see below); one per process.
_GUI_THREAD_GC = None


def collect_garbage_on_the_gui_thread(interval_s: float = 0.5):
    """Run Python's cyclic garbage collector only from the GUI thread's event loop, every ``interval_s``.

    Why: the collector runs in whichever thread happens to allocate, and a
    worker (a data load, a fit) can then destroy Qt objects some window left
    in a reference cycle. Qt's destructor takes its connection lock and asks
    shiboken for the GIL while the GUI thread holds the GIL and waits for that
    lock: both threads wait for good. This froze the test suite in
    ``test_lifecycle`` (the loading thread collecting inside
    ``samples.movies``, the GUI thread disconnecting a table view's signals)
    and could freeze the app the same way. pyqtgraph's ``GarbageCollector``
    disables automatic collection and collects from a timer with the same
    generation thresholds. Returns that collector; idempotent.
    """
    global _GUI_THREAD_GC
    if _GUI_THREAD_GC is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GUI_THREAD_GC = GarbageCollector(interval=interval_s)
    return _GUI_THREAD_GC


def _icon_path() -> Path | None:
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources" / "mfstudio.svg", here.parent.parent / "resources" / "mfstudio.svg"):
        if candidate.is_file():
            return candidate
    return None


def open_window(files=(), *, warm_up: bool = True, settings=None):
    """Show the main window on ``files`` (or the movies sample) as a launch does; returns the window.

    The order is what makes the window ready soon after launch: the window
    shows, the data loads on a worker, and once the event loop has painted
    the window, numba's cache is checked on another worker while the data is
    still loading (:meth:`MainWindow.warm_up_kernels`; when kernels must be
    compiled that waits for the load). ``benchmarks/bench_window_ready.py``
    times this same function.

    Parameters
    ----------
    files : sequence of str
        What the user opened the app with; the first is loaded.
    warm_up : bool, default True
        Check numba's cache (and compile what it lacks) after the first paint.
    settings : QSettings, optional
        Where the window keeps its settings (the user's by default).

    Returns
    -------
    MainWindow
    """
    from PySide6.QtCore import QTimer

    from .main_window import MainWindow

    window = MainWindow(settings=settings)
    window.show()
    window.open_path(str(Path(files[0]).expanduser().resolve()) if files else "sample:movies")
    if warm_up:
        QTimer.singleShot(0, window.warm_up_kernels)  # runs once the loop has painted the window
    return window


def main(files=(), *, warm_up: bool = True) -> int:
    """Open the main window on ``files`` (or the built-in movies sample) and run the event loop."""
    configure_environment()
    app = create_app()
    window = open_window(files, warm_up=warm_up)
    keep = quit_on_interrupt(app, window)  # noqa: F841 - the timer lives as long as the loop
    code = app.exec()
    return exit_without_waiting(code)


def quit_on_interrupt(app, window):
    """Ctrl+C in the terminal closes the window; a second one quits without asking.

    Python runs signal handlers only between bytecodes, and the Qt event loop
    is C++: a timer gives the interpreter a moment five times a second.
    Returns that timer (keep a reference). Only the main thread may install
    signal handlers; elsewhere this does nothing and returns None.
    """
    import signal
    import threading

    from PySide6.QtCore import QTimer

    if threading.current_thread() is not threading.main_thread():
        return None
    presses = []

    def interrupted(_signum, _frame):
        presses.append(1)
        if len(presses) == 1:
            QTimer.singleShot(0, window.close)  # asks about unsaved runs, like the close button
        else:
            window._save_settings()
            app.quit()  # also ends a question's own event loop

    signal.signal(signal.SIGINT, interrupted)
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return timer


def exit_without_waiting(code: int) -> int:
    """Return ``code`` when every worker thread has stopped; else end the process now with it.

    A numba kernel runs without the GIL and cannot be interrupted; the
    chunked fits stop within a fraction of a second, but a long call that is
    not chunked (a loader, a stuck kernel) would otherwise either keep the
    process alive after its window is gone or, when Python finalises and
    drops the running QThread, abort with "QThread: Destroyed while thread is
    still running". Settings are saved when the window closes, so nothing is
    lost by ``os._exit`` (standard streams are flushed first).
    """
    from .worker import wait_for_threads

    if wait_for_threads(EXIT_WAIT_SECONDS):
        return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or missing stream must not stop the exit
            pass
    os._exit(code)
