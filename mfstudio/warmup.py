"""Compile (or load from numba's cache) every kernel before the user needs it.

numba compiles a kernel on its first call, which takes seconds; in the GUI
that would look like a frozen Run button. :func:`warm_up` fits every
registered model for one step on a tiny dataset, so each kernel is compiled
with the argument types real fits use, and reports whether the machine code
came from the on-disk cache (``cache=True``) or had to be compiled.

It lives above ``models/`` (it imports them), not in ``kernels/``, so that
every import arrow between the layers points one way (DESIGN.md, and the
import-linter contracts in ``pyproject.toml``).

What is warmed, and in which order (issue 13: the first fit ready first,
everything within seconds):

1. the model named ``first`` (the window's selection), then the others;
2. per model, every combination of the word parameters that choose a
   kernel (solver, loss, optimizer, method, algorithm), over every data
   kind the model accepts. Parameters that choose no kernel
   (:data:`NO_KERNEL_CHOICES`: centring, initialisation, confidence scaling,
   the hybrids' choice and scaling of side features)
   are left at their default, and so are :data:`DEFERRED_CHOICES`: ``engine``
   (Spark is not a numba kernel: starting a JVM here took minutes) and
   SVD's ``dtype`` (float64 is the one non-float32 variant, a choice no
   default makes: its 4 signatures, the float64 products and pair dots,
   compile on first use, a few seconds, and are not warmed at all: they
   were a tenth of the first start's compile time);
3. with ``extras``: the kernels only large fits use (Hogwild SGD, parallel
   predictions), the ranking evaluation, and rare paths.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import pkgutil
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["warm_up", "kernel_cache_stats", "kernel_cache_dir", "kernels_missing_from_cache", "kernel_cache_stamp"]


def _dispatchers():
    from numba.core.registry import CPUDispatcher

    from . import kernels

    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for value in vars(module).values():
            # Each kernel once, under the module that defines it (not where it is imported).
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__:
                yield f"{info.name}.{value.py_func.__name__}", value


def kernel_cache_dir() -> str | None:
    """Where numba keeps the compiled kernels, as numba itself resolved it.

    ``NUMBA_CACHE_DIR`` when numba can see the kernels' source files; in a
    frozen bundle (no sources) numba falls back to its user-wide cache
    folder (``~/.cache/numba`` on Linux), keyed by the executable.
    """
    for _, dispatcher in _dispatchers():
        path = getattr(getattr(dispatcher, "_cache", None), "cache_path", None)
        if path:
            return str(path)
    return None


def kernel_cache_stats() -> dict:
    """How many kernel signatures were loaded from numba's cache and how many compiled."""
    hits = misses = 0
    for _, dispatcher in _dispatchers():
        stats = dispatcher.stats
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return {"from_cache": int(hits), "compiled": int(misses)}


#: The kernel module of building blocks that only other kernels call (never Python).
COMMON_MODULE = "_common"


