"""The mfstudio error family: what a user can fix, told in one sentence.

- :class:`DataError`: input that cannot be loaded or used (file, line, problem, fix).
- :class:`ParamError`: a hyperparameter value a model does not accept (a DataError
  and a TypeError, as scikit-learn's ``InvalidParameterError``).
- :class:`FitDiverged`: the fit blew up; the message names the setting to change.

The CLI prints these as one line and exits 2; the window shows them as the
user's mistake. Any other exception escaping mfstudio is a bug: the window
shows a bug report with the details and the log path, and the CLI a
traceback under ``--debug``.
"""

from __future__ import annotations

from .data.errors import DataError
from .models.base import FitDiverged
from .models.params import ParamError

__all__ = ["DataError", "ParamError", "FitDiverged", "USER_ERRORS", "is_user_error"]

#: ``except USER_ERRORS`` catches exactly the family (ParamError is a DataError).
USER_ERRORS: tuple[type[BaseException], ...] = (DataError, FitDiverged)


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's to fix (the family), as opposed to a bug in mfstudio."""
    return isinstance(exc, USER_ERRORS)
