"""Saved models and projects: writes that cannot destroy, reads checked against a schema.

Layout
------
A saved model is a folder of its own (``mfstudio fit ... --save DIR``)::

    DIR/model.json     manifest: format tag, model name, parameters, fitted scalars,
                       history, the training data's description, arrays_sha256
    DIR/arrays.npz     the fitted arrays (model/...) and the training entries (data/...)

A project keeps ``NAME.mfproj`` as its manifest (so file dialogs can pick it)
and puts its arrays in a folder of its own beside it::

    NAME.mfproj                    manifest (JSON)
    NAME.mfproj-arrays/arrays.npz  the dataset and every run's arrays

Older layouts still load: a model as ``PATH.json`` + ``PATH.npz`` and a
project as ``NAME.mfproj`` + ``NAME.npz`` (format tags ``mfstudio-model-1``
and ``mfstudio-project-1``).

Writing
-------
Each file is written under a temporary name in its own folder and moved into
place with :func:`os.replace`, so a crash leaves the old file or the new one,
never half of one; the manifest, written last, records the SHA-256 of the
arrays, so a pair from two different saves is recognised. A file is only
replaced when it is an mfstudio save of the same kind (its format tag says
so) and the caller allows it (``--force``; Save Project after the file
dialog's question); a folder holding anything else is refused.

Reading
-------
Nothing from a file is trusted until it has been checked against a declared
schema: the manifest's nesting depth and every field's type, parameter names
against the model's parameters, fitted scalars and arrays against the names
declared here for each model, array dtypes and shapes against each other
(factors ``n_rows x k`` and ``n_cols x k``, biases of length ``n_rows`` and
``n_cols``), index ranges, and the declared sizes against the memory budget,
all before any model or dataset is built. Every refusal is a
:class:`~mfstudio.data.errors.DataError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .data.arrays import unique_sorted
from .data.budget import check_npz
from .data.errors import DataError

__all__ = [
    "MODEL_MANIFEST", "MODEL_ARRAYS", "PROJECT_ARRAYS_FOLDER_SUFFIX", "MAX_JSON_DEPTH",
    "FITTED_ARRAYS", "FITTED_SCALARS", "ARRAY_DIMS",
    "atomic_write", "check_model_folder", "check_save_target", "write_save", "read_manifest", "read_arrays",
    "json_depth", "json_default", "model_array_spec", "model_paths", "read_model_files", "Schema",
]

MODEL_MANIFEST = "model.json"
MODEL_ARRAYS = "arrays.npz"
#: ``NAME.mfproj`` keeps its arrays in ``NAME.mfproj-arrays/arrays.npz``.
PROJECT_ARRAYS_FOLDER_SUFFIX = "-arrays"
#: Deeper JSON is refused before parsing: no manifest needs more than a few levels,
#: and 100,000 levels make the parser raise RecursionError.
MAX_JSON_DEPTH = 32
#: A manifest holds names, parameters and a history; anything bigger is not one.
MAX_MANIFEST_BYTES = 64 * 2**20
_TEMP_SUFFIX = ".tmp"

# ------------------------------------------------------------------ declarations

_COMMON_ARRAYS = ("user_factors_", "item_factors_")
_BIASES = ("user_bias_", "item_bias_")

#: Fitted arrays each model may save, by model name. Loading refuses any other
#: name (an unknown name is an error, never an attribute);
#: tests/test_savefiles.py fits every model and checks that it saves nothing else.
FITTED_ARRAYS: dict[str, tuple[str, ...]] = {
    "svd": _COMMON_ARRAYS + _BIASES + ("singular_values_", "frobenius_share_", "explained_variance_ratio_",
                                       "reconstruction_errors_"),
    "nmf": _COMMON_ARRAYS,
    "gd": _COMMON_ARRAYS,
    "sgd": _COMMON_ARRAYS + _BIASES,
    "svdpp": _COMMON_ARRAYS + _BIASES + ("implicit_factors_", "user_implicit_"),
    "timesvdpp": _COMMON_ARRAYS + _BIASES + ("implicit_factors_", "user_implicit_", "item_bin_bias_", "user_alpha_",
                                             "user_mean_day_", "user_last_day_", "user_day_keys_", "user_day_bias_"),
    "als": _COMMON_ARRAYS + _BIASES,
    "implicit-als": _COMMON_ARRAYS,
    "bpr": _COMMON_ARRAYS + ("item_bias_",),
    "bpmf": _COMMON_ARRAYS + _BIASES + ("kept_mu_user_", "kept_lambda_user_", "kept_alpha_", "kept_item_bias_"),
    "baseline": _COMMON_ARRAYS + _BIASES,
    "popularity": _COMMON_ARRAYS + ("item_bias_",),
    "hybrid": _COMMON_ARRAYS + _BIASES + ("user_feature_factors_", "item_feature_factors_", "user_feature_bias_",
                                          "item_feature_bias_"),
    "hybrid-bpr": _COMMON_ARRAYS + _BIASES + ("user_feature_factors_", "item_feature_factors_", "user_feature_bias_",
                                              "item_feature_bias_"),
}

#: The shape of every fitted array, in named dimensions: U rows (users), I
#: columns (items), k factors, S kept posterior samples, B the length of a
#: kept hyperparameter (k, or k + 1 with a bias). Each name means one number
#: across all the arrays of a model.
ARRAY_DIMS: dict[str, tuple[str, ...]] = {
    "user_factors_": ("U", "k"), "item_factors_": ("I", "k"),
    "user_bias_": ("U",), "item_bias_": ("I",),
    "implicit_factors_": ("I", "k"), "user_implicit_": ("U", "k"),
    "item_bin_bias_": ("I", "T"), "user_alpha_": ("U",), "user_mean_day_": ("U",), "user_last_day_": ("U",),
    "user_day_keys_": ("D",), "user_day_bias_": ("D",),
    "singular_values_": ("k",), "frobenius_share_": ("k",), "explained_variance_ratio_": ("k",),
    "reconstruction_errors_": ("k",),
    "kept_mu_user_": ("S", "B"), "kept_lambda_user_": ("S", "B", "B"), "kept_alpha_": ("S",),
    "kept_item_bias_": ("S", "I"),
    "user_feature_factors_": ("Fu", "k"), "item_feature_factors_": ("Fi", "k"),
    "user_feature_bias_": ("Fu",), "item_feature_bias_": ("Fi",),
}

#: Fitted scalars: name -> (type, low, high). Each model may save the common ones and its own.
_SCALAR_TYPES: dict[str, tuple[str, float, float]] = {
    "fit_seconds_": ("float", 0.0, math.inf),
    "global_mean_": ("float", -math.inf, math.inf),
    "fitted_on_ratings_": ("int", 0, 1),
    "n_unknown_cells_": ("int", 0, 2**62), "squared_norm_": ("float", 0.0, math.inf),
    "total_variance_": ("float", 0.0, math.inf),
    "masked_": ("int", 0, 1), "n_excluded_cells_": ("int", 0, 2**62),
    "reconstruction_err_": ("float", 0.0, math.inf), "relative_error_": ("float", 0.0, math.inf),
    "n_factors_": ("int", 0, 2**31), "alpha_": ("float", 0.0, math.inf), "n_samples_": ("int", 0, 2**31),
    "first_day_": ("float", -math.inf, math.inf), "bin_days_": ("float", 0.0, math.inf), "n_days_": ("int", 1, 2**62),
}
_COMMON_SCALARS = ("fit_seconds_", "global_mean_", "fitted_on_ratings_")
FITTED_SCALARS: dict[str, tuple[str, ...]] = {
    name: _COMMON_SCALARS for name in FITTED_ARRAYS
}
FITTED_SCALARS["svd"] = _COMMON_SCALARS + ("n_unknown_cells_", "squared_norm_", "total_variance_")
FITTED_SCALARS["nmf"] = _COMMON_SCALARS + ("masked_", "n_excluded_cells_", "reconstruction_err_", "relative_error_")
FITTED_SCALARS["bpmf"] = _COMMON_SCALARS + ("n_factors_", "alpha_", "n_samples_")
FITTED_SCALARS["timesvdpp"] = _COMMON_SCALARS + ("first_day_", "bin_days_", "n_days_")

KINDS = ("explicit", "implicit", "documents", "dense", "images")


# ------------------------------------------------------------------ writing

def _os_error(exc: OSError, path) -> DataError:
    reason = exc.strerror or str(exc)
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        reason = "a file is in the way where a folder should be"
    return DataError(f"cannot write there ({reason})", getattr(exc, "filename", None) or path,
                     fix="choose a folder you can write to")


def atomic_write(path: Path, write) -> str:
    """Write ``path`` through ``write(binary_file)`` under a temporary name, then move it into place.

    Returns the SHA-256 of what was written (hex). The temporary file is
    removed when anything fails; an existing ``path`` is untouched until the
    new content is complete on disk.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w+b") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
            stream.seek(0)
            digest = _sha256(stream)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return digest


