"""Start the desktop app: ``mfstudio`` or ``mfstudio FILE...`` (what a double-click sends)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["main", "configure_environment", "create_app"]


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
    app.setApplicationDisplayName("mfstudio")
    # Wayland finds the icon and groups windows through the .desktop file's name.
    app.setDesktopFileName("mfstudio")
    icon = _icon_path()
    if icon is not None:
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="#222")
    return app


def _icon_path() -> Path | None:
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources" / "mfstudio.svg", here.parent.parent / "resources" / "mfstudio.svg"):
        if candidate.is_file():
            return candidate
    return None


def main(files=(), *, warm_up: bool = True) -> int:
    """Open the main window on ``files`` (or the built-in movies sample) and run the event loop."""
    configure_environment()
    app = create_app()
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    task = window.open_path(str(Path(files[0]).expanduser().resolve()) if files else "sample:movies")
    if warm_up:
        # After the first load: compiling holds the GIL for long stretches and
        # made the sample take 6 s to appear instead of half a second.
        started = []

        def warm(*_):
            if not started:
                started.append(True)
                window.warm_up_kernels()

        if task is None:
            warm()
        else:
            task.done.connect(warm)
            task.failed.connect(warm)
    return app.exec()
