"""Sessions: a dataset and the runs fitted on it, saved as JSON + .npz (never pickle).

A :class:`Run` is one fit: the model (with its parameters and fitted
arrays), its per-epoch history, the split it was evaluated on, its final
metrics and the baseline's on the same split. The GUI keeps a list of runs
so their curves overlay; :func:`save_project` / :func:`open_project` write
and read all of it, so a saved project reopens as it was.

Layout of a project ``NAME.mfproj`` (a JSON manifest) beside ``NAME.npz``
(every array: the dataset's triples and id maps, each run's fitted arrays
and split indices). ``np.load(..., allow_pickle=False)`` reads it: a project
file from a stranger cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .data.dataset import Dataset
from .data.errors import DataError
from .models.base import FitStep

__all__ = ["Run", "save_project", "open_project", "PROJECT_SUFFIX", "dataset_arrays", "dataset_from_arrays"]

PROJECT_SUFFIX = ".mfproj"
PROJECT_FORMAT = "mfstudio-project-1"


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
        The baseline's metrics on the same split (the dashed line).
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
    base = Path(path)
    if base.suffix in (PROJECT_SUFFIX, ".npz"):
        base = base.with_suffix("")
    return base.with_suffix(PROJECT_SUFFIX), base.with_suffix(".npz")


def save_project(path, dataset: Dataset, runs: list[Run], view_state: dict | None = None) -> Path:
    """Write the session to ``PATH.mfproj`` + ``PATH.npz``; returns the manifest path.

    Runs still going are not saved (their state is not final).
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
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(arrays_path, **arrays)
    manifest_path.write_text(json.dumps(manifest, indent=2, default=_json_default))
    return manifest_path


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot save {type(value).__name__} in a project")


def open_project(path) -> tuple[Dataset, list[Run], dict]:
    """Read a project written by :func:`save_project`.

    Returns
    -------
    (dataset, runs, view_state)

    Raises
    ------
    DataError
        Missing or damaged files, or a file that is not an mfstudio project.
    """
    from .models import MODELS

    manifest_path, arrays_path = _paths(path)
    for p in (manifest_path, arrays_path):
        if not p.is_file():
            raise DataError("no such file", p, fix=f"open the {PROJECT_SUFFIX} file saved by mfstudio, with its .npz beside it")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise DataError("this is not an mfstudio project (not JSON)", manifest_path, fix="choose a file saved with Save Project") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PROJECT_FORMAT:
        raise DataError("this is not an mfstudio project", manifest_path, fix="choose a file saved with Save Project")
    try:
        with np.load(arrays_path, allow_pickle=False) as arrays:
            dataset = dataset_from_arrays(arrays, manifest["dataset"])
            runs = [_restore_run(arrays, meta, k, dataset, MODELS) for k, meta in enumerate(manifest["runs"])]
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"the project's arrays are damaged or incomplete ({exc})", arrays_path,
                        fix="save the project again") from None
    return dataset, runs, manifest.get("view", {})


def _restore_run(arrays, meta: dict, k: int, dataset: Dataset, models: dict) -> Run:
    from .models.base import as_interactions

    cls = models.get(meta["model"])
    if cls is None:
        raise KeyError(f"unknown model {meta['model']!r}")
    model = cls(**meta["params"])
    prefix = f"run{k}/"
    for key in arrays.files:
        if key.startswith(prefix + "model/"):
            setattr(model, key[len(prefix + "model/"):], arrays[key])
    train_index = arrays[prefix + "train_index"] if prefix + "train_index" in arrays.files else None
    test_index = arrays[prefix + "test_index"] if prefix + "test_index" in arrays.files else None
    train = dataset.subset(train_index) if train_index is not None else dataset
    if prefix + "missing_cells" in arrays.files:  # a cell holdout: those cells are unknown, not zero
        train = replace(train, missing_cells=arrays[prefix + "missing_cells"])
    # train_ is every entry the model was given (the seen items); projects saved before "fit_kind" existed
    # held the positives there, and get the full training split back, which is what "seen" should have been.
    model.train_ = train
    if meta.get("fit_kind", meta.get("train_kind")) == "implicit" and train.kind == "explicit":
        model.fit_data_ = as_interactions(train, model.params.get("threshold", 4.0))
    else:
        model.fit_data_ = train
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
        reference_name=str(meta.get("reference_name") or ""),
    )
