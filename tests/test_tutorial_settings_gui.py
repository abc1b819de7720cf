"""A tutorial's sample starts gd's form at the tutorial's own settings, says so, and gives them back on other data."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from mfstudio.models import MODELS  # noqa: E402
from tests.test_layout import load  # noqa: E402


def test_the_toy_sample_fills_gd_with_the_tutorials_settings_and_other_data_gets_the_defaults_back(qtbot, window):
    panel = window.model_panel
    defaults = MODELS["gd"].defaults
    load(qtbot, window, "sample:toy-5x4")
    panel.select_method("gd")
    params = panel.params()
    assert params["lr"] == pytest.approx(0.0002) and params["n_epochs"] == 5000 and params["n_factors"] == 2
    assert params["lr"] != defaults["lr"]
    assert panel.preset_note.isVisibleTo(panel) and "tutorial" in panel.preset_note.text().lower()

    load(qtbot, window, "sample:movies")
    panel.select_method("gd")
    params = panel.params()
    assert params["lr"] == pytest.approx(defaults["lr"]) and params["n_epochs"] == defaults["n_epochs"]
    assert not panel.preset_note.isVisibleTo(panel)

    # A value the user typed is the user's: it survives a tutorial sample and what it fills in.
    panel.set_param("n_factors", 3)
    load(qtbot, window, "sample:toy-5x4")
    panel.select_method("gd")
    assert panel.params()["n_factors"] == 3 and panel.params()["lr"] == pytest.approx(0.0002)
