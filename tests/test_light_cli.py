"""The terminal path stays light: small numeric files read without pyarrow/pandas, commands without Qt."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from mfstudio.data import load
from mfstudio.data import tables
from mfstudio.data.features import SideFeatures
from tests.conftest import ML100K, needs_ml100k

HEAVY = ("PySide6", "sklearn", "pyarrow", "pandas")


def _same(x, y, what: str) -> None:
    import scipy.sparse as sp

    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        assert type(x) is type(y), what
        for f in dataclasses.fields(x):
            _same(getattr(x, f.name), getattr(y, f.name), f"{what}.{f.name}")
    elif isinstance(x, SideFeatures) or isinstance(y, SideFeatures):
        assert type(x) is type(y), what
        for name in ("matrix", "names", "source"):
            _same(getattr(x, name), getattr(y, name), f"{what}.{name}")
    elif sp.issparse(x) or sp.issparse(y):
        assert sp.issparse(x) and sp.issparse(y) and x.shape == y.shape and x.dtype == y.dtype, what
        assert (x != y).nnz == 0, what
    elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        assert x.dtype == y.dtype and x.shape == y.shape, what
        np.testing.assert_array_equal(x, y, err_msg=what)
    elif isinstance(x, (list, tuple)) and any(isinstance(v, np.ndarray) for v in x):
        assert len(x) == len(y), what
        for i, (u, v) in enumerate(zip(x, y)):
            _same(u, v, f"{what}[{i}]")
    else:
        assert x == y, what


def _same_dataset(a, b) -> None:
    _same(a, b, "dataset")


def _both_ways(path, monkeypatch):
    fast = load(path)
    monkeypatch.setattr(tables, "SMALL_TABLE_BYTES", -1)  # every file is "large": pyarrow/pandas read it
    full = load(path)
    monkeypatch.undo()
    return fast, full


CASES = {
    "tabs.tsv": "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250951\n2\t30\t1\t881250952\n",
    "header.csv": "userId,movieId,rating,timestamp\r\n7,3,4.5,100\r\n\r\n8,3,0.5,90\r\n7,4,2,80\r\n",
    "dupes.csv": "user,item,rating,timestamp\n1,1,5,10\n1,1,3,20\n2,1,4,5\n2,2,4,6\n",
    "counts.csv": "user,item,count\n1,1,1\n1,2,1\n2,1,2\n3,3,1\n3,1,1\n4,2,1\n",
    "spaces.txt": "1 10  5\n2 10 4\n2   20 3\n3 20 1\n",
    "semicolons.csv": "u;i;r\n-1;5;1\n2;5;2\n3;6;3\n",
    "big_ids.csv": "user,item,rating\n9999999999,1,5\n1,2,4\n2,1,3\n",
    "fraction_ids.csv": "user,item,rating\n1,1,5\n1.5,2,4\n2,1,3\n",
    "empty_field.csv": "user,item,rating\n1,1,5\n1,,4\n2,1,3\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_small_numeric_reader_gives_the_same_dataset(name, write, monkeypatch):
    path = write(name, CASES[name])
    try:
        full_error = None
        monkeypatch.setattr(tables, "SMALL_TABLE_BYTES", -1)
        full = load(path)
    except Exception as exc:  # noqa: BLE001 - the same error both ways
        full_error = str(exc)
    monkeypatch.undo()
    if full_error is not None:
        with pytest.raises(Exception) as caught:
            load(path)
        assert str(caught.value) == full_error
        return
    _same_dataset(load(path), full)


def test_plain_files_take_the_numpy_path(write):
    path = write("plain.tsv", CASES["tabs.tsv"])
    layout = tables.sniff_table(str(path))
    assert tables.read_small_numeric(layout, {0: "int32", 1: "int32", 2: "float32", 3: "int64"}) is not None
    quoted = write("quoted.csv", 'user,item,rating\n"1",2,3\n')
    assert tables.read_small_numeric(tables.sniff_table(str(quoted)), {0: "int32", 1: "int32", 2: "float32"}) is None


@needs_ml100k
@pytest.mark.parametrize("name", ["u1.base", "u1.test", "u.data"])
def test_movielens_files_read_the_same_both_ways(name, monkeypatch):
    fast, full = _both_ways(ML100K / name, monkeypatch)
    _same_dataset(fast, full)
    assert fast.item_titles is not None and fast.item_titles[0] == "Toy Story (1995)"


_PROBE = (
    "import sys, io, contextlib\n"
    "from mfstudio.cli import main\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out):\n"
    "    status = main(sys.argv[1:])\n"
    "heavy = [m for m in {heavy!r} if m in sys.modules]\n"
    "print(__import__('json').dumps({{'status': status, 'heavy': heavy}}))\n"
)


def _modules_after(*argv) -> dict:
    code = _PROBE.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ("info", "sample:movies"),
    ("fit", "sample:movies", "--model", "sgd", "--epochs", "2", "--factors", "4"),
])
def test_terminal_commands_leave_heavy_packages_out(argv):
    found = _modules_after(*argv)
    assert found["status"] == 0
    assert found["heavy"] == []


@needs_ml100k
def test_small_ratings_file_fit_leaves_heavy_packages_out():
    found = _modules_after("fit", str(ML100K / "u1.base"), "--test", str(ML100K / "u1.test"),
                           "--model", "sgd", "--epochs", "2", "--factors", "4")
    assert found["status"] == 0
    assert found["heavy"] == []


def test_fit_scores_a_rating_model_on_both_families_unless_told_not_to(capsys):
    from mfstudio.cli import main

    base = ["fit", "sample:movies", "--model", "sgd", "--epochs", "2", "--factors", "4", "--json"]
    assert main([*base, "--no-ranking"]) == 0
    quick = json.loads(capsys.readouterr().out)
    assert {"rmse", "mae"} <= set(quick["metrics"]) and "precision@10" not in quick["metrics"]
    assert "precision@10" not in quick["reference"]["metrics"]
    assert any("--no-ranking" in note for note in quick["notes"])
    assert main(base) == 0  # the default: both families, so any two runs compare
    full = json.loads(capsys.readouterr().out)
    assert {"rmse", "precision@10", "ndcg@10", "auc"} <= set(full["metrics"])
    assert "precision@10" in full["reference"]["metrics"]
    assert full["metrics"]["rmse"] == quick["metrics"]["rmse"]  # the same fit, scored further
    # A model that only ranks is ranked without being asked.
    assert main(["fit", "sample:movies", "--model", "bpr", "--epochs", "2", "--factors", "4", "--json"]) == 0
    assert "precision@10" in json.loads(capsys.readouterr().out)["metrics"]


@pytest.mark.parametrize("argv", [("--help",), ("info", "sample:movies")])
def test_help_and_info_do_not_load_the_models_or_numba(argv):
    code = ("import sys, io, contextlib\nfrom mfstudio.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
            "print([m for m in ('numba', 'mfstudio.models', 'pandas', 'pyarrow', 'PySide6') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_cli_catches_the_whole_user_error_family():
    import mfstudio.models  # noqa: F401 - FitDiverged's module loaded, as in a fit
    from mfstudio.cli import _user_errors
    from mfstudio.errors import USER_ERRORS

    assert set(_user_errors()) == set(USER_ERRORS)


def test_the_method_list_imports_no_numba_and_the_first_fit_loads_it():
    # The window's method list and every model's declaration come from mfstudio.models; its kernels load
    # on the first fit (mfstudio.kernels.lazy), so opening the window does not wait for numba and LLVM.
    code = ("import sys\nfrom mfstudio.models import MODELS\n"
            "names = [cls.name for cls in MODELS.values()]; defaults = [cls.defaults for cls in MODELS.values()]\n"
            "print('numba' in sys.modules)\n"
            "from mfstudio.data import open_data\n"
            "MODELS['sgd'](n_factors=2, n_epochs=1).fit(open_data('sample:movies'))\n"
            "print('numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
