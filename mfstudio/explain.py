"""Why this item: a recommendation's score taken apart into what the user rated.

:func:`explain` answers "why is *Star Wars* recommended to user 196?" with
entries that add up to the score the model gave:

- the bias terms of the model (global mean, the user's bias, the item's
  bias), each an entry of its own;
- one entry per item the user rated, largest first (the rest summed into one
  "other rated items" entry so that the list stays short and still adds up);
- for the ALS family, a "residual" entry: the difference between the
  user's saved factors and a fresh solve of the user's least-squares problem
  (ALS ends on an item half sweep, so the saved user vector is one solve
  behind; CG solves are approximate). It is usually tiny.

and the latent factors whose products ``p_uf * q_if`` dominate the dot
product.

Exact or attribution
--------------------
For ALS models the user's factors *are* a linear function of what they rated
(peer: ``benfred/implicit``'s ``explain``). Explicit ALS-WR (with biases,
:mod:`mfstudio.kernels.als`) solves, with ``z_j = [q_j, 1]`` and
``t_j = r_uj - mu - b_j``::

    A = sum_j z_j z_j^T + reg * n_u * I,      [p_u, b_u] = A^-1 sum_j t_j z_j

so ``p_u . q_i = sum_j t_j * [q_i, 0]^T A^-1 z_j`` (item j's share) and
``b_u = sum_j t_j * e_k^T A^-1 z_j`` (the user-bias entry). Implicit ALS
(Hu-Koren-Volinsky) solves ``(Y^T Y + reg I + sum_j (c_j - 1) y_j y_j^T) x_u =
sum_j c_j y_j``, so item j's share of ``x_u . y_i`` is ``c_j y_i^T W^-1 y_j``.
These are exact decompositions (``exact=True``).

Every other model (sgd, gd, svdpp, bpr, bpmf, svd, nmf) learns ``p_u`` in a
way that is not a closed-form function of the rated items. There the items'
shares are an *attribution*: each rated item's similarity to the recommended
item in factor space, ``q_i^T A^-1 q_j`` in the metric of a ridge fit of the
user's (centred) values on the item factors, times that centred value, then
rescaled so that the shares add up to the model's actual ``p_u . q_i``. The
explanation says so (``exact=False`` and :attr:`Explanation.method`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .data.errors import DataError

__all__ = ["Contribution", "FactorShare", "Explanation", "explain", "explain_many", "is_exact",
           "compare_recommendations", "ComparisonTable", "novelty"]

#: Model names whose explanation is an exact decomposition through the user's least-squares solve.
EXACT_MODELS = ("als", "implicit-als")


@dataclass(frozen=True)
class Contribution:
    """One entry of an explanation.

    Attributes
    ----------
    kind : str
        ``"item"`` (a rated item), ``"global_mean"``, ``"user_bias"``,
        ``"item_bias"``, ``"others"`` (the rated items beyond the first
        ``n``, summed) or ``"residual"`` (ALS: saved factors minus a fresh solve).
    item : str, int or None
        The rated item's raw id (``None`` for the other kinds).
    title : str
        What to show: the item's title, or a few words for the other kinds.
    contribution : float
        Its share of the score; all entries of an explanation add up to the score.
    value : float or None
        The user's rating (or interaction value) of the item.
    weight : float or None
        The item-item term: ``z_i^T A^-1 z_j`` (ALS) or the similarity used for the attribution.
    """

    kind: str
    item: object
    title: str
    contribution: float
    value: float | None = None
    weight: float | None = None

    def as_dict(self) -> dict:
        """``{kind, item, title, contribution, value, weight}`` with plain Python values."""
        return {"kind": self.kind, "item": _plain(self.item), "title": self.title,
                "contribution": float(self.contribution),
                "value": None if self.value is None else float(self.value),
                "weight": None if self.weight is None else float(self.weight)}


@dataclass(frozen=True)
class FactorShare:
    """One latent factor's part of the dot product ``p_u . q_i``.

    Attributes
    ----------
    factor : int
        0-based factor index.
    user_value, item_value : float
        ``p_uf`` and ``q_if``.
    product : float
        ``p_uf * q_if``.
    share : float
        ``|product| / sum_f |p_uf q_if|`` (0..1).
    """

    factor: int
    user_value: float
    item_value: float
    product: float
    share: float

    def as_dict(self) -> dict:
        return {"factor": self.factor, "user_value": self.user_value, "item_value": self.item_value,
                "product": self.product, "share": self.share}


@dataclass(frozen=True)
class Explanation:
    """A recommendation's score and the entries that add up to it.

    Attributes
    ----------
    user, item : raw ids
    title : str
        The recommended item's title.
    score : float
        The model's score of the item for the user (what ``recommend`` lists);
        ``sum(c.contribution for c in contributions) == score`` up to rounding.
    exact : bool
        True: an exact decomposition (ALS family). False: an attribution.
    method : str
        One sentence saying how the entries were computed (show it with them).
    contributions : tuple of Contribution
        Bias entries first (model order), then rated items, largest ``|share|``
        first, then ``others`` and ``residual`` when present.
    factors : tuple of FactorShare
        The dominant latent factors, largest ``|product|`` first.
    n_rated : int
        How many items the user rated (in the data the model learned from).
    """

    user: object
    item: object
    title: str
    score: float
    exact: bool
    method: str
    contributions: tuple = field(default_factory=tuple)
    factors: tuple = field(default_factory=tuple)
    n_rated: int = 0

    @property
    def items(self) -> tuple:
        """Only the rated items' entries, largest ``|contribution|`` first ("because you rated ...")."""
        return tuple(c for c in self.contributions if c.kind == "item")

    def total(self) -> float:
        """The sum of every entry (equals :attr:`score` up to rounding)."""
        return float(math.fsum(c.contribution for c in self.contributions))

    def because_you_rated(self, n: int = 3) -> str:
        """A short sentence for a table cell: the ``n`` items that pushed the score up most."""
        up = [c for c in self.items if c.contribution > 0][:n]
        if not up:
            return ""
        return "because you rated " + ", ".join(c.title for c in up)

    def as_dict(self) -> dict:
        """Plain JSON: ``contributions`` is a list of ``{kind, item, title, contribution, value, weight}``."""
        return {"user": _plain(self.user), "item": _plain(self.item), "title": self.title, "score": self.score,
                "exact": self.exact, "method": self.method, "n_rated": self.n_rated,
                "contributions": [c.as_dict() for c in self.contributions],
                "factors": [f.as_dict() for f in self.factors]}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def is_exact(model) -> bool:
    """Whether :func:`explain` gives an exact decomposition for this model (the ALS family)."""
    return getattr(model, "name", "") in EXACT_MODELS