def kernel_cache_stamp() -> str | None:
    """A fingerprint of what decides whether numba's cache holds the kernels, read without importing numba.

    The kernels' source files (numba stamps its cache entries with their
    modification time and size), numba's and Python's versions, the cache
    folder and every index file in it (name, time, size: numba rewrites an
    index when it adds a compiled signature, and a wiped cache has none).
    Equal to the stamp remembered after a check found nothing missing, the
    window is ready at once instead of after importing numba to ask it; the
    check still follows. Conservative: any change anywhere in the cache (even
    for another install) only means the full check runs first, as before.
    None when it cannot be read. Core (no Qt, no numba): the window asks it
    before anything imports numba.

    Only this install's folder of the cache is read when it has one (numba
    names it ``kernels_<sha1 of the kernels' folder>``): the caches of other
    checkouts or bundles beside it change nothing here, and walking them all
    cost 0.09 s of the window's start on a machine with nine of them.
    """
    import hashlib
    import importlib.util

    try:
        spec = importlib.util.find_spec("mfstudio.kernels")
        folder = Path(next(iter(spec.submodule_search_locations)))
        # numba's version, read as its files rather than through importlib.metadata (20-25 ms to import):
        # an upgrade or a reinstall rewrites them.
        numba_spec = importlib.util.find_spec("numba")
        if numba_spec is None or not numba_spec.origin:
            return None
        numba_folder = Path(numba_spec.origin).parent
        parts = [sys.version, os.environ.get("NUMBA_CACHE_DIR", "")]
        for source in (numba_folder / "__init__.py", numba_folder / "_version.py"):
            info = source.stat()
            parts.append(f"numba/{source.name}:{info.st_mtime_ns}:{info.st_size}")
        for source in sorted(folder.glob("*.py")):
            info = source.stat()
            parts.append(f"{source.name}:{info.st_mtime_ns}:{info.st_size}")
        cache = os.environ.get("NUMBA_CACHE_DIR")
        if not cache or not os.path.isdir(cache):
            return None  # numba's own default place: only its check knows
        own = os.path.join(cache, f"{folder.name}_{hashlib.sha1(os.path.abspath(folder).encode()).hexdigest()}")
        walked = own if os.path.isdir(own) else cache
        indexes = []
        for root, _dirs, files in os.walk(walked):
            for name in files:
                if name.endswith(".nbi"):
                    info = os.stat(os.path.join(root, name))
                    indexes.append(f"{os.path.relpath(os.path.join(root, name), cache)}:{info.st_mtime_ns}:{info.st_size}")
        if not indexes:
            return None
        parts.extend(sorted(indexes))
    except (OSError, StopIteration, TypeError, ImportError, ValueError):
        return None
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def kernels_missing_from_cache() -> list[str]:
    """The kernels numba would have to compile on first use: none on a warm cache.

    Reads numba's on-disk index of each kernel, which numba itself treats as
    empty when the kernel's source changed since it was cached (its stamp is
    the source file's). Cheap (no compilation, no machine code loaded): the
    window asks it at start-up to decide whether to prepare kernels behind a
    "first run only" status or to be ready at once and load them on demand.
    A kernel whose cache cannot be read counts as missing.

    The building blocks of ``kernels/_common.py`` (Cholesky, row dots) are
    not asked: only other kernels call them, and a caller loaded from its
    cache carries them compiled in, so their own entries stay empty for good
    once ``_common.py`` changes (numba stamps each file alone) and counting
    them put every later start behind "Preparing kernels (first run only)".
    """
    missing = []
    for name, dispatcher in _dispatchers():
        if name.startswith(f"{COMMON_MODULE}."):
            continue
        cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
        try:
            cached = bool(cache_file._load_index()) if cache_file is not None else False
        except Exception:  # noqa: BLE001 - numba's internals: unreadable is simply "not cached"
            cached = False
        if not cached:
            missing.append(name)
    return missing


def _tiny(kind: str):
    from .data.dataset import Dataset

    rng = np.random.default_rng(0)
    n_rows, n_cols = 12, 10
    dense = rng.random((n_rows, n_cols))
    if kind in ("documents", "images", "dense"):
        rows, cols = np.nonzero(dense > (0.5 if kind == "documents" else -1))
        return Dataset(kind=kind, rows=rows, cols=cols, values=dense[rows, cols],
                       row_ids=np.arange(n_rows), col_ids=np.arange(n_cols).astype(str) if kind == "documents" else np.arange(n_cols),
                       image_shape=(2, 5) if kind == "images" else None)
    rows, cols = np.nonzero(dense > 0.4)
    values = np.ceil(dense[rows, cols] * 5) if kind == "explicit" else np.ones(rows.size)
    # Ratings carry times (a few weeks' worth) so that the time-aware model (timesvdpp) is warmed too.
    timestamps = 1_000_000_000 + 86_400 * np.arange(rows.size) if kind == "explicit" else None
    return Dataset(kind=kind, rows=rows, cols=cols, values=values, row_ids=np.arange(n_rows), col_ids=np.arange(n_cols),
                   timestamps=timestamps, rating_scale=(1, 5) if kind == "explicit" else None)


#: Word parameters that pick no kernel of their own: warmed at their default only.
#: The hybrids' ``features`` / ``normalize`` only fill the feature CSR arrays (same dtypes, empty or not):
#: 12 combinations x 3 model-kind pairs ran the same signatures of hybrid_sgd_epoch and hybrid_bpr_epoch.
NO_KERNEL_CHOICES = frozenset({"center", "init", "scaling", "features", "normalize"})
#: Word parameters whose other values are not numba kernels (``engine``) or
#: not float32 (``dtype``): their defaults are warmed with the model, the rest
#: compile when a fit first uses them.
DEFERRED_CHOICES = frozenset({"engine", "dtype"})


