"""Issue 9 (part C): saved models and projects.

Writes that cannot destroy (a folder of their own, temporary name + atomic
rename, never replacing a file mfstudio did not write) and reads validated
against a declared schema before anything is built (every refusal a
DataError naming the file, never a traceback, an attribute or gigabytes).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from mfstudio.cli import main
from mfstudio.data.dataset import Dataset
from mfstudio.data.errors import DataError
from mfstudio.models import MODELS, BiasedSGD, load_model
from mfstudio.project import Run, open_project, save_project


def ratings(n_users=30, n_items=20, n=250, seed=0, timed=False) -> Dataset:
    rng = np.random.default_rng(seed)
    cells = rng.choice(n_users * n_items, n, replace=False)
    values = rng.integers(1, 6, n).astype(float)
    # timed: spread over 60 days, for the models that read when a rating was made (timesvdpp)
    timestamps = 1_000_000_000 + rng.integers(0, 60 * 86_400, n) if timed else None
    return Dataset(kind="explicit", rows=cells // n_items, cols=cells % n_items,
                   values=values, row_ids=np.arange(n_users) + 1, timestamps=timestamps,
                   col_ids=np.arange(n_items) + 101, rating_scale=(1, 5))


@pytest.fixture(scope="module")
def fitted():
    return BiasedSGD(n_epochs=2, n_factors=3).fit(ratings())


@pytest.fixture
def saved(fitted, tmp_path) -> Path:
    """A saved model's folder."""
    return fitted.save(tmp_path / "model").parent


def read_pair(manifest_path: Path, arrays_path: Path) -> tuple[dict, dict]:
    with np.load(arrays_path, allow_pickle=False) as archive:
        arrays = dict(archive)
    return json.loads(manifest_path.read_text()), arrays


def rewrite(manifest_path: Path, arrays_path: Path, manifest: dict, arrays: dict) -> None:
    """Write a crafted pair the way a stranger could: with a matching arrays hash, so the schema decides."""
    np.savez_compressed(arrays_path, **arrays)
    manifest = dict(manifest, arrays_sha256=hashlib.sha256(arrays_path.read_bytes()).hexdigest())
    manifest_path.write_text(json.dumps(manifest))


def craft_model(folder: Path, edit) -> None:
    manifest, arrays = read_pair(folder / "model.json", folder / "arrays.npz")
    edit(manifest, arrays)
    rewrite(folder / "model.json", folder / "arrays.npz", manifest, arrays)


