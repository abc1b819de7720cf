"""The ``mfstudio`` command: headless use of the same API the GUI drives.

``mfstudio info DATA``
    What a file holds (``--json`` for scripts).
``mfstudio fit DATA --model NAME``
    Fit a model with a train/test split and report metrics per epoch.
``mfstudio sweep DATA --model NAME --grid NAME=V1,V2``
    Score a grid or random search of parameters by cross-validation.
``mfstudio onboarding MODEL_DIR [--test DATA]``
    What a new user should rate first; with --test, after how many ratings
    their own factors beat the average viewer.
``mfstudio samples``
    The built-in samples (``sample:NAME`` works wherever DATA does).
``mfstudio download movielens-100k``
    Fetch MovieLens 100K into the user data folder.

Problems with the input print one sentence and exit with status 2; no
tracebacks unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

_KIND_WORDS = {
    "explicit": "explicit ratings",
    "implicit": "implicit interactions",
    "documents": "document-term matrix",
    "dense": "dense matrix",
    "images": "images (one row of pixels each)",
}


# --------------------------------------------------------------------- output


def _print(text: str = "", file=None) -> None:
    # A windowed (frozen) app has sys.stdout None; printing must not crash it.
    stream = file if file is not None else sys.stdout
    if stream is not None:
        print(text, file=stream)


def _number(value) -> str:
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if value == round(value) and abs(value) >= 1000 else f"{value:.4g}"


def _bar(count: int, largest: int, width: int = 30) -> str:
    return "#" * max(1 if count else 0, round(width * count / largest)) if largest else ""


def format_summary(dataset) -> str:
    """A readable multi-line summary of a dataset (``mfstudio info`` without --json)."""
    s = dataset.summary()
    rows, cols = dataset.row_label, dataset.col_label
    entry = {"explicit": "ratings", "implicit": "interactions", "documents": "term weights"}.get(s.kind, "values")
    lines = [
        s.name or "(unnamed)",
        f"  kind        {_KIND_WORDS[s.kind]}",
        f"  kind why    {s.kind_reason or 'not recorded'}",
        f"  shape       {s.n_rows:,} {rows}s x {s.n_cols:,} {cols}s",
        f"  {entry:<11} {s.nnz:,} observed ({s.density:.2%} of all cells)",
    ]
    if s.rating_scale:
        lines.append(f"  scale       {_number(s.rating_scale[0])} to {_number(s.rating_scale[1])}")
    lines.append(f"  values      min {_number(s.value_min)}, mean {_number(s.value_mean)}, max {_number(s.value_max)}")
    counts, edges = s.value_histogram
    if len(counts):
        largest = int(counts.max())
        lines.append("  histogram")
        for k, count in enumerate(counts):
            label = f"{_number((edges[k] + edges[k + 1]) / 2)}"
            lines.append(f"    {label:>8}  {_bar(int(count), largest):<30} {int(count):,}")
    for label, stats in ((f"per {rows}", s.per_row), (f"per {cols}", s.per_col)):
        lines.append(
            f"  {label:<11} min {stats['min']:,}, median {_number(stats['median'])}, "
            f"mean {_number(stats['mean'])}, max {stats['max']:,}"
            + (f" ({stats['empty']:,} empty)" if stats["empty"] else "")
        )
    if dataset.item_titles is not None:
        shown = ", ".join(dataset.item_titles[:3])
        lines.append(f"  titles      yes, e.g. {shown}")
    if dataset.kind == "documents":
        lines.append(f"  vocabulary  {', '.join(dataset.col_ids[:8])}, ...")
    if dataset.image_shape:
        lines.append(f"  image size  {dataset.image_shape[1]} x {dataset.image_shape[0]} pixels")
    lines.append(f"  timestamps  {'yes' if s.has_timestamps else 'no'}")
    for line in s.side_features:
        lines.append(f"  features    {line}")
    for note in s.notes:
        lines.append(f"  note        {note}")
    return "\n".join(lines)


# ----------------------------------------------------------------- commands


def _with_feature_files(dataset, args):
    """Attach ``--item-features`` / ``--user-features`` files (replacing what the loader found)."""
    from .data.features import attach_feature_file

    if getattr(args, "item_features", None):
        dataset = attach_feature_file(dataset, args.item_features, "item")
    if getattr(args, "user_features", None):
        dataset = attach_feature_file(dataset, args.user_features, "user")
    return dataset


def cmd_info(args) -> int:
    from .data import open_data

    dataset = open_data(args.data, kind=args.kind) if args.kind else open_data(args.data)
    dataset = _with_feature_files(dataset, args)
    if args.json:
        _print(json.dumps(dataset.summary().as_dict(), indent=2))
    else:
        _print(format_summary(dataset))
    return EXIT_OK


def cmd_samples(args) -> int:
    from .data.samples import SAMPLES

    if args.json:
        _print(json.dumps({k: {"title": v.title, "kind": v.kind, "description": v.description} for k, v in SAMPLES.items()}, indent=2))
        return EXIT_OK
    for key, info in SAMPLES.items():
        _print(f"sample:{key:<10} {info.title} ({info.kind}): {info.description}")
    return EXIT_OK


def cmd_download(args) -> int:
    from .data.download import download_movielens_100k

    def progress(done, total):
        if args.quiet or sys.stderr is None:
            return True
        text = f"{done / 2**20:.1f} MB" + (f" of {total / 2**20:.1f} MB" if total else "")
        print(f"\rdownloading MovieLens 100K: {text}", end="", file=sys.stderr, flush=True)
        return True

    folder = download_movielens_100k(progress=progress)
    if not args.quiet and sys.stderr is not None:
        print(file=sys.stderr)
    _print(str(folder))
    return EXIT_OK


# CLI option -> model parameter(s) it sets, where the model has them.
_OPTION_PARAMS = {
    "factors": ("n_factors",),
    "epochs": ("n_epochs",),
    "lr": ("lr",),
    "reg": ("reg", "reg_user", "reg_item"),
    "alpha": ("alpha",),
    "seed": ("seed",),
    "engine": ("engine",),
    "spark_master": ("spark_master",),
}


def _model_params(model_cls, args) -> dict:
    """The model's parameters from --factors/--epochs/--lr/--reg/--alpha/--seed and --param, checked.

    Each value is read and checked by the parameter's declaration
    (``model_cls.params_spec``), so a bad value is refused here, before any
    data is loaded.

    Raises
    ------
    mfstudio.models.params.ParamError
        An option the model does not take, an unknown name, or a value out of
        the declared bounds (the sentence names the option and the bounds).
    """
    from .models.params import ParamError

    params = {}
    for option, names in _OPTION_PARAMS.items():
        value = getattr(args, option, None)  # a caller may build args without the newer options
        if value is None:
            continue
        targets = [n for n in names if n in model_cls.defaults]
        if not targets:
            if option == "seed":
                continue  # deterministic models ignore the seed
            raise ParamError(f"--{option} does not apply to the {model_cls.name} model",
                             fix=f"its parameters are {', '.join(model_cls.defaults)}")
        for name in targets:
            try:
                params[name] = model_cls.param(name).check(value)
            except ParamError as exc:
                raise ParamError(f"--{option} {value}: {exc.problem}", param=name) from None
    params.update(_param_options(model_cls, args.param))
    model_cls(**params).validate_params()  # rules joining two parameters, before the data is read
    return params


def _param_options(model_cls, items) -> dict:
    """``--param NAME=VALUE`` options, each checked by the parameter's declaration."""
    params = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in model_cls.defaults:
            raise ParamError(f"--param {item!r}: expected NAME=VALUE with NAME one of {', '.join(model_cls.defaults)}",
                             param=key or None)
        params[key] = _param_value(key, raw, model_cls.param(key))
    return params


