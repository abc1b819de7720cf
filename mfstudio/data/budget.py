"""Memory budgets checked before anything large is allocated.

A 963-byte ``save_npz`` file can declare a 2e9 x 2e9 matrix, a 78-byte
MatrixMarket header two billion rows, a small PNG 10,000 x 10,000 pixels, and
a few megabytes of zip a 20 GB array. Reading any of them naively gets the
process killed by the kernel, and the user loses everything in the window.
So every reader asks here first, with the sizes the file *declares*, and a
request that does not fit becomes one :class:`~mfstudio.data.errors.DataError`
sentence: what was declared, what is available, what to do.

Only declared headers are read to decide: :func:`npy_header` reads an
``.npy`` header (from a file or a zip member) without touching the data, and
:func:`npz_members` lists the arrays of an ``.npz`` archive with their shapes,
dtypes and sizes on disk and in memory.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .errors import DataError

__all__ = [
    "MEMORY_SHARE",
    "NpzMember",
    "available_memory",
    "array_bytes",
    "check_allocation",
    "check_array",
    "format_bytes",
    "npy_header",
    "npz_members",
]

#: The share of the currently available memory one request may use. The rest
#: is for what the request leads to (copies, sorts, the model) and for the OS.
MEMORY_SHARE = 0.5

#: Overrides the detected available memory (bytes), for tests and for users who
#: want a stricter limit.
ENV_LIMIT = "MFSTUDIO_MEMORY_LIMIT"


def available_memory() -> int:
    """Bytes of memory a new allocation can use now (psutil's ``available``).

    ``MFSTUDIO_MEMORY_LIMIT`` (bytes, or with a K/M/G suffix) caps it.
    """
    available = _meminfo_available()
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    limit = os.environ.get(ENV_LIMIT)
    if limit:
        text = limit.strip().upper()
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        try:
            available = min(available, int(float(text.rstrip("KMG")) * scale))
        except ValueError:
            pass
    return available


def _meminfo_available() -> int | None:
    """``MemAvailable`` of Linux's /proc/meminfo in bytes (what psutil reports there), None elsewhere.

    Read directly because importing psutil cost 30 ms of every command's and the window's start.
    """
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 KB``: sizes as a person reads them (powers of 1024)."""
    n = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} EB"  # pragma: no cover - unreachable


def array_bytes(shape, dtype) -> int:
    """Bytes an array of this shape and dtype takes, in Python integers (no overflow)."""
    count = 1
    for dim in shape:
        count *= int(dim)
    return count * int(np.dtype(dtype).itemsize)


def check_allocation(n_bytes: int, what: str, path=None, fix: str | None = None) -> None:
    """Refuse, with one sentence, a request for more than :data:`MEMORY_SHARE` of the available memory.

    Parameters
    ----------
    n_bytes : int
        What the request would allocate (declared sizes, before allocating).
    what : str
        The thing being allocated, as the sentence should name it, e.g.
        ``"the 2,000,000,000 x 2,000,000,000 matrix it declares"``.
    path : path-like, optional
        The file the request comes from (named in the message).
    fix : str, optional
        What the user can do; a general hint by default.

    Raises
    ------
    DataError
        The request does not fit.
    """
    if n_bytes < 0:
        raise DataError(f"{what} declares a negative size", path, fix="the file is damaged; export it again")
    budget = int(available_memory() * MEMORY_SHARE)
    if n_bytes > budget:
        raise DataError(
            f"{what} would need {format_bytes(n_bytes)} of memory, and only {format_bytes(budget)} can be used "
            f"({format_bytes(available_memory())} is free now)",
            path,
            fix=fix or "use a smaller file or a sample of it, or free memory and try again",
        )


def check_array(shape, dtype, what: str, path=None, fix: str | None = None) -> None:
    """:func:`check_allocation` for an array of ``shape`` and ``dtype``; also refuses negative dimensions."""
    if any(int(d) < 0 for d in shape):
        raise DataError(f"{what} declares a negative dimension {tuple(int(d) for d in shape)}", path,
                        fix="the file is damaged; export it again")
    check_allocation(array_bytes(shape, dtype), what, path, fix)


def npy_header(stream) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from an ``.npy`` header; the data is not read.

    Raises
    ------
    ValueError
        Not an ``.npy`` stream, or a header numpy cannot parse.
    """
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream, max_header_size=10_000)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream, max_header_size=10_000)
    raise ValueError(f"unsupported .npy version {version}")


@dataclass(frozen=True)
class NpzMember:
    """One array of an ``.npz`` archive as its header declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    stored_bytes: int  # compressed size in the zip
    file_bytes: int  # uncompressed size the zip declares

    @property
    def nbytes(self) -> int:
        return array_bytes(self.shape, self.dtype)


def npz_members(path) -> list[NpzMember]:
    """The arrays of an ``.npz`` archive with their declared shapes and sizes, reading headers only.

    Raises
    ------
    DataError
        Not a zip archive, or a member that is not a readable ``.npy``.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DataError("it is not a valid .npz archive", path,
                        fix="save it again with numpy.savez or scipy.sparse.save_npz") from None
    members = []
    with archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                with archive.open(info) as stream:
                    shape, _, dtype = npy_header(stream)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError):
                raise DataError(f"its member '{name}' is not a readable array", path,
                                fix="save it again with numpy.savez") from None
            members.append(NpzMember(name, tuple(int(d) for d in shape), np.dtype(dtype),
                                     int(info.compress_size), int(info.file_size)))
    return members


def check_npz(path, what: str = "the archive", fix: str | None = None) -> list[NpzMember]:
    """Refuse an ``.npz`` whose arrays, together, would not fit; returns its members.

    Checks both what the headers declare and what the zip says the members
    unpack to (a zip bomb declares a small array but a huge member, or the
    reverse).
    """
    members = npz_members(path)
    declared = sum(m.nbytes for m in members)
    unpacked = sum(m.file_bytes for m in members)
    check_allocation(max(declared, unpacked), f"{what} ({len(members)} arrays)", path, fix)
    return members
