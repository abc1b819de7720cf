"""ALS on Apache Spark: the engine choice, against real Spark on loopback.

Three Spark deployments are started here, each once:

- a ``local[2]`` session (module scope, reused by every test that fits);
- a Spark Connect server from pyspark's own ``spark-submit`` on a free
  loopback port (the way a desktop without Java reaches a cluster);
- a standalone master and one worker, started from pyspark's own
  ``bin/spark-class`` on free loopback ports, bounded in time and stopped at
  the end; the fit against it runs last, since classic Spark allows one
  SparkContext per process and switching masters restarts it.

Everything skips with the reason where ``java`` or pyspark is absent (CI
fails earlier in that case: ``.ci/run`` checks for Java). Small data keep the
file within a few minutes on two busy cores; the ML-100K parity check runs
once. The tests that need no Spark (parameters, lazy import, error
sentences, interop of files) run first and fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mfstudio.data import open_data
from mfstudio.data.errors import DataError
from mfstudio.models import ALS, ImplicitALS, load_model
from mfstudio.models.params import ParamError
from mfstudio.models.stopping import stop_when
from mfstudio.spark import progress as spark_progress

from .conftest import ML100K, needs_ml100k

try:
    import pyspark  # noqa: F401
    HAVE_PYSPARK = True
except ImportError:  # pragma: no cover - the spark extra installs it
    HAVE_PYSPARK = False

JAVA = shutil.which("java") or (os.environ.get("JAVA_HOME") and str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
needs_spark = pytest.mark.skipif(
    not HAVE_PYSPARK or not JAVA,
    reason="Spark tests need pyspark (pip install -e '.[spark]') and Java 17+ (java is not on PATH)"
    if not JAVA else "pyspark is not installed (pip install -e '.[spark]')")

LOCAL = "local[2]"


@pytest.fixture(scope="module", autouse=True)
def _spark_environment(tmp_path_factory):
    """Loopback only, a writable scratch folder, no UI; every session stopped at the end."""
    saved = {k: os.environ.get(k) for k in ("SPARK_LOCAL_IP", "SPARK_LOCAL_DIRS", "PYSPARK_PYTHON", "MFSTUDIO_SPARK_DRIVER_MEMORY")}
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["SPARK_LOCAL_DIRS"] = str(tmp_path_factory.mktemp("spark-local"))
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["MFSTUDIO_SPARK_DRIVER_MEMORY"] = "1g"
    yield
    if HAVE_PYSPARK:
        from mfstudio.spark.engine import stop_sessions

        stop_sessions()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def movies():
    """A small explicit set: a quarter of sample:movies' users (about 19k ratings)."""
    data = open_data("sample:movies")
    return data.subset(data.rows < data.shape[0] // 4)


@pytest.fixture(scope="module")
def local_spark():
    """The ``local[2]`` session every in-process fit here uses (started once: 10-30 s)."""
    from mfstudio.spark.engine import session_for

    return session_for(LOCAL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds:.0f} s")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A Spark standalone master and one worker on loopback, from pyspark's own spark-class; stopped afterwards."""
    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    folder = tmp_path_factory.mktemp("standalone")
    port, web, worker_web = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(folder),
           "SPARK_LOG_DIR": str(folder), "SPARK_NO_DAEMONIZE": "1"}
    master_log = open(folder / "master.log", "w")
    worker_log = open(folder / "worker.log", "w")
    processes = []
    try:
        processes.append(subprocess.Popen(
            ["bash", str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(web)],
            env=env, stdout=master_log, stderr=subprocess.STDOUT, start_new_session=True))

        def master_up():
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(("127.0.0.1", port)) == 0
        _wait_for(master_up, 90, "the Spark master did not open its port")
        processes.append(subprocess.Popen(
            ["bash", str(spark_class), "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
             "--host", "127.0.0.1", "--cores", "2", "--memory", "2g", "--webui-port", str(worker_web),
             "--work-dir", str(folder / "work")],
            env=env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True))
        _wait_for(lambda: "Registering worker" in (folder / "master.log").read_text(errors="replace"), 90,
                  "the Spark worker did not register with the master")
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in reversed(processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        master_log.close()
        worker_log.close()


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server (``local[2]`` inside) on a free loopback port, from pyspark's own spark-submit.

    Started in the foreground as its own process group and killed at the end;
    ``sc://127.0.0.1:PORT`` is what a desktop (or the bundle) would be pointed at.
    """
    pytest.importorskip("grpc", reason="Spark Connect needs pyspark's connect extra (pip install -e '.[spark]')")
    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("connect")
    port = _free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(folder)}
    env.pop("SPARK_CONNECT_MODE_ENABLED", None)
    log = open(folder / "server.log", "w")
    process = subprocess.Popen(
        ["bash", str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
         "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.driver.memory=1g",
         "--conf", "spark.ui.enabled=false"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def server_up():
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(("127.0.0.1", port)) == 0
        _wait_for(server_up, 120, "the Spark Connect server did not open its port")
        yield f"sc://127.0.0.1:{port}"
    finally:
        # Sessions say goodbye while their server is still there (after it is gone they could only retry).
        from mfstudio.spark.engine import stop_sessions

        stop_sessions()
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


# ------------------------------------------------------------- no Spark needed
@pytest.mark.parametrize("first", ["mfstudio.cli", "mfstudio.models", "mfstudio.spark.progress", "mfstudio.spark.interop",
                                   "mfstudio.spark.engine"])
def test_importing_mfstudio_the_cli_and_the_models_leaves_pyspark_out(first):
    # Each module imported first (no import cycle between the models and mfstudio.spark), then the rest.
    code = f"import sys, {first}, mfstudio, mfstudio.cli, mfstudio.models, mfstudio.spark.progress; " \
           "print(sorted(m for m in sys.modules if m.startswith(('pyspark', 'py4j'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_engine_parameters_are_declared_and_a_bad_master_is_one_sentence():
    assert ALS.defaults["engine"] == "local" and ImplicitALS.defaults["engine"] == "local"
    for good in ("local", "local[*]", "local[2]", "local[4,2]", "spark://127.0.0.1:7077", "spark://a:1,b:2",
                 "sc://localhost:15002", "sc://h", "yarn", "k8s://https://h:443"):
        assert ALS(engine="spark", spark_master=good).validate_params()["spark_master"] == good
    with pytest.raises(ParamError) as refused:
        ALS(engine="spark", spark_master="spark:/oops").validate_params()
    assert refused.value.param == "spark_master" and "Spark master URL" in str(refused.value)
    assert ALS.param("spark_master").parse("  local[2] ") == "local[2]"
    with pytest.raises(ParamError, match="scaling = log has no Spark equivalent"):
        ImplicitALS(engine="spark", scaling="log").validate_params()
    assert "use_bias" in ALS.spark_unmapped and "solver" in ImplicitALS.spark_unmapped


def test_the_cli_refuses_a_bad_master_and_engine_on_other_models_before_loading(capsys):
    from mfstudio.cli import main

    assert main(["fit", "sample:movies", "--model", "als", "--engine", "spark", "--spark-master", "nowhere"]) == 2
    assert "spark_master must be a Spark master URL" in capsys.readouterr().err
    assert main(["fit", "sample:movies", "--model", "sgd", "--engine", "spark"]) == 2
    assert "--engine does not apply" in capsys.readouterr().err


def test_spark_ids_keep_int_raw_ids_and_fall_back_to_internal_ones():
    from mfstudio.spark.engine import spark_ids

    assert spark_ids(np.array([5, 1, 9])).tolist() == [5, 1, 9]
    assert spark_ids(np.array(["12", "3"])).tolist() == [12, 3]
    assert spark_ids(np.array(["a", "b"])).tolist() == [0, 1]
    assert spark_ids(np.array([1, 2**40])).tolist() == [0, 1]
    assert spark_ids(np.array(["007", "7"])).tolist() == [0, 1]  # "007" and "7" are different users


def test_spark_failures_become_one_sentence_with_what_to_do():
    from mfstudio.spark.engine import translate

    oom = translate(RuntimeError("Job aborted: java.lang.OutOfMemoryError: Java heap space\n\tat org..."), LOCAL)
    assert str(oom).startswith("Spark ran out of memory") and "n_factors" in str(oom) and "\tat" not in str(oom)
    refused = translate(RuntimeError("java.io.IOException: Failed to connect to master 10.0.0.1:7077"), "spark://x:1")
    assert "refused the connection" in str(refused)
    other = translate(RuntimeError("An error occurred while calling o12.fit.\n: java.lang.IllegalStateException: bad\n\tat x"),
                      LOCAL)
    assert str(other).startswith("Spark failed:") and "\n" not in other.problem


@needs_spark
def test_a_master_that_does_not_answer_is_refused_in_seconds_not_minutes():
    from mfstudio.spark.engine import session_for

    started = time.monotonic()
    with pytest.raises(DataError, match="does not answer"):
        session_for(f"spark://127.0.0.1:{_free_port()}")
    assert time.monotonic() - started < 10


def test_no_java_is_one_sentence(monkeypatch):
    from mfstudio.spark import engine

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="needs Java 17 or newer") as refused:
        engine.check_java()
    assert "JAVA_HOME" in refused.value.fix


def test_implicit_npz_round_trip_keeps_factors_and_ids(tmp_path, movies):
    from mfstudio.spark.interop import export_implicit, import_implicit

    model = ALS(n_factors=4, n_epochs=2, use_bias=False).fit(movies)
    path = export_implicit(model, tmp_path / "als")
    with np.load(path, allow_pickle=False) as npz:  # the keys implicit's AlternatingLeastSquares.load reads
        assert {"user_factors", "item_factors", "factors", "regularization", "alpha", "iterations"} <= set(npz.files)
    back = import_implicit(path, movies, implicit=False)
    np.testing.assert_array_equal(back.user_factors_, model.user_factors_)
    np.testing.assert_allclose(back.predict(movies.rows[:50], movies.cols[:50]), model.predict(movies.rows[:50], movies.cols[:50]))
    # A file without ids whose rows do not match the data is refused in a sentence.
    np.savez(tmp_path / "bare.npz", user_factors=np.zeros((3, 2), np.float32), item_factors=np.zeros((4, 2), np.float32))
    with pytest.raises(DataError, match="factors for 3 users"):
        import_implicit(tmp_path / "bare.npz", movies)


# ------------------------------------------------------------------ local[2]
@needs_spark
def test_spark_fit_on_local2_gives_an_ordinary_model_that_saves_loads_and_recommends(tmp_path, movies, local_spark):
    readings = []
    model = ALS(n_factors=8, n_epochs=3, reg=0.1, engine="spark", spark_master=LOCAL)
    with spark_progress.progress_to(lambda done, total, text: readings.append((done, total, text))):
        steps = list(model.iter_fit(movies))
    assert len(steps) == 1 and np.isfinite(steps[0].train_loss)
    assert model.user_factors_.shape == (movies.shape[0], 8) and model.item_factors_.shape == (movies.shape[1], 8)
    assert not hasattr(model, "user_bias_") and model.engine_info["master"] == LOCAL
    assert model.engine_info["ids"] == "raw"
    assert any(total > 0 for _, total, _ in readings), readings  # Spark's tasks were reported while it ran
    assert any(text.startswith("Spark: stage") for _, _, text in readings)
    rmse = model.score(movies)["rmse"]
    assert rmse < 0.9  # the training ratings are fitted (sample:movies is planted low-rank + noise)
    # Everything downstream is the ordinary FactorModel: recommendations without seen items, fold-in, save/load.
    items, _ = model.recommend(np.array([0]), n=10, exclude_seen=True)
    seen = set(movies.cols[movies.rows == 0].tolist())
    assert not seen & set(items[0].tolist())
    vector, bias = model.fold_in(movies.cols[movies.rows == 0], movies.values[movies.rows == 0])
    assert vector.shape == (8,) and bias == 0.0
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.params["engine"] == "spark"
    np.testing.assert_allclose(again.predict(movies.rows[:99], movies.cols[:99]), model.predict(movies.rows[:99], movies.cols[:99]))


@needs_spark
def test_implicit_als_on_spark_ranks_and_ships_through_parquet(tmp_path, movies, local_spark):
    model = ImplicitALS(n_factors=8, n_epochs=3, reg=0.1, alpha=1.0, engine="spark", spark_master=LOCAL,
                        spark_parquet_dir=str(tmp_path / "ship"))
    held_out = np.random.default_rng(0).random(movies.nnz) < 0.2
    train, test = movies.subset(~held_out), movies.subset(held_out)
    model.fit(train)
    assert model.engine_info["shipping"] == "parquet"
    assert not list((tmp_path / "ship").glob("*.parquet"))  # the shipped copy is removed after the fit
    scores = model.score(test)
    assert scores["precision@10"] > 0.05
    assert model.fitted_on_ratings_ == 1


@needs_spark
def test_the_spark_layout_export_opens_in_spark_and_imports_back(tmp_path, movies, local_spark):
    from pyspark.ml.recommendation import ALSModel

    from mfstudio.spark.interop import export_spark, import_spark

    model = ALS(n_factors=4, n_epochs=3, use_bias=False).fit(movies)
    folder = export_spark(model, tmp_path / "als")
    loaded = ALSModel.load(str(folder))  # Spark itself reads the folder
    assert loaded.rank == 4
    pairs = local_spark.createDataFrame([(int(movies.row_ids[0]), int(movies.col_ids[movies.cols[0]]))], ["user", "item"])
    spark_prediction = loaded.transform(pairs).collect()[0]["prediction"]
    ours = float(model.user_factors_[0] @ model.item_factors_[movies.cols[0]])
    assert spark_prediction == pytest.approx(ours, rel=1e-5)
    back = import_spark(folder, movies)
    np.testing.assert_array_equal(back.item_factors_, model.item_factors_)


def _cancel_lands_within_seconds(movies, master: str) -> None:
    """Start a long fit on ``master``, cancel it once Spark reports tasks: it must end, fitted nothing, within 10 s."""
    event, seen_tasks, finished = threading.Event(), threading.Event(), {}

    def on_progress(done, total, text):
        if total > 0:
            seen_tasks.set()

    def run():
        with stop_when(event), spark_progress.progress_to(on_progress):
            model = ALS(n_factors=16, n_epochs=400, reg=0.1, engine="spark", spark_master=master)
            finished["steps"] = list(model.iter_fit(movies))
            finished["at"] = time.monotonic()

    worker = threading.Thread(target=run)
    worker.start()
    assert seen_tasks.wait(120), "no Spark task was reported"
    asked = time.monotonic()
    event.set()
    worker.join(60)
    assert not worker.is_alive()
    assert finished["steps"] == []
    assert finished["at"] - asked < 10


@needs_spark
def test_cancel_interrupts_the_spark_job_within_seconds(movies, local_spark):
    _cancel_lands_within_seconds(movies, LOCAL)
    # The session is still usable after the cancel.
    assert local_spark.range(3).count() == 3


@needs_spark
@needs_ml100k
def test_cli_spark_fit_on_ml100k_matches_a_direct_pyspark_fit_and_recommends_unseen(tmp_path, capsys, local_spark):
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS as SparkALS

    from mfstudio.cli import main

    base, test = str(ML100K / "u1.base"), str(ML100K / "u1.test")
    status = main(["fit", base, "--test", test, "--model", "als", "--engine", "spark", "--spark-master", LOCAL,
                   "--factors", "20", "--epochs", "10", "--reg", "0.1", "--json", "--save", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert status == 0, out
    result = json.loads(out[out.index("{"):])
    assert result["engine"] == "spark" and result["spark_master"] == LOCAL and result["fit_seconds"] > 0
    assert result["spark"]["spark_version"].startswith("4")

    # The same fit straight from pyspark, as the tutorials write it.
    import pandas as pd

    names = ["user", "item", "rating", "ts"]
    train = local_spark.createDataFrame(pd.read_csv(base, sep="\t", names=names)[names[:3]])
    held = local_spark.createDataFrame(pd.read_csv(test, sep="\t", names=names)[names[:3]])
    direct = SparkALS(rank=20, maxIter=10, regParam=0.1, seed=0, userCol="user", itemCol="item", ratingCol="rating",
                      coldStartStrategy="drop").fit(train)
    direct_rmse = RegressionEvaluator(metricName="rmse", labelCol="rating").evaluate(direct.transform(held))
    print(f"mfstudio --engine spark rmse {result['metrics']['rmse']:.4f}, direct pyspark rmse {direct_rmse:.4f}")
    assert abs(result["metrics"]["rmse"] - direct_rmse) < 0.005
    capsys.readouterr()

    assert main(["recommend", str(tmp_path / "m"), "--user", "1", "--n", "10", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    rated = set(pd.read_csv(base, sep="\t", names=names).query("user == 1")["item"].astype(str))
    assert len(recs["items"]) == 10 and not rated & {str(row["item"]) for row in recs["items"]}


# ------------------------------------------------------------ Spark Connect
@needs_spark
def test_a_fit_through_spark_connect_equals_the_local_session_fit_reports_progress_and_cancels(movies, local_spark,
                                                                                              connect_server):
    readings = []
    remote = ALS(n_factors=8, n_epochs=3, reg=0.1, seed=0, engine="spark", spark_master=connect_server)
    with spark_progress.progress_to(lambda done, total, text: readings.append((done, total, text))):
        remote.fit(movies)
    assert remote.engine_info["master"] == connect_server
    assert any(total > 0 and text.startswith("Spark: stage") for _, total, text in readings), readings
    # The same seed on the in-process local[2] session: Spark's ALS is the same code behind both doors.
    here = ALS(n_factors=8, n_epochs=3, reg=0.1, seed=0, engine="spark", spark_master=LOCAL).fit(movies)
    assert remote.score(movies)["rmse"] == pytest.approx(here.score(movies)["rmse"], abs=0.005)

    # Cancel through Connect interrupts the fit's operation by its tag.
    _cancel_lands_within_seconds(movies, connect_server)


# ------------------------------------------------------------ standalone (last)
@needs_spark
def test_fit_against_a_standalone_master_and_worker(movies, standalone):
    model = ALS(n_factors=8, n_epochs=2, reg=0.1, engine="spark", spark_master=standalone)
    model.fit(movies)
    assert model.engine_info["spark_master"] == standalone
    assert model.score(movies)["rmse"] < 1.0


def test_a_connect_session_left_behind_does_not_hold_up_the_interpreter_exit():
    # pyspark's Connect client cleans its server-side cache at exit unless it was closed; a session whose
    # server is gone never closes, and that exit hook retried for minutes after a CI run's last test.
    code = """
import atexit, threading, time
from mfstudio.spark import engine

class Client:
    def _on_exit(self):
        print("EXIT HOOK RAN", flush=True)
        time.sleep(60)  # what pyspark's retries against a gone server amount to

class Session:
    __module__ = "pyspark.sql.connect.session"
    def __init__(self):
        self.client = Client()
        atexit.register(self.client._on_exit)
    def stop(self):
        threading.Event().wait(60)  # the goodbye to a gone server retries

engine.CONNECT_STOP_SECONDS = 0.1
engine._stop(Session())
print("STOPPED", flush=True)
"""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "STOPPED" and "EXIT HOOK RAN" not in done.stdout
    assert time.monotonic() - started < 30
