"""Factorization models, all following the protocol of :mod:`mfstudio.models.base`."""

from .base import FitDiverged, FitStep, Model, NotFittedError
from .baseline import Baseline

#: CLI name -> model class. Models of the engine issue register here.
MODELS: dict[str, type[Model]] = {cls.name: cls for cls in (Baseline,)}

__all__ = ["MODELS", "Baseline", "FitDiverged", "FitStep", "Model", "NotFittedError"]