def _param_value(name: str, raw: str, declared):
    """Text from ``--param NAME=VALUE``, read and checked by the parameter's declaration.

    ``declared`` is the :class:`~mfstudio.models.params.Param`; a plain
    default value is taken as a declaration of its type without bounds.

    Raises
    ------
    mfstudio.models.params.ParamError
        The text is not of the parameter's type, or out of its bounds.
    """
    from .models.params import Param, ParamError

    if not isinstance(declared, Param):
        if not isinstance(declared, (bool, int, float)):
            return raw  # an undeclared word: any text
        kind = "bool" if isinstance(declared, bool) else "int" if isinstance(declared, int) else "float"
        declared = Param(name, kind, declared, "")
    try:
        return declared.parse(raw)
    except ParamError as exc:
        raise ParamError(f"--param {name}={raw}: {exc.problem}", param=name) from None


def cmd_fit(args) -> int:
    from .data import open_data
    from .experiment import Experiment
    from .models import MODELS

    model_cls = MODELS[args.model]
    params = _model_params(model_cls, args)
    if args.save:  # refuse a taken --save folder now, not after the fit
        from .savefiles import check_model_folder

        check_model_folder(args.save, overwrite=args.force)
    if args.threads:
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    data = open_data(args.data, kind=args.kind) if args.kind else open_data(args.data)
    data = _with_feature_files(data, args)
    # A tutorial's sample is fitted with the tutorial's own recipe where the user set no value.
    from .data.samples import sample_settings

    preset, preset_note = sample_settings(data, model_cls.name, given=params)
    if preset:
        params = {**params, **preset}
        model_cls(**params).validate_params()
    if args.split is not None and args.split.strip().lower() == "none":
        args.split = "all"  # "no holdout", as the tutorials fit: every known cell trains
    test = None
    if args.test:
        test = open_data(args.test, kind=data.kind)
    seed = args.seed if args.seed is not None else 0
    experiment = Experiment(data, model_cls, params, protocol=args.split, seed=seed, test_data=test,
                            test_name=args.test, early_stopping=args.early_stopping,
                            validation_fraction=args.validation_fraction, ranking=args.ranking)
    if not args.json:
        _print(f"{data.name}: {_KIND_WORDS[experiment.dataset.kind]}"
               + (f" ({data.kind_reason})" if getattr(data, "kind_reason", "") else ""))
        _print(f"protocol: {experiment.protocol_line}")
        if preset_note:
            _print(f"settings: {preset_note}")
        if experiment.early_stopping is not None:
            _print(f"early stopping: patience {experiment.early_stopping} epochs, on a validation "
                   f"{experiment.validation_fraction:g} of each fold's training data (never the test set)")
    n_folds = experiment.n_folds
    for index in range(n_folds):
        split = experiment.splits[index]
        if not args.json:
            report = split.report() if split is not None else experiment.split_report()
            _print(f"fold {index + 1} of {n_folds}: {report}" if n_folds > 1 else report)
        for step in experiment.iter_fold(index):
            if not args.json:
                metrics = "  ".join(f"{name} {value:.4f}" for name, value in step.metrics.items())
                _print(f"  epoch {step.epoch:>3}/{step.n_epochs}  loss {step.train_loss:.4g}  {metrics}  {step.seconds:.2f}s")

    if args.save:
        saved = experiment.model.save(args.save, overwrite=args.force)
        _record_recipe(args, experiment, saved.parent)
        if not args.json:
            _print(f"saved the model in {saved.parent}/ ({saved.name} + arrays.npz)")
    if not experiment.ranking:
        skipped = ("ranking metrics (precision, recall, NDCG, MAP, coverage at 10; AUC) not computed for a model "
                   "that predicts ratings (--no-ranking): drop it to score its top-10 lists too")
    if args.json:
        result = _with_engine(experiment.as_dict(), experiment.model)
        if not experiment.ranking:
            result["notes"] = [*result.get("notes", []), skipped]
        if preset_note:
            result["notes"] = [preset_note, *result.get("notes", [])]
        reconstruction = _reconstruction(experiment.model)
        if reconstruction is not None:
            result["reconstruction"] = reconstruction
        _print(json.dumps(result, indent=2))
        return EXIT_OK
    result = experiment.as_dict()
    if getattr(experiment.model, "engine_info", None):
        info = experiment.model.engine_info
        _print(f"engine: Spark {info.get('spark_version', '')} on {info.get('spark_master', info['master'])} "
               f"(session {info['session_seconds']:.1f}s, shipping by {info['shipping']} {info['ship_seconds']:.1f}s, "
               f"Spark fit {info['fit_seconds']:.1f}s, read back {info['read_back_seconds']:.1f}s)")
    label = f"mean over {n_folds} folds" if n_folds > 1 else ("test" if experiment.splits != [None] else "all data")
    spread = result["metrics_spread"]
    shown = "  ".join(
        f"{name} {value:.4f}" + (f" +- {spread[name]:.4f}" if name in spread else "")
        for name, value in result["metrics"].items()
    )
    _print(f"{model_cls.name}: {label}  {shown}  (fit {result['fit_seconds']:.2f}s)")
    if result.get("ranking_users"):
        counts = result["ranking_users"]
        if counts["scored"] < counts["with_relevant_test_items"]:
            _print(f"  ranking metrics on a random {counts['scored']:,} of {counts['with_relevant_test_items']:,} test users")
    if result["reference"] and result["reference"]["metrics"]:
        ref_spread = result["reference"].get("metrics_spread", {})
        ref = "  ".join(f"{name} {value:.4f}" + (f" +- {ref_spread[name]:.4f}" if name in ref_spread else "")
                        for name, value in result["reference"]["metrics"].items() if not name.startswith("ranking_"))
        _print(f"{result['reference']['name']}: {label}  {ref}")
    for note in result["notes"]:
        _print(f"  note: {note}")
    if not experiment.ranking:
        _print(f"  note: {skipped}")
    if "topics" in result:
        for number, words in enumerate(result["topics"][:20], start=1):
            _print(f"  topic {number:>2}: {' '.join(words)}")
    return EXIT_OK


