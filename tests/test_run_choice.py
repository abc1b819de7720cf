"""Each result tab chooses its own run; the run history filters; times agree everywhere (issue 10)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.test_layout import fit, load, overflowing_widgets  # noqa: E402


def _tab_enabled(window, title):
    view = next(v for v in window.views if v.title == title)
    return window.tabs.isTabEnabled(window.tabs.indexOf(view))


def test_spectrum_shows_the_latest_svd_after_an_sgd_run_without_touching_the_history(qtbot, window):
    load(qtbot, window, "sample:movies")
    svd = fit(qtbot, window, "svd", n_factors=8)
    sgd = fit(qtbot, window, "sgd", n_factors=8, n_epochs=3)
    assert window.current_run is sgd  # the history focuses the newest run...
    spectrum = window.show_view("Spectrum")  # ...yet Spectrum is enabled and draws the SVD
    assert _tab_enabled(window, "Spectrum")
    assert spectrum.offered_runs() == [svd]
    assert spectrum.run is svd
    assert "Truncated SVD #1" in spectrum.sv_plot.titleLabel.text
    recommendations = window.show_view("Recommendations")
    assert recommendations.offered_runs() == [svd, sgd]
    assert recommendations.chosen_run() is sgd and recommendations.model is sgd.model
    # The user picks the SVD in this tab's own box: only this tab changes.
    recommendations.run_combo.setCurrentIndex(0)
    recommendations.run_combo.activated.emit(0)
    assert recommendations.model is svd.model
    assert window.show_view("Factor space").chosen_run() is sgd
    assert window.current_run is sgd


def test_a_new_run_replaces_the_choice_only_in_the_tabs_that_can_draw_it(qtbot, window):
    load(qtbot, window, "sample:movies")
    first = fit(qtbot, window, "svd", n_factors=5)
    second = fit(qtbot, window, "bpr", n_factors=8, n_epochs=2)
    spectrum = next(v for v in window.views if v.title == "Spectrum")
    assert spectrum.chosen_run() is first  # BPR has no spectrum: Spectrum keeps the SVD
    matrix = window.show_view("Matrix")
    assert matrix.chosen_run() is second
    # Clicking a row in the Training history chooses that run wherever it can be drawn.
    window.training.table.selectRow(0)
    assert window.current_run is first
    assert matrix.chosen_run() is first and window.current_view().run is first


def test_new_data_empties_every_run_box_and_disables_the_run_tabs(qtbot, window):
    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "svd", n_factors=5)
    load(qtbot, window, "sample:topics")
    for view in window.views:
        if view.shows_one_run:
            assert view.offered_runs() == [] and view.run_combo.count() == 0, view.title
            assert not _tab_enabled(window, view.title), view.title


def test_the_run_history_filters_rows_and_curves_and_the_legend_toggles(qtbot, window):
    load(qtbot, window, "sample:movies")
    sgd = fit(qtbot, window, "sgd", n_factors=5, n_epochs=3)
    bpr = fit(qtbot, window, "bpr", n_factors=5, n_epochs=3)
    training = window.show_view("Training")
    training.set_filter("bpr")
    assert training.table.isRowHidden(0) and not training.table.isRowHidden(1)
    assert not training.is_drawn(sgd) and training.is_drawn(bpr)
    assert training.legend_names() == [bpr.name]
    assert training._curves[sgd].objective.isVisible() is False
    assert "1 of 2 runs hidden" in training.filter_note.text()
    training.set_filter("")
    assert training.legend_names() == [sgd.name, bpr.name]
    assert not training.table.isRowHidden(0)
    training.legend_check.setChecked(False)
    assert not training.legend.isVisible()
    training.legend_check.setChecked(True)
    assert training.legend.isVisible()


def test_training_time_is_the_same_number_in_the_history_the_metrics_table_and_the_status_bar(qtbot, window):
    from mfstudio.gui.views.base import fit_seconds, seconds_text
    from mfstudio.gui.views.training import HISTORY_COLUMNS

    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "sgd", n_factors=5, n_epochs=4)
    text = seconds_text(fit_seconds(run))
    assert window.training.table.item(0, HISTORY_COLUMNS.index("time")).text() == text
    assert f"in {text} training" in window.status_text.text()
    metrics = window.show_view("Metrics")
    header = [metrics.table.horizontalHeaderItem(c).text() for c in range(metrics.table.columnCount())]
    column = next(c for c, name in enumerate(header) if "time" in name)
    cells = [metrics.table.item(r, column).text() for r in range(metrics.table.rowCount())]
    assert any(cell.startswith(text.split()[0]) for cell in cells), (text, cells)
    assert f"after {len(run.history)} epochs" in window.status_text.text()


def test_recommendation_titles_are_readable_at_1280x720(qtbot, window):
    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "sgd", n_factors=5, n_epochs=3)
    window.resize(1280, 720)
    view = window.show_view("Recommendations")
    QApplication.processEvents()
    view.show_user(view._users[0])
    QApplication.processEvents()
    for table in (view.known_table, view.recs_table):
        header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
        title = header.index("title")
        # Enough for about a dozen characters of a title, not "T…".
        assert table.columnWidth(title) >= 100, (header, [table.columnWidth(c) for c in range(table.columnCount())])
    assert overflowing_widgets(view) == []


def test_a_recommended_item_is_explained_by_entries_that_add_up_to_its_score(qtbot, window):
    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "als", n_factors=8, n_epochs=4)
    view = window.show_view("Recommendations")
    assert view.chosen_run() is run
    view.show_user(view._users[0])
    QApplication.processEvents()
    assert "select a recommended" in view.why_label.text()
    view.recs_table.selectRow(0)
    QApplication.processEvents()
    explanation = view.explanation
    assert explanation is not None and explanation.exact  # ALS: the least-squares solve
    listed = float(view.recs_table.item(0, 2).text())
    assert abs(explanation.score - listed) < 5e-3  # the score the list shows, to its 3 decimals
    added = [float(view.why_table.item(r, 2).text()) for r in range(view.why_table.rowCount())]
    assert abs(sum(added) - explanation.score) < 5e-3 * len(added)
    assert "least-squares" in view.why_label.text() and "pushed up most by" in view.why_label.toolTip()
    # Choosing an item the user rated explains nothing: it was not recommended.
    view.known_table.selectRow(0)
    QApplication.processEvents()
    assert view.explanation is None and view.why_table.rowCount() == 0
