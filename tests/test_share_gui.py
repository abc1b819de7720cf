"""Sharing from the window: a run as Python, an HTML report, a pasted tutorial matrix (issue 15)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.test_layout import fit, load  # noqa: E402


def test_copy_run_as_python_reruns_to_the_same_rmse(qtbot, window, tmp_path):
    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "sgd", n_factors=5, n_epochs=3)
    text = window.copy_run_as_python()
    assert QApplication.clipboard().text() == text
    script = tmp_path / "run.py"
    script.write_text(text)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    printed = dict(line.split()[:2] for line in out.stdout.splitlines() if line.startswith("rmse "))
    assert float(printed["rmse"]) == pytest.approx(run.metrics["rmse"], abs=1e-4)


def test_export_report_writes_one_html_with_every_run(qtbot, window, tmp_path):
    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "sgd", n_factors=5, n_epochs=3)
    fit(qtbot, window, "als", n_factors=5, n_epochs=2)
    path = window.export_report(str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    assert path and "Biased SGD" in html and "ALS" in html and "<img" in html
    # A file the app did not write is never replaced.
    other = tmp_path / "notes.html"
    other.write_text("mine")
    assert window.export_report(str(other)) is None and other.read_text() == "mine"


def test_a_pasted_tutorial_matrix_loads_with_zero_as_unknown_and_gd_fills_it_in(qtbot, window):
    dataset = window.paste_matrix("5 3 0 1\n4 0 0 1\n1 1 0 5\n1 0 0 4\n0 1 5 4", zero_is_unknown=True)
    assert dataset.kind == "explicit" and dataset.nnz == 13 and window.dataset is dataset
    assert "0 = unknown" in window.status_text.text()
    np.testing.assert_array_equal(dataset.truth["matrix"][0], [5, 3, 0, 1])
    bad = window.paste_matrix("5 3 x 1", zero_is_unknown=True)
    assert bad is None and window.dataset is dataset  # one sentence, and the data the user had stays
