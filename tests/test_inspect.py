"""What the views show, computed without Qt (mfstudio.inspect), checked on data with a known answer."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from mfstudio import inspect as mi
from mfstudio.data.dataset import Dataset
from mfstudio.data.samples import bars, movies, topics_corpus


class Factors:
    """A fitted factor model reduced to what the inspect functions read."""

    def __init__(self, users, items, **attrs):
        self.user_factors_ = np.asarray(users)
        self.item_factors_ = np.asarray(items)
        for name, value in attrs.items():
            setattr(self, name, value)

    def predict(self, rows, cols):
        return np.einsum("ij,ij->i", self.user_factors_[rows], self.item_factors_[cols])


def test_inspect_imports_without_qt():
    code = ("import sys, mfstudio.inspect;"
            "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken6')));"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -------------------------------------------------------- topic vs label
def _one_hot(codes, k, rng=None):
    W = np.zeros((codes.size, k))
    W[np.arange(codes.size), codes] = 1.0
    if rng is not None:  # some weight on the other topics too, still strongest on ``codes``
        W += 0.4 * rng.random(W.shape)
    return W


def test_agreement_is_perfect_when_strongest_topics_partition_like_the_labels():
    rng = np.random.default_rng(0)
    names = np.array(["finance", "music", "space", "sport"])
    label_code = rng.integers(0, 4, 400)
    # Topic numbers are an arbitrary permutation of the labels: agreement must not care.
    topic_of_label = np.array([2, 0, 3, 1])
    agreement = mi.topic_label_agreement(_one_hot(topic_of_label[label_code], 4, rng), names[label_code])
    assert agreement.nmi == pytest.approx(1.0)
    assert agreement.purity == pytest.approx(1.0)
    assert agreement.labels == tuple(names)
    assert agreement.n_documents == 400 and agreement.n_unassigned == 0
    # The contingency table has one non-zero cell per topic, in the permuted place.
    for label, topic in enumerate(topic_of_label):
        assert agreement.contingency[topic, label] == (label_code == label).sum()
        assert agreement.majority_labels[topic] == names[label]
        assert agreement.majority_share(topic) == 1.0
    assert agreement.contingency.sum() == 400


def test_agreement_is_near_zero_for_random_topics():
    rng = np.random.default_rng(1)
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, 3000)]
    agreement = mi.topic_label_agreement(rng.random((3000, 5)), labels)
    assert agreement.nmi < 0.01
    # Purity of unrelated topics is about the largest label's share (1/3 here), far from 1.
    assert agreement.purity < 0.4
    assert agreement.contingency.shape == (5, 3)


def test_agreement_purity_counts_each_topics_majority_and_skips_empty_documents():
    labels = np.array(["x", "x", "y", "y", "y", "x", "z"])
    topics = np.array([0, 0, 0, 1, 1, 1, 0])
    W = _one_hot(topics, 3)
    W[6] = 0.0  # an empty document: no strongest topic
    agreement = mi.topic_label_agreement(W, labels)
    # Topic 0 leads x, x, y (majority x: 2); topic 1 leads y, y, x (majority y: 2); 4 of 6 agree.
    assert agreement.purity == pytest.approx(4 / 6)
    assert agreement.n_documents == 6 and agreement.n_unassigned == 1
    assert agreement.labels == ("x", "y")  # "z" belonged only to the empty document
    np.testing.assert_array_equal(agreement.contingency, [[2, 1], [1, 2], [0, 0]])
    assert agreement.majority_labels == ("x", "y", "")
    with pytest.raises(ValueError, match="one label per document"):
        mi.topic_label_agreement(W, labels[:-1])


@pytest.fixture(scope="module")
def labelled_topics():
    """sample:topics with its dominant true topic as a "category" column, and an NMF fit."""
    from sklearn.decomposition import NMF

    data = topics_corpus(n_docs=300, seed=3)
    truth = data.truth
    labels = truth["topic_names"][np.argmax(truth["doc_topics"], axis=1)]
    data = dataclasses.replace(data, row_labels=labels, row_label_name="category")
    nmf = NMF(n_components=6, init="nndsvda", max_iter=400, random_state=0)
    W = nmf.fit_transform(data.to_csr())
    return data, Factors(W, nmf.components_.T, components_=nmf.components_)


def test_nmf_topics_agree_with_planted_categories(labelled_topics):
    data, model = labelled_topics
    agreement = mi.topic_label_agreement(model.user_factors_, data.row_labels)
    # Documents are mixtures (Dirichlet 0.1), so not every one is pure, but the topics are found.
    assert agreement.nmi > 0.7 and agreement.purity > 0.8
    assert set(agreement.majority_labels) == set(data.truth["topic_names"])


def test_topic_summary_words_come_from_one_planted_topic_each(labelled_topics):
    data, model = labelled_topics
    W, H = mi.factors_of(model)
    summary = mi.topic_summary(W, H, data.col_ids, n_words=6)
    assert summary.n_components == 6 and summary.weights.shape == (6, 6)
    assert (np.diff(summary.weights, axis=1) <= 0).all()  # heaviest first
    word_sets = [set(words) for words in data.truth["topic_words"]]
    matched = set()
    for words in summary.words:
        owners = [t for t, s in enumerate(word_sets) if set(words) <= s]
        assert len(owners) == 1, words
        matched.add(owners[0])
    assert len(matched) == 6  # each planted topic found once
    assert summary.top(0, 2) == [(summary.words[0][0], summary.weights[0, 0]),
                                 (summary.words[0][1], summary.weights[0, 1])]


def test_lead_shares_and_topic_documents():
    W = np.array([[0.9, 0.1], [0.2, 0.6], [0.0, 0.0], [0.5, 0.4], [0.0, 0.3]])
    np.testing.assert_allclose(mi.lead_shares(W), [2 / 5, 2 / 5])  # the empty row leads nothing
    docs = mi.topic_documents(W, 1, limit=3)
    np.testing.assert_array_equal(docs.rows, [1, 3, 4])  # 0.6, 0.4, 0.3: the 0.1 of row 0 is cut by the limit
    np.testing.assert_allclose(docs.shares, [0.6 / 0.8, 0.4 / 0.9, 1.0])
    assert docs.n_using == 4  # rows with any positive weight for topic 1
    assert mi.topic_documents(W, 0).rows.tolist() == [0, 3, 1]  # zero weights are not listed


# ----------------------------------------------------------------- images
def test_image_breakdown_with_the_true_parts_is_exact():
    data = bars()
    H = np.asarray(data.truth["components"], dtype=np.float64)
    W = np.asarray(data.truth["activations"], dtype=np.float64)
    csr = data.to_csr()
    i = int(np.argmax((W > 0).sum(axis=1)))  # an image made of several bars
    parts = mi.image_breakdown(csr[i], W, H, i, data.image_shape, n_parts=4)
    np.testing.assert_allclose(parts.reconstruction, parts.original, atol=1e-5)
    assert parts.relative_error < 1e-5
    on = set(np.flatnonzero(W[i]).tolist())
    assert set(parts.parts) <= on and len(parts.parts) == min(4, len(on))
    assert parts.level_top == pytest.approx(parts.original.max())
    # A part is "at full strength" when weight x its brightest pixel = 1.
    for t, strength in zip(parts.parts, parts.strengths):
        assert strength == pytest.approx(W[i, t] * np.abs(H[t]).max())


def test_strongest_parts_rank_by_contribution_and_drop_tiny_ones():
    H = np.array([[1.0, 0.0], [0.0, 10.0], [1.0, 1.0]])
    # Part 1 has a small weight but a large norm: it contributes most.
    assert mi.strongest_parts([1.0, 0.5, 0.01], H, n=3) == [(1, 0.5), (0, 1.0)]


def test_display_levels_are_symmetric_for_signed_images():
    assert mi.display_levels(np.array([[-1.0, 3.0]])) == (-3.0, 3.0, True)
    assert mi.display_levels(np.array([[0.0, 2.0]])) == (0.0, 2.0, False)
    assert mi.display_levels(np.zeros((2, 2))) == (0.0, 1.0, False)


# ---------------------------------------------------- reconstruction blocks
def test_reconstruction_block_on_ratings_leaves_unknown_cells_blank():
    data = movies(n_users=80, n_items=120, seed=4)
    rng = np.random.default_rng(0)
    model = Factors(rng.random((80, 3)) + 0.5, rng.random((120, 3)) + 0.5)
    test_index = np.arange(0, data.nnz, 5)
    block = mi.reconstruction_block(data, model, max_rows=20, max_cols=30, test_index=test_index)
    assert block.rows.size == 20 and block.cols.size == 30
    assert data.row_counts()[block.rows].min() >= np.sort(data.row_counts())[-20]
    dense = data.to_dense()[np.ix_(block.rows, block.cols)]
    np.testing.assert_array_equal(np.isnan(block.original), np.isnan(dense))
    np.testing.assert_array_equal(block.observed, ~np.isnan(dense))
    expected = model.user_factors_[block.rows] @ model.item_factors_[block.cols].T
    np.testing.assert_allclose(block.reconstruction, expected)
    np.testing.assert_allclose(block.residual[block.observed], (dense - expected)[block.observed])
    assert np.isnan(block.residual[~block.observed]).all()
    held = set(zip(data.rows[test_index].tolist(), data.cols[test_index].tolist()))
    np.testing.assert_array_equal(block.in_test, [[(r, c) in held for c in block.cols] for r in block.rows])
    assert block.data_levels == data.rating_scale
    assert -block.residual_levels[0] == block.residual_levels[1] > 0
    # Positive factors: grouped by dominant component, each group's strongest first.
    assert block.ordering == "grouped by their dominant component"
    dominant = np.argmax(model.user_factors_[block.rows], axis=1)
    assert (np.diff(dominant) >= 0).all()


def test_reconstruction_block_on_documents_counts_every_cell():
    data = topics_corpus(n_docs=60, seed=5)
    rng = np.random.default_rng(1)
    model = Factors(rng.normal(size=(data.n_rows, 2)), rng.normal(size=(data.n_cols, 2)))
    block = mi.reconstruction_block(data, model, 15, 25)
    assert not np.isnan(block.original).any() and not np.isnan(block.residual).any()
    np.testing.assert_allclose(block.residual, block.original - block.reconstruction)
    assert block.ordering == "ordered by the model's leading pattern"


def test_leading_orders_bring_planted_blocks_together():
    rng = np.random.default_rng(2)
    group_r, group_c = rng.permutation(np.repeat([0, 1], 10)), rng.permutation(np.repeat([0, 1], 12))
    block = (group_r[:, None] == group_c[None, :]).astype(float) + 0.01 * rng.random((20, 24))
    row_order, col_order = mi.leading_orders(block)
    # After ordering, each group is one contiguous run (a single change of group).
    assert np.count_nonzero(np.diff(group_r[row_order])) == 1
    assert np.count_nonzero(np.diff(group_c[col_order])) == 1
    # A constant block has no pattern: identity order.
    rows, cols = mi.leading_orders(np.ones((3, 4)))
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [0, 1, 2, 3]


def test_component_order_groups_by_dominant_component_strongest_first():
    factors = np.array([[0.1, 0.9], [0.8, 0.1], [0.2, 0.5], [0.95, 0.0]])
    assert mi.component_order(factors).tolist() == [3, 1, 0, 2]


# -------------------------------------------------------------- factor maps
def test_principal_components_match_scikit_learn_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    coords, shares = mi.principal_components(x)
    pca = PCA(n_components=2).fit(x)
    reference = pca.transform(x)
    for d in range(2):  # equal up to the sign of each axis
        sign = np.sign(coords[:, d] @ reference[:, d])
        np.testing.assert_allclose(coords[:, d], sign * reference[:, d], atol=1e-8)
    np.testing.assert_allclose(shares, pca.explained_variance_ratio_, rtol=1e-8)


def test_factor_map_colours_documents_by_label_when_there_are_labels(labelled_topics):
    data, model = labelled_topics
    fmap = mi.factor_map(data, model, side="users")
    assert fmap.colour_meaning == "the document's category"
    names = np.asarray(fmap.category_names)
    np.testing.assert_array_equal(names[fmap.category_codes], data.row_labels)
    assert fmap.category_counts.sum() == data.n_rows
    assert (np.diff(fmap.category_counts) <= 0).all()  # legend: largest first
    np.testing.assert_array_equal(fmap.point_names, data.row_ids.astype(str))
    # Without labels, documents are coloured by their dominant component, as before.
    plain = mi.factor_map(dataclasses.replace(data, row_labels=None, row_label_name=None), model, side="users")
    assert plain.colour_meaning == "the component that dominates each vector"
    np.testing.assert_array_equal(plain.category_codes, np.argmax(model.user_factors_, axis=1))
    # Terms keep the component colours either way (labels belong to documents).
    assert mi.factor_map(data, model, side="items").colour_meaning == "the component that dominates each vector"


def test_factor_map_two_factors_and_svd_weighting():
    data = movies(n_users=50, n_items=70, seed=6)
    rng = np.random.default_rng(4)
    s = np.array([5.0, 2.0, 1.0])
    model = Factors(rng.normal(size=(50, 3)), rng.normal(size=(70, 3)), singular_values_=s)
    fmap = mi.factor_map(data, model, side="items", mode="factors", x=2, y=0)
    np.testing.assert_allclose(fmap.coords, model.item_factors_[:, [2, 0]] * s[[2, 0]])
    assert fmap.axis_labels == ("factor 3", "factor 1")
    assert "singular values" in fmap.projection
    first = np.array([g.split("|")[0] or "(no genre)" for g in data.item_genres])
    names = np.asarray(fmap.category_names)
    shown = names[fmap.category_codes]
    assert ((shown == first) | (shown == "other")).all()
    users = mi.factor_map(data, model, side="users", mode="factors", x=0, y=1)
    np.testing.assert_allclose(users.coords, model.user_factors_[:, :2])  # rows are not reweighted
    assert users.category_names == ("users",)


def test_limit_categories_folds_the_rare_ones_into_other():
    codes = np.repeat(np.arange(15), np.arange(15, 0, -1))  # category 0 most frequent
    names, new = mi.limit_categories([f"c{i}" for i in range(15)], codes, max_categories=4)
    assert names == ["c0", "c1", "c2", "c3", "other"]
    np.testing.assert_array_equal(np.asarray(names)[new][codes < 4], np.asarray([f"c{c}" for c in codes[codes < 4]]))
    assert (new[codes >= 4] == 4).all()


# ---------------------------------------------------------------- spectra
def test_spectrum_reads_explained_variance_and_frobenius_share_as_different_things():
    model = Factors(np.ones((2, 3)), np.ones((2, 3)), singular_values_=np.array([4.0, 2.0, 1.0]),
                    explained_variance_ratio_=np.array([0.5, 0.2, 0.1]),
                    frobenius_share_=np.array([16, 4, 1]) / 25.0,
                    reconstruction_errors_=np.array([0.6, 0.2, 0.0]))
    spectrum = mi.spectrum_of(model)
    np.testing.assert_allclose(spectrum.cumulative, [0.5, 0.7, 0.8])
    np.testing.assert_allclose(spectrum.cumulative_frobenius, [0.64, 0.8, 0.84])
    assert spectrum.explained_label == "explained variance (as scikit-learn's TruncatedSVD)"
    assert spectrum.frobenius_label == "share of squared Frobenius norm"
    at = spectrum.at_rank(2)
    assert (at.singular_value, at.cumulative_explained, at.error) == (2.0, pytest.approx(0.7), 0.2)
    assert at.cumulative_frobenius_share == pytest.approx(0.8)
    assert spectrum.at_rank(9).singular_value is None
    # A model without the Frobenius share, or without a spectrum at all.
    del model.frobenius_share_
    assert mi.spectrum_of(model).cumulative_frobenius is None
    assert mi.spectrum_of(Factors(np.ones((2, 1)), np.ones((2, 1)))) is None


def test_spectrum_from_a_step_keeps_the_rank_asked_for():
    spectrum = mi.spectrum_from_step({"singular_values": [3.0, 2.0, 1.0, 0.5],
                                      "explained_variance_ratio": [0.4, 0.3, 0.2, 0.1]}, rank=3)
    assert spectrum.k == 3
    np.testing.assert_allclose(spectrum.cumulative, [0.4, 0.7, 0.9])
    assert spectrum.errors is None
    assert mi.spectrum_from_step({}) is None and mi.spectrum_from_step(None) is None


def test_log_bars_reach_the_values_and_show_zeros_as_short_bars():
    values = np.array([100.0, 3.0, 0.2, 0.0])
    bars_ = mi.log_bars(values)
    top = 10 ** (bars_.base + bars_.heights)
    np.testing.assert_allclose(top[:3], values[:3])
    assert top[3] == pytest.approx(0.02)  # a tenth of the smallest positive value
    assert (bars_.heights > 0).all() and bars_.top == pytest.approx(2.0)


def test_records_are_frozen_and_their_arrays_read_only():
    W = np.array([[1.0, 0.0], [0.0, 1.0]])
    summary = mi.topic_summary(W, W, np.array(["a", "b"]), 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.lead_shares = None
    with pytest.raises(ValueError):
        summary.weights[0, 0] = 5.0
    assert W.flags.writeable  # the caller's arrays are untouched


def test_has_factors_for_checks_shapes():
    data = Dataset(kind="dense", rows=np.array([0, 1]), cols=np.array([0, 2]), values=np.ones(2),
                   row_ids=np.arange(2), col_ids=np.arange(3))
    assert mi.has_factors_for(data, Factors(np.ones((2, 2)), np.ones((3, 2))))
    assert not mi.has_factors_for(data, Factors(np.ones((2, 2)), np.ones((4, 2))))
    assert not mi.has_factors_for(data, object())


def test_training_curves_normalise_the_objective_and_leave_unreported_metrics_empty():
    from mfstudio.inspect import training_curves
    from mfstudio.models.base import FitStep

    history = [FitStep(e, 3, loss, {"train_rmse": 1.0 / e, "rmse": 1.2 / e}) for e, loss in
               ((1, 18000.0), (2, 9000.0), (3, 4500.0))]
    drawn = training_curves(history, "rmse")
    np.testing.assert_allclose(drawn.objective, [1.0, 0.5, 0.25])
    np.testing.assert_allclose(drawn.train, [1.0, 0.5, 1 / 3])
    assert drawn.objective_bounds == (0.25, 1.0)
    assert drawn.error_bounds == pytest.approx((1 / 3, 1.2))
    absent = training_curves(history, "precision@10")
    assert absent.train.size == 0 and absent.test.size == 0 and absent.error_bounds is None
    zero_first = training_curves([FitStep(1, 2, 0.0), FitStep(2, 2, 4.0)], None)
    np.testing.assert_allclose(zero_first.objective, [0.0, 1.0])  # divided by the first usable value


def test_sweep_scatter_colours_best_brightest_whichever_way_the_metric_points():
    from mfstudio.inspect import sweep_scatter
    from mfstudio.sweep import SweepPoint

    def point(i, lr, reg, mean, status="done"):
        return SweepPoint(i, {"lr": lr, "reg": reg}, "rmse", [mean], mean, 0.0, None, None, 1.0, status)

    points = [point(0, 0.01, 0.1, 0.9), point(1, 0.1, 1.0, 0.8), point(2, 1.0, 10.0, 1.0), point(3, 1, 1, 0.1, "failed")]
    low = sweep_scatter(points, "lr", "reg", lower_is_better=True, log_x=True)
    assert low.best == 1 and list(low.goodness) == [0.5, 1.0, 0.0]
    np.testing.assert_allclose(low.x, [-2, -1, 0]) and np.testing.assert_allclose(low.y, [0.1, 1.0, 10.0])
    high = sweep_scatter(points, "lr", "reg", lower_is_better=False)
    assert high.best == 2 and list(high.goodness) == [0.5, 0.0, 1.0]
