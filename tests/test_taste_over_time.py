"""A user's predicted taste over time (issue 14): computed in the core, drawn in the Recommendations tab."""

from __future__ import annotations

import numpy as np
import pytest

from mfstudio.inspect import taste_over_time
from mfstudio.models import MODELS
from mfstudio.models.timesvdpp import TimeSVDpp
from tests.test_timesvdpp import N_DRIFTING, drifting


@pytest.fixture(scope="module")
def fitted():
    data, _base, slope = drifting()
    return data, slope, TimeSVDpp(n_bins=10, reg_time=1.0, seed=0).fit(data)


def test_predictions_over_time_follow_the_planted_rise_and_fall(fitted):
    data, slope, model = fitted
    taste = taste_over_time(model, 5, np.arange(data.n_cols), n_points=30)
    assert taste.predictions.shape == (data.n_cols, 30) and taste.times.size == 30
    assert np.all(np.diff(taste.times) > 0)
    change = taste.predictions[:, -1] - taste.predictions[:, 0]
    # Planted: item biases rise (items 0-19) or fall (20-39) by 2 stars over the year, the rest are steady. The
    # time-bin biases are shrunk (reg_time), so the learned moves are smaller (~0.85) but unmistakable.
    assert change[:N_DRIFTING].min() > 0.5 and change[N_DRIFTING:2 * N_DRIFTING].max() < -0.5, change
    assert np.abs(change[2 * N_DRIFTING:]).max() < 0.25
    # The user's own ratings come along, at their own times, for the dots.
    mine = data.rows == 5
    assert taste.rated_times.size == int(mine.sum())
    np.testing.assert_array_equal(np.sort(taste.rated_times), np.sort(data.timestamps[mine].astype(float)))
    # Their level is the mean plus their bias (and drift), finite everywhere.
    assert np.isfinite(taste.level).all()


def test_models_without_time_have_no_curve(fitted):
    data, _slope, _model = fitted
    assert taste_over_time(MODELS["sgd"](n_epochs=2).fit(data), 0, [0]) is None


def test_the_over_time_page_draws_the_top_items_for_a_time_aware_run_only(qtbot, window):
    pytest.importorskip("PySide6")
    from tests.test_layout import fit, load

    load(qtbot, window, "sample:movies")
    fit(qtbot, window, "sgd", n_factors=8, n_epochs=2)
    view = window.show_view("Recommendations")  # a tab draws its chosen run when shown
    assert view.model is not None and not view.tabs.isTabEnabled(3)
    fit(qtbot, window, "timesvdpp", n_factors=8, n_epochs=3)
    view = window.show_view("Recommendations")
    assert view.tabs.isTabEnabled(3)
    view.tabs.setCurrentIndex(3)
    curves = [item for item in view.time_plot.listDataItems()]
    # Five recommended items, the user's level, and their ratings as dots.
    assert len(curves) == 7
    assert "over time" in view.time_label.text()
    first = curves[0].getData()
    assert first[0].size == 60 and np.isfinite(first[1]).all()
