"""The new-user page asks for the onboarding's suggested items first and shows how unsure each prediction is (issue 14)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from mfstudio.onboarding import suggest_items  # noqa: E402
from tests.test_layout import fit, load  # noqa: E402


def test_suggested_items_come_first_with_reasons_and_the_spread_shrinks_as_the_person_rates(qtbot, window):
    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "sgd", n_factors=8, n_epochs=5)
    view = window.show_view("Recommendations")
    view.tabs.setCurrentIndex(1)
    table = view.rate_table
    expected = suggest_items(run.model, n=12)
    listed = [table.item(row, 0).data(Qt.ItemDataRole.UserRole) for row in range(12)]
    assert listed == [row.item for row in expected]
    assert table.item(0, 4).text() == "#1" and "popular" in table.item(0, 4).toolTip()
    assert not table.isColumnHidden(4)

    spreads = []
    for count in range(1, 6):
        first_unrated = next(row for row in range(table.rowCount())
                             if table.item(row, 0).data(Qt.ItemDataRole.UserRole) not in view.new_ratings)
        table.cellWidget(first_unrated, 3).setCurrentText("4" if count % 2 else "2")
        qtbot.waitUntil(lambda: len(view.new_ratings) == count, timeout=5_000)
        qtbot.wait(50)  # the suggestions are chosen again once the rating's signal has returned
        recs = view.new_recs_table
        assert not recs.isColumnHidden(3)
        values = [recs.item(r, 3).data(Qt.ItemDataRole.UserRole + 1) for r in range(recs.rowCount())]
        spreads.append(sum(values) / len(values))
    assert spreads[-1] < spreads[0], spreads
    # After the ratings, the next suggestion accounts for them: it is not one of the rated items.
    first_suggested = next(row for row in range(table.rowCount()) if table.item(row, 4).text() == "#1")
    assert table.item(first_suggested, 0).data(Qt.ItemDataRole.UserRole) not in view.new_ratings


def test_ranking_models_keep_the_most_rated_list_without_reasons(qtbot, window):
    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "bpr", n_factors=8, n_epochs=2)
    view = window.show_view("Recommendations")
    view.tabs.setCurrentIndex(1)
    assert view.rate_table.isColumnHidden(4)


def test_the_page_says_after_how_many_ratings_personal_factors_beat_the_average_viewer(qtbot, window):
    from mfstudio.onboarding import ratings_to_beat_baseline

    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "sgd", n_factors=8, n_epochs=5)
    view = window.show_view("Recommendations")
    view.tabs.setCurrentIndex(1)
    label = view.onboarding_label
    assert label.isVisible()
    qtbot.waitUntil(lambda: "Simulating" not in label.text() and bool(label.text()), timeout=60_000)
    # The same simulation the core runs on the run's held-out people, in the same words.
    curve = ratings_to_beat_baseline(run.model, test=run.experiment.splits[0].test, random_draws=1, max_users=100)
    assert label.text() == curve.sentence()
    # A per-user split: these people's other ratings were in training, and the sentence says so.
    assert curve.n_seen_in_training == curve.n_users > 0
    assert "also had ratings in the training data" in label.text()


def test_the_newcomer_simulation_is_not_offered_for_ranking_models(qtbot, window):
    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "bpr", n_factors=8, n_epochs=2)
    view = window.show_view("Recommendations")
    view.tabs.setCurrentIndex(1)
    assert not view.onboarding_label.isVisible() and view.onboarding_label.text() == ""
