"""Background work: the GUI thread only ever waits for signals.

:class:`FitWorker` consumes a model's ``iter_fit`` generator on a QThread and
posts the steps to the GUI thread over queued signals, batched so that a
kernel doing thousands of epochs a second costs the event loop at most ~30
deliveries a second (Orange's concurrent utilities and napari's
thread_worker do the same). Cancel is cooperative: the worker's flag is the
fit's stop flag (:mod:`mfstudio.models.stopping`), which the models read
between chunks of an epoch, and the worker stops pulling from the generator;
the model keeps its last state.

:class:`Task` runs any other slow call (loading a file, a download, the
numba warm-up) the same way, with a result or an error signal.
"""

from __future__ import annotations

import os
import re
import threading
import time
import traceback

from PySide6.QtCore import QObject, QThread, Signal

from ..errors import ParamError, is_user_error
from ..models.stopping import stop_when
from ..spark.progress import progress_to

__all__ = ["FitWorker", "Task", "user_message", "BUG_REPORT", "ONE_FIT_AT_A_TIME", "running_threads", "wait_for_threads"]

#: numba's default threading layer must not run two parallel kernels at once
#: (DESIGN.md, traps): every fit and the warm-up take this lock.
ONE_FIT_AT_A_TIME = threading.Lock()

_EMIT_INTERVAL = 1 / 30

#: Every started thread until it is seen finished. A QThread object collected
#: while its thread runs aborts the process ("QThread: Destroyed while thread
#: is still running"), which closing the window during a long kernel did:
#: this keeps the object alive whatever its owner drops.
_STARTED: list = []


def running_threads() -> list:
    """The worker QThreads still running (finished ones are forgotten here)."""
    _STARTED[:] = [thread for thread in _STARTED if not thread.isFinished()]
    return list(_STARTED)


def wait_for_threads(seconds: float) -> bool:
    """Wait up to ``seconds`` in all for every worker thread; True when none still runs."""
    deadline = time.perf_counter() + seconds
    for thread in running_threads():
        remaining_ms = int(max(deadline - time.perf_counter(), 0) * 1000)
        thread.wait(remaining_ms)
    return not running_threads()


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

    def start(self) -> None:
        running_threads()  # forget the finished ones
        _STARTED.append(self)
        super().start()

    def run(self) -> None:
        self._function()


#: The first words of a bug report's sentence; ``MainWindow.show_error`` shows those as a bug report.
BUG_REPORT = "mfstudio hit a bug"


def _log_bug(details: str):
    """Append a bug's traceback to the user's log; its path, or None when the log cannot be written."""
    from ..launcher import log_path

    try:
        path = log_path()
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} bug report\n{details}\n")
        return path
    except OSError:
        return None


def user_message(exc: BaseException) -> tuple[str, str]:
    """(one sentence for the dialog, details for its expandable part).

    Only the mfstudio error family (:data:`mfstudio.errors.USER_ERRORS`:
    DataError, ParamError, FitDiverged) is told as the user's to fix. Any
    other exception is a bug: the sentence starts with :data:`BUG_REPORT`,
    asks for a report and names the log file the details were appended to.
    """
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if is_user_error(exc):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "There is not enough memory for this; try a smaller dataset or fewer factors."
    else:
        log = _log_bug(details)
        where = f"; the details are below and in {log}" if log is not None else "; the details are below"
        text = (f"{BUG_REPORT} ({type(exc).__name__}: {exc}); this is not your mistake, "
                f"please report it{where}.")
    # A sentence starts with a capital, unless it starts with a name the user types as it is
    # (lr, n_factors) or a file's name ("bad_rating.csv: ...", which is not "Bad_rating.csv").
    if (text and not text.startswith(BUG_REPORT) and not isinstance(exc, ParamError)
            and not _starts_with_file_name(text, exc)):
        text = text[0].upper() + text[1:]
    return text, details


_FILE_NAME = re.compile(r"^[^\s:;,]*(?:[/\\]|\w\.[A-Za-z0-9]{1,8}(?=[\s:;,]|$))")


def _starts_with_file_name(text: str, exc: BaseException) -> bool:
    """Whether ``text`` begins with a file or folder name (whose case is the file system's, not grammar's)."""
    path = getattr(exc, "path", None) or getattr(exc, "filename", None)
    if isinstance(path, str) and path:
        name = os.path.basename(path.rstrip("/\\")) or path
        if text.startswith((name, path)):
            return True
    return bool(_FILE_NAME.match(text))


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
    progress(int, int, str)
        Work done and known so far inside a step, and a line saying what: a
        fit on Spark (engine = spark) reports its jobs' tasks here, since it
        yields no step until it ends (:mod:`mfstudio.spark.progress`).
    """

    steps = Signal(list)
    finished = Signal(bool)
    failed = Signal(str, str)
    progress = Signal(int, int, str)

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
        """Ask the fit to stop: between chunks of the epoch in progress, or after it."""
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
            # The models look at the flag between chunks of an epoch: a
            # cancel lands within a fraction of a second, not at the epoch's end.
            with stop_when(self._cancel), progress_to(self.progress.emit), ONE_FIT_AT_A_TIME:
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
