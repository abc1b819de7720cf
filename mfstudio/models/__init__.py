"""Factorization models, all following the protocol of :mod:`mfstudio.models.base`."""

from .base import FactorModel, FitDiverged, FitStep, Model, NotFittedError, load_model
from .baseline import Baseline, Popularity

#: CLI name -> model class.
MODELS: dict[str, type[Model]] = {cls.name: cls for cls in (Baseline, Popularity)}

__all__ = ["MODELS", "Baseline", "Popularity", "FactorModel", "FitDiverged", "FitStep", "Model", "NotFittedError", "load_model"]
