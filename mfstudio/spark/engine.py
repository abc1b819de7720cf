"""Spark MLlib's ALS behind mfstudio's models: sessions, ids, shipping, fitting, progress, cancel, errors.

The flow of one fit (:func:`fit_factors`):

1. **Session** (:func:`session_for`): one per process and master, kept for
   the next fit (starting a JVM costs 10-30 s on two busy cores). Before
   Spark is started, what would otherwise surface as a Java stack trace or
   a minutes-long retry loop is checked in Python: pyspark installed, a
   Java 17+ runtime for a local or standalone master, and a TCP connection
   to a ``spark://`` or ``sc://`` host.
2. **Ids** (:func:`spark_ids`): Spark's ALS takes int32 ids. When the raw
   ids already are such integers they are sent as they are, so the fit is
   the very fit a user would get from pyspark on the same file (Spark's
   random start depends on the ids); otherwise mfstudio's internal ids are
   sent. Either way they are mapped back on return.
3. **Shipping**: through the driver with Arrow (``createDataFrame`` of a
   pandas frame), or, when the user names a folder every executor can read,
   written there as Parquet by pyarrow and read by Spark.
4. **Fit**: ``pyspark.ml.recommendation.ALS`` on a helper thread that sets a
   job group and a job tag; this thread polls Spark's status tracker for
   progress (:mod:`mfstudio.spark.progress`) and
   :func:`mfstudio.models.stopping.stop_requested` for a cancel, which
   cancels the tagged jobs (Spark Connect: ``interruptTag``).
5. **Read back**: ``userFactors``/``itemFactors`` (``id``, ``features``)
   to numpy arrays in mfstudio's row order; a user or item Spark did not
   see keeps a zero vector (mfstudio treats it as cold anyway).

Every failure becomes a :class:`~mfstudio.data.errors.DataError`: one
sentence and what to do, the Java error chained as its cause for "Show
Details" (:func:`translate`).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.arrays import unique_sorted
from ..data.errors import DataError
from ..models.stopping import stop_requested
from . import progress

__all__ = ["SparkFit", "fit_factors", "session_for", "stop_sessions", "spark_ids", "translate", "check_java",
           "SPARK_EXTRA_HINT"]

#: What to install when pyspark is missing (the optional extra).
SPARK_EXTRA_HINT = "install the Spark extra: pip install 'mfstudio[spark]' (or pip install 'pyspark[ml]')"

#: Seconds between two looks at Spark's progress and at the cancel flag: a cancel
#: reaches Spark within this, and the JVM round trips stay cheap.
POLL_SECONDS = 0.25

#: How long a Spark master or Connect server may take to accept a TCP connection.
CONNECT_TIMEOUT = 5.0

_lock = threading.Lock()
_sessions: dict = {}  # master URL -> SparkSession (classic: at most one live at a time)


@dataclass
class SparkFit:
    """What a Spark fit returns: factors in mfstudio's row order, and how the run went.

    Attributes
    ----------
    user_factors, item_factors : ndarray of float32
    info : dict
        ``engine``, ``master`` (as given), ``spark_master`` (as Spark resolved it),
        ``spark_version``, ``shipping`` ("arrow" or "parquet"), and seconds for
        ``session``, ``ship``, ``fit`` and ``read_back``.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    info: dict = field(default_factory=dict)


# ------------------------------------------------------------------ checks
def _require_pyspark():
    try:
        import pyspark  # noqa: F401  (the import is the check)
    except ImportError:
        if getattr(sys, "frozen", False):  # the PyInstaller bundle leaves Spark out on purpose
            raise DataError("the double-click bundle has no Spark engine",
                            fix="install mfstudio with pip and its spark extra (pip install 'mfstudio[spark]') to fit "
                                "on Spark, or choose engine = local") from None
        raise DataError("the Spark engine needs pyspark, which is not installed", fix=SPARK_EXTRA_HINT) from None
    return pyspark


