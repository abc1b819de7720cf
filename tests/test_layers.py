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


def test_import_contracts_of_pyproject_hold():
    """The layers of DESIGN.md, as import-linter contracts in pyproject.toml (``lint-imports``).

    Covers what the subprocess check above cannot: lazy imports inside
    functions, indirect chains, and every arrow between the layers (kernels
    import no other layer; warm-up, which imports the models, sits above them).
    """
    import shutil
    from pathlib import Path

    import pytest

    pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e .[test]")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([exe, str(root / "pyproject.toml"), "--no-cache"], capture_output=True,
                          text=True, cwd=root)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "broken" in proc.stdout and " 0 broken" in proc.stdout
