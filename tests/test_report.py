"""A report: one self-contained HTML file that renders in headless Chromium with every image present."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.errors import DataError
from mfstudio.data.samples import movies
from mfstudio.experiment import Experiment
from mfstudio.project import Run
from mfstudio.report import REPORT_MARKER, png_bytes, report_html, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                              "(apt-get install -y chromium)")


@pytest.fixture(scope="module")
def session():
    data = movies(n_users=150, n_items=200, seed=1)
    runs = []
    for name, params in (("sgd", {"n_epochs": 4, "n_factors": 6}), ("als", {"n_epochs": 4, "n_factors": 6}),
                         ("svd", {"n_factors": 6})):
        exp = Experiment(data, name, params, seed=0).run()
        runs.append(Run(name=f"{name} #1", model=exp.model, metrics=exp.metrics, protocol=exp.protocol_line,
                        experiment=exp, status="finished"))
    return data, runs


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def _chromium(*args, timeout=120):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=timeout)


@needs_chromium
def test_report_of_three_runs_renders_with_every_image(session, tmp_path):
    data, runs = session
    path = write_report(tmp_path / "report.html", data, runs)
    text = path.read_text()
    # Self-contained: nothing is fetched from elsewhere.
    assert text.startswith(REPORT_MARKER) and 'src="http' not in text and "<link" not in text
    images = _images(text)
    # data summary + (loss, metrics) per run + the SVD spectrum
    assert len(images) == 1 + 2 * 3 + 1
    assert all(png.startswith(b"\x89PNG") for png in images)
    for run in runs:
        assert run.name in text
    assert "rmse" in text and "Recommendations" in text
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", path.as_uri()).stdout
    declared = int(re.search(r'data-images="(\d+)"', dom).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    assert declared == loaded == len(images) == dom.count("<img ")
    shot = tmp_path / "report.png"
    _chromium("--window-size=1200,2400", f"--screenshot={shot}", path.as_uri())
    assert shot.stat().st_size > 20_000  # a page of text and plots, not a blank one


def test_report_never_replaces_a_file_it_did_not_write(session, tmp_path):
    data, runs = session
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    with pytest.raises(DataError, match="not an mfstudio report"):
        write_report(mine, data, runs[:1], overwrite=True)
    assert mine.read_text() == "<p>my notes</p>"
    ours = write_report(tmp_path / "r.html", data, runs[:1])
    with pytest.raises(DataError, match="earlier report"):
        write_report(ours, data, runs[:1])
    write_report(ours, data, runs[:2], overwrite=True)
    assert "sgd #1" in ours.read_text() and "als #1" in ours.read_text()


def test_png_fallback_without_matplotlib(session, monkeypatch):
    import mfstudio.report as report

    data, runs = session
    monkeypatch.setattr(report, "_have_matplotlib", lambda: False)
    images = _images(report_html(data, runs[:1]))
    assert len(images) == 3
    plt = pytest.importorskip("matplotlib.pyplot")
    import io

    for png in images:
        pixels = plt.imread(io.BytesIO(png))
        assert pixels.shape[0] > 100 and pixels.std() > 0  # decodes, and is not blank


def test_png_bytes_round_trip():
    plt = pytest.importorskip("matplotlib.pyplot")
    import io

    grey = (np.arange(12 * 7).reshape(12, 7) * 3).astype(np.uint8)
    back = plt.imread(io.BytesIO(png_bytes(grey)))
    np.testing.assert_allclose(back * 255, grey, atol=0.5)


def test_images_data_shows_parts(tmp_path):
    data = open_data("sample:bars")
    exp = Experiment(data, "nmf", {"n_factors": 6, "n_epochs": 30}).run()
    text = report_html(data, [exp])
    assert "<h4>Parts</h4>" in text and len(_images(text)) >= 2


def test_report_command(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", "sample:toy-5x4", "--model", "gd", "--model", "als", "--split", "none", "--epochs", "5",
                 "-o", str(out)]) == 0
    assert "wrote the report" in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith(REPORT_MARKER) and text.count("<div class=run>") == 2
    assert main(["report", "sample:toy-5x4", "--model", "gd", "-o", str(out)]) != 0  # refuses without --force
