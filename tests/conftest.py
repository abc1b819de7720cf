"""Shared test setup: offscreen Qt, an isolated user data folder, helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything can import Qt: the suite runs on machines with no screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"

needs_ml100k = pytest.mark.skipif(not (ML100K / "u.data").is_file(), reason="../shared/data/ml-100k is not on this machine")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep downloads and caches out of the real user folders."""
    monkeypatch.setenv("MFSTUDIO_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))


@pytest.fixture
def write(tmp_path):
    """write(name, text_or_bytes, encoding="utf-8") -> Path in a fresh folder."""

    def _write(name: str, content, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return _write


@pytest.fixture(autouse=True)
def _test_windows_discard_their_runs(monkeypatch):
    """A test's window is thrown away at its end (pytest-qt closes it): answer
    the "runs are not saved" question with Discard instead of blocking on a
    modal box nobody sees. tests/test_lifecycle.py answers the real box itself."""
    import sys

    if "PySide6" in sys.modules:
        try:
            from mfstudio.gui.main_window import MainWindow
        except ImportError:
            MainWindow = None
        if MainWindow is not None and hasattr(MainWindow, "ask_unsaved_runs"):
            monkeypatch.setattr(MainWindow, "ask_unsaved_runs", lambda self, action: "discard")
    yield


@pytest.fixture
def window_factory(qtbot, tmp_path):
    """``window_factory(name)``: a real main window, shown, with its settings in ``tmp_path/name``.

    Fits still running at the end are cancelled.
    """
    from PySide6.QtCore import QSettings

    from mfstudio.gui.app import create_app
    from mfstudio.gui.main_window import MainWindow

    made = []

    def make(name: str = "settings.ini"):
        create_app()
        win = MainWindow(settings=QSettings(str(tmp_path / name), QSettings.Format.IniFormat))
        qtbot.addWidget(win)
        win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        if win.worker is not None:
            win.cancel_fit(wait=True)


@pytest.fixture
def window(window_factory):
    """The real main window, shown, with its settings in a temporary file; a running fit is cancelled at the end."""
    return window_factory("settings.ini")
