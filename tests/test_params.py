"""One declared source per parameter: the declaration, its error type, the CLI and the window reading it.

The contract test (tests/test_contract.py) walks every declared bound of every
model; here are the pieces: what a declaration accepts and refuses, the error
family, ``--factors 3000000``, the model panel's editors, refusal at Run, and
the bug report for anything outside the family.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from mfstudio.cli import _model_params, _param_value, main
from mfstudio.data.errors import DataError
from mfstudio.errors import USER_ERRORS, FitDiverged, ParamError, is_user_error
from mfstudio.models import MODELS, BiasedSGD, TruncatedSVD
from mfstudio.models.params import FACTORS_HIGH, Param, check_params

# ------------------------------------------------------------------ Param


def test_bounds_are_inclusive_or_exclusive_as_declared():
    rate = Param("lr", "float", 0.01, "step", low=0.0, low_open=True, high=1.0)
    assert rate.check(1.0) == 1.0 and rate.check(1e-12) == 1e-12
    for bad in (0.0, -1.0, 1.0 + 1e-9, math.nan, math.inf):
        with pytest.raises(ParamError, match=r"lr must be a number > 0 and <= 1, not"):
            rate.check(bad)
    decay = Param("lr_decay", "float", 0.0, "decay", low=0.0, high=1.0, high_open=True)
    assert decay.check(0.0) == 0.0
    with pytest.raises(ParamError, match=r">= 0 and < 1"):
        decay.check(1.0)


def test_whole_numbers_refuse_bools_fractions_and_text_but_take_numpy_ints():
    count = Param("n_epochs", "int", 10, "passes", low=1, high=100)
    assert count.check(np.int64(7)) == 7 and type(count.check(np.int64(7))) is int
    for bad in (True, 2.5, "3", None, 0, 101):
        with pytest.raises(ParamError, match="n_epochs must be a whole number from 1 to 100"):
            count.check(bad)


def test_none_only_where_declared_and_aliases_map_to_their_word():
    seed = MODELS["sgd"].param("seed")
    assert seed.check(None) is None and "None for a fresh random start" in seed.allowed()
    with pytest.raises(ParamError):
        MODELS["sgd"].param("n_factors").check(None)
    center = TruncatedSVD.param("center")
    assert center.check(True) == "global" and center.check(False) == "none"
    with pytest.raises(ParamError, match="center must be one of 'auto'"):
        center.check(1)  # 1 == True, but a number is not the old flag


def test_a_declaration_that_refuses_its_own_default_is_refused():
    with pytest.raises(ParamError):
        Param("k", "int", 0, "rank", low=1)
    with pytest.raises(ValueError, match="default first"):
        Param("solver", "choice", "mu", "solver", choices=("cd", "mu"))


def test_check_params_names_an_unknown_parameter():
    with pytest.raises(ParamError, match="'lr_typo'") as refused:
        check_params(BiasedSGD.params_spec, {"lr_typo": 1.0})
    assert refused.value.param == "lr_typo"


# ------------------------------------------------------------------ family


def test_param_errors_are_the_users_to_fix_and_other_errors_are_not():
    error = ParamError("lr must be a number > 0, not -1", param="lr")
    # A DataError (and so a ValueError) for every handler of user mistakes, a TypeError as in scikit-learn.
    assert isinstance(error, DataError) and isinstance(error, ValueError) and isinstance(error, TypeError)
    assert str(error) == "lr must be a number > 0, not -1."
    assert is_user_error(error) and is_user_error(FitDiverged("lower lr")) and is_user_error(DataError("bad"))
    assert not is_user_error(ValueError("numpy said so")) and not is_user_error(KeyError("x"))
    assert set(USER_ERRORS) == {DataError, FitDiverged}


def test_a_data_dependent_bound_is_a_param_error_too():
    from mfstudio.data.samples import movies

    small = movies(n_users=30, n_items=20, seed=0)
    with pytest.raises(ParamError, match="n_factors must be at most") as refused:
        TruncatedSVD(n_factors=25).fit(small)
    assert refused.value.param == "n_factors"


# ------------------------------------------------------------------ CLI


def _args(**given):
    fields = dict(factors=None, epochs=None, lr=None, reg=None, alpha=None, seed=None, param=None)
    fields.update(given)
    return argparse.Namespace(**fields)


def test_cli_options_are_checked_by_the_declaration():
    sgd = MODELS["sgd"]
    assert _model_params(sgd, _args(factors=8, lr=0.01, param=["seed=none", "optimizer=adam"])) == {
        "n_factors": 8, "lr": 0.01, "seed": None, "optimizer": "adam"}
    with pytest.raises(ParamError, match=r"--factors 3000000: n_factors must be a whole number from 1 to 4096"):
        _model_params(sgd, _args(factors=3_000_000))
    with pytest.raises(ParamError, match=r"--param batch_size=0: batch_size must be a whole number from 1"):
        _model_params(sgd, _args(param=["batch_size=0"]))
    with pytest.raises(ParamError, match=r"--param lr=fast: lr must be a number > 0"):
        _model_params(sgd, _args(param=["lr=fast"]))
    with pytest.raises(ParamError, match="--alpha does not apply to the sgd model"):
        _model_params(sgd, _args(alpha=1.0))
    assert _param_value("shuffle", "off", MODELS["gd"].param("shuffle")) is False


def test_rules_joining_two_parameters_are_refused_by_the_cli_too():
    with pytest.raises(ParamError, match="needs solver 'mu'"):
        _model_params(MODELS["nmf"], _args(param=["beta_loss=kullback-leibler"]))


def test_factors_3000000_exits_2_naming_the_bound_before_reading_the_data(tmp_path, capsys):
    missing = tmp_path / "not-read.csv"  # a parameter error must come first: no data is opened for it
    status = main(["fit", str(missing), "--model", "sgd", "--factors", "3000000"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip().splitlines() == [
        "mfstudio: --factors 3000000: n_factors must be a whole number from 1 to 4096, not 3000000."]
    assert "lower lr" not in err and "Traceback" not in err and FACTORS_HIGH == 4096


# ------------------------------------------------------------------ the window

pytest.importorskip("PySide6")


@pytest.fixture
def panel(qtbot):
    from mfstudio.gui.app import create_app
    from mfstudio.gui.model_panel import ModelPanel

    create_app()
    widget = ModelPanel()
    qtbot.addWidget(widget)
    return widget


def test_panel_editors_read_the_declaration(panel):
    from PySide6.QtWidgets import QComboBox, QLineEdit, QSpinBox

    panel.select_method("sgd")
    factors = panel.editor("n_factors")
    assert isinstance(factors, QSpinBox) and (factors.minimum(), factors.maximum()) == (1, FACTORS_HIGH)
    declared = MODELS["sgd"].param("n_factors")
    assert declared.help in factors.toolTip() and declared.allowed() in factors.toolTip()
    optimizer = panel.editor("optimizer")
    assert isinstance(optimizer, QComboBox)
    assert [optimizer.itemData(i) for i in range(optimizer.count())] == list(MODELS["sgd"].param_choices["optimizer"])
    assert isinstance(panel.editor("lr"), QLineEdit)
    panel.set_param("seed", None)  # the special value below the range means None
    assert panel.params()["seed"] is None
    panel.set_param("seed", 12)
    assert panel.params()["seed"] == 12
    assert panel.params()["n_factors"] == MODELS["sgd"].defaults["n_factors"]


def test_a_number_field_that_does_not_parse_is_refused_by_name_not_replaced_by_the_default(panel):
    panel.select_method("sgd")
    panel.editor("lr").setText("1e")  # QDoubleValidator lets intermediate text through
    value = panel.params()["lr"]
    with pytest.raises(ParamError, match="lr must be a number > 0"):
        BiasedSGD(lr=value).validate_params()


@pytest.fixture
def window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from mfstudio.gui.app import create_app
    from mfstudio.gui.main_window import MainWindow

    create_app()
    win = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    yield win
    if win.worker is not None:
        win.cancel_fit(wait=True)


def test_a_bad_value_is_refused_at_run_before_the_split_and_the_reference(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from mfstudio.experiment import Experiment

    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        window.open_path("sample:movies")
    prepared = []
    monkeypatch.setattr(Experiment, "prepare", lambda self: prepared.append(self))
    window.model_panel.select_method("sgd")
    window.model_panel.editor("lr").setText("-1")
    window.model_panel.run_button.click()
    assert window.worker is None and window.runs == [] and prepared == []
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and boxes[0].text() == "lr must be a number > 0, not -1.0."
    assert boxes[0].icon() == QMessageBox.Icon.Warning


def test_anything_outside_the_family_is_a_bug_report_with_the_log_path(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    import mfstudio.launcher
    from mfstudio.gui.worker import BUG_REPORT, user_message

    log = tmp_path / "mfstudio.log"
    monkeypatch.setattr(mfstudio.launcher, "log_path", lambda: log)
    try:
        {}["missing"]
    except KeyError as exc:
        text, details = user_message(exc)
    assert text.startswith(BUG_REPORT) and str(log) in text and "KeyError" in text
    assert "Traceback" in details and details in log.read_text()
    # A bare ValueError from deep inside numpy is a bug too, not the user's mistake.
    assert user_message(ValueError("operands could not be broadcast"))[0].startswith(BUG_REPORT)
    user_text, _ = user_message(ParamError("reg must be a number >= 0, not -1", param="reg"))
    assert user_text == "reg must be a number >= 0, not -1."  # a name is not capitalised
    window.show_error(text, details)
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes[-1].icon() == QMessageBox.Icon.Critical and "bug report" in boxes[-1].windowTitle()
    assert boxes[-1].detailedText() == details
