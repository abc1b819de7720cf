"""Background work: the GUI thread only ever waits for signals.

:class:`FitWorker` consumes a model's ``iter_fit`` generator on a QThread and
posts the steps to the GUI thread over queued signals, batched so that a
kernel doing thousands of epochs a second costs the event loop at most ~30
deliveries a second (Orange's concurrent utilities and napari's
thread_worker do the same). Cancel is cooperative: the worker stops pulling
from the generator, so the model keeps its last finished epoch.

:class:`Task` runs any other slow call (loading a file, a download, the
numba warm-up) the same way, with a result or an error signal.
"""

from __future__ import annotations

import threading
import time
import traceback

from PySide6.QtCore import QObject, QThread, Signal

from ..data.errors import DataError
from ..models.base import FitDiverged

__all__ = ["FitWorker", "Task", "user_message", "ONE_FIT_AT_A_TIME"]

#: numba's default threading layer must not run two parallel kernels at once
#: (DESIGN.md, traps): every fit and the warm-up take this lock.
ONE_FIT_AT_A_TIME = threading.Lock()

_EMIT_INTERVAL = 1 / 30


class _CallThread(QThread):
    """A QThread whose run() calls one function.

    The worker objects stay in the GUI thread and only their work runs here,
    so their signals reach any connected callable (lambdas included) on the
    GUI thread, queued.
    """

    def __init__(self, function, name: str):
        super().__init__()
        self._function = function
        self.setObjectName(name)

    def run(self) -> None:
        self._function()


def user_message(exc: BaseException) -> tuple[str, str]:
    """(one sentence for the dialog, details for its expandable part)."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, (DataError, FitDiverged, ValueError)):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "There is not enough memory for this; try a smaller dataset or fewer factors."
    else:
        text = f"Something went wrong inside mfstudio ({type(exc).__name__}: {exc})."
    text = text[0].upper() + text[1:] if text else text
    return text, details


class FitWorker(QObject):
    """Runs ``model.iter_fit(train, validation)`` off the GUI thread.

    Signals
    -------
    steps(list)
        FitStep objects since the last delivery (at most ~30 deliveries/s).
    finished(bool)
        The fit ended; True if it was cancelled.
    failed(str, str)
        A one-sentence message and the traceback details.
    """

    steps = Signal(list)
    finished = Signal(bool)
    failed = Signal(str, str)

    def __init__(self, model, train=None, validation=None, prepare=None, steps=None):
        super().__init__()
        self.model = model
        self.train = train
        self.validation = validation
        # Optional callable run first on the worker, returning (train,
        # validation): splitting and the baseline fit are work too.
        self.prepare = prepare
        # Optional callable returning the iterator of FitSteps to consume
        # instead of model.iter_fit (an experiment's folds, with their scoring).
        self.steps_factory = steps
        self._cancel = threading.Event()
        self.thread = _CallThread(self.run, f"fit-{model.name}")

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        """Ask the fit to stop after the epoch in progress."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, msecs: int = 30_000) -> bool:
        return self.thread.wait(msecs)

    def run(self) -> None:
        """The fit loop; runs on the worker thread."""
        pending: list = []
        last = time.perf_counter()
        try:
            with ONE_FIT_AT_A_TIME:
                if self.prepare is not None:
                    self.train, self.validation = self.prepare()
                if self.steps_factory is not None:
                    generator = self.steps_factory()
                else:
                    generator = self.model.iter_fit(self.train, self.validation)
                try:
                    for step in generator:
                        pending.append(step)
                        now = time.perf_counter()
                        if now - last >= _EMIT_INTERVAL:
                            self.steps.emit(pending)
                            pending, last = [], now
                        if self._cancel.is_set():
                            break
                finally:
                    generator.close()
        except Exception as exc:  # every failure must reach the user as a dialog
            if pending:
                self.steps.emit(pending)
            self.failed.emit(*user_message(exc))
            return
        if pending:
            self.steps.emit(pending)
        self.finished.emit(self._cancel.is_set())


class Task(QObject):
    """Run ``function(*args, **kwargs)`` on a QThread; deliver its result or its error.

    ``function`` may take a keyword ``progress`` (callable(done, total) ->
    bool) when ``with_progress`` is set: the task then emits ``progress`` and
    returns False from the callback once cancelled.
    """

    done = Signal(object)
    failed = Signal(str, str)
    progress = Signal(float, float)

    def __init__(self, function, *args, with_progress: bool = False, lock=None, **kwargs):
        super().__init__()
        self.function, self.args, self.kwargs = function, args, kwargs
        self.with_progress = with_progress
        self.lock = lock
        self._cancel = threading.Event()
        self.thread = _CallThread(self.run, f"task-{getattr(function, '__name__', 'call')}")

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, msecs: int = 30_000) -> bool:
        return self.thread.wait(msecs)

    def _report(self, done, total) -> bool:
        self.progress.emit(float(done), float(total or 0))
        return not self._cancel.is_set()

    def run(self) -> None:
        """Runs on the worker thread."""
        kwargs = dict(self.kwargs)
        if self.with_progress:
            kwargs["progress"] = self._report
        try:
            if self.lock is not None:
                with self.lock:
                    result = self.function(*self.args, **kwargs)
            else:
                result = self.function(*self.args, **kwargs)
        except Exception as exc:
            self.failed.emit(*user_message(exc))
            return
        self.done.emit(result)