# ------------------------------------------------------------------ pieces
def _user_entries(model, user: int) -> tuple[np.ndarray, np.ndarray]:
    """The user's items and values in the data the model learned from (``fit_data_``)."""
    data = model._fit_data()
    mask = data.rows == user
    items = data.cols[mask].astype(np.int64)
    values = data.values[mask].astype(np.float64)
    order = np.argsort(items, kind="stable")
    return items[order], values[order]


def _model_score(model, user: int, item: int) -> float:
    """The score ``recommend`` ranks by (``score_matrix``: unclipped, as the list shows it)."""
    return float(model.score_matrix(np.asarray([user]))[0, item])


def _ridge_kernel(Z: np.ndarray, A: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """``zi^T A^-1 z_j`` for every row ``z_j`` of ``Z`` (one solve: A is symmetric)."""
    return Z @ np.linalg.solve(A, zi)


def _als_explicit(model, user: int, item: int, items: np.ndarray, values: np.ndarray):
    """Exact ALS-WR decomposition: item shares of ``p_u . q_i``, the solved ``b_u``, bias terms."""
    Q = model.item_factors_.astype(np.float64)
    k = Q.shape[1]
    reg = float(model.params["reg"])
    item_bias = getattr(model, "item_bias_", None)
    use_bias = item_bias is not None and getattr(model, "user_bias_", None) is not None
    mu = float(getattr(model, "global_mean_", 0.0) or 0.0) if use_bias else 0.0
    target = values - mu - (item_bias[items] if use_bias else 0.0)
    Z = Q[items]
    if use_bias:
        Z = np.hstack([Z, np.ones((items.size, 1))])
    m = Z.shape[1]
    # The kernel's ridge is reg * n_u on every coordinate, the bias included.
    A = Z.T @ Z + reg * items.size * np.eye(m)
    B = np.linalg.solve(A, Z.T * target[None, :])     # column j: t_j A^-1 z_j
    factor_part = Q[item] @ B[:k]                     # item j's share of p_u . q_i
    bias_part = float(B[k].sum()) if use_bias else None
    base = []
    if use_bias:
        base = [("global_mean", mu), ("user_bias", bias_part), ("item_bias", float(item_bias[item]))]
    weights = Z @ np.linalg.solve(A, np.append(Q[item], 0.0) if use_bias else Q[item])
    return base, factor_part, weights


def _als_implicit(model, user: int, item: int, items: np.ndarray, values: np.ndarray):
    """Exact Hu-Koren-Volinsky decomposition: ``c_j * y_i^T W^-1 y_j``."""
    from .models.als import confidence

    p = model.params
    Y = model.item_factors_.astype(np.float64)
    k = Y.shape[1]
    spark = p.get("engine") == "spark"
    if spark:  # Spark: linear confidence of |r|, ridge reg * n_u (see mfstudio.models.als._spark_fit)
        c = 1.0 + float(p["alpha"]) * np.abs(values)
        ridge = float(p["reg"]) * items.size
    else:
        c = confidence(np.maximum(values, 0.0), p["scaling"], float(p["alpha"]), float(p["epsilon"])).astype(np.float64)
        ridge = float(p["reg"])
    Yu = Y[items]
    W = Y.T @ Y + ridge * np.eye(k) + (Yu * (c - 1.0)[:, None]).T @ Yu
    weights = _ridge_kernel(Yu, W, Y[item])
    return [], c * weights, weights


def _attribution(model, user: int, item: int, items: np.ndarray, values: np.ndarray, dot: float):
    """Similarity-weighted shares of ``dot`` (not exact): ridge kernel similarity times centred value."""
    Q = model.item_factors_.astype(np.float64)
    Zu = Q[items]
    if model.task == "ranking" or model._fit_data().kind != "explicit":
        target = np.ones(items.size)  # an interaction is evidence "for", whatever its count
    else:
        item_bias = model._item_bias_all()
        target = values - model._mu() - (item_bias[items] if item_bias is not None else 0.0)
        if model._mu() == 0.0 and item_bias is None:
            target = values  # a model without offsets (gd, nmf, svd) fits the values themselves
    reg = float(model.params.get("reg", model.fold_in_reg)) * max(items.size, 1)
    A = Zu.T @ Zu + max(reg, 1e-9) * np.eye(Q.shape[1])
    weights = _ridge_kernel(Zu, A, Q[item])
    raw = weights * target
    total, spread = float(raw.sum()), float(np.abs(raw).sum())
    if spread == 0.0:
        shares = np.full(items.size, dot / max(items.size, 1))
    elif total * dot > 0 and 0.2 <= dot / total <= 5.0:
        shares = raw * (dot / total)  # the usual case: the ridge fit points the way the model does
    else:
        # The model's p_u is far from the ridge fit: keep each item's signed evidence and spread
        # the rest of the dot product by the size of that evidence, so the shares still add up.
        shares = raw + (dot - total) * np.abs(raw) / spread
    return shares, weights


# --------------------------------------------------------------------- API
def explain(model, raw_user, raw_item, n: int = 10, n_factors: int = 3) -> Explanation:
    """Take a recommendation's score apart into bias terms and the user's rated items.

    Parameters
    ----------
    model : fitted :class:`mfstudio.models.base.FactorModel`
    raw_user, raw_item : ids as in the data file
    n : int
        How many rated items get an entry of their own (largest shares); the
        rest are summed into one ``"others"`` entry, so the entries always add
        up to the score. ``n <= 0`` keeps every rated item.
    n_factors : int
        How many dominant latent factors to report.

    Returns
    -------
    Explanation
        ``exact`` is True for ``als`` and ``implicit-als`` (decomposition
        through the user's least-squares solve), False for the others
        (similarity-weighted attribution, rescaled to the score).

    Raises
    ------
    DataError
        The user or item is not in the training data, or the user rated nothing the model learned from.
    """
    from .recommend import _item_index, _user_index

    model._check_fitted()
    user, item = _user_index(model, raw_user), _item_index(model, raw_item)
    train = model.train_
    items, values = _user_entries(model, user)
    if items.size == 0:
        raise DataError(f"{train.row_label} '{raw_user}' has nothing the model learned from, so nothing explains "
                        "its scores", fix="pick a user with ratings (or, for ranking models, liked items)")
    score = _model_score(model, user, item)
    vector = np.asarray(model._user_vectors(np.asarray([user]))[0], dtype=np.float64)
    q_i = model.item_factors_[item].astype(np.float64)
    dot = float(vector @ q_i)
    name = model.name
    exact = name in EXACT_MODELS
    entries: list[Contribution] = []
    if exact:
        if name == "als":
            base, shares, weights = _als_explicit(model, user, item, items, values)
            method = ("exact: ALS-WR solves the user's factors and bias by ridge regression on their ratings, so "
                      "each rated item's share is (rating - mean - item bias) x z_i^T A^-1 z_j")
        else:
            base, shares, weights = _als_implicit(model, user, item, items, values)
            method = ("exact: implicit ALS solves the user's factors from their interactions, so each item's "
                      "share is confidence x y_i^T W^-1 y_j (as implicit's explain)")
        for kind, value in base:
            entries.append(Contribution(kind, None, _BASE_TITLES[kind], float(value)))
        solved = float(math.fsum(v for _, v in base)) + float(shares.sum())
        residual = score - solved
    else:
        mu = model._mu()
        user_bias = float(np.asarray(model._user_bias(np.asarray([user])), dtype=np.float64)[0])
        item_bias_all = model._item_bias_all()
        item_bias = float(item_bias_all[item]) if item_bias_all is not None else 0.0
        for kind, value, present in (("global_mean", mu, mu != 0.0),
                                     ("user_bias", user_bias, getattr(model, "user_bias_", None) is not None),
                                     ("item_bias", item_bias, item_bias_all is not None)):
            if present:
                entries.append(Contribution(kind, None, _BASE_TITLES[kind], float(value)))
        # Whatever the model adds besides mean, biases and the dot product (NMF's own predict, cold
        # handling) is part of what the items explain: the shares add up to the score itself.
        target = score - math.fsum(c.contribution for c in entries)
        shares, weights = _attribution(model, user, item, items, values, target)
        method = ("attribution, not an exact decomposition: each rated item's similarity to this one in factor "
                  "space (ridge metric) times its centred value, rescaled so the shares add up to the score")
        residual = None
    order = np.argsort(-np.abs(shares), kind="stable")
    keep = order if n <= 0 else order[:n]
    titles = train.title_of(items[keep]) if keep.size else []
    for j, title in zip(keep, titles):
        entries.append(Contribution("item", _plain(train.col_ids[items[j]]), str(title), float(shares[j]),
                                    value=float(values[j]), weight=float(weights[j])))
    rest = order[keep.size:]
    if rest.size:
        entries.append(Contribution("others", None, f"{rest.size} other rated {train.col_label}s",
                                    float(math.fsum(shares[rest]))))
    if residual is not None:
        entries.append(Contribution("residual", None, "saved factors vs. a fresh solve of the user", float(residual)))
    return Explanation(
        user=raw_user, item=_plain(train.col_ids[item]), title=str(train.title_of(np.asarray([item]))[0]),
        score=score, exact=exact, method=method, contributions=tuple(entries),
        factors=_factor_shares(vector, q_i, n_factors), n_rated=int(items.size),
    )


_BASE_TITLES = {"global_mean": "global mean", "user_bias": "user bias", "item_bias": "item bias"}


def _factor_shares(p: np.ndarray, q: np.ndarray, n: int) -> tuple:
    products = p * q
    spread = float(np.abs(products).sum()) or 1.0
    order = np.argsort(-np.abs(products), kind="stable")[:max(0, n)]
    return tuple(FactorShare(int(f), float(p[f]), float(q[f]), float(products[f]), float(abs(products[f]) / spread))
                 for f in order)


def explain_many(model, raw_user, raw_items, n: int = 10, n_factors: int = 3) -> list[Explanation]:
    """:func:`explain` for each of ``raw_items`` (a recommendation list)."""
    return [explain(model, raw_user, item, n=n, n_factors=n_factors) for item in raw_items]


# ------------------------------------------------------ several models, one user
def novelty(train) -> np.ndarray:
    """Per item ``-log2(share of users who have it in train)``: 0 for an item everyone has; inf if nobody.

    Parameters
    ----------
    train : Dataset

    Returns
    -------
    ndarray of float64, shape (n_cols,)
    """
    users_per_item = np.bincount(train.cols, minlength=train.n_cols).astype(np.float64)
    share = users_per_item / max(train.n_rows, 1)
    with np.errstate(divide="ignore"):
        return -np.log2(share)


@dataclass(frozen=True)
class ComparisonTable:
    """The recommendation lists of several models for one user, side by side.

    Attributes
    ----------
    user : raw id
    names : tuple of str
        The models' names, in column order.
    lists : dict
        ``name -> list of row dicts`` (``rank, item, title, score, genres`` as
        :func:`mfstudio.recommend.recommendations_for`, plus ``popularity``:
        the share of users who rated it, ``novelty``: ``-log2(popularity)``,
        ``in_lists``: how many of the lists hold the item, ``shared``: True
        when another list holds it too).
    mean_novelty : dict
        ``name -> mean novelty of its list`` (NaN for an empty list).
    overlap : dict
        ``(name_a, name_b) -> number of items both lists hold``.
    common : tuple
        Raw ids in every list.
    mean_popularity : dict
        ``name -> mean popularity of its list`` (the average share of the
        training data's users who rated its items; NaN for an empty list).
    n_shared : dict
        ``name -> how many of its items another list holds too``.
    missing : dict
        ``name -> why its list is empty`` (only with ``skip_missing=True``:
        the user is not in that model's training data).
    """

    user: object
    names: tuple
    lists: dict
    mean_novelty: dict
    overlap: dict
    common: tuple
    mean_popularity: dict = field(default_factory=dict)
    n_shared: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)

    @property
    def n_lists(self) -> int:
        """How many lists are compared (the "of 3" in "in 2 of 3 lists")."""
        return len(self.names)

    def as_dict(self) -> dict:
        return {"user": _plain(self.user), "names": list(self.names), "lists": self.lists,
                "mean_novelty": self.mean_novelty, "mean_popularity": self.mean_popularity,
                "n_shared": self.n_shared, "missing": self.missing,
                "overlap": [{"a": a, "b": b, "items": v} for (a, b), v in self.overlap.items()],
                "common": [_plain(x) for x in self.common]}


