"""A run as code: a Python script (or a Jupyter notebook) that makes the run again with mfstudio's API.

:func:`script_for` writes, for a saved model folder (``fit --save``, whose
``model.json`` records the run's recipe: data, kind, protocol, seed, early
stopping, the metrics it scored), an :class:`~mfstudio.experiment.Experiment`
or a window :class:`~mfstudio.project.Run`, a script that loads the same data,
splits it with the same seed, fits with the same parameters, prints the same
metrics (4 decimals) and plots the curves with matplotlib when matplotlib is
installed (the metrics print without it). :func:`notebook_for` gives the same
cells as an ``nbformat`` v4 notebook. With ``peer=True`` a last, clearly
labelled section fits the nearest peer library's model on the same split
(scikit-learn, Surprise, implicit, pyspark), each guarded by its import.

Orange's users asked for "export as Python" for about ten years; the
point here is that the code is the same API the window and the CLI call,
so what the script prints is what the run showed.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from .data.errors import DataError

__all__ = ["Recipe", "recipe_of", "script_for", "notebook_for", "cells_for", "write_code", "PEER_MODELS"]


@dataclass
class Recipe:
    """Everything a script needs to make a run again.

    Attributes
    ----------
    model : str
        The model's name (``"sgd"``).
    params : dict
        Every parameter, as the run used it.
    data : str
        ``sample:NAME``, an absolute path, or ``"pasted"`` (then ``grid`` holds the cells).
    kind : str or None
        The kind asked for, if not the loader's choice.
    protocol : str
        The protocol spec (``random:0.2``, ``all``, ``test-file``...).
    seed : int
    test : str or None
        A separate test file (with protocol ``test-file``).
    early_stopping : int or None
    validation_fraction : float
    metrics : dict
        What the run scored (printed as a comment next to the rerun's numbers).
    grid : list or None
        A pasted grid's cells (0 = unknown), embedded in the script.
    title : str
        The run's name for headings.
    """

    model: str
    params: dict
    data: str
    kind: str | None = None
    protocol: str = "all"
    seed: int = 0
    test: str | None = None
    early_stopping: int | None = None
    validation_fraction: float = 0.1
    metrics: dict = field(default_factory=dict)
    grid: list | None = None
    title: str = ""


def _data_spec(dataset) -> tuple[str, list | None]:
    source = str(getattr(dataset, "source", "") or "")
    if source.startswith("sample:"):
        return source, None
    if source == "pasted" and "matrix" in getattr(dataset, "truth", {}):
        return "pasted", [[float(v) for v in row] for row in dataset.truth["matrix"]]
    if source and Path(source).exists():
        return os.path.abspath(source), None
    raise DataError(f"the data of this run ({dataset.name}) has no file or sample to load it from again",
                    fix="save the data to a file, open it from there, and run again")


def recipe_of(source, *, data: str | None = None, protocol: str | None = None, seed: int | None = None) -> Recipe:
    """The :class:`Recipe` of a saved model folder, an Experiment or a Run.

    Parameters
    ----------
    source : path-like, mfstudio.experiment.Experiment or mfstudio.project.Run
    data, protocol, seed : optional
        Override (or supply, for a Run opened from a project, which keeps no
        experiment) the data spec, protocol and seed.

    Raises
    ------
    DataError
        A model saved without a recipe (before mfstudio recorded one) and no ``data`` given;
        a run whose data has no file.
    """
    from .experiment import Experiment

    run_name = ""
    if hasattr(source, "model") and hasattr(source, "split_description") and not isinstance(source, Experiment):
        run_name = source.name
        if source.experiment is not None:
            source = source.experiment
        else:
            if data is None or protocol is None:
                raise DataError(f"the run {run_name} was opened from a project and keeps no recipe",
                                fix="give the data and the protocol (data=..., protocol=...)")
            return Recipe(model=source.model.name, params=dict(source.model.params), data=str(data),
                          protocol=protocol, seed=int(seed or 0), metrics=dict(source.metrics), title=run_name)
    if isinstance(source, Experiment):
        spec, grid = (str(data), None) if data is not None else _data_spec(source.dataset)
        test = None
        if source.test_data is not None:
            test, _ = _data_spec(source.test_data)
        params = source.folds[0].model.params if source.folds else source.params
        return Recipe(
            model=source.model_cls.name, params=dict(params), data=spec,
            # A kind the person chose ("read as ... as asked") must be asked for again; the loader's own choice recurs.
            kind=source.dataset.kind if str(getattr(source.dataset, "kind_reason", "")).startswith("read as") else None,
            protocol=protocol or ("test-file" if test else source.protocol),
            seed=int(source.seed if seed is None else seed), test=test, early_stopping=source.early_stopping,
            validation_fraction=source.validation_fraction,
            metrics={k: v for k, v in source.metrics.items() if not k.startswith("ranking_")}, grid=grid,
            title=run_name or f"{source.model_cls.name} on {source.dataset.name}",
        )
    from .savefiles import read_recipe

    manifest, recipe = read_recipe(source)
    if recipe is None and data is None:
        raise DataError("this model was saved without its recipe (by an older mfstudio), so the data and "
                        "protocol it was fitted with are unknown", Path(source),
                        fix="fit and save it again with this version, or give the data (--data)")
    recipe = dict(recipe or {})
    return Recipe(
        model=manifest["model"], params=dict(manifest["params"]), data=str(data or recipe["data"]),
        kind=recipe.get("kind"), protocol=protocol or recipe.get("protocol", "all"),
        seed=int(recipe.get("seed", 0) if seed is None else seed), test=recipe.get("test"),
        early_stopping=recipe.get("early_stopping"), validation_fraction=recipe.get("validation_fraction") or 0.1,
        metrics=dict(recipe.get("metrics") or {}), title=f"{manifest['model']} on {manifest['data']['name']}",
    )


# ------------------------------------------------------------------ the cells
def _literal(value) -> str:
    """A Python literal for a JSON-like value (params are str, int, float, bool or None)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, float) and value != value:
        return 'float("nan")'
    return repr(value.item() if hasattr(value, "item") else value)


