"""Why this item: explanations add up to the score; ALS's is the exact solve; several models side by side."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mfstudio.cli import main
from mfstudio.data.errors import DataError
from mfstudio.data.samples import movies
from mfstudio.explain import compare_recommendations, explain, novelty
from mfstudio.models import MODELS
from mfstudio.recommend import recommendations_for


@pytest.fixture(scope="module")
def data():
    return movies(n_users=120, n_items=150, seed=3)


@pytest.fixture(scope="module")
def fitted(data):
    specs = {
        "als": dict(n_factors=6, n_epochs=8),
        "als-nobias": dict(n_factors=6, n_epochs=8, use_bias=False),
        "implicit-als": dict(n_factors=6, n_epochs=8, solver="exact"),
        "sgd": dict(n_factors=6, n_epochs=5),
        "bpr": dict(n_factors=6, n_epochs=5),
        "nmf": dict(n_factors=4, n_epochs=20),
    }
    return {name: MODELS[name.split("-nobias")[0]](**p).fit(data) for name, p in specs.items()}


def _user(data):
    return data.row_ids[int(np.argmax(np.bincount(data.rows)))]  # the most active user: many contributions


@pytest.mark.parametrize("name", ["als", "als-nobias", "implicit-als", "sgd", "bpr", "nmf"])
def test_contributions_add_up_to_the_listed_score(fitted, data, name):
    model, user = fitted[name], _user(data)
    for row in recommendations_for(model, user, n=3):
        why = explain(model, user, row["item"], n=4)
        assert abs(why.total() - row["score"]) < 1e-4
        assert why.score == pytest.approx(row["score"], abs=1e-6)
        assert len(why.items) == 4 and any(c.kind == "others" for c in why.contributions)
        assert why.exact == name.startswith(("als", "implicit-als"))
        if not why.exact:
            assert "not an exact decomposition" in why.method
        assert why.factors and why.factors[0].share >= why.factors[-1].share


def test_als_decomposition_is_the_users_least_squares_solve(fitted, data):
    """Without the residual, the entries are mean + item bias + the fold-in solve's prediction (independent code)."""
    model, user = fitted["als"], _user(data)
    u = int(data.row_of([user])[0])
    mask = model.train_.rows == u
    vector, bias = model.fold_in(model.train_.cols[mask], model.train_.values[mask])
    for row in recommendations_for(model, user, n=5):
        i = int(data.col_of([row["item"]])[0])
        why = explain(model, user, row["item"], n=0)
        solved = why.total() - sum(c.contribution for c in why.contributions if c.kind == "residual")
        expected = model.global_mean_ + bias + model.item_bias_[i] + float(vector.astype(np.float64) @ model.item_factors_[i])
        assert solved == pytest.approx(expected, abs=1e-4)
        user_bias = [c.contribution for c in why.contributions if c.kind == "user_bias"]
        assert user_bias == [pytest.approx(bias, abs=1e-5)]
        # After 8 sweeps the saved factors are close to a fresh solve.
        assert abs(why.total() - solved) < 0.05


def test_implicit_als_decomposition_matches_its_fold_in(fitted, data):
    model, user = fitted["implicit-als"], _user(data)
    u = int(data.row_of([user])[0])
    fit = model.fit_data_
    mask = fit.rows == u
    vector, _ = model.fold_in(fit.cols[mask], fit.values[mask])
    row = recommendations_for(model, user, n=1)[0]
    i = int(data.col_of([row["item"]])[0])
    why = explain(model, user, row["item"], n=0)
    items = sum(c.contribution for c in why.items)
    assert items == pytest.approx(float(vector.astype(np.float64) @ model.item_factors_[i]), abs=1e-4)
    assert why.n_rated == int(mask.sum()) and len(why.items) == why.n_rated
    # Each share is confidence x weight: an interaction never counts against an item with positive weight.
    assert all(math.copysign(1, c.contribution) == math.copysign(1, c.weight) for c in why.items)


def test_unknown_user_is_one_sentence(fitted):
    with pytest.raises(DataError, match="no user"):
        explain(fitted["als"], "nobody", 1)


def test_recommend_explain_json_on_a_saved_als(fitted, data, tmp_path, capsys):
    fitted["als"].save(tmp_path / "als")
    user = str(_user(data))
    assert main(["recommend", str(tmp_path / "als"), "--user", user, "--n", "3", "--explain", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for row in out["items"]:
        entries = row["contributions"]
        assert {"item", "title", "contribution"} <= set(entries[0])
        assert sum(e["contribution"] for e in entries) == pytest.approx(row["score"], abs=1e-4)
        kinds = [e["kind"] for e in entries]
        assert kinds[:3] == ["global_mean", "user_bias", "item_bias"] and "item" in kinds
        assert row["exact"] is True
    assert main(["recommend", str(tmp_path / "als"), "--user", user, "--n", "2", "--explain", "2"]) == 0
    text = capsys.readouterr().out
    assert "global mean" in text and "exact:" in text


def test_compare_marks_overlap_and_novelty(fitted, data):
    user = _user(data)
    table = compare_recommendations({"als": fitted["als"], "sgd": fitted["sgd"], "bpr": fitted["bpr"]}, user, n=8)
    assert table.names == ("als", "sgd", "bpr")
    nov = novelty(fitted["als"].train_)
    for name, rows in table.lists.items():
        assert len(rows) == 8
        for row in rows:
            i = int(data.col_of([row["item"]])[0])
            assert row["novelty"] == pytest.approx(nov[i]) and row["novelty"] >= 0
            assert row["shared"] == (sum(row["item"] in {r["item"] for r in other} for other in table.lists.values()) > 1)
        assert table.mean_novelty[name] == pytest.approx(np.mean([r["novelty"] for r in rows]))
    als, sgd = ({r["item"] for r in table.lists[n]} for n in ("als", "sgd"))
    assert table.overlap[("als", "sgd")] == len(als & sgd)
    json.dumps(table.as_dict())  # plain JSON for the window and scripts
