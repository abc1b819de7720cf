"""Sweeps: score a grid or a random sample of a model's parameters, point by point, as they finish.

A :class:`Sweep` takes a dataset, a model and one :class:`Axis` per swept
parameter, and scores every combination through the experiment layer
(:class:`mfstudio.experiment.Experiment`, fold by fold). All points share
the same splits (same protocol, same seed), which are also the splits
``mfstudio fit --split`` makes, so a sweep's number for a setting is the
number ``fit`` prints for it.

Where the points run
    ``jobs > 1``: in a pool of ``spawn``-ed worker processes (the window runs
    Qt threads, so it is never forked), one fit per process at a time, so
    numba's threading layer never sees two parallel kernels launched at
    once. Each worker is started once with the dataset (pickled once per
    worker, not per point), makes the splits once, and then scores any
    number of points; it runs its kernels on one thread
    (``NUMBA_NUM_THREADS=1``, BLAS likewise) so that J workers use J cores.
    ``jobs == 1``: on the calling thread, with all the threads numba has;
    cancel then lands through :func:`mfstudio.models.stopping.stop_when`.
Cancelling
    :meth:`Sweep.cancel` (any thread) terminates every worker process and
    returns; the points already finished stay in :attr:`Sweep.results`.
Resuming
    With ``results_path`` every finished point is appended to a JSONL file
    as it finishes; a new sweep over the same file skips the points recorded
    there (matched by their parameters). The file's first line records the
    model, metric, protocol, seed and fixed parameters, and a sweep with
    other settings refuses the file rather than mix incomparable scores.
    Failed points are recorded but rerun; with halving, the points recorded
    keep their status and the others are halved among themselves (the rung
    scores of an interrupted halving are not kept).
Successive halving
    ``halving=True`` (epoch-based models): every point first runs
    ``n_epochs / 9`` epochs, the best third goes on to ``n_epochs / 3``, the
    best third of those to the full ``n_epochs`` (Jamieson & Talwalkar 2016,
    eta = 3). The points left behind are reported as ``"pruned"`` with the
    score and the epochs of the last rung they ran.

This module imports only the standard library at its top: a spawned worker
imports it before it has set its thread counts, and numpy or numba read
those when they are first imported.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import pickle
import queue
import random
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

__all__ = [
    "Axis", "Sweep", "SweepPoint", "default_axis", "parse_grid", "parse_random", "sweepable_params",
    "lower_is_better", "metric_choices", "check_sweep_folder", "write_summary", "fit_command",
]

#: Parameters never worth sweeping: the seed only reshuffles, the threshold changes what the data means.
_NOT_SWEPT = ("seed", "threshold")
#: A cancelled worker gets this long to exit after SIGTERM before it is killed.
_TERMINATE_GRACE = 0.3
#: Marker of the first line of a results file, so that a sweep never appends to someone else's file.
_FORMAT = "mfstudio-sweep-1"

_LOWER_IS_BETTER = ("rmse", "mae", "relative_error", "train_rmse", "train_mae", "train_relative_error")


def _param_error(problem: str, param: str | None = None, fix: str | None = None):
    from .models.params import ParamError

    return ParamError(problem, param=param, fix=fix)


def _model_class(model):
    from .models import MODELS

    if isinstance(model, str):
        if model not in MODELS:
            raise _param_error(f"there is no model {model!r}; the models are {', '.join(MODELS)}")
        return MODELS[model]
    return model


# ---------------------------------------------------------------------- axes
@dataclass
class Axis:
    """One swept parameter: a list of grid values, or a random range.

    Attributes
    ----------
    name : str
        The model's own parameter name (as ``fit --param`` takes it).
    values : list or None
        Grid values (checked by the parameter's declaration), or None for a random axis.
    low, high : float, optional
        The range of a random axis.
    log : bool
        Draw a random axis log-uniformly (a grid made by :func:`default_axis` is log-spaced too).
    """

    name: str
    values: list | None
    low: float | None = None
    high: float | None = None
    log: bool = False

    @property
    def is_random(self) -> bool:
        return self.values is None


def _declared(model_cls, name: str):
    """The :class:`Param` of ``name``, or a ParamError naming the parameters there are."""
    from .models.params import Param

    declared = {p.name: p for p in getattr(model_cls, "params_spec", ())}
    if name not in declared or not isinstance(declared[name], Param):
        raise _param_error(f"the {model_cls.name} model has no parameter {name!r}; its parameters are "
                           f"{', '.join(declared) or 'none'}", param=name or None)
    return declared[name]


def sweepable_params(model_cls) -> list[str]:
    """The numeric parameters worth sweeping (not the seed, not the relevance threshold).

    Parameters
    ----------
    model_cls : type or str
        A model class or its name.

    Returns
    -------
    list of str
        Names in declaration order.
    """
    model_cls = _model_class(model_cls)
    return [p.name for p in model_cls.params_spec if p.kind in ("int", "float") and p.name not in _NOT_SWEPT]


def _split_assignment(text: str, option: str) -> tuple[str, str]:
    name, sep, rest = str(text).partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        form = "V1,V2,..." if option == "--grid" else "LOW:HIGH[:log]"
        raise _param_error(f"{option} {text!r}: expected NAME={form}")
    return name, rest.strip()


def parse_grid(model_cls, text: str) -> Axis:
    """``"factors=10,50,100"``-style text as a grid :class:`Axis`, each value checked by its declaration.

    The name may be the model's parameter (``n_factors``) or a CLI option
    word that maps to it (``factors``, ``epochs``).

    Raises
    ------
    ParamError
        Not ``NAME=V1,V2,...``, an unknown name, a repeated value or a value the parameter refuses.
    """
    model_cls = _model_class(model_cls)
    name, rest = _split_assignment(text, "--grid")
    name = _own_name(model_cls, name)
    declared = _declared(model_cls, name)
    values = []
    for raw in rest.split(","):
        if not raw.strip():
            raise _param_error(f"--grid {text!r}: an empty value between commas", param=name)
        try:
            value = declared.parse(raw)
        except Exception as exc:
            problem = getattr(exc, "problem", str(exc))
            raise _param_error(f"--grid {name}={raw.strip()}: {problem}", param=name) from None
        if value in values:
            raise _param_error(f"--grid {text!r}: {name}={raw.strip()} is listed twice", param=name)
        values.append(value)
    return Axis(name, values)


def parse_random(model_cls, text: str) -> Axis:
    """``"lr=0.001:0.1:log"`` as a random :class:`Axis` (uniform, or log-uniform with ``:log``).

    Both ends are checked by the parameter's declaration; ``:log`` needs both > 0.

    Raises
    ------
    ParamError
        Not ``NAME=LOW:HIGH[:log]``, an unknown or non-numeric parameter, ends out of bounds or
        ``LOW >= HIGH``.
    """
    model_cls = _model_class(model_cls)
    name, rest = _split_assignment(text, "--random")
    name = _own_name(model_cls, name)
    declared = _declared(model_cls, name)
    if declared.kind not in ("int", "float"):
        raise _param_error(f"--random {name}: a random range needs a number parameter, and {name} is "
                           f"{declared.allowed()}", param=name, fix="sweep it with --grid instead")
    parts = [p.strip() for p in rest.split(":")]
    log = len(parts) == 3 and parts[2].lower() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise _param_error(f"--random {text!r}: expected NAME=LOW:HIGH or NAME=LOW:HIGH:log", param=name)
    ends = []
    for raw in parts[:2]:
        try:
            ends.append(declared.parse(raw))
        except Exception as exc:
            problem = getattr(exc, "problem", str(exc))
            raise _param_error(f"--random {name}={raw}: {problem}", param=name) from None
    low, high = ends
    if not low < high:
        raise _param_error(f"--random {text!r}: LOW must be below HIGH", param=name)
    if log and low <= 0:
        raise _param_error(f"--random {text!r}: a log range needs LOW > 0", param=name,
                           fix="drop ':log' or start above zero")
    return Axis(name, None, low=low, high=high, log=log)


def _own_name(model_cls, name: str) -> str:
    """The model's parameter for a CLI option word (``factors`` -> ``n_factors``), else the name itself."""
    aliases = {"factors": "n_factors", "epochs": "n_epochs", "k": "n_factors"}
    if name not in model_cls.defaults and aliases.get(name) in model_cls.defaults:
        return aliases[name]
    return name


def default_axis(model_cls, name: str, n: int = 5) -> Axis:
    """A sensible grid of ``n`` values for a parameter, from its declaration.

    Floats with a positive default (learning rates, penalties, confidence
    scales) span two decades around it, log-spaced: from default / 10 to
    default * 10, clipped to the declared bounds. A float defaulting to 0
    (an optional penalty) gets 0 and log-spaced values from 1e-3 to 1 (or
    its declared range). Integers span default / 4 to default * 4
    (log-spaced, rounded, duplicates dropped), clipped likewise; a small
    bounded integer range is listed whole.

    Raises
    ------
    ParamError
        An unknown or non-numeric parameter.
    """
    model_cls = _model_class(model_cls)
    declared = _declared(model_cls, _own_name(model_cls, name))
    if declared.kind not in ("int", "float"):
        raise _param_error(f"{declared.name} is {declared.allowed()}: a grid of it is its choices",
                           param=declared.name)
    n = max(int(n), 2)
    default = declared.default if declared.default is not None else 1
    low, high = declared.low, declared.high

    def inside(v):
        try:
            return declared.check(v)
        except Exception:
            return None

    if declared.kind == "float":
        if default > 0:
            a, b = default / 10, default * 10
            if low is not None and low > 0:
                a = max(a, low)  # an open bound itself is dropped by the check below
            if high is not None:
                b = min(b, high)
            values = _log_space(a, b, n)
            log = True
        elif low is not None and high is not None:
            values = [low + (high - low) * i / (n - 1) for i in range(n)]
            log = False
        else:
            values = [0.0] + _log_space(1e-3, 1.0 if high is None else high, n - 1)
            log = True
        values = [float(f"{v:.3g}") for v in values]
    else:
        if low is not None and high is not None and high - low + 1 <= n:
            values, log = list(range(int(low), int(high) + 1)), False
        else:
            a = max(int(low) if low is not None else 1, max(1, round(default / 4)))
            b = max(a + 1, default * 4)
            if high is not None:
                b = min(b, int(high))
            values = sorted({int(round(v)) for v in _log_space(a, b, n)})
            log = True
    checked = []
    for v in values:
        v = inside(v)
        if v is not None and v not in checked:
            checked.append(v)
    return Axis(declared.name, checked, low=min(checked), high=max(checked), log=log)


def _log_space(a: float, b: float, n: int) -> list[float]:
    if n == 1:
        return [a]
    la, lb = math.log(a), math.log(b)
    return [math.exp(la + (lb - la) * i / (n - 1)) for i in range(n)]


# -------------------------------------------------------------------- metrics
def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (errors) or a larger one (ranking quality)."""
    return metric.split("@")[0] in _LOWER_IS_BETTER


def metric_choices(dataset, model_cls) -> list[str]:
    """The metrics a sweep of this model on this data can rank points by, the default first."""
    from .experiment import DECOMPOSED_KINDS

    model_cls = _model_class(model_cls)
    if dataset.kind in DECOMPOSED_KINDS:
        return ["relative_error", "rmse"]
    ranking = ["ndcg@10", "precision@10", "recall@10", "map@10", "auc", "coverage@10"]
    if dataset.kind == "explicit" and model_cls.task in ("rating", "reconstruction"):
        return ["rmse", "mae"] + ranking
    return ranking


def _check_metric(metric: str, dataset, model_cls) -> tuple[str, int]:
    """The metric (lower case) and the ranking cut-off it implies; DataError for one the fit cannot give."""
    from .data.errors import DataError

    metric = metric.strip().lower()
    choices = metric_choices(dataset, model_cls)
    base, _, cut = metric.partition("@")
    k = 10
    if cut:
        if not cut.isdigit() or int(cut) < 1:
            raise DataError(f"the metric {metric!r} needs a whole number after '@'", fix="e.g. ndcg@10")
        k = int(cut)
    if f"{base}@10" in choices and cut or metric in choices:
        return metric, k
    raise DataError(f"a sweep of {model_cls.name} on {dataset.kind} data cannot be scored by {metric!r}",
                    fix=f"choose one of {', '.join(choices)}")


# ---------------------------------------------------------------------- points
@dataclass
class SweepPoint:
    """One scored parameter combination.

    Attributes
    ----------
    index : int
        Position in :attr:`Sweep.points`.
    params : dict
        The swept values only, under the model's own names.
    metric : str
        What ``fold_values`` measure.
    fold_values : list of float
        The validation metric of each fold.
    mean, std : float
        Over the folds (std with ddof=1; 0 for one fold).
    train_mean, train_std : float or None
        The same error on the training side of each fold (None where the model has no training
        value of this metric, e.g. ranking models).
    seconds : float
        Wall time of the point (all its folds).
    status : {"done", "failed", "pruned", "cancelled"}
    message : str
        Why it failed, one sentence.
    budget : int or None
        Epochs it ran (successive halving), else None.
    """

    index: int
    params: dict
    metric: str
    fold_values: list
    mean: float
    std: float
    train_mean: float | None
    train_std: float | None
    seconds: float
    status: str
    message: str = ""
    budget: int | None = None

    def as_dict(self) -> dict:
        """A JSON-safe record (NaN as None)."""
        out = asdict(self)
        for key in ("mean", "std", "train_mean", "train_std"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = None
        out["fold_values"] = [v if v is not None and math.isfinite(v) else None for v in out["fold_values"]]
        return out

    @classmethod
    def from_dict(cls, record: dict) -> "SweepPoint":
        nan = float("nan")
        return cls(index=int(record["index"]), params=dict(record["params"]), metric=record["metric"],
                   fold_values=[nan if v is None else float(v) for v in record.get("fold_values", [])],
                   mean=nan if record.get("mean") is None else float(record["mean"]),
                   std=nan if record.get("std") is None else float(record["std"]),
                   train_mean=record.get("train_mean"), train_std=record.get("train_std"),
                   seconds=float(record.get("seconds", 0.0)), status=record["status"],
                   message=record.get("message", ""), budget=record.get("budget"))


def _key(params: dict) -> str:
    """Identity of a parameter combination (resume matching): JSON with sorted names."""
    return json.dumps(params, sort_keys=True)


def _summary(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


# ---------------------------------------------------------- scoring one point
class _Cancelled(Exception):
    pass


class _Scorer:
    """What a worker (or the calling thread) keeps between points: data, model, splits."""

    def __init__(self, dataset, model_name: str, protocol: str, seed: int, metric: str, k: int, splits=None):
        from .experiment import make_splits
        from .models import MODELS

        self.dataset = dataset
        self.model_cls = MODELS[model_name]
        self.protocol, self.seed, self.metric, self.k = protocol, seed, metric, k
        # The same splits for every point: made once here (same spec, same seed as fit --split).
        self.splits = splits if splits is not None else make_splits(dataset, protocol, seed=seed)

    def score(self, index: int, params: dict, swept: dict, budget: int | None) -> SweepPoint:
        from .errors import USER_ERRORS
        from .experiment import Experiment
        from .models.stopping import stop_requested

        started = time.perf_counter()
        folds, trains = [], []
        status, message = "done", ""
        try:
            experiment = Experiment(self.dataset, self.model_cls, params, protocol=self.protocol, seed=self.seed,
                                    k=self.k)
            # Reuse the splits; the reference model is not needed to rank points.
            experiment.splits, experiment.score_reference = self.splits, False
            for fold_index in range(len(self.splits)):
                last = None
                for last in experiment.iter_fold(fold_index):
                    pass
                if stop_requested():
                    raise _Cancelled
                fold = next(f for f in experiment.folds if f.index == fold_index)
                if self.metric not in fold.metrics:
                    raise _missing_metric(self.metric, fold.metrics)
                folds.append(float(fold.metrics[self.metric]))
                train_name = "train_" + self.metric
                train = fold.metrics.get(train_name)
                if train is None and last is not None:
                    train = last.metrics.get(train_name)
                if train is not None:
                    trains.append(float(train))
        except _Cancelled:
            status, message = "cancelled", "the sweep was cancelled while this point ran"
        except USER_ERRORS as exc:
            status, message = "failed", str(exc)
        except MemoryError:
            status, message = "failed", "ran out of memory; try fewer factors"
        except Exception as exc:  # a bug in a model must not take the whole sweep down
            status, message = "failed", f"{type(exc).__name__}: {exc}"
        mean, std = _summary(folds)
        train_mean, train_std = _summary(trains) if trains and len(trains) == len(folds) else (None, None)
        if status == "done" and not math.isfinite(mean):
            status, message = "failed", f"{self.metric} is not a finite number for these parameters"
        return SweepPoint(index, swept, self.metric, folds, mean, std, train_mean, train_std,
                          time.perf_counter() - started, status, message, budget)


def _missing_metric(metric: str, metrics: dict):
    from .data.errors import DataError

    have = ", ".join(sorted(k for k in metrics if not k.startswith("ranking_"))) or "none"
    return DataError(f"the fit reported no {metric} (it reported {have})",
                     fix="choose a metric the model reports with --metric")


# ----------------------------------------------------------------- the workers
_WORKER_SCORER: _Scorer | None = None


def _worker_main(payload: bytes, threads: int | None, tasks, results) -> None:
    """Body of a worker process: set thread counts, unpickle the data once, score tasks until None."""
    import signal

    # Ctrl-C in a terminal reaches the whole process group: the parent decides (it terminates the
    # workers and prints what finished), a worker must not die with its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads:
        # Before numpy/numba are imported (the payload is still bytes): they read these at import.
        for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    global _WORKER_SCORER
    try:
        if threads:
            _limit_threads(threads)
        args = pickle.loads(payload)
        _WORKER_SCORER = _Scorer(*args)
    except BaseException as exc:  # noqa: BLE001 - told to the parent, which fails the points
        results.put(("broken", os.getpid(), f"{type(exc).__name__}: {exc}"))
        return
    while True:
        task = tasks.get()
        if task is None:
            return
        index, params, swept, budget = task
        results.put(("start", os.getpid(), index))
        point = _WORKER_SCORER.score(index, params, swept, budget)
        results.put(("done", os.getpid(), point.as_dict()))


def _limit_threads(threads: int) -> None:
    """Thread limits for libraries already imported (the CLI's main module imports numpy first)."""
    import sys

    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


class _ProcessPool:
    """``jobs`` spawned processes fed from one task queue; terminate() stops them all at once."""

    def __init__(self, jobs: int, scorer_args: tuple, threads: int | None):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # never fork: the window has Qt threads
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        payload = pickle.dumps(scorer_args, protocol=pickle.HIGHEST_PROTOCOL)
        self.processes = [ctx.Process(target=_worker_main, args=(payload, threads, self.tasks, self.results),
                                      daemon=True, name=f"mfstudio-sweep-{i}") for i in range(jobs)]
        for p in self.processes:
            p.start()
        self.running: dict[int, int] = {}  # pid -> point index
        self.metric = scorer_args[4]

    def run(self, tasks: list, cancelled: threading.Event) -> Iterator[SweepPoint]:
        """Score ``tasks``; yield each point as it finishes; return early once ``cancelled`` is set."""
        for task in tasks:
            self.tasks.put(task)
        pending = {task[0]: task for task in tasks}
        while pending and not cancelled.is_set():
            try:
                message = self.results.get(timeout=0.05)
            except (OSError, ValueError, EOFError):
                return  # terminate() closed the queue from the cancelling thread
            except queue.Empty:
                if cancelled.is_set():
                    break  # workers killed by cancel() are not failures
                self._check_alive()
                for point in self._lost(pending):
                    yield point
                continue
            kind, pid = message[0], message[1]
            if kind == "start":
                self.running[pid] = message[2]
            elif kind == "done":
                point = SweepPoint.from_dict(message[2])
                self.running.pop(pid, None)
                if pending.pop(point.index, None) is not None:
                    yield point
            elif kind == "broken":
                self._broken = message[2]
        return

    _broken: str | None = None
    _dead: list

    def _check_alive(self) -> None:
        self._dead = [p for p in self.processes if not p.is_alive() and p.exitcode not in (0, None)]

    def _lost(self, pending: dict) -> Iterator[SweepPoint]:
        """Points whose worker died (killed, out of memory) become failed; all fail when no worker is left."""
        nan = float("nan")
        for p in getattr(self, "_dead", []):
            index = self.running.pop(p.pid, None)
            if index is not None and index in pending:
                task = pending.pop(index)
                yield SweepPoint(index, task[2], self.metric, [], nan, nan, None, None, 0.0, "failed",
                                 f"the worker process stopped (exit code {p.exitcode}) while fitting this point",
                                 task[3])
        self._dead = []
        if pending and not any(p.is_alive() for p in self.processes):
            why = self._broken or "every worker process stopped"
            for index, task in list(pending.items()):
                pending.pop(index)
                yield SweepPoint(index, task[2], self.metric, [], nan, nan, None, None, 0.0, "failed", why, task[3])

    def in_flight(self) -> list[int]:
        return list(self.running.values())

    def close(self) -> None:
        """Let the workers finish and exit (after the last task)."""
        for _ in self.processes:
            self.tasks.put(None)
        for p in self.processes:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        self._release()

    def terminate(self) -> None:
        """Stop every worker now: SIGTERM, then SIGKILL for one that has not exited within the grace time."""
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + _TERMINATE_GRACE
        for p in self.processes:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        for p in self.processes:
            if p.is_alive():
                p.kill()
                p.join(timeout=0.5)
        self._release()

    def _release(self) -> None:
        for q in (self.tasks, self.results):
            q.cancel_join_thread()  # a queue's feeder thread must not block exit on unread items
            q.close()


# ----------------------------------------------------------------------- sweep
class Sweep:
    """A grid or random search over a model's parameters, scored by cross-validation or a holdout.

    Parameters
    ----------
    dataset : Dataset
    model : str or Model class
    axes : list of Axis
        The swept parameters (one or more); see :func:`parse_grid`, :func:`parse_random`,
        :func:`default_axis`.
    fixed : dict, optional
        Other parameters, the same for every point (model's own names).
    protocol : str, optional
        ``"kfold:K"`` or any holdout spec of :mod:`mfstudio.experiment`; default ``kfold:3`` for
        ratings and interactions, ``cells:0.1`` for documents, images and grids.
    metric : str, optional
        Default ``rmse`` where the model predicts ratings, ``ndcg@10`` for ranking models,
        ``relative_error`` (on held-out cells) for decompositions.
    trials : int, optional
        Number of random points when any axis is random (required then); a grid is the cartesian
        product of its axes.
    jobs : int, optional
        Worker processes (default: the number of cores, capped by the number of points). 1 runs on
        the calling thread.
    halving : bool
        Successive halving over ``n_epochs`` (eta = 3).
    seed : int
        Seed of the splits and of the random points.
    results_path : path, optional
        JSONL file: every finished point is appended; a sweep over the same file skips the points
        already recorded there.

    Raises
    ------
    ParamError
        A swept or fixed value the model refuses, an axis named twice, halving without epochs.
    DataError
        A protocol or metric that does not fit the data, a results file of another sweep.

    Examples
    --------
    >>> from mfstudio.data import open_data
    >>> sweep = Sweep(open_data("sample:movies"), "sgd",
    ...               [parse_grid("sgd", "factors=5,10")], fixed={"n_epochs": 3})  # doctest: +SKIP
    >>> sweep.run().best_params()  # doctest: +SKIP
    """

    def __init__(self, dataset, model, axes: list[Axis], *, fixed: dict | None = None, protocol: str | None = None,
                 metric: str | None = None, trials: int | None = None, jobs: int | None = None,
                 halving: bool = False, seed: int = 0, results_path=None):
        from .experiment import DECOMPOSED_KINDS, Experiment

        self.model_cls = _model_class(model)
        self.dataset = dataset
        self.axes = list(axes)
        if not self.axes:
            raise _param_error("a sweep needs at least one swept parameter", fix="add --grid or --random")
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise _param_error(f"{names[0] if names.count(names[0]) > 1 else 'a parameter'} is swept twice",
                               fix="give each parameter one --grid or --random")
        self.fixed = dict(fixed or {})
        for axis in self.axes:
            _declared(self.model_cls, axis.name)
            if axis.name in self.fixed:
                raise _param_error(f"{axis.name} is both swept and fixed", param=axis.name,
                                   fix="drop its --param")
        self.seed = int(seed)
        self.halving = bool(halving)
        if self.halving:
            if "n_epochs" not in self.model_cls.defaults:
                raise _param_error(f"successive halving needs a model fitted epoch by epoch, and {self.model_cls.name} "
                                   "has no n_epochs", fix="drop --halving")
            if "n_epochs" in names:
                raise _param_error("successive halving sets n_epochs itself, so it cannot be swept too",
                                   param="n_epochs", fix="drop --halving or the n_epochs axis")
        if protocol is None:
            protocol = "cells:0.1" if dataset.kind in DECOMPOSED_KINDS else "kfold:3"
        self.protocol = protocol
        # The experiment refuses a model that does not fit this kind of data, in one sentence.
        Experiment(dataset, self.model_cls, self.fixed, protocol=protocol, seed=self.seed)
        if metric is None:
            metric = metric_choices(dataset, self.model_cls)[0]
        self.metric, self._k = _check_metric(metric, dataset, self.model_cls)
        self.lower_is_better = lower_is_better(self.metric)

        random_axes = [a for a in self.axes if a.is_random]
        if random_axes:
            if not trials or int(trials) < 1:
                raise _param_error("a random search needs the number of points", fix="give --trials N")
            self.points = self._random_points(int(trials))
        else:
            if trials:
                raise _param_error("--trials is for random ranges; a grid scores every combination",
                                   fix="drop --trials or use --random")
            self.points = [dict(zip(names, combo)) for combo in itertools.product(*(a.values for a in self.axes))]
        if not self.points:
            raise _param_error("the sweep has no points: an axis lists no values")
        for point in self.points:  # every combination checked (joint rules too) before anything runs
            self.model_cls(**self._params(point)).validate_params()
        self.n_epochs = int(self._params({}).get("n_epochs") or self.model_cls.defaults.get("n_epochs") or 1)

        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        self.jobs = max(1, min(int(jobs) if jobs else cores, len(self.points)))
        # The splits are made here first: a protocol that does not fit the data fails now, in one sentence.
        from .experiment import make_splits

        self._splits = make_splits(dataset, self.protocol, seed=self.seed)
        self.results: list[SweepPoint] = []
        self.resumed: list[int] = []
        self.results_path = Path(results_path) if results_path is not None else None
        self._recorded: dict[str, SweepPoint] = {}
        if self.results_path is not None:
            self._read_results()
        self._cancel = threading.Event()
        self._pool: _ProcessPool | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ set-up
    def _params(self, swept: dict) -> dict:
        return {**self.fixed, **swept}

    def _random_points(self, trials: int) -> list[dict]:
        rng = random.Random(self.seed)  # the same seed, the same points
        points, seen = [], set()
        for _ in range(trials * 20):
            if len(points) == trials:
                break
            point = {}
            for axis in self.axes:
                if not axis.is_random:
                    point[axis.name] = rng.choice(axis.values)
                    continue
                declared = _declared(self.model_cls, axis.name)
                if axis.log:
                    value = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
                else:
                    value = rng.uniform(axis.low, axis.high)
                if declared.kind == "int":
                    value = int(round(value))
                else:
                    value = float(f"{value:.4g}")  # readable in a table and in a fit --param line
                point[axis.name] = declared.check(min(max(value, axis.low), axis.high))
            if _key(point) not in seen:  # an integer range smaller than trials cannot give more points
                seen.add(_key(point))
                points.append(point)
        return points

    def _header(self) -> dict:
        return {"format": _FORMAT, "model": self.model_cls.name, "metric": self.metric, "protocol": self.protocol,
                "seed": self.seed, "fixed": self.fixed, "halving": self.halving}

    def _read_results(self) -> None:
        from .data.errors import DataError

        path = self.results_path
        if not path.exists():
            return
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the sweep results ({exc})", path, fix="choose another file") from None
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError:
                if number == len(lines):
                    continue  # the last line of a sweep killed mid-write: that point simply reruns
                raise DataError("it is not a results file of an mfstudio sweep", path, line=number,
                                fix="choose another file") from None
        if not records:
            return
        number, header = records[0]
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise DataError("it is not a results file of an mfstudio sweep, and mfstudio never appends to "
                            "other files", path, fix="choose another file")
        mine = self._header()
        differs = [k for k in ("model", "metric", "protocol", "seed", "fixed", "halving") if header.get(k) != mine[k]]
        if differs:
            raise DataError(f"it holds a sweep with another {differs[0]} ({header.get(differs[0])!r}, not "
                            f"{mine[differs[0]]!r}), so its points cannot be reused", path,
                            fix="give the same settings, or a new results file")
        wanted = {_key(p): i for i, p in enumerate(self.points)}
        for number, record in records[1:]:
            try:
                point = SweepPoint.from_dict(record)
            except (KeyError, TypeError, ValueError):
                raise DataError("a line is not a sweep point", path, line=number, fix="choose another file") from None
            key = _key(point.params)
            if point.status in ("done", "pruned") and key in wanted:
                point.index = wanted[key]
                self._recorded[key] = point

    def _append(self, point: SweepPoint) -> None:
        if self.results_path is None:
            return
        from .data.errors import DataError

        try:
            self.results_path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.results_path.exists() or self.results_path.stat().st_size == 0
            with self.results_path.open("a", encoding="utf-8") as out:
                if new:
                    out.write(json.dumps(self._header()) + "\n")
                out.write(json.dumps(point.as_dict()) + "\n")
                out.flush()
        except OSError as exc:
            raise DataError(f"cannot write the sweep results ({exc.strerror or exc})", self.results_path,
                            fix="choose a folder you can write to") from None

    # ------------------------------------------------------------ running
    def iter_results(self) -> Iterator[SweepPoint]:
        """Run the sweep, yielding each :class:`SweepPoint` as it finishes (recorded ones first).

        Stops early, without error, after :meth:`cancel`; the points in flight then end as
        ``"cancelled"`` (in :attr:`results`, not in the results file, so a resume reruns them).
        """
        todo = []
        for index, swept in enumerate(self.points):
            recorded = self._recorded.get(_key(swept))
            if recorded is not None:
                self.resumed.append(index)
                self.results.append(recorded)
                yield recorded
            else:
                todo.append(index)
        if not todo or self._cancel.is_set():
            return
        completed = False
        try:
            if self.halving:
                yield from self._halving(todo)
            else:
                yield from self._run_tasks([(i, self._params(self.points[i]), self.points[i], None) for i in todo],
                                           final=True)
            completed = True
        finally:
            # Left early (Ctrl-C, an error, the consumer closed the generator): stop the workers now
            # rather than wait for the points they are fitting.
            self._shutdown(terminate=not completed)

    def _scorer_args(self) -> tuple:
        return (self.dataset, self.model_cls.name, self.protocol, self.seed, self.metric, self._k, self._splits)

    def _run_tasks(self, tasks: list, final: bool) -> Iterator[SweepPoint]:
        """Score tasks ``(index, params, swept, budget)``; ``final`` points are recorded and yielded."""
        for point in self._score_tasks(tasks):
            if final or point.status == "cancelled":
                self._finish(point)
            yield point

    def _finish(self, point: SweepPoint) -> None:
        with self._lock:
            self.results.append(point)
        if point.status in ("done", "pruned", "failed"):
            self._append(point)

    def _score_tasks(self, tasks: list) -> Iterator[SweepPoint]:
        if self.jobs == 1:
            yield from self._score_here(tasks)
            return
        with self._lock:
            if self._cancel.is_set():
                return
            if self._pool is None:
                threads = 1  # J workers on J cores: one thread each, no oversubscription
                self._pool = _ProcessPool(min(self.jobs, len(self.points)), self._scorer_args(), threads)
            pool = self._pool
        done = set()
        for point in pool.run(tasks, self._cancel):
            done.add(point.index)
            yield point
        if self._cancel.is_set():
            nan = float("nan")
            for index, params, swept, budget in tasks:
                if index not in done and index in pool.in_flight():
                    yield SweepPoint(index, swept, self.metric, [], nan, nan, None, None, 0.0, "cancelled",
                                     "the sweep was cancelled while this point ran", budget)

    def _score_here(self, tasks: list) -> Iterator[SweepPoint]:
        from .models.stopping import stop_when

        scorer = _Scorer(*self._scorer_args())
        with stop_when(self._cancel):
            for index, params, swept, budget in tasks:
                if self._cancel.is_set():
                    return
                point = scorer.score(index, params, swept, budget)
                yield point
                if point.status == "cancelled":
                    return

    def _halving(self, todo: list[int]) -> Iterator[SweepPoint]:
        """Successive halving with eta = 3: budgets n/9, n/3, n; the best third goes on at each rung."""
        full = self.n_epochs
        budgets = sorted({max(1, full // 9), max(1, full // 3), full})
        alive = list(todo)
        sign = 1.0 if self.lower_is_better else -1.0
        for rung, budget in enumerate(budgets):
            last = rung == len(budgets) - 1
            tasks = [(i, {**self._params(self.points[i]), "n_epochs": budget}, self.points[i], budget) for i in alive]
            scored = []
            for point in self._score_tasks(tasks):
                if last or point.status in ("failed", "cancelled"):
                    self._finish(point)
                    yield point
                else:
                    scored.append(point)
            if self._cancel.is_set() or last:
                return
            scored.sort(key=lambda p: sign * p.mean)
            keep = max(1, math.ceil(len(scored) / 3))
            alive = [p.index for p in scored[:keep]]
            for point in scored[keep:]:
                point.status = "pruned"
                point.message = f"pruned after {budget} of {full} epochs: not in the best third"
                self._finish(point)
                yield point
            alive.sort()

    def run(self, on_point: Callable[[SweepPoint], None] | None = None) -> "Sweep":
        """Run every point (``on_point(point)`` as each finishes); returns self."""
        for point in self.iter_results():
            if on_point is not None:
                on_point(point)
        return self

    def cancel(self) -> None:
        """Stop the sweep from any thread: every worker process is terminated; finished points stay."""
        self._cancel.set()
        self._shutdown(terminate=True)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _shutdown(self, terminate: bool = False) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        if terminate or self._cancel.is_set():
            pool.terminate()
        else:
            pool.close()

    # ------------------------------------------------------------ results
    @property
    def best(self) -> SweepPoint | None:
        """The best finished point (full budget: pruned points never win), or None."""
        done = [p for p in self.results if p.status == "done" and math.isfinite(p.mean)]
        if not done:
            return None
        return (min if self.lower_is_better else max)(done, key=lambda p: (p.mean, p.index))

    def best_params(self) -> dict:
        """The fixed parameters with the best point's swept values (model's own names); {} before any."""
        best = self.best
        return self._params(best.params) if best is not None else {}

    def as_dict(self) -> dict:
        """``{"model", "metric", "lower_is_better", "protocol", "results", "best"}`` (what ``sweep --json`` prints)."""
        best = self.best
        return {
            "model": self.model_cls.name,
            "metric": self.metric,
            "lower_is_better": self.lower_is_better,
            "protocol": self.protocol,
            "seed": self.seed,
            "fixed": self.fixed,
            "axes": [asdict(a) for a in self.axes],
            "halving": self.halving,
            "jobs": self.jobs,
            "n_points": len(self.points),
            "results": [p.as_dict() for p in self.results],
            "best": None if best is None else {
                "params": self.best_params(), "swept": best.params, "mean": best.mean, "std": best.std,
                "train_mean": best.train_mean, "index": best.index},
        }


# ------------------------------------------------------------------ saving
#: The files ``sweep --save DIR`` writes: the resumable results and the summary.
RESULTS_NAME, SUMMARY_NAME = "sweep.jsonl", "sweep.json"


def _is_own_results(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8") as stream:
            first = stream.readline()
        return json.loads(first).get("format") == _FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def check_sweep_folder(folder, resume: bool = False) -> Path:
    """Refuse, before anything runs, a ``--save`` folder that holds what a sweep must not replace.

    The folder may be new or empty; it may hold only this command's two files
    (:data:`RESULTS_NAME`, :data:`SUMMARY_NAME`), and an earlier results file
    only with ``resume`` (it is then continued, never rewritten).

    Returns
    -------
    Path
        The results file to pass as ``results_path``.

    Raises
    ------
    DataError
        A file in the way, foreign files in the folder, an earlier sweep without ``resume``,
        or ``resume`` with nothing to resume.
    """
    from .data.errors import DataError

    folder = Path(folder)
    results, summary = folder / RESULTS_NAME, folder / SUMMARY_NAME
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise DataError("it is a file, not a folder; a sweep saves into a folder of its own", folder,
                            fix="choose a new folder name")
        foreign = sorted(p.name for p in folder.iterdir()
                         if p.name not in (RESULTS_NAME, SUMMARY_NAME) and not p.name.startswith("."))
        if foreign:
            raise DataError(f"the folder already holds other files ('{foreign[0]}'), and a sweep needs a folder "
                            "of its own", folder, fix="choose a new folder name")
        for path, own in ((results, _is_own_results), (summary, _is_own_summary)):
            if (path.exists() or path.is_symlink()) and not (path.is_file() and own(path)):
                raise DataError("it is not a file mfstudio's sweep wrote, and mfstudio never replaces other files",
                                path, fix="choose a new folder name")
        if results.exists() and not resume:
            raise DataError("it already holds a sweep's results", folder,
                            fix="continue it with --resume, or choose a new folder")
    if resume and not results.exists():
        raise DataError("there is no sweep to resume in it", folder, fix="drop --resume to start one")
    return results


def _is_own_summary(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == _FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def write_summary(folder, sweep: "Sweep") -> Path:
    """Write :meth:`Sweep.as_dict` to ``folder/sweep.json`` atomically (after :func:`check_sweep_folder`)."""
    from .data.errors import DataError
    from .savefiles import atomic_write

    path = Path(folder) / SUMMARY_NAME
    text = json.dumps({"format": _FORMAT, **sweep.as_dict()}, indent=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
    except OSError as exc:
        raise DataError(f"cannot write the sweep summary ({exc.strerror or exc})", path,
                        fix="choose a folder you can write to") from None
    return path


def fit_command(data: str, sweep: "Sweep", *, kind: str | None = None, seed: int | None = None) -> str:
    """The ``mfstudio fit`` line that scores the best point on the same splits (``fit --param`` names).

    Returns an empty string when no point finished.
    """
    import shlex

    params = sweep.best_params()
    if not params:
        return ""
    words = ["mfstudio", "fit", data, "--model", sweep.model_cls.name, "--split", sweep.protocol]
    if kind:
        words += ["--kind", kind]
    if seed is not None:
        words += ["--seed", str(seed)]
    for name, value in params.items():
        if name == "seed" and seed is not None and value == seed:
            continue  # fit --seed sets the model's seed too
        text = ("true" if value else "false") if isinstance(value, bool) else repr(value) if isinstance(value, float) \
            else str(value)
        words += ["--param", f"{name}={text}"]
    return " ".join(shlex.quote(w) for w in words)
