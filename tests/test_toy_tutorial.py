"""The tutorials' toy matrices are fitted with the tutorials' own gd settings unless the user sets them (issue 15)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.samples import TUTORIAL_SETTINGS, sample_settings
from mfstudio.models import MODELS

TOY_5X4 = np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [1, 0, 0, 4], [0, 1, 5, 4]])
TOY_5X3 = np.array([[5, 3, 0], [4, 0, 0], [1, 1, 0], [0, 0, 5], [0, 0, 4]])


def _fit_json(capsys, *args) -> dict:
    code = main(["fit", *args, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize("name, matrix", [("toy-5x4", TOY_5X4), ("toy-5x3", TOY_5X3)])
def test_fit_gd_split_none_reconstructs_the_known_cells_with_no_options(capsys, name, matrix):
    result = _fit_json(capsys, f"sample:{name}", "--model", "gd", "--split", "none")
    recipe = TUTORIAL_SETTINGS[name]["gd"]
    assert {k: result["params"][k] for k in recipe} == recipe  # the tutorial's settings were used...
    assert any("tutorial's own gd settings" in note for note in result["notes"])  # ...and the output says so
    rec = np.array(result["reconstruction"]["matrix"])
    known = matrix > 0
    assert np.abs(rec - matrix)[known].max() < 0.1
    assert (rec[~known] > 0.5).all()  # the unknown cells are filled in: the tutorials' punchline


def test_values_the_user_sets_are_kept_and_named(capsys):
    result = _fit_json(capsys, "sample:toy-5x4", "--model", "gd", "--split", "none", "--reg", "0.2", "--epochs", "30")
    assert result["params"]["reg"] == 0.2 and result["params"]["n_epochs"] == 30
    assert result["params"]["n_factors"] == 2 and result["params"]["shuffle"] is False
    # 0.0002 goes with 5,000 sweeps: with the user's 30 sweeps gd's own step size is used.
    assert result["params"]["lr"] == MODELS["gd"].defaults["lr"]
    note = next(n for n in result["notes"] if "tutorial's own" in n)
    assert "yours kept: n_epochs, reg; lr left at gd's default" in note and "reg 0," not in note


def test_a_step_size_alone_keeps_the_tutorials_other_settings():
    settings, note = sample_settings("sample:toy-5x4", "gd", given={"lr"})
    assert settings == {"n_factors": 2, "reg": 0.0, "shuffle": False}
    assert "n_epochs left at gd's default" in note
    assert sample_settings("sample:toy-5x4", "gd", given=set(TUTORIAL_SETTINGS["toy-5x4"]["gd"])) == ({}, "")


def test_other_models_and_other_data_keep_their_defaults(capsys):
    assert sample_settings(open_data("sample:toy-5x4"), "sgd") == ({}, "")
    assert sample_settings("sample:movies", "gd") == ({}, "")
    assert sample_settings("toy.csv", "gd") == ({}, "")
    # A grid typed in by hand is the user's data, not the tutorial's sample: gd's own defaults.
    from mfstudio.data.samples import parse_grid_text

    assert sample_settings(parse_grid_text("5 3 0 1\n4 0 0 1"), "gd") == ({}, "")
    result = _fit_json(capsys, "sample:toy-5x4", "--model", "sgd", "--split", "none", "--epochs", "3")
    assert result["params"]["n_factors"] == MODELS["sgd"].defaults["n_factors"]
    assert not any("tutorial's own" in note for note in result["notes"])


def test_the_text_output_states_the_settings(capsys):
    assert main(["fit", "sample:toy-5x4", "--model", "gd", "--split", "none", "--epochs", "200"]) == 0
    out = capsys.readouterr().out
    assert "settings: sample:toy-5x4 is fitted with the tutorial's own gd settings" in out


@pytest.mark.parametrize("name", ["toy-5x4", "toy-5x3"])
def test_the_sample_notes_name_the_tutorial_settings_for_the_window(name):
    note = " ".join(open_data(f"sample:{name}").notes)
    assert "the tutorial fits it with gd: n_factors 2" in note and "reg 0" in note