def check_java() -> str:
    """The ``java`` Spark will start, checked to be Java 17 or newer.

    Returns
    -------
    str
        The executable's path.

    Raises
    ------
    DataError
        No Java runtime, or one older than 17 (Spark 4 needs 17).
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not java:
        raise DataError("the Spark engine needs Java 17 or newer, and no Java runtime was found",
                        fix="install one (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME; "
                            "or choose engine = local")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        text = out.stderr + out.stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise DataError(f"the Java runtime at {java} does not start ({exc})",
                        fix="repair the Java installation or set JAVA_HOME to a working one") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if found:
        major = int(found.group(1))
        major = int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8
        if major < 17:
            raise DataError(f"Spark 4 needs Java 17 or newer, and {java} is Java {major}",
                            fix="install Java 17 or newer and point JAVA_HOME at it")
    return java


def _host_ports(master: str) -> list[tuple[str, int]]:
    """The (host, port) pairs a spark:// or sc:// master names (default ports as Spark's)."""
    if master.startswith("spark://"):
        default, rest = 7077, master[len("spark://"):]
        parts = rest.split(",")
    elif master.startswith("sc://"):
        default, rest = 15002, master[len("sc://"):]
        parts = [rest.split("/", 1)[0]]
    else:
        return []
    out = []
    for part in parts:
        host, _, port = part.partition(":")
        out.append((host, int(port) if port else default))
    return out


def _check_reachable(master: str) -> None:
    """Refuse a cluster that does not answer, before Spark retries it for minutes."""
    pairs = _host_ports(master)
    errors = []
    for host, port in pairs:
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
                return
        except OSError as exc:
            errors.append(f"{host}:{port}: {exc.strerror or exc}")
    if pairs:
        what = "Spark Connect server" if master.startswith("sc://") else "Spark master"
        raise DataError(f"the {what} at {master} does not answer ({'; '.join(errors)})",
                        fix="start it, or check the host and port in spark_master (the Spark master's page shows "
                            "its spark:// URL); or choose local[*]")


# ---------------------------------------------------------------- sessions
def session_for(master: str):
    """A SparkSession on ``master``, started once and reused.

    Classic Spark allows one SparkContext per process: asking for another
    master stops the session of the previous one first. ``sc://`` masters
    get a Spark Connect session (needs ``pyspark[connect]``; no JVM here).

    Raises
    ------
    DataError
        pyspark or Java missing, a cluster that does not answer, a session that would not start.
    """
    _require_pyspark()
    _quiet_pandas_warning()
    with _lock:
        live = _sessions.get(master)
        if live is not None and _alive(live):
            return live
        _connect_mode(master.startswith("sc://"))
        if master.startswith("sc://"):
            _check_reachable(master)
            try:
                # pyspark's own SparkSession.builder.remote refuses while a classic session runs in the
                # process (SESSION_ALREADY_EXIST) and hands back whatever Connect session exists for any
                # URL; a window may use local[*] and then sc://, or two servers, so a Connect session of
                # this URL is created directly.
                from pyspark.sql.connect.session import SparkSession as ConnectSession

                spark = ConnectSession.builder.remote(master).create()
            except ImportError as exc:
                raise DataError("Spark Connect needs pyspark's connect extra, which is not installed",
                                fix="pip install 'pyspark[connect]'") from exc
            except Exception as exc:
                raise translate(exc, master) from exc
            _sessions[master] = spark
            return spark
        check_java()
        _check_reachable(master)
        for other in [m for m in _sessions if not m.startswith("sc://")]:
            _stop(_sessions.pop(other))
        if master.startswith("local"):
            # A laptop's hostname often resolves to an address the JVM cannot bind; loopback always works.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        builder = (SparkSession.builder.master(master).appName("mfstudio")
                   .config("spark.ui.enabled", os.environ.get("MFSTUDIO_SPARK_UI", "false"))
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   # In local mode the driver is the executor: 1 GB (Spark's default) is too little for 25M ratings.
                   .config("spark.driver.memory", os.environ.get("MFSTUDIO_SPARK_DRIVER_MEMORY", "4g")))
        if not master.startswith("local"):
            builder = builder.config("spark.executor.memory", os.environ.get("MFSTUDIO_SPARK_EXECUTOR_MEMORY", "1g"))
        try:
            spark = builder.getOrCreate()
        except Exception as exc:
            raise translate(exc, master) from exc
        spark.sparkContext.setLogLevel("ERROR")
        if spark.sparkContext.getCheckpointDir() is None:
            # ALS checkpoints its factors every checkpointInterval (10) iterations only when a folder is
            # set; without one a fit of a few hundred iterations grew a lineage too deep to serialise
            # ("Task serialization failed: StackOverflowError"). A local folder serves local masters;
            # a cluster should set spark.checkpoint.dir to shared storage, which this keeps.
            import tempfile

            spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="mfstudio-spark-checkpoints-"))
        _sessions[master] = spark
        return spark


