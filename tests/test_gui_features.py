"""Side features in the window: shown in the data panel, attachable from a file, and the cold-start protocols (issue 14)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from tests.test_layout import load  # noqa: E402


def _enabled_protocols(window) -> set[str]:
    combo = window.model_panel.split_kind
    return {combo.itemData(row) for row in range(combo.count()) if combo.model().item(row).isEnabled()}


def _ratings_file(tmp_path):
    lines = ["user,item,rating"]
    for user in range(1, 31):
        for item in range(1, 21):
            if (user * 7 + item * 3) % 4:
                lines.append(f"{user},{item},{1 + (user + item) % 5}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_data_panel_shows_side_features_and_offers_the_cold_start_protocols(qtbot, window):
    load(qtbot, window, "sample:movies")
    text = window.data_panel.fields["features"].text()
    assert "features" in text and "items" in text and "users" in text, text
    assert {"cold-items", "cold-users"} <= _enabled_protocols(window)
    window.model_panel.set_protocol("cold-items:0.1")
    assert window.model_panel.split_spec() == "cold-items:0.1"
    assert "new items" in window.model_panel.protocol_text.text()
    # A hybrid fit on new items, reference and all, through the window's own path.
    with qtbot.waitSignal(window.fit_finished, timeout=120_000) as blocker:
        window.start_fit("hybrid", {"n_factors": 8, "n_epochs": 3}, "cold-items:0.1", 0)
    qtbot.waitUntil(lambda: window.worker is None, timeout=30_000)
    run = blocker.args[0]
    assert "10% of the items held out" in run.protocol
    assert "rmse" in run.metrics and "rmse" in run.baseline_metrics
    assert "user bias" in run.reference_name or "mean" in run.reference_name


def test_attaching_a_user_feature_file_adds_the_new_users_protocol_and_a_bad_file_changes_nothing(
        qtbot, window, tmp_path, monkeypatch):
    load(qtbot, window, str(_ratings_file(tmp_path)))
    assert window.data_panel.fields["features"].text().startswith("none")
    assert "cold-users" not in _enabled_protocols(window)
    errors = []
    monkeypatch.setattr(window, "show_error", lambda message, details: errors.append(message))

    bad = tmp_path / "users_bad.csv"
    bad.write_bytes(b"\x00\x01\x02 not a table \xff\xfe")
    before = window.dataset
    assert window.attach_features("user", str(bad)) is None
    assert errors and "users_bad.csv" in errors[0], errors
    assert window.dataset is before

    good = tmp_path / "users.csv"
    good.write_text("user,age,occupation\n" + "\n".join(
        f"{u},{'young' if u % 2 else 'old'},{['artist', 'engineer', 'student'][u % 3]}" for u in range(1, 31)) + "\n")
    dataset = window.attach_features("user", str(good))
    assert dataset is window.dataset and dataset.user_features is not None
    assert "30 of 30 users" in window.data_panel.fields["features"].text()
    assert "cold-users" in _enabled_protocols(window)
    assert "Attached 5 features" in window.status_text.text(), window.status_text.text()