def _record_recipe(args, experiment, folder) -> None:
    """What ``export-code`` needs to rerun this fit, in the saved model's manifest (``recipe``)."""
    import os

    from .savefiles import add_recipe

    def where(spec):
        if spec is None or str(spec).startswith("sample:"):
            return spec
        return os.path.abspath(spec)  # the script may run from another folder

    metrics = {k: v for k, v in experiment.metrics.items() if not k.startswith("ranking_")}
    add_recipe(folder, {
        "data": where(args.data), "kind": args.kind, "test": where(args.test), "protocol": experiment.protocol
        if args.test is None else "test-file", "seed": int(experiment.seed), "early_stopping": experiment.early_stopping,
        "validation_fraction": experiment.validation_fraction, "metrics": metrics, "mfstudio_version": _version(),
    })


#: ``fit --json`` includes the full reconstructed matrix only for grids up to this many cells.
RECONSTRUCTION_MAX_CELLS = 10_000


def _reconstruction(model) -> dict | None:
    """The whole predicted matrix of a small grid (the tutorials' punchline), rows x columns; None if large."""
    train = getattr(model, "train_", None)
    if train is None or train.n_rows * train.n_cols > RECONSTRUCTION_MAX_CELLS:
        return None
    import numpy as np

    users, items = np.meshgrid(np.arange(train.n_rows), np.arange(train.n_cols), indexing="ij")
    # Unclipped, as the tutorials print P Q^T (a 5.12 is part of their lesson); predict() clips to the scale.
    matrix = np.asarray(model._predict(users.ravel(), items.ravel()), dtype=np.float64).reshape(users.shape)
    return {"rows": [str(r) for r in train.row_ids], "columns": [str(c) for c in train.col_ids],
            "matrix": [[round(float(v), 6) for v in row] for row in matrix], "clipped": False}


def cmd_export_factors(args) -> int:
    """``mfstudio export-factors``: a saved model's factors in Spark's ALSModel layout or implicit's .npz."""
    from .models import load_model
    from .spark.interop import export_implicit, export_spark

    model = load_model(args.model)
    written = export_spark(model, args.out) if args.layout == "spark" else export_implicit(model, args.out)
    _print(f"wrote the factors of {args.model} in {args.layout}'s layout to {written}")
    return EXIT_OK