def _connect_mode(remote: bool) -> None:
    """Point pyspark.ml at Spark Connect (``remote``) or at the classic JVM for the next calls in this process.

    pyspark decides which of its two implementations ``pyspark.ml`` uses from one process-wide
    environment variable, set for good by the first ``builder.remote(...)``: after one Connect fit, a
    classic ``local[*]`` fit in the same window would have been sent the Connect way and failed. The
    engine runs one Spark fit at a time, so it sets the variable for the fit it is about to run.
    """
    if remote:
        os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    else:
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def _context(spark):
    """The SparkContext of a classic session; None for Spark Connect (which has none on the client)."""
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        return None
    return spark.sparkContext


def _alive(spark) -> bool:
    try:
        sc = _context(spark)
        if sc is None:
            return not getattr(spark, "is_stopped", False)
        return sc._jsc is not None and not sc._jsc.sc().isStopped()
    except Exception:
        return False


#: Seconds a Spark Connect session may take to say goodbye to its server when it is stopped.
CONNECT_STOP_SECONDS = 3.0


def _stop(spark) -> None:
    def stop():
        try:
            spark.stop()
        except Exception:
            pass  # a session that is already gone needs no stopping

    if _context(spark) is not None:
        stop()
        return
    # A Connect session releases itself on the server, and retries with back-off for minutes when the
    # server is gone (a quit window hung there): it gets a few seconds on a daemon thread, then is left.
    helper = threading.Thread(target=stop, name="spark-connect-stop", daemon=True)
    helper.start()
    helper.join(CONNECT_STOP_SECONDS)
    # pyspark's client also cleans its server-side ML cache at interpreter exit unless it was closed; a
    # session left behind above is not, and its exit hook retried against the gone server for minutes
    # after the last test (a CI rehearsal's pytest sat 3+ minutes after its summary). This stop is that
    # cleanup: the hook goes.
    client = getattr(spark, "client", None)
    on_exit = getattr(client, "_on_exit", None)
    if on_exit is not None:
        atexit.unregister(on_exit)


def stop_sessions() -> None:
    """Stop every session this process started (tests; the window on quit)."""
    with _lock:
        while _sessions:
            _stop(_sessions.popitem()[1])


# --------------------------------------------------------------------- ids
def spark_ids(raw_ids: np.ndarray) -> np.ndarray:
    """The int32 ids to send to Spark for ``raw_ids`` (one per internal id).

    The raw ids themselves when every one is a distinct integer from 0 to
    2**31 - 1 (MovieLens), so that a fit here is the fit pyspark gives on
    the same file; the internal ids 0..n-1 otherwise.
    """
    raw = np.asarray(raw_ids)
    try:
        if raw.dtype.kind in "iu":
            ints = raw.astype(np.int64)
        elif raw.dtype.kind in "OUS":
            text = raw.astype(str)
            if not all(t.isdigit() and (t == "0" or not t.startswith("0")) for t in text):
                raise ValueError
            ints = text.astype(np.int64)
        else:
            raise ValueError
    except (ValueError, OverflowError):
        return np.arange(raw.size, dtype=np.int32)
    if ints.size and (ints.min() < 0 or ints.max() > 2**31 - 1 or unique_sorted(ints).size != ints.size):
        return np.arange(raw.size, dtype=np.int32)
    return ints.astype(np.int32)


def _factors_in_order(frame, ids: np.ndarray, k: int) -> np.ndarray:
    """``userFactors``/``itemFactors`` rows placed at the row of each id (zeros for ids Spark did not see)."""
    import pandas as pd

    out = np.zeros((ids.size, k), dtype=np.float32)
    if len(frame):
        where = pd.Index(ids).get_indexer(frame["id"].to_numpy())
        vectors = np.stack([np.asarray(v, dtype=np.float32) for v in frame["features"].to_numpy()])
        keep = where >= 0
        out[where[keep]] = vectors[keep]
    return out


