"""The one error type the data layer raises for input a user can fix.

Every loader failure a user can act on becomes a :class:`DataError` whose
message is one sentence: which file (and line, where there is one), what is
wrong there, and what to do about it. The CLI prints it and exits non-zero;
the GUI shows it in a dialog. Anything else escaping a loader is a bug.
"""

from __future__ import annotations

import os
import re

__all__ = ["DataError"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DataError(ValueError):
    """Input that cannot be loaded, explained in one sentence.

    Parameters
    ----------
    problem : str
        What is wrong, e.g. ``"rating 'abc' is not a number"``.
    path : str or os.PathLike, optional
        The file or folder the problem is in.
    line : int, optional
        1-based physical line number in ``path``.
    fix : str, optional
        What the user should do, e.g. ``"remove the line or correct the value"``.

    Attributes
    ----------
    problem, path, line, fix
        The parts of the message, kept separately so the GUI can lay them out.
    """

    def __init__(self, problem: str, path=None, line: int | None = None, fix: str | None = None):
        self.problem = problem.rstrip(".")
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.fix = fix.rstrip(".") if fix else None
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = ""
        if self.path is not None:
            where = os.path.basename(self.path.rstrip("/\\")) or self.path
            if self.line is not None:
                where += f", line {self.line}"
            where += ": "
        text = where + self.problem
        if self.fix:
            text += f"; {self.fix}"
        # Quoted values from a broken file may hold line breaks or control
        # bytes; the message must stay one printable line.
        return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text) + "."
