"""Spectrum, Matrix and Factor-space views: they draw what the model and the data say.

The real truncated SVD and NMF models (``MODELS["svd"]``, ``MODELS["nmf"]``)
are used when they are registered; until then small stand-ins fitted with
numpy / scikit-learn set the same fitted attributes, so the views are tested
against the contract, not against one implementation.

Set ``MFSTUDIO_VIEWS_PNG=/some/folder`` to also save a PNG of every view.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from mfstudio.models.params import Param
from mfstudio.data.dataset import Dataset  # noqa: E402
from mfstudio.data.samples import movies, topics_corpus  # noqa: E402
from mfstudio.data.splits import random_split  # noqa: E402
from mfstudio.models import MODELS  # noqa: E402
from mfstudio.models.base import FactorModel  # noqa: E402
from mfstudio.project import Run  # noqa: E402

PNG_DIR = os.environ.get("MFSTUDIO_VIEWS_PNG")


# ------------------------------------------------------------------ stand-ins
class StandInSVD(FactorModel):
    """Truncated SVD by numpy, with the fitted attributes the real SVD model exposes.

    Ratings: the mean-filled, mean-centred matrix (missing is not zero);
    other kinds: the matrix with absent entries as zeros. Yields a few
    "iterations" whose extra holds the spectrum so far, like a randomized SVD.
    """

    name = "svd-standin"
    title = "Truncated SVD (stand-in)"
    params_spec = (Param("n_components", "int", 12, "components kept", low=1),
                   Param("n_epochs", "int", 3, "live steps", low=1))
    kinds = ("explicit", "implicit", "documents", "dense", "images")
    task = "rating"

    def _fit_steps(self, train):
        k = int(self.params["n_components"])
        dense = train.to_dense(fill=np.nan).astype(np.float64)
        if train.kind == "explicit":
            self.global_mean_ = float(np.nanmean(dense))
            matrix = np.where(np.isnan(dense), self.global_mean_, dense) - self.global_mean_
        else:
            self.global_mean_ = 0.0
            matrix = np.nan_to_num(dense, nan=0.0)
        u, s, vt = np.linalg.svd(matrix, full_matrices=False)
        k = min(k, s.size)
        total = float((matrix**2).sum()) or 1.0
        n_epochs = int(self.params["n_epochs"])
        for epoch in range(1, n_epochs + 1):
            estimate = s[:k] * (1 - 0.3 ** epoch)  # a converging estimate, for the live display
            self.singular_values_ = s[:k].copy()
            self.explained_variance_ratio_ = s[:k] ** 2 / total
            self.reconstruction_errors_ = np.sqrt(np.maximum(0.0, 1 - np.cumsum(s[:k] ** 2) / total))
            self.user_factors_ = (u[:, :k] * s[:k]).astype(np.float32)
            self.item_factors_ = vt[:k].T.astype(np.float32)
            self.components_ = vt[:k].astype(np.float32)
            yield float(self.reconstruction_errors_[-1]), {"singular_values": estimate}


class StandInNMF(FactorModel):
    """NMF by scikit-learn: W as user (document) factors, H as components and item (term) factors."""

    name = "nmf-standin"
    title = "NMF (stand-in)"
    params_spec = (Param("n_components", "int", 6, "components kept", low=1),
                   Param("n_epochs", "int", 1, "steps", low=1))
    kinds = ("documents", "images", "dense", "implicit")
    task = "reconstruction"

    def _fit_steps(self, train):
        from sklearn.decomposition import NMF

        nmf = NMF(n_components=int(self.params["n_components"]), init="nndsvda", max_iter=400, random_state=0)
        w = nmf.fit_transform(train.to_csr())
        self.user_factors_ = w.astype(np.float32)
        self.components_ = nmf.components_.astype(np.float32)
        self.item_factors_ = self.components_.T.copy()
        yield float(nmf.reconstruction_err_), {}


class FixedFactors(FactorModel):
    """Factors given outright (for synthetic data of any size)."""

    name = "fixed"
    defaults = {}
    kinds = ("explicit", "implicit", "documents", "dense", "images")

    def __init__(self, train, users, items):
        super().__init__()
        self.train_ = train
        self.user_factors_ = users
        self.item_factors_ = items


def _real(name, kind):
    cls = MODELS.get(name)
    return cls if cls is not None and kind in getattr(cls, "kinds", ()) else None


def _make(cls, k, **extra):
    params = {p: k for p in ("n_components", "n_factors", "k", "rank") if p in cls.defaults}
    params.update({p: v for p, v in extra.items() if p in cls.defaults})
    return cls(**params)


def fit_run(dataset, method="svd", k=12, test_fraction=0.2):
    """Split, fit (the real model when registered, else the stand-in), and wrap it as a Run."""
    split = random_split(dataset, test_fraction, seed=0)
    real = _real(method, split.train.kind)
    cls = real or (StandInSVD if method == "svd" else StandInNMF)
    model = _make(cls, k)
    with threadpool_limits(1, user_api="blas"):  # small SVDs crawl with BLAS threads on a busy machine
        model.fit(split.train)
    return Run(name=f"{cls.title or cls.name} #1", model=model, train_index=split.train_index,
               test_index=split.test_index, status="finished")


@pytest.fixture(scope="module")
def small_movies():
    return movies(n_users=250, n_items=400, seed=1)


@pytest.fixture(scope="module")
def movies_run(small_movies):
    return fit_run(small_movies, "svd", k=12)


@pytest.fixture(scope="module")
def corpus():
    return topics_corpus(n_docs=240, seed=2)


@pytest.fixture(scope="module")
def corpus_run(corpus):
    return fit_run(corpus, "nmf", k=6, test_fraction=0.1)


@pytest.fixture
def app(qtbot):
    from mfstudio.gui.app import create_app

    return create_app()  # the app's pyqtgraph options: row-major images, white background


def show(qtbot, widget, name=None):
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(30)
    image = widget.grab()
    assert not image.isNull()
    if PNG_DIR and name:
        Path(PNG_DIR).mkdir(parents=True, exist_ok=True)
        image.save(str(Path(PNG_DIR) / f"{name}.png"))
    return image


# ---------------------------------------------------------------- spectrum
def test_spectrum_bars_are_the_singular_values(qtbot, app, small_movies, movies_run):
    from mfstudio.gui.views.spectrum import SpectrumView

    view = SpectrumView()
    view.set_dataset(small_movies)
    assert not view.applies_to(small_movies, None)
    assert view.applies_to(small_movies, movies_run)
    view.set_run(movies_run)
    model = movies_run.model
    s = np.asarray(model.singular_values_, dtype=float)
    np.testing.assert_allclose(view.bar_heights(), s, rtol=1e-6)
    view.log_check.setChecked(True)
    assert view.sv_plot.getAxis("left").logMode
    np.testing.assert_allclose(view.bar_heights(), s, rtol=1e-6)
    view.log_check.setChecked(False)
    np.testing.assert_allclose(view.bar_heights(), s, rtol=1e-6)

    # Cumulative explained variance and error curves come from the model's arrays.
    _, cumulative = view.cum_curve.getData()
    np.testing.assert_allclose(cumulative, np.cumsum(model.explained_variance_ratio_), rtol=1e-6)
    _, errors = view.err_curve.getData()
    np.testing.assert_allclose(errors, model.reconstruction_errors_, rtol=1e-6)

    # The table: one row per rank.
    table = view.export_table()
    assert table.rowCount() == s.size
    assert [table.horizontalHeaderItem(c).text() for c in range(5)] == [
        "rank", "singular value", "explained", "cumulative", "error"]
    assert float(table.item(2, 1).text()) == pytest.approx(s[2], rel=1e-5)
    assert float(table.item(2, 4).text()) == pytest.approx(model.reconstruction_errors_[2], abs=1e-4)
    show(qtbot, view, "spectrum-movies")


def test_spectrum_rank_marker_reports_error_at_rank(qtbot, app, small_movies, movies_run):
    from mfstudio.gui.views.spectrum import SpectrumView

    view = SpectrumView()
    view.set_dataset(small_movies)
    view.set_run(movies_run)
    show(qtbot, view)
    model = movies_run.model
    errors = np.asarray(model.reconstruction_errors_)
    cumulative = np.cumsum(model.explained_variance_ratio_)
    for r in (1, 4, errors.size):
        view.set_rank(r)
        info = view.rank_info()
        assert info["rank"] == r
        assert info["error"] == pytest.approx(errors[r - 1])
        assert info["cumulative_explained"] == pytest.approx(cumulative[r - 1])
        assert f"rank {r}" in view.marker_text()
        assert f"{errors[r - 1]:.4f}" in view.marker_text()
        assert f"{errors[r - 1]:.4f}" in view.info.text()
    # Dragging: the line moves to a non-integer position; the rank snaps to the nearest.
    view.marker.setValue(6.3)
    assert view.rank == 6
    assert view.cum_marker.value() == pytest.approx(6.3)  # the lower marker follows
    assert f"{errors[5]:.4f}" in view.marker_text()
    view.marker.sigPositionChangeFinished.emit(view.marker)
    assert view.marker.value() == 6
    # Dragging the lower plot's marker moves the upper one too.
    view.cum_marker.setValue(3)
    assert view.rank == 3 and view.marker.value() == 3
    # Selecting a table row picks that rank.
    view.table.selectRow(7)
    assert view.rank == 8


def test_spectrum_live_steps_and_non_svd_runs(qtbot, app, small_movies):
    from mfstudio.gui.views.spectrum import SpectrumView
    from mfstudio.models import Baseline

    view = SpectrumView()
    view.set_dataset(small_movies)
    split = random_split(small_movies, 0.2, seed=0)
    model = StandInSVD(n_components=8, n_epochs=3)
    with threadpool_limits(1, user_api="blas"):
        steps = list(model.iter_fit(split.train))
    for step in steps:
        view.show_step(step)
        np.testing.assert_allclose(view.bar_heights(), step.extra["singular_values"], rtol=1e-6)
        assert "fitting" in view.sv_plot.titleLabel.text
    view.show_step(type(step)(1, 1, 0.0))  # a step without a spectrum changes nothing
    np.testing.assert_allclose(view.bar_heights(), step.extra["singular_values"], rtol=1e-6)

    baseline = Run(name="baseline", model=Baseline().fit(split.train))
    assert not view.applies_to(small_movies, baseline)
    view.set_run(baseline)
    assert view.bar_heights().size == 0
    show(qtbot, view)


# ------------------------------------------------------------------ matrix
def _observed_pairs(dataset):
    return set(zip(dataset.rows.tolist(), dataset.cols.tolist()))


def test_matrix_blank_cells_are_the_unobserved_ones(qtbot, app, small_movies, movies_run):
    from mfstudio.gui.views.matrix import MatrixView

    view = MatrixView()
    view.set_dataset(small_movies)
    assert view.applies_to(small_movies, movies_run)
    view.set_run(movies_run)
    show(qtbot, view, "matrix-movies")
    rows, cols = view.block_rows, view.block_cols
    assert rows.size == 60 and cols.size == 80
    # The block is the most active rows and columns.
    assert small_movies.row_counts()[rows].min() >= np.sort(small_movies.row_counts())[-60]
    assert small_movies.col_counts()[cols].min() >= np.sort(small_movies.col_counts())[-80]

    pairs = _observed_pairs(small_movies)
    observed = np.array([[(r, c) in pairs for c in cols] for r in rows])
    assert 0 < observed.mean() < 1
    np.testing.assert_array_equal(np.isnan(view.original), ~observed)
    # ...and the image drawn is the same array: NaN (transparent, grey background) exactly there.
    np.testing.assert_array_equal(np.isnan(view.images[0].image), ~observed)
    dense = small_movies.to_dense()
    np.testing.assert_allclose(view.original[observed], dense[np.ix_(rows, cols)][observed])

    # Reconstruction = model.predict on the block grid; residual = data - prediction where observed only.
    grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
    predicted = movies_run.model.predict(grid_r.ravel(), grid_c.ravel()).reshape(grid_r.shape)
    np.testing.assert_allclose(view.reconstruction, predicted, rtol=1e-6)
    np.testing.assert_allclose(view.residual[observed], view.original[observed] - predicted[observed], rtol=1e-6)
    assert np.isnan(view.residual[~observed]).all()

    # Axis labels name users and items; the rating scale sets the shared colour levels.
    assert view.plots[0].getAxis("left").labelText == "users"
    assert view.plots[0].getAxis("bottom").labelText == "items"
    assert tuple(view.images[0].levels) == tuple(view.images[1].levels) == (1.0, 5.0)
    lo, hi = view.images[2].levels
    assert lo == pytest.approx(-hi)

    # Hover text: raw ids, title, values, and whether the entry is a test entry.
    i, j = map(int, np.argwhere(observed)[0])
    text = view.cell_text(i, j)
    assert str(small_movies.row_ids[rows[i]]) in text and small_movies.item_titles[cols[j]] in text
    assert f"{view.original[i, j]:.4g}" in text and "residual" in text
    # The mouse over that cell (in the residual panel) shows the same text.
    from PySide6.QtCore import QPointF

    scene_pos = view.plots[2].getViewBox().mapViewToScene(QPointF(j + 0.5, i + 0.5))
    view._on_mouse_moved(scene_pos)
    assert view.hover.text() == text
    i, j = map(int, np.argwhere(~observed)[0])
    assert "not rated" in view.cell_text(i, j)
    test = movies_run.test_index
    test_pairs = set(zip(small_movies.rows[test].tolist(), small_movies.cols[test].tolist()))
    expected_test = np.array([[(r, c) in test_pairs for c in cols] for r in rows])
    np.testing.assert_array_equal(view.in_test, expected_test)

    # A smaller block on request.
    view.rows_spin.setValue(20)
    assert view.block_rows.size == 20 and view.original.shape == (20, 80)
    assert view.export_plot() is view.graphics


def test_matrix_documents_have_no_blank_cells(qtbot, app, corpus, corpus_run):
    from mfstudio.gui.views.matrix import MatrixView

    view = MatrixView()
    view.set_dataset(corpus)
    view.set_run(corpus_run)
    show(qtbot, view, "matrix-topics")
    assert not np.isnan(view.original).any()  # an absent term has weight zero
    assert not np.isnan(view.residual).any()
    np.testing.assert_allclose(view.residual, view.original - view.reconstruction, rtol=1e-5, atol=1e-6)
    assert view.plots[0].getAxis("left").labelText == "documents"
    assert view.plots[0].getAxis("bottom").labelText == "terms"


def test_matrix_does_not_apply_without_factors(app, small_movies):
    from mfstudio.gui.views.matrix import MatrixView
    from mfstudio.models import Baseline

    view = MatrixView()
    view.set_dataset(small_movies)
    run = Run(name="b", model=Baseline().fit(small_movies))
    assert not view.applies_to(small_movies, run)
    view.set_run(run)
    assert view.block_rows is None


# ------------------------------------------------------------- factor space
def test_factor_space_colours_are_rarest_genres(qtbot, app, small_movies, movies_run):
    from mfstudio.gui.views.factor_space import FactorSpaceView

    view = FactorSpaceView()
    view.set_dataset(small_movies)
    assert view.applies_to(small_movies, movies_run)
    view.set_run(movies_run)
    show(qtbot, view, "factor-space-movies")
    n = small_movies.n_cols
    assert view.point_count() == n
    lists = [g.split("|") for g in small_movies.item_genres]
    catalogue = {g: sum(g in entry for entry in lists) for entry in lists for g in entry}
    first = [min(entry, key=lambda g: (catalogue[g], g)) for entry in lists]  # each item's rarest genre
    names = view.category_names
    assert set(names) <= set(first) | {"other"}
    shown = [names[c] for c in view.category_codes]
    assert all(s == f or s == "other" for s, f in zip(shown, first))
    colors = view.point_colors()
    for i in range(n):
        assert colors[i] == pg.mkColor(view.category_colors[view.category_codes[i]]).name()
    # One legend entry per category, with its count.
    assert len(view.legend.items) == len(names)

    # Two chosen factors: positions are the factors themselves (an SVD's item side, V, gets
    # its singular values back: V * s, as LSA draws terms).
    view.set_axes("factors", 2, 3)
    x, y = view.scatter.getData()
    model = movies_run.model
    expected = np.asarray(model.item_factors_) * np.asarray(model.singular_values_, dtype=np.float32)
    np.testing.assert_allclose(x, expected[:, 1], rtol=1e-5)
    np.testing.assert_allclose(y, expected[:, 2], rtol=1e-5)
    assert view.plot.getAxis("bottom").labelText == "factor 2"
    # Users: one point per user, a single colour (users have no genre).
    view.set_side("users")
    assert view.point_count() == small_movies.n_rows
    x, _ = view.scatter.getData()
    np.testing.assert_allclose(x, model.user_factors_[:, 1], rtol=1e-6)
    assert len(set(view.point_colors())) == 1 and not view.legend.isVisible()
    assert view.export_plot() is view.plot
    # Hover names: titles for items.
    view.set_side("items")
    assert small_movies.item_titles[5] in view._tip(0.0, 0.0, 5)


def test_factor_space_documents_by_dominant_component(qtbot, app, corpus, corpus_run):
    from mfstudio.gui.views.factor_space import FactorSpaceView

    view = FactorSpaceView()
    view.set_dataset(corpus)
    view.set_run(corpus_run)
    view.set_side("users")  # documents
    show(qtbot, view, "factor-space-topics")
    assert view.side_combo.currentText() == "documents"
    dominant = np.argmax(corpus_run.model.user_factors_, axis=1)
    names = view.category_names
    assert len(names) == corpus_run.model.user_factors_.shape[1]
    # Each category is one component: points of one category share their dominant component.
    component_of = {name: int(name.split(":")[0]) - 1 for name in names}
    np.testing.assert_array_equal([component_of[names[c]] for c in view.category_codes], dominant)
    view.set_side("items")  # terms
    assert view.point_count() == corpus.n_cols
    assert view.side_combo.currentText() == "terms"


def test_factor_space_colours_documents_by_their_label(qtbot, app, corpus, corpus_run):
    import dataclasses

    from mfstudio.gui.views.factor_space import FactorSpaceView

    truth = corpus.truth
    labels = truth["topic_names"][np.argmax(truth["doc_topics"], axis=1)]
    labelled = dataclasses.replace(corpus, row_labels=labels, row_label_name="category")
    view = FactorSpaceView()
    view.set_dataset(labelled)
    view.set_run(corpus_run)
    view.set_side("users")
    show(qtbot, view, "factor-space-topics-labels")
    names = np.asarray(view.category_names)
    np.testing.assert_array_equal(names[view.category_codes], labels)
    colors = view.point_colors()
    for label in set(labels.tolist()):  # one colour per label, different labels apart
        assert len({c for c, lab in zip(colors, labels) if lab == label}) == 1
    assert len(set(colors)) == len(set(labels.tolist()))
    # The legend names each label with its count.
    legend = [label.text for _, label in view.legend.items]
    for name in names:
        assert f"{name} ({int((labels == name).sum()):,})" in legend
    assert "category" in view.info.text()


def test_factor_space_100k_points(qtbot, app):
    from mfstudio.gui.views.factor_space import FactorSpaceView

    rng = np.random.default_rng(0)
    n_users, n_items, k = 500, 100_000, 16
    rows = rng.integers(0, n_users, 200_000)
    cols = rng.integers(0, n_items, 200_000)
    genres = np.array(["Drama", "Comedy|Drama", "Action|Sci-Fi", "Horror", "Romance|Comedy", "Documentary"])
    dataset = Dataset(kind="implicit", rows=rows, cols=cols, values=np.ones(rows.size),
                      row_ids=np.arange(n_users), col_ids=np.arange(n_items),
                      item_titles=np.array([f"item {i}" for i in range(n_items)]),
                      item_genres=genres[rng.integers(0, genres.size, n_items)], name="synthetic 100k")
    model = FixedFactors(dataset, rng.normal(size=(n_users, k)).astype(np.float32),
                         rng.normal(size=(n_items, k)).astype(np.float32))
    view = FactorSpaceView()
    view.set_dataset(dataset)
    view.set_run(Run(name="big", model=model))
    assert view.point_count() == n_items
    assert view.scatter.opts["pxMode"] and view.scatter.opts["useCache"]
    assert len({id(b) for b in view.scatter.data["brush"]}) == len(view.category_names)  # shared brushes
    show(qtbot, view, "factor-space-100k")
    # Colours follow each item's rarest genre ("Sci-Fi" rather than "Action" for Action|Sci-Fi).
    counts = {g: sum(g in entry.split("|") for entry in genres) for entry in genres for g in entry.split("|")}
    catalogue = {g: int(sum(g in entry.split("|") for entry in dataset.item_genres)) for g in counts}
    rarest = [min(entry.split("|"), key=lambda g: (catalogue[g], g)) for entry in dataset.item_genres]
    names = np.asarray(view.category_names)
    np.testing.assert_array_equal(names[view.category_codes], rarest)


# ------------------------------------------------------------------ export
def test_views_export(qtbot, app, tmp_path, small_movies, movies_run):
    from mfstudio.gui import export
    from mfstudio.gui.views.factor_space import FactorSpaceView
    from mfstudio.gui.views.matrix import MatrixView
    from mfstudio.gui.views.spectrum import SpectrumView

    views = {}
    for cls in (SpectrumView, MatrixView, FactorSpaceView):
        view = views[cls] = cls()
        view.set_dataset(small_movies)
        view.set_run(movies_run)
        show(qtbot, view)
        path = export.export_plot(view.export_plot(), tmp_path / f"{cls.__name__}.png")
        assert path.stat().st_size > 1000
    assert views[MatrixView].export_table() is None and views[FactorSpaceView].export_table() is None
    csv = export.export_table(views[SpectrumView].export_table(), tmp_path / "spectrum.csv")
    lines = csv.read_text().splitlines()
    # The Frobenius-share column is there exactly when the model reports that share.
    header = "rank,singular value,explained,cumulative,error"
    if getattr(movies_run.model, "frobenius_share_", None) is not None:
        header += ",cum. Frobenius share"
    assert lines[0] == header
    assert len(lines) == 1 + len(movies_run.model.singular_values_)