def cmd_import_factors(args) -> int:
    """``mfstudio import-factors``: factors trained elsewhere + their training data -> a saved mfstudio model."""
    from .data import open_data
    from .savefiles import check_model_folder
    from .spark.interop import import_implicit, import_spark

    check_model_folder(args.save, overwrite=args.force)
    data = open_data(args.data)
    if args.layout == "spark":
        model = import_spark(args.factors, data, implicit=args.ranking)
    else:
        model = import_implicit(args.factors, data, implicit=args.ranking or data.kind == "implicit")
    saved = model.save(args.save, overwrite=args.force)
    _print(f"saved {model.name} ({model.item_factors_.shape[1]} factors, {model.user_factors_.shape[0]} users, "
           f"{model.item_factors_.shape[0]} items) in {saved.parent}/")
    return EXIT_OK


def _with_engine(result: dict, model) -> dict:
    """``fit --json`` of a model with an engine choice: where it ran (``engine``, ``spark_master``, ``spark``)."""
    engine = result.get("params", {}).get("engine")
    if engine is None:
        return result
    result["engine"] = engine
    if engine == "spark":
        result["spark_master"] = result["params"].get("spark_master")
        result["spark"] = getattr(model, "engine_info", None)
    return result


def cmd_onboarding(args) -> int:
    """``mfstudio onboarding``: what a newcomer should rate first, and (with --test) when their factors pay off."""
    from .data import open_data
    from .data.errors import DataError
    from .models import load_model
    from .onboarding import ratings_to_beat_baseline, suggest_items

    model = load_model(args.model)
    given = {}
    by_text = {str(raw): raw for raw in model.train_.col_ids.tolist()} if args.rated else {}
    for text in args.rated or ():
        item, sep, value = text.partition("=")
        if not sep or item.strip() not in by_text:
            problem = f"there is no {model.train_.col_label} '{item}' in the training data" if sep else \
                f"--rated '{text}' is not ITEM=RATING"
            raise DataError(problem, fix="write e.g. --rated 50=5 with an id from the data")
        try:
            given[by_text[item.strip()]] = float(value)
        except ValueError:
            raise DataError(f"--rated '{text}': '{value}' is not a number", fix="write e.g. --rated 50=5") from None
    rows = suggest_items(model, n=args.suggest, ratings=given)
    curve = None
    if args.test:
        curve = ratings_to_beat_baseline(model, test=open_data(args.test), max_ratings=args.ratings,
                                         max_users=args.users, seed=args.seed)
    if args.json:
        _print(json.dumps({"model": model.name, "rated": given, "suggestions": [r.as_dict() for r in rows],
                           "curve": curve.as_dict() if curve else None,
                           "sentence": curve.sentence(model.train_.col_label) if curve else None}, indent=2))
        return EXIT_OK
    item = model.train_.col_label
    _print(f"{model.title or model.name}: rate these {item}s first" + (f" (after your {len(given)})" if given else ""))
    for r in rows:
        _print(f"  {r.rank:>3}. {r.title}  ({r.reason})")
    if curve:
        _print(f"RMSE on held-back ratings after n ratings ({curve.description}; {curve.seconds:.1f} s):")
        _print("    n  suggested  random  baseline")
        for n, a, b in zip(curve.counts, curve.suggested, curve.random):
            _print(f"  {n:>3}  {a:9.4f}  {b:6.4f}  {curve.baseline:8.4f}")
        _print(curve.sentence(item))
    return EXIT_OK


def cmd_recommend(args) -> int:
    from .models import load_model
    from .recommend import known_ratings, recommendations_for, similar_items_to

    model = load_model(args.model)
    if args.similar is not None:
        rows, score_name = similar_items_to(model, args.similar, n=args.n, min_support=args.min_support), "similarity"
        heading = f"items similar to {args.similar}"
    else:
        rows, score_name = recommendations_for(model, args.user, n=args.n, exclude_seen=not args.include_seen,
                                               min_support=args.min_support), "score"
        known = len(known_ratings(model, args.user))
        seen = f"; those {known} left out" if not args.include_seen else "; seen items included"
        heading = f"top {args.n} for {model.train_.row_label} {args.user} ({known} known{seen})"
        if model.task == "ranking" and getattr(model, "fitted_on_ratings_", 0) and model.train_.kind == "implicit":
            # Saved before models kept every rating: only the ratings >= threshold are known to be seen.
            _print(f"mfstudio: note: this model was saved by an older version and knows only the ratings >= "
                   f"{model.params.get('threshold', 4):g} as seen; fit and save it again to leave out every rated item",
                   file=sys.stderr)
    explanations = _explanations(model, args, rows)
    if args.json:
        for row, why in zip(rows, explanations):
            row.update(why)
        _print(json.dumps({"model": model.name, "user": args.user, "similar_to": args.similar, "items": rows}, indent=2))
        return EXIT_OK
    _print(f"{model.title or model.name}: {heading}")
    for row, why in zip(rows, explanations or [None] * len(rows)):
        genres = f"  [{row['genres']}]" if row["genres"] else ""
        _print(f"  {row['rank']:>3}. {row[score_name]:7.3f}  {row['title']}{genres}")
        if why:
            for entry in why["contributions"]:
                _print(f"         {entry['contribution']:+8.4f}  {entry['title']}")
    if explanations:
        _print(f"  ({explanations[0]['explanation']})")
    return EXIT_OK


def _explanations(model, args, rows) -> list[dict]:
    """``recommend --explain``: per row, ``contributions`` ({item, title, contribution, kind}) adding up to its score."""
    if not getattr(args, "explain", None) or args.user is None:
        return []
    from .explain import explain

    out = []
    for row in rows:
        why = explain(model, args.user, row["item"], n=args.explain)
        out.append({"contributions": [{"item": c["item"], "title": c["title"], "contribution": c["contribution"],
                                       "kind": c["kind"]} for c in (e.as_dict() for e in why.contributions)],
                    "exact": why.exact, "explanation": why.method,
                    "factors": [f.as_dict() for f in why.factors]})
    return out