def warm_up(progress=None, first: str | None = None, lock=None, extras: bool = True) -> dict:
    """Run every model once on tiny data so that all kernels are ready.

    Parameters
    ----------
    progress : callable(done, total) -> bool, optional
        Called after each model; returning False stops early.
    first : str, optional
        Name of the model to prepare first (the one the user has selected),
        so that it is ready after seconds rather than after all of them.
    lock : context manager, optional
        Held for each model in turn, not for the whole warm-up: a fit that
        waits on it starts after the model being prepared, not after all.
    extras : bool, default True
        Also prepare what only large or unusual fits use, last: the Hogwild
        SGD kernel (when numba has more than one thread), parallel
        predictions, the ranking evaluation, time-decay weights and rare
        paths.

    Returns
    -------
    dict
        ``seconds`` taken, and the kernel signatures ``from_cache`` /
        ``compiled`` (see :func:`kernel_cache_stats`).
    """
    from .models import MODELS

    started = time.perf_counter()
    names = sorted(MODELS, key=lambda name: (name != first, name))
    total = len(names) + (1 if extras else 0)
    for k, name in enumerate(names, start=1):
        with lock if lock is not None else contextlib.nullcontext():
            _warm_model(MODELS[name])
        if progress is not None and progress(k, total) is False:
            break
    else:
        if extras:
            with lock if lock is not None else contextlib.nullcontext():
                _warm_extras(MODELS)
            if progress is not None:
                progress(total, total)
    return {"seconds": time.perf_counter() - started, **kernel_cache_stats()}


def _variants(cls):
    """Parameter sets of ``cls`` whose fits run distinct kernels (see the module notes)."""
    choices = {name: values for name, values in cls.param_choices.items()
               if name not in NO_KERNEL_CHOICES and name not in DEFERRED_CHOICES}
    return [dict(zip(choices, combination)) for combination in itertools.product(*choices.values())]


def _warm_model(cls, variants=None) -> None:
    """Fit ``cls`` one step on tiny data of each kind, for each kernel-choosing parameter combination."""
    base = {"n_epochs": 1} if "n_epochs" in cls.defaults else {}
    if "n_factors" in cls.defaults:
        base["n_factors"] = 2
    for variant in _variants(cls) if variants is None else variants:
        params = {**base, **variant}
        for kind in cls.kinds:
            data = _tiny(kind)
            model = cls(**params)
            try:
                for _ in model.iter_fit(data):
                    break
            except ValueError:  # a combination the model refuses (KL needs "mu")
                break
            model.predict(data.rows[:3], data.cols[:3])  # the validation path


def _warm_extras(models) -> None:
    """The kernels only large fits (Hogwild SGD on several threads, parallel predictions) and evaluation use."""
    import numba

    if numba.get_num_threads() > 1:
        from .kernels import sgd

        rows = np.arange(4, dtype=np.int32)
        values = np.ones(4, dtype=np.float32)
        bias = np.zeros(4, dtype=np.float32)
        P = np.zeros((4, 2), dtype=np.float32)
        sgd.sgd_epoch_hogwild(rows, rows, values, 1.0, bias, bias.copy(), P, P.copy(), 0.01, 0.01, 0.0, 0.0, 2)
    # The ranking evaluation of every fit on ratings or interactions (a score matrix, or popularity's one row).
    from .kernels.ranking import rank_block, rank_shared

    indptr, indices = np.array([0, 1], dtype=np.int64), np.array([0], dtype=np.int64)
    rank_block(np.zeros((1, 2), dtype=np.float32), indptr, indices, indptr, indices, 1, True, 1,
               np.zeros(1, dtype=np.uint64))
    rank_shared(np.zeros(2, dtype=np.float32), indptr, indices, indptr, indices, 1, True)
    # Predictions of large batches run in parallel (tiny fits only call the serial twin). float32 factors
    # only: float64 ones come from SVD's dtype="float64" alone, which compiles on first use.
    from .kernels.predict import add_pair_dots

    factors = np.ones((3, 2), dtype=np.float32)
    pairs = np.arange(3, dtype=np.int64)
    add_pair_dots(factors, factors, pairs, pairs, np.zeros(3))
    # A half-life (time-decay weights) runs the weighted twins of the serial SGD and the explicit ALS kernels.
    for cls in models.values():
        if "half_life_days" in cls.defaults:
            _warm_model(cls, [{"half_life_days": 30.0}])
    _warm_rare_paths(models)


def _warm_rare_paths(models) -> None:
    """Paths tiny data never takes: Bayesian MF's parallel sampler and NMF's correction over empty cells.

    Without them the start-up check found these kernels missing on every
    launch (the warm-up had never made them) and the window said "first run
    only" each time.
    """
    from .models import bpmf as bpmf_module

    # The parallel sampler is chosen by the work of a sweep; the warm-up holds the fit lock, so no fit sees
    # the lowered threshold.
    threshold, bpmf_module._PARALLEL_WORK = bpmf_module._PARALLEL_WORK, 0
    try:
        _warm_model(models["bpmf"], [{}])
    finally:
        bpmf_module._PARALLEL_WORK = threshold
    # A grid with fewer empty cells than filled ones: NMF fits all cells and corrects over the empty ones.
    grid = _tiny("dense")
    holey = grid.subset(np.arange(2, grid.nnz))
    for solver in models["nmf"].param_choices["solver"]:
        model = models["nmf"](n_factors=2, n_epochs=1, solver=solver)
        for _ in model.iter_fit(holey):
            break