def _params_block(params: dict) -> str:
    lines = [f"    {name!r}: {_literal(value)}," for name, value in params.items()]
    return "PARAMS = {\n" + "\n".join(lines) + "\n}"


def cells_for(recipe: Recipe, peer: bool = False) -> list[tuple[str, str]]:
    """The script as ``(kind, text)`` cells, ``kind`` being ``"markdown"`` or ``"code"``."""
    from . import __version__

    r = recipe
    when = _dt.date.today().isoformat()
    cells: list[tuple[str, str]] = []
    cells.append(("markdown", f"# {r.title or r.model}: the run as code\n\n"
                  f"Written by `mfstudio export-code` (mfstudio {__version__}, {when}). It loads the data, splits "
                  f"it with the same seed ({r.seed}), fits `{r.model}` with the same parameters, prints the "
                  "metrics, and plots the training curves with matplotlib when it is installed."))
    if r.grid is not None:
        text = "\\n".join(" ".join(f"{v:g}" for v in row) for row in r.grid)
        load = ("from mfstudio.data.samples import parse_grid_text\n\n"
                f"# The grid as it was typed or pasted (0 = unknown).\ndata = parse_grid_text(\"{text}\", "
                f"zero_is_unknown={r.kind != 'dense'!r})")
    else:
        kind = f", kind={r.kind!r}" if r.kind else ""
        load = f"DATA = {r.data!r}\ndata = open_data(DATA{kind})"
        if r.test:
            load += f"\nTEST = {r.test!r}\ntest = open_data(TEST, kind=data.kind)"
    cells.append(("code", "from mfstudio.data import open_data\nfrom mfstudio.experiment import Experiment\n\n" + load
                  + "\nprint(data)"))
    test_args = "test_data=test, test_name=TEST" if r.test else f"protocol={r.protocol!r}"
    early = f", early_stopping={r.early_stopping!r}, validation_fraction={r.validation_fraction!r}" \
        if r.early_stopping else ""
    cells.append(("markdown", "## Split, fit and score\n\n`Experiment` is what the window and `mfstudio fit` "
                  "use: it makes the split from the seed, fits, and scores on the test part."))
    cells.append(("code", _params_block(r.params) + "\n\n"
                  f"experiment = Experiment(data, {r.model!r}, PARAMS, {test_args}, seed={r.seed!r}{early})\n"
                  "print(experiment.protocol_line)\n"
                  "experiment.run()\n"
                  "model = experiment.model\n"
                  "for name, value in experiment.metrics.items():\n"
                  "    if not name.startswith(\"ranking_\"):\n"
                  "        print(f\"{name} {value:.4f}\")"
                  + ("\n# The run printed: " + ", ".join(f"{k} {v:.4f}" for k, v in r.metrics.items())
                     if r.metrics else "")))
    cells.append(("markdown", "## Curves\n\nThe training loss and the test metrics per epoch (skipped without "
                  "matplotlib)."))
    cells.append(("code", _PLOT.replace("MODEL_NAME", r.model)))
    if peer and r.model in PEER_MODELS:
        library, code = PEER_MODELS[r.model]
        cells.append(("markdown", f"## Comparison: {library} (not mfstudio)\n\nThe nearest model of {library}, "
                      "fitted on the same training part and scored on the same test part. Its defaults, "
                      "initialisation and objective differ in details, so its numbers are a comparison, not a "
                      "reproduction."))
        cells.append(("code", _PEER_PRELUDE + code))
    return cells


