"""The one fitting protocol every model follows.

The GUI worker, the CLI and the tests drive every model the same way::

    for step in model.iter_fit(train, validation):   # one FitStep per epoch
        show(step)                                   # stop iterating to cancel
    model.predict(users, items)

``fit`` is ``for _ in iter_fit(...): pass``. Parameters are stored by
``__init__`` untouched and validated when fitting starts (as scikit-learn
does), so a model can be built from a form and checked when Run is pressed.
Fitted attributes end in ``_``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

import numpy as np

from ..data.dataset import Dataset

__all__ = ["FitStep", "Model", "FitDiverged", "NotFittedError"]


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
        Time since the fit started (training only).
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


class Model:
    """Base class: parameters, the fit loop, prediction and scoring.

    Subclasses set :attr:`name` and :attr:`defaults`, and implement
    :meth:`_fit_steps` (a generator of ``(train_loss, extra)`` per epoch) and
    :meth:`_predict` (scores for internal ids).
    """

    #: CLI name, e.g. "sgd".
    name: ClassVar[str] = ""
    #: Plain-language one-liner for menus and the GUI.
    summary: ClassVar[str] = ""
    #: Default hyperparameters (what a user should get on MovieLens-like data).
    defaults: ClassVar[dict] = {}
    #: Data kinds the model accepts.
    kinds: ClassVar[tuple[str, ...]] = ("explicit",)
    #: "rating" models are scored by RMSE/MAE, "ranking" models by precision/NDCG@K.
    task: ClassVar[str] = "rating"

    def __init__(self, **params):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no parameter(s) {sorted(unknown)}; it takes {sorted(self.defaults)}"
            )
        self.params = {**self.defaults, **params}
        self.history_: list[FitStep] = []

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.params.items() if self.defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # ------------------------------------------------------------ fitting
    def _validate(self, train: Dataset) -> None:
        if train.kind not in self.kinds:
            raise ValueError(
                f"{type(self).__name__} fits {' or '.join(self.kinds)} data, but this dataset holds {train.kind} data"
            )
        if train.nnz == 0:
            raise ValueError("the training set is empty")

    def _fit_steps(self, train: Dataset) -> Iterator[tuple[float, dict]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def iter_fit(self, train: Dataset, validation: Dataset | None = None) -> Iterator[FitStep]:
        """Fit epoch by epoch, yielding a :class:`FitStep` after each.

        Stop iterating to cancel: the model keeps the state of the last
        finished epoch and can predict with it.

        Raises
        ------
        FitDiverged
            The loss became NaN or infinite, or grew a thousandfold.
        """
        self._validate(train)
        self.train_ = train
        self.history_ = []
        started = time.perf_counter()
        first_loss = None
        n_epochs = int(self.params.get("n_epochs", 1))
        for epoch, (loss, extra) in enumerate(self._fit_steps(train), start=1):
            loss = float(loss)
            if not math.isfinite(loss) or (first_loss is not None and loss > 1e3 * max(first_loss, 1e-12)):
                raise FitDiverged(self._divergence_advice(epoch, loss))
            first_loss = loss if first_loss is None else first_loss
            elapsed = time.perf_counter() - started
            metrics = self.score(validation) if validation is not None and validation.nnz else {}
            step = FitStep(epoch, n_epochs, loss, metrics, elapsed, extra)
            self.history_.append(step)
            yield step
        self.fit_seconds_ = time.perf_counter() - started

    def fit(self, train: Dataset, validation: Dataset | None = None) -> "Model":
        """Fit to completion; returns self."""
        for _ in self.iter_fit(train, validation):
            pass
        return self

    def _divergence_advice(self, epoch: int, loss: float) -> str:
        knob = "lr" if "lr" in self.params else "reg" if "reg" in self.params else None
        advice = f"; lower {knob} (now {self.params[knob]})" if knob else ""
        return f"the fit diverged at epoch {epoch} (training loss {loss:.4g}){advice}"

    # --------------------------------------------------------- prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "train_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")

    def _predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, users, items) -> np.ndarray:
        """Predicted values for internal ``(user, item)`` pairs, clipped to the rating scale.

        Ids of -1 (unknown) get the model's fallback (for the baseline: the
        global mean plus whatever bias is known).
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        scores = self._predict(users, items)
        scale = self.train_.rating_scale
        if scale is not None:
            scores = np.clip(scores, scale[0], scale[1])
        return scores

    def score(self, test: Dataset) -> dict:
        """Metrics on a test set in the training set's id space."""
        from .. import metrics

        predictions = self.predict(test.rows, test.cols)
        return {
            "rmse": metrics.rmse(test.values, predictions),
            "mae": metrics.mae(test.values, predictions),
        }
