"""The window fits the screen from 1280 x 720 up and its state follows the data and the runs."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QSplitter, QTabWidget, QWidget  # noqa: E402

SCREENS = [(1280, 720), (1920, 1080)]


def load(qtbot, window, spec):
    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        window.open_path(spec)
    return window.dataset


def fit(qtbot, window, name, **params):
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        window.start_fit(name, params, None, 0)
    qtbot.waitUntil(lambda: window.worker is None, timeout=30_000)
    return blocker.args[0]


def _is_scrolled_content(widget: QWidget) -> bool:
    """Whether the widget is what a scroll area (or table) scrolls: it may be larger than what shows.

    Only that widget: what it holds must still lie inside it.
    """
    parent = widget.parentWidget()
    grand = parent.parentWidget() if parent is not None else None
    return isinstance(grand, QAbstractScrollArea) and parent is grand.viewport()


def overflowing_widgets(root: QWidget) -> list[str]:
    """Visible widgets under ``root`` that reach past their parent's rectangle (scrolled contents excepted)."""
    found = []
    for child in root.findChildren(QWidget):
        if not child.isVisible() or child.isWindow():
            continue
        parent = child.parentWidget()
        if parent is None or _is_scrolled_content(child):
            continue
        if isinstance(parent, QTabWidget) and child in (parent.cornerWidget(Qt.Corner.TopRightCorner),
                                                        parent.cornerWidget(Qt.Corner.TopLeftCorner)):
            continue  # the style sets a corner widget one pixel into the frame line, by design
        if not parent.rect().contains(child.geometry()):
            found.append(f"{type(child).__name__} {child.objectName() or ''} {child.geometry().getRect()} "
                         f"in {type(parent).__name__} {parent.rect().getRect()}")
    return found + clipped_plots(root)


def clipped_plots(root: QWidget) -> list[str]:
    """Visible plot canvases whose contents need more room than the canvas has.

    A pyqtgraph canvas never grows for its contents: what does not fit is cut
    off at its edge (the Matrix residual at 1280 x 720 was), which the widget
    tree cannot show. Its central layout's minimum size can.
    """
    import pyqtgraph as pg

    found = []
    for canvas in root.findChildren(pg.GraphicsView):
        central = getattr(canvas, "centralWidget", None)
        if not canvas.isVisible() or central is None:
            continue
        need = central.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        have = canvas.viewport().size()
        if need.width() > have.width() + 1 or need.height() > have.height() + 1:
            found.append(f"{type(canvas).__name__} needs {need.width():.0f}x{need.height():.0f}, "
                         f"has {have.width()}x{have.height()}")
    return found


#: Views another change owns, whose overflow is reported (as a warning) rather than failed here.
#: Factor space's plot needs ~670 px at 1280 x 720 where ~626 are left (issue 10, reported).
REPORTED_ELSEWHERE: set = set()


def check_every_enabled_tab(window, shown: set):
    for width, height in SCREENS:
        window.resize(width, height)
        QApplication.processEvents()
        for index, view in enumerate(window.views):
            if not window.tabs.isTabEnabled(index):
                continue
            window.show_view(view.title)
            for _ in range(3):  # layouts settle over a few passes of the event loop
                QApplication.processEvents()
            assert (window.width(), window.height()) == (width, height), f"{view.title} resized the window"
            problems = overflowing_widgets(window)
            if problems and view.title in REPORTED_ELSEWHERE:
                warnings.warn(f"{view.title} at {width}x{height}: " + "; ".join(problems[:8]), stacklevel=1)
                problems = [p for p in problems if " needs " not in p]  # its widget tree must still fit
            assert not problems, f"{view.title} at {width}x{height}: " + "; ".join(problems[:8])
            shown.add(view.title)


def test_every_tab_fits_the_window_at_both_sizes_after_real_fits(qtbot, window):
    shown: set = set()
    load(qtbot, window, "sample:movies")
    for name, params in [("sgd", {"n_epochs": 5}), ("svd", {"n_factors": 10})]:
        run = fit(qtbot, window, name, **params)
        window.select_run(run)
        check_every_enabled_tab(window, shown)
    load(qtbot, window, "sample:topics")
    run = fit(qtbot, window, "nmf", n_factors=5, n_epochs=20)
    window.select_run(run)
    check_every_enabled_tab(window, shown)
    assert shown == {view.title for view in window.views}


