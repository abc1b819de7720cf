"""Factorization models, all following the protocol of :mod:`mfstudio.models.base`."""

from .als import ALS, ImplicitALS
from .base import FactorModel, FitDiverged, FitStep, Model, NotFittedError, load_model
from .baseline import Baseline, Popularity
from .bpmf import BayesianMF
from .bpr import BPR
from .hybrid import HybridBPR, HybridMF
from .nmf import NMF
from .sgd import BiasedSGD, GradientDescentMF, SVDpp
from .svd import TruncatedSVD
from .timesvdpp import TimeSVDpp

#: CLI name -> model class, in the order the model panel lists them.
MODELS: dict[str, type[Model]] = {
    cls.name: cls
    for cls in (
        TruncatedSVD, NMF, GradientDescentMF, BiasedSGD, SVDpp, TimeSVDpp, ALS, ImplicitALS, BPR, BayesianMF, HybridMF,
        HybridBPR, Baseline, Popularity,
    )
}

__all__ = [
    "MODELS", "ALS", "BPR", "Baseline", "BayesianMF", "BiasedSGD", "FactorModel", "FitDiverged", "FitStep",
    "GradientDescentMF", "HybridMF", "ImplicitALS", "Model", "NMF", "NotFittedError", "Popularity", "SVDpp",
    "TimeSVDpp", "TruncatedSVD", "load_model",
]