_PLOT = '''try:
    import matplotlib
    if __name__ == "__main__" and "ipykernel" not in __import__("sys").modules:
        matplotlib.use("Agg")  # a script writes a PNG; a notebook shows the figure
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no plot (pip install matplotlib)")

history = model.history_
if plt is not None and history:
    epochs = [step.epoch for step in history]
    names = sorted({name for step in history for name in step.metrics})
    fig, axes = plt.subplots(1, 1 + bool(names), figsize=(5 + 5 * bool(names), 3.5), squeeze=False)
    axes[0][0].plot(epochs, [step.train_loss for step in history], marker=".")
    axes[0][0].set(title="training loss", xlabel="epoch")
    for name in names:
        axes[0][1].plot(epochs, [step.metrics.get(name, float("nan")) for step in history], marker=".", label=name)
    if names:
        axes[0][1].set(title="test metrics per epoch", xlabel="epoch")
        axes[0][1].legend()
    fig.tight_layout()
    if "ipykernel" in __import__("sys").modules:
        plt.show()
    else:
        fig.savefig("MODEL_NAME-curves.png", dpi=100)
        print("wrote MODEL_NAME-curves.png")'''

_PEER_PRELUDE = '''# The same split as triples with the data's own ids.
split = experiment.splits[0]
train, test_part = (split.train, split.test) if split is not None else (data, data)
'''

def _surprise_peer(algorithm: str, label: str) -> str:
    """The comparison cell for a Surprise algorithm (``SVD``, ``SVDpp``) with the run's factors, epochs and seed."""
    return f'''try:
    import pandas as pd
    from surprise import {algorithm}, Dataset as SurpriseData, Reader, accuracy
except ImportError:
    print("Surprise is not installed: no comparison (pip install scikit-surprise)")
else:
    frame = pd.DataFrame({{"u": train.row_ids[train.rows], "i": train.col_ids[train.cols], "r": train.values}})
    trainset = SurpriseData.load_from_df(frame, Reader(rating_scale=train.rating_scale)).build_full_trainset()
    peer = {algorithm}(n_factors=PARAMS["n_factors"], n_epochs=PARAMS["n_epochs"], random_state=PARAMS["seed"])
    peer.fit(trainset)
    pairs = zip(test_part.row_ids[test_part.rows], test_part.col_ids[test_part.cols], test_part.values)
    print("{label} rmse", round(accuracy.rmse(peer.test(list(pairs)), verbose=False), 4))'''


