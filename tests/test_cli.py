"""The mfstudio command: JSON keys others script against, readable output, clean failures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mfstudio.cli import main
from tests.conftest import ML100K, needs_ml100k


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json_keys_for_ratings(capsys):
    code, out, _ = run(capsys, "info", "sample:movies", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["kind"] == "explicit"
    assert (info["n_users"], info["n_items"]) == (1000, 1500)
    assert info["nnz"] > 50_000 and info["rating_scale"] == [1.0, 5.0]


def test_info_json_keys_for_documents(capsys):
    code, out, _ = run(capsys, "info", "sample:topics", "--json")
    info = json.loads(out)
    assert code == 0 and info["kind"] == "documents"
    assert info["n_docs"] == info["n_users"] == 600 and info["n_terms"] == info["n_items"] > 50


@needs_ml100k
@pytest.mark.parametrize("target", ["u.data", "."])
def test_info_on_movielens_100k(capsys, target):
    code, out, _ = run(capsys, "info", str(ML100K / target), "--json")
    info = json.loads(out)
    assert code == 0
    assert (info["n_users"], info["n_items"], info["nnz"]) == (943, 1682, 100_000)
    assert info["rating_scale"] == [1.0, 5.0] and info["has_titles"]


def test_readable_info_names_shape_and_titles(capsys, write):
    path = write("r.csv", "user,item,rating\n1,1,5\n1,2,3\n2,1,4\n")
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0
    assert "2 users x 2 items" in out and "3 observed" in out and "scale       3 to 5" in out


def test_bad_input_prints_one_sentence_and_exits_2(capsys, write):
    path = write("bad.csv", "user,item,rating\n1,2,3\n4,5,abc\n")
    code, out, err = run(capsys, "info", str(path))
    assert code == 2 and out == ""
    assert err.strip() == "mfstudio: bad.csv, line 3: column 'rating' holds 'abc', which is not a number; correct the value or delete the line."


def test_no_traceback_from_the_installed_command(tmp_path):
    missing = tmp_path / "missing.csv"
    proc = subprocess.run([sys.executable, "-m", "mfstudio", "info", str(missing)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "no such file or folder" in proc.stderr


def test_fit_json_has_the_scripted_keys(capsys):
    code, out, _ = run(capsys, "fit", "sample:movies", "--model", "baseline", "--epochs", "4", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["model"] == "baseline" and result["params"]["n_epochs"] == 4
    assert len(result["history"]) == 4 and [h["epoch"] for h in result["history"]] == [1, 2, 3, 4]
    assert 0.5 < result["metrics"]["rmse"] < 1.2 and result["metrics"]["mae"] < result["metrics"]["rmse"]
    assert result["fit_seconds"] >= 0 and result["folds"][0]["n_test"] > 0


def test_fit_kfold_averages_folds(capsys):
    code, out, _ = run(capsys, "fit", "sample:movies", "--model", "baseline", "--split", "kfold:3", "--json")
    result = json.loads(out)
    assert code == 0 and len(result["folds"]) == 3
    mean = sum(f["metrics"]["rmse"] for f in result["folds"]) / 3
    assert result["metrics"]["rmse"] == pytest.approx(mean)


def test_fit_with_separate_test_file_reports_cold_items(capsys, write):
    train = write("train.csv", "user,item,rating\n1,1,5\n1,2,3\n2,1,4\n2,2,2\n")
    test = write("test.csv", "user,item,rating\n1,3,4\n3,1,2\n2,2,3\n")
    code, out, _ = run(capsys, "fit", str(train), "--test", str(test), "--model", "baseline", "--json")
    result = json.loads(out)
    assert code == 0
    fold = result["folds"][0]
    assert (fold["cold_users"], fold["cold_items"], fold["cold_entries"], fold["n_test"]) == (1, 1, 2, 3)


def test_fit_rejects_options_a_model_does_not_have(capsys):
    code, _, err = run(capsys, "fit", "sample:movies", "--model", "baseline", "--lr", "0.1")
    assert code == 2 and "--lr does not apply to the baseline model" in err


def test_bad_split_spec(capsys):
    code, _, err = run(capsys, "fit", "sample:movies", "--model", "baseline", "--split", "random:2")
    assert code == 2 and "random:0.2" in err