def _sha256(stream) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(2**20), b""):
        digest.update(block)
    return digest.hexdigest()


def _is_own_manifest(path: Path, format_prefix: str) -> bool:
    """Whether ``path`` is a manifest mfstudio wrote (its format tag starts with ``format_prefix``)."""
    try:
        manifest = read_manifest(path, "a save")
    except DataError:
        return False
    return isinstance(manifest.get("format"), str) and manifest["format"].startswith(format_prefix)


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


def check_save_target(manifest_path, arrays_path, *, format_prefix: str, what: str, overwrite: bool,
                      force_hint: str) -> None:
    """Refuse, before anything is computed or written, a save that would replace what it must not.

    The manifest may replace only an earlier mfstudio save of the same kind,
    and only with ``overwrite``; the arrays' folder may hold only this save's
    files (and temporary files of an interrupted save).

    Raises
    ------
    DataError
        The target holds a foreign file or folder, or an earlier save and ``overwrite`` is False.
    """
    manifest_path, arrays_path = Path(manifest_path), Path(arrays_path)
    own = False
    if manifest_path.exists() or manifest_path.is_symlink():
        if not manifest_path.is_file():
            raise DataError(f"it is a folder or a special file, not a {what} mfstudio saved", manifest_path,
                            fix="choose a new name")
        own = _is_own_manifest(manifest_path, format_prefix)
        if not own:
            raise DataError(f"it is not a {what} saved by mfstudio, and mfstudio never replaces other files",
                            manifest_path, fix="choose a new name")
        if not overwrite:
            raise DataError(f"it already holds a saved {what}", manifest_path.parent
                            if manifest_path.name == MODEL_MANIFEST else manifest_path, fix=force_hint)
    folder = arrays_path.parent
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise DataError("it is a file, not a folder; a save goes into a folder of its own", folder,
                            fix="choose a new name")
        allowed = {arrays_path.name, manifest_path.name} if manifest_path.parent == folder else {arrays_path.name}
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in allowed and not _is_temporary(p.name))
        if foreign:
            raise DataError(f"the folder already holds other files ('{foreign[0]}'), and a save needs a folder of "
                            "its own", folder, fix="choose a new folder name")
        if arrays_path.exists() and not own:
            raise DataError(f"it holds arrays that no {what} of mfstudio refers to", arrays_path,
                            fix="move them away or choose a new name")


