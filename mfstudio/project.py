"""Sessions: a dataset and the runs fitted on it, saved as JSON + .npz (never pickle).

A :class:`Run` is one fit: the model (with its parameters and fitted
arrays), its per-epoch history, the split it was evaluated on, its final
metrics and the baseline's on the same split. The GUI keeps a list of runs
so their curves overlay; :func:`save_project` / :func:`open_project` write
and read all of it, so a saved project reopens as it was.

Layout of a project: ``NAME.mfproj`` (a JSON manifest) and, in a folder of
its own beside it, ``NAME.mfproj-arrays/arrays.npz`` (every array: the
dataset's triples and id maps, each run's fitted arrays and split indices).
Projects saved before (``NAME.mfproj`` + ``NAME.npz``) still open.
``np.load(..., allow_pickle=False)`` reads the arrays, after
:mod:`mfstudio.savefiles` has checked the manifest and the arrays' headers
against the schema: a project file from a stranger cannot run code, plant
attributes or allocate more memory than there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .data.dataset import Dataset
from .data.errors import DataError
from .models.base import FitStep
from .savefiles import (
    KINDS, MODEL_ARRAYS, PROJECT_ARRAYS_FOLDER_SUFFIX, Schema, json_default, model_array_spec, read_arrays,
    read_manifest, write_save,
)

__all__ = ["Run", "save_project", "open_project", "PROJECT_SUFFIX", "dataset_arrays", "dataset_from_arrays"]

PROJECT_SUFFIX = ".mfproj"
PROJECT_FORMAT = "mfstudio-project-2"
#: Format tags this version opens: 1 kept the arrays in ``NAME.npz`` beside the manifest.
PROJECT_FORMATS = ("mfstudio-project-1", "mfstudio-project-2")
#: What every project's format tag starts with (how a save recognises an earlier one to replace).
PROJECT_FORMAT_PREFIX = "mfstudio-project-"


@dataclass(eq=False)
class Run:
    """One fit and everything needed to show and compare it.

    Attributes
    ----------
    name : str
        Label in the run history ("sgd #2").
    model : mfstudio.models.Model
        The fitted (or partly fitted, when cancelled) model.
    split_description : str
        How train and test were made.
    train_index, test_index : ndarray of int64
        Entries of the session's dataset in each part.
    metrics : dict
        Final test metrics.
    baseline_metrics : dict
        The baseline's metrics on the same split (under k-fold: its mean over
        the same folds as ``metrics``).
    curve_reference_metrics : dict
        The reference's metrics on the fold whose curves are drawn (the
        first), for the dashed line beside them; empty: ``baseline_metrics``.
    baseline_curve : list of dict
        The baseline's per-epoch validation metrics, for drawing it.
    protocol : str
        One line saying how the run was evaluated and why (set by
        :mod:`mfstudio.experiment`), e.g. "fit on all data: documents are
        decomposed, not predicted".
    reference_name : str
        What the dashed reference line is ("baseline (mean + biases)").
    metrics_spread : dict
        Standard deviation of each metric over the folds of a k-fold run.
    experiment : mfstudio.experiment.Experiment or None
        The experiment that made the run (not saved in projects).
    status : str
        "running", "finished", "cancelled" or "failed".
    visible : bool
        Whether its curves are drawn.
    """

    name: str
    model: object
    split_description: str = ""
    train_index: np.ndarray | None = None
    test_index: np.ndarray | None = None
    metrics: dict = field(default_factory=dict)
    baseline_metrics: dict = field(default_factory=dict)
    curve_reference_metrics: dict = field(default_factory=dict)
    protocol: str = ""
    reference_name: str = ""
    metrics_spread: dict = field(default_factory=dict)
    experiment: object = field(default=None, repr=False)
    status: str = "running"
    visible: bool = True

    @property
    def history(self) -> list[FitStep]:
        return self.model.history_

    @property
    def params(self) -> dict:
        return self.model.params

    def describe_params(self) -> str:
        """The parameters that differ from the model's defaults, short."""
        changed = {k: v for k, v in self.params.items() if self.model.defaults.get(k) != v}
        shown = changed or {k: self.params[k] for k in list(self.params)[:3]}
        return ", ".join(f"{k}={_short(v)}" for k, v in shown.items())


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ----------------------------------------------------------------- dataset I/O