#: model name -> (library, code fitting its nearest peer on ``train`` and scoring on ``test_part``).
PEER_MODELS = {
    "sgd": ("Surprise", _surprise_peer("SVD", "Surprise SVD")),
    "svdpp": ("Surprise", _surprise_peer("SVDpp", "Surprise SVD++")),
    "nmf": ("scikit-learn", '''try:
    import numpy as np
    from sklearn.decomposition import NMF as SklearnNMF
except ImportError:
    print("scikit-learn is not installed: no comparison")
else:
    # scikit-learn's NMF reads every cell, a missing rating as 0: a decomposition, not a rating model.
    X = train.to_csr()
    peer = SklearnNMF(n_components=PARAMS["n_factors"], init="nndsvda", max_iter=500, random_state=0)
    W = peer.fit_transform(X)
    print("scikit-learn NMF relative error on the training matrix",
          round(float(np.linalg.norm(X.toarray() - W @ peer.components_) / np.linalg.norm(X.toarray())), 4))'''),
    "svd": ("scikit-learn", '''try:
    from sklearn.decomposition import TruncatedSVD as SklearnSVD
except ImportError:
    print("scikit-learn is not installed: no comparison")
else:
    peer = SklearnSVD(n_components=PARAMS["n_factors"], random_state=0).fit(train.to_csr())
    print("scikit-learn TruncatedSVD explained variance ratio", round(float(peer.explained_variance_ratio_.sum()), 4))'''),
    "implicit-als": ("implicit", '''try:
    from implicit.als import AlternatingLeastSquares
    from implicit.evaluation import precision_at_k
except ImportError:
    print("implicit is not installed: no comparison (pip install implicit)")
else:
    # implicit's confidence is alpha * r (here 1 + alpha * r): the same alpha is not the same model.
    positives = train.to_csr()
    peer = AlternatingLeastSquares(factors=PARAMS["n_factors"], regularization=PARAMS["reg"], alpha=PARAMS["alpha"],
                                   iterations=PARAMS["n_epochs"], random_state=PARAMS["seed"])
    peer.fit(positives)
    print("implicit ALS precision@10", round(float(precision_at_k(peer, positives, test_part.to_csr(), K=10)), 4))'''),
    "bpr": ("implicit", '''try:
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.evaluation import precision_at_k
except ImportError:
    print("implicit is not installed: no comparison (pip install implicit)")
else:
    positives = train.to_csr()
    peer = BayesianPersonalizedRanking(factors=PARAMS["n_factors"], iterations=PARAMS["n_epochs"],
                                       random_state=PARAMS["seed"])
    peer.fit(positives)
    print("implicit BPR precision@10", round(float(precision_at_k(peer, positives, test_part.to_csr(), K=10)), 4))'''),
    "als": ("pyspark", '''try:
    from pyspark.ml.recommendation import ALS as SparkALS
    from pyspark.sql import SparkSession
except ImportError:
    print("pyspark is not installed: no comparison (pip install 'pyspark[ml]'; needs Java 17+)")
else:
    spark = SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false").getOrCreate()
    rows = list(zip(train.rows.tolist(), train.cols.tolist(), train.values.astype(float).tolist()))
    frame = spark.createDataFrame(rows, ["user", "item", "rating"])
    peer = SparkALS(rank=PARAMS["n_factors"], maxIter=PARAMS["n_epochs"], regParam=PARAMS["reg"], seed=PARAMS["seed"],
                    coldStartStrategy="drop").fit(frame)
    tests = spark.createDataFrame(list(zip(test_part.rows.tolist(), test_part.cols.tolist(),
                                           test_part.values.astype(float).tolist())), ["user", "item", "rating"])
    from pyspark.ml.evaluation import RegressionEvaluator
    print("Spark ALS rmse (no biases)", round(RegressionEvaluator(labelCol="rating").evaluate(peer.transform(tests)), 4))
    spark.stop()'''),
}


# ------------------------------------------------------------------ outputs
def script_for(source, *, peer: bool = False, data: str | None = None, protocol: str | None = None,
               seed: int | None = None) -> str:
    """A Python script that makes the run again (see the module docstring).

    Parameters
    ----------
    source : path-like, Experiment, Run or Recipe
        A saved model's folder (or its ``model.json``), a finished
        experiment, a window run, or a recipe.
    peer : bool
        Add the labelled comparison with the nearest peer library (:data:`PEER_MODELS`).
    data, protocol, seed : optional
        Overrides, see :func:`recipe_of`.

    Returns
    -------
    str
        The script; it prints each metric as ``NAME VALUE`` with 4 decimals.
    """
    recipe = source if isinstance(source, Recipe) else recipe_of(source, data=data, protocol=protocol, seed=seed)
    parts = []
    for kind, text in cells_for(recipe, peer=peer):
        if kind == "markdown":
            parts.append("\n".join("# " + line if line else "#" for line in text.splitlines()))
        else:
            parts.append(text)
    return "#!/usr/bin/env python3\n" + "\n\n".join(parts) + "\n"


def notebook_for(source, *, peer: bool = False, data: str | None = None, protocol: str | None = None,
                 seed: int | None = None):
    """The same cells as a Jupyter notebook (an ``nbformat`` v4 ``NotebookNode``; needs nbformat)."""
    try:
        import nbformat
        from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    except ImportError:
        raise DataError("writing a notebook needs nbformat", fix="pip install nbformat") from None
    recipe = source if isinstance(source, Recipe) else recipe_of(source, data=data, protocol=protocol, seed=seed)
    cells = [new_markdown_cell(text) if kind == "markdown" else new_code_cell(text)
             for kind, text in cells_for(recipe, peer=peer)]
    book = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})
    nbformat.validate(book)
    return book


def write_code(source, out=None, *, notebook: bool = False, peer: bool = False, overwrite: bool = False,
               data: str | None = None) -> str:
    """The script or notebook as text; written to ``out`` when given (never over a file unless ``overwrite``).

    Returns
    -------
    str
        The text written (or to print).
    """
    if notebook:
        import nbformat

        text = nbformat.writes(notebook_for(source, peer=peer, data=data))
    else:
        text = script_for(source, peer=peer, data=data)
    if out is not None:
        from .savefiles import atomic_write

        path = Path(out)
        if path.exists() and not overwrite:
            raise DataError("a file is already there", path, fix="choose another name, or add --force to replace it")
        try:
            atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
        except OSError as exc:
            raise DataError(f"cannot write it ({exc.strerror or exc})", path, fix="choose a folder you can write to") from None
    return text
