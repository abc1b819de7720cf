"""Sweeps (issue 11): grids and random searches scored fold by fold, streamed, resumable, cancellable."""

from __future__ import annotations

import json
import math
import multiprocessing
import threading
import time

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data import Dataset, open_data
from mfstudio.data.errors import DataError
from mfstudio.models.params import ParamError
from mfstudio.sweep import (
    Axis, Sweep, check_sweep_folder, default_axis, parse_grid, parse_random, sweepable_params,
)


@pytest.fixture(autouse=True)
def one_numba_thread():
    """In-process points on one thread, as in the workers: on 2 busy cores parallel kernels on tiny
    matrices stall (measured: the planted-rank sweep 2.5 s on one thread, 21-34 s on two under load)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture(scope="module")
def movies():
    return open_data("sample:movies")


@pytest.fixture(scope="module")
def few_movies(movies):
    """A quarter of sample:movies' ratings (~19k): scoring many points stays fast."""
    return movies.subset(np.arange(movies.nnz) % 4 == 0)


def _planted(rank: int = 4, shape=(60, 50), noise: float = 0.1, seed: int = 0) -> Dataset:
    """A full grid of a rank-``rank`` matrix plus small Gaussian noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(shape[0], rank)) @ rng.normal(size=(rank, shape[1])) + noise * rng.normal(size=shape)
    rows, cols = np.nonzero(np.ones(shape, dtype=bool))
    return Dataset(kind="dense", rows=rows, cols=cols, values=X[rows, cols],
                   row_ids=np.arange(shape[0]), col_ids=np.arange(shape[1]), name="planted")


# ----------------------------------------------------------------- axes

def test_grid_values_are_checked_by_the_declaration():
    axis = parse_grid("sgd", "factors=5,10")
    assert axis == Axis("n_factors", [5, 10])
    assert parse_grid("sgd", "reg=0.05, 0.1").values == [0.05, 0.1]
    for text, named in (("factors=0,5", "n_factors"), ("lr=-1", "lr"), ("reg=abc", "reg"), ("nosuch=1", "nosuch"),
                        ("factors=5,5", "n_factors"), ("factors", "")):
        with pytest.raises(ParamError) as caught:
            parse_grid("sgd", text)
        message = str(caught.value)
        assert "\n" not in message and named in message
    with pytest.raises(ParamError, match="lr must be a number > 0"):
        parse_grid("sgd", "lr=0.01,0")


def test_random_points_stay_in_range_and_log_ranges_are_log_uniform(movies):
    axis = parse_random("sgd", "lr=0.001:0.1:log")
    assert (axis.low, axis.high, axis.log, axis.values) == (0.001, 0.1, True, None)
    sweep = Sweep(movies, "sgd", [axis], trials=60, jobs=1, protocol="random:0.2")
    values = np.array([p["lr"] for p in sweep.points])
    assert len(values) == 60 and values.min() >= 0.001 and values.max() <= 0.1
    # Log-uniform: half below the geometric middle 0.01 (a uniform draw puts ~9% there).
    assert 0.3 <= np.mean(values < 0.01) <= 0.7
    linear = Sweep(movies, "sgd", [parse_random("sgd", "lr=0.001:0.1")], trials=60, jobs=1, protocol="random:0.2")
    assert np.mean(np.array([p["lr"] for p in linear.points]) < 0.01) < 0.25
    ints = Sweep(movies, "sgd", [parse_random("sgd", "factors=2:300:log")], trials=10, jobs=1,
                 protocol="random:0.2")
    assert all(isinstance(p["n_factors"], int) and 2 <= p["n_factors"] <= 300 for p in ints.points)
    with pytest.raises(ParamError, match="--trials"):
        Sweep(movies, "sgd", [axis], jobs=1)
    for text in ("lr=0.1:0.01", "lr=0:0.1:log", "lr=0.01", "method=1:2"):
        with pytest.raises(ParamError):
            parse_random("gd" if text.startswith("method") else "sgd", text)


def test_default_axes_come_from_the_declarations():
    lr = default_axis("sgd", "lr")
    assert lr.log and lr.values[0] == pytest.approx(0.003) and lr.values[-1] == pytest.approx(0.3)
    factors = default_axis("sgd", "factors")
    assert all(isinstance(v, int) and v >= 1 for v in factors.values) and factors.values == sorted(factors.values)
    assert 0.0 in default_axis("nmf", "reg").values  # an optional penalty: off, then decades
    assert "seed" not in sweepable_params("sgd") and "threshold" not in sweepable_params("bpr")
    assert {"n_factors", "lr", "reg"} <= set(sweepable_params("sgd"))
    with pytest.raises(ParamError):
        default_axis("nmf", "solver")


# ----------------------------------------------------------------- running

def test_a_2x2_grid_gives_four_points_scored_on_every_fold(few_movies):
    sweep = Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5,10"), parse_grid("sgd", "reg=0.05,0.5")],
                  fixed={"n_epochs": 3}, protocol="kfold:2", jobs=1)
    assert sweep.metric == "rmse" and sweep.lower_is_better and len(sweep.points) == 4
    streamed = list(sweep.iter_results())
    assert len(streamed) == 4 and streamed == sweep.results
    for point in streamed:
        assert point.status == "done" and len(point.fold_values) == 2
        assert point.mean == pytest.approx(np.mean(point.fold_values))
        assert point.std == pytest.approx(np.std(point.fold_values, ddof=1))
        assert point.train_mean is not None and point.train_mean < point.mean  # train error below validation
        assert set(point.params) == {"n_factors", "reg"}
    best = sweep.best
    assert best.mean == min(p.mean for p in streamed)
    assert sweep.best_params() == {"n_epochs": 3, **best.params}
    summary = sweep.as_dict()
    assert summary["best"]["mean"] == best.mean and len(summary["results"]) == 4
    json.dumps(summary)  # JSON-safe

    with pytest.raises(ParamError, match="lr must be"):
        Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5,10")], fixed={"lr": -1.0}, jobs=1)
    with pytest.raises(DataError, match="relative_error"):
        Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5,10")], metric="relative_error", jobs=1)


def test_ranking_models_are_ranked_by_ndcg_higher_is_better(few_movies):
    sweep = Sweep(few_movies, "bpr", [parse_grid("bpr", "factors=2,8")], fixed={"n_epochs": 3},
                  protocol="kfold:2", jobs=1, metric="ndcg@5")
    assert (sweep.metric, sweep.lower_is_better) == ("ndcg@5", False)
    assert Sweep(few_movies, "bpr", [parse_grid("bpr", "factors=2")], jobs=1).metric == "ndcg@10"
    sweep.run()
    assert all(p.status == "done" and p.train_mean is None and 0 < p.mean < 1 for p in sweep.results)
    assert sweep.best.mean == max(p.mean for p in sweep.results)


def test_a_sweep_of_svd_rank_finds_the_planted_rank_on_held_out_cells():
    data = _planted(rank=4)
    sweep = Sweep(data, "svd", [Axis("n_factors", list(range(1, 9)))], jobs=1)
    assert sweep.protocol == "cells:0.1" and sweep.metric == "relative_error"
    sweep.run()
    assert sweep.best.params == {"n_factors": 4}
    by_k = {p.params["n_factors"]: p for p in sweep.results}
    # Held out: falls to k = 4, then rises (the U of overfitting); on the training cells it only falls.
    assert by_k[4].mean < 0.5 * by_k[3].mean and by_k[4].mean < 0.5 * by_k[5].mean
    assert by_k[8].mean > by_k[5].mean
    train = [by_k[k].train_mean for k in range(1, 9)]
    assert all(a >= b for a, b in zip(train, train[1:]))


def test_successive_halving_prunes_two_thirds_at_each_rung(few_movies):
    sweep = Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=2,3,4,5,6,7")], fixed={"n_epochs": 9},
                  protocol="kfold:2", jobs=1, halving=True)
    sweep.run()
    budgets = sorted((p.status, p.budget) for p in sweep.results)
    assert budgets == [("done", 9)] + [("pruned", 1)] * 4 + [("pruned", 3)]
    assert sweep.best.status == "done" and sweep.best.budget == 9
    pruned_early = [p for p in sweep.results if p.budget == 1]
    assert all(math.isfinite(p.mean) and len(p.fold_values) == 2 for p in pruned_early)
    with pytest.raises(ParamError, match="n_epochs"):
        Sweep(few_movies, "sgd", [parse_grid("sgd", "epochs=2,3")], halving=True, jobs=1)
    with pytest.raises(ParamError, match="n_epochs"):
        Sweep(_planted(), "svd", [Axis("n_factors", [1, 2])], halving=True, jobs=1)


def test_a_sweep_resumes_from_its_results_file(few_movies, tmp_path):
    path = tmp_path / "sweep.jsonl"
    first = Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5,10")], fixed={"n_epochs": 2}, protocol="kfold:2",
                  jobs=1, results_path=path)
    first.run()
    assert len(path.read_text().splitlines()) == 1 + 2  # header + one line per point
    second = Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5,10,15")], fixed={"n_epochs": 2},
                   protocol="kfold:2", jobs=1, results_path=path)
    second.run()
    assert sorted(second.resumed) == [0, 1]  # factors 5 and 10 came from the file
    assert len(second.results) == 3 and len(path.read_text().splitlines()) == 1 + 3
    old = {p.params["n_factors"]: p.mean for p in first.results}
    assert {p.params["n_factors"]: p.mean for p in second.results if p.index in (0, 1)} == old
    with pytest.raises(DataError, match="another"):  # a file of another sweep is never appended to
        Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5,10")], fixed={"n_epochs": 3}, protocol="kfold:2",
              jobs=1, results_path=path)
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"hello": 1}\n')
    with pytest.raises(DataError, match="not a results file"):
        Sweep(few_movies, "sgd", [parse_grid("sgd", "factors=5")], jobs=1, results_path=foreign)


def test_cancel_stops_every_worker_within_a_second_and_keeps_finished_points(movies):
    # One quick point, then points that take many seconds each on one core.
    sweep = Sweep(movies, "sgd", [parse_grid("sgd", "epochs=1,400,401,402")], protocol="kfold:2", jobs=2)
    first = threading.Event()
    runner = threading.Thread(target=sweep.run, kwargs={"on_point": lambda p: first.set()})
    runner.start()
    assert first.wait(60), "no point finished"
    workers = list(sweep._pool.processes)
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    started = time.perf_counter()
    sweep.cancel()
    runner.join(5)
    elapsed = time.perf_counter() - started
    assert not runner.is_alive() and elapsed < 1.0, f"cancel took {elapsed:.2f}s"
    assert not any(w.is_alive() for w in workers)
    assert not {w.pid for w in workers} & {c.pid for c in multiprocessing.active_children()}
    done = [p for p in sweep.results if p.status == "done"]
    assert [p.params for p in done] == [{"n_epochs": 1}] and len(done[0].fold_values) == 2
    assert {p.status for p in sweep.results} <= {"done", "cancelled"}
    assert sweep.best.params == {"n_epochs": 1}


def test_cancel_on_the_calling_thread_stops_an_in_process_sweep(movies):
    sweep = Sweep(movies, "sgd", [parse_grid("sgd", "epochs=1,2000")], protocol="kfold:2", jobs=1)
    seen = []

    def on_point(point):
        seen.append(point)
        threading.Timer(0.3, sweep.cancel).start()

    started = time.perf_counter()
    sweep.run(on_point=on_point)
    assert time.perf_counter() - started < 20
    assert [p.status for p in sweep.results] == ["done", "cancelled"]


# ----------------------------------------------------------------- CLI

def test_cli_sweep_json_best_params_are_accepted_by_fit(capsys, tmp_path):
    code = main(["sweep", "sample:movies", "--model", "sgd", "--grid", "factors=5,10", "--grid", "reg=0.05,0.1",
                 "--cv", "2", "--json", "--param", "n_epochs=3", "--save", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert len(result["results"]) == 4 and result["metric"] == "rmse" and result["lower_is_better"]
    assert all(len(r["fold_values"]) == 2 for r in result["results"])
    best = result["best"]
    assert best["mean"] == min(r["mean"] for r in result["results"])
    assert best["params"]["n_epochs"] == 3 and set(best["params"]) >= {"n_factors", "reg"}
    assert (tmp_path / "run" / "sweep.json").exists() and (tmp_path / "run" / "sweep.jsonl").exists()
    params = [w for k, v in best["params"].items() for w in ("--param", f"{k}={v}")]
    assert main(["fit", "sample:movies", "--model", "sgd", "--split", "kfold:2", "--json", *params]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["params"]["n_factors"] == best["params"]["n_factors"] and fit["params"]["reg"] == best["params"]["reg"]
    assert fit["metrics"]["rmse"] == pytest.approx(best["mean"], abs=0.01)  # same splits; threads may differ

    # The saved folder is refused without --resume, and continued with it (nothing reruns).
    argv = ["sweep", "sample:movies", "--model", "sgd", "--grid", "factors=5,10", "--grid", "reg=0.05,0.1",
            "--cv", "2", "--param", "n_epochs=3", "--save", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(argv + ["--resume"]) == 0
    out = capsys.readouterr().out
    assert out.count("(saved earlier)") == 4 and "reproduce: mfstudio fit sample:movies --model sgd" in out


def test_cli_sweep_errors_are_one_sentence(capsys, tmp_path):
    for argv, words in (
        (["--grid", "factors=0,5"], "n_factors must be"),
        (["--grid", "factors=5", "--random", "lr=0.01:0.1"], "--trials"),
        (["--grid", "nosuch=1,2"], "no parameter"),
        ([], "at least one"),
        (["--grid", "factors=5", "--metric", "relative_error"], "cannot be scored"),
        (["--grid", "factors=5", "--resume"], "--resume"),
        (["--grid", "lr=500,1000", "--param", "n_epochs=2", "--cv", "2", "--jobs", "1"], "every point failed"),
    ):
        code = main(["sweep", "sample:movies", "--model", "sgd", *argv])
        err = capsys.readouterr().err
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (argv, err)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="other files"):
        check_sweep_folder(tmp_path / "taken")