def refused(load, path, *words) -> str:
    with pytest.raises(DataError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return message


# ------------------------------------------------------------------ 1. writes that cannot destroy

def test_fit_save_named_like_the_input_leaves_the_input_byte_identical(tmp_path, capsys):
    data = tmp_path / "ratings.npz"
    matrix = sp.random(40, 25, density=0.3, random_state=np.random.default_rng(1), format="csr")
    matrix.data = np.ceil(matrix.data * 5)
    sp.save_npz(data, matrix)
    before = data.read_bytes()
    assert main(["fit", str(data), "--model", "svd", "--factors", "2", "--save", str(tmp_path / "ratings")]) == 0
    assert data.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "ratings").iterdir()) == ["arrays.npz", "model.json"]
    capsys.readouterr()
    assert main(["recommend", str(tmp_path / "ratings"), "--user", "0", "--n", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["items"]) == 3


def test_fit_save_onto_the_input_file_itself_is_refused_in_one_sentence(tmp_path, capsys):
    data = tmp_path / "ratings.npz"
    matrix = sp.random(40, 25, density=0.3, random_state=np.random.default_rng(1), format="csr")
    matrix.data = np.ceil(matrix.data * 5)
    sp.save_npz(data, matrix)
    before = data.read_bytes()
    assert main(["fit", str(data), "--model", "baseline", "--save", str(data)]) == 2
    err = capsys.readouterr().err
    assert data.read_bytes() == before
    assert err.count("\n") == 1 and "ratings.npz" in err and "folder" in err


def test_save_dir_with_a_trailing_slash_writes_inside_that_folder(fitted, tmp_path):
    written = fitted.save(str(tmp_path / "some" / "dir") + "/")
    assert written == tmp_path / "some" / "dir" / "model.json"
    assert not (tmp_path / "some" / "dir.json").exists() and not (tmp_path / "some" / "dir.npz").exists()
    np.testing.assert_allclose(load_model(tmp_path / "some" / "dir").predict([0, 1], [2, 3]),
                               fitted.predict([0, 1], [2, 3]))


def test_an_earlier_save_is_replaced_only_when_asked(fitted, saved, tmp_path, capsys):
    first = (saved / "model.json").read_bytes()
    refused(lambda p: fitted.save(p), saved, "already holds a saved model", "--force")
    assert (saved / "model.json").read_bytes() == first
    other = BiasedSGD(n_epochs=1, n_factors=2).fit(ratings(seed=3))
    other.save(saved, overwrite=True)
    assert load_model(saved).user_factors_.shape[1] == 2
    data = tmp_path / "r.npz"
    sp.save_npz(data, sp.csr_matrix(np.array([[1.0, 2, 0], [0, 3, 4], [5, 0, 1]])))
    assert main(["fit", str(data), "--model", "baseline", "--split", "all", "--save", str(saved)]) == 2
    assert main(["fit", str(data), "--model", "baseline", "--split", "all", "--save", str(saved), "--force"]) == 0
    assert load_model(saved).name == "baseline"


@pytest.mark.parametrize("content", [b"my notes", b'{"format": "something-else"}', b"[1, 2]"])
def test_a_file_mfstudio_did_not_write_is_never_replaced_even_with_force(fitted, tmp_path, content):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_bytes(content)
    refused(lambda p: fitted.save(p, overwrite=True), folder, "never replaces")
    assert (folder / "model.json").read_bytes() == content


def test_a_folder_holding_other_files_is_not_a_models_own_folder(fitted, tmp_path):
    (tmp_path / "thesis.tex").write_text("chapter 1")
    refused(lambda p: fitted.save(p, overwrite=True), tmp_path, "other files", "thesis.tex")
    assert not (tmp_path / "model.json").exists()
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "arrays.npz").write_bytes(b"someone's arrays")
    refused(lambda p: fitted.save(p, overwrite=True), tmp_path / "lonely", "no model of mfstudio refers to")