# ---------------------------------------------------------------- shipping
def _ratings_frame(spark, users, items, values, parquet_dir: str):
    """The ratings as a Spark DataFrame (user int, item int, rating float), and how they were sent."""
    import pyarrow as pa

    table = pa.table({"user": pa.array(users, pa.int32()), "item": pa.array(items, pa.int32()),
                      "rating": pa.array(values, pa.float32())})
    if parquet_dir:
        import pyarrow.parquet as pq

        folder = Path(parquet_dir).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"mfstudio-ratings-{uuid.uuid4().hex[:12]}.parquet"
            pq.write_table(table, path)
        except OSError as exc:
            raise DataError(f"cannot write the ratings as Parquet into {folder} ({exc.strerror or exc})", str(folder),
                            fix="choose a folder you can write to in spark_parquet_dir, or leave it empty") from None
        return spark.read.parquet(path.resolve().as_uri()), "parquet", path
    with _quiet_pandas_warning():
        return spark.createDataFrame(table.to_pandas()), "arrow", None


def _quiet_pandas_warning():
    """A block in which pyspark's "pandas 3 not fully supported" warning is not shown.

    The frames mfstudio converts hold only int and float columns, which pyspark
    4.3 converts exactly with pandas 3; the warning would only alarm a CLI user.
    A process-wide filter (set once), since ``catch_warnings`` is not thread-safe
    and the conversion runs on a helper thread.
    """
    import contextlib
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    # pyspark 4.3's own astype(copy=False) under pandas 3: pyspark's to fix, harmless here.
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module="pyspark")
    return contextlib.nullcontext()


# ------------------------------------------------------------------ errors
_OOM = re.compile(r"OutOfMemoryError|Java heap space|GC overhead limit|Container killed.*memory|"
                  r"exceeding memory limits|ExecutorLostFailure.*(?:memory|OOM)", re.I | re.S)
_REFUSED = re.compile(r"Connection refused|Failed to connect to master|All masters are unresponsive|"
                      r"UNAVAILABLE|Could not connect", re.I)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    line = re.sub(r"^(An error occurred while calling [^.]+\.\s*:?\s*)", "", line)
    return line[:300]


def translate(exc: BaseException, master: str) -> DataError:
    """One sentence a user can act on for a Spark failure (the Java error stays as the details).

    Raises nothing: returns the :class:`DataError` to raise ``from exc``.
    """
    if isinstance(exc, DataError):
        return exc
    text = f"{exc}\n{getattr(exc, 'java_exception', '')}"
    if _OOM.search(text):
        return DataError("Spark ran out of memory during the fit",
                         fix="give Spark more memory (MFSTUDIO_SPARK_DRIVER_MEMORY / MFSTUDIO_SPARK_EXECUTOR_MEMORY, "
                             "e.g. 8g, or spark.executor.memory on the cluster), or lower n_factors")
    if "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
        return DataError("Spark's Java process exited as it started",
                         fix="check that Java 17+ works (java -version) and that SPARK_LOCAL_IP names an address "
                             "of this machine; the details show Java's own message")
    if _REFUSED.search(text):
        return DataError(f"the Spark cluster at {master} refused the connection or did not answer",
                         fix="check that the master (or Connect server) runs and that spark_master names it")
    return DataError(f"Spark failed: {_first_line(exc)}",
                     fix="the details hold Spark's own report; engine = local fits the same model here")


# --------------------------------------------------------------------- fit
def _is_cancel(exc: BaseException) -> bool:
    return bool(re.search(r"cancel|interrupt", f"{exc}", re.I))


def _poll_progress(spark, group: str, started: float, connect_readings: dict) -> None:
    """Report the tasks done and known in the fit's job group.

    Classic Spark: its status tracker. Spark Connect has none on the client; its
    progress handler (called on the thread running the fit) leaves its latest
    reading in ``connect_readings``, reported from here because progress goes to
    the fit's own thread.
    """
    sc = _context(spark)
    if sc is None:
        if "done" in connect_readings:
            done, total, stage = connect_readings["done"], connect_readings["total"], connect_readings["stage"]
            progress.report(done, total, f"Spark: stage {stage}, {done} of {total} tasks "
                                         f"after {time.perf_counter() - started:.0f} s")
        return
    try:
        tracker = sc.statusTracker()
        done = total = 0
        latest = None
        for job in tracker.getJobIdsForGroup(group):
            info = tracker.getJobInfo(job)
            if info is None:
                continue
            for stage in info.stageIds:
                s = tracker.getStageInfo(stage)
                if s is None:
                    continue
                done += s.numCompletedTasks
                total += s.numTasks
                if s.numActiveTasks or latest is None:
                    latest = s
        if latest is not None:
            name = latest.name.split(" at ")[0]
            progress.report(done, total, f"Spark: stage {latest.stageId} ({name}), {done} of {total} tasks "
                                         f"after {time.perf_counter() - started:.0f} s")
    except Exception:
        pass  # progress is a courtesy: a tracker call racing the session's end must not fail the fit


