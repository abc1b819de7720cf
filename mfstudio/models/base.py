"""The one fitting protocol every model follows, and what factor models share.

The GUI worker, the CLI and the tests drive every model the same way::

    for step in model.iter_fit(train, validation):   # one FitStep per epoch
        show(step)                                   # stop iterating to cancel
    model.predict(users, items)

``fit`` is ``for _ in iter_fit(...): pass``. Parameters are stored by
``__init__`` untouched and validated when fitting starts (as scikit-learn
does), so a model can be built from a form and checked when Run is pressed.
Fitted attributes end in ``_``.

:class:`FactorModel` is the base of every factorization: once a subclass has
set ``user_factors_`` and ``item_factors_`` (and optionally biases and a
global mean), prediction, batched top-N recommendation, similar items,
fold-in of a new user, scoring and save/load all come from here.

Two datasets live on a fitted model:

- ``train_`` is the data the model was given, every entry whatever its value.
  It is what "seen" means (recommendations leave these items out), what a
  user's known ratings are, and what :meth:`FactorModel.save` writes.
- ``fit_data_`` is what the fit learned from. For most models it is
  ``train_`` itself; ranking models (BPR, implicit ALS, popularity) given
  ratings keep only the ratings at or above their ``threshold`` there. An
  item a user rated 2 is not a "like", but it is not something to recommend
  back to them either.

Cold users and items, with no entry in ``fit_data_``, get no factor
contribution: a model predicting ratings answers with its global mean plus
whatever bias it knows, or the training mean when it has neither (never a
dot product of untrained vectors, never 0 clipped to the lowest star).

In fold-in (new-user mode) a value of NaN is a *tick*: "I liked this", with
no number. Ranking models take it as a positive interaction; models that
regress on rating values leave it out (:mod:`mfstudio.recommend` says so).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterator

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp  # only for annotations: scipy.sparse is imported where it is used

from ..data.arrays import unique_sorted
from ..data.dataset import Dataset
from ..data.errors import DataError
from ..kernels import lazy
from .params import Param, ParamError, check_params, float_param
from .stopping import stop_requested

_predict = lazy("predict")  # numba loads on the first prediction, not with the method list

__all__ = ["FitStep", "Model", "FactorModel", "FitDiverged", "NotFittedError", "as_interactions", "TICK_VALUE",
           "half_life_spec", "time_decay_weights"]

#: The fold-in value of a tick ("liked", no rating): NaN, so that no rating can be mistaken for one.
TICK_VALUE = float("nan")

#: Format tag written into saved models; bump when the layout changes.
SAVE_FORMAT = "mfstudio-model-2"
#: What every saved model's format tag starts with (how a save recognises an earlier one to replace).
SAVE_FORMAT_PREFIX = "mfstudio-model-"


class NotFittedError(RuntimeError):
    """predict/score called before fit."""


class FitDiverged(RuntimeError):
    """The loss became NaN/inf or exploded; the message names what to lower."""


@dataclass
class FitStep:
    """What one epoch (or iteration) of a fit reports.

    Attributes
    ----------
    epoch : int
        1-based epoch number.
    n_epochs : int
        Planned number of epochs.
    train_loss : float
        The objective on the training data after this epoch.
    metrics : dict of str to float
        Validation metrics (``rmse``, ``mae``, or ``precision@10``...) when a
        validation set was given.
    seconds : float
        Time since the fit started (training only, validation excluded).
    extra : dict
        Model-specific arrays worth plotting (e.g. the SVD spectrum so far).
    """

    epoch: int
    n_epochs: int
    train_loss: float
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"epoch": self.epoch, "train_loss": self.train_loss, "seconds": round(self.seconds, 6)}
        out.update(self.metrics)
        return out


def as_interactions(ds: Dataset, threshold: float) -> Dataset:
    """The positive interactions of a dataset, for ranking models.

    Implicit data is returned as it is. Explicit ratings keep the entries
    rated ``>= threshold`` (MovieLens: 4 and 5 stars are "liked"), each with
    its rating as the value (confidence models may use it).
    """
    if ds.kind == "implicit":
        return ds
    keep = ds.values >= threshold
    out = ds.subset(keep)
    out.kind = "implicit"
    out.rating_scale = None
    return out


def positives_for(model: "Model", train: Dataset) -> Dataset:
    """``train`` as interactions for a ranking model with a ``threshold`` parameter.

    Records on the model whether it was fitted on ratings (scoring then
    applies the same threshold to the test ratings) and refuses a threshold
    that leaves nothing to learn from.
    """
    threshold = float_param(model.params, "threshold")
    model.fitted_on_ratings_ = int(train.kind == "explicit")
    prepared = as_interactions(train, threshold)
    if prepared.nnz == 0:
        raise ParamError(f"no rating reaches threshold={threshold:g}", param="threshold", fix="lower the threshold")
    return prepared


#: The smallest time-decay weight: a rating years older than a short half-life would weigh 0.5^1000,
#: zero in floating point, and a row whose weights are all zero has no least-squares solution.
MIN_DECAY_WEIGHT = 1e-12


def half_life_spec() -> Param:
    """``half_life_days``, declared alike in every model that weights ratings by their age (0 = off)."""
    return Param("half_life_days", "float", 0.0,
                 "weight each rating by 0.5^(its age / half-life), age in days before the latest training rating "
                 "(0 = every rating counts alike)", low=0.0)


def time_decay_weights(train: Dataset, half_life_days: float) -> np.ndarray | None:
    """Each entry's time-decay weight ``0.5^((t_last - t) / half_life)``, or None when ``half_life_days`` is 0.

    ``t_last`` is the latest timestamp of ``train``: the newest rating weighs
    1, one a half-life older 0.5. Weights are floored at
    :data:`MIN_DECAY_WEIGHT`.

    Parameters
    ----------
    train : Dataset
        The training data; it must have timestamps when a half-life is set.
    half_life_days : float
        The half-life in days (0: off).

    Returns
    -------
    ndarray of float64, shape (train.nnz,), or None

    Raises
    ------
    ParamError
        (a :class:`~mfstudio.data.errors.DataError`) A half-life is set but the data has no timestamps.
    """
    if not half_life_days:
        return None
    if train.timestamps is None:
        raise ParamError(f"half_life_days={half_life_days:g} weights ratings by their age, but these ratings have "
                         "no timestamps", param="half_life_days",
                         fix="set half_life_days to 0, or load ratings with a timestamp column")
    age_days = (int(train.timestamps.max()) - train.timestamps).astype(np.float64) / 86_400.0
    return np.maximum(np.exp2(-age_days / half_life_days), MIN_DECAY_WEIGHT)


class Model:
    """Base class: parameters, the fit loop, prediction and scoring.

    Subclasses set :attr:`name` and :attr:`params_spec`, and implement
    :meth:`_fit_steps` (a generator of ``(train_loss, extra)`` per epoch) and
    :meth:`_predict` (scores for internal ids). :attr:`defaults`,
    :attr:`param_help` and :attr:`param_choices` are derived from
    :attr:`params_spec` when the class is created.
    """

    #: CLI name, e.g. "sgd".
    name: ClassVar[str] = ""
    #: Display name, e.g. "Biased SGD".
    title: ClassVar[str] = ""
    #: Plain-language one-liner for menus and the GUI.
    summary: ClassVar[str] = ""
    #: The objective, as a formula (plain text, for the GUI).
    objective: ClassVar[str] = ""
    #: Every hyperparameter, declared once (:class:`~mfstudio.models.params.Param`): the
    #: panel's editors, the CLI's parsing, validation and the contract test read it.
    params_spec: ClassVar[tuple[Param, ...]] = ()
    #: Default hyperparameters (derived from :attr:`params_spec`).
    defaults: ClassVar[dict] = {}
    #: One line per hyperparameter, for tooltips and --help (derived from :attr:`params_spec`).
    param_help: ClassVar[dict] = {}
    #: For parameters that take one of a few words: the words, default first
    #: (derived from :attr:`params_spec`).
    param_choices: ClassVar[dict] = {}
    #: Data kinds the model accepts.
    kinds: ClassVar[tuple[str, ...]] = ("explicit",)
    #: "rating" models are scored by RMSE/MAE, "ranking" models by precision/NDCG@K,
    #: "reconstruction" models by reconstruction error.
    task: ClassVar[str] = "rating"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "params_spec" in cls.__dict__:
            names = [p.name for p in cls.params_spec]
            if len(set(names)) != len(names):
                raise TypeError(f"{cls.__name__} declares a parameter twice: {names}")
            cls.defaults = {p.name: p.default for p in cls.params_spec}
            cls.param_help = {p.name: p.help for p in cls.params_spec}
            cls.param_choices = {p.name: p.choices for p in cls.params_spec if p.kind == "choice"}

    def __init__(self, **params):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ParamError(
                f"{type(self).__name__} has no parameter {', '.join(sorted(map(str, unknown)))}; "
                f"it takes {', '.join(self.defaults)}", param=str(sorted(map(str, unknown))[0]))
        self.params = {**self.defaults, **params}
        self.history_: list[FitStep] = []

    @classmethod
    def param(cls, name: str) -> Param:
        """The declaration of one parameter.

        Raises
        ------
        ParamError
            The model has no parameter of that name.
        """
        for declared in cls.params_spec:
            if declared.name == name:
                return declared
        raise ParamError(f"{cls.title or cls.__name__} has no parameter {name!r}; it takes {', '.join(cls.defaults)}",
                         param=name)

    def validate_params(self) -> dict:
        """Check every parameter against its declaration, without data (call it before starting a fit).

        Bounds that depend on the data (``n_factors`` at most the smaller
        side of the matrix) are checked when fitting starts.

        Returns
        -------
        dict
            The parameters in their plain types (aliases of a word replaced by the word).

        Raises
        ------
        ParamError
            One sentence naming the parameter, what it accepts and the value given.
        """
        values = check_params(self.params_spec, self.params)
        self._check_together(values)
        return values

    def _check_together(self, values: dict) -> None:
        """Rules joining two parameters (e.g. a loss that needs one solver); raise ParamError."""

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.params.items() if self.defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # ------------------------------------------------------------ fitting
    def _validate(self, train: Dataset) -> None:
        if train.kind not in self.kinds:
            raise DataError(
                f"{self.title or type(self).__name__} fits {' or '.join(self.kinds)} data, "
                f"but this dataset holds {train.kind} data"
            )
        if train.nnz == 0:
            raise DataError("the training set is empty", fix="load data with entries, or choose another split")

    def _prepare(self, train: Dataset) -> Dataset:
        """The dataset the model actually fits, ``fit_data_`` (ranking models keep positives)."""
        return train

    @property
    def predicts_ratings(self) -> bool:
        """Whether :meth:`predict` answers in the units of the training ratings.

        True for every model but the ranking ones when the training data are
        explicit ratings (SVD and NMF on ratings included); ranking scores
        and reconstructions of documents or images are not ratings.
        """
        self._check_fitted()
        return self.task != "ranking" and self.train_.kind == "explicit"

    def _fit_data(self) -> Dataset:
        data = getattr(self, "fit_data_", None)
        return self.train_ if data is None else data

    def _fit_steps(self, train: Dataset) -> Iterator[tuple[float, dict]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def iter_fit(self, train: Dataset, validation: Dataset | None = None) -> Iterator[FitStep]:
        """Fit epoch by epoch, yielding a :class:`FitStep` after each.

        Stop iterating to cancel: the model keeps the state of the last
        finished epoch and can predict with it. A flag installed with
        :func:`mfstudio.models.stopping.stop_when` stops the fit from another
        thread, mid-epoch for the models that chunk their epochs (the
        unfinished epoch is not reported).

        Raises
        ------
        FitDiverged
            The loss became NaN or infinite, or grew a thousandfold.
        """
        self.validate_params()
        self._validate(train)
        self.train_ = train
        self.fit_data_ = self._prepare(train)
        self.history_ = []
        self.fit_seconds_ = 0.0
        first_loss = None
        n_epochs = self.expected_steps()
        started = time.perf_counter()
        for epoch, (loss, extra) in enumerate(self._fit_steps(self.fit_data_), start=1):
            self.fit_seconds_ = time.perf_counter() - started
            loss = float(loss)
            if not math.isfinite(loss) or (first_loss is not None and loss > 1e3 * max(first_loss, 1e-12)):
                raise FitDiverged(self._divergence_advice(epoch, loss))
            if not self._fitted_state_finite():
                raise FitDiverged(self._divergence_advice(epoch, float("nan")))
            first_loss = loss if first_loss is None else first_loss
            metrics = self.score(validation, sample_users=2000) if validation is not None and validation.nnz else {}
            step = FitStep(epoch, n_epochs, loss, metrics, self.fit_seconds_, extra)
            self.history_.append(step)
            yield step
            if stop_requested():
                return
            started = time.perf_counter() - self.fit_seconds_  # validation time does not count

    def expected_steps(self) -> int:
        """How many steps :meth:`iter_fit` yields (``FitStep.n_epochs``; the progress bar's end)."""
        return int(self.params.get("n_epochs", 1))

    def fit(self, train: Dataset, validation: Dataset | None = None) -> "Model":
        """Fit to completion; returns self."""
        for _ in self.iter_fit(train, validation):
            pass
        return self

    def _fitted_state_finite(self) -> bool:
        return True

    #: Fitted attributes that say what the model was given or how long it took, not what it learned:
    #: :meth:`fitted_state` leaves them out (``history_`` keeps every epoch run, also after a restore).
    _UNSNAPSHOTTED: ClassVar[frozenset] = frozenset({"history_", "train_", "fit_data_", "fit_seconds_"})

    def fitted_state(self) -> dict:
        """A copy of everything the model predicts with, to put back later with :meth:`restore_fitted_state`.

        Generic, so every model gets it without code of its own: every public
        attribute ending in ``_`` that is a numpy array (copied), a number, a
        string, a bool or None, except the data and bookkeeping in
        ``_UNSNAPSHOTTED``. Early stopping takes one at each improving epoch
        (for ML-100K at k=100 that is ~1 MB, far below an epoch's cost).

        Returns
        -------
        dict of str to object
        """
        state = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_") or name in self._UNSNAPSHOTTED:
                continue
            if isinstance(value, np.ndarray):
                state[name] = value.copy()
            elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
                state[name] = value
        return state

    def restore_fitted_state(self, state: dict) -> None:
        """Put back a :meth:`fitted_state`: the model predicts as it did when the state was taken.

        Attributes of the snapshotted kinds that appeared after the snapshot
        (a cache built later) are removed, so nothing of the later epochs
        leaks into predictions. Arrays are copied again, so the same state
        can be restored twice.
        """
        for name, value in list(vars(self).items()):
            if (name.endswith("_") and not name.startswith("_") and name not in self._UNSNAPSHOTTED
                    and name not in state
                    and (value is None or isinstance(value, (np.ndarray, bool, int, float, str, np.generic)))):
                delattr(self, name)
        for name, value in state.items():
            setattr(self, name, value.copy() if isinstance(value, np.ndarray) else value)

    def _divergence_advice(self, epoch: int, loss: float) -> str:
        knob = next((k for k in ("lr", "learning_rate") if k in self.params), None)
        if knob:
            advice = f"; the learning rate is too high: lower {knob} (now {self.params[knob]:g})"
        elif "reg" in self.params:
            advice = f"; raise reg (now {self.params['reg']:g})"
        else:
            advice = ""
        shown = "NaN/inf in the factors" if math.isnan(loss) else f"training loss {loss:.4g}"
        return f"the fit diverged at epoch {epoch} ({shown}){advice}"

    # --------------------------------------------------------- prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "train_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, users, items) -> np.ndarray:
        """Predicted values for internal ``(user, item)`` pairs, clipped to the rating scale.

        Ids of -1 (unknown) and users or items without training entries get
        the model's fallback: the global mean plus whatever bias is known (the
        training mean for rating models without a mean or biases).
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        scores = np.asarray(self._predict(users, items), dtype=np.float64)
        scale = self.train_.rating_scale
        if scale is not None and self.task == "rating":
            scores = np.clip(scores, scale[0], scale[1])
        return scores

    def predict_entries(self, data: Dataset) -> np.ndarray:
        """Predicted values for every entry of ``data`` (in the training set's id space), as :meth:`predict`.

        The one place scoring asks for predictions of known entries, so that a
        model that also reads *when* an entry was made (timeSVD++ reads
        ``data.timestamps``) gets it; every other model predicts
        ``predict(data.rows, data.cols)``.

        Parameters
        ----------
        data : Dataset
            The entries to predict (a test or validation set).

        Returns
        -------
        ndarray of float64, shape (data.nnz,)
        """
        return self.predict(data.rows, data.cols)

    def predict_raw(self, user, item) -> float:
        """Prediction for one user and item given by their raw ids."""
        self._check_fitted()
        u = int(self.train_.row_of([user])[0])
        i = int(self.train_.col_of([item])[0])
        return float(self.predict([u], [i])[0])

    def score(self, test: Dataset, k: int = 10, sample_users: int | None = None) -> dict:
        """Metrics on a test set in the training set's id space.

        Rating models: ``rmse`` and ``mae`` over every test entry. Ranking
        models: ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k`` over the
        test users (at most ``sample_users`` of them, a fixed sample, when
        given: per-epoch validation on big data), with every item the user
        has in ``train_`` (any value) excluded from the lists.
        """
        from .. import metrics

        if self.task != "ranking":
            predictions = self.predict_entries(test)
            return {"rmse": metrics.rmse(test.values, predictions), "mae": metrics.mae(test.values, predictions)}
        positives = as_interactions(test, self.params.get("threshold", 4.0)) if test.kind == "explicit" else test
        users = unique_sorted(positives.rows)
        if sample_users is not None and users.size > sample_users:
            users = np.sort(np.random.default_rng(0).choice(users, sample_users, replace=False))
        relevant = metrics.SparseRows.for_users(positives.rows, positives.cols, users, positives.n_cols,
                                                values=positives.values)
        recommended, _ = self.recommend(users, n=k, exclude_seen=True)
        return metrics.ranking_metrics(recommended, relevant, k)


class FactorModel(Model):
    """A model whose prediction is ``mu + b_u + b_i + p_u . q_i``.

    Subclasses set, while fitting, ``user_factors_`` (n_users x k),
    ``item_factors_`` (n_items x k) and, where the model has them,
    ``user_bias_``, ``item_bias_`` and ``global_mean_``. Models with a
    different user representation (SVD++) override :meth:`_user_vectors`.
    """

    #: Ridge strength for :meth:`fold_in` when the model has no "reg" parameter.
    fold_in_reg: ClassVar[float] = 0.1

    # ----------------------------------------------------------- pieces
    def _fitted_state_finite(self) -> bool:
        for name in ("user_factors_", "item_factors_"):
            arr = getattr(self, name, None)
            if arr is not None and not np.isfinite(arr).all():
                return False
        return True

    def _mu(self) -> float:
        return float(getattr(self, "global_mean_", 0.0))

    def _trained(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Which users and items had entries in ``fit_data_``, and the mean of its values (cached)."""
        data = self._fit_data()
        cached = getattr(self, "_trained_cache", None)
        if cached is None or cached[0] is not data:
            n_users, n_items = self.user_factors_.shape[0], self.item_factors_.shape[0]
            users = np.bincount(data.rows, minlength=n_users)[:n_users] > 0
            items = np.bincount(data.cols, minlength=n_items)[:n_items] > 0
            mean = float(data.values.mean(dtype=np.float64)) if data.nnz else 0.0
            cached = self._trained_cache = (data, users, items, mean)
        return cached[1], cached[2], cached[3]

    def _handles_cold(self) -> bool:
        """Cold users and items matter for ratings and interactions, not for documents or images."""
        return self._fit_data().kind in ("explicit", "implicit")

    def _offset_free(self) -> bool:
        """A rating model that predicts ``p_u . q_i`` alone (no mean, no biases): 0 where it knows nothing."""
        if not self.predicts_ratings:
            return False
        has_bias = any(getattr(self, name, None) is not None for name in ("user_bias_", "item_bias_"))
        return not has_bias and float(getattr(self, "global_mean_", 0.0) or 0.0) == 0.0

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users]

    def _user_bias(self, users: np.ndarray) -> np.ndarray:
        bias = getattr(self, "user_bias_", None)
        return np.zeros(users.shape) if bias is None else bias[users]

    def _item_bias_all(self) -> np.ndarray | None:
        return getattr(self, "item_bias_", None)

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        n_users, n_items = self.user_factors_.shape[0], self.item_factors_.shape[0]
        known_u = (users >= 0) & (users < n_users)
        known_i = (items >= 0) & (items < n_items)
        if self._handles_cold():
            # An id in range may still have no training entry (a test user the
            # train split does not hold): its factors were never fitted.
            trained_users, trained_items, train_mean = self._trained()
            known_u[known_u] = trained_users[users[known_u]]
            known_i[known_i] = trained_items[items[known_i]]
            if self._offset_free():
                scores = self._dot_predict(users, items, known_u & known_i)
                scores[~(known_u & known_i)] = train_mean
                return scores
        scores = np.full(users.shape, self._mu(), dtype=np.float64)
        if known_u.any():
            scores[known_u] += self._user_bias(users[known_u])
        item_bias = self._item_bias_all()
        if item_bias is not None and known_i.any():
            scores[known_i] += item_bias[items[known_i]]
        scores += self._dot_predict(users, items, known_u & known_i)
        return scores

    def _dot_predict(self, users: np.ndarray, items: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """``p_u . q_i`` where ``pairs`` is True, 0 elsewhere."""
        scores = np.zeros(users.shape, dtype=np.float64)
        both = np.flatnonzero(pairs)
        if both.size == 0 or self.item_factors_.shape[1] == 0:
            return scores
        pair_users = users[both].astype(np.int64)
        if type(self)._user_vectors is FactorModel._user_vectors:
            user_matrix = self.user_factors_
        else:
            # The user's vector is computed (SVD++: from what they rated), once per user.
            unique_users, pair_users = np.unique(pair_users, return_inverse=True)
            user_matrix = self._user_vectors(unique_users)
        dots = np.zeros(both.size)
        small = both.size * self.item_factors_.shape[1] < _predict.PARALLEL_PAIR_WORK
        (_predict.add_pair_dots_serial if small else _predict.add_pair_dots)(
            np.ascontiguousarray(user_matrix), np.ascontiguousarray(self.item_factors_),
            pair_users.reshape(-1), items[both].astype(np.int64), dots)
        scores[both] += dots
        return scores

    def score_matrix(self, users) -> np.ndarray:
        """Scores of every item for each of ``users`` (internal ids), float32.

        A user without training entries scores every item by the mean and
        item biases alone (untrained factors would rank at random).
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        vectors = self._user_vectors(users)
        user_bias = np.asarray(self._user_bias(users), dtype=np.float64)
        if self._handles_cold():
            cold = ~self._trained()[0][users]
            if cold.any():
                vectors = np.array(vectors, copy=True)
                vectors[cold] = 0.0
                user_bias = user_bias.copy()
                user_bias[cold] = 0.0
            scores = self._scores_from_vectors(vectors, user_bias)
            if cold.any() and self._offset_free():
                scores[cold] = np.float32(self._trained()[2])
            return scores
        return self._scores_from_vectors(vectors, user_bias)

    def _scores_from_vectors(self, vectors: np.ndarray, user_bias) -> np.ndarray:
        scores = np.asarray(vectors, dtype=np.float32) @ self.item_factors_.T.astype(np.float32, copy=False)
        if self._handles_cold() and self.predicts_ratings:
            # Items without training entries: the mean plus the user's bias, not a dot with untrained factors.
            cold_items = ~self._trained()[1]
            if cold_items.any():
                scores[:, cold_items] = np.float32(self._trained()[2]) if self._offset_free() else 0.0
        # Each addition is a pass over the whole block (50 MB for 256 users x 50k items): skipped when it
        # adds nothing, as for implicit ALS and BPR (no mean, no user bias).
        if self._mu() != 0.0:
            scores += np.float32(self._mu())
        user_bias = np.asarray(user_bias, dtype=np.float32)
        if user_bias.any():
            scores += user_bias[:, None]
        item_bias = self._item_bias_all()
        if item_bias is not None:
            scores += item_bias.astype(np.float32)[None, :]
        return scores

    # ------------------------------------------------------- recommending
    def _seen_csr(self) -> sp.csr_matrix:
        """Everything each user has in ``train_``, whatever the value (cached per training set)."""
        cached = getattr(self, "_seen_cache", None)
        if not isinstance(cached, tuple) or cached[0] is not self.train_:
            cached = self._seen_cache = (self.train_, self.train_.to_csr())
        return cached[1]

    def recommend(self, users, n: int = 10, exclude_seen: bool = True, batch_size: int = 1024):
        """Top-``n`` items for many users at once.

        Parameters
        ----------
        users : array of int
            Internal user ids.
        n : int
            List length.
        exclude_seen : bool
            Leave out items the user has in ``train_``, whatever the value
            (a ranking model fitted on ratings >= 4 still never recommends
            back an item the user rated 2).
        batch_size : int
            Users scored per matrix product (bounds memory to
            ``batch_size x n_items`` floats).

        Returns
        -------
        items : ndarray of int64, shape (len(users), n)
            Internal item ids, best first; -1 pads lists when fewer items are left.
        scores : ndarray of float32, shape (len(users), n)
            Their predicted scores (-inf where padded).
        """
        self._check_fitted()
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        n_items = self.item_factors_.shape[0]
        n = max(0, min(int(n), n_items))  # a list longer than the catalogue holds nothing more
        out_items = np.full((users.size, n), -1, dtype=np.int64)
        out_scores = np.full((users.size, n), -np.inf, dtype=np.float32)
        seen = self._seen_csr() if exclude_seen else None
        for start in range(0, users.size, batch_size):
            chunk = users[start:start + batch_size]
            scores = self.score_matrix(chunk)
            if seen is not None:
                block = seen[chunk]
                scores[np.repeat(np.arange(chunk.size), np.diff(block.indptr)), block.indices] = -np.inf
            items, top = _top_n(scores, n)
            out_items[start:start + chunk.size, : items.shape[1]] = items
            out_scores[start:start + chunk.size, : top.shape[1]] = top
        out_items[~np.isfinite(out_scores)] = -1
        return out_items, out_scores

    def similar_items(self, item: int, n: int = 10):
        """Items whose factor vectors point the same way (cosine similarity).

        Returns
        -------
        items : ndarray of int64, shape (n,)
        similarity : ndarray of float32, shape (n,)
        """
        self._check_fitted()
        q = self.item_factors_.astype(np.float32)
        norms = np.linalg.norm(q, axis=1)
        norms[norms == 0] = 1.0
        sims = (q @ q[item]) / (norms * norms[item])
        sims[item] = -np.inf
        items, top = _top_n(sims[None, :], n)
        return items[0], top[0]

    def fold_in(self, items, values=None) -> tuple[np.ndarray, float]:
        """Factors for a user who was not in the training data.

        Solves the model's own objective for one new user with the item side
        fixed: ridge regression of ``value - mu - b_i`` on the item factors
        (with a bias term when the model has user biases).

        Parameters
        ----------
        items : array of int
            Internal ids of the items the person rated.
        values : array of float, optional
            Their ratings (default 1: implicit interactions). NaN
            (:data:`TICK_VALUE`) is a tick, "liked" without a number: on
            interaction data it counts as one interaction; a model of rating
            values has nothing to regress on and leaves it out.

        Returns
        -------
        (vector, bias)
            User factor vector (k,) and user bias (0 for models without).
        """
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        values = np.ones(items.size) if values is None else np.asarray(values, dtype=np.float64)
        ticks = np.isnan(values)
        if ticks.any():
            if self._fit_data().kind == "explicit":
                items, values = items[~ticks], values[~ticks]
            else:
                values = np.where(ticks, 1.0, values)
        q = self.item_factors_[items].astype(np.float64)
        target = values - self._mu()
        item_bias = self._item_bias_all()
        if item_bias is not None:
            target = target - item_bias[items]
        with_bias = getattr(self, "user_bias_", None) is not None
        if with_bias:
            q = np.hstack([q, np.ones((items.size, 1))])
        reg = float(self.params.get("reg", self.fold_in_reg)) * max(items.size, 1)
        gram = q.T @ q + reg * np.eye(q.shape[1])
        solution = np.linalg.solve(gram, q.T @ target) if items.size else np.zeros(q.shape[1])
        if with_bias:
            return solution[:-1].astype(np.float32), float(solution[-1])
        return solution.astype(np.float32), 0.0

    def recommend_for_new_user(self, items, values=None, n: int = 10, exclude_seen: bool = True, also_seen=None):
        """Fold in a new user's ratings and recommend at once (the GUI's new-user mode).

        Parameters
        ----------
        items, values
            As for :meth:`fold_in` (NaN values are ticks).
        n : int
            List length.
        exclude_seen : bool
            Leave ``items`` (and ``also_seen``) out of the list.
        also_seen : array of int, optional
            More items the person has seen but that do not inform the fold-in
            (e.g. ticks a rating model cannot use).

        Returns
        -------
        items, scores : ndarray, shape (n,)
        """
        vector, bias = self.fold_in(items, values)
        scores = self._scores_from_vectors(vector[None, :], np.asarray([bias]))
        if exclude_seen:
            scores[0, np.asarray(items, dtype=np.int64)] = -np.inf
            if also_seen is not None:
                scores[0, np.asarray(also_seen, dtype=np.int64)] = -np.inf
        top_items, top_scores = _top_n(scores, n)
        top_items[~np.isfinite(top_scores)] = -1
        return top_items[0], top_scores[0]

    # ------------------------------------------------------------ saving
    def _fitted_arrays(self) -> dict:
        out = {}
        for key, value in vars(self).items():
            if key.endswith("_") and not key.startswith("_") and isinstance(value, np.ndarray):
                out[key] = value
        return out

    def _fitted_scalars(self) -> dict:
        out = {}
        for key, value in vars(self).items():
            if key.endswith("_") and not key.startswith("_") and isinstance(value, (int, float, np.floating, np.integer)):
                out[key] = float(value) if isinstance(value, (float, np.floating)) else int(value)
        return out

    def save(self, path, overwrite: bool = False) -> Path:
        """Save into the folder ``path`` (created): ``model.json`` (manifest) + ``arrays.npz``; no pickle.

        The training data's entries (``train_``: everything the model was
        given, any value), id maps, titles and genres are saved too, so a
        loaded model recommends by raw id and excludes every seen item;
        ``fit_data_`` is derived from them again on loading. Each file is
        written under a temporary name and moved into place
        (:mod:`mfstudio.savefiles`).

        Parameters
        ----------
        path : path-like
            The model's folder. It is created; an existing one may hold only an earlier saved model.
        overwrite : bool
            Replace an earlier model saved in that folder (never any other file).

        Returns
        -------
        pathlib.Path
            The manifest's path, ``path/model.json``.

        Raises
        ------
        mfstudio.data.DataError
            The folder holds other files or an earlier model (without ``overwrite``),
            a file is in the way, or the folder cannot be written.
        """
        from ..savefiles import MODEL_ARRAYS, MODEL_MANIFEST, json_default, write_save

        self._check_fitted()
        folder = Path(path)
        train = self.train_
        arrays = {f"model/{k}": v for k, v in self._fitted_arrays().items()}
        arrays.update({
            "data/rows": train.rows, "data/cols": train.cols, "data/values": train.values,
            "data/row_ids": train.row_ids, "data/col_ids": train.col_ids,
        })
        if train.item_titles is not None:
            arrays["data/item_titles"] = train.item_titles
        if train.item_genres is not None:
            arrays["data/item_genres"] = train.item_genres
        manifest = {
            "format": SAVE_FORMAT,
            "model": self.name,
            "params": self.params,
            "scalars": self._fitted_scalars(),
            "history": [s.as_dict() for s in self.history_],
            "data": {
                "name": train.name, "kind": train.kind, "shape": list(train.shape),
                "rating_scale": list(train.rating_scale) if train.rating_scale else None,
                "image_shape": list(train.image_shape) if train.image_shape else None,
            },
        }
        return write_save(folder / MODEL_MANIFEST, folder / MODEL_ARRAYS, manifest, arrays,
                          format_prefix=SAVE_FORMAT_PREFIX, what="model", overwrite=overwrite,
                          force_hint="choose a new folder, or replace the earlier save with --force",
                          json_default=json_default)

    @classmethod
    def _restore(cls, manifest: dict, arrays: dict, path=None) -> "FactorModel":
        """Build a model from a manifest and arrays that :mod:`mfstudio.savefiles` has checked.

        Only declared names reach the model (the schema refused any other);
        what the Dataset or the model's own preparation still refuses becomes
        a DataError naming ``path``.
        """
        from ..data.errors import DataError

        model = cls(**manifest["params"])
        for key, value in arrays.items():
            if key.startswith("model/"):
                setattr(model, key[len("model/"):], value)
        info = manifest["data"]
        try:
            model.train_ = Dataset(
                kind=info["kind"],
                rows=arrays["data/rows"], cols=arrays["data/cols"], values=arrays["data/values"],
                row_ids=arrays["data/row_ids"], col_ids=arrays["data/col_ids"],
                rating_scale=tuple(info["rating_scale"]) if info["rating_scale"] else None,
                item_titles=arrays.get("data/item_titles"),
                item_genres=arrays.get("data/item_genres"),
                image_shape=tuple(info["image_shape"]) if info.get("image_shape") else None,
                name=info["name"],
            )
            model.fit_data_ = model._prepare(model.train_)
        except (ValueError, TypeError) as exc:
            raise DataError(f"the saved model is inconsistent ({getattr(exc, 'problem', exc)})", path,
                            fix="save the model again") from None
        # _prepare may note facts about the data (fitted_on_ratings_); the saved values win. Files written
        # before train_ held every rating hold only the positives: still loadable, with fewer items known as seen.
        for key, value in manifest["scalars"].items():
            setattr(model, key, value)
        model.history_ = [
            FitStep(h["epoch"], len(manifest["history"]), h["train_loss"],
                    {k: v for k, v in h.items() if k not in ("epoch", "train_loss", "seconds")}, h["seconds"])
            for h in manifest["history"]
        ]
        return model


def _top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n`` largest scores per row, best first."""
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.zeros((scores.shape[0], 0), np.int64), np.zeros((scores.shape[0], 0), np.float32)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64), np.take_along_axis(part_scores, order, axis=1)


def load_model(path) -> Model:
    """Load a model saved by :meth:`FactorModel.save` (no pickle involved).

    ``path`` is the model's folder (or its ``model.json``); the older layout,
    ``PATH.json`` + ``PATH.npz``, loads too. The manifest and the arrays'
    headers are checked against the schema of :mod:`mfstudio.savefiles`
    before anything is read into memory or built.

    Raises
    ------
    mfstudio.data.DataError
        The files are missing, damaged, too big for the memory, refused by the
        schema, or not a saved mfstudio model.
    """
    from ..savefiles import read_model_files

    cls, manifest, arrays, manifest_path = read_model_files(path)
    return cls._restore(manifest, arrays, manifest_path)