def test_a_failed_write_leaves_the_earlier_save_whole_and_no_temporary_file(fitted, saved, monkeypatch):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}

    def disk_full(stream, **arrays):
        stream.write(b"PK half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    message = refused(lambda p: fitted.save(p, overwrite=True), saved, "No space left")
    assert "cannot write" in message
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    monkeypatch.undo()
    load_model(saved)


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_save_where_nothing_can_be_written_is_one_sentence_with_exit_2(where, tmp_path, capsys):
    data = tmp_path / "r.npz"
    sp.save_npz(data, sp.csr_matrix(np.array([[1.0, 2, 0], [0, 3, 4], [5, 0, 1]])))
    if where == "proc":
        target = "/proc/mfstudio-model"
    else:
        (tmp_path / "afile").write_text("x")
        target = str(tmp_path / "afile" / "model")
    assert main(["fit", str(data), "--model", "baseline", "--split", "all", "--save", target]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "cannot write" in err


def test_save_project_never_touches_a_dataset_named_like_it(fitted, tmp_path):
    dataset = tmp_path / "session.npz"
    sp.save_npz(dataset, sp.csr_matrix(np.eye(4)))
    before = dataset.read_bytes()
    run = Run(name="sgd #1", model=fitted, status="finished")
    written = save_project(tmp_path / "session.mfproj", fitted.train_, [run])
    assert dataset.read_bytes() == before
    assert written == tmp_path / "session.mfproj"
    assert (tmp_path / "session.mfproj-arrays" / "arrays.npz").is_file()
    _, (restored,), _ = open_project(written)
    np.testing.assert_allclose(restored.model.predict([0, 1], [2, 3]), fitted.predict([0, 1], [2, 3]))


def test_save_project_replaces_its_own_project_only_when_asked_and_never_a_foreign_file(fitted, tmp_path):
    run = Run(name="r", model=fitted, status="finished")
    path = save_project(tmp_path / "p", fitted.train_, [run])
    refused(lambda p: save_project(p, fitted.train_, [run]), path, "already holds a saved project")
    save_project(path, fitted.train_, [run, run], overwrite=True)
    assert len(open_project(path)[1]) == 2
    foreign = tmp_path / "notes.mfproj"
    foreign.write_text("my notes")
    refused(lambda p: save_project(p, fitted.train_, [run], overwrite=True), foreign, "never replaces")
    assert foreign.read_text() == "my notes"


def test_old_layouts_still_load(fitted, saved, tmp_path):
    """Models as PATH.json + PATH.npz (format 1) and projects as NAME.mfproj + NAME.npz (format 1)."""
    manifest, arrays = read_pair(saved / "model.json", saved / "arrays.npz")
    manifest = {k: v for k, v in manifest.items() if k != "arrays_sha256"} | {"format": "mfstudio-model-1"}
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    (tmp_path / "old.json").write_text(json.dumps(manifest))
    for given in ("old", "old.json", "old.npz"):
        np.testing.assert_allclose(load_model(tmp_path / given).predict([0], [1]), fitted.predict([0], [1]))

    project = save_project(tmp_path / "new", fitted.train_, [Run(name="r", model=fitted, status="finished")])
    manifest, arrays = read_pair(project, tmp_path / "new.mfproj-arrays" / "arrays.npz")
    manifest = {k: v for k, v in manifest.items() if k != "arrays_sha256"} | {"format": "mfstudio-project-1"}
    np.savez_compressed(tmp_path / "legacy.npz", **arrays)
    (tmp_path / "legacy.mfproj").write_text(json.dumps(manifest))
    _, (run,), _ = open_project(tmp_path / "legacy.mfproj")
    np.testing.assert_allclose(run.model.predict([0], [1]), fitted.predict([0], [1]))


# ------------------------------------------------------------------ 2. zip bombs

def write_zero_bomb(archive_path: Path, member: str, shape, dtype=np.float64, keep: dict | None = None) -> None:
    """An .npz whose ``member`` declares ``shape`` of zeros: megabytes on disk, far more in memory."""
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in (keep or {}).items():
            if name != member:
                with archive.open(name + ".npy", "w") as stream:
                    np.lib.format.write_array(stream, np.asarray(value), allow_pickle=False)
        with archive.open(member + ".npy", "w", force_zip64=True) as stream:
            np.lib.format.write_array_header_1_0(stream, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                          "shape": tuple(shape)})
            block = bytes(2**20)
            total = int(np.prod(shape)) * np.dtype(dtype).itemsize
            for _ in range(total // len(block)):
                stream.write(block)


def test_a_zip_bombed_array_in_a_saved_model_is_refused_before_it_is_read(saved, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "200M")
    _, arrays = read_pair(saved / "model.json", saved / "arrays.npz")
    write_zero_bomb(saved / "arrays.npz", "model/user_factors_", (30, 640_000), keep=arrays)  # 146 MB of zeros
    assert (saved / "arrays.npz").stat().st_size < 1_000_000
    refused(load_model, saved, "memory", "arrays.npz")


def test_a_zip_bombed_array_in_a_project_is_refused_before_it_is_read(fitted, tmp_path, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_MEMORY_LIMIT", "200M")
    path = save_project(tmp_path / "p", fitted.train_, [Run(name="r", model=fitted, status="finished")])
    arrays_path = tmp_path / "p.mfproj-arrays" / "arrays.npz"
    _, arrays = read_pair(path, arrays_path)
    write_zero_bomb(arrays_path, "data/values", (19_000_000,), keep=arrays)
    refused(open_project, path, "memory")


# ------------------------------------------------------------------ 3. schema: saved models

def _set(path: str, value):
    def edit(manifest, arrays):
        target = manifest
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


MODEL_CASES = {
    "param of the wrong type": (_set("params.n_factors", "ten"), ["params.n_factors", "whole number"]),
    "unknown parameter": (_set("params.learning_rate", 0.1), ["learning_rate", "not a parameter"]),
    "unknown scalar shadowing a method": (_set("scalars.recommend", 1), ["recommend", "not a fitted number"]),
    "scalar of the wrong type": (_set("scalars.global_mean_", "3.5"), ["global_mean_", "a number"]),
    "history of the wrong type": (_set("history", {"epoch": 1}), ["history", "a list"]),
    "unknown model": (_set("model", "__import__"), ["model", "not one of"]),
    "unknown manifest field": (_set("plugin", "evil"), ["unknown field 'plugin'"]),
    "shape disagreeing with the ids": (_set("data.shape", [31, 20]), ["manifest says"]),
    "row index out of range": (lambda m, a: a.update({"data/rows": a["data/rows"] + 1000}), ["data/rows", "outside"]),
    "negative column index": (lambda m, a: a["data/cols"].__setitem__(0, -1), ["data/cols", "outside"]),
    "float indices": (lambda m, a: a.update({"data/rows": a["data/rows"].astype(float) + 0.5}),
                      ["data/rows", "decimal numbers", "integers"]),
    "bias of the wrong length": (lambda m, a: a.update({"model/user_bias_": a["model/user_bias_"][:-3]}),
                                 ["model/user_bias_", "27"]),
    "factors of a different k": (lambda m, a: a.update({"model/item_factors_": a["model/item_factors_"][:, :2]}),
                                 ["model/item_factors_", "number of factors"]),
    "factors of the wrong rank": (lambda m, a: a.update({"model/user_factors_": a["model/user_factors_"].ravel()}),
                                  ["model/user_factors_", "dimensions"]),
    "unknown array": (lambda m, a: a.update({"model/recommend": np.zeros(3)}), ["unknown array 'model/recommend'"]),
    "missing array": (lambda m, a: a.pop("model/item_factors_"), ["'model/item_factors_' is missing"]),
    "NaN factors": (lambda m, a: a["model/user_factors_"].__setitem__((0, 0), np.nan), ["NaN or infinite"]),
    "text factors": (lambda m, a: a.update({"model/user_factors_": a["model/user_factors_"].astype(str)}),
                     ["model/user_factors_", "texts"]),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_a_crafted_saved_model_is_one_sentence_naming_the_file(case, saved):
    edit, words = MODEL_CASES[case]
    craft_model(saved, edit)
    message = refused(load_model, saved, *words)
    assert message.startswith(("model.json", "arrays.npz")), message
    assert "broadcast" not in message and "Traceback" not in message


def test_an_unknown_scalar_never_becomes_an_attribute(saved):
    craft_model(saved, _set("scalars.recommend", 1))
    with pytest.raises(DataError):
        load_model(saved)
    assert callable(BiasedSGD.recommend)


def test_100k_deep_json_is_refused_without_recursion(saved):
    (saved / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    refused(load_model, saved, "nested")
    deep = {"format": "mfstudio-model-2"}
    for _ in range(40):
        deep = {"x": deep}
    (saved / "model.json").write_text(json.dumps(deep))
    refused(load_model, saved, "nested")


def test_arrays_from_another_save_are_recognised(fitted, saved, tmp_path):
    other = BiasedSGD(n_epochs=1, n_factors=3).fit(ratings(seed=5)).save(tmp_path / "other")
    (saved / "arrays.npz").write_bytes((other.parent / "arrays.npz").read_bytes())
    refused(load_model, saved, "not the ones its manifest was saved with")


@pytest.mark.parametrize("damage", ["not_json", "not_a_zip", "truncated", "missing_arrays", "missing_folder"])
def test_damaged_or_missing_files_are_one_sentence(damage, saved, tmp_path):
    if damage == "not_json":
        (saved / "model.json").write_bytes(b"\xff\xfe binary")
    elif damage == "not_a_zip":
        (saved / "arrays.npz").write_bytes(b"hello")
    elif damage == "truncated":
        data = (saved / "arrays.npz").read_bytes()
        (saved / "arrays.npz").write_bytes(data[: len(data) // 2])
    elif damage == "missing_arrays":
        (saved / "arrays.npz").unlink()
    refused(load_model, tmp_path / "nowhere" if damage == "missing_folder" else saved)


# ------------------------------------------------------------------ 3. schema: projects

@pytest.fixture
def project(fitted, tmp_path) -> Path:
    from mfstudio.data.splits import random_split

    split = random_split(fitted.train_, 0.2, seed=0)
    model = BiasedSGD(n_epochs=1, n_factors=3).fit(split.train)
    run = Run(name="sgd #1", model=model, train_index=split.train_index, test_index=split.test_index,
              metrics={"rmse": 1.0}, status="finished")
    return save_project(tmp_path / "p", fitted.train_, [run], {"tab": 1, "method": "sgd", "current_run": 0})


def craft_project(path: Path, edit) -> None:
    arrays_path = path.with_name(path.name + "-arrays") / "arrays.npz"
    manifest, arrays = read_pair(path, arrays_path)
    edit(manifest, arrays)
    rewrite(path, arrays_path, manifest, arrays)


def _run_set(key: str, value):
    def edit(manifest, arrays):
        target = manifest["runs"][0]
        keys = key.split(".")
        for part in keys[:-1]:
            target = target[part]
        target[keys[-1]] = value
    return edit


PROJECT_CASES = {
    "unknown scalar": (_run_set("scalars.predict", 2), ["runs[0].scalars", "predict"]),
    "unknown parameter": (_run_set("params.bogus", 1), ["runs[0].params", "bogus"]),
    "param of the wrong type": (_run_set("params.lr", [1]), ["runs[0].params.lr"]),
    "status that cannot be saved": (_run_set("status", "running"), ["runs[0].status"]),
    "runs not a list": (lambda m, a: m.update(runs={"0": {}}), ["runs", "a list"]),
    "dataset kind": (lambda m, a: m["dataset"].update(kind="pickle"), ["dataset.kind"]),
    "view field": (lambda m, a: m["view"].update(script="x"), ["view", "script"]),
    "train index out of range": (lambda m, a: a.update({"run0/train_index": a["run0/train_index"] + 10**6}),
                                 ["run0/train_index", "outside"]),
    "float test index": (lambda m, a: a.update({"run0/test_index": a["run0/test_index"] * 1.5}),
                         ["run0/test_index", "decimal"]),
    "only one index": (lambda m, a: a.pop("run0/test_index"), ["only one of its train and test"]),
    "bias of the wrong length": (lambda m, a: a.update({"run0/model/item_bias_": np.zeros(7, np.float32)}),
                                 ["run0/model/item_bias_"]),
    "array of a run that does not exist": (lambda m, a: a.update({"run5/model/user_factors_": np.zeros((30, 3))}),
                                           ["unknown array 'run5/model/user_factors_'"]),
    "missing cells out of range": (lambda m, a: a.update({"run0/missing_cells": np.array([10**9])}),
                                   ["run0/missing_cells", "outside"]),
    "texts of the wrong length": (lambda m, a: a.update({"data/texts": np.array(["a", "b"])}), ["data/texts"]),
    "image shape against columns": (lambda m, a: m["dataset"].update(image_shape=[3, 3]), ["image_shape"]),
}


@pytest.mark.parametrize("case", sorted(PROJECT_CASES))
def test_a_crafted_project_is_one_sentence_naming_the_file(case, project):
    edit, words = PROJECT_CASES[case]
    craft_project(project, edit)
    message = refused(open_project, project, *words)
    assert message.startswith(("p.mfproj", "arrays.npz")), message


def test_deep_json_in_a_project_is_refused_without_recursion(project):
    project.write_text('{"format": "mfstudio-project-2", "view": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(open_project, project, "nested")


# ------------------------------------------------------------------ the declarations match the models

def _variants(cls):
    variants = [{}]
    for name, choices in cls.param_choices.items():
        variants += [{name: choice} for choice in choices if choice is not None]
    for name, default in cls.defaults.items():
        if isinstance(default, bool):
            variants.append({name: not default})
    return variants


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_saves_only_declared_arrays_and_scalars_and_loads_back(name, tmp_path):
    from mfstudio.savefiles import ARRAY_DIMS, FITTED_ARRAYS, FITTED_SCALARS

    cls = MODELS[name]
    small = {k: v for k, v in (("n_epochs", 2), ("n_factors", 3)) if k in cls.defaults}
    fitted_any = 0
    # Grids (dense, images) hold the same fitted names as documents, and take seconds each on a sparse table.
    kinds = [kind for kind in cls.kinds if kind in ("explicit", "implicit", "documents")] or list(cls.kinds)
    for number, variant in enumerate(_variants(cls)):
        for kind in kinds if not variant else kinds[:1]:
            data = ratings(timed=True)
            if kind != "explicit":
                data = Dataset(kind=kind, rows=data.rows, cols=data.cols, values=data.values / 5,
                               row_ids=data.row_ids, col_ids=data.col_ids)
            try:
                model = cls(**small, **variant).fit(data)
            except (ValueError, TypeError):
                continue  # a variant this data does not allow (the contract tests cover those)
            fitted_any += 1
            assert set(model._fitted_arrays()) <= set(FITTED_ARRAYS[name]), variant
            assert set(model._fitted_scalars()) <= set(FITTED_SCALARS[name]), variant
            assert set(FITTED_ARRAYS[name]) <= set(ARRAY_DIMS)
            folder = tmp_path / f"{number}-{kind}"
            loaded = load_model(model.save(folder))
            np.testing.assert_allclose(loaded.predict([0, 1, 2], [3, 4, 5]), model.predict([0, 1, 2], [3, 4, 5]),
                                       rtol=1e-6)
    assert fitted_any


def test_a_project_with_a_null_view_opens_with_an_empty_view(project):
    """Found by the fuzz test: "view": null came back as None, and the window calls view.get(...)."""
    craft_project(project, lambda m, a: m.update(view=None))
    assert open_project(project)[2] == {}


def test_the_window_saves_over_its_own_project_but_never_over_a_foreign_file(fitted, qtbot, tmp_path):
    """Save Project (the dialog has asked): replaces an earlier project, refuses a foreign file in one sentence."""
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QSettings

    from mfstudio.gui.app import create_app
    from mfstudio.gui.main_window import MainWindow

    create_app()
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.set_dataset(fitted.train_, [Run(name="sgd #1", model=fitted, status="finished")])
    target = tmp_path / "session.mfproj"
    assert window.save_project_file(str(target)) == target
    assert window.save_project_file(str(target)) == target
    assert len(open_project(target)[1]) == 1
    foreign = tmp_path / "mine.mfproj"
    foreign.write_text("not a project")
    assert window.save_project_file(str(foreign)) is None
    assert foreign.read_text() == "not a project"
    assert "never replaces" in window._last_error[0]