def _cancel_jobs(spark, sc, group: str) -> bool:
    """Cancel every running job of the fit (classic Spark: by tag and job group; Spark Connect: ``interruptTag``).

    Returns True when Spark Connect confirmed that it interrupted an operation of the fit.
    """
    try:
        if sc is not None:
            sc.cancelJobsWithTag(group)
            sc.cancelJobGroup(group)
            return False
        return bool(spark.interruptTag(group))
    except Exception:
        return False  # the jobs may have just ended; the fit's thread finishes either way


#: Seconds the fit waits for a Spark Connect call to return once the server confirmed its interruption.
CONNECT_CANCEL_GRACE = 2.0


def _session_or_cancel(master: str):
    """:func:`session_for` on a helper thread, so that Cancel during the JVM's 10-30 s start returns at once.

    A session still starting when the user cancels keeps starting in the
    background and is kept for the next fit. None when cancelled.
    """
    outcome: dict = {}

    def start():
        try:
            outcome["spark"] = session_for(master)
        except BaseException as exc:  # raised again on the fit's thread
            outcome["error"] = exc

    helper = threading.Thread(target=start, name="spark-session", daemon=True)
    helper.start()
    while helper.is_alive():
        helper.join(POLL_SECONDS)
        if stop_requested():
            return None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["spark"]


