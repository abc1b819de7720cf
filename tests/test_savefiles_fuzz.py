"""Issue 9 (part C), fuzzed: mutated saved models and projects load as a DataError or as a working object.

Each example takes a valid save, mutates it (a manifest value replaced by
random JSON, a key dropped or added, an array's dtype or shape changed, an
array dropped or added, the archive truncated or a byte flipped) and loads
it. The only outcomes allowed are :class:`DataError` or an object that
predicts and recommends without raising. Half of the mutated archives get a
matching hash in the manifest (what a stranger crafting files would do), so
the schema, not only the hash, is what is tested.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfstudio.data.dataset import Dataset
from mfstudio.data.errors import DataError
from mfstudio.models import BPR, BiasedSGD, load_model
from mfstudio.project import Run, open_project, save_project

#: 120 examples per test keep the file near 20 s; MFSTUDIO_FUZZ_EXAMPLES=1500 for a longer hunt.
SETTINGS = settings(max_examples=int(os.environ.get("MFSTUDIO_FUZZ_EXAMPLES", 120)), deadline=None,
                    suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _ratings(seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    cells = rng.choice(24 * 16, 150, replace=False)
    return Dataset(kind="explicit", rows=cells // 16, cols=cells % 16, values=rng.integers(1, 6, 150).astype(float),
                   row_ids=np.arange(24) + 1, col_ids=np.arange(16) + 101, rating_scale=(1, 5))


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Valid saves to mutate: a rating model, a ranking model, and a project holding both."""
    root = tmp_path_factory.mktemp("originals")
    data = _ratings()
    sgd = BiasedSGD(n_epochs=2, n_factors=3).fit(data)
    bpr = BPR(n_epochs=2, n_factors=3).fit(data)
    sgd.save(root / "sgd")
    bpr.save(root / "bpr")
    from mfstudio.data.splits import random_split

    split = random_split(data, 0.25, seed=0)
    runs = [Run(name="sgd", model=BiasedSGD(n_epochs=1, n_factors=2).fit(split.train), train_index=split.train_index,
                test_index=split.test_index, metrics={"rmse": 1.1}, status="finished"),
            Run(name="bpr", model=bpr, status="cancelled")]
    save_project(root / "p", data, runs, {"tab": 0, "method": "sgd", "current_run": 1})
    return root


def _paths(tree: list) -> list:
    """Every (container, key) place in a JSON tree."""
    places, stack = [], [tree[0]]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            places.append((node, key))
            stack.append(child)
    return places


@st.composite
def manifest_mutation(draw, manifest: dict) -> dict:
    manifest = json.loads(json.dumps(manifest))
    for _ in range(draw(st.integers(1, 3))):
        places = _paths([manifest])
        container, key = places[draw(st.integers(0, len(places) - 1))]
        action = draw(st.sampled_from(["replace", "drop", "add", "number"]))
        if action == "replace":
            container[key] = draw(json_values)
        elif action == "drop" and isinstance(container, dict):
            del container[key]
        elif action == "add" and isinstance(container, dict):
            container[draw(st.sampled_from(["recommend", "predict", "__class__", "x_", "extra"]))] = draw(json_values)
        elif action == "number" and isinstance(container[key], (int, float)) and not isinstance(container[key], bool):
            container[key] = draw(st.sampled_from([-1, 0, 10**9, -10**9, 1.5, float("nan"), float("inf")]))
    return manifest


DTYPES = ["int8", "int32", "int64", "uint16", "float16", "float32", "float64", "bool", "U3", "complex64"]


