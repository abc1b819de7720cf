"""Digits: NMF's strokes beside SVD's signed eigen-images in the Topics & parts view (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pytest.importorskip("sklearn")

from mfstudio.data.samples import digits  # noqa: E402
from mfstudio.inspect import factors_of  # noqa: E402
from mfstudio.models import MODELS  # noqa: E402
from mfstudio.project import Run  # noqa: E402


@pytest.fixture(scope="module")
def digit_runs():
    data = digits()
    nmf = MODELS["nmf"](n_factors=12, n_epochs=30).fit(data)
    svd = MODELS["svd"](n_factors=10).fit(data)
    runs = [Run(name=f"{m.title} #1", model=m, metrics={}, status="finished") for m in (nmf, svd)]
    return data, runs


@pytest.fixture
def view(qtbot, digit_runs):
    from mfstudio.gui.app import create_app
    from mfstudio.gui.views.topics import TopicsView

    create_app()
    data, runs = digit_runs
    view = TopicsView()
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_dataset(data)
    view.offer_runs(runs)
    view.show_chosen_run()
    return view


def _distinct_colours(widget, item) -> int:
    """How many colours the grabbed widget shows inside an image item (a 2 px margin left out)."""
    view = item.getViewBox()
    rect = view.mapRectToScene(view.mapRectFromItem(item, item.boundingRect()))
    gview = widget
    top_left = gview.mapFromScene(rect.topLeft())
    bottom_right = gview.mapFromScene(rect.bottomRight())
    grab = widget.grab().toImage()
    ratio = grab.devicePixelRatio()
    colours = set()
    for x in range(int(top_left.x() * ratio) + 2, int(bottom_right.x() * ratio) - 2):
        for y in range(int(top_left.y() * ratio) + 2, int(bottom_right.y() * ratio) - 2):
            colours.add(grab.pixel(x, y))
    return len(colours)


def test_svd_parts_use_a_diverging_map_centred_on_zero_and_nmf_parts_ink(view, digit_runs):
    data, (nmf_run, svd_run) = digit_runs
    assert view.run is svd_run and view.mode == "images" and view.parts_signed
    for plot in view.part_plots:
        low, high = plot.items[0].levels
        assert low == pytest.approx(-high)  # white at 0, even for SVD's all-positive first part
    assert "negative" in view.parts_heading.text() and "white = 0" in view.parts_heading.text()
    view.choose_run(nmf_run)
    assert view.run is nmf_run and not view.parts_signed
    assert all(plot.items[0].levels[0] == 0 for plot in view.part_plots)
    assert "darker = more ink" in view.parts_heading.text()


def test_another_runs_parts_go_side_by_side_and_scroll_together(view, digit_runs, qtbot):
    data, (nmf_run, svd_run) = digit_runs
    assert view.compare_candidates() == [nmf_run]
    assert view.compare_combo.isEnabled() and view.compare_combo.count() == 2
    assert "side by side" in view.compare_combo.itemText(1)
    # The user picks NMF in the "Right side" box: its parts replace the one-image breakdown.
    view.compare_combo.setCurrentIndex(1)
    view.compare_combo.activated.emit(1)
    assert view.compared_run is nmf_run and view.right_stack.currentIndex() == 1
    H = factors_of(nmf_run.model)[1]
    assert len(view.compare_items) == H.shape[0] == 12
    np.testing.assert_allclose(view.compare_items[3].image, H[3].reshape(8, 8), rtol=1e-6)
    np.testing.assert_allclose(view.compare_part_image(3), H[3].reshape(8, 8))
    assert all(item.levels[0] == 0 for item in view.compare_items)  # NMF on the right: ink, not signed
    heading = view.compare_heading.text()
    assert "12 parts" in heading and nmf_run.name in heading and svd_run.name in heading and "darker" in heading
    # Both grids keep the same cell size, so the parts compare at the same scale.
    qtbot.wait(50)
    bar = view.stack.widget(2).layout().itemAt(0)
    assert bar.geometry().height() < 60  # the "Right side" bar keeps its height; the parts get the rest
    left, right = view.part_plots[0].getViewBox(), view.compare_plots[0].getViewBox()
    assert abs(left.width() - right.width()) <= 0.25 * left.width()
    assert abs(left.height() - right.height()) <= 0.25 * left.height()  # rows of one height, not stretched
    # One scroll moves both grids.
    bar, other = view.parts_scroll.verticalScrollBar(), view.compare_scroll.verticalScrollBar()
    if bar.maximum() > 0 and other.maximum() > 0:
        bar.setValue(min(bar.maximum(), other.maximum()))
        assert other.value() == bar.value()
    # Back to one image taken apart.
    view.compare_with(None)
    assert view.right_stack.currentIndex() == 0 and view.compare_items == []


def test_pixels_are_scaled_up_as_blocks_not_smoothed(view, digit_runs, qtbot):
    data, (nmf_run, svd_run) = digit_runs
    view.compare_with(nmf_run)
    qtbot.wait(100)
    # An 8x8 image drawn at ~100 px: nearest-neighbour leaves at most 64 colours (smoothing: hundreds).
    for grid, item in ((view.parts_grid, view.part_plots[1].items[0]), (view.compare_grid, view.compare_items[0])):
        count = _distinct_colours(grid, item)
        assert 2 <= count <= 64 + 8, count


def test_the_compare_choice_follows_the_run_box(view, digit_runs):
    data, (nmf_run, svd_run) = digit_runs
    view.compare_with(nmf_run)
    view.choose_run(nmf_run)  # the left side now shows NMF: it cannot also be the right side
    assert view.compared_run is None and view.compare_candidates() == [svd_run]
    assert view.right_stack.currentIndex() == 0
    view.compare_with(svd_run)
    assert view.compared_run is svd_run
    assert all(item.levels[0] == pytest.approx(-item.levels[1]) for item in view.compare_items)
    # A single run: nothing to compare, and the box says how to get something.
    view.offer_runs([svd_run])
    view.show_chosen_run()
    assert not view.compare_combo.isEnabled() and "fit a second model" in view.compare_hint.text()
