"""The random-sweep scatter's log axes get readable decade ticks (inspect.log_ticks, drawn by the Sweep tab)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mfstudio.inspect import log_ticks


def test_decades_are_labelled_plainly_with_unlabelled_minor_ticks_between():
    major, minor = log_ticks(math.log10(6e-5), math.log10(0.2))
    assert [label for _, label in major] == ["0.0001", "0.001", "0.01", "0.1"]
    assert [p for p, _ in major] == pytest.approx([-4, -3, -2, -1])
    assert all(label == "" for _, label in minor)
    assert pytest.approx(math.log10(0.002)) in [p for p, _ in minor]  # the 2..9 multiples, unlabelled


def test_a_range_within_a_decade_still_labels_at_least_two_values():
    two, _ = log_ticks(math.log10(2e-4), math.log10(0.05))
    assert [label for _, label in two] == ["0.0003", "0.001", "0.003", "0.01", "0.03"]
    major, _ = log_ticks(math.log10(0.002), math.log10(0.08))
    assert [label for _, label in major] == ["0.002", "0.005", "0.01", "0.02", "0.05"]
    narrow, _ = log_ticks(math.log10(0.012), math.log10(0.03))
    assert len(narrow) >= 2 and "0.02" in [label for _, label in narrow]


def test_many_decades_are_thinned_and_never_crowd():
    major, minor = log_ticks(-12.0, 3.0, max_labels=7)
    assert len(major) <= 8 and [label for _, label in major][-1] == "1000"
    assert all(p == int(p) for p, _ in minor)  # no 2..9 multiples over fifteen decades
    assert log_ticks(float("nan"), 1.0) == ([], [])


def test_the_sweep_scatter_uses_them(qtbot):
    pytest.importorskip("pytestqt")
    from mfstudio.data.samples import movies
    from mfstudio.gui.app import create_app
    from mfstudio.gui.views.sweep import SweepView
    from mfstudio.sweep import Axis, Sweep, SweepPoint

    create_app()
    data = movies(n_users=60, n_items=40, seed=1)
    view = SweepView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.set_dataset(data)
    sweep = Sweep(data, "sgd", [Axis("lr", None, 1e-4, 0.1, log=True), Axis("reg", None, 0.001, 1.0, log=True)],
                  protocol="random:0.2", trials=6)
    view.sweep, view.points = sweep, []
    rng = np.random.default_rng(0)
    for i, (lr, reg) in enumerate([(2e-4, 0.002), (0.003, 0.03), (0.05, 0.5), (0.01, 0.1)]):
        mean = float(rng.uniform(0.9, 1.1))
        view._on_point(SweepPoint(i, {"lr": lr, "reg": reg}, "rmse", [mean], mean, 0.0, None, None, 1.0, "done"))
    bottom, left = view.plot.getAxis("bottom"), view.plot.getAxis("left")
    # 2e-4 .. 0.05: two whole decades inside, so the 3 multiples are labelled too.
    labels = [label for _, label in bottom._tickLevels[0]]
    assert labels == ["0.0003", "0.001", "0.003", "0.01", "0.03"]
    assert [label for _, label in left._tickLevels[0]] == ["0.003", "0.01", "0.03", "0.1", "0.3"]
    assert "(log scale)" in bottom.labelText and "(log scale)" in left.labelText
    assert not view.plot.getPlotItem().ctrl.logXCheck.isChecked()  # positions are log10 already: no second log