def compare_recommendations(models: dict, raw_user, n: int = 10, min_support: int | None = 0,
                            exclude_seen: bool = True, skip_missing: bool = False) -> ComparisonTable:
    """Top-``n`` lists of several fitted models for one user, with overlap and popularity/novelty.

    Parameters
    ----------
    models : dict
        ``name -> fitted model``. Their training data must share the user's raw id
        (items are matched by raw id, so different splits of one dataset compare).
    raw_user : id as in the data file
    n : int
        List length.
    min_support : int or None
        As :func:`mfstudio.recommend.recommendations_for`.
    exclude_seen : bool
        Leave out the items the user has in each model's training data.
    skip_missing : bool
        False: a model whose training data lacks the user raises. True: its
        list is empty and :attr:`ComparisonTable.missing` says why.

    Returns
    -------
    ComparisonTable
        Popularity and novelty of each item come from the training data of
        the model that lists it (:func:`novelty`).
    """
    from .recommend import recommendations_for

    if not models:
        raise DataError("no models to compare", fix="fit two or more models first")
    lists: dict = {}
    missing: dict = {}
    for name, model in models.items():
        try:
            rows = recommendations_for(model, raw_user, n=n, exclude_seen=exclude_seen, min_support=min_support)
        except DataError as exc:
            if not skip_missing:
                raise
            missing[name] = str(exc)
            rows = []
        nov = novelty(model.train_)
        index = model.train_.col_of([r["item"] for r in rows]) if rows else np.zeros(0, np.int64)
        for row, i in zip(rows, index):
            popularity = float(2.0 ** -nov[i]) if i >= 0 and np.isfinite(nov[i]) else 0.0
            row["popularity"] = popularity
            row["novelty"] = float(nov[i]) if i >= 0 else math.inf
        lists[name] = rows
    sets = {name: {r["item"] for r in rows} for name, rows in lists.items()}
    for name, rows in lists.items():
        for row in rows:
            row["in_lists"] = sum(row["item"] in s for s in sets.values())
            row["shared"] = row["in_lists"] > 1
    names = tuple(lists)
    overlap = {(a, b): len(sets[a] & sets[b]) for i, a in enumerate(names) for b in names[i + 1:]}
    common = set.intersection(*sets.values()) if sets else set()
    first = [r["item"] for r in lists[names[0]]]
    mean_novelty, mean_popularity, n_shared = {}, {}, {}
    for name, rows in lists.items():
        finite = [r["novelty"] for r in rows if np.isfinite(r["novelty"])]
        mean_novelty[name] = float(np.mean(finite)) if finite else float("nan")
        mean_popularity[name] = float(np.mean([r["popularity"] for r in rows])) if rows else float("nan")
        n_shared[name] = sum(1 for r in rows if r["shared"])
    return ComparisonTable(user=raw_user, names=names, lists=lists, mean_novelty=mean_novelty, overlap=overlap,
                           common=tuple(x for x in first if x in common), mean_popularity=mean_popularity,
                           n_shared=n_shared, missing=missing)
