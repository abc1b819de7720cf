"""Topics & parts, Recommendations and Metrics views, driven with real fits on the samples.

NMF comes from ``MODELS["nmf"]`` when it is registered; until then a small
stand-in fitted with scikit-learn sets the same attributes (``user_factors_``
= W, ``item_factors_`` = H^T, ``components_`` = H, ``train_``). The rating
views use Baseline and a stand-in factor model (baseline biases plus a
truncated SVD of the residuals), so similar items and fold-in have factors.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from mfstudio.models.params import Param
from mfstudio.data.samples import bars, movies, topics_corpus  # noqa: E402
from mfstudio.models import MODELS, Baseline, FactorModel  # noqa: E402
from mfstudio.project import Run  # noqa: E402
from mfstudio.recommend import known_ratings, recommendations_for, recommendations_for_new_user  # noqa: E402


# ------------------------------------------------------------------ stand-ins
class NMFStandIn(FactorModel):
    """scikit-learn NMF wearing the mfstudio model protocol (until MODELS['nmf'] exists)."""

    name = "nmf-standin"
    title = "NMF (stand-in)"
    kinds = ("documents", "images", "dense")
    task = "reconstruction"
    params_spec = (Param("n_components", "int", 6, "components kept", low=1),
                   Param("max_iter", "int", 400, "iterations", low=1),
                   Param("seed", "int", 0, "seed", low=0))

    def _fit_steps(self, train):
        from sklearn.decomposition import NMF

        X = train.to_csr() if train.kind == "documents" else train.to_dense(fill=0.0)
        nmf = NMF(n_components=int(self.params["n_components"]), init="nndsvda",
                  max_iter=int(self.params["max_iter"]), random_state=int(self.params["seed"]))
        W = nmf.fit_transform(X)
        H = nmf.components_
        self.user_factors_ = W.astype(np.float32)
        self.components_ = H.astype(np.float32)
        self.item_factors_ = self.components_.T.copy()
        yield float(nmf.reconstruction_err_), {}


class SVDStandIn(FactorModel):
    """Baseline biases plus a truncated SVD of the zero-filled residuals: a quick rating factor model."""

    name = "svd-standin"
    title = "Biases + SVD (stand-in)"
    kinds = ("explicit",)
    params_spec = (Param("n_factors", "int", 10, "factors", low=1),)

    def _fit_steps(self, train):
        import scipy.sparse as sp
        from scipy.sparse.linalg import svds

        base = Baseline().fit(train)
        self.global_mean_ = base.global_mean_
        self.user_bias_ = base.user_bias_
        self.item_bias_ = base.item_bias_
        residual = train.values - base.predict(train.rows, train.cols)
        R = sp.csr_matrix((residual, (train.rows, train.cols)), shape=train.shape)
        k = int(self.params["n_factors"])
        U, s, Vt = svds(R, k=k, v0=np.ones(min(train.shape)))
        order = np.argsort(-s)
        P, Q = U[:, order] * np.sqrt(s[order]), Vt[order].T * np.sqrt(s[order])
        # Zero-filled residuals shrink the fit; one scalar, fitted on the observed entries, undoes it.
        pq = np.einsum("ij,ij->i", P[train.rows], Q[train.cols])
        gain = np.sqrt(max(float(pq @ residual) / max(float(pq @ pq), 1e-12), 1e-6))
        self.user_factors_ = (P * gain).astype(np.float32)
        self.item_factors_ = (Q * gain).astype(np.float32)
        residual = residual - gain**2 * pq
        yield float(np.mean(residual**2)), {}


def fit_nmf(data, k: int):
    """The project's NMF when it is registered, else the stand-in."""
    from mfstudio.gui.views.topics import factors_of

    cls = MODELS.get("nmf")
    if cls is not None:
        params = {key: k for key in ("n_components", "n_factors", "k", "rank") if key in cls.defaults}
        if params:
            model = cls(**params).fit(data)
            factors = factors_of(model)
            if factors is not None and factors[0].shape[1] == k:
                return model
    return NMFStandIn(n_components=k).fit(data)


def finished_run(model, name: str | None = None, **kw) -> Run:
    metrics = dict(model.history_[-1].metrics) if model.history_ else {}
    return Run(name=name or model.title, model=model, metrics=metrics, status="finished", **kw)


@pytest.fixture
def app(qtbot):
    from mfstudio.gui.app import create_app

    return create_app()  # white plots, imageAxisOrder='row-major', as in the app


