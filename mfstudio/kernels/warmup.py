"""Compile (or load from numba's cache) every kernel before the user needs it.

numba compiles a kernel on its first call, which takes seconds; in the GUI
that would look like a frozen Run button. :func:`warm_up` fits every
registered model for one epoch on a tiny dataset, so each kernel is compiled
with the argument types real fits use, and reports whether the machine code
came from the on-disk cache (``cache=True``) or had to be compiled.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import pkgutil
import time

import numpy as np

__all__ = ["warm_up", "kernel_cache_stats", "kernel_cache_dir"]


def _dispatchers():
    from numba.core.registry import CPUDispatcher

    from .. import kernels

    for info in pkgutil.iter_modules(kernels.__path__):
        if info.name == "warmup":
            continue
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher):
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


def _tiny(kind: str):
    from ..data.dataset import Dataset

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
    return Dataset(kind=kind, rows=rows, cols=cols, values=values, row_ids=np.arange(n_rows), col_ids=np.arange(n_cols),
                   rating_scale=(1, 5) if kind == "explicit" else None)


def warm_up(progress=None, first: str | None = None, lock=None) -> dict:
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

    Returns
    -------
    dict
        ``seconds`` taken, and the kernel signatures ``from_cache`` /
        ``compiled`` (see :func:`kernel_cache_stats`).
    """
    from ..models import MODELS

    started = time.perf_counter()
    names = sorted(MODELS, key=lambda name: (name != first, name))
    for k, name in enumerate(names, start=1):
        with lock if lock is not None else contextlib.nullcontext():
            _warm_model(MODELS[name])
        if progress is not None and progress(k, len(names)) is False:
            break
    return {"seconds": time.perf_counter() - started, **kernel_cache_stats()}


def _warm_model(cls) -> None:
    """Fit ``cls`` one step on tiny data of each kind, with every combination of its word parameters."""
    base = {"n_epochs": 1} if "n_epochs" in cls.defaults else {}
    if "n_factors" in cls.defaults:
        base["n_factors"] = 2
    # Every combination of the word parameters (solver, loss, optimizer...):
    # each may run its own kernel, and a first use must not freeze the window.
    choices = cls.param_choices
    for combination in itertools.product(*choices.values()):
        params = {**base, **dict(zip(choices, combination))}
        for kind in cls.kinds:
            data = _tiny(kind)
            model = cls(**params)
            try:
                for _ in model.iter_fit(data):
                    break
            except ValueError:  # a combination the model refuses (KL needs "mu")
                break
            model.predict(data.rows[:3], data.cols[:3])  # the validation path