_DATASET_ARRAYS = ("rows", "cols", "values", "row_ids", "col_ids", "timestamps", "item_titles", "item_genres")


def dataset_arrays(ds: Dataset, prefix: str = "data/") -> tuple[dict, dict]:
    """The dataset as (arrays for npz, JSON-ready metadata)."""
    arrays = {}
    for name in _DATASET_ARRAYS:
        value = getattr(ds, name)
        if value is not None:
            arrays[prefix + name] = np.asarray(value)
    if ds.texts is not None:
        arrays[prefix + "texts"] = np.asarray(ds.texts, dtype=str)
    for key, value in ds.truth.items():
        value = np.asarray(value)
        if value.dtype.kind in "biufU":
            arrays[f"{prefix}truth/{key}"] = value
    if ds.row_labels is not None:
        arrays[prefix + "row_labels"] = np.asarray(ds.row_labels, dtype=str)
    meta = {
        "kind": ds.kind,
        "name": ds.name,
        "source": ds.source,
        "rating_scale": list(ds.rating_scale) if ds.rating_scale else None,
        "image_shape": list(ds.image_shape) if ds.image_shape else None,
        "notes": list(ds.notes),
        "kind_reason": ds.kind_reason,
        "kind_choices": list(getattr(ds, "kind_choices", ()) or ()),
        "row_label_name": ds.row_label_name,
    }
    return arrays, meta


def dataset_from_arrays(arrays, meta: dict, prefix: str = "data/") -> Dataset:
    """Inverse of :func:`dataset_arrays`."""
    files = set(arrays.files) if hasattr(arrays, "files") else set(arrays)

    def get(name):
        key = prefix + name
        return arrays[key] if key in files else None

    texts = get("texts")
    truth = {k[len(prefix) + 6:]: arrays[k] for k in files if k.startswith(prefix + "truth/")}
    return Dataset(
        kind=meta["kind"],
        rows=get("rows"), cols=get("cols"), values=get("values"),
        row_ids=get("row_ids"), col_ids=get("col_ids"),
        timestamps=get("timestamps"),
        rating_scale=tuple(meta["rating_scale"]) if meta.get("rating_scale") else None,
        item_titles=get("item_titles"), item_genres=get("item_genres"),
        texts=None if texts is None else [str(t) for t in texts],
        image_shape=tuple(meta["image_shape"]) if meta.get("image_shape") else None,
        name=meta.get("name", ""), source=meta.get("source"), notes=list(meta.get("notes", [])),
        truth=truth,
        kind_reason=str(meta.get("kind_reason") or ""),
        kind_choices=tuple(str(k) for k in meta.get("kind_choices") or ()),
        row_labels=get("row_labels"),
        row_label_name=meta.get("row_label_name"),
    )


# ------------------------------------------------------------------ projects

def _paths(path) -> tuple[Path, Path]:
    """``(manifest, arrays)`` of the current layout: ``NAME.mfproj`` + ``NAME.mfproj-arrays/arrays.npz``."""
    base = Path(path)
    if base.suffix in (PROJECT_SUFFIX, ".npz"):
        base = base.with_suffix("")
    manifest_path = base.with_name(base.name + PROJECT_SUFFIX)
    return manifest_path, manifest_path.with_name(manifest_path.name + PROJECT_ARRAYS_FOLDER_SUFFIX) / MODEL_ARRAYS


def _old_arrays_path(manifest_path: Path) -> Path:
    """Where ``mfstudio-project-1`` kept the arrays: ``NAME.npz`` beside ``NAME.mfproj``."""
    return manifest_path.with_suffix(".npz")


