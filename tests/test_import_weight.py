"""What the window and the core leave unimported until data arrives (issue 13: the window's start-up).

scipy.sparse costs ~0.3 s to import (most of it numpy.testing and numpy.f2py, pulled in by scipy's
array-API layer); scikit-learn more. Neither is needed to show the window or to import the models, so
both are imported where a matrix is built or a vectorizer runs. Each check runs in a fresh interpreter:
in the test process something else has long imported them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: urllib.request (http, email, ssl: ~55 ms) is only needed to download MovieLens.
HEAVY = ("scipy.sparse", "sklearn", "urllib.request")


def run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def heavy_left(code: str) -> list[str]:
    proc = run(code + f"\nimport sys\nprint('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    line = [row for row in proc.stdout.splitlines() if row.startswith("LOADED")][-1]
    return eval(line[len("LOADED "):])


def test_the_core_imports_without_scipy_sparse_or_sklearn():
    assert heavy_left("import mfstudio.data, mfstudio.metrics, mfstudio.models, mfstudio.inspect, "
                      "mfstudio.experiment, mfstudio.warmup") == []


def test_a_built_and_shown_window_has_not_imported_scipy_sparse_before_data_arrives():
    pytest.importorskip("PySide6")
    code = """
import os, tempfile, time
import mfstudio.gui.main_window as main_window
from mfstudio.gui.app import create_app
from PySide6.QtCore import QSettings
app = create_app()
settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
window = main_window.MainWindow(settings=settings)
window.show()
end = time.monotonic() + 1.0
while time.monotonic() < end:
    app.processEvents()
    time.sleep(0.01)
window.close()
"""
    assert heavy_left(code) == []


def test_the_kernel_cache_stamp_is_read_without_numba_qt_or_scipy(tmp_path):
    """The window asks it before anything imports numba: being ready at once depends on that."""
    cache = tmp_path / "numba-cache" / "kernels"
    cache.mkdir(parents=True)
    (cache / "sgd.sgd_epoch-1.py311.nbi").write_bytes(b"index")
    code = f"""
import os, sys
os.environ["NUMBA_CACHE_DIR"] = {str(tmp_path / "numba-cache")!r}
from mfstudio.warmup import kernel_cache_stamp
stamp = kernel_cache_stamp()
assert stamp is not None and len(stamp) == 40, stamp
print("HEAVY", sorted(m for m in ("numba", "PySide6", "scipy.sparse") if m in sys.modules))
"""
    proc = run(code)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "HEAVY []" in proc.stdout


def test_what_builds_a_matrix_still_imports_scipy_sparse_itself():
    """The local imports work: a fresh process builds CSR matrices and scores sparse relevance."""
    code = """
import sys
import numpy as np
from mfstudio.data.dataset import Dataset
from mfstudio.data.features import features_from_lists
from mfstudio.metrics import precision_at_k
assert "scipy.sparse" not in sys.modules
ds = Dataset(kind="explicit", rows=np.array([0, 1, 1]), cols=np.array([1, 0, 1]), values=np.array([5.0, 3.0, 4.0]),
             row_ids=np.arange(2), col_ids=np.arange(2), rating_scale=(1, 5), name="toy")
assert ds.to_csr().toarray().tolist() == [[0, 5], [3, 4]]
features = features_from_lists([["a"], ["a", "b"], []])
assert features.matrix.format == "csr" and features.matrix.shape == (3, 2)
import scipy.sparse as sp
relevant = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]]))
print("P", precision_at_k(np.array([[0, 1], [1, 2]]), relevant, 2))
"""
    proc = run(code)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "P 0.5" in proc.stdout
