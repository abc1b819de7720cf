"""Choosing the rank k of a decomposition: held-out error, the explained-variance elbow, topic stability, coherence.

Qt-free; every number comes through :class:`mfstudio.experiment.Experiment`,
so a curve here is scored exactly as ``mfstudio fit`` scores one k.

- :func:`rank_curve`: held-out and training error against k. For documents,
  images and grids the holdout is a masked *cell* holdout (``cells:F``): the
  held-out cells are missing in training, not zeros (SVD imputes them, NMF
  leaves them out of its objective), so a k that fits noise reconstructs
  them worse and the curve turns up. Ratings use a random holdout of ratings.
- :func:`explained_variance_elbow`: the knee of the cumulative
  explained-variance curve of an SVD's singular values.
- :func:`topic_stability`: do NMF restarts from different seeds find the same
  topics?
- :func:`topic_coherence`: do each topic's top terms occur in the same
  documents (UMass)?
- :func:`rank_selection`: all of the above per k, as one table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .data.dataset import Dataset
from .data.errors import DataError
from .experiment import DECOMPOSED_KINDS, Experiment

__all__ = [
    "RankCurve",
    "explained_variance_elbow",
    "explained_variance_ratios",
    "rank_curve",
    "rank_measures",
    "rank_selection",
    "topic_coherence",
    "topic_stability",
]


@dataclass(frozen=True)
class RankCurve:
    """Held-out and training error of one model at each k.

    Attributes
    ----------
    model : str
    protocol : str
        The holdout the errors were measured on (``cells:0.1``...).
    metric : str
        ``relative_error`` (documents, images, grids: share of the held-out
        cells' norm the reconstruction misses) or ``rmse`` (ratings).
    ks : tuple of int
    test_error, train_error : tuple of float
        The metric on the held-out part, and ``train_<metric>`` on the cells
        or ratings the model was fitted to.
    seconds : tuple of float
        Fit time per k.
    """

    model: str
    protocol: str
    metric: str
    ks: tuple
    test_error: tuple
    train_error: tuple
    seconds: tuple = field(default=())

    @property
    def best_k(self) -> int:
        """The k with the lowest held-out error (the smallest such k on a tie)."""
        return int(self.ks[int(np.argmin(self.test_error))])

    def records(self) -> list[dict]:
        """One dict per k: ``k``, ``test_<metric>``, ``train_<metric>``, ``seconds``."""
        return [{"k": int(k), f"test_{self.metric}": float(te), f"train_{self.metric}": float(tr),
                 "seconds": float(s)}
                for k, te, tr, s in zip(self.ks, self.test_error, self.train_error, self.seconds or [0.0] * len(self.ks))]


def _rank_param(model: str) -> str:
    return "n_factors"


def _check_ks(ks, dataset: Dataset) -> list[int]:
    ks = [int(k) for k in ks]
    if not ks or any(k < 1 for k in ks):
        raise DataError(f"ranks to try must be whole numbers >= 1, not {ks}", fix="give e.g. 1,2,4,8")
    limit = min(dataset.shape)
    if max(ks) > limit:
        raise DataError(f"a rank of {max(ks)} exceeds the smaller side of the {dataset.shape[0]} x "
                        f"{dataset.shape[1]} matrix", fix=f"try ranks up to {limit}")
    return sorted(set(ks))


def rank_curve(dataset: Dataset, model: str = "svd", ks=(1, 2, 4, 8, 16), protocol: str = "cells:0.1",
               seed: int = 0, params: dict | None = None) -> RankCurve:
    """Held-out and training error of ``model`` for each rank in ``ks``, on one fixed holdout.

    Parameters
    ----------
    dataset : Dataset
        Documents, images or a full grid (scored with ``relative_error`` on
        held-out cells), or ratings (``rmse``; then give a ratings protocol
        such as ``"random:0.2"``).
    model : {"svd", "nmf"}
    ks : sequence of int
        Ranks to fit (``n_factors``).
    protocol : str
        The holdout, as :class:`~mfstudio.experiment.Experiment` takes it.
        ``cells:F`` holds cells out as *missing* (not zero) in training.
    seed : int
        Seed of the holdout (the same cells for every k).
    params : dict, optional
        Other parameters of the model (``n_epochs`` for NMF...).

    Returns
    -------
    RankCurve

    Raises
    ------
    DataError
        A rank above the matrix's smaller side, or data and protocol that do
        not fit (a cell holdout of ratings...).
    """
    ks = _check_ks(ks, dataset)
    if dataset.kind in DECOMPOSED_KINDS:
        metric = "relative_error"
    elif dataset.kind == "explicit":
        metric = "rmse"
        if protocol.startswith("cells"):
            protocol = "random:0.2"  # ratings' absent cells are unknown: hold out ratings instead
    else:
        raise DataError("a rank curve needs documents, images, a grid or ratings to score a held-out error on",
                        fix="load such data, or compare ranks on ranking metrics with a sweep")
    test, train, seconds = [], [], []
    for k in ks:
        exp = Experiment(dataset, model, {**(params or {}), _rank_param(model): k}, protocol=protocol, seed=seed)
        exp.run()
        scores = exp.metrics
        if metric not in scores:
            raise DataError(f"the protocol {protocol!r} leaves no held-out part to score {metric} on",
                            fix="use a holdout such as 'cells:0.1' (documents, images, grids) or 'random:0.2'")
        test.append(float(scores[metric]))
        train.append(float(scores.get(f"train_{metric}", math.nan)))
        seconds.append(float(np.mean([f.model.fit_seconds_ for f in exp.folds])))
    return RankCurve(model, protocol, metric, tuple(ks), tuple(test), tuple(train), tuple(seconds))


# --------------------------------------------------------------- explained variance
def explained_variance_ratios(singular_values, total: float | None = None) -> np.ndarray:
    """Each component's share ``s_i^2 / total`` of the data's squared norm.

    Parameters
    ----------
    singular_values : array of float
    total : float, optional
        The data's total sum of squares ``||X||_F^2``. For uncentered data
        (documents, images, an SVD without centering) "explained variance" in
        this module means exactly this: the share of the sum of squares about
        zero, not about the column means (scikit-learn's TruncatedSVD reports
        the latter). Default: the sum of the given ``s_i^2``, i.e. shares of
        what the components found.
    """
    s2 = np.asarray(singular_values, dtype=np.float64) ** 2
    denominator = float(s2.sum()) if total is None else float(total)
    return s2 / denominator if denominator > 0 else np.zeros_like(s2)


def explained_variance_elbow(singular_values, total: float | None = None) -> int:
    """The number of components at the knee of the cumulative explained-variance curve.

    The rule (the "maximum distance to the chord", as in kneedle): draw the
    cumulative share ``c_k = sum_{i<=k} s_i^2 / total`` for ``k = 0..n``
    (``c_0 = 0``), join its first and last points with a straight line, and
    take the k whose point lies farthest above that line. A spectrum with a
    clear gap after k components gives that k. On uncentered nonnegative
    data (documents, images, an SVD with ``center="none"``) the first
    component carries the mean and most of the sum of squares, so the elbow
    often says 1: read it with the held-out curve of :func:`rank_curve`, or
    use a centered SVD's singular values.

    Parameters
    ----------
    singular_values : array of float
        In decreasing order (an SVD's ``singular_values_``).
    total : float, optional
        See :func:`explained_variance_ratios`.

    Returns
    -------
    int
        Between 1 and ``len(singular_values)``.
    """
    ratios = explained_variance_ratios(singular_values, total)
    if ratios.size == 0:
        raise DataError("no singular values to find an elbow in", fix="fit an SVD with at least one component")
    cumulative = np.concatenate([[0.0], np.cumsum(ratios)])
    x = np.arange(cumulative.size, dtype=np.float64)
    chord = cumulative[0] + (cumulative[-1] - cumulative[0]) * x / x[-1]
    return int(max(1, np.argmax(cumulative - chord)))


# --------------------------------------------------------------- topics
def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
    return a @ b.T


def topic_stability(dataset: Dataset, k: int, seeds=(0, 1, 2, 3, 4), params: dict | None = None,
                    per_topic: bool = False):
    """How reproducible NMF's topics are across restarts from different seeds (1 = identical topics).

    Each seed fits NMF on all the data with a random start (``init="random"``
    unless ``params`` says otherwise: the SVD-based starts are deterministic,
    so restarts would agree trivially). Every later run's topics (rows of H,
    the term weights) are matched one-to-one to the first run's with
    :func:`scipy.optimize.linear_sum_assignment` on their cosine similarity;
    a topic's stability is the mean of its matched similarities over the
    later runs, and the score is the mean over topics.

    Parameters
    ----------
    dataset : Dataset
    k : int
        Number of topics.
    seeds : sequence of int
        At least two.
    params : dict, optional
        Other NMF parameters.
    per_topic : bool
        Also return each of the first run's topics' stability.

    Returns
    -------
    float, or (float, ndarray) with ``per_topic``
    """
    from scipy.optimize import linear_sum_assignment

    from .models import MODELS

    seeds = list(seeds)
    if len(seeds) < 2:
        raise DataError("topic stability compares restarts: give at least two seeds", fix="e.g. seeds=(0, 1, 2)")
    components = []
    for seed in seeds:
        model = MODELS["nmf"](**{"init": "random", **(params or {}), "n_factors": int(k), "seed": int(seed)})
        model.fit(dataset)
        components.append(np.asarray(model.item_factors_, dtype=np.float64).T)  # k x terms
    reference = components[0]
    matched = np.zeros((len(seeds) - 1, reference.shape[0]))
    for run, other in enumerate(components[1:]):
        similarity = _cosine_rows(reference, other)
        rows, cols = linear_sum_assignment(-similarity)
        matched[run, rows] = similarity[rows, cols]
    topics = matched.mean(axis=0)
    score = float(topics.mean())
    return (score, topics) if per_topic else score


def topic_coherence(dataset: Dataset, H, top_n: int = 10, per_topic: bool = False):
    """UMass coherence of each topic's top terms, from document co-occurrences (higher = more coherent).

    For a topic's top terms ``w_1..w_N`` (by weight in its row of ``H``),
    ``C = mean over i > j of log((D(w_i, w_j) + 1) / D(w_j))``, where
    ``D(w)`` counts the documents containing ``w`` and ``D(w_i, w_j)`` those
    containing both (Mimno et al., 2011). Computed from the sparse
    document-term matrix binarised (a term occurs or not), with no outside
    corpus. Values are <= about 0; closer to 0 is more coherent.

    Parameters
    ----------
    dataset : Dataset
        The documents (rows) x terms (columns) the topics were fitted on.
    H : array (k, n_terms)
        Topic-term weights (an NMF's ``item_factors_.T``).
    top_n : int
        Terms per topic.
    per_topic : bool
        Also return each topic's coherence.

    Returns
    -------
    float, or (float, ndarray) with ``per_topic``
    """
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[1] != dataset.n_cols:
        raise DataError(f"the topics have {H.shape[-1]} terms but the data {dataset.n_cols}",
                        fix="pass the H of a model fitted on this data")
    occurs = dataset.to_csr(np.float32)
    occurs.sum_duplicates()
    occurs.data = (occurs.data != 0).astype(np.float32)
    occurs.eliminate_zeros()
    top_n = int(min(top_n, H.shape[1]))
    scores = np.zeros(H.shape[0])
    for t, row in enumerate(H):
        terms = np.argsort(-row, kind="stable")[:top_n]
        sub = occurs[:, terms]
        together = (sub.T @ sub).toarray()  # D(w_i, w_j); diagonal D(w)
        doc_freq = np.diag(together)
        total, pairs = 0.0, 0
        for i in range(1, top_n):
            for j in range(i):
                if doc_freq[j] > 0:
                    total += math.log((together[i, j] + 1.0) / doc_freq[j])
                    pairs += 1
        scores[t] = total / pairs if pairs else 0.0
    score = float(scores.mean())
    return (score, scores) if per_topic else score


# --------------------------------------------------------------- one table
def rank_selection(dataset: Dataset, model: str = "svd", ks=(1, 2, 4, 8, 16), protocol: str = "cells:0.1",
                   seed: int = 0, params: dict | None = None, seeds=(0, 1, 2), top_n: int = 10) -> dict:
    """Every rank-selection measure per k, as one table for the window and the CLI.

    Parameters
    ----------
    dataset, model, ks, protocol, seed, params
        As :func:`rank_curve`.
    seeds : sequence of int
        NMF on documents: the restarts of :func:`topic_stability`.
    top_n : int
        NMF on documents: terms per topic for :func:`topic_coherence`.

    Returns
    -------
    dict
        ``records`` (one dict per k: ``k``, ``test_<metric>``,
        ``train_<metric>``, ``seconds``; for SVD ``explained_variance``, the
        cumulative share of ``||X||_F^2`` of the first k components; for NMF
        on documents ``stability`` and ``coherence``), ``best_k`` (lowest
        held-out error), ``metric``, ``protocol``, and for SVD ``elbow_k``
        and ``explained_variance_ratios`` (of a fit at the largest k on all
        the data).
    """
    curve = rank_curve(dataset, model, ks, protocol=protocol, seed=seed, params=params)
    records = curve.records()
    out = {"model": model, "metric": curve.metric, "protocol": curve.protocol, "best_k": curve.best_k,
           "records": records}
    measures = rank_measures(dataset, model, curve.ks, seed=seed, params=params, seeds=seeds, top_n=top_n)
    for record in records:
        record.update(measures["per_k"].get(record["k"], {}))
    out.update({key: value for key, value in measures.items() if key != "per_k"})
    return out


def rank_measures(dataset: Dataset, model: str, ks, seed: int = 0, params: dict | None = None,
                  seeds=(0, 1, 2), top_n: int = 10) -> dict:
    """The rank measures that need no holdout: what a sweep of held-out error over k does not give.

    For SVD, the explained-variance ratios of a fit at the largest k on all the
    data, their elbow (:func:`explained_variance_elbow`) and the cumulative
    share at each k; for NMF on documents, the topics' stability across
    ``seeds`` (:func:`topic_stability`) and their UMass coherence
    (:func:`topic_coherence`) at each k. Other models and kinds get an empty
    ``per_k``.

    Returns
    -------
    dict
        ``per_k`` (k -> ``{"explained_variance": ...}`` or ``{"stability": ..., "coherence": ...}``),
        and for SVD ``elbow_k`` and ``explained_variance_ratios``.
    """
    from .models import MODELS

    ks = sorted({int(k) for k in ks})
    out: dict = {"per_k": {}}
    if model == "svd":
        svd = MODELS["svd"](**{**(params or {}), "n_factors": max(ks)}).fit(dataset)
        total = float(getattr(svd, "squared_norm_", 0.0)) or None
        ratios = explained_variance_ratios(svd.singular_values_, total)
        out["explained_variance_ratios"] = [float(r) for r in ratios]
        out["elbow_k"] = explained_variance_elbow(svd.singular_values_, total)
        cumulative = np.cumsum(ratios)
        out["per_k"] = {k: {"explained_variance": float(cumulative[k - 1])} for k in ks if k <= cumulative.size}
    elif model == "nmf" and dataset.kind == "documents":
        for k in ks:
            fitted = MODELS["nmf"](**{**(params or {}), "n_factors": k, "seed": seed}).fit(dataset)
            out["per_k"][k] = {
                "stability": topic_stability(dataset, k, seeds=seeds, params=params),
                "coherence": topic_coherence(dataset, np.asarray(fitted.item_factors_).T, top_n=top_n),
            }
    return out