def cmd_sweep(args) -> int:
    """``mfstudio sweep``: score a grid or random sample of parameters; a line per point as it finishes."""
    from .data import open_data
    from .models import MODELS
    from .models.params import ParamError
    from .sweep import Sweep, check_sweep_folder, fit_command, parse_grid, parse_random, write_summary

    model_cls = MODELS[args.model]
    axes = [parse_grid(model_cls, text) for text in args.grid or ()]
    axes += [parse_random(model_cls, text) for text in args.random or ()]
    if not axes:
        raise ParamError("a sweep needs at least one --grid NAME=V1,V2,... or --random NAME=LOW:HIGH[:log]")
    fixed = _param_options(model_cls, args.param)
    if args.seed is not None and "seed" in model_cls.defaults and "seed" not in fixed:
        fixed["seed"] = model_cls.param("seed").check(args.seed)  # as fit --seed: splits and model alike
    if args.resume and not args.save:
        raise ParamError("--resume continues a sweep saved with --save DIR", fix="give the same --save DIR")
    results_path = check_sweep_folder(args.save, resume=args.resume) if args.save else None
    data = open_data(args.data, kind=args.kind) if args.kind else open_data(args.data)
    protocol = f"kfold:{args.cv}" if args.cv else args.split
    if args.cv is not None and args.cv < 2:
        raise ParamError(f"--cv {args.cv}: cross-validation needs at least 2 folds")
    sweep = Sweep(data, model_cls, axes, fixed=fixed, protocol=protocol, metric=args.metric, trials=args.trials,
                  jobs=args.jobs, halving=args.halving, seed=args.seed or 0, results_path=results_path)
    sign = "lower" if sweep.lower_is_better else "higher"
    if not args.json:
        _print(f"{data.name}: {len(sweep.points)} points of {model_cls.name}, {sweep.protocol}, "
               f"{sweep.metric} ({sign} is better), {sweep.jobs} job{'s' if sweep.jobs > 1 else ''}"
               + (", successive halving" if sweep.halving else ""))

    def show(point):
        if args.json:
            return
        shown = " ".join(f"{k}={_number(v) if not isinstance(v, float) else f'{v:.4g}'}" for k, v in point.params.items())
        if point.status in ("done", "pruned") and math.isfinite(point.mean):
            score = f"{point.metric} {point.mean:.4f}" + (f" +- {point.std:.4f}" if len(point.fold_values) > 1 else "")
            if point.train_mean is not None:
                score += f"  train {point.train_mean:.4f}"
        else:
            score = point.message or point.status
        tag = "" if point.status == "done" else f"  [{point.status}" + (f" at {point.budget} epochs]" if point.budget else "]")
        resumed = "  (saved earlier)" if point.index in sweep.resumed else ""
        _print(f"  {point.index + 1:>3}  {shown:<32} {score}  {point.seconds:.2f}s{tag}{resumed}")

    interrupted = False
    try:
        sweep.run(on_point=show)
    except KeyboardInterrupt:
        sweep.cancel()  # stops every worker now; what finished is kept (and saved)
        interrupted = True
    finally:
        if args.save and sweep.results:
            write_summary(args.save, sweep)
    best = sweep.best
    if args.json:
        _print(json.dumps(sweep.as_dict(), indent=2))
    else:
        if interrupted:
            _print(f"interrupted: {len([p for p in sweep.results if p.status == 'done'])} of {len(sweep.points)} "
                   "points finished" + (f"; continue with --save {args.save} --resume" if args.save else ""))
        if best is not None:
            shown = ", ".join(f"{k}={v}" for k, v in best.params.items())
            train = f", train {best.train_mean:.4f}" if best.train_mean is not None else ""
            spread = f" +- {best.std:.4f}" if len(best.fold_values) > 1 else ""
            _print(f"best: {shown}: {sweep.metric} {best.mean:.4f}{spread}{train}")
            _print(f"  reproduce: {fit_command(args.data, sweep, kind=args.kind, seed=args.seed)}")
        if args.save and sweep.results:
            _print(f"saved the results in {args.save}/ (sweep.jsonl, sweep.json)")
    if interrupted:
        return 130
    if best is None:
        failed = [p for p in sweep.results if p.status == "failed"]
        if failed:  # the same data and settings for every point: usually the settings' fault, told once
            more = f" (and {len(failed) - 1} more)" if len({p.message for p in failed}) > 1 else ""
            _print(f"mfstudio: every point failed: {failed[0].message.rstrip('.')}{more}", file=sys.stderr)
            return EXIT_BAD_INPUT
        _print("mfstudio: no point of the sweep finished", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


# ------------------------------------------------------------------- parser


def cmd_export_code(args) -> int:
    """``mfstudio export-code``: a saved run as a Python script (or notebook) that makes it again."""
    from .export_code import write_code

    text = write_code(args.source, args.out, notebook=args.notebook, peer=args.peer, overwrite=args.force,
                      data=args.data)
    if args.out is None:
        _print(text.rstrip("\n"))
    else:
        _print(f"wrote {'a notebook' if args.notebook else 'a script'} to {args.out}")
    return EXIT_OK


def cmd_report(args) -> int:
    """``mfstudio report``: fit each --model on the same data and protocol, write one self-contained HTML file."""
    from .data import open_data
    from .experiment import Experiment
    from .models import MODELS
    from .models.params import ParamError
    from .report import write_report

    if args.split is not None and args.split.strip().lower() == "none":
        args.split = "all"
    data = open_data(args.data, kind=args.kind) if args.kind else open_data(args.data)
    experiments = []
    for name in args.model:
        if name not in MODELS:
            raise ParamError(f"there is no model called {name!r}", param="model", fix=f"choose one of {', '.join(sorted(MODELS))}")
        params = {}
        if args.epochs is not None and "n_epochs" in MODELS[name].defaults:
            params["n_epochs"] = args.epochs
        if args.factors is not None and "n_factors" in MODELS[name].defaults:
            params["n_factors"] = args.factors
        experiment = Experiment(data, name, params, protocol=args.split, seed=args.seed or 0).run()
        experiments.append(experiment)
        _print(f"{name}: " + "  ".join(f"{k} {v:.4f}" for k, v in experiment.metrics.items()
                                       if not k.startswith("ranking_")), file=sys.stderr)
    path = write_report(args.out, data, experiments, overwrite=args.force)
    _print(f"wrote the report to {path}")
    return EXIT_OK


def _feature_options(parser) -> None:
    parser.add_argument("--item-features", metavar="FILE",
                        help="item side features: the item id, then categorical columns ('|' separates several "
                             "values); MovieLens genres and decades are read without it")
    parser.add_argument("--user-features", metavar="FILE",
                        help="user side features, as --item-features (MovieLens u.user / users.dat is read without it)")


class _ModelNames:
    """The model names as argparse ``choices``, read from :data:`mfstudio.models.MODELS` only when used.

    ``mfstudio --help`` and ``mfstudio info`` do not import the models (and numba with them).
    """

    @staticmethod
    def _names() -> list[str]:
        from .models import MODELS

        return sorted(MODELS)

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _user_errors() -> tuple[type[BaseException], ...]:
    """:data:`mfstudio.errors.USER_ERRORS` without importing the models for commands that never load them."""
    from .data.errors import DataError

    base = sys.modules.get("mfstudio.models.base")  # FitDiverged can only come from a loaded model
    return (DataError,) if base is None else (DataError, base.FitDiverged)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mfstudio",
        description="A workbench for matrix factorization. DATA is a file, a folder or sample:NAME. "
        "Without a command, 'mfstudio [FILE]' opens the desktop app; "
        "'mfstudio --self-test [DIR]' checks an installation offscreen (renders into DIR).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="describe a dataset")
    info.add_argument("data", metavar="DATA")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    _feature_options(info)
    info.add_argument("--kind", choices=["explicit", "implicit", "documents", "dense", "images"],
                      help="insist on a kind where the layout leaves a choice")
    info.set_defaults(func=cmd_info)

    samples = sub.add_parser("samples", help="list the built-in samples")
    samples.add_argument("--json", action="store_true")
    samples.set_defaults(func=cmd_samples)

    download = sub.add_parser("download", help="download a public dataset into the user data folder")
    download.add_argument("dataset", choices=["movielens-100k"])
    download.add_argument("--quiet", action="store_true")
    download.set_defaults(func=cmd_download)

    fit = sub.add_parser("fit", help="fit a model and report test metrics")
    fit.add_argument("data", metavar="DATA")
    fit.add_argument("--model", required=True, choices=_ModelNames(), metavar="NAME", help="one of %(choices)s")
    fit.add_argument("--factors", type=int, metavar="K")
    fit.add_argument("--epochs", type=int, metavar="N")
    fit.add_argument("--lr", type=float, metavar="G", help="learning rate")
    fit.add_argument("--reg", type=float, metavar="L", help="regularization")
    fit.add_argument("--alpha", type=float, metavar="A", help="confidence scaling (implicit models)")
    fit.add_argument("--seed", type=int, metavar="S")
    fit.add_argument("--threads", type=int, metavar="T")
    fit.add_argument("--param", action="append", metavar="NAME=VALUE", help="any other model parameter")
    fit.add_argument("--engine", choices=["local", "spark"], default=None,
                     help="ALS models: fit with mfstudio's kernels (local, the default) or Spark MLlib (spark)")
    fit.add_argument("--spark-master", metavar="URL", default=None,
                     help="with --engine spark: local[*] (default), local[N], spark://host:7077 or sc://host:15002")
    where = fit.add_mutually_exclusive_group()
    where.add_argument("--test", metavar="FILE", help="a separate test file (e.g. u1.test)")
    where.add_argument("--split", default=None, metavar="PROTOCOL",
                       help="all (alias none: no holdout) | random:F | user:F | time:F | time-user:F | kfold:K | leave:K | cells:F "
                            "| cold-items:F | cold-users:F | cold-items-kfold:K | cold-users-kfold:K "
                            "(default: chosen for the data: all for documents/images/grids, random:0.2 for "
                            "ratings, user:0.2 for interactions)")
    fit.add_argument("--kind", choices=["explicit", "implicit", "documents", "dense", "images"],
                     help="treat the data as this kind instead of what the loader decided")
    fit.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                     help="stop when the validation metric has not improved for PATIENCE epochs and keep the "
                          "best epoch's model (models with epochs); validation is carved from the training data")
    fit.add_argument("--validation-fraction", type=float, default=0.1, metavar="F",
                     help="with --early-stopping: share of the training data held out to stop on (default 0.1)")
    # Every model on ratings is scored on both families by default (issue 8: any two runs compare);
    # --no-ranking is the quick path for someone who only wants RMSE and MAE, and says so in the output.
    fit.add_argument("--ranking", action=argparse.BooleanOptionalAction, default=True,
                     help="score a model that predicts ratings (and its reference) by its top-10 lists too: "
                          "precision, recall, NDCG, MAP, coverage and AUC (default); --no-ranking: RMSE and MAE "
                          "only, quicker (models that only rank, and implicit data, are always ranked)")
    fit.add_argument("--json", action="store_true", help="print one JSON object")
    _feature_options(fit)
    fit.add_argument("--save", metavar="MODEL_DIR",
                     help="save the fitted model (the last fold's) into the folder MODEL_DIR, created: "
                          "MODEL_DIR/model.json + MODEL_DIR/arrays.npz; never replaces other files")
    fit.add_argument("--force", action="store_true", help="with --save: replace a model saved earlier in MODEL_DIR")
    fit.set_defaults(func=cmd_fit)

    rec = sub.add_parser("recommend", help="recommend items for a user of a saved model")
    rec.add_argument("model", metavar="MODEL_DIR", help="a model saved with fit --save (its folder)")
    who = rec.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="RAW_ID", help="user id as in the data file")
    who.add_argument("--similar", metavar="RAW_ITEM", help="items similar to this item instead")
    rec.add_argument("--n", type=int, default=10, help="how many (default 10)")
    rec.add_argument("--include-seen", action="store_true", help="also list items the user already has")
    rec.add_argument("--min-support", type=int, metavar="N", help="only items with at least N training ratings (default: chosen for the data; 0 lists all)")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    rec.add_argument("--explain", type=int, nargs="?", const=5, default=None, metavar="N",
                     help="with --user: why each item, as shares of its score (biases, and the N rated items "
                          "that count most, default 5; the rest summed); exact for ALS models")
    rec.set_defaults(func=cmd_recommend)

    onb = sub.add_parser("onboarding", help="what a new user of a saved model should rate first; with --test, "
                                            "after how many ratings their own factors beat the average viewer")
    onb.add_argument("model", metavar="MODEL_DIR", help="a model saved with fit --save (its folder)")
    onb.add_argument("--suggest", type=int, default=10, metavar="N", help="how many items to suggest (default 10)")
    onb.add_argument("--rated", action="append", metavar="ITEM=RATING",
                     help="a rating the new user gave already (repeat): the next suggestions account for it")
    onb.add_argument("--test", metavar="DATA", help="ratings of people to simulate as newcomers (e.g. a file of "
                                                    "users the model was not trained on)")
    onb.add_argument("--ratings", type=int, default=20, metavar="N", help="with --test: simulate up to N ratings (default 20)")
    onb.add_argument("--users", type=int, default=150, metavar="N", help="with --test: simulate at most N people (default 150)")
    onb.add_argument("--seed", type=int, default=0, metavar="S", help="with --test: seed of the simulation")
    onb.add_argument("--json", action="store_true", help="print one JSON object")
    onb.set_defaults(func=cmd_onboarding)

    code = sub.add_parser("export-code", help="write a saved run as a Python script (or notebook) that makes it again")
    code.add_argument("source", metavar="RUN_OR_MODEL_DIR", help="a model folder saved with fit --save")
    code.add_argument("--notebook", action="store_true", help="a Jupyter notebook (.ipynb JSON) instead of a script")
    code.add_argument("--peer", action="store_true",
                      help="add a labelled comparison with the nearest peer library (Surprise, scikit-learn, implicit, pyspark)")
    code.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: standard output); never replaces a file")
    code.add_argument("--force", action="store_true", help="with -o: replace an existing FILE")
    code.add_argument("--data", metavar="DATA", help="the data to load, for a model saved without its recipe")
    code.set_defaults(func=cmd_export_code)

    report = sub.add_parser("report", help="fit one or more models and write one self-contained HTML report")
    report.add_argument("data", metavar="DATA")
    report.add_argument("--model", action="append", required=True, metavar="NAME", help="a model; repeat for more")
    report.add_argument("--split", default=None, metavar="PROTOCOL", help="as fit --split (default: chosen for the data)")
    report.add_argument("--seed", type=int, metavar="S", help="seed of the split")
    report.add_argument("--epochs", type=int, metavar="N", help="n_epochs of every model that has one")
    report.add_argument("--factors", type=int, metavar="K", help="n_factors of every model that has one")
    report.add_argument("--kind", choices=["explicit", "implicit", "documents", "dense", "images"],
                        help="treat the data as this kind instead of what the loader decided")
    report.add_argument("-o", "--out", required=True, metavar="FILE.html", help="the report; never replaces another file")
    report.add_argument("--force", action="store_true", help="replace an earlier mfstudio report at FILE.html")
    report.set_defaults(func=cmd_report)

    sweep = sub.add_parser("sweep", help="score a grid or random search of a model's parameters by cross-validation")
    sweep.add_argument("data", metavar="DATA")
    sweep.add_argument("--model", required=True, choices=_ModelNames(), metavar="NAME", help="one of %(choices)s")
    sweep.add_argument("--grid", action="append", metavar="NAME=V1,V2,...",
                       help="values of one parameter (model's own name, or factors/epochs); repeat for more")
    sweep.add_argument("--random", action="append", metavar="NAME=LOW:HIGH[:log]",
                       help="a random range (log-uniform with :log); needs --trials")
    sweep.add_argument("--trials", type=int, metavar="N", help="random points to score")
    how = sweep.add_mutually_exclusive_group()
    how.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation (default: 3 folds for ratings "
                                                         "and interactions, a 10%% cell holdout for grids)")
    how.add_argument("--split", metavar="PROTOCOL", help="a holdout instead: random:F | user:F | cells:F | ...")
    sweep.add_argument("--metric", metavar="NAME", help="rmse | mae | ndcg@10 | precision@10 | relative_error | ... "
                                                        "(default: chosen for the model and data)")
    sweep.add_argument("--jobs", type=int, metavar="J", help="worker processes (default: the number of cores)")
    sweep.add_argument("--halving", action="store_true",
                       help="successive halving: every point runs n_epochs/9, the best third n_epochs/3, then full")
    sweep.add_argument("--param", action="append", metavar="NAME=VALUE", help="a fixed model parameter")
    sweep.add_argument("--seed", type=int, metavar="S", help="seed of the splits, the random points and the model")
    sweep.add_argument("--kind", choices=["explicit", "implicit", "documents", "dense", "images"],
                       help="treat the data as this kind instead of what the loader decided")
    sweep.add_argument("--json", action="store_true", help="print one JSON object at the end")
    sweep.add_argument("--save", metavar="DIR", help="write DIR/sweep.jsonl (each point as it finishes) and "
                                                     "DIR/sweep.json; never replaces other files")
    sweep.add_argument("--resume", action="store_true", help="with --save: continue the sweep saved there")
    sweep.set_defaults(func=cmd_sweep)

    export = sub.add_parser("export-factors", help="write a saved model's factors in Spark's or implicit's layout")
    export.add_argument("model", metavar="MODEL_DIR", help="a model saved with fit --save")
    export.add_argument("out", metavar="OUT", help="a new folder (spark) or an .npz file (implicit)")
    export.add_argument("--layout", choices=["spark", "implicit"], default="spark",
                        help="spark: an ALSModel folder (ALSModel.load reads it); implicit: AlternatingLeastSquares' .npz")
    export.set_defaults(func=cmd_export_factors)

    imp = sub.add_parser("import-factors", help="open factors trained by Spark or implicit as an mfstudio model")
    imp.add_argument("factors", metavar="FACTORS", help="an ALSModel folder (spark) or an .npz (implicit)")
    imp.add_argument("data", metavar="DATA", help="the ratings or interactions the factors were trained on")
    imp.add_argument("--layout", choices=["spark", "implicit"], default="spark")
    imp.add_argument("--ranking", action="store_true",
                     help="an implicit-feedback model (ranks items) rather than a rating model (default for implicit)")
    imp.add_argument("--save", metavar="MODEL_DIR", required=True, help="save the model here (then open it in the window)")
    imp.add_argument("--force", action="store_true", help="replace a model saved earlier in MODEL_DIR")
    imp.set_defaults(func=cmd_import_factors)
    return parser