def check_model_folder(path, overwrite: bool = False) -> None:
    """:func:`check_save_target` for a model's folder (``fit --save DIR``), before the fit starts."""
    folder = Path(path)
    check_save_target(folder / MODEL_MANIFEST, folder / MODEL_ARRAYS, format_prefix="mfstudio-model-",
                      what="model", overwrite=overwrite,
                      force_hint="choose a new folder, or replace the earlier save with --force")
    # Whether the folder can be made at all (/proc, a file in the way, no permission): try, then undo.
    missing = [p for p in (folder, *folder.parents) if not (p.exists() or p.is_symlink())]
    if missing:
        try:
            folder.mkdir(parents=True)
        except OSError as exc:
            raise _os_error(exc, folder) from None
        for created in missing:  # leaf first: only the empty folders made just now
            try:
                created.rmdir()
            except OSError:
                break


def write_save(manifest_path, arrays_path, manifest: dict, arrays: dict, *, format_prefix: str, what: str,
               overwrite: bool, force_hint: str, json_default=None) -> Path:
    """Write a manifest and its arrays, each atomically, after :func:`check_save_target`.

    The arrays are written first; the manifest, written last, records their
    SHA-256 as ``arrays_sha256``. Returns the manifest's path.

    Raises
    ------
    DataError
        A refused target, or a folder that cannot be created or written (one sentence, no OSError).
    """
    manifest_path, arrays_path = Path(manifest_path), Path(arrays_path)
    check_save_target(manifest_path, arrays_path, format_prefix=format_prefix, what=what, overwrite=overwrite,
                      force_hint=force_hint)
    try:
        for folder in {manifest_path.parent, arrays_path.parent}:
            folder.mkdir(parents=True, exist_ok=True)
        digest = atomic_write(arrays_path, lambda stream: np.savez_compressed(stream, **arrays))
        text = json.dumps({**manifest, "arrays_sha256": digest}, indent=2, default=json_default)
        atomic_write(manifest_path, lambda stream: stream.write(text.encode("utf-8")))
    except OSError as exc:
        raise _os_error(exc, manifest_path.parent) from None
    return manifest_path


