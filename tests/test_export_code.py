"""A run as code: the exported script, run in a fresh process, prints the run's metrics to 4 decimals."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from mfstudio.cli import main
from mfstudio.data.errors import DataError
from mfstudio.export_code import recipe_of, script_for
from mfstudio.models import load_model
from tests.conftest import ML100K, needs_ml100k


def _fit_and_save(tmp_path, capsys, *argv):
    folder = tmp_path / "model"
    assert main(["fit", *argv, "--save", str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    return folder, {k: v for k, v in result["metrics"].items()}


def _run_script(path, cwd, block_matplotlib=False):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if block_matplotlib:
        code = (f"import sys; sys.modules['matplotlib'] = None; sys.argv = [{str(path)!r}]; "
                f"exec(compile(open({str(path)!r}).read(), {str(path)!r}, 'exec'), {{'__name__': '__main__'}})")
        argv = [sys.executable, "-c", code]
    else:
        argv = [sys.executable, str(path)]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _printed(stdout: str) -> dict:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (-?\d+\.\d{4})$", stdout, re.M)}


def _same_to_4_decimals(printed: dict, metrics: dict) -> None:
    assert metrics, "the run scored nothing"
    for name, value in metrics.items():
        if value == value:  # NaN: a metric without users
            assert printed[name] == pytest.approx(round(value, 4), abs=1e-9), name


@pytest.mark.parametrize("model, extra", [
    ("sgd", ["--epochs", "4", "--factors", "8"]),
    ("nmf", ["--epochs", "15", "--factors", "4"]),
    ("implicit-als", ["--epochs", "4", "--factors", "8"]),
])
def test_script_of_a_saved_run_prints_the_same_metrics(tmp_path, capsys, model, extra):
    folder, metrics = _fit_and_save(tmp_path, capsys, "sample:movies", "--model", model, *extra)
    assert main(["export-code", str(folder), "-o", str(tmp_path / "run.py")]) == 0
    capsys.readouterr()
    out = _run_script(tmp_path / "run.py", tmp_path)
    _same_to_4_decimals(_printed(out), metrics)
    assert (tmp_path / f"{model}-curves.png").stat().st_size > 1000  # the plot, with matplotlib


def test_script_prints_the_metric_without_matplotlib(tmp_path, capsys):
    folder, metrics = _fit_and_save(tmp_path, capsys, "sample:toy-5x4", "--model", "gd", "--split", "none",
                                    "--epochs", "50", "--factors", "2")
    (tmp_path / "run.py").write_text(script_for(folder))
    out = _run_script(tmp_path / "run.py", tmp_path, block_matplotlib=True)
    assert "matplotlib is not installed" in out
    _same_to_4_decimals(_printed(out), metrics)
    assert not (tmp_path / "gd-curves.png").exists()


@needs_ml100k
def test_sgd_on_movielens_u1_reruns_to_4_decimals(tmp_path, capsys):
    folder, metrics = _fit_and_save(tmp_path, capsys, str(ML100K / "u1.base"), "--test", str(ML100K / "u1.test"),
                                    "--model", "sgd", "--epochs", "10")
    assert main(["export-code", str(folder)]) == 0
    (tmp_path / "run.py").write_text(capsys.readouterr().out)
    printed = _printed(_run_script(tmp_path / "run.py", tmp_path))
    assert printed["rmse"] == pytest.approx(round(metrics["rmse"], 4), abs=1e-9)
    _same_to_4_decimals(printed, metrics)


def test_notebook_executes_top_to_bottom(tmp_path, capsys):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (test extra)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (test extra)")
    pytest.importorskip("ipykernel", reason="no Jupyter kernel: ipykernel is not installed (test extra)")
    folder, metrics = _fit_and_save(tmp_path, capsys, "sample:toy-5x4", "--model", "gd", "--split", "none",
                                    "--epochs", "50", "--factors", "2")
    assert main(["export-code", str(folder), "--notebook", "-o", str(tmp_path / "run.ipynb")]) == 0
    book = nbformat.read(str(tmp_path / "run.ipynb"), as_version=4)
    assert [c.cell_type for c in book.cells][:2] == ["markdown", "code"]
    nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []))
    _same_to_4_decimals(_printed(text), metrics)
    images = [o for c in book.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the curves cell shows its figure in the notebook"


def test_peer_section_is_labelled_and_runs_without_the_peer(tmp_path, capsys):
    folder, _ = _fit_and_save(tmp_path, capsys, "sample:toy-5x4", "--model", "gd", "--split", "none", "--epochs", "5")
    assert "Comparison" not in script_for(folder, peer=True)  # gd has no peer: no section
    text = script_for(recipe_of(folder), peer=False)
    compile(text, "run.py", "exec")
    from mfstudio.export_code import PEER_MODELS, Recipe

    for name, (library, _) in PEER_MODELS.items():
        code = script_for(Recipe(model=name, params={}, data="sample:movies"), peer=True)
        compile(code, f"{name}.py", "exec")
        assert f"# ## Comparison: {library} (not mfstudio)" in code


def test_refuses_to_overwrite_and_explains_a_model_without_recipe(tmp_path, capsys):
    folder, _ = _fit_and_save(tmp_path, capsys, "sample:toy-5x4", "--model", "gd", "--split", "none", "--epochs", "5")
    (tmp_path / "taken.py").write_text("mine")
    assert main(["export-code", str(folder), "-o", str(tmp_path / "taken.py")]) != 0
    assert (tmp_path / "taken.py").read_text() == "mine"
    capsys.readouterr()
    old = tmp_path / "old"
    load_model(folder).save(old)  # saved through the API: no recipe, as every model saved before this
    with pytest.raises(DataError, match="without its recipe"):
        recipe_of(old)
    assert recipe_of(old, data="sample:toy-5x4").data == "sample:toy-5x4"


def test_an_experiment_exports_too():
    from mfstudio.data import open_data
    from mfstudio.experiment import Experiment

    exp = Experiment(open_data("sample:toy-5x4"), "gd", {"n_epochs": 3, "n_factors": 2}, protocol="all", seed=7).run()
    text = script_for(exp)
    assert "seed=7" in text and "'n_epochs': 3" in text and "sample:toy-5x4" in text
