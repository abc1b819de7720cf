"""Each hyperparameter declared once: name, type, default, bounds, choices, help.

A model lists its parameters as ``params_spec = (Param(...), ...)``; the
class attributes ``defaults``, ``param_help`` and ``param_choices`` are
derived from it (see :class:`mfstudio.models.base.Model`), and so are the
model panel's editors (spin box ranges, drop-down words, tooltips), the
CLI's parsing of ``--param NAME=VALUE`` and of ``--factors``/``--lr``...,
validation before a fit starts, and the contract test that tries every
bound. This is scikit-learn's ``_parameter_constraints`` with
``check_param_validation``, reduced to what mfstudio's models need.

A refused value raises :class:`ParamError`, one sentence naming the
parameter, what it accepts and the bad value ("lr must be a number > 0 and
<= 10, not -1.").
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.errors import DataError

__all__ = [
    "Param", "ParamError", "check_params", "float_param", "factors_spec", "seed_spec", "SEED_HIGH", "FACTORS_HIGH",
]

#: Largest seed the window's spin box can show; numpy takes any, but one bound everywhere is simpler.
SEED_HIGH = 2**31 - 1
#: Factor vectors longer than this are a typo, not a model: 3,000,000 factors of one user
#: already take 12 MB, and the kernels' per-row scratch arrays are sized by it.
FACTORS_HIGH = 4096

_KINDS = ("int", "float", "bool", "choice", "str")


class ParamError(DataError, TypeError):
    """A hyperparameter value the model does not accept, explained in one sentence.

    Both a ``ValueError`` (through :class:`~mfstudio.data.errors.DataError`,
    the family of errors a user can fix) and a ``TypeError``, as
    scikit-learn's ``InvalidParameterError`` is: a wrong type and a value
    out of range are the same mistake to the person who typed it.

    Parameters
    ----------
    problem : str
        The sentence, e.g. ``"lr must be a number > 0, not -1"``.
    param : str, optional
        The parameter's name (the window selects its editor).
    fix : str, optional
        What to do instead.
    """

    def __init__(self, problem: str, param: str | None = None, fix: str | None = None):
        self.param = param
        super().__init__(problem, fix=fix)


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One hyperparameter, declared once.

    Parameters
    ----------
    name : str
        The keyword the model takes.
    kind : {"int", "float", "bool", "choice", "str"}
        What values it takes: whole numbers (bools refused), finite real
        numbers, True/False, one of ``choices``, or free text (a Spark
        master URL) that matches ``pattern`` when one is given.
    default
        The value a user gets without asking.
    help : str
        One line for tooltips and ``--help``.
    low, high : float, optional
        Bounds of ``int`` and ``float`` parameters (None: unbounded on that side).
    low_open, high_open : bool
        Whether the bound itself is refused (``lr > 0``) rather than allowed (``reg >= 0``).
    choices : tuple of str
        The words a ``choice`` parameter takes, default first.
    none_means : str, optional
        When set, None is accepted too and means this (``seed``: "a fresh random start").
    aliases : tuple of (value, word) pairs
        Values accepted for a ``choice`` parameter besides its words, and the word each means
        (older saves wrote ``center=True`` for "global").
    pattern : str, optional
        For ``str`` parameters: a regular expression the whole (stripped) text must match.
    form : str, optional
        For ``str`` parameters: what the text must be, in words ("a Spark master URL such as
        local[*]"), for :meth:`allowed`; "a text" when not given.
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    none_means: str | None = None
    aliases: tuple = ()
    pattern: str | None = None
    form: str | None = None

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"Param {self.name}: kind must be one of {_KINDS}, not {self.kind!r}")
        if self.kind == "choice" and (not self.choices or self.choices[0] != self.default):
            raise ValueError(f"Param {self.name}: a choice parameter lists its words, default first")
        if self.default is not None or self.none_means is None:
            self.check(self.default)  # a declaration whose default it refuses is a bug

    # ----------------------------------------------------------- describing
    def allowed(self) -> str:
        """What the parameter accepts, as words ("a whole number from 1 to 4096")."""
        if self.kind == "bool":
            text = "True or False"
        elif self.kind == "str":
            text = self.form or "a text"
        elif self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            noun = "a whole number" if self.kind == "int" else "a number"
            closed_int = self.kind == "int" and not self.low_open and not self.high_open
            if closed_int and self.low is not None and self.high is not None:
                text = f"{noun} from {_shown(self.low)} to {_shown(self.high)}"
            else:
                bounds = []
                if self.low is not None:
                    bounds.append(f"{'>' if self.low_open else '>='} {_shown(self.low)}")
                if self.high is not None:
                    bounds.append(f"{'<' if self.high_open else '<='} {_shown(self.high)}")
                text = noun + (" " + " and ".join(bounds) if bounds else "")
        if self.none_means:
            text += f" (or None for {self.none_means})"
        return text

    # ----------------------------------------------------------- checking
    def refuse(self, value) -> ParamError:
        """The error for ``value``: the parameter, what it accepts, what it got."""
        return ParamError(f"{self.name} must be {self.allowed()}, not {value!r}", param=self.name)

    def check(self, value):
        """``value`` as this parameter's type, or :class:`ParamError`.

        Returns
        -------
        int, float, bool, str or None
            The value in its plain Python type (numpy scalars unwrapped,
            aliases of a choice replaced by their word).
        """
        if value is None and self.none_means is not None:
            return None
        if self.kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise self.refuse(value)
        if self.kind == "choice":
            for alias, word in self.aliases:
                if value is alias or (type(value) is type(alias) and value == alias):
                    return word
            if isinstance(value, str) and value in self.choices:
                return value
            raise self.refuse(value)
        if self.kind == "str":
            # Text typed into a field or on a command line: surrounding blanks are not part of a URL.
            if not isinstance(value, str):
                raise self.refuse(value)
            text = value.strip()
            if self.pattern is not None and not re.fullmatch(self.pattern, text):
                raise self.refuse(value)
            return text
        if isinstance(value, (bool, np.bool_)):  # True is not a count or a rate
            raise self.refuse(value)
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                raise self.refuse(value)
            number = int(value)
        else:
            if not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise self.refuse(value)
            number = float(value)
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            raise self.refuse(value)
        if self.high is not None and (number >= self.high if self.high_open else number > self.high):
            raise self.refuse(value)
        return number

    def parse(self, text: str):
        """A value typed as text (``--param NAME=VALUE``, a form field), checked.

        Raises
        ------
        ParamError
            The text is not of the parameter's type, or out of its bounds.
        """
        raw = str(text).strip()
        if self.none_means is not None and raw.lower() in ("none", ""):
            return None
        if self.kind == "bool":
            words = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
            if raw.lower() in words:
                return words[raw.lower()]
            # Typed text: the words a person types, not Python's True/False.
            raise ParamError(f"{self.name} must be true or false, not {raw!r}", param=self.name)
        if self.kind in ("choice", "str"):
            return self.check(raw)
        try:
            value = int(raw) if self.kind == "int" else float(raw)
        except ValueError:
            raise self.refuse(raw) from None
        return self.check(value)

    # ----------------------------------------------------------- for tests
    def refused_examples(self) -> list:
        """Values just outside every declared bound, of the wrong type, or not a listed word.

        The contract test feeds each to the model and expects :class:`ParamError`.
        """
        if self.kind == "bool":
            return [1, "yes", None]
        if self.kind == "str":
            out = [3, True] + ([] if self.none_means else [None])
            return out + (["no such " + self.name] if self.pattern is not None else [])
        if self.kind == "choice":
            aliases = [alias for alias, _ in self.aliases]
            return [v for v in ("no-such-" + self.name, 3, None) if not any(v is a for a in aliases)]
        out: list = ["3", True] + ([] if self.none_means else [None])
        step = 1 if self.kind == "int" else 1e-9
        for bound, is_open, sign in ((self.low, self.low_open, -1), (self.high, self.high_open, +1)):
            if bound is None:
                continue
            if self.kind == "int":
                out.append(int(bound) + (0 if is_open else sign * step))
            else:
                out.append(bound if is_open else bound + sign * max(step, abs(bound) * 1e-6))
        if self.kind == "int":
            out.append(float(self.default) + 0.5)
        else:
            out.append(float("nan"))
        return out


def factors_spec(default: int, help: str) -> Param:
    """``n_factors``, declared alike in every model: 1 to :data:`FACTORS_HIGH`."""
    return Param("n_factors", "int", default, help, low=1, high=FACTORS_HIGH)


def seed_spec(help: str) -> Param:
    """``seed``, declared alike in every model: 0 to :data:`SEED_HIGH`, or None for a fresh start."""
    return Param("seed", "int", 0, help, low=0, high=SEED_HIGH, none_means="a fresh random start")


def check_params(spec, params: dict) -> dict:
    """Every parameter of ``spec`` checked; returns the values in their plain types.

    Raises
    ------
    ParamError
        The first value refused, or a name not in ``spec``.
    """
    by_name = {p.name: p for p in spec}
    unknown = sorted(set(params) - set(by_name), key=str)
    if unknown:
        raise ParamError(f"there is no parameter {', '.join(repr(u) for u in unknown)}; "
                         f"the parameters are {', '.join(by_name)}", param=str(unknown[0]))
    return {name: declared.check(params.get(name, declared.default)) for name, declared in by_name.items()}


# Single checks for code outside the declarations (a threshold read while scoring); they raise ParamError too.

def float_param(params: dict, name: str, low: float | None = None, *, strict: bool = False) -> float:
    """``params[name]`` as a finite float (``>= low``, or ``> low`` if strict, when ``low`` is given)."""
    default = 0.0 if low is None else low + 1.0
    return Param(name, "float", default, "", low=low, low_open=strict).check(params[name])
