"""Entry point of the frozen (PyInstaller) app, careful about what a bundle lacks.

A windowed bundle has no console: ``sys.stdout`` and ``sys.stderr`` are
None, so anything that prints would crash it; they go to a log file
instead. numba must cache its kernels in the user's cache folder (the bundle
folder may be read-only), set before numba is imported. And a crash before
the window exists would otherwise vanish without a word: it is written to
the log and shown in a native dialog that says where the log is.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import traceback
from pathlib import Path

__all__ = ["launch", "log_path"]


def log_path() -> Path:
    """``mfstudio.log`` in the user's log folder (created if needed)."""
    try:
        import platformdirs

        folder = Path(platformdirs.user_log_dir("mfstudio", appauthor=False))
    except Exception:  # platformdirs missing from a broken bundle: still log somewhere
        folder = Path.home() / ".mfstudio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "mfstudio.log"


def _show_crash_dialog(message: str) -> None:
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox

        app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841
        QMessageBox.critical(None, "mfstudio could not start", message)
    except Exception:
        if sys.stderr is not None:
            print(message, file=sys.stderr)


def launch(argv=None) -> int:
    """Run mfstudio as the bundle's executable does; returns the exit status."""
    import multiprocessing

    multiprocessing.freeze_support()  # a sweep's spawned worker re-runs this executable: run the worker, exit
    log = log_path()
    log_file = open(log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the process
    if sys.stdout is None:
        sys.stdout = log_file
    if sys.stderr is None:
        sys.stderr = log_file
    faulthandler.enable(log_file)  # hard crashes (segfaults) leave a trace too
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from .gui.app import configure_environment

        configure_environment()
        from .cli import main

        return main(argv)
    except SystemExit:
        raise
    except BaseException:
        details = traceback.format_exc()
        log_file.write(details)
        log_file.flush()
        first = details.strip().splitlines()[-1]
        message = f"mfstudio stopped before its window opened:\n\n{first}\n\nThe details are in {log}"
        if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            _show_crash_dialog(message)
        elif sys.stderr is not None:
            print(message, file=sys.stderr)
        return 1