@st.composite
def arrays_mutation(draw, arrays: dict) -> dict:
    arrays = dict(arrays)
    names = sorted(arrays)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        action = draw(st.sampled_from(["dtype", "shape", "drop", "add", "values", "empty"]))
        if name not in arrays and action != "add":
            continue
        if action == "dtype":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    arrays[name] = arrays[name].astype(draw(st.sampled_from(DTYPES)))
                except ValueError:  # texts that are not numbers: keep the array
                    pass
        elif action == "shape":
            value = arrays[name]
            arrays[name] = draw(st.sampled_from([value.ravel()[: max(value.size - 1, 0)], value.reshape(-1, 1),
                                                 np.concatenate([value.ravel(), value.ravel()[:1]]), value.T.copy()]))
        elif action == "drop":
            del arrays[name]
        elif action == "add":
            arrays[draw(st.sampled_from(["model/recommend", name + "x", "data/texts", "run9/train_index"]))] = \
                np.arange(draw(st.integers(0, 30)))
        elif action == "values" and arrays[name].size and arrays[name].dtype.kind in "iuf":
            value = arrays[name].copy()
            flat = value.reshape(-1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a planted value wraps around in small integer types
                planted = np.asarray(draw(st.sampled_from([-1, 10**6, 0, 2**31 - 1]))).astype(value.dtype)
            flat[draw(st.integers(0, flat.size - 1))] = planted
            arrays[name] = value
        elif action == "empty":
            arrays[name] = arrays[name][:0]
    return arrays


def _archive_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@st.composite
def mutated_save(draw, manifest: dict, arrays: dict):
    """(manifest text, archive bytes) after one kind of mutation."""
    target = draw(st.sampled_from(["manifest", "arrays", "bytes", "both"]))
    new_manifest = draw(manifest_mutation(manifest)) if target in ("manifest", "both") else dict(manifest)
    if target in ("arrays", "both"):
        archive = _archive_bytes(draw(arrays_mutation(arrays)))
    else:
        archive = _archive_bytes(arrays)
    if target == "bytes":
        archive = bytearray(archive)
        if draw(st.booleans()):
            del archive[draw(st.integers(0, len(archive) - 1)):]
        else:
            archive[draw(st.integers(0, len(archive) - 1))] ^= draw(st.integers(1, 255))
        archive = bytes(archive)
    if isinstance(new_manifest, dict) and "arrays_sha256" in new_manifest and draw(st.booleans()):
        new_manifest["arrays_sha256"] = hashlib.sha256(archive).hexdigest()
    return json.dumps(new_manifest), archive


def _read(manifest_path: Path, arrays_path: Path):
    with np.load(arrays_path, allow_pickle=False) as archive:
        return json.loads(manifest_path.read_text()), dict(archive)


def _works(model) -> None:
    """What a valid loaded model must do without raising."""
    n_users, n_items = model.train_.n_rows, model.train_.n_cols
    if n_users and n_items:
        model.predict(np.arange(min(n_users, 3)), np.arange(min(n_items, 3)))
        model.recommend(np.arange(min(n_users, 2)), n=3)


@pytest.mark.parametrize("name", ["sgd", "bpr"])
def test_mutated_saved_models_load_as_data_error_or_a_working_model(name, originals):
    manifest, arrays = _read(originals / name / "model.json", originals / name / "arrays.npz")
    work = Path(tempfile.mkdtemp(prefix="mfstudio-fuzz-"))
    outcomes = {"refused": 0, "loaded": 0}

    @SETTINGS
    @given(mutated_save(manifest, arrays))
    def check(save):
        text, archive = save
        folder = work / "m"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "model.json").write_text(text)
        (folder / "arrays.npz").write_bytes(archive)
        try:
            model = load_model(folder)
        except DataError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
            return
        _works(model)
        outcomes["loaded"] += 1

    try:
        check()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert outcomes["refused"] > 0


def test_mutated_projects_open_as_data_error_or_working_runs(originals):
    manifest_path = originals / "p.mfproj"
    manifest, arrays = _read(manifest_path, originals / "p.mfproj-arrays" / "arrays.npz")
    work = Path(tempfile.mkdtemp(prefix="mfstudio-fuzz-"))
    outcomes = {"refused": 0, "opened": 0}

    @SETTINGS
    @given(mutated_save(manifest, arrays))
    def check(save):
        text, archive = save
        shutil.rmtree(work, ignore_errors=True)
        (work / "p.mfproj-arrays").mkdir(parents=True)
        (work / "p.mfproj").write_text(text)
        (work / "p.mfproj-arrays" / "arrays.npz").write_bytes(archive)
        try:
            dataset, runs, view = open_project(work / "p.mfproj")
        except DataError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
            return
        assert isinstance(view, dict)
        for run in runs:
            _works(run.model)
            run.describe_params()
        outcomes["opened"] += 1

    try:
        check()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert outcomes["refused"] > 0