# ------------------------------------------------------------------ reading

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text, found without parsing it."""
    skeleton = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    opening = (skeleton == ord("[")) | (skeleton == ord("{"))
    closing = (skeleton == ord("]")) | (skeleton == ord("}"))
    steps = opening.astype(np.int64) - closing.astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


def read_manifest(path, what: str, fix: str | None = None) -> dict:
    """A JSON object from ``path``, refused with one sentence when it is not one.

    Checks the size and the nesting depth before parsing (no RecursionError,
    no gigabyte of JSON), and that the top level is an object.
    """
    path = Path(path)
    fix = fix or f"choose the {what} mfstudio wrote"
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise DataError(f"it is too big ({size:,} bytes) to be the manifest of a {what}", path, fix=fix)
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read it ({exc.strerror or exc})", path, fix=fix) from None
    if json_depth(data) > MAX_JSON_DEPTH:
        raise DataError(f"its JSON is nested more than {MAX_JSON_DEPTH} levels deep, so it is not a {what}",
                        path, fix=fix)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise DataError(f"it is not a {what} (not JSON)", path, fix=fix) from None
    if not isinstance(manifest, dict):
        raise DataError(f"it is not a {what} (its JSON is not an object)", path, fix=fix)
    return manifest


def read_arrays(path, what: str, check_members, expected_sha256: str | None = None, fix: str | None = None) -> dict:
    """The arrays of a saved ``.npz``, after the schema has accepted what its headers declare.

    Parameters
    ----------
    path : path-like
        The ``.npz`` file.
    what : str
        "saved model" or "project", for the messages.
    check_members : callable
        Called with ``{name: (shape, dtype)}`` from the headers, before any
        data is read; raises :class:`DataError` for a name or shape the schema refuses.
    expected_sha256 : str, optional
        The manifest's record of the file; a different file is refused.

    Raises
    ------
    DataError
        Missing, damaged, too big for memory, refused by the schema, or not the file the manifest wrote.
    """
    path = Path(path)
    fix = fix or f"save the {what} again"
    if not path.is_file():
        raise DataError("no such file", path, fix=f"keep the {what}'s files together")
    try:
        members = check_npz(path, f"the arrays of this {what}", fix=fix)
    except zlib.error:  # a damaged deflate stream in a member's header (budget.npz_members lets it through)
        raise DataError(f"the {what}'s arrays are damaged", path, fix=fix) from None
    check_members({m.name: (m.shape, m.dtype) for m in members})
    if expected_sha256 is not None:
        try:
            with open(path, "rb") as stream:
                actual = _sha256(stream)
        except OSError as exc:
            raise DataError(f"cannot read it ({exc.strerror or exc})", path, fix=fix) from None
        if actual != expected_sha256:
            raise DataError(f"these arrays are not the ones its manifest was saved with (changed since, or the "
                            f"save was interrupted)", path, fix=fix)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError):
        raise DataError(f"the {what}'s arrays are damaged or incomplete", path, fix=fix) from None


# ------------------------------------------------------------------ schema checks

def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return repr(shown)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"an object with {len(value)} fields"
    return type(value).__name__


class Schema:
    """Checks of JSON values and array headers that fail with one sentence naming ``path``.

    ``where`` arguments name the place in the manifest as a user reads it,
    e.g. ``"runs[2].params.lr"``.
    """

    def __init__(self, path, what: str, fix: str | None = None):
        self.path = path
        self.what = what
        self.fix = fix or f"save the {what} again with mfstudio"

    def fail(self, problem: str):
        raise DataError(problem, self.path, fix=self.fix)

    def wrong(self, where: str, expected: str, value):
        self.fail(f"{where} should be {expected}, not {_describe(value)}")

    # --- JSON values
    def obj(self, value, where: str, required=(), optional=()) -> dict:
        if not isinstance(value, dict):
            self.wrong(where, "an object", value)
        for key in value:
            if key not in required and key not in optional:
                self.fail(f"{where} has an unknown field '{_short_name(key)}'")
        for key in required:
            if key not in value:
                self.fail(f"{where} lacks the field '{key}'")
        return value

    def string(self, value, where: str, choices=None, optional: bool = False, max_length: int = 100_000):
        if value is None and optional:
            return None
        if not isinstance(value, str) or len(value) > max_length:
            self.wrong(where, "a text" + (" or null" if optional else ""), value)
        if choices is not None and value not in choices:
            shown = ", ".join(repr(c) for c in list(choices)[:12])
            self.fail(f"{where} is {_describe(value)}, which is not one of {shown}")
        return value

    def integer(self, value, where: str, low=None, high=None, optional: bool = False):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong(where, "a whole number", value)
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(f"{where} is {value}, outside {low} to {high}")
        return value

    def number(self, value, where: str, low=-math.inf, high=math.inf, allow_nan: bool = False,
               optional: bool = False):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.wrong(where, "a number", value)
        if math.isnan(value):
            if allow_nan:
                return value
            self.fail(f"{where} is NaN")
        if not low <= value <= high:
            self.fail(f"{where} is {value:g}, outside {low:g} to {high:g}")
        return value

    def boolean(self, value, where: str):
        if not isinstance(value, bool):
            self.wrong(where, "true or false", value)
        return value

    def array(self, value, where: str, max_length: int = 10_000_000) -> list:
        if not isinstance(value, list) or len(value) > max_length:
            self.wrong(where, "a list", value)
        return value

    def metrics(self, value, where: str) -> dict:
        """A dict of metric name -> number (NaN allowed: a metric without test users) or null."""
        if not isinstance(value, dict):
            self.wrong(where, "an object of metrics", value)
        for key, number in value.items():
            self.number(number, f"{where}.{_short_name(key)}", allow_nan=True, optional=True)
        return value

    def rating_scale(self, value, where: str):
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 2:
            self.wrong(where, "[low, high] or null", value)
        low = self.number(value[0], where + "[0]")
        high = self.number(value[1], where + "[1]")
        if not low < high:
            self.fail(f"{where} should be [low, high] with low < high, not [{low:g}, {high:g}]")
        return value

    def image_shape(self, value, where: str, n_cols: int | None = None):
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 2:
            self.wrong(where, "[height, width] or null", value)
        height = self.integer(value[0], where + "[0]", 1, 2**31)
        width = self.integer(value[1], where + "[1]", 1, 2**31)
        if n_cols is not None and height * width != n_cols:
            self.fail(f"{where} is {height} x {width} pixels, but the data have {n_cols:,} columns")
        return value

    def history(self, value, where: str) -> list:
        self.array(value, where, max_length=10_000_000)
        for number, step in enumerate(value):
            here = f"{where}[{number}]"
            if not isinstance(step, dict):
                self.wrong(here, "an object", step)
            for key in ("epoch", "train_loss", "seconds"):
                if key not in step:
                    self.fail(f"{here} lacks the field '{key}'")
            self.integer(step["epoch"], here + ".epoch", 0, 2**62)
            self.number(step["train_loss"], here + ".train_loss", allow_nan=True)
            self.number(step["seconds"], here + ".seconds", 0.0)
            for key, metric in step.items():
                if key not in ("epoch", "train_loss", "seconds"):
                    self.number(metric, f"{here}.{_short_name(key)}", allow_nan=True, optional=True)
        return value

    def params(self, value, where: str, model_cls) -> dict:
        """Parameters: only the model's declared names, each of its declared type (and choices)."""
        if not isinstance(value, dict):
            self.wrong(where, "an object of parameters", value)
        for key, given in value.items():
            if key not in model_cls.defaults:
                self.fail(f"{where} names '{_short_name(key)}', which is not a parameter of the "
                          f"{model_cls.name} model (it takes {', '.join(sorted(model_cls.defaults))})")
            here = f"{where}.{key}"
            default = model_cls.defaults[key]
            choices = getattr(model_cls, "param_choices", {}).get(key)
            if choices:
                self.string(given, here, choices=choices, optional=default is None)
            elif isinstance(default, bool):
                self.boolean(given, here)
            elif isinstance(default, int):
                self.integer(given, here, optional=False)
            elif isinstance(default, float):
                self.number(given, here)
            elif isinstance(default, str):
                self.string(given, here)
            elif given is not None and (isinstance(given, bool) or not isinstance(given, (int, float, str))):
                self.wrong(here, "a number, a text or null", given)
            elif isinstance(given, float) and math.isnan(given):
                self.fail(f"{here} is NaN")
        checker = _declared_param_checker(model_cls)
        if checker is not None:
            try:
                checker({**model_cls.defaults, **value})
            except (ValueError, TypeError) as exc:
                self.fail(f"{where}: {exc}".rstrip("."))
        return value

    def scalars(self, value, where: str, model_name: str) -> dict:
        """Fitted scalars: only the model's declared names, each a number of its declared type and range."""
        if not isinstance(value, dict):
            self.wrong(where, "an object of fitted numbers", value)
        allowed = FITTED_SCALARS.get(model_name, _COMMON_SCALARS)
        for key, given in value.items():
            if key not in allowed:
                self.fail(f"{where} names '{_short_name(key)}', which is not a fitted number of the "
                          f"{model_name} model (it saves {', '.join(allowed)})")
            kind, low, high = _SCALAR_TYPES[key]
            if kind == "int":
                self.integer(given, f"{where}.{key}", low, high)
            else:
                self.number(given, f"{where}.{key}", low, high)
        return value

    # --- array headers
    def members(self, members: dict, expected: dict) -> dict:
        """Every member name must be expected; ``expected`` maps name -> (required, dtype kinds, dims).

        ``dims`` is a tuple of ints (fixed sizes) or strings (named sizes,
        the same number wherever a name recurs), or None for any 1-D length.
        Returns the named sizes found.
        """
        sizes: dict[str, int] = {}
        for name in members:
            if name not in expected:
                self.fail(f"it holds an unknown array '{_short_name(name)}'")
        for name, (required, kinds, dims) in expected.items():
            if name not in members:
                if required:
                    self.fail(f"the array '{name}' is missing")
                continue
            shape, dtype = members[name]
            if dtype.kind not in kinds or (dtype.kind == "f" and dtype.itemsize not in (4, 8)):
                self.fail(f"the array '{name}' holds {_dtype_words(dtype)}, where {_kinds_words(kinds)} belong")
            if dims is None:
                if len(shape) != 1:
                    self.fail(f"the array '{name}' has {len(shape)} dimensions instead of 1")
                continue
            if len(shape) != len(dims):
                self.fail(f"the array '{name}' has {len(shape)} dimensions instead of {len(dims)}")
            for axis, (size, dim) in enumerate(zip(shape, dims)):
                if isinstance(dim, int):
                    if size != dim:
                        self.fail(f"the array '{name}' has {size:,} entries along axis {axis}, where {dim:,} belong")
                elif sizes.setdefault(dim, size) != size:
                    self.fail(f"the array '{name}' has {size:,} entries along axis {axis}, but {_dim_words(dim)} "
                              f"{'is' if dim in ('k', 'S', 'B') else 'are'} {sizes[dim]:,} elsewhere in the file")
        return sizes

    def indices(self, values: np.ndarray, name: str, high: int) -> None:
        """Integer indices in ``[0, high)``."""
        if values.size and (int(values.min()) < 0 or int(values.max()) >= high):
            self.fail(f"the array '{name}' holds indices outside 0 to {high - 1:,}")

    def finite(self, values: np.ndarray, name: str) -> None:
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            self.fail(f"the array '{name}' holds NaN or infinite values")


