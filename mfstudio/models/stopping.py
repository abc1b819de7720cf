"""Stopping a fit in the middle of an epoch: a cancel lands within a fraction of a second.

An epoch of a large dataset can take many seconds inside one numba kernel,
and a kernel that releases the GIL cannot be interrupted from Python. So the
models call their kernels on chunks of an epoch (blocks of ratings, rows or
users) sized by :func:`work_chunks` to take about :data:`CHUNK_SECONDS` each,
and look at :func:`stop_requested` between chunks.

Whoever drives a fit (the GUI's worker) says which flag means "stop" with
:func:`stop_when`. The flag is per thread, so that the models an experiment
creates for its later folds obey it too without being handed it, and fits on
other threads (the CLI, tests running in parallel) are unaffected. A fit
stopped mid-epoch does not report the unfinished epoch: its generator simply
ends, and the model keeps the (valid) factors it had reached.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["CHUNK_SECONDS", "stop_when", "stop_requested", "work_chunks"]

#: Target duration of one kernel call: long enough that numba's per-call
#: overhead (tens of microseconds, a prange launch included) is noise, short
#: enough that a cancel lands well within 250 ms.
CHUNK_SECONDS = 0.06

_control = threading.local()


@contextmanager
def stop_when(event: threading.Event):
    """Within this block, fits on the current thread stop soon after ``event`` is set.

    Parameters
    ----------
    event : threading.Event
        Set from any thread to ask for the stop.
    """
    previous = getattr(_control, "event", None)
    _control.event = event
    try:
        yield event
    finally:
        _control.event = previous


def stop_requested() -> bool:
    """Whether the flag installed by :func:`stop_when` on this thread is set (False without one)."""
    event = getattr(_control, "event", None)
    return event is not None and event.is_set()


def work_chunks(n: int, first: int, target_seconds: float = CHUNK_SECONDS,
                memory: dict | None = None) -> Iterator[tuple[int, int]]:
    """Split ``range(n)`` into ``(lo, hi)`` blocks that each take about ``target_seconds``.

    The size adapts to the time the caller took for the previous block
    (measured between yields), so one rule fits every kernel, factor count
    and machine. Stops early, without covering ``range(n)``, once
    :func:`stop_requested` is true: callers check it after the loop to know
    whether the pass finished.

    Parameters
    ----------
    n : int
        Number of work items (ratings, rows, users) in the pass.
    first : int
        Size of the first block: a guess of what takes ``target_seconds``.
        Passes smaller than it run in one call, exactly as without chunks.
    target_seconds : float
        Wanted duration of one block.
    memory : dict, optional
        Carries the adapted size from one pass to the next of the same
        kind (key ``"size"``; ``first`` is used when it is absent), so that
        short passes repeated many times do not restart from the guess.
    """
    size = max(int(memory.get("size", first) if memory is not None else first), 1)
    lo = 0
    while lo < n:
        if stop_requested():
            return
        hi = min(n, lo + size)
        started = time.perf_counter()
        yield lo, hi
        elapsed = time.perf_counter() - started
        if hi - lo == size and elapsed > 0:
            # Grow at most 4x at a time: the first call of a kernel may include
            # its compilation and the next one would be far too large.
            size = max(1, min(int(size * target_seconds / elapsed), 4 * size))
            if memory is not None:
                memory["size"] = size
        lo = hi
