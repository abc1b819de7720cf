"""Validation of hyperparameters: one sentence naming the parameter, the bound and the bad value.

Shared by every model so that the GUI's error line reads the same whichever
model the user picked ("reg must be a number >= 0, not -1").
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["int_param", "float_param", "choice_param", "bool_param", "seed_param"]


def int_param(params: dict, name: str, low: int = 1) -> int:
    """``params[name]`` as an int ``>= low`` (bools refused: True is not a count)."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")
    return int(value)


def float_param(params: dict, name: str, low: float = 0.0, *, strict: bool = False, below: float | None = None) -> float:
    """``params[name]`` as a finite float ``>= low`` (``> low`` if strict, ``< below`` if given)."""
    value = params[name]
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))
    ok = ok and (value > low if strict else value >= low) and (below is None or value < below)
    if not ok:
        bound = f"> {low:g}" if strict else f">= {low:g}"
        if below is not None:
            bound += f" and < {below:g}"
        raise ValueError(f"{name} must be a number {bound}, not {value!r}")
    return float(value)


def choice_param(params: dict, name: str, options) -> str:
    """``params[name]``, which must be one of ``options``."""
    value = params[name]
    if value not in tuple(options):
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, not {value!r}")
    return value


def bool_param(params: dict, name: str) -> bool:
    """``params[name]`` as a bool (numpy bools accepted, 0/1 and strings refused)."""
    value = params[name]
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def seed_param(params: dict):
    """``params["seed"]``: a whole number >= 0, or None for a fresh random start."""
    seed = params["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"seed must be a whole number >= 0 (or None for a fresh random start), not {seed!r}")
    return None if seed is None else int(seed)
