"""Factors in other tools' layouts: Spark's ALSModel folder and benfred/implicit's ``.npz``.

So that a model trained elsewhere opens in mfstudio's views, and one
trained here is used elsewhere:

- **Spark layout** (:func:`export_spark`, :func:`import_spark`): the folder
  ``ALSModel.save`` writes, ``metadata/part-00000`` (one JSON line) and
  ``userFactors/``, ``itemFactors/`` Parquet with the columns ``id`` (int32)
  and ``features`` (array of float32). ``ALSModel.load`` reads what
  :func:`export_spark` writes. Spark ids are the raw ids when they are int32
  integers, else mfstudio's internal ids; ``mfstudio/users.parquet`` and
  ``mfstudio/items.parquet`` (``id``, ``raw_id``) record the mapping.
- **implicit layout** (:func:`export_implicit`, :func:`import_implicit`):
  the ``.npz`` of ``AlternatingLeastSquares.save`` (``user_factors``,
  ``item_factors``, ``factors``, ``regularization``, ``alpha``,
  ``iterations``, ``dtype``...). It has no ids: row ``u`` is row ``u`` of
  the user-item matrix it was fitted on. Exports add ``user_ids`` and
  ``item_ids`` (text) so the import can map them; without them, rows are
  taken in mfstudio's order of the dataset given (raw ids as loaded).

Only pyarrow and numpy are needed: Spark itself is not started.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..data.errors import DataError
from .engine import spark_ids

__all__ = ["export_spark", "import_spark", "export_implicit", "import_implicit"]


def _model_for(data, user_factors, item_factors, *, implicit: bool, params: dict):
    """An mfstudio ALS model holding given factors, fitted on ``data`` as far as every view is concerned."""
    from ..models.als import ALS, ImplicitALS

    cls = ImplicitALS if implicit else ALS
    model = cls(**{k: v for k, v in params.items() if k in cls.defaults})
    model.validate_params()
    model._validate(data)
    model.train_ = data
    model.fit_data_ = model._prepare(data)
    model.user_factors_ = np.ascontiguousarray(user_factors, dtype=np.float32)
    model.item_factors_ = np.ascontiguousarray(item_factors, dtype=np.float32)
    model.fit_seconds_ = 0.0
    model.history_ = []
    return model


def _place(ids_in_file: np.ndarray, vectors: np.ndarray, wanted: np.ndarray, what: str, source) -> np.ndarray:
    """Rows of ``vectors`` (keyed by ``ids_in_file``) at the positions of ``wanted``; zeros for missing ids."""
    import pandas as pd

    out = np.zeros((wanted.size, vectors.shape[1]), dtype=np.float32)
    where = pd.Index(ids_in_file).get_indexer(wanted)
    found = where >= 0
    if not found.any():
        raise DataError(f"no {what} id of the factors matches the dataset's {what}s", str(source),
                        fix="open the ratings the model was trained on")
    out[found] = vectors[where[found]]
    return out


# ------------------------------------------------------------------ Spark
def _write_factors(folder: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    k = vectors.shape[1]
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    features = pa.ListArray.from_arrays(pa.array(np.arange(0, ids.size * k + 1, k, dtype=np.int32)), flat)
    pq.write_table(pa.table({"id": pa.array(ids, pa.int32()), "features": features}), folder / "part-00000.parquet")
    (folder / "_SUCCESS").write_bytes(b"")


def export_spark(model, path) -> Path:
    """Write a factor model's factors as a Spark ``ALSModel`` folder (``ALSModel.load(path)`` reads it).

    Parameters
    ----------
    model : FactorModel
        A fitted model (biases, if any, are not part of Spark's layout and are left out).
    path : path-like
        A new folder.

    Returns
    -------
    pathlib.Path
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    model._check_fitted()
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()):
        raise DataError(f"{folder} already holds files", str(folder), fix="choose a new folder")
    train = model.train_
    users, items = spark_ids(train.row_ids), spark_ids(train.col_ids)
    _write_factors(folder / "userFactors", users, model.user_factors_)
    _write_factors(folder / "itemFactors", items, model.item_factors_)
    rank = int(model.item_factors_.shape[1])
    params = {"userCol": "user", "itemCol": "item", "predictionCol": "prediction", "coldStartStrategy": "drop",
              "blockSize": 4096}
    metadata = {"class": "org.apache.spark.ml.recommendation.ALSModel", "timestamp": int(time.time() * 1000),
                "sparkVersion": "4.0.0", "uid": "ALS_mfstudio", "paramMap": params, "defaultParamMap": params,
                "rank": rank}
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    (folder / "metadata" / "part-00000").write_text(json.dumps(metadata) + "\n")
    (folder / "metadata" / "_SUCCESS").write_bytes(b"")
    (folder / "mfstudio").mkdir()
    for name, ids, raw in (("users", users, train.row_ids), ("items", items, train.col_ids)):
        pq.write_table(pa.table({"id": pa.array(ids, pa.int32()), "raw_id": pa.array(np.asarray(raw).astype(str))}),
                       folder / "mfstudio" / f"{name}.parquet")
    return folder


