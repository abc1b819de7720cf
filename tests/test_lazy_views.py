"""Result views are built when their tab is first shown, and show what a view built at start would show."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from mfstudio.gui.main_window import ViewPage  # noqa: E402

LAZY = {"Spectrum", "Topics & parts", "Recommendations", "Factor space", "Matrix", "Sweep"}


@pytest.fixture
def second_window(window_factory):
    return window_factory("other.ini")


def load(qtbot, window, path="sample:movies"):
    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        window.open_path(path)


def fit(qtbot, window, name, **params):
    panel = window.model_panel
    panel.select_method(name)
    for key, value in params.items():
        panel.set_param(key, value)
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        panel.run_button.click()
    return blocker.args[0]


def built(window) -> set:
    return {page.title for page in window.pages if page.built_view is not None}


def tab_states(window) -> list:
    return [window.tabs.isTabEnabled(index) for index in range(window.tabs.count())]


def shown(view) -> dict:
    """What a result view shows, as text and numbers (compared between two windows)."""
    state = {"offered": [run.name for run in view.offered_runs()] if view.shows_one_run else None,
             "chosen": getattr(view.chosen_run(), "name", None) if view.shows_one_run else None,
             "drawn": getattr(view.run, "name", None)}
    if view.title == "Spectrum":
        state["bars"] = [round(float(h), 6) for h in view.bar_heights()]
    elif view.title == "Matrix":
        state["cells"] = [view.cell_text(i, j) for i in range(3) for j in range(3)]
    elif view.title == "Factor space":
        state["points"] = (view.point_count(), view.point_colors()[:20])
    elif view.title == "Recommendations":
        table = view.recs_table
        state["recs"] = [[table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
                         for r in range(table.rowCount())]
        state["user"] = view.current_user
    elif view.title == "Sweep":
        state["method"] = view.method_label.text()
    elif view.title == "Metrics":
        state["rows"] = [view.cell(view.row_of(run), "rmse") for run in view.runs]
    return state


def test_a_new_window_opens_on_training_and_builds_only_the_training_and_metrics_views(qtbot, window):
    assert window.tabs.currentIndex() == 0  # not the last tab, where Qt's greying of every tab left it
    assert built(window) == {"Training", "Metrics"}
    load(qtbot, window)
    assert window.tabs.currentIndex() == 0 and built(window) == {"Training", "Metrics"}
    assert all(isinstance(page, ViewPage) for page in window.pages)
    assert [window.tabs.tabText(i).replace("&&", "&") for i in range(window.tabs.count())] == \
           [page.title for page in window.pages]


def test_showing_a_tab_builds_its_view_and_views_lists_them_all(qtbot, window):
    load(qtbot, window)
    window.tabs.setCurrentIndex(window.pages.index(window._page("Sweep")))
    assert "Sweep" in built(window) and "Matrix" not in built(window)
    assert window.tabs.currentWidget() is window._page("Sweep").built_view
    views = window.views  # asking for every view builds them all, in tab order
    assert built(window) == {page.title for page in window.pages}
    assert [view.title for view in views] == [page.title for page in window.pages]
    assert all(window.tabs.indexOf(view) == index for index, view in enumerate(views))
    assert window.sweep_view is views[-1] and window.spectrum is views[1]


def test_a_view_built_after_the_fits_shows_what_a_view_that_saw_them_shows(qtbot, window, second_window):
    eager, lazy = window, second_window
    eager.views  # every view exists before the data and the fits: what the window did before views were lazy
    for win in (eager, lazy):
        load(qtbot, win)
    assert tab_states(eager) == tab_states(lazy)
    runs = {}
    for win in (eager, lazy):
        runs[win] = [fit(qtbot, win, "svd", n_factors=8), fit(qtbot, win, "sgd", n_epochs=3)]
    # The fits ended with these result tabs unopened (the Spectrum draws an SVD live, so it is built
    # during that fit).
    assert not built(lazy) & {"Matrix", "Factor space", "Recommendations", "Topics & parts", "Sweep"}
    assert tab_states(eager) == tab_states(lazy)
    assert [run.name for run in runs[eager]] == [run.name for run in runs[lazy]]
    for index, page in enumerate(lazy.pages):
        if not lazy.tabs.isTabEnabled(index):
            continue
        assert shown(eager.show_view(page.title)) == shown(lazy.show_view(page.title)), page.title
    # The first run chosen in a tab that had only the latest run chosen: the same in both.
    for win in (eager, lazy):
        win.select_run(runs[win][0])
    assert shown(eager.show_view("Matrix")) == shown(lazy.show_view("Matrix"))
    assert shown(eager.show_view("Spectrum")) == shown(lazy.show_view("Spectrum"))
    for win in (eager, lazy):  # the Recommendations tab's newcomer simulation must not outlive its window
        task = getattr(win._page("Recommendations").built_view, "_onboarding_task", None)
        if task is not None:
            qtbot.waitUntil(task.thread.isFinished, timeout=120_000)
            qtbot.wait(50)


def test_new_data_resets_a_view_not_built_yet(qtbot, window):
    load(qtbot, window)
    run = fit(qtbot, window, "svd", n_factors=4)
    assert window._page("Spectrum").chosen_run() is run
    load(qtbot, window, "sample:movies")
    assert window._page("Spectrum").chosen_run() is None
    assert window.spectrum.offered_runs() == [] and window.spectrum.run is None