def fit_factors(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, row_ids: np.ndarray, col_ids: np.ndarray,
                *, n_factors: int, n_epochs: int, reg: float, seed: int | None, master: str,
                implicit: bool = False, alpha: float = 1.0, parquet_dir: str = "") -> SparkFit | None:
    """Fit Spark MLlib's ALS to internal-id triples; factors back in internal order.

    Parameters
    ----------
    rows, cols : ndarray of int
        Internal user and item ids of each entry.
    values : ndarray of float
        Ratings (explicit) or interaction strengths (implicit).
    row_ids, col_ids : ndarray
        Raw ids of the internal ids (sent as they are when they are int32 integers).
    n_factors, n_epochs, reg, seed
        Spark's ``rank``, ``maxIter``, ``regParam`` and ``seed`` (None: a fresh random seed).
    master : str
        The Spark master URL.
    implicit : bool
        ``implicitPrefs`` (then ``alpha`` is Spark's confidence slope, ``c = 1 + alpha |r|``).
    parquet_dir : str
        Empty: send the ratings through the driver with Arrow; else write them there as Parquet first.

    Returns
    -------
    SparkFit or None
        None when the fit was cancelled (:func:`mfstudio.models.stopping.stop_requested`).

    Raises
    ------
    DataError
        Every Spark failure, in one sentence (:func:`translate`).
    """
    info = {"engine": "spark", "master": master}
    t0 = time.perf_counter()
    progress.report(0, 0, f"Spark: starting a session on {master} (10-30 s the first time)")
    spark = _session_or_cancel(master)
    info["session_seconds"] = round(time.perf_counter() - t0, 3)
    if spark is None or stop_requested():
        return None
    sc = _context(spark)
    _connect_mode(sc is None)
    info["spark_version"] = spark.version
    info["spark_master"] = sc.master if sc is not None else master

    from pyspark.ml.recommendation import ALS

    user_ids, item_ids = spark_ids(row_ids), spark_ids(col_ids)
    t1 = time.perf_counter()
    progress.report(0, 0, "Spark: sending the ratings")
    parquet_path = None
    try:
        frame, how, parquet_path = _ratings_frame(spark, user_ids[rows], item_ids[cols], values, parquet_dir)
    except DataError:
        raise
    except Exception as exc:
        raise translate(exc, master) from exc
    info["shipping"] = how
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    als = ALS(rank=n_factors, maxIter=n_epochs, regParam=reg, seed=seed, implicitPrefs=implicit, alpha=alpha,
              userCol="user", itemCol="item", ratingCol="rating", coldStartStrategy="drop", nonnegative=False)

    group = f"mfstudio-{uuid.uuid4().hex[:12]}"
    outcome: dict = {}

    def run():
        # Job groups and tags are thread-local in Spark: set them on the thread whose jobs they mark.
        try:
            if sc is not None:
                sc.setJobGroup(group, "mfstudio ALS fit", interruptOnCancel=True)
                sc.addJobTag(group)
            else:
                # pyspark.ml over Spark Connect finds its session as the *thread's* active one, which only the
                # thread that created the session has ("assert session is not None" otherwise); there is no
                # public setter, so this thread is made the session's own the way pyspark does it itself.
                type(spark)._set_default_and_active_session(spark)
                spark.addTag(group)

                def on_progress(stages, inflight_tasks, operation_id, done):
                    stages = list(stages or ())
                    if stages:
                        connect_readings.update(done=sum(st.num_completed_tasks for st in stages),
                                                total=sum(st.num_tasks for st in stages),
                                                stage=max(st.stage_id for st in stages))

                connect_readings["handler"] = on_progress
                spark.registerProgressHandler(on_progress)
            model = als.fit(frame)
            t_fit = time.perf_counter()
            with _quiet_pandas_warning():
                users = model.userFactors.toPandas()
                items = model.itemFactors.toPandas()
            outcome["result"] = (model, users, items, t_fit)
        except BaseException as exc:  # carried to the fit's own thread, which raises it there
            outcome["error"] = exc
        finally:
            if sc is None:
                try:
                    spark.removeTag(group)
                    # Only this fit's handler: after a cancel this thread may end while the next fit runs.
                    spark.removeProgressHandler(connect_readings["handler"])
                except Exception:
                    pass  # a session that broke down (or a fit that never got this far) has nothing to clear

    connect_readings: dict = {}
    helper = threading.Thread(target=run, name=f"spark-{group}", daemon=True)
    t2 = time.perf_counter()
    info["ship_seconds"] = round(t2 - t1, 3)
    helper.start()
    cancelled = False
    confirmed_at = None
    while helper.is_alive():
        helper.join(POLL_SECONDS)
        if stop_requested():
            if not cancelled:
                progress.report(0, 0, "Spark: cancelling the fit's jobs")
            cancelled = True
            # Cancel again on every poll until the fit's thread ends: ALS's driver submits a new job per
            # checkpoint and per phase, and a cancel that falls between two jobs hits nothing, so one cancel
            # alone let the next job run on (seen as fits that went on for a minute after Cancel).
            if _cancel_jobs(spark, sc, group) and confirmed_at is None:
                confirmed_at = time.perf_counter()
            # Spark Connect: the server confirmed the interruption, but the client's call sometimes returned
            # only 10-20 s later (seen under load, and on a server's first fit). The fit is over for the user:
            # the call's thread is left to end by itself, and what it returns is dropped.
            if confirmed_at is not None and time.perf_counter() - confirmed_at > CONNECT_CANCEL_GRACE:
                break
        else:
            _poll_progress(spark, group, t2, connect_readings)
    if parquet_path is not None:
        parquet_path.unlink(missing_ok=True)
    if cancelled or stop_requested():
        return None
    if "error" in outcome:
        exc = outcome["error"]
        raise translate(exc, master) from exc
    model, users, items, t_fit = outcome["result"]
    info["fit_seconds"] = round(t_fit - t2, 3)
    user_factors = _factors_in_order(users, user_ids, n_factors)
    item_factors = _factors_in_order(items, item_ids, n_factors)
    info["read_back_seconds"] = round(time.perf_counter() - t_fit, 3)
    info["seed"] = seed
    info["ids"] = "raw" if not np.array_equal(user_ids, np.arange(user_ids.size)) or not np.array_equal(
        item_ids, np.arange(item_ids.size)) else "internal"
    progress.report(1, 1, f"Spark: fit done in {info['fit_seconds']:.1f} s")
    return SparkFit(user_factors, item_factors, info)
