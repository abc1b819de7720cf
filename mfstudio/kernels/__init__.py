"""numba kernels, one module per family; no classes, no I/O (see DESIGN.md)."""

from __future__ import annotations

import importlib

__all__ = ["lazy"]


class _Lazy:
    """A kernel module imported on its first use (attribute access).

    The models name their kernels at import time but call them only when
    they fit: with this, ``import mfstudio.models`` (the window's method
    list, the CLI's help and ``info``) does not import numba and LLVM
    (0.35 s on a quiet machine, 0.8 s under load), and the first fit pays it.
    ``importlib.import_module`` is thread-safe, so a fit on a worker and the
    window's cache check may touch the same module first.
    """

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module = None

    def __getattr__(self, attribute: str):
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<kernels {self._name} ({'imported' if self._module is not None else 'not imported yet'})>"


def lazy(family: str) -> _Lazy:
    """The kernel module ``mfstudio.kernels.<family>``, imported when one of its names is first used."""
    return _Lazy(f"{__name__}.{family}")