def _bug_report(exc: BaseException) -> str:
    """One sentence for an exception that is mfstudio's fault; the traceback goes to the log."""
    import traceback

    where = "rerun with --debug to see the details"
    try:
        from .launcher import log_path

        path = log_path()
        with path.open("a", encoding="utf-8") as log:
            log.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        where = f"the details are in {path}"
    except OSError:
        pass
    return (f"mfstudio hit a bug ({type(exc).__name__}: {exc}); {where}; "
            "please report it with the command you ran")


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def _version() -> str:
    from . import __version__

    return __version__


_COMMANDS = ("info", "samples", "download", "fit", "recommend", "onboarding", "sweep", "export-factors",
             "import-factors", "export-code", "report")


def _wants_gui(argv: list[str]) -> bool:
    """``mfstudio`` alone, or ``mfstudio FILE...`` (a double-click), opens the window.

    Only paths that exist (or ``sample:NAME``) open it: a mistyped command
    (``mfstudio frobnicate``) is answered in the terminal, not by a window
    trying to load a file called "frobnicate".
    """
    if not argv:
        return True
    if argv[0] in _COMMANDS or argv[0].startswith("-"):
        return False
    return all(arg.startswith("sample:") or Path(arg).exists() for arg in argv)


def _not_a_command(word: str) -> str:
    """The sentence for ``mfstudio WORD`` when WORD is neither a command nor an existing path."""
    import difflib

    close = difflib.get_close_matches(word, _COMMANDS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    looks_like_path = any(ch in word for ch in "/\\.") or ":" in word
    what = f"there is no file or folder '{word}'" if looks_like_path else f"'{word}' is not a command"
    return (f"mfstudio: {what}; {hint}the commands are {', '.join(_COMMANDS)} "
            "(mfstudio FILE opens a file in the window; mfstudio --help explains each)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfstudio`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--self-test":
        from .selftest import run_self_test

        return run_self_test(argv[1] if len(argv) > 1 else None)
    if _wants_gui(argv):
        from .gui.app import main as gui_main

        return gui_main(argv)
    if argv[0] not in _COMMANDS and not argv[0].startswith("-"):
        _print(_not_a_command(argv[0]), file=sys.stderr)
        return EXIT_BAD_INPUT
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return args.func(args)
    except _user_errors() as exc:  # evaluated only when an exception arrives here
        if args.debug:
            raise
        _print(f"mfstudio: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _print("mfstudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mfstudio info X | head -3`): nothing more to say, and
        # nothing may be written to the closed pipe at exit either.
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        if args.debug:
            raise
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _print(f"mfstudio: cannot use{where}: {exc.strerror or exc}; check the path and its permissions",
               file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # not the user's mistake: a bug, reported as one
        if args.debug:
            raise
        _print(_bug_report(exc), file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
