"""Experiments: data + model + protocol -> splits, a reference model, fits and scores.

This is the one place a run is set up. ``mfstudio fit``, the window and the
tests all go through :class:`Experiment`, so a number on screen and a number
in ``fit --json`` come from the same code:

1. **Protocol.** What the held-out data is depends on what the data *is*
   (:func:`default_protocol` chooses, :func:`describe_protocol` says why in
   one line, and the caller may choose another from
   :func:`protocol_choices`):

   - documents, images and dense grids are *decomposed*, not predicted: the
     model is fitted on all the data and scored on how well it reconstructs
     it (``all``); a masked cell holdout (``cells:F``) is offered, in which
     the held-out cells are missing in training, not zeros;
   - ratings: a random holdout of ratings (``random:F``), per-user
     (``user:F``), temporal (``time:F``, ``time-user:F``), k-fold
     (``kfold:K``), cold start (``cold-items:F``, ``cold-users:F``: every
     rating of a fraction of the items or users held out; ``cold-items-kfold:K``,
     ``cold-users-kfold:K``: every item or user held out once over K folds),
     and ``all`` for a final model;
   - interactions: per-user holdout (``user:F``) or leave-k-out per user
     (``leave:K``).

2. **Reference.** Every fit on ratings or interactions is drawn against a
   reference model fitted on the same training data and scored the same way:
   mean + biases for ratings, popularity for interactions. On a cold-start
   split the reference is what can be known there: for cold items the
   global mean + user bias (the baseline, whose item bias of a cold item is
   0); for cold users the bias and per-item taste of their demographic
   groups (:class:`mfstudio.models.hybrid.DemographicBaseline`) when the
   data has user features, else mean + item bias.

3. **Scores.** Every model fitted on ratings is scored on both families:
   rating errors (RMSE, MAE) where it predicts ratings, and ranking quality
   (precision, recall, NDCG, MAP at K, AUC, catalogue coverage at K) for all,
   a rating model ranking by its predictions. Items a user has in training
   (any value) are never recommended back; a test item is relevant when it is
   an interaction, or a rating at or above :func:`relevance_threshold`.
   Decompositions report the relative reconstruction error (and, for SVD,
   explained variance as scikit-learn defines it).

4. **Per-epoch records.** After each epoch the same metric is measured on a
   fixed sample of the training entries (``train_rmse``, without the
   penalty) and on the test set (``rmse``), so the train/validation gap that
   shows overfitting is visible. Ranking metrics per epoch use a fixed
   sample of test users; the final scores use all of them (up to
   :data:`MAX_RANKING_USERS`, a fixed sample beyond, and the report says so).
   The AUC compares each user's relevant items with at most
   :data:`AUC_NEGATIVES` of their unseen items drawn at random (all of them in
   a smaller catalogue): an unbiased estimate, and the notes say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from . import metrics as _metrics
from .data.dataset import Dataset, common_id_space
from .data.errors import DataError
from .data.splits import Split, _entry_word, split_from_spec

__all__ = [
    "EarlyStopper",
    "Experiment",
    "FoldResult",
    "PROTOCOL_FORMS",
    "METRIC_DESCRIPTIONS",
    "default_protocol",
    "carve_validation",
    "describe_protocol",
    "evaluate",
    "is_epoch_based",
    "protocol_choices",
    "reference_model_for",
    "relevance_threshold",
    "validation_spec",
]

#: Kinds whose models decompose the matrix rather than predict missing entries.
DECOMPOSED_KINDS = ("documents", "images", "dense")

#: The protocol specs and what each means (the CLI's --split help, the window's list).
PROTOCOL_FORMS = {
    "all": "fit on all data; score how well the model reconstructs it (no test set)",
    "random:0.2": "a random 20% of the entries held out for testing",
    "user:0.2": "20% of each user's entries held out (users with >= 5)",
    "time:0.2": "the latest 20% of the entries held out",
    "time-user:0.2": "each user's latest 20% held out",
    "kfold:5": "5-fold cross-validation: every entry tested once",
    "leave:1": "each user's 1 random entry held out (leave-one-out)",
    "cells:0.1": "10% of all cells (zeros included) held out as missing, not zero",
    "cold-items:0.1": "every rating of a random 10% of the items held out: new items, predicted from features",
    "cold-users:0.1": "every rating of a random 10% of the users held out: new users, predicted from features",
    "cold-items-kfold:10": "new items, 10 folds: every item's ratings held out once; mean and spread reported",
    "cold-users-kfold:10": "new users, 10 folds: every user's ratings held out once; mean and spread reported",
}

#: What each reported metric means, for tooltips, the metrics table and --json readers.
METRIC_DESCRIPTIONS = {
    "rmse": "root mean squared error of the predicted ratings on the test set",
    "mae": "mean absolute error of the predicted ratings on the test set",
    "train_rmse": "RMSE on a fixed sample of the training ratings (no penalty term)",
    "train_mae": "MAE on a fixed sample of the training ratings (no penalty term)",
    "precision@10": "share of the top 10 (items seen in training excluded) that are relevant test items",
    "recall@10": "share of each user's relevant test items found in their top 10",
    "ndcg@10": "rank-discounted hits in the top 10, 1 = all relevant items first",
    "map@10": "mean average precision of the top 10",
    "auc": "chance that a relevant test item is scored above a non-relevant unseen item (0.5 = random)",
    "coverage@10": "share of the catalogue that appears in at least one user's top 10",
    "new_items_precision@10": "precision@10 of lists drawn from the new items alone (cold-items splits)",
    "new_items_recall@10": "recall@10 of lists drawn from the new items alone (cold-items splits)",
    "new_items_ndcg@10": "NDCG@10 of lists drawn from the new items alone (cold-items splits)",
    "new_items_map@10": "MAP@10 of lists drawn from the new items alone (cold-items splits)",
    "new_items_auc": "chance that a relevant new item is scored above a non-relevant new one (cold-items splits)",
    "new_items_coverage@10": "share of the new items that appear in at least one user's top 10 of new items",
    "relative_error": "share of the held-out cells' norm the reconstruction misses (||X - WH|| / ||X||; 0 = perfect)",
    "train_relative_error": "share of the data's Frobenius norm the reconstruction misses (||X - WH||_F / ||X||_F; 0 = perfect)",
    "explained_variance_ratio": "variance of the data captured by the components, as scikit-learn's TruncatedSVD defines it",
    "frobenius_share": "share of the data's squared Frobenius norm the components capture (not variance)",
    "nmi": "normalised mutual information between each document's strongest topic and its label (1 = identical)",
    "purity": "share of documents whose strongest topic's majority label is their own label",
}

#: Ranking metrics at the end are computed on at most this many test users (a fixed sample beyond).
MAX_RANKING_USERS = 10_000
#: The final AUC compares a user's relevant items with at most this many of their unseen items, drawn
#: uniformly (an unbiased estimate of the AUC over all of them; exact in catalogues this size or smaller).
#: At 50,000 items the exhaustive count was 4.6e9 comparisons for 10,000 users, most of the evaluation.
AUC_NEGATIVES = 5_000
#: Per-epoch ranking metrics use at most this many test users.
EPOCH_RANKING_USERS = 1_000
#: Per-epoch train/test rating errors use at most this many entries.
EPOCH_SAMPLE_ENTRIES = 20_000
#: Users scored per matrix product when ranking (bounds memory to this x n_items floats).
_BATCH_USERS = 256


# ----------------------------------------------------------------- protocols
def _parse(spec: str) -> tuple[str, str]:
    text = str(spec).strip().lower().replace(" ", "")
    kind, _, value = text.partition(":")
    return kind, value


def _cold_kind(kind: str) -> str:
    """``cold-items`` / ``cold-users`` for a cold-start kind, one holdout or k folds alike; else ``""``."""
    return kind.removesuffix("-kfold") if kind.startswith(("cold-items", "cold-users")) else ""


def relevance_threshold(dataset: Dataset) -> float | None:
    """The lowest rating that counts as "liked" in ranking metrics (None for non-ratings).

    The top quarter of the scale, rounded to the scale's steps: 4 on a 1-5
    scale (MovieLens' "liked"), 8 on 1-10. Interactions are all relevant.
    """
    if dataset.kind != "explicit":
        return None
    lo, hi = dataset.rating_scale or (float(dataset.values.min()), float(dataset.values.max()))
    if hi <= lo:
        return float(hi)
    return float(math.ceil(lo + 0.75 * (hi - lo) - 1e-9))


def default_protocol(dataset: Dataset, model_cls=None) -> str:
    """The protocol spec mfstudio chooses for this data (see :func:`describe_protocol`)."""
    if dataset.kind in DECOMPOSED_KINDS:
        return "all"
    if dataset.kind == "implicit":
        return "user:0.2"
    return "random:0.2"


def protocol_choices(dataset: Dataset) -> list[str]:
    """The protocol specs that make sense for this data, the default first."""
    if dataset.kind in DECOMPOSED_KINDS:
        choices = ["all", "cells:0.1", "cells:0.2"]
    elif dataset.kind == "implicit":
        choices = ["user:0.2", "leave:1", "random:0.2", "kfold:5", "all"]
        # New items and users, as for ratings: the hybrid ranks them from their features.
        _add_cold_choices(choices, dataset)
    else:
        choices = ["random:0.2", "user:0.2", "kfold:5", "leave:1", "all"]
        if dataset.timestamps is not None:
            choices[2:2] = ["time:0.2", "time-user:0.2"]
        # Cold start is a question only side features can answer better than the means.
        _add_cold_choices(choices, dataset)
    default = default_protocol(dataset)
    return [default] + [c for c in choices if c != default]


def _add_cold_choices(choices: list[str], dataset: Dataset) -> None:
    """Insert the cold-start protocols the data's side features allow, before ``all``."""
    for side, features in (("items", dataset.item_features), ("users", dataset.user_features)):
        if features is not None:
            choices[-1:-1] = [f"cold-{side}:0.1", f"cold-{side}-kfold:10"]


def describe_protocol(spec: str, dataset: Dataset, chosen_by_default: bool = False) -> str:
    """One line for the panel and the CLI: what the protocol does, and why when it was chosen for the user."""
    kind, value = _parse(spec)
    rows, cols = dataset.row_label, dataset.col_label
    if kind == "all":
        what = "fit on all data, scored by how well it reconstructs it"
        why = {
            "documents": "documents are decomposed into topics, not predicted",
            "images": "images are decomposed into parts, not predicted",
            "dense": "a full grid is decomposed, not predicted",
        }.get(dataset.kind, "a final model: no test set, so no test scores")
    elif kind == "cells":
        what = f"{_percent(value)} of all cells (zeros included) held out as missing; scored on them"
        why = "shows whether the rank generalises"
    elif kind == "leave":
        what = f"each {rows}'s {value} random {_entry_word(dataset)} held out; ranked against everything unseen"
        why = "the usual test for recommending from interactions"
    elif kind == "user":
        what = f"{_percent(value)} of each {rows}'s {_entry_word(dataset)} held out"
        why = "every test user has training data, so ranking metrics are fair to all"
    elif kind == "random":
        what = f"a random {_percent(value)} of the {_entry_word(dataset)} held out"
        why = "the standard rating-prediction test"
    elif kind in ("time", "time-user"):
        who = "overall" if kind == "time" else f"per {rows}"
        what = f"the latest {_percent(value)} of the {_entry_word(dataset)} ({who}) held out"
        why = "tests predicting the future from the past"
    elif kind == "kfold":
        what = f"{value}-fold cross-validation, every {_entry_word(dataset, 1)} tested once, mean and spread reported"
        why = "a steadier estimate than one holdout"
    elif _cold_kind(kind):
        side = _cold_kind(kind)
        who = cols if side == "cold-items" else rows
        if kind.endswith("-kfold"):
            what = (f"{value}-fold cold start: the {who}s dealt into {value} folds, every {_entry_word(dataset, 1)} "
                    f"of one fold's {who}s held out in turn (each {who} new once), mean and spread reported")
        else:
            what = (f"every {_entry_word(dataset, 1)} of a random {_percent(value)} of the {who}s held out "
                    f"(new {who}s, no training data)")
        features = dataset.item_features if side == "cold-items" else dataset.user_features
        why = (f"tests predicting new {who}s from their features" if features is not None
               else f"the data has no {who} features, so models can only use means and biases for them")
    elif kind == "test-file":
        what = f"trained on the data, tested on {value}"
        why = "the split the files define"
    else:
        what, why = spec, ""
    threshold = relevance_threshold(dataset)
    if threshold is not None and kind not in ("all",):
        what += f"; ratings >= {threshold:g} count as relevant for ranking metrics"
    prefix = "Chosen for this data: " if chosen_by_default else ""
    return f"{prefix}{what}" + (f" ({why})" if why else "")


def _percent(value: str) -> str:
    try:
        f = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        return value
    return f"{round(100 * f, 4):g}%"


def make_splits(dataset: Dataset, spec: str, seed: int = 0) -> list[Split | None]:
    """The train/test partitions a protocol spec asks for; ``[None]`` for ``all``.

    Raises
    ------
    DataError
        An unknown spec, or one that does not fit this data (a time split
        without timestamps, an entry holdout of documents, a cell holdout of
        ratings...).
    """
    kind, _ = _parse(spec)
    if kind == "all":
        return [None]
    if kind == "cells" and dataset.kind not in DECOMPOSED_KINDS:
        raise DataError(
            "a cell holdout is for documents, images and grids; ratings leave their missing cells unknown",
            fix="use 'random:0.2', 'user:0.2' or 'kfold:5' for ratings",
        )
    if dataset.kind in DECOMPOSED_KINDS and (kind in ("random", "user", "kfold", "time", "time-user", "leave")
                                             or _cold_kind(kind)):
        raise DataError(
            f"holding out entries of {dataset.kind} with {spec!r} would train the held-out cells as zeros",
            fix="fit on all data ('all') or hold out cells as missing ('cells:0.1')",
        )
    return list(split_from_spec(dataset, spec, seed=seed))


# ------------------------------------------------------------------ scoring
def predicts_ratings(model, data: Dataset) -> bool:
    """True when the model's outputs are rating predictions for this data (scored by RMSE/MAE)."""
    return data.kind == "explicit" and model.task in ("rating", "reconstruction")


def reference_model_for(dataset: Dataset, protocol: str | None = None):
    """The reference every curve is drawn against, or None (decompositions).

    Ratings: mean + biases; under ``cold-users:F`` (or its k folds) with user features, the
    demographic baseline (a new user's bias and per-item taste from their
    groups). Interactions: popularity; under ``cold-items:F`` with item
    features, popularity by features (a new item scored by the popularity of
    the items sharing its features), under ``cold-users:F`` with user
    features, popularity within the user's groups.
    """
    from .models import Baseline, Popularity

    kind = _cold_kind(_parse(protocol)[0]) if protocol is not None else ""
    if dataset.kind == "explicit":
        if kind == "cold-users" and dataset.user_features is not None:
            from .models.hybrid import DemographicBaseline

            return DemographicBaseline()
        return Baseline()
    if dataset.kind == "implicit":
        if kind == "cold-items" and dataset.item_features is not None:
            from .models.hybrid import FeaturePopularity

            return FeaturePopularity()
        if kind == "cold-users" and dataset.user_features is not None:
            from .models.hybrid import DemographicPopularity

            return DemographicPopularity()
        return Popularity()
    return None


def reference_name(dataset: Dataset, protocol: str | None = None) -> str:
    kind = _cold_kind(_parse(protocol)[0]) if protocol is not None else ""
    if dataset.kind == "explicit" and kind == "cold-items":
        return "baseline (global mean + user bias on the cold items)"
    if dataset.kind == "explicit" and kind == "cold-users":
        if dataset.user_features is not None:
            return "demographic baseline (mean + item bias + the user's groups' bias and item tastes)"
        return "baseline (global mean + item bias on the cold users)"
    if dataset.kind == "implicit" and kind == "cold-items" and dataset.item_features is not None:
        return "popularity by features (a new item: the mean count of the items sharing its features)"
    if dataset.kind == "implicit" and kind == "cold-users" and dataset.user_features is not None:
        return "popularity within the user's groups (their features' shrunk item shares)"
    return {"explicit": "baseline (mean + biases)", "implicit": "popularity"}.get(dataset.kind, "")


def _relevant(test: Dataset, threshold: float | None) -> Dataset:
    if test.kind != "explicit" or threshold is None:
        return test
    return test.subset(test.values >= threshold)


def _sample(n: int, limit: int, seed: int = 0) -> np.ndarray | None:
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def rating_errors(model, data: Dataset, limit: int | None = None, prefix: str = "") -> dict:
    """RMSE and MAE of the model's predictions on ``data``'s entries (a fixed sample beyond ``limit``)."""
    pick = _sample(data.nnz, limit) if limit else None
    entries = data if pick is None else data.subset(pick)
    # predict_entries, not predict(rows, cols): a time-aware model (timesvdpp) reads each entry's timestamp.
    predictions = model.predict_entries(entries)
    values = entries.values
    return {f"{prefix}rmse": _metrics.rmse(values, predictions), f"{prefix}mae": _metrics.mae(values, predictions)}


def ranking_scores(model, train: Dataset, test: Dataset, *, k: int = 10, threshold: float | None = None,
                   max_users: int | None = MAX_RANKING_USERS, with_auc: bool = True,
                   items: np.ndarray | None = None) -> dict:
    """Ranking quality of any model that scores every item, on the users with a relevant test item.

    Items the user has in ``train`` (any value) are excluded from the lists and
    from the AUC's candidates. ``items`` (ids) restricts the candidates to
    those items, and the relevant test entries to theirs: the lists then rank
    that shelf alone (the new items of a cold-items split). Equal scores are
    ordered by position (by id without ``items``, by place in ``items`` with
    it). Returns ``precision@k``, ``recall@k``,
    ``ndcg@k``, ``map@k``, ``coverage@k`` and (``with_auc``) ``auc``, plus
    ``ranking_auc_negatives`` (when some user's AUC used :data:`AUC_NEGATIVES` sampled unseen items),
    ``ranking_users`` (how many users were scored), ``ranking_users_total`` (test users with a relevant
    item and training data) and ``ranking_cold_users`` (test users with a relevant item but no training
    data: counted, not ranked, unless the model predicts them from features: see
    :func:`cold_rows_predicted`).
    """
    from .kernels.ranking import rank_block

    relevant_data = _relevant(test, threshold)
    if items is not None:
        items = np.asarray(items, dtype=np.int64)
        on_shelf = np.zeros(max(train.n_cols, test.n_cols), dtype=bool)
        on_shelf[items] = True
        relevant_data = relevant_data.subset(np.flatnonzero(on_shelf[relevant_data.cols]))
    # Users with a relevant test item, by counting (np.unique hashed 9M rows per call at scale).
    users = np.flatnonzero(np.bincount(relevant_data.rows, minlength=relevant_data.n_rows))
    # A user with no training entry has no factors: whatever the model lists for
    # them says nothing about what it learned, so they are counted, not ranked,
    # unless the model builds their vector from their features.
    warm = np.bincount(train.rows, minlength=max(train.n_rows, relevant_data.n_rows))[users] > 0
    warm |= cold_rows_predicted(model, train)[users]
    cold = int(np.count_nonzero(~warm))
    users = users[warm]
    total = int(users.size)
    if total == 0:
        return {"ranking_cold_users": cold} if cold else {}
    pick = _sample(users.size, max_users) if max_users else None
    if pick is not None:
        users = users[pick]
    # CSR rows of the ranked users only: converting all of a 9M-entry training set per call (every
    # epoch) cost more than ranking a sample of users.
    relevant = _rows_of(relevant_data, users, zero_is_absent=True)
    seen = _rows_of(train, users)
    if items is not None:  # columns renumbered to positions on the shelf, the lists' and the relevant's alike
        relevant, seen = relevant.on_columns(items), seen.on_columns(items)
    n_candidates = train.n_cols if items is None else int(items.size)
    recommended = np.full((users.size, k), -1, dtype=np.int64)
    aucs = np.full(users.size, np.nan)
    if getattr(model, "same_scores_for_every_user", False):
        # Popularity: one score vector for all, ranked per user without a score matrix (rank_shared).
        from .kernels.ranking import rank_shared

        item_scores = model.score_matrix(users[:1])[0]
        item_scores = np.ascontiguousarray(item_scores if items is None else item_scores[items], dtype=np.float32)
        recommended, _top_scores, aucs = rank_shared(
            item_scores, seen.indptr, seen.indices,
            relevant.indptr, relevant.indices, int(k), bool(with_auc))
    else:
        for start in range(0, users.size, _BATCH_USERS):
            chunk = users[start:start + _BATCH_USERS]
            scores = model.score_matrix(chunk)
            scores = np.ascontiguousarray(scores if items is None else scores[:, items], dtype=np.float32)
            block = seen[start:start + chunk.size]
            wanted = relevant[start:start + chunk.size]
            # One parallel pass per block for the lists and the AUC (mfstudio.kernels.ranking): the numpy
            # version sorted and partitioned every row and was most of a large fit's wall time.
            top_items, _top_scores, block_auc = rank_block(
                scores, block.indptr, block.indices,
                wanted.indptr, wanted.indices, int(k), bool(with_auc),
                AUC_NEGATIVES, chunk.astype(np.uint64))
            if with_auc:
                aucs[start:start + chunk.size] = block_auc
            recommended[start:start + chunk.size] = top_items
    out = _metrics.ranking_metrics(recommended, relevant, k)
    out[f"coverage@{k}"] = _metrics.catalogue_coverage(recommended, n_candidates)
    if with_auc and np.isfinite(aucs).any():
        out["auc"] = float(np.nanmean(aucs))
        if not getattr(model, "same_scores_for_every_user", False) and n_candidates > AUC_NEGATIVES:
            out["ranking_auc_negatives"] = AUC_NEGATIVES
    out["ranking_users"] = int(users.size)
    out["ranking_users_total"] = total
    out["ranking_cold_users"] = cold
    return out


def _rows_of(data: Dataset, users: np.ndarray, zero_is_absent: bool = False) -> _metrics.SparseRows:
    """The items of ``users`` (sorted internal ids) in ``data``, one row per user in that order.

    An entry is an entry whatever its value, unless ``zero_is_absent`` (a
    stored 0 is then not relevant, as the ranking metrics define it); an item
    stored twice for a user counts once. Plain CSR arrays: scipy.sparse is
    not imported for evaluation.
    """
    return _metrics.SparseRows.for_users(data.rows, data.cols, users, data.n_cols,
                                         values=data.values if zero_is_absent else None)


def cold_rows_predicted(model, train: Dataset) -> np.ndarray:
    """True for each user (row) without training data whom ``model`` still predicts from their own features.

    Models that build a user's vector from side features (the hybrid, the
    demographic baseline) say so by not handling cold rows as unknown; for
    them a cold user with at least one feature is scored like any other.
    """
    cold_ok = getattr(model, "_handles_cold", None)
    if cold_ok is None or cold_ok() or train.user_features is None:
        return np.zeros(train.n_rows, dtype=bool)
    if getattr(model, "params", {}).get("features", "both") in ("none", "items"):
        return np.zeros(train.n_rows, dtype=bool)
    return train.user_features.covered()


def reconstruction_scores(model, prefix: str = "") -> dict:
    """Relative reconstruction error of a decomposition over the cells it was fitted to represent.

    Every cell of a document matrix, image set or grid counts (absent cells of
    documents are zeros), except cells held out as missing; for SVD also
    explained variance as scikit-learn defines it, and the share of the
    squared Frobenius norm. Keys are prefixed with ``prefix`` (``train_``).
    """
    from .models.svd import decomposition_scores

    return {f"{prefix}{name}": float(value) for name, value in decomposition_scores(model).items()}


def evaluate(model, train: Dataset, test: Dataset | None, *, k: int = 10, threshold: float | None = None,
             max_users: int | None = MAX_RANKING_USERS, ranking: bool = True, new_items: bool = False) -> dict:
    """Final scores of a fitted model: every family that applies to the data.

    Parameters
    ----------
    model : FactorModel
        Fitted on ``train``.
    train : Dataset
        What the model was given (all values; it defines the seen items).
    test : Dataset or None
        Held-out entries in the same id space; None when fitted on all data.
    k : int
        Cut-off of the ranking metrics.
    threshold : float, optional
        For ratings: the lowest relevant rating (default :func:`relevance_threshold`).
    max_users : int, optional
        Ranking metrics on at most this many test users (a fixed sample beyond).
    ranking : bool
        False: a model that predicts ratings is scored by RMSE and MAE only (no
        top-k lists, no AUC). Models that only rank are ranked regardless.
    new_items : bool
        A cold-items split: also rank the new items alone (those without a
        training entry), keys ``new_items_precision@k`` ... ``new_items_auc``.
        Among all items, warm ones fill every list and a new item is rarely
        shown, which says little about which new item suits whom.

    Returns
    -------
    dict of str to float
        See :data:`METRIC_DESCRIPTIONS` for the keys.
    """
    if threshold is None:
        threshold = relevance_threshold(train)
    out: dict = {}
    if train.kind in DECOMPOSED_KINDS:
        scores = reconstruction_scores(model)
        out["train_relative_error"] = scores["relative_error"]
        out.update({k: v for k, v in scores.items() if k in ("explained_variance_ratio", "frobenius_share")})
        if test is not None and test.nnz:
            out.update(_held_out_cells(model, test))
        else:
            # Fitted on all data: the data itself is what it is scored on.
            out["relative_error"], out["rmse"] = scores["relative_error"], scores["rmse"]
        if train.row_labels is not None:
            out.update(label_agreement(model, train))
        return out
    if test is None or test.nnz == 0:
        if predicts_ratings(model, train):
            out.update(rating_errors(model, train, prefix="train_"))
        return out
    if predicts_ratings(model, train):
        out.update(rating_errors(model, test))
        if not ranking:
            return out
    out.update(ranking_scores(model, train, test, k=k, threshold=threshold, max_users=max_users))
    if new_items:
        shelf = np.flatnonzero(np.bincount(train.cols, minlength=max(train.n_cols, test.n_cols)) == 0)
        # Shuffled (fixed seed): a model with nothing to tell new items apart (the mean + user bias
        # reference) gives them all one score, and ties go by position; by id, MovieLens' oldest
        # and most watched films would fill its lists and look like knowledge.
        shelf = np.random.default_rng(0).permutation(shelf)
        if shelf.size:
            among = ranking_scores(model, train, test, k=k, threshold=threshold, max_users=max_users, items=shelf)
            out.update({f"new_items_{name}": value for name, value in among.items() if not name.startswith("ranking_")})
    return out


def _held_out_cells(model, test: Dataset) -> dict:
    """Errors over held-out cells (zeros included), as :func:`mfstudio.models.svd.score_reconstruction` scores them."""
    from .models.svd import score_reconstruction

    scores = score_reconstruction(model, test)
    return {"relative_error": float(scores["relative_error"]), "rmse": float(scores["rmse"])}


def label_agreement(model, data: Dataset) -> dict:
    """NMI and purity of each row's strongest component against the data's row labels.

    SVD components have signs, so a row's strongest one is the largest in magnitude.
    """
    from .inspect import topic_label_agreement

    weights = np.asarray(model.user_factors_)
    if weights.ndim != 2 or weights.shape[1] == 0 or data.row_labels is None:
        return {}
    if model.name == "svd":
        weights = np.abs(weights)
    agreement = topic_label_agreement(weights, data.row_labels)
    return {"nmi": float(agreement.nmi), "purity": float(agreement.purity)}


def top_terms(model, data: Dataset, n: int = 10) -> list[list[str]]:
    """The ``n`` heaviest columns (terms) of each component, for ``fit --json`` on documents."""
    components = np.asarray(model.item_factors_).T
    order = np.argsort(-components, axis=1)[:, :n]
    names = data.col_ids.astype(str)
    return [[str(names[j]) for j in row] for row in order]


def _check_same_scale(train: Dataset, test: Dataset) -> None:
    """A test file must hold the same kind of values on the same scale as the training file."""
    if train.kind != test.kind:
        raise DataError(
            f"the test file holds {test.kind} data but the training file {train.kind} data",
            test.source, fix="give a test file of the same kind, or load both with the same --kind",
        )
    if train.kind != "explicit" or not test.nnz or not train.nnz:
        return
    lo, hi = train.rating_scale or (float(train.values.min()), float(train.values.max()))
    t_lo, t_hi = float(test.values.min()), float(test.values.max())
    slack = 1e-6 * max(1.0, abs(hi - lo))
    if t_lo < lo - slack or t_hi > hi + slack:
        raise DataError(
            f"its ratings run from {t_lo:g} to {t_hi:g}, outside the training file's scale of {lo:g} to {hi:g}",
            test.source, fix="give a test file rated on the same scale as the training file",
        )


def check_model_budget(model, train: Dataset) -> None:
    """Refuse, before fitting, factors that cannot fit in memory (``--factors 3000000``).

    Counts the float32 factor matrices with room for the copies a fit makes,
    and the k x k float64 systems the least-squares solvers build per thread.
    """
    from .data.budget import check_allocation

    k = model.params.get("n_factors")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        return  # the model's own validation names the problem
    k = int(k)
    needed = 3 * 4 * k * (train.n_rows + train.n_cols) + 4 * 8 * k * k
    check_allocation(
        needed, f"{k:,} factors for {train.n_rows:,} {train.row_label}s and {train.n_cols:,} {train.col_label}s",
        path=None, fix="use fewer factors (n_factors, --factors)",
    )


# ------------------------------------------------------------ early stopping
def is_epoch_based(model_cls) -> bool:
    """Whether a model fits epoch by epoch (declares ``n_epochs``), so early stopping applies to it."""
    return "n_epochs" in getattr(model_cls, "defaults", {})


def validation_spec(protocol: str, dataset: Dataset, fraction: float) -> str:
    """The split that carves early stopping's validation part out of a fold's training data.

    The same family as the protocol, so validation looks like the test it
    stands in for: ``random``/``kfold``/a test file -> ``random:F``,
    ``user`` -> ``user:F``, ``time``/``time-user`` -> the same with ``F``,
    ``leave:K`` -> ``leave:K``, ``cells`` -> ``cells:F``; for ``all`` the
    data's own default family (``random`` for ratings, ``user`` for
    interactions, ``cells`` for documents, images and grids).
    """
    kind, value = _parse(protocol)
    if dataset.kind in DECOMPOSED_KINDS:
        return f"cells:{fraction:g}"
    if kind in ("user", "time", "time-user"):
        return f"{kind}:{fraction:g}"
    if kind == "leave":
        return f"leave:{value}"
    if kind == "all" and dataset.kind == "implicit":
        return f"user:{fraction:g}"
    return f"random:{fraction:g}"


def carve_validation(train: Dataset, spec: str, seed: int) -> tuple[Dataset, Dataset, str]:
    """Split a fold's training data into what the model fits and the validation part it stops on.

    Parameters
    ----------
    train : Dataset
        A fold's training side (or all the data under ``all``).
    spec : str
        From :func:`validation_spec`.
    seed : int
        Seed of the carve.

    Returns
    -------
    fit_train, validation : Dataset
        In ``train``'s id space. Held-out cells of documents are marked
        ``missing_cells`` in ``fit_train`` (unknown, not zero), on top of
        any the fold already held out.
    description : str
        What was carved, for reports.

    Raises
    ------
    DataError
        The training data is too small to carve the validation part from.
    """
    from dataclasses import replace

    from .data.splits import _random_cells, cell_split, random_split

    kind, value = _parse(spec)
    if kind != "cells":
        split = split_from_spec(train, spec, seed=seed)[0]
        return split.train, split.test, split.description
    fraction = float(value)
    held_before = train.missing_cells if train.missing_cells is not None else np.zeros(0, dtype=np.int64)
    if train.kind in ("dense", "images") and not train.fully_observed:
        # Its empty cells are unknown already: hold out observed cells, which then become unknown too.
        split = random_split(train, fraction, seed=seed)
        return split.train, split.test, f"validation: {split.description}"
    if held_before.size == 0:
        split = cell_split(train, fraction, seed=seed)
        return split.train, split.test, f"validation: {split.description}"
    # Documents whose test cells are held out already: draw among the cells still known.
    n_rows, n_cols = train.shape
    n_cells = n_rows * n_cols
    n_known = n_cells - held_before.size
    n_pick = int(math.floor(fraction * n_known + 0.5))
    if n_pick == 0 or n_pick >= n_known:
        raise DataError(f"a validation share of {fraction:g} of {n_known:,} known cells leaves a part empty",
                        fix="choose another validation fraction")
    rng = np.random.default_rng(seed)
    # A uniform draw of n_pick + |held| cells, less the held ones, thinned to n_pick: uniform over known cells.
    drawn = np.setdiff1d(_random_cells(rng, n_cells, min(n_pick + held_before.size, n_cells)), held_before)
    picked = np.sort(drawn[rng.permutation(drawn.size)[:n_pick]])
    stored = train.rows.astype(np.int64) * n_cols + train.cols
    in_val = np.isin(stored, picked)
    values = np.zeros(picked.size, dtype=np.float32)
    order = np.argsort(stored[in_val])
    values[np.searchsorted(picked, stored[in_val][order])] = train.values[in_val][order]
    base = train.name or "data"
    fit_train = replace(train.subset(~in_val, name=f"{base} (fit)"),
                        missing_cells=np.union1d(held_before, picked))
    rows, cols = np.divmod(picked, n_cols)
    validation = replace(train, rows=rows, cols=cols, values=values, timestamps=None, missing_cells=None,
                         name=f"{base} (validation)", notes=list(train.notes), truth=dict(train.truth))
    return fit_train, validation, f"validation: {n_pick:,} of the {n_known:,} known cells, seed {seed}"


class EarlyStopper:
    """Watches one validation metric epoch by epoch; keeps the best epoch's fitted state.

    Parameters
    ----------
    patience : int
        Stop after this many epochs in a row without a strict improvement.
    metric : str
        The name recorded per epoch as ``val_<metric>``.
    higher_is_better : bool
    measure : callable
        ``measure(model) -> float``: the metric of the model as it is now.
    """

    def __init__(self, patience: int, metric: str, higher_is_better: bool, measure):
        self.patience = int(patience)
        self.metric = metric
        self.higher_is_better = bool(higher_is_better)
        self.measure = measure
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict | None = None
        self.wait = 0
        self.epochs_run = 0
        self.stopped_epoch: int | None = None
        self.diverged: str | None = None

    def update(self, model, step) -> bool:
        """Measure after ``step``, record ``val_<metric>`` in its metrics; True when the fit should stop."""
        value = float(self.measure(model))
        self.epochs_run = step.epoch
        step.metrics[f"val_{self.metric}"] = value
        better = math.isfinite(value) and (
            self.best_value is None
            or (value > self.best_value if self.higher_is_better else value < self.best_value))
        if better:
            self.best_value, self.best_epoch, self.wait = value, step.epoch, 0
            self.best_state = model.fitted_state()
        else:
            self.wait += 1
        stop = self.wait >= self.patience and step.epoch < step.n_epochs
        if stop:
            self.stopped_epoch = step.epoch
        step.extra["early_stopping"] = {"best_epoch": self.best_epoch, "wait": self.wait, "stopped": stop}
        return stop

    def restore(self, model) -> None:
        """Give the model back the best epoch's state (it keeps the history of every epoch run)."""
        if self.best_state is not None:  # also after a divergence: the state then is the diverged one
            model.restore_fitted_state(self.best_state)
        self.best_state = None  # free it: the fold is done


# -------------------------------------------------------------- experiment
@dataclass(eq=False)
class FoldResult:
    """One fitted model of an experiment and its scores."""

    index: int
    split: Split | None
    model: object
    train: Dataset
    metrics: dict = field(default_factory=dict)
    reference_metrics: dict = field(default_factory=dict)
    #: Early stopping (None without it): the epoch whose state was kept, the epoch the fit stopped at
    #: (None when it ran every planned epoch), and the whole record (see :meth:`Experiment.iter_fold`).
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    early_stopping: dict | None = None
    #: The validation part carved from ``train`` for early stopping (the model was fitted on the rest).
    validation: Dataset | None = None


def _fold_mean(per_fold: list[dict]) -> dict:
    """The mean of each metric every fold has (empty without folds)."""
    if not per_fold:
        return {}
    names = [n for n in per_fold[0] if all(n in m for m in per_fold)]
    return {n: float(np.mean([m[n] for m in per_fold])) for n in names}


def _fold_spread(per_fold: list[dict]) -> dict:
    """The standard deviation over folds of each metric of :func:`_fold_mean` (empty below two folds)."""
    if len(per_fold) < 2:
        return {}
    return {n: float(np.std([m[n] for m in per_fold], ddof=1)) for n in _fold_mean(per_fold)}


class Experiment:
    """Data + model + protocol -> splits, a reference model, fits and scores.

    Parameters
    ----------
    dataset : Dataset
        The data (the training file when ``test_data`` is given).
    model : str or Model class
        A name from :data:`mfstudio.models.MODELS`, or the class.
    params : dict, optional
        Model parameters (validated when the fit starts).
    protocol : str, optional
        A spec from :data:`PROTOCOL_FORMS` (``"random:0.2"``, ``"all"``...);
        default :func:`default_protocol`.
    seed : int
        Seed of the split.
    test_data : Dataset, optional
        A separate test file (``u1.test``): then the protocol is that file.
    k : int
        Cut-off of the ranking metrics.
    threshold : float, optional
        Lowest relevant rating for ranking metrics (default :func:`relevance_threshold`).
    early_stopping : int, optional
        Patience: for a model fitted epoch by epoch (one with ``n_epochs``),
        stop when the validation metric has not improved for this many epochs
        in a row, then give the model back the best epoch's fitted state, so
        the fold is scored with the best epoch's model. None (default) runs
        every epoch.
    validation_fraction : float
        With ``early_stopping``: the share of each fold's training data held
        out to stop on.
    ranking : bool
        True (default): every model is also scored by its top-k lists
        (precision, recall, NDCG, MAP, coverage) and AUC. False: a model that
        predicts ratings, and its reference, by RMSE and MAE only (quicker;
        the terminal's ``fit`` without ``--ranking``); models that only rank
        are ranked regardless.

    Notes
    -----
    Early stopping never looks at the test fold: that would choose the epoch
    by the very numbers it then reports. Each fold's *training* data is
    split again (:func:`carve_validation`; the same split family as the
    protocol, :func:`validation_spec`; seed ``seed + 1 + fold index``); the
    model is fitted on the rest, stopped on the validation part, and scored
    on the fold's test set as usual. With protocol ``all`` (no test set) the
    validation part is carved from all the data the same way. The metric is
    the validation RMSE for models predicting ratings, NDCG@k (higher is
    better) for ranking models, and the relative error on held-out cells for
    decompositions (NMF). Each epoch's :class:`FitStep` gets ``val_<metric>``
    in its metrics and ``extra["early_stopping"]`` (``best_epoch``, ``wait``,
    ``stopped``); each :class:`FoldResult` gets ``best_epoch``,
    ``stopped_epoch`` and the ``early_stopping`` record; :meth:`notes` says
    where it stopped. A fit that diverges after a good epoch keeps that epoch.

    Examples
    --------
    >>> from mfstudio.data import open_data
    >>> exp = Experiment(open_data("sample:movies"), "sgd", {"n_epochs": 5})
    >>> result = exp.run()            # doctest: +SKIP
    >>> sorted(result.metrics)[:3]    # doctest: +SKIP
    ['auc', 'coverage@10', 'map@10']
    """

    def __init__(self, dataset: Dataset, model, params: dict | None = None, *, protocol: str | None = None,
                 seed: int = 0, test_data: Dataset | None = None, k: int = 10, threshold: float | None = None,
                 test_name: str | None = None, early_stopping: int | None = None, validation_fraction: float = 0.1,
                 ranking: bool = True):
        from .models import MODELS
        from .models.params import ParamError

        self.model_cls = MODELS[model] if isinstance(model, str) else model
        if early_stopping is not None:
            if isinstance(early_stopping, bool) or not isinstance(early_stopping, (int, np.integer)) \
                    or early_stopping < 1:
                raise ParamError(f"early stopping's patience must be a whole number of epochs >= 1, not "
                                 f"{early_stopping!r}", param="early_stopping", fix="give e.g. 5")
            if not is_epoch_based(self.model_cls):
                raise ParamError(
                    f"{self.model_cls.title or self.model_cls.name} is not fitted epoch by epoch, so it cannot "
                    "stop early", param="early_stopping",
                    fix="leave early stopping off, or choose a model with an n_epochs parameter")
        try:
            fraction_ok = 0.0 < float(validation_fraction) < 1.0
        except (TypeError, ValueError):
            fraction_ok = False
        if not fraction_ok:
            raise ParamError(f"the validation fraction must be between 0 and 1, not {validation_fraction!r}",
                             param="validation_fraction", fix="give e.g. 0.1")
        self.early_stopping = None if early_stopping is None else int(early_stopping)
        self.validation_fraction = float(validation_fraction)
        # ranking=False (the terminal's `fit` without --ranking): rating models on ratings are scored by
        # RMSE/MAE only, and so is their reference; a model that only ranks is always ranked.
        self.ranking = bool(ranking) or not (dataset.kind == "explicit"
                                             and getattr(self.model_cls, "task", None) in ("rating", "reconstruction"))
        self.params = dict(params or {})
        self.seed = int(seed)
        self.k = int(k)
        self.chosen_by_default = protocol is None and test_data is None
        if test_data is not None:
            _check_same_scale(dataset, test_data)
            self.dataset, self.test_data = common_id_space(dataset, test_data)
            self.protocol = f"test-file:{test_name or test_data.name or 'the test file'}"
        else:
            self.dataset, self.test_data = dataset, None
            self.protocol = protocol or default_protocol(dataset, self.model_cls)
        if self.dataset.kind not in self.model_cls.kinds:
            raise DataError(
                f"{self.model_cls.title or self.model_cls.name} fits {' or '.join(self.model_cls.kinds)} data, "
                f"but this dataset holds {self.dataset.kind} data",
                fix="choose another method, or treat the data as another kind (--kind)",
            )
        self.threshold = threshold if threshold is not None else relevance_threshold(self.dataset)
        self.protocol_line = describe_protocol(self.protocol, self.dataset, self.chosen_by_default)
        self.reference_name = reference_name(self.dataset, self.protocol)
        #: New items are also ranked among themselves (``new_items_*`` metrics): under cold-items protocols.
        self.new_items_ranked = self.test_data is None and _cold_kind(_parse(self.protocol)[0]) == "cold-items"
        self.splits: list[Split | None] | None = None
        #: The reference's scores on each fold scored so far (fold index -> metrics), fitted on that fold's training.
        self.reference_by_fold: dict[int, dict] = {}
        #: False: no reference is fitted (a sweep ranks its points against each other).
        self.score_reference = True
        self.folds: list[FoldResult] = []

    # ------------------------------------------------------------ set-up
    def new_model(self):
        """A fresh, unfitted model with the experiment's parameters."""
        return self.model_cls(**self.params)

    def prepare(self) -> None:
        """Make the splits and score the reference model on the first one (slow: run it on a worker)."""
        if self.splits is not None:
            return
        if self.test_data is not None:
            self.splits = [Split.from_datasets(self.dataset, self.test_data, self.protocol_line)]
        else:
            self.splits = make_splits(self.dataset, self.protocol, seed=self.seed)
        self._reference_on_fold(0)

    def _reference_on_fold(self, index: int) -> None:
        """Fit the reference on fold ``index``'s training data and score it on its test, once."""
        split = self.splits[index]
        if not self.score_reference or index in self.reference_by_fold or split is None:
            return
        reference = reference_model_for(self.dataset, self.protocol)
        if reference is not None:
            reference.fit(split.train)
            self.reference_by_fold[index] = evaluate(reference, split.train, split.test, k=self.k,
                                                     threshold=self.threshold, ranking=self.ranking,
                                                     new_items=self.new_items_ranked)

    @property
    def reference_metrics(self) -> dict:
        """The reference's scores, averaged over the same folds as :attr:`metrics` once they are fitted.

        Before any fold is fitted, the first fold's (what the first curves are
        drawn against). Under k-fold the model's metrics are means over folds,
        so the reference's are too: one fold's reference against the mean of
        all would compare different test sets.
        """
        scored = self._reference_scored()
        return _fold_mean(scored) if scored else dict(self.reference_by_fold.get(0, {}))

    @property
    def reference_spread(self) -> dict:
        """Standard deviation of the reference's scores over the fitted folds (k-fold only; empty otherwise)."""
        return _fold_spread(self._reference_scored())

    def _reference_scored(self) -> list[dict]:
        return [self.reference_by_fold[f.index] for f in self.folds if f.index in self.reference_by_fold]

    @property
    def n_folds(self) -> int:
        self.prepare()
        return len(self.splits)

    def split_report(self) -> str:
        """One line per fold: sizes and cold users/items."""
        self.prepare()
        if self.splits == [None]:
            return f"all {self.dataset.nnz:,} entries used for fitting; no test set"
        splits = [s for s in self.splits if s is not None]
        if len(splits) == 1:
            return splits[0].report()
        # k folds: one line with each count's range, not k nearly identical reports.
        def span(values) -> str:
            lo, hi = min(values), max(values)
            return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"
        train = splits[0].train
        line = (f"{len(splits)} folds of {span([s.n_train for s in splits])} train / "
                f"{span([s.n_test for s in splits])} test {_entry_word(train)}")
        for count, label in ((lambda s: s.cold_users, train.row_label), (lambda s: s.cold_items, train.col_label)):
            values = [count(s) for s in splits]
            if any(values):
                line += f"; {span(values)} test {label}s per fold without training data"
        return line

    # ------------------------------------------------------------ fitting
    def iter_fold(self, index: int = 0, model=None) -> Iterator:
        """Fit fold ``index`` epoch by epoch, yielding each :class:`FitStep` with its metrics.

        The step's ``metrics`` hold, by task: ``train_rmse``/``train_mae`` (a
        fixed sample of training entries, no penalty) and ``rmse``/``mae``
        (test) for rating predictions; ``precision@k``/``ndcg@k`` on a fixed
        sample of test users for ranking models; ``train_relative_error`` (and
        ``relative_error`` on held-out cells) for decompositions. When the
        generator is exhausted (or closed early, on cancel) the fold's final
        scores are in :attr:`folds`.

        With early stopping each step also has ``val_<metric>`` (on the
        validation part carved from the fold's training data) and
        ``extra["early_stopping"]``; the generator ends after the step whose
        ``extra["early_stopping"]["stopped"]`` is True, and the model then
        holds the best epoch's state (its ``history_`` keeps every epoch run).
        """
        from .models.base import FitDiverged  # (here: importing the models loads the kernels)

        self.prepare()
        split = self.splits[index]
        model = model if model is not None else self.new_model()
        train = split.train if split is not None else self.dataset
        test = split.test if split is not None else None
        self._reference_on_fold(index)
        fold = FoldResult(index, split, model, train, reference_metrics=self.reference_by_fold.get(index, {}))
        check_model_budget(model, train)
        fit_train, stopper = train, None
        if self.early_stopping is not None:
            spec = validation_spec(self.protocol, train, self.validation_fraction)
            fit_train, validation, carved = carve_validation(train, spec, seed=self.seed + 1 + index)
            stopper = self._stopper(model, fit_train, validation)
            fold.validation = validation
        epoch_metrics = self._epoch_metrics_function(model, fit_train, test)
        generator = model.iter_fit(fit_train)
        try:
            for step in generator:
                step.metrics.update(epoch_metrics())
                stop = stopper is not None and stopper.update(model, step)
                yield step
                if stop:
                    break
        except FitDiverged as exc:
            if stopper is None or stopper.best_epoch is None:
                raise
            stopper.diverged = str(exc)
            stopper.stopped_epoch = stopper.epochs_run + 1
        finally:
            generator.close()
            if stopper is not None:
                stopper.restore(model)
                fold.best_epoch, fold.stopped_epoch = stopper.best_epoch, stopper.stopped_epoch
                fold.early_stopping = {
                    "patience": stopper.patience, "metric": stopper.metric, "monitor": f"val_{stopper.metric}",
                    "higher_is_better": stopper.higher_is_better, "validation_fraction": self.validation_fraction,
                    "validation_split": spec, "validation_description": carved,
                    "n_fit": int(fit_train.nnz), "n_validation": int(validation.nnz),
                    "n_epochs": int(model.expected_steps()), "epochs_run": stopper.epochs_run,
                    "best_epoch": stopper.best_epoch, "best_value": stopper.best_value,
                    "stopped_epoch": stopper.stopped_epoch, "diverged": stopper.diverged,
                }
            if getattr(model, "history_", None):
                # Ranking leaves out every item the user has in the fold's training data, validation part
                # included; without a test set the training errors are those of what the model was fitted on.
                fold.metrics = evaluate(model, train if test is not None else fit_train, test, k=self.k,
                                        threshold=self.threshold, ranking=self.ranking,
                                        new_items=self.new_items_ranked)
                self.folds = [f for f in self.folds if f.index != index] + [fold]
                self.folds.sort(key=lambda f: f.index)

    def _stopper(self, model, fit_train: Dataset, validation: Dataset) -> EarlyStopper:
        """The early stopper for one fold: which validation metric, measured how."""
        if fit_train.kind in DECOMPOSED_KINDS:
            return EarlyStopper(self.early_stopping, "relative_error", False,
                                lambda m: _held_out_cells(m, validation)["relative_error"])
        if predicts_ratings(model, fit_train):
            return EarlyStopper(self.early_stopping, "rmse", False,
                                lambda m: rating_errors(m, validation)["rmse"])
        k, threshold, name = self.k, self.threshold, f"ndcg@{self.k}"

        def ndcg(m):
            scores = ranking_scores(m, fit_train, validation, k=k, threshold=threshold,
                                    max_users=EPOCH_RANKING_USERS, with_auc=False)
            if name not in scores:
                raise DataError(
                    "the validation part carved for early stopping has no relevant entry of a user with training "
                    "data, so there is nothing to stop on", fix="raise the validation fraction, or use more data")
            return scores[name]
        return EarlyStopper(self.early_stopping, name, True, ndcg)

    def _epoch_metrics_function(self, model, train: Dataset, test: Dataset | None):
        """What to measure after each epoch: cheap, on fixed samples."""
        if train.kind in DECOMPOSED_KINDS:
            small = train.nnz <= 2_000_000 and train.n_rows * train.n_cols <= 50_000_000

            def decomposition():
                out = {"train_relative_error": reconstruction_scores(model)["relative_error"]} if small else {}
                if test is not None and test.nnz:
                    out.update(_held_out_cells(model, test))
                return out
            return decomposition
        if predicts_ratings(model, train):
            train_pick = _sample(train.nnz, EPOCH_SAMPLE_ENTRIES, seed=1)
            train_sample = train if train_pick is None else train.subset(train_pick)
            test_sample = None
            if test is not None and test.nnz:
                pick = _sample(test.nnz, 10 * EPOCH_SAMPLE_ENTRIES, seed=2)
                test_sample = test if pick is None else test.subset(pick)

            def ratings():
                out = rating_errors(model, train_sample, prefix="train_")
                if test_sample is not None:
                    out.update(rating_errors(model, test_sample))
                return out
            return ratings
        if test is None or not test.nnz:
            return dict
        k, threshold = self.k, self.threshold

        def ranking():
            scores = ranking_scores(model, train, test, k=k, threshold=threshold,
                                    max_users=EPOCH_RANKING_USERS, with_auc=False)
            return {name: scores[name] for name in (f"precision@{k}", f"ndcg@{k}") if name in scores}
        return ranking

    def run(self, on_step=None) -> "Experiment":
        """Fit every fold to completion (``on_step(fold_index, step)`` after each epoch); returns self."""
        for index in range(self.n_folds):
            for step in self.iter_fold(index):
                if on_step is not None:
                    on_step(index, step)
        return self

    # ------------------------------------------------------------ results
    @property
    def metrics(self) -> dict:
        """Final metrics, the mean over folds."""
        return _fold_mean([f.metrics for f in self.folds])

    @property
    def metrics_spread(self) -> dict:
        """Standard deviation over folds (k-fold only; empty otherwise)."""
        return _fold_spread([f.metrics for f in self.folds])

    @property
    def model(self):
        """The last fitted model (the one ``--save`` writes)."""
        return self.folds[-1].model if self.folds else None

    def as_dict(self) -> dict:
        """The JSON object ``mfstudio fit --json`` prints."""
        first = self.folds[0].model if self.folds else self.new_model()
        out = {
            "model": self.model_cls.name,
            "params": first.params,
            "data": self.dataset.name,
            "kind": self.dataset.kind,
            "protocol": self.protocol,
            "protocol_description": self.protocol_line,
            "split": self.protocol,
            "relevance_threshold": self.threshold,
            "metrics": {k: v for k, v in self.metrics.items() if not k.startswith("ranking_")},
            "metrics_spread": self.metrics_spread,
            "reference": ({"name": self.reference_name, "metrics": self.reference_metrics,
                           "metrics_spread": self.reference_spread} if self.reference_name else None),
            "fit_seconds": float(np.mean([f.model.fit_seconds_ for f in self.folds])) if self.folds else 0.0,
            "history": [step.as_dict() for step in first.history_],
            "folds": [
                {"metrics": f.metrics, "fit_seconds": f.model.fit_seconds_, **(f.split.as_dict() if f.split else {}),
                 **({"reference_metrics": f.reference_metrics} if f.reference_metrics else {}),
                 **({"early_stopping": f.early_stopping} if f.early_stopping is not None else {})}
                for f in self.folds
            ],
        }
        if self.folds and "ranking_users" in self.folds[0].metrics:
            m = self.folds[0].metrics
            out["ranking_users"] = {"scored": m["ranking_users"], "with_relevant_test_items": m["ranking_users_total"]}
        if self.dataset.kind == "documents" and self.folds:
            out["topics"] = top_terms(first, self.dataset)
        out["early_stopping"] = self._early_stopping_record()
        out["notes"] = self.notes()
        return out

    def _early_stopping_record(self) -> dict | None:
        """``as_dict()["early_stopping"]``: the settings, and the first fold's epochs (those of ``history``)."""
        if self.early_stopping is None:
            return None
        out = {"patience": self.early_stopping, "validation_fraction": self.validation_fraction}
        first = self.folds[0].early_stopping if self.folds else None
        if first:
            out.update({key: first[key] for key in (
                "metric", "monitor", "higher_is_better", "validation_split", "n_epochs", "epochs_run",
                "best_epoch", "best_value", "stopped_epoch", "diverged")})
        return out

    def early_stopping_notes(self) -> list[str]:
        """One line per fold: where early stopping stopped, and which epoch's model was kept."""
        notes = []
        for fold in self.folds:
            record = fold.early_stopping
            if not record or record["best_epoch"] is None:
                continue
            prefix = f"fold {fold.index + 1}: " if len(self.folds) > 1 else ""
            what = f"validation {record['metric']}"
            if record["diverged"]:
                notes.append(f"{prefix}stopped at epoch {record['stopped_epoch']} of {record['n_epochs']}: "
                             f"{record['diverged']}; kept epoch {record['best_epoch']} (best {what})")
            elif record["stopped_epoch"] is not None:
                notes.append(f"{prefix}stopped at epoch {record['stopped_epoch']} of {record['n_epochs']}: {what} "
                             f"had not improved for {record['patience']} epochs; kept epoch {record['best_epoch']}")
            elif record["epochs_run"] < record["n_epochs"]:
                notes.append(f"{prefix}ended at epoch {record['epochs_run']} of {record['n_epochs']} (cancelled or "
                             f"converged) without early stopping; kept epoch {record['best_epoch']}, the best {what}")
            else:
                notes.append(f"{prefix}early stopping did not stop: ran all {record['n_epochs']} epochs; kept epoch "
                             f"{record['best_epoch']}, the best {what}")
        return notes

    def notes(self) -> list[str]:
        """What the numbers do not say by themselves: missing metric families and why; early stopping."""
        notes = self.early_stopping_notes()
        if not self.folds or self.splits == [None]:
            return notes
        metrics = self.folds[0].metrics
        cold = int(metrics.get("ranking_cold_users", 0))
        if "auc" not in metrics and f"precision@{self.k}" not in metrics and cold:
            notes.append(f"no ranking metrics: none of the {cold:,} test {self.dataset.row_label}s with a relevant "
                         f"{_entry_word(self.dataset, 1)} had training data, so the model never saw them")
        elif cold:
            notes.append(f"{cold:,} test {self.dataset.row_label}s without training data were left out of the "
                         "ranking metrics (their rating errors are counted, predicted from the mean and biases)")
        elif f"precision@{self.k}" not in metrics and self.threshold is not None and "rmse" in metrics \
                and self.ranking:
            notes.append(f"no ranking metrics: no test rating reaches the relevance threshold {self.threshold:g}")
        sampled = metrics.get("ranking_auc_negatives")
        if sampled:
            notes.append(f"auc: each test {self.dataset.row_label}'s relevant {self.dataset.col_label}s against "
                         f"{sampled:,} of their unseen {self.dataset.col_label}s drawn at random (of up to "
                         f"{self.dataset.n_cols:,}): an unbiased estimate of the AUC over all of them")
        return notes
