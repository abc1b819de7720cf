"""The same user, several runs: lists side by side with overlap marked and novelty per list (issue 15)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfstudio.data.errors import DataError
from mfstudio.data.samples import movies
from mfstudio.explain import compare_recommendations, novelty
from mfstudio.models import MODELS
from mfstudio.recommend import recommendations_for


# ------------------------------------------------------------------ core
@pytest.fixture(scope="module")
def small():
    data = movies(n_users=120, n_items=150, seed=3)
    fitted = {"sgd": MODELS["sgd"](n_factors=6, n_epochs=5).fit(data),
              "bpr": MODELS["bpr"](n_factors=6, n_epochs=5).fit(data)}
    return data, fitted


def test_each_list_gets_its_mean_popularity_and_how_many_items_it_shares(small):
    data, fitted = small
    user = data.row_ids[0]
    table = compare_recommendations(fitted, user, n=10)
    share = np.bincount(data.cols, minlength=data.n_cols) / data.n_rows
    for name, rows in table.lists.items():
        index = data.col_of([r["item"] for r in rows])
        assert [r["popularity"] for r in rows] == pytest.approx(share[index].tolist())
        assert table.mean_popularity[name] == pytest.approx(float(share[index].mean()))
        assert table.mean_novelty[name] == pytest.approx(float(novelty(data)[index].mean()))
        assert table.n_shared[name] == sum(r["shared"] for r in rows)
    assert table.n_lists == 2 and table.missing == {}
    assert table.as_dict()["mean_popularity"] == table.mean_popularity


def test_a_model_that_never_saw_the_user_gets_an_empty_list_with_the_reason(small):
    data, fitted = small
    user = data.row_ids[-1]
    others = movies(n_users=60, n_items=150, seed=3)  # fewer users: the last one of `data` is not among them
    assert int(others.row_of([user])[0]) < 0
    blind = MODELS["sgd"](n_factors=4, n_epochs=2).fit(others)
    with pytest.raises(DataError):
        compare_recommendations({"sgd": fitted["sgd"], "blind": blind}, user)
    table = compare_recommendations({"sgd": fitted["sgd"], "blind": blind}, user, skip_missing=True)
    assert table.lists["blind"] == [] and "no" in table.missing["blind"]
    assert math.isnan(table.mean_popularity["blind"]) and table.overlap[("sgd", "blind")] == 0


# ------------------------------------------------------------------ window
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from tests.test_layout import fit, load  # noqa: E402


@pytest.fixture
def three_runs(qtbot, window):
    load(qtbot, window, "sample:movies")
    runs = [fit(qtbot, window, "svd", n_factors=8),
            fit(qtbot, window, "sgd", n_factors=8, n_epochs=3),
            fit(qtbot, window, "bpr", n_factors=8, n_epochs=3)]
    view = window.show_view("Recommendations")
    return view, runs


def test_the_side_by_side_page_shows_each_runs_list_for_the_user_as_the_core_does(three_runs):
    view, runs = three_runs
    assert view.tabs.tabText(2) == "Compare runs"  # discoverable beside the other two pages
    view.show_comparison()
    assert view.comparing and view.compared_runs() == runs  # the latest runs are ticked by default
    user = view.current_user
    shown = view.compared_titles()
    assert list(shown) == [run.name for run in runs]
    for run in runs:
        core = recommendations_for(run.model, user, view.n_spin.value(), min_support=view.min_support)
        assert shown[run.name] == [r["title"] for r in core]
    table = view.comparison
    assert table.n_lists == 3 and str(table.user) == str(user)
    # Per-list figures, named and explained.
    boxes = [view.compare_lists_layout.itemAt(k).widget() for k in range(view.compare_lists_layout.count())]
    for box, name in zip(boxes, table.names):
        text = " ".join(label.text() for label in box.findChildren(type(view.compare_info)))
        assert f"mean novelty <b>{table.mean_novelty[name]:.2f}</b> bits" in text
        assert f"{table.mean_popularity[name]:.1%}" in text and "of users on average" in text
    assert "Novelty = -log2(share of the training data's users" in view.compare_summary.text()
    assert "Overlap" in view.compare_summary.text()


def test_shared_items_are_tinted_and_say_in_how_many_lists(three_runs):
    view, runs = three_runs
    view.show_comparison()
    table = view.comparison
    marked = 0
    for name, widget in zip(table.names, view.compare_tables):
        for r, row in enumerate(table.lists[name]):
            mark = widget.item(r, 3)
            background = widget.item(r, 1).background().color().name()
            if row["shared"]:
                marked += 1
                assert mark.text() == f"\u25cf {row['in_lists']} of 3"
                assert background in ("#fff1c2", "#f9d36b")
            else:
                assert mark.text() == "" and background not in ("#fff1c2", "#f9d36b")
    if marked == 0:  # lists that share nothing: compare a run with itself's neighbour user instead
        pytest.skip("the three lists share no item for this user")


def test_ticking_fewer_runs_and_following_an_item_across_lists(three_runs, qtbot):
    view, runs = three_runs
    view.show_comparison()
    box = view.compare_runs
    box.item(0).setCheckState(Qt.CheckState.Unchecked)  # as a click on the check box does
    assert view.compared_runs() == runs[1:] and len(view.compare_tables) == 2
    assert view.comparison.n_lists == 2
    # A shared item chosen in one list is selected in the other.
    table = view.comparison
    shared = [r for r in table.lists[table.names[0]] if r["shared"]]
    if shared:
        first, second = view.compare_tables
        row = [first.item(r, 1).data(Qt.ItemDataRole.UserRole) for r in range(first.rowCount())].index(shared[0]["item"])
        first.selectRow(row)
        selected = {i.row() for i in second.selectedIndexes()}
        assert [second.item(r, 1).data(Qt.ItemDataRole.UserRole) for r in selected] == [shared[0]["item"]]
    # The next user redraws every list.
    before = view.current_user
    view._step_user(+1)
    assert view.current_user != before and str(view.comparison.user) == str(view.current_user)
    assert view.compare_user_edit.text() == str(view.current_user)
    # One run left ticked: the page asks for another.
    view.set_compared_runs(runs[2:])
    assert "Tick another run" in view.compare_info.text() and len(view.compare_tables) == 1


def test_one_run_only_says_how_to_get_a_comparison(qtbot, window):
    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "sgd", n_factors=8, n_epochs=2)
    view = window.show_view("Recommendations")
    view.show_comparison()
    assert "Fit another model" in view.compare_info.text() and view.compare_tables == []