def _declared_param_checker(model_cls):
    """The parameter declarations' own check, where the models declare one (models/params.py)."""
    try:
        from .models import params as declared
    except ImportError:  # pragma: no cover
        return None
    if hasattr(model_cls, "validate_params"):  # the declared bounds and the rules joining parameters
        return lambda values: model_cls(**values).validate_params()
    spec = getattr(model_cls, "params_spec", None)
    check = getattr(declared, "check_params", None)
    if not spec or check is None:
        return None
    return lambda values: check(spec, values)


def _short_name(key) -> str:
    text = str(key)
    return text if len(text) <= 40 else text[:37] + "..."


def _dim_words(dim: str) -> str:
    return {"U": "the rows (users)", "I": "the columns (items)", "k": "the number of factors",
            "S": "the number of kept samples", "B": "the hyperparameter length", "N": "the entries",
            "Fu": "the user features", "Fi": "the item features", "T": "the time bins",
            "D": "the days users rated on"}.get(dim, dim)


_KIND_WORDS = {"i": "integers", "u": "integers", "f": "decimal numbers", "b": "true/false values", "U": "texts",
               "c": "complex numbers", "S": "bytes", "O": "Python objects", "V": "raw records", "M": "dates",
               "m": "durations"}


def _dtype_words(dtype: np.dtype) -> str:
    words = _KIND_WORDS.get(dtype.kind, str(dtype))
    return f"{words} ({dtype.itemsize * 8}-bit)" if dtype.kind == "f" else words