def test_run_history_shows_at_least_four_rows_at_1280x720_and_can_be_dragged_taller(qtbot, window):
    from mfstudio.gui.views.training import HISTORY_MIN_ROWS

    window.resize(1280, 720)
    window.show_view("Training")
    QApplication.processEvents()
    table = window.training.table
    splitter = window.training.history_splitter
    assert HISTORY_MIN_ROWS >= 4
    assert table.viewport().height() >= HISTORY_MIN_ROWS * table.verticalHeader().defaultSectionSize()
    assert window.training.history_panel.parentWidget() is splitter and not splitter.childrenCollapsible()
    before = table.height()
    upper, lower = splitter.sizes()
    splitter.setSizes([upper - 100, lower + 100])
    QApplication.processEvents()
    assert table.height() >= before + 90


def test_window_title_names_the_data_once(qtbot, window):
    load(qtbot, window, "sample:movies")
    assert window.windowTitle() == "mfstudio — Movies (sample)"
    # Qt appends an application display name to every window title: none may be set, or the
    # title bar reads "mfstudio — Movies (sample) — mfstudio". Unset, it follows the application name.
    app = QApplication.instance()
    name = app.applicationName()
    try:
        app.setApplicationName("mfstudio-probe")
        assert app.applicationDisplayName() == "mfstudio-probe"
    finally:
        app.setApplicationName(name)


def test_error_messages_keep_the_case_of_a_leading_file_name(write):
    from mfstudio.data import open_data
    from mfstudio.data.errors import DataError
    from mfstudio.gui.worker import user_message

    path = write("bad_rating.csv", "user,item,rating\n1,10,5\n1,11,abc\n")
    try:
        open_data(str(path))
    except DataError as exc:
        text, _ = user_message(exc)
    else:
        pytest.fail("a rating 'abc' loaded")
    assert text.startswith("bad_rating.csv")
    assert user_message(DataError("the folder holds no readable files"))[0].startswith("The folder")
    assert user_message(DataError("no ratings", path="data/Ratings.CSV"))[0].startswith("Ratings.CSV")


def test_status_bar_time_is_the_metrics_tables_training_time(qtbot, window):
    from mfstudio.gui.views.metrics_table import fit_seconds, seconds_text

    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "sgd", n_epochs=3)
    status = window.status_text.text()
    training = seconds_text(fit_seconds(run))
    assert f"in {training} training" in status, status
    table = window.metrics_view.table
    headers = window.metrics_view.headers()
    row = next(r for r in range(table.rowCount()) if table.item(r, headers.index("run")).text() == run.name)
    assert table.item(row, headers.index("fit time")).text() == training
    # The wall clock (split, reference model, scoring) is longer; shown, it is called "total".
    assert "total" in window.finished_status(run, False, fit_seconds(run) + 40.0)
    assert "total" not in window.finished_status(run, False, fit_seconds(run))


def test_loading_new_data_resets_every_view_and_the_status_bar(qtbot, window):
    load(qtbot, window, "sample:movies")
    run = fit(qtbot, window, "sgd", n_epochs=3)
    old_label = window.training.error_axis_label()
    assert old_label  # a metric was drawn
    window._on_steps(run, run.history[-1:])  # the status bar shows an epoch count, as during a fit
    assert "epoch" in window.epoch_text.text()
    load(qtbot, window, "sample:topics")
    assert window.epoch_text.text() == ""
    assert window.training.error_axis_label() in ("", None) or window.training.error_axis_label() != old_label
    assert window.training.table.rowCount() == 0
    assert window.metrics_view.table.rowCount() == 0
    for view in window.views:
        assert view.dataset is window.dataset and view.run is None, view.title
    assert window.windowTitle() == f"mfstudio — {window.dataset.name}"


def test_metric_chooser_shows_the_whole_metric_name_after_the_first_fit(qtbot, window):
    load(qtbot, window, "sample:topics")
    window.resize(1280, 720)
    fit(qtbot, window, "nmf", n_factors=5, n_epochs=5)
    window.show_view("Training")
    QApplication.processEvents()
    combo = window.training.metric_combo
    text_width = combo.fontMetrics().horizontalAdvance(combo.currentText())
    assert combo.currentText() and combo.width() > text_width + 20  # text plus the arrow