def save_project(path, dataset: Dataset, runs: list[Run], view_state: dict | None = None,
                 overwrite: bool = False) -> Path:
    """Write the session to ``NAME.mfproj`` + ``NAME.mfproj-arrays/arrays.npz``; returns the manifest path.

    Runs still going are not saved (their state is not final). Each file is
    written under a temporary name and moved into place; a file that is not
    an mfstudio project is never replaced, and an earlier project only with
    ``overwrite`` (the window asks first).

    Raises
    ------
    DataError
        The name is taken by another file, by an earlier project (without
        ``overwrite``), or the folder cannot be written.
    """
    manifest_path, arrays_path = _paths(path)
    arrays, data_meta = dataset_arrays(dataset)
    run_meta = []
    for k, run in enumerate(r for r in runs if r.status != "running"):
        model = run.model
        prefix = f"run{k}/"
        for key, value in model._fitted_arrays().items():
            arrays[prefix + "model/" + key] = value
        if run.train_index is not None:
            arrays[prefix + "train_index"] = run.train_index
            arrays[prefix + "test_index"] = run.test_index
        missing = getattr(getattr(model, "train_", None), "missing_cells", None)
        if missing is not None:
            arrays[prefix + "missing_cells"] = missing
        run_meta.append({
            "name": run.name,
            "model": model.name,
            "params": model.params,
            "scalars": model._fitted_scalars(),
            "history": [step.as_dict() for step in model.history_],
            "split": run.split_description,
            "metrics": run.metrics,
            "baseline_metrics": run.baseline_metrics,
            "curve_reference_metrics": run.curve_reference_metrics,
            "metrics_spread": run.metrics_spread,
            "protocol": run.protocol,
            "reference_name": run.reference_name,
            "status": run.status,
            "visible": run.visible,
            "train_kind": getattr(model, "train_", dataset).kind,
            # What the fit learned from; fit_data_ is derived again on opening (ranking models on ratings: >= threshold).
            "fit_kind": getattr(model, "fit_data_", getattr(model, "train_", dataset)).kind,
        })
    manifest = {
        "format": PROJECT_FORMAT,
        "dataset": data_meta,
        "runs": run_meta,
        "view": view_state or {},
    }
    return write_save(manifest_path, arrays_path, manifest, arrays, format_prefix=PROJECT_FORMAT_PREFIX,
                      what="project", overwrite=overwrite, force_hint="choose a new name, or confirm replacing it",
                      json_default=json_default)


def open_project(path) -> tuple[Dataset, list[Run], dict]:
    """Read a project written by :func:`save_project` (or by the older ``NAME.mfproj`` + ``NAME.npz`` layout).

    The manifest and the arrays' headers are checked against the schema of
    :mod:`mfstudio.savefiles` before anything is read into memory or built.

    Returns
    -------
    (dataset, runs, view_state)

    Raises
    ------
    DataError
        Missing or damaged files, a file that is not an mfstudio project, or
        anything the schema refuses.
    """
    manifest_path, arrays_path = _paths(path)
    fix = f"open the {PROJECT_SUFFIX} file saved by mfstudio, with its {PROJECT_ARRAYS_FOLDER_SUFFIX[1:]} folder beside it"
    if not manifest_path.is_file():
        raise DataError("no such file", manifest_path, fix=fix)
    manifest = read_manifest(manifest_path, "mfstudio project", fix="choose a file saved with Save Project")
    if manifest.get("format") not in PROJECT_FORMATS:
        raise DataError("this is not an mfstudio project (no format tag of one)", manifest_path,
                        fix="choose a file saved with Save Project")
    if manifest["format"] == "mfstudio-project-1":
        arrays_path = _old_arrays_path(manifest_path)
    schema, sizes_of = _check_project_manifest(manifest, manifest_path)
    arrays = read_arrays(arrays_path, "project", sizes_of, manifest.get("arrays_sha256"), fix="save the project again")
    _check_project_values(schema, manifest, arrays, sizes_of.sizes)
    try:
        dataset = dataset_from_arrays(arrays, manifest["dataset"])
    except ValueError as exc:
        raise DataError(f"the project's dataset is inconsistent ({getattr(exc, 'problem', exc)})", arrays_path,
                        fix="save the project again") from None
    from .models import MODELS

    runs = [_restore_run(arrays, meta, k, dataset, MODELS, manifest_path) for k, meta in enumerate(manifest["runs"])]
    return dataset, runs, manifest.get("view") or {}


_RUN_FIELDS = ("name", "model", "params", "scalars", "history", "split", "metrics", "baseline_metrics", "status",
               "visible")
_RUN_OPTIONAL = ("metrics_spread", "curve_reference_metrics", "protocol", "reference_name", "train_kind", "fit_kind")
_DATASET_FIELDS = ("kind", "name", "source", "rating_scale", "image_shape", "notes")
_DATASET_OPTIONAL = ("kind_reason", "kind_choices", "row_label_name")
_SAVED_STATUSES = ("finished", "cancelled", "failed")