def _kinds_words(kinds: str) -> str:
    return " or ".join(dict.fromkeys(_KIND_WORDS[k] for k in kinds))


def model_array_spec(model_name: str, prefix: str = "model/") -> dict:
    """The schema of a model's fitted arrays for :meth:`Schema.members` (factors required)."""
    return {prefix + name: (name in _COMMON_ARRAYS, "f", ARRAY_DIMS[name])
            for name in FITTED_ARRAYS.get(model_name, _COMMON_ARRAYS)}


def json_default(value):
    """``json.dumps`` default for numpy scalars and arrays in manifests."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot save {type(value).__name__} in a manifest")


# ------------------------------------------------------------------ saved models

MODEL_FORMATS = ("mfstudio-model-1", "mfstudio-model-2")
_MODEL_FIX = "give the folder written by fit --save (or its model.json)"


def model_paths(path) -> tuple[Path, Path]:
    """``(manifest, arrays)`` of a saved model: a folder (``DIR/model.json``) or the older ``PATH.json`` pair."""
    given = Path(path)
    if given.is_dir():
        return given / MODEL_MANIFEST, given / MODEL_ARRAYS
    if given.name in (MODEL_MANIFEST, MODEL_ARRAYS) and (given.parent / MODEL_MANIFEST).is_file():
        return given.parent / MODEL_MANIFEST, given.parent / MODEL_ARRAYS
    base = given.with_suffix("") if given.suffix in (".json", ".npz") else given
    return base.with_suffix(".json"), base.with_suffix(".npz")


def _data_arrays_spec(prefix: str = "data/") -> dict:
    return {
        prefix + "rows": (True, "iu", ("N",)), prefix + "cols": (True, "iu", ("N",)),
        prefix + "values": (True, "fiu", ("N",)),
        prefix + "row_ids": (True, "iuU", ("U",)), prefix + "col_ids": (True, "iuU", ("I",)),
        prefix + "item_titles": (False, "U", ("I",)), prefix + "item_genres": (False, "U", ("I",)),
    }


def _check_data_values(schema: Schema, arrays: dict, sizes: dict, prefix: str = "data/") -> None:
    schema.indices(arrays[prefix + "rows"], prefix + "rows", sizes["U"])
    schema.indices(arrays[prefix + "cols"], prefix + "cols", sizes["I"])
    schema.finite(arrays[prefix + "values"], prefix + "values")
    for ids in ("row_ids", "col_ids"):
        if unique_sorted(arrays[prefix + ids]).size != arrays[prefix + ids].size:
            schema.fail(f"the array '{prefix + ids}' names an id twice")


def _check_model_values(schema: Schema, arrays: dict, prefix: str) -> None:
    for name, values in arrays.items():
        if name.startswith(prefix):
            schema.finite(values, name)


def read_model_files(path):
    """The checked contents of a saved model: ``(model class, manifest, arrays, manifest path)``.

    Raises
    ------
    DataError
        Anything the schema refuses (see the module's docstring).
    """
    from .models import MODELS

    manifest_path, arrays_path = model_paths(path)
    if not manifest_path.is_file():
        raise DataError("no saved model here", manifest_path if manifest_path.parent.is_dir() else path,
                        fix=_MODEL_FIX)
    manifest = read_manifest(manifest_path, "saved mfstudio model", fix=_MODEL_FIX)
    if manifest.get("format") not in MODEL_FORMATS:
        raise DataError("this is not a saved mfstudio model (no format tag of one)", manifest_path, fix=_MODEL_FIX)
    schema = Schema(manifest_path, "model", fix="save the model again with mfstudio")
    schema.obj(manifest, "the manifest", required=("format", "model", "params", "scalars", "history", "data"),
               optional=("arrays_sha256", "recipe"))
    check_recipe(schema, manifest.get("recipe"))
    name = schema.string(manifest["model"], "the manifest's 'model'", choices=list(MODELS))
    cls = MODELS[name]
    schema.params(manifest["params"], "params", cls)
    schema.scalars(manifest["scalars"], "scalars", name)
    schema.history(manifest["history"], "history")
    info = schema.obj(manifest["data"], "data", required=("name", "kind", "shape", "rating_scale"),
                      optional=("image_shape",))
    schema.string(info["name"], "data.name")
    schema.string(info["kind"], "data.kind", choices=KINDS)
    shape = schema.array(info["shape"], "data.shape")
    if len(shape) != 2:
        schema.wrong("data.shape", "[rows, columns]", shape)
    for axis in (0, 1):
        schema.integer(shape[axis], f"data.shape[{axis}]", 0, 2**62)
    schema.rating_scale(info["rating_scale"], "data.rating_scale")
    schema.image_shape(info.get("image_shape"), "data.image_shape", shape[1])
    sha = schema.string(manifest.get("arrays_sha256"), "arrays_sha256", optional=True, max_length=64)

    expected = {**_data_arrays_spec(), **model_array_spec(name)}
    sizes: dict = {}

    def check_members(members):
        sizes.update(schema.members(members, expected))
        if [sizes["U"], sizes["I"]] != shape:
            schema.fail(f"its arrays hold {sizes['U']:,} x {sizes['I']:,} ids, but the manifest says "
                        f"{shape[0]:,} x {shape[1]:,}")

    arrays = read_arrays(arrays_path, "saved model", check_members, sha, fix="save the model again")
    _check_data_values(schema, arrays, sizes)
    _check_model_values(schema, arrays, "model/")
    return cls, manifest, arrays, manifest_path


# ------------------------------------------------------------------ the run's recipe
#: What ``fit --save`` records about how the model was made (``model.json``'s optional ``recipe``), so that
#: ``mfstudio export-code`` can write a script that makes it again. Files without it still load.
RECIPE_FIELDS = {
    "data": "the DATA argument: sample:NAME or an absolute path",
    "kind": "the --kind asked for, or null",
    "test": "a separate test file (absolute path), or null",
    "protocol": "the protocol spec the run used (all, random:0.2, test-file:..., ...)",
    "seed": "the seed of the split",
    "early_stopping": "the patience, or null",
    "validation_fraction": "with early stopping: the share held out",
    "metrics": "the final metrics, to compare the rerun with",
    "mfstudio_version": "the version that fitted it",
}


def check_recipe(schema: "Schema", recipe) -> dict | None:
    """Refuse a recipe that is not the object :data:`RECIPE_FIELDS` describes (None is fine: older files)."""
    if recipe is None:
        return None
    recipe = schema.obj(recipe, "recipe", required=("data", "protocol", "seed"), optional=tuple(RECIPE_FIELDS))
    schema.string(recipe["data"], "recipe.data", max_length=4096)
    schema.string(recipe.get("kind"), "recipe.kind", choices=KINDS, optional=True)
    schema.string(recipe.get("test"), "recipe.test", optional=True, max_length=4096)
    schema.string(recipe["protocol"], "recipe.protocol", max_length=4096)
    schema.integer(recipe["seed"], "recipe.seed", -2**63, 2**63)
    schema.integer(recipe.get("early_stopping"), "recipe.early_stopping", 1, 10**9, optional=True)
    schema.number(recipe.get("validation_fraction"), "recipe.validation_fraction", 0.0, 1.0, optional=True)
    if recipe.get("metrics") is not None:
        schema.metrics(recipe["metrics"], "recipe.metrics")
    schema.string(recipe.get("mfstudio_version"), "recipe.mfstudio_version", optional=True, max_length=100)
    return recipe


def add_recipe(folder, recipe: dict) -> Path:
    """Record how a saved model was made (``recipe`` in its ``model.json``), rewriting the manifest atomically.

    The folder must hold a model this process just saved; the arrays and
    their checksum are untouched.

    Parameters
    ----------
    folder : path-like
        The model's folder.
    recipe : dict
        Keys of :data:`RECIPE_FIELDS` (``data``, ``protocol`` and ``seed`` required).

    Returns
    -------
    pathlib.Path
        The manifest's path.
    """
    manifest_path, _ = model_paths(folder)
    manifest = read_manifest(manifest_path, "saved mfstudio model", fix=_MODEL_FIX)
    check_recipe(Schema(manifest_path, "model", fix="report this as a bug"), recipe)
    manifest["recipe"] = recipe
    text = json.dumps(manifest, indent=2, default=json_default)
    try:
        atomic_write(manifest_path, lambda stream: stream.write(text.encode("utf-8")))
    except OSError as exc:
        raise _os_error(exc, manifest_path.parent) from None
    return manifest_path


def read_recipe(path) -> tuple[dict, dict | None]:
    """A saved model's manifest (checked like :func:`read_model_files` would) and its recipe, or None if older."""
    _, manifest, _, _ = read_model_files(path)
    return manifest, manifest.get("recipe")
