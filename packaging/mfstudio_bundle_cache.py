"""The bundle's prepared kernel cache: numba machine code built with the bundle, found wherever it is unpacked.

Why a locator of our own: numba picks a cache folder from the path of each
kernel's source file. In the frozen bundle that path is the *build*
machine's checkout (PyInstaller keeps it in the code objects), which exists
only there: on the build machine numba used ``NUMBA_CACHE_DIR``, on a
user's it falls back to ``~/.cache/numba``, and a cache shipped in the
bundle would be found by neither. :class:`PreparedCacheLocator` gives every
kernel one folder per build instead, ``<user cache>/mfstudio/numba/bundle-
<stamp>`` (under ``NUMBA_CACHE_DIR`` when that is set), and on first use fills it from the copy shipped in the bundle
(``_internal/numba_kernels``); unpacked anywhere, moved, or read-only, the
bundle then loads its kernels instead of compiling them.

What numba checks before it uses an entry, and how each stays true on
another machine:

- the source stamp: for a frozen program numba hashes ``sys.executable``,
  which is the same file in every copy of one build (and differs between
  builds, which get different folders anyway);
- per entry, the signature, the bytecode's hash and the code generator's
  ``(target triple, CPU name, CPU features)``: the CPU is pinned to
  :data:`PORTABLE_CPU` with no extra features when the bundle builds the
  cache, and at start-up on every machine that has those instructions
  (:func:`configure`). A machine without them compiles for itself as before.

The build fills the cache by running the warm-up inside the built bundle
(``mfstudio --prepare-kernel-cache``, see ``packaging/build.sh``).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading

#: The LLVM CPU the shipped kernels are compiled for: x86-64-v3 is AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
#: (Intel Haswell, 2013, and AMD Zen and later), so the factor loops keep their 8-wide float32 FMAs.
PORTABLE_CPU = "x86-64-v3"
#: /proc/cpuinfo flags x86-64-v3 requires (with the v2 ones every such CPU also has).
_V3_FLAGS = frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave",
                       "sse4_1", "sse4_2", "ssse3", "popcnt", "cx16"})
#: Environment variable naming the shipped cache folder when it applies to this machine (read by the self-test).
PREPARED_ENV = "MFSTUDIO_PREPARED_KERNELS"
#: Environment variable that makes the locator write into the shipped folder itself (the build's warm-up).
BUILDING_ENV = "MFSTUDIO_BUILDING_KERNEL_CACHE"
#: The shipped folder, relative to the bundle's ``_internal`` directory (``sys._MEIPASS``).
SHIPPED_DIR = "numba_kernels"
_MARKER = ".prepared"
#: A build's cache folder unused this long is removed when another build starts (it re-seeds from its own
#: shipped copy, about 5 MB, if it is ever launched again).
STALE_DAYS = 30


def host_supports_portable_cpu(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU runs code compiled for :data:`PORTABLE_CPU` (reads the kernel's flag list)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return _V3_FLAGS <= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return False


def shipped_dir() -> str | None:
    """The prepared cache inside the running bundle, or None (not frozen, or built without one)."""
    base = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or base is None:
        return None
    path = os.path.join(base, SHIPPED_DIR)
    return path if os.path.isdir(path) else None


def configure(environ=os.environ, cpu_ok=None) -> str | None:
    """Point numba at the prepared cache; call before numba is imported.

    Sets numba's CPU to :data:`PORTABLE_CPU` (unless the user chose one, or
    this CPU lacks its instructions) and names this module's locator first
    in ``NUMBA_CACHE_LOCATOR_CLASSES``. Returns the shipped folder when its
    entries can be used here (also left in ``MFSTUDIO_PREPARED_KERNELS``),
    else None.
    """
    building = environ.get(BUILDING_ENV)
    shipped = building or shipped_dir()
    if shipped is None:
        return None
    if "NUMBA_CPU_NAME" in environ and environ["NUMBA_CPU_NAME"] != PORTABLE_CPU:
        return None  # the user's own choice wins; the shipped entries do not match it
    if not building and not (host_supports_portable_cpu() if cpu_ok is None else cpu_ok):
        return None
    environ["NUMBA_CPU_NAME"] = PORTABLE_CPU
    environ["NUMBA_CPU_FEATURES"] = ""  # no host features in the cache key: the same key on every machine
    environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", f"{__name__}.PreparedCacheLocator,UserWideCacheLocator")
    environ[PREPARED_ENV] = shipped
    return shipped


def _user_cache_root() -> str:
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("mfstudio", appauthor=False), "numba")


_seed_lock = threading.Lock()
_seeded: set[str] = set()


def seed(target: str, shipped: str) -> None:
    """Copy the shipped cache files into ``target`` once (a marker file records that it was done).

    The marker's time is renewed at each start, so that :func:`prune_stale` can tell a build still in
    use from one that was replaced; a new folder also removes the stale folders of other builds.
    """
    with _seed_lock:
        if target in _seeded:
            return
        marker = os.path.join(target, _MARKER)
        if not os.path.exists(marker):
            os.makedirs(target, exist_ok=True)
            for name in os.listdir(shipped):
                if name.endswith((".nbi", ".nbc")):
                    # Copy to a temporary name first: another process may be loading the same folder.
                    tmp = os.path.join(target, f".{name}.{os.getpid()}.tmp")
                    shutil.copyfile(os.path.join(shipped, name), tmp)
                    os.replace(tmp, os.path.join(target, name))
            with open(marker, "w", encoding="ascii") as f:
                f.write(shipped + "\n")
            prune_stale(os.path.dirname(target), keep=target)
        else:
            try:
                os.utime(marker)
            except OSError:
                pass  # a read-only cache still loads
        _seeded.add(target)


def prune_stale(root: str, keep: str, max_age_days: float = STALE_DAYS, now: float | None = None) -> list[str]:
    """Remove the ``bundle-*`` folders under ``root`` (other than ``keep``) not started for ``max_age_days``.

    Each build leaves about 5 MB; without this, every update of the app left the old build's folder
    behind for good. Only folders with a marker (completely seeded) are judged, by the marker's time;
    other entries under ``root`` (a source install's ``kernels_*`` folders) are never touched. Returns
    the folders removed.
    """
    import time

    limit = (time.time() if now is None else now) - max_age_days * 86400
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(root, name)
        if not name.startswith("bundle-") or os.path.abspath(folder) == os.path.abspath(keep):
            continue
        try:
            if os.path.getmtime(os.path.join(folder, _MARKER)) >= limit:
                continue
        except OSError:
            continue  # no marker: being seeded by another process right now, or not ours
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _make_locator():
    # numba is imported here, not at module import: configure() runs before numba may be imported.
    from numba.core.caching import _CacheLocator, _SourceFileBackedLocatorMixin

    class PreparedCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
        """One writable folder per build, seeded from the bundle's prepared cache (see the module notes)."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = self._folder()

        @staticmethod
        def _folder() -> str:
            building = os.environ.get(BUILDING_ENV)
            if building:
                return building
            # The stamp numba checks (the executable's hash) names the folder: one per build.
            # NUMBA_CACHE_DIR, when set (the window sets it; benchmarks point it at an empty folder), is the root.
            stamp = _SourceFileBackedLocatorMixin.get_source_stamp(None)
            root = os.environ.get("NUMBA_CACHE_DIR") or _user_cache_root()
            return os.path.join(root, f"bundle-{stamp.hex()[:16]}")

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            if not getattr(sys, "frozen", False):
                return None
            self = cls(py_func, py_file)
            try:
                self.ensure_cache_path()
                shipped = os.environ.get(PREPARED_ENV)
                if shipped and not os.environ.get(BUILDING_ENV):
                    seed(self._cache_path, shipped)
            except OSError:
                return None  # numba tries its next locator (the user-wide cache)
            return self

    return PreparedCacheLocator


def __getattr__(name):
    if name == "PreparedCacheLocator":
        locator = _make_locator()
        globals()[name] = locator
        return locator
    raise AttributeError(name)
