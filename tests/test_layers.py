"""The numerical core imports without Qt (DESIGN.md, layer rule)."""

import subprocess
import sys


def test_core_modules_do_not_import_qt():
    code = (
        "import sys, mfstudio.data, mfstudio.metrics, mfstudio.models, mfstudio.kernels, mfstudio.cli;"
        "mfstudio.data.load_sample('movies');"
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken6')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_qt_is_installed_so_the_check_above_means_something():
    import importlib.util

    assert importlib.util.find_spec("PySide6") is not None
