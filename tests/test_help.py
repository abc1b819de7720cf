"""Help that teaches: per-view reading guides, the bundled user guide, keyboard shortcuts, honest summaries."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QTextBrowser, QWidget  # noqa: E402

from mfstudio.models import MODELS  # noqa: E402


@pytest.fixture
def window(window, qtbot):
    """The shared window (tests/conftest.py), exposed and active so shortcuts reach it."""
    qtbot.waitExposed(window)
    window.activateWindow()
    yield window
    for dialog in window.findChildren(QTextBrowser):
        dialog.window().close()


def _load_movies(qtbot, window):
    with qtbot.waitSignal(window.dataset_loaded, timeout=60_000):
        window.open_path("sample:movies")


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def _menu_actions(window, menu_title: str) -> dict:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == menu_title)
    return {a.text().replace("&&", "\0").replace("&", "").replace("\0", "&"): a for a in menu.actions()}


# ------------------------------------------------------------ reading guides
def test_every_result_view_has_a_reading_guide_with_the_three_parts(window):
    from mfstudio.gui.help import VIEW_HELP

    titles = [view.title for view in window.views]
    assert set(titles) <= set(VIEW_HELP), set(titles) - set(VIEW_HELP)
    for title in titles:
        text = _plain(VIEW_HELP[title])
        for part in ("What you see.", "A good result.", "Pitfall."):
            assert part in text, (title, part)
        # short enough to read beside the view: a paragraph each, not a manual
        assert 60 < len(text.split()) < 200, (title, len(text.split()))


def test_the_views_button_opens_its_own_guide(window, qtbot):
    for index, view in enumerate(window.views):
        window.tabs.setTabEnabled(index, True)  # no data yet: the result tabs start greyed
        window.tabs.setCurrentWidget(view)
        QApplication.processEvents()  # the layout settles on the next turn of the event loop
        button = view.help_button
        assert button.isVisible(), view.title
        # inside the view, in its top-right corner, above the view's own widgets
        geometry = button.geometry()
        assert view.rect().contains(geometry), (view.title, geometry, view.rect())
        assert geometry.right() > view.width() * 0.6
        # in a strip of its own: it hides none of the view's widgets
        for child in view.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if child is not button and child.isVisible():
                assert not child.geometry().intersects(geometry), (view.title, type(child).__name__)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        dialog = view._help_dialog
        assert dialog is not None and dialog.isVisible()
        assert view.title in dialog.windowTitle()
        assert "Pitfall" in dialog.browser.toPlainText()
        # a second click brings the same window forward rather than stacking copies
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert view._help_dialog is dialog
        dialog.close()


def test_help_menu_offers_each_view_and_f1_acts_on_the_current_tab(window, qtbot):
    actions = _menu_actions(window, "Help")
    read_menu = actions["How to read..."].menu()
    listed = [a.text().replace("&&", "&") for a in read_menu.actions()]
    assert listed == [view.title for view in window.views]

    metrics = window.views.index(window.metrics_view)
    window.tabs.setTabEnabled(metrics, True)
    window.tabs.setCurrentIndex(metrics)
    assert window.help_view_action.shortcut().matches(Qt.Key.Key_F1)
    qtbot.keyClick(window.tabs, Qt.Key.Key_F1)
    dialog = window.metrics_view._help_dialog
    assert dialog is not None and dialog.windowTitle() == "How to read Metrics"

    # the submenu opens the guide of a tab that is not the current one
    spectrum_action = next(a for a in read_menu.actions() if a.text() == "Spectrum")
    spectrum_action.trigger()
    assert window.spectrum._help_dialog.windowTitle() == "How to read Spectrum"


# --------------------------------------------------------------- user guide
def test_user_guide_is_bundled_and_covers_data_protocols_metrics_views_and_cli(window):
    from mfstudio.experiment import PROTOCOL_FORMS
    from mfstudio.gui.help import GUIDE_PATH

    assert GUIDE_PATH.is_file()
    actions = _menu_actions(window, "Help")
    actions["User guide"].trigger()
    dialog = window._guide_dialog
    assert isinstance(dialog.browser, QTextBrowser) and dialog.isVisible()
    text = dialog.browser.toPlainText()
    for heading in ("Loading data", "Protocols", "Metrics", "The views", "Command line", "Keyboard shortcuts"):
        assert heading in text, heading
    for spec in PROTOCOL_FORMS:  # every protocol the app offers is explained
        assert spec in text, spec
    for view in window.views:
        assert view.title in text, view.title
    for command in ("mfstudio fit", "mfstudio recommend", "mfstudio info"):
        assert command in text, command
    # one guide window: asking again brings it forward
    actions["User guide"].trigger()
    assert window._guide_dialog is dialog


def test_packaging_ships_the_guide():
    from pathlib import Path

    spec = (Path(__file__).resolve().parents[1] / "packaging" / "mfstudio.spec").read_text()
    assert 'includes=["gui/resources/*"]' in spec
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert re.search(r'"mfstudio\.gui"\s*=\s*\[\s*"resources/\*"', pyproject)


# ----------------------------------------------------------------- shortcuts
def test_shortcuts_are_listed_in_the_menus(window):
    run = _menu_actions(window, "Run")
    view = _menu_actions(window, "View")
    file_ = _menu_actions(window, "File")
    assert run["Run"].shortcut().toString() == "Ctrl+R"
    assert [s.toString() for s in run["Cancel"].shortcuts()] == ["Esc", "Ctrl+."]
    assert "Ctrl+PgDown" in [s.toString() for s in view["Next tab"].shortcuts()]
    assert "Ctrl+PgUp" in [s.toString() for s in view["Previous tab"].shortcuts()]
    assert file_["Open..."].shortcut().toString() == "Ctrl+O"


def test_ctrl_r_runs_the_chosen_method_and_esc_cancels_it(window, qtbot):
    _load_movies(qtbot, window)
    panel = window.model_panel
    panel.select_method("sgd")
    panel.set_param("n_epochs", 2)
    assert not window.cancel_action.isEnabled()  # nothing to cancel yet: Esc stays free for the widgets
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        assert window.worker is not None  # the key started a fit at once
        assert not window.run_action.isEnabled() and window.cancel_action.isEnabled()
    run = blocker.args[0]
    assert run.model.name == "sgd" and run.status == "finished" and len(window.runs) == 1
    assert window.run_action.isEnabled() and not window.cancel_action.isEnabled()

    panel.set_param("n_epochs", 500)  # long enough that it cannot end before the key
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: bool(window.runs[-1].history), timeout=60_000)
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    cancelled = blocker.args[0]
    assert cancelled is window.runs[-1] and cancelled.status == "cancelled"
    assert len(cancelled.history) < 500


def test_ctrl_pgdown_and_pgup_step_through_enabled_tabs(window, qtbot):
    _load_movies(qtbot, window)
    window.model_panel.select_method("baseline")
    with qtbot.waitSignal(window.fit_finished, timeout=120_000):
        window.model_panel.run_button.click()  # a finished run enables the result tabs
    enabled = [i for i in range(window.tabs.count()) if window.tabs.isTabEnabled(i)]
    assert len(enabled) >= 2
    window.tabs.setCurrentIndex(enabled[0])
    qtbot.keyClick(window, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == enabled[1]
    qtbot.keyClick(window, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == enabled[0]
    # wraps round, and skips the greyed tabs
    qtbot.keyClick(window, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == enabled[-1]
    assert window.tabs.isTabEnabled(window.tabs.currentIndex())


# ------------------------------------------------------------ method summaries
def test_summaries_are_short_and_say_where_each_method_falls_short():
    weakness = re.compile(r"\b(overfit\w*|cannot|not immune|worse|predicts no|slower|harder|rarely beats|"
                          r"needs|change with)\b", re.I)
    for name, cls in MODELS.items():
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", cls.summary.strip()) if s]
        assert 1 <= len(sentences) <= 2, (name, sentences)
        assert len(cls.summary) <= 320, (name, len(cls.summary))
        assert weakness.search(cls.summary), f"{name}'s summary names no limitation: {cls.summary}"


def test_bayesian_mf_no_longer_claims_it_rarely_overfits():
    summary = MODELS["bpmf"].summary.lower()
    assert "rarely overfits" not in summary
    assert "baseline" in summary  # says what a user saw: it can end above the baseline


def test_the_model_panel_shows_the_honest_summary(window):
    panel = window.model_panel
    for name in ("bpmf", "svd"):
        if name in [panel.method.itemData(i) for i in range(panel.method.count())]:
            panel.select_method(name)
            assert panel.explanation.text() == MODELS[name].summary
    QApplication.processEvents()