def shown(qtbot, view):
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


# --------------------------------------------------------------------- topics
@pytest.fixture(scope="module")
def topics_fit():
    data = topics_corpus()
    return data, fit_nmf(data, 6)


def test_topic_cards_show_the_components_top_words_and_a_click_lists_documents(qtbot, app, topics_fit):
    from mfstudio.gui.views.topics import TopicsView

    data, model = topics_fit
    view = shown(qtbot, TopicsView())
    view.set_dataset(data)
    run = finished_run(model)
    assert view.applies_to(data, run)
    view.set_run(run)
    H = np.asarray(model.components_ if hasattr(model, "components_") else model.item_factors_.T)
    W = np.asarray(model.user_factors_)
    assert len(view.cards) == 6
    n = view.n_words.value()
    for t in range(6):
        expected = [str(data.col_ids[j]) for j in np.argsort(-H[t], kind="stable")[:n]]
        assert view.card_words(t) == expected
    # The cards' "leads x% of docs" add up to the documents that have any weight.
    assert view.lead_shares().sum() == pytest.approx((np.abs(W).sum(axis=1) > 0).mean())

    # A real click on the fourth card lists that topic's documents, heaviest first.
    card = view.cards[3]
    qtbot.wait(50)
    point = view.card_grid.mapFromScene(card.sceneBoundingRect().center())
    with qtbot.waitSignal(view.topic_selected, timeout=2000) as blocker:
        qtbot.mouseClick(view.card_grid.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [3]
    assert view.current_topic == 3
    rows = view.document_rows()
    weights = [w for _, w in rows]
    assert len(rows) > 10 and weights == sorted(weights, reverse=True)
    assert rows[0][0] == str(data.row_ids[int(np.argmax(W[:, 3]))])
    assert weights[0] == pytest.approx(float(W[:, 3].max()), rel=1e-5)
    text = view.docs_table.item(0, 4).text()
    assert 0 < len(text) <= 121 and data.texts[int(np.argmax(W[:, 3]))].startswith(text.rstrip("…")[:50])

    # The topic list does the same; the words table exports one row per (topic, word).
    view.topic_combo.setCurrentIndex(1)
    assert view.current_topic == 1
    assert view.document_rows()[0][0] == str(data.row_ids[int(np.argmax(W[:, 1]))])
    assert view.export_table().rowCount() == 6 * n
    assert view.export_plot() is view.card_grid


def test_topic_documents_show_their_label_and_the_heading_the_agreement(qtbot, app, topics_fit):
    import dataclasses

    from mfstudio.gui.views.topics import LABEL_COLUMN, TopicsView
    from mfstudio.inspect import topic_label_agreement

    data, model = topics_fit
    truth = data.truth
    labels = truth["topic_names"][np.argmax(truth["doc_topics"], axis=1)]
    labelled = dataclasses.replace(data, row_labels=labels, row_label_name="category")
    view = shown(qtbot, TopicsView())
    view.set_dataset(labelled)
    view.set_run(finished_run(model))
    view.select_topic(2)
    ids = [doc for doc, _ in view.document_rows()]
    label_of = dict(zip(data.row_ids.tolist(), labels.tolist()))
    assert view.document_labels() == [label_of[doc] for doc in ids]
    assert not view.docs_table.isColumnHidden(LABEL_COLUMN)
    assert view.docs_table.horizontalHeaderItem(LABEL_COLUMN).text() == "category"
    assert view.docs_table.horizontalHeader().visualIndex(LABEL_COLUMN) == 2  # beside the document id
    expected = topic_label_agreement(model.user_factors_, labels)
    assert view.agreement.nmi == pytest.approx(expected.nmi)
    assert f"NMI {expected.nmi:.2f}" in view.doc_heading.text() and "category" in view.doc_heading.text()
    # Each card names its topic's majority label.
    assert expected.majority_labels[2] in view.cards[2].titleLabel.text

    # The same corpus without labels: no label column, no agreement.
    view.set_dataset(data)
    view.set_run(finished_run(model))
    assert view.agreement is None and view.docs_table.isColumnHidden(LABEL_COLUMN)
    assert "NMI" not in view.doc_heading.text()


def test_topics_view_stays_off_for_ratings_and_unfitted_runs(qtbot, app):
    from mfstudio.gui.views.topics import TopicsView

    view = shown(qtbot, TopicsView())
    ratings = movies(n_users=60, n_items=80)
    base = Baseline().fit(ratings)
    assert not view.applies_to(ratings, finished_run(base))
    assert not view.applies_to(topics_corpus(n_docs=50), Run(name="new", model=NMFStandIn()))
    view.set_dataset(ratings)
    view.set_run(finished_run(base))
    assert view.mode is None and view.export_plot() is None and view.export_table() is None


def test_image_parts_show_components_reconstruction_and_the_strongest_parts(qtbot, app):
    from mfstudio.gui.views.topics import TopicsView

    data = bars()
    model = fit_nmf(data, 16)
    view = shown(qtbot, TopicsView())
    view.set_dataset(data)
    view.set_run(finished_run(model))
    assert view.mode == "images"
    assert len(view.part_plots) == 16
    H = np.asarray(model.components_ if hasattr(model, "components_") else model.item_factors_.T)
    W = np.asarray(model.user_factors_)
    np.testing.assert_allclose(view.part_plots[5].items[0].image, H[5].reshape(8, 8), rtol=1e-6)

    view.image_spin.setValue(8)  # the 8th image
    i = 7
    assert view.current_image == i
    original = data.to_dense(fill=0)[i].reshape(8, 8)
    np.testing.assert_allclose(view.original_item.image, original)
    np.testing.assert_allclose(view.reconstruction_item.image, (W[i] @ H).reshape(8, 8), rtol=1e-4, atol=1e-5)
    # The strongest parts are the bars the image is made of.
    strong = [t for t, _ in view.strongest_parts(i)]
    on = np.flatnonzero(data.truth["activations"][i])
    truth = data.truth["components"]
    for t in strong[: on.size]:
        best_bar = int(np.argmax(truth @ H[t]))
        assert best_bar in on
    assert view.export_plot() is view.parts_grid


# -------------------------------------------------------------- recommendations
@pytest.fixture(scope="module")
def movie_fit():
    data = movies()
    return data, SVDStandIn(n_factors=10).fit(data)


def rec_titles(view):
    table = view.recs_table
    return [table.item(r, 1).text() for r in range(table.rowCount())]


def test_recommendations_for_a_chosen_user_match_the_core_and_exclude_seen_toggles(qtbot, app, movie_fit):
    from mfstudio.gui.views.recommendations import RecommendationsView

    data, model = movie_fit
    view = shown(qtbot, RecommendationsView())
    view.set_dataset(data)
    run = finished_run(model)
    assert view.applies_to(data, run)
    view.set_run(run)
    # Find a user whose unfiltered top-10 holds something they rated.
    user = next(u for u in data.row_ids[:200].tolist()
                if {r["item"] for r in recommendations_for(model, u, 10, exclude_seen=False)}
                & {r["item"] for r in known_ratings(model, u)})
    view.user_edit.setText(str(user))
    view.user_edit.returnPressed.emit()
    assert view.current_user == user
    view.n_spin.setValue(7)
    assert rec_titles(view) == [r["title"] for r in recommendations_for(model, user, 7)]
    assert len(rec_titles(view)) == 7
    known = known_ratings(model, user)
    assert view.known_table.rowCount() == len(known)
    assert view.known_table.item(0, 0).text() == known[0]["title"]
    seen_titles = {r["title"] for r in known}
    assert not seen_titles & set(rec_titles(view))

    view.n_spin.setValue(10)
    view.exclude_seen.setChecked(False)
    titles = rec_titles(view)
    assert titles == [r["title"] for r in recommendations_for(model, user, 10, exclude_seen=False)]
    assert seen_titles & set(titles)
    view.exclude_seen.setChecked(True)
    assert not seen_titles & set(rec_titles(view))

    # Selecting a recommended item lists items similar to it.
    view.recs_table.selectRow(0)
    assert view.similar_table.rowCount() == 10
    assert rec_titles(view)[0] in view.similar_label.text()
    assert view.export_table() is view.recs_table

    # An unknown user is explained, not raised.
    view.user_edit.setText("no-such-user")
    view.user_edit.returnPressed.emit()
    assert "no-such-user" in view.user_info.text()


def test_new_user_mode_folds_in_three_ratings_and_excludes_them(qtbot, app, movie_fit):
    from mfstudio.gui.views.recommendations import RecommendationsView

    data, model = movie_fit
    view = shown(qtbot, RecommendationsView())
    view.set_dataset(data)
    view.set_run(finished_run(model))
    view.tabs.setCurrentIndex(1)
    assert view.new_recs_table.rowCount() == 0
    rated = {}
    for row, value in ((0, "5"), (2, "5"), (4, "1")):
        combo = view.rate_table.cellWidget(row, 3)
        combo.setCurrentText(value)
        rated[view.rate_table.item(row, 0).data(Qt.ItemDataRole.UserRole)] = float(value)
    assert view.new_ratings == rated
    n = view.n_spin.value()
    table = view.new_recs_table
    titles = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert titles == [r["title"] for r in recommendations_for_new_user(model, rated, n)]
    assert len(titles) == n
    rated_titles = set(data.title_of(data.col_of(list(rated))))
    assert not rated_titles & set(titles)
    # Searching keeps the ratings; clearing empties the list.
    view.search_edit.setText("kingdom")
    assert view.new_ratings == rated
    assert all("kingdom" in view.rate_table.item(r, 0).text().lower() or
               view.rate_table.item(r, 0).data(Qt.ItemDataRole.UserRole) in rated
               for r in range(view.rate_table.rowCount()))
    view.clear_button.click()
    assert view.new_ratings == {} and view.new_recs_table.rowCount() == 0


def test_recommendations_work_with_the_baseline_and_say_similar_items_need_factors(qtbot, app):
    from mfstudio.gui.views.recommendations import RecommendationsView

    data = movies(n_users=120, n_items=200)
    model = Baseline().fit(data)
    view = shown(qtbot, RecommendationsView())
    view.set_dataset(data)
    view.set_run(finished_run(model))
    assert view.current_user == data.row_ids[0]
    assert rec_titles(view) == [r["title"] for r in recommendations_for(model, data.row_ids[0], 10)]
    view.recs_table.selectRow(0)
    assert view.similar_table.rowCount() == 0
    assert "factor" in view.similar_label.text()
    assert not view.applies_to(topics_corpus(n_docs=40), finished_run(model))


# ---------------------------------------------------------------------- metrics
def test_metrics_table_has_one_row_per_run_with_the_right_numbers(qtbot, app):
    from mfstudio.data.splits import random_split
    from mfstudio.gui.views.metrics_table import MetricsView

    data = movies(n_users=150, n_items=200)
    split = random_split(data, 0.2, seed=0)
    runs = []
    for model in (Baseline(n_epochs=3), SVDStandIn(n_factors=5)):
        model.fit(split.train, split.test)
        runs.append(Run(name=f"{model.name} #1", model=model, split_description=split.report(),
                        metrics=model.score(split.test), status="finished"))
    base = Baseline(n_epochs=3).fit(split.train).score(split.test)
    for run in runs:
        run.baseline_metrics = base
    view = shown(qtbot, MetricsView())
    view.set_dataset(data)
    view.set_runs(runs)
    assert view.table.rowCount() == 2
    headers = view.headers()
    for run in runs:
        row = view.row_of(run)
        assert view.cell(row, "run") == run.name
        assert view.cell(row, "model") == run.model.title
        assert float(view.cell(row, "rmse")) == pytest.approx(run.metrics["rmse"], abs=5e-5)
        assert float(view.cell(row, "mae")) == pytest.approx(run.metrics["mae"], abs=5e-5)
        assert float(view.cell(row, "baseline")) == pytest.approx(base["rmse"], abs=5e-5)
        gain = (base["rmse"] - run.metrics["rmse"]) / base["rmse"]
        expected = "same" if abs(gain) < 0.0005 else f"{abs(gain):.1%} {'better' if gain > 0 else 'worse'}"
        assert view.cell(row, "vs baseline") == expected
        assert view.cell(row, "status") == "finished"
        assert view.cell(row, "fit time").endswith("s")
    assert headers.index("rmse") < headers.index("mae")

    # set_run highlights; a new run (say, from a ranking model) adds its columns.
    view.set_run(runs[1])
    assert view.table.currentRow() == view.row_of(runs[1])
    extra = Run(name="ranked", model=Baseline(), metrics={"precision@10": 0.25, "ndcg@10": 0.31}, status="cancelled")
    view.set_runs(runs + [extra])
    assert view.table.rowCount() == 3
    assert float(view.cell(view.row_of(extra), "precision@10")) == pytest.approx(0.25)
    assert view.cell(view.row_of(extra), "rmse") == ""
    assert view.export_table() is view.table