def _read_factors(folder: Path):
    import pyarrow.parquet as pq

    if not folder.exists():
        raise DataError(f"{folder} is missing: a Spark ALSModel folder holds userFactors/ and itemFactors/",
                        str(folder), fix="give the folder ALSModel.save wrote")
    table = pq.read_table(folder)  # a folder of part files, as Spark writes it
    ids = table.column("id").to_numpy().astype(np.int64)
    features = table.column("features").combine_chunks()
    k = len(features[0]) if len(features) else 0
    vectors = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, k)
    return ids, vectors


def import_spark(path, data, implicit: bool = False):
    """A model from a Spark ``ALSModel`` folder, on the ratings ``data`` it was trained on.

    Parameters
    ----------
    path : path-like
        The folder ``ALSModel.save`` (or :func:`export_spark`) wrote.
    data : Dataset
        The training ratings (what "seen" means, titles, raw ids).
    implicit : bool
        Make an implicit-ALS model (ranking) instead of an explicit one.

    Returns
    -------
    ALS or ImplicitALS
        Fitted as far as prediction, recommendation, the views and save are concerned.
    """
    import pyarrow.parquet as pq

    folder = Path(path)
    user_file_ids, U = _read_factors(folder / "userFactors")
    item_file_ids, V = _read_factors(folder / "itemFactors")
    mapping = folder / "mfstudio"
    if mapping.exists():
        # Exported by mfstudio: the ids are mapped through the raw ids it recorded.
        def wanted(name, raw_ids):
            table = pq.read_table(mapping / f"{name}.parquet")
            by_raw = dict(zip(table.column("raw_id").to_pylist(), table.column("id").to_pylist()))
            return np.array([by_raw.get(str(r), -1) for r in raw_ids], dtype=np.int64)
        users, items = wanted("users", data.row_ids), wanted("items", data.col_ids)
    else:
        users, items = spark_ids(data.row_ids).astype(np.int64), spark_ids(data.col_ids).astype(np.int64)
    user_factors = _place(user_file_ids, U, users, "user", folder)
    item_factors = _place(item_file_ids, V, items, "item", folder)
    k = int(V.shape[1])
    return _model_for(data, user_factors, item_factors, implicit=implicit,
                      params={"n_factors": k, "engine": "spark", "use_bias": False})


# ---------------------------------------------------------------- implicit
def export_implicit(model, path) -> Path:
    """Write the factors as benfred/implicit's ``AlternatingLeastSquares.save`` ``.npz`` (plus the ids).

    Returns
    -------
    pathlib.Path
    """
    model._check_fitted()
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    p = model.params
    np.savez(path, user_factors=model.user_factors_.astype(np.float32), item_factors=model.item_factors_.astype(np.float32),
             factors=np.int64(model.item_factors_.shape[1]), regularization=np.float64(p.get("reg", 0.01)),
             alpha=np.float64(p.get("alpha", 1.0)), iterations=np.int64(p.get("n_epochs", 15)),
             dtype=np.array("float32"),
             user_ids=np.asarray(model.train_.row_ids).astype(str), item_ids=np.asarray(model.train_.col_ids).astype(str))
    return path


def import_implicit(path, data, implicit: bool = True):
    """A model from implicit's ``.npz`` on the interactions ``data`` it was trained on.

    Without ``user_ids``/``item_ids`` in the file, row ``u`` of the factors is
    mfstudio's user ``u`` of ``data`` (raw ids in the order mfstudio loaded
    them); a file whose row count differs is refused.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as an .npz of implicit ({exc})", str(path),
                        fix="give the file AlternatingLeastSquares.save wrote") from None
    if "user_factors" not in arrays or "item_factors" not in arrays:
        raise DataError(f"{path} holds no user_factors and item_factors", str(path),
                        fix="give the file AlternatingLeastSquares.save wrote")
    U, V = arrays["user_factors"].astype(np.float32), arrays["item_factors"].astype(np.float32)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise DataError(f"{path}: the factor matrices do not match ({U.shape} and {V.shape})", str(path))
    if "user_ids" in arrays and "item_ids" in arrays:
        U = _place(arrays["user_ids"].astype(str), U, np.asarray(data.row_ids).astype(str), "user", path)
        V = _place(arrays["item_ids"].astype(str), V, np.asarray(data.col_ids).astype(str), "item", path)
    elif U.shape[0] != data.shape[0] or V.shape[0] != data.shape[1]:
        raise DataError(f"{path} has factors for {U.shape[0]} users and {V.shape[0]} items, the data "
                        f"{data.shape[0]} and {data.shape[1]}", str(path),
                        fix="open the interactions the model was trained on")
    params = {"n_factors": int(V.shape[1]), "use_bias": False}
    if "regularization" in arrays:
        params["reg"] = max(float(arrays["regularization"]), 1e-12)
    if "alpha" in arrays:
        params["alpha"] = float(arrays["alpha"])
    return _model_for(data, U, V, implicit=implicit, params=params)
