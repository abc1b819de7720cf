"""Download MovieLens 100K once, check it, and keep it in the user's data folder.

The archive is fetched from GroupLens with :mod:`urllib` (no extra
dependency), streamed to a temporary file beside its final place, checked
against the MD5 that GroupLens publishes, unpacked into a temporary folder
and only then renamed into place. So the ``ml-100k`` folder in the cache
either is complete or does not exist: a cancelled, interrupted or corrupted
download leaves nothing behind, and the next call simply tries again.

Every failure a user can do something about (no connection, a server error,
a corrupted download, a full disk, a cancel) is a :class:`DataError` with
one sentence saying what happened and what to do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

from .errors import DataError

__all__ = [
    "ML100K_MD5",
    "ML100K_URL",
    "default_cache_dir",
    "download_movielens_100k",
]

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
# GroupLens publishes this MD5 beside the archive (ml-100k.zip.md5). The same
# value is used by the Keras/TensorFlow MovieLens examples (DATASETS["100k"]
# ["checksum"], e.g. eli-osherovich/papers_with_code datasets/movielens/dl_config.py)
# and by other downloaders that verify the archive.
ML100K_MD5 = "0e33842e24a9c977be4e0107933c0723"
# Size and SHA-256 of the same archive as recorded by tensorflow-datasets
# (tensorflow_datasets/url_checksums/movielens.txt); kept for reference.
ML100K_BYTES = 4_924_029
ML100K_SHA256 = "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"

#: Files whose presence means an extracted ml-100k folder is usable.
REQUIRED_FILES = ("u.data", "u.item")
_FOLDER_NAME = "ml-100k"
_CHUNK_BYTES = 64 * 1024
# The real archive unpacks to ~16 MB; refuse anything claiming far more (a zip bomb).
_MAX_UNPACKED_BYTES = 500 * 1024 * 1024
_BY_HAND = "download the zip by hand, extract it and open the extracted folder with File > Open"
_OTHER_FOLDER = "free some disk space, or set MFSTUDIO_DATA_DIR to a folder you may write to"

ProgressCallback = Callable[[int, int | None], bool | None]


def default_cache_dir() -> Path:
    """The folder downloaded datasets are kept in.

    ``$MFSTUDIO_DATA_DIR/datasets`` when the environment variable
    ``MFSTUDIO_DATA_DIR`` is set (tests, portable installs), otherwise
    ``datasets`` in the platform's user data folder for mfstudio
    (``~/.local/share/mfstudio/datasets`` on Linux).

    Returns
    -------
    pathlib.Path
        The folder; it is not created here.
    """
    override = os.environ.get("MFSTUDIO_DATA_DIR")
    if override:
        return Path(override).expanduser() / "datasets"
    import platformdirs

    return Path(platformdirs.user_data_dir("mfstudio", appauthor=False)) / "datasets"


def _is_complete(folder: Path) -> bool:
    return folder.is_dir() and all((folder / name).is_file() for name in REQUIRED_FILES)


def download_movielens_100k(
    cache_dir=None,
    *,
    url: str = ML100K_URL,
    md5: str = ML100K_MD5,
    progress: ProgressCallback | None = None,
    timeout: float = 30,
) -> Path:
    """Fetch MovieLens 100K into the cache, once, and return its folder.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Where to keep the data; default :func:`default_cache_dir`.
    url : str
        Where to download the zip from.
    md5 : str
        Expected MD5 (hex) of the zip; a mismatch means a corrupted download.
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total)`` after each chunk
        (``bytes_total`` is None when the server does not say). Returning
        ``False`` cancels the download.
    timeout : float
        Seconds to wait for the server at each step before giving up.

    Returns
    -------
    pathlib.Path
        The extracted ``ml-100k`` folder (``u.data``, ``u.item``...). When it
        is already there and complete, it is returned without any network access.

    Raises
    ------
    DataError
        The download failed (no connection, server error, timeout), was
        cancelled, was corrupted, could not be written, or the archive is not
        MovieLens 100K or holds unsafe paths. Nothing half-done is left behind.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / _FOLDER_NAME
    if _is_complete(target):
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the download folder ({exc.strerror or exc})", cache, fix=_OTHER_FOLDER) from None

    zip_path = None
    unpack_dir = None
    try:
        zip_path = _download(url, md5, cache, progress, timeout)
        try:
            unpack_dir = Path(tempfile.mkdtemp(prefix=".ml-100k-unpack-", dir=cache))
        except OSError as exc:
            raise DataError(f"cannot unpack the download ({exc.strerror or exc})", cache, fix=_OTHER_FOLDER) from None
        extracted = _extract(zip_path, unpack_dir, url)
        _move_into_place(extracted, target)
    finally:
        if zip_path is not None:
            zip_path.unlink(missing_ok=True)
        if unpack_dir is not None:
            shutil.rmtree(unpack_dir, ignore_errors=True)
    return target