class _MemberCheck:
    """The header check :func:`read_arrays` calls; keeps the named sizes for the value checks."""

    def __init__(self, schema: Schema, expected: dict, manifest: dict):
        self.schema, self.expected, self.manifest = schema, expected, manifest
        self.sizes: dict = {}

    def __call__(self, members: dict) -> None:
        expected = dict(self.expected)
        for name in members:  # truth arrays: any numbers or texts, any shape (the budget bounds them)
            if name.startswith("data/truth/"):
                shape, _ = members[name]
                expected[name] = (False, "biufU", tuple(f"truth{axis}:{name}" for axis in range(len(shape))))
        self.sizes.update(self.schema.members(members, expected))
        image_shape = self.manifest["dataset"].get("image_shape")
        if image_shape and image_shape[0] * image_shape[1] != self.sizes["I"]:
            self.schema.fail(f"dataset.image_shape is {image_shape[0]} x {image_shape[1]} pixels, but the data "
                             f"have {self.sizes['I']:,} columns")


def _check_project_manifest(manifest: dict, path: Path):
    from .models import MODELS

    schema = Schema(path, "project", fix="save the project again with mfstudio")
    schema.obj(manifest, "the manifest", required=("format", "dataset", "runs"), optional=("view", "arrays_sha256"))
    schema.string(manifest.get("arrays_sha256"), "arrays_sha256", optional=True, max_length=64)
    meta = schema.obj(manifest["dataset"], "dataset", required=_DATASET_FIELDS, optional=_DATASET_OPTIONAL)
    schema.string(meta["kind"], "dataset.kind", choices=KINDS)
    schema.string(meta["name"], "dataset.name")
    schema.string(meta["source"], "dataset.source", optional=True)
    schema.rating_scale(meta["rating_scale"], "dataset.rating_scale")
    schema.image_shape(meta["image_shape"], "dataset.image_shape")
    for number, note in enumerate(schema.array(meta["notes"], "dataset.notes", 10_000)):
        schema.string(note, f"dataset.notes[{number}]")
    schema.string(meta.get("kind_reason"), "dataset.kind_reason", optional=True)
    for number, kind in enumerate(schema.array(meta.get("kind_choices") or [], "dataset.kind_choices", 10)):
        schema.string(kind, f"dataset.kind_choices[{number}]", choices=KINDS)
    schema.string(meta.get("row_label_name"), "dataset.row_label_name", optional=True)

    expected = _dataset_arrays_spec()
    runs = schema.array(manifest["runs"], "runs", 10_000)
    for k, run in enumerate(runs):
        where = f"runs[{k}]"
        schema.obj(run, where, required=_RUN_FIELDS, optional=_RUN_OPTIONAL)
        name = schema.string(run["model"], where + ".model", choices=list(MODELS))
        schema.params(run["params"], where + ".params", MODELS[name])
        schema.scalars(run["scalars"], where + ".scalars", name)
        schema.history(run["history"], where + ".history")
        for text in ("name", "split"):
            schema.string(run[text], f"{where}.{text}")
        for text in ("protocol", "reference_name"):
            schema.string(run.get(text), f"{where}.{text}", optional=True)
        for field_name in ("metrics", "baseline_metrics"):
            schema.metrics(run[field_name], f"{where}.{field_name}")
        schema.metrics(run.get("metrics_spread") or {}, where + ".metrics_spread")
        schema.metrics(run.get("curve_reference_metrics") or {}, where + ".curve_reference_metrics")
        schema.string(run["status"], where + ".status", choices=_SAVED_STATUSES)
        schema.boolean(run["visible"], where + ".visible")
        for kind in ("train_kind", "fit_kind"):
            schema.string(run.get(kind), f"{where}.{kind}", choices=KINDS + (None,), optional=True)
        prefix = f"run{k}/"
        # Per run: its own factor count (k<n>) and sample count; rows and columns are the dataset's.
        for array_name, (required, kinds, dims) in model_array_spec(name, prefix + "model/").items():
            expected[array_name] = (required, kinds, tuple(d if d in ("U", "I") else f"{d}{k}" for d in dims))
        expected[prefix + "train_index"] = (False, "iu", (f"train{k}",))
        expected[prefix + "test_index"] = (False, "iu", (f"test{k}",))
        expected[prefix + "missing_cells"] = (False, "iu", (f"missing{k}",))

    view = schema.obj(manifest.get("view") or {}, "view", optional=("tab", "method", "current_run"))
    # The window checks the run index and the tab against what exists (a running run is not saved).
    schema.integer(view.get("tab"), "view.tab", -1, 1000, optional=True)
    schema.string(view.get("method"), "view.method", choices=list(MODELS) + [None], optional=True)
    schema.integer(view.get("current_run"), "view.current_run", 0, 2**31, optional=True)
    return schema, _MemberCheck(schema, expected, manifest)


