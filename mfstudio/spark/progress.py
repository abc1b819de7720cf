"""Spark job progress for whoever drives a fit (the window's worker), without importing pyspark.

Spark's ALS reports no loss per iteration, only jobs, stages and tasks. The
engine polls them while it waits for the fit and hands
``(done_tasks, total_tasks, text)`` to the callback installed here for the
current thread, as :mod:`mfstudio.models.stopping` does with the stop flag: a
fit on another thread (the CLI, a test) reports nowhere.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable

__all__ = ["progress_to", "report"]

_local = threading.local()


@contextmanager
def progress_to(callback: Callable[[int, int, str], None]):
    """Within this block, Spark fits on the current thread send their progress to ``callback``.

    Parameters
    ----------
    callback : callable(done, total, text)
        Called from the fit's thread a few times a second: tasks finished and
        known so far in the fit's Spark jobs, and one line ("Spark: stage 12
        (count at ALS.scala:1090), 7 of 10 tasks").
    """
    previous = getattr(_local, "callback", None)
    _local.callback = callback
    try:
        yield callback
    finally:
        _local.callback = previous


def report(done: int, total: int, text: str) -> None:
    """Send one progress reading to this thread's callback (nothing without one)."""
    callback = getattr(_local, "callback", None)
    if callback is not None:
        callback(int(done), int(total), text)