def _network_error(url: str, exc: BaseException, timeout: float) -> DataError:
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        reason = f"the server answered HTTP {exc.code} {exc.reason}".rstrip()
    elif isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
        reason = f"no answer within {timeout:g} seconds"
    elif isinstance(exc, urllib.error.URLError):
        reason = str(exc.reason)
    else:
        reason = str(exc) or type(exc).__name__
    return DataError(
        f"could not download {url} ({reason})",
        fix=f"check your internet connection and try again, or {_BY_HAND}",
    )


def _download(url: str, md5: str, cache: Path, progress: ProgressCallback | None, timeout: float) -> Path:
    """Stream ``url`` into a temporary file in ``cache`` and check its MD5.

    Returns the path of the verified file; on any failure the file is removed.
    """
    # Here, not at the top: urllib.request pulls in http, email and ssl (~55 ms), and every start of
    # the window imports this module while only a download needs them.
    import http.client
    import urllib.error
    import urllib.request

    try:
        request = urllib.request.Request(url, headers={"User-Agent": "mfstudio"})
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _network_error(url, exc, timeout) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        # ValueError: a malformed URL ("unknown url type").
        raise _network_error(url, exc, timeout) from None

    part = None
    ok = False
    try:
        with response:
            handle, name = tempfile.mkstemp(prefix=".ml-100k-", suffix=".zip.part", dir=cache)
            part = Path(name)
            with os.fdopen(handle, "wb") as out:
                done, total, digest = _stream(response, out, url, progress, timeout)
    except OSError as exc:
        # Network errors became DataError inside _stream; what is left is the disk.
        raise DataError(f"cannot save the download ({exc.strerror or exc})", cache, fix=_OTHER_FOLDER) from None
    else:
        if total is not None and done < total:
            raise DataError(
                f"the download of {url} stopped after {done:,} of {total:,} bytes",
                fix=f"check your internet connection and try again, or {_BY_HAND}",
            )
        if digest.lower() != md5.lower():
            raise DataError(
                f"the download from {url} was corrupted (its checksum does not match)",
                fix=f"try again; if it keeps failing, {_BY_HAND}",
            )
        ok = True
        return part
    finally:
        if not ok and part is not None:
            part.unlink(missing_ok=True)


def _stream(response, out, url: str, progress: ProgressCallback | None, timeout: float) -> tuple[int, int | None, str]:
    """Copy the response body to ``out`` in chunks; return (bytes, announced total, md5 hex)."""
    import http.client

    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    digest = hashlib.md5()
    done = 0
    while True:
        try:
            chunk = response.read(_CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(url, exc, timeout) from None
        if not chunk:
            return done, total, digest.hexdigest()
        out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        if progress is not None and progress(done, total) is False:
            raise DataError(f"the download of {url} was cancelled", fix="start it again when ready")


def _unsafe_member(name: str) -> bool:
    """True for archive paths that could land outside the folder they are extracted to."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return True  # absolute POSIX path, or a Windows drive ("C:...")
    return ".." in PurePosixPath(normalized).parts


def _extract(zip_path: Path, unpack_dir: Path, url: str) -> Path:
    """Check and unpack the archive; return the extracted ``ml-100k`` folder."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            for member in members:
                if _unsafe_member(member.filename):
                    raise DataError(
                        f"the archive from {url} holds an unsafe path {member.filename!r}, so it was not unpacked",
                        fix=f"{_BY_HAND} after checking its contents",
                    )
            if sum(member.file_size for member in members) > _MAX_UNPACKED_BYTES:
                raise DataError(
                    f"the archive from {url} is far larger than MovieLens 100K, so it was not unpacked",
                    fix=f"check the address, or {_BY_HAND}",
                )
            archive.extractall(unpack_dir)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise DataError(f"the download from {url} is not a readable zip archive ({exc})",
                        fix=f"try again; if it keeps failing, {_BY_HAND}") from None
    except OSError as exc:
        raise DataError(f"cannot unpack the download ({exc.strerror or exc})", unpack_dir.parent, fix=_OTHER_FOLDER) from None

    extracted = unpack_dir / _FOLDER_NAME
    if not _is_complete(extracted):
        # Accept an archive whose files sit at its top level instead of in ml-100k/.
        if _is_complete(unpack_dir):
            extracted = unpack_dir
        else:
            raise DataError(
                f"the archive from {url} does not contain MovieLens 100K ({', '.join(REQUIRED_FILES)} missing)",
                fix=f"check the address, or {_BY_HAND}",
            )
    return extracted


def _move_into_place(extracted: Path, target: Path) -> None:
    """Rename the unpacked folder to ``target`` in one step.

    A leftover incomplete ``target`` (say, files a user deleted by hand) is
    moved aside first, since a rename cannot replace a non-empty folder.
    """
    try:
        if target.exists():
            stale = Path(tempfile.mkdtemp(prefix=".ml-100k-stale-", dir=target.parent))
            try:
                os.replace(target, stale / _FOLDER_NAME)
            finally:
                shutil.rmtree(stale, ignore_errors=True)
        os.replace(extracted, target)
    except OSError as exc:
        if _is_complete(target):
            return  # another download finished first; its copy is just as good
        raise DataError(f"cannot put the download in place ({exc.strerror or exc})", target, fix=_OTHER_FOLDER) from None