def _dataset_arrays_spec() -> dict:
    return {
        "data/rows": (True, "iu", ("N",)), "data/cols": (True, "iu", ("N",)), "data/values": (True, "fiu", ("N",)),
        "data/row_ids": (True, "iuU", ("U",)), "data/col_ids": (True, "iuU", ("I",)),
        "data/timestamps": (False, "iu", ("N",)),
        "data/item_titles": (False, "U", ("I",)), "data/item_genres": (False, "U", ("I",)),
        "data/texts": (False, "U", ("U",)), "data/row_labels": (False, "U", ("U",)),
    }


def _check_project_values(schema: Schema, manifest: dict, arrays: dict, sizes: dict) -> None:
    schema.indices(arrays["data/rows"], "data/rows", sizes["U"])
    schema.indices(arrays["data/cols"], "data/cols", sizes["I"])
    schema.finite(arrays["data/values"], "data/values")
    for k in range(len(manifest["runs"])):
        prefix = f"run{k}/"
        has_train, has_test = prefix + "train_index" in arrays, prefix + "test_index" in arrays
        if has_train != has_test:
            schema.fail(f"run {k + 1} has only one of its train and test indices")
        for part in ("train_index", "test_index"):
            if prefix + part in arrays:
                schema.indices(arrays[prefix + part], prefix + part, sizes["N"])
        if prefix + "missing_cells" in arrays:
            schema.indices(arrays[prefix + "missing_cells"], prefix + "missing_cells", sizes["U"] * sizes["I"])
        for name, values in arrays.items():
            if name.startswith(prefix + "model/"):
                schema.finite(values, name)


def _restore_run(arrays: dict, meta: dict, k: int, dataset: Dataset, models: dict, path=None) -> Run:
    from .models.base import as_interactions

    cls = models[meta["model"]]
    model = cls(**meta["params"])
    prefix = f"run{k}/"
    for key, value in arrays.items():
        if key.startswith(prefix + "model/"):
            setattr(model, key[len(prefix + "model/"):], value)
    train_index = arrays.get(prefix + "train_index")
    test_index = arrays.get(prefix + "test_index")
    try:
        train = dataset.subset(train_index) if train_index is not None else dataset
        if prefix + "missing_cells" in arrays:  # a cell holdout: those cells are unknown, not zero
            train = replace(train, missing_cells=arrays[prefix + "missing_cells"])
        # train_ is every entry the model was given (the seen items); projects saved before "fit_kind" existed
        # held the positives there, and get the full training split back, which is what "seen" should have been.
        model.train_ = train
        if meta.get("fit_kind", meta.get("train_kind")) == "implicit" and train.kind == "explicit":
            model.fit_data_ = as_interactions(train, model.params.get("threshold", 4.0))
        else:
            model.fit_data_ = train
    except (ValueError, TypeError) as exc:
        raise DataError(f"run {k + 1} ('{meta['name'][:40]}') is inconsistent ({getattr(exc, 'problem', exc)})",
                        path, fix="save the project again") from None
    for key, value in meta["scalars"].items():
        setattr(model, key, value)
    model.history_ = [
        FitStep(h["epoch"], len(meta["history"]), h["train_loss"],
                {key: v for key, v in h.items() if key not in ("epoch", "train_loss", "seconds")}, h["seconds"])
        for h in meta["history"]
    ]
    return Run(
        name=meta["name"], model=model, split_description=meta["split"],
        train_index=train_index, test_index=test_index, metrics=meta["metrics"],
        baseline_metrics=meta["baseline_metrics"], status=meta["status"], visible=meta["visible"],
        metrics_spread=dict(meta.get("metrics_spread") or {}), protocol=str(meta.get("protocol") or ""),
        curve_reference_metrics=dict(meta.get("curve_reference_metrics") or {}),
        reference_name=str(meta.get("reference_name") or ""),
    )
