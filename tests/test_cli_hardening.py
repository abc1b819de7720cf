"""The command line answers every mistake with one sentence and a status, never a traceback or a window."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import open_data
from mfstudio.data.errors import DataError
from mfstudio.experiment import Experiment


def _run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "mfstudio", *args], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}, **kwargs)


def test_a_mistyped_command_exits_2_at_once_without_a_window():
    started = time.perf_counter()
    done = _run("frobnicate")
    elapsed = time.perf_counter() - started
    assert done.returncode == 2
    assert "'frobnicate' is not a command" in done.stderr and "fit" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 10  # a window would have hung offscreen (the 2 s bar is measured, not asserted)


def test_close_misspellings_get_a_suggestion(capsys):
    assert main(["fti"]) == 2
    assert "did you mean 'fit'" in capsys.readouterr().err


def test_a_missing_file_is_not_opened_in_a_window(capsys, tmp_path):
    assert main([str(tmp_path / "nothing.csv")]) == 2
    assert "no file or folder" in capsys.readouterr().err


def test_a_closed_pipe_is_not_a_traceback():
    # `mfstudio samples | head -1`: the reader leaves after one line
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; from mfstudio.cli import main; "
                             "sys.exit(main(['info', 'sample:movies']))"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_an_unwritable_save_path_is_one_sentence(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["fit", "sample:toy-5x4", "--model", "baseline", "--save", str(blocker / "model")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_a_test_file_on_another_rating_scale_is_refused(tmp_path):
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    train.write_text("user,item,rating\n" + "".join(f"{u},{i},{1 + (u * i) % 5}\n" for u in range(20) for i in range(10)))
    test.write_text("user,item,rating\n" + "".join(f"{u},{i},{1 + (u + i) % 10}\n" for u in range(20) for i in range(10, 12)))
    with pytest.raises(DataError, match="outside the training file's scale of 1 to 5"):
        Experiment(open_data(str(train)), "baseline", test_data=open_data(str(test)))


def test_ranking_with_only_unseen_test_users_says_why_instead_of_nan(tmp_path, capsys):
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    train.write_text("user,item\n" + "".join(f"u{u},i{(u * 7 + j) % 30}\n" for u in range(40) for j in range(6)))
    test.write_text("user,item\n" + "".join(f"new{u},i{(u + j) % 30}\n" for u in range(10) for j in range(3)))
    assert main(["fit", str(train), "--test", str(test), "--model", "bpr", "--epochs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert not any(isinstance(v, float) and np.isnan(v) for v in out["metrics"].values())
    assert "precision@10" not in out["metrics"]
    assert any("had training data" in note for note in out["notes"])


def test_recommend_caps_the_list_at_the_catalogue(tmp_path):
    data = open_data("sample:toy-5x4")
    from mfstudio.models import Baseline

    model = Baseline().fit(data)
    items, scores = model.recommend([0], n=10**9, exclude_seen=False)
    assert items.shape == (1, data.n_cols)


def test_absurd_factor_counts_are_refused_before_fitting(monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "2G")
    experiment = Experiment(open_data("sample:movies"), "als", {"n_factors": 3_000_000})
    with pytest.raises(DataError, match="fewer factors"):
        list(experiment.iter_fold(0))
