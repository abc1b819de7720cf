"""The bundle's prepared kernel cache (packaging/mfstudio_bundle_cache.py), without building a bundle.

A frozen program is imitated in a child process (``sys.frozen``, a stand-in
executable whose hash is numba's source stamp, ``sys._MEIPASS`` holding the
shipped folder): one child prepares the cache as the build does, another,
with the kernel's source moved elsewhere and an empty user cache, must load
it without compiling; a third, shipped an empty folder, must compile (so the
check can fail).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"
sys.path.insert(0, str(PACKAGING))
import mfstudio_bundle_cache as bundle_cache  # noqa: E402

KERNEL = "from numba import njit\n\n\n@njit(cache=True)\ndef add_one(x):\n    return x + 1\n"

CHILD = r"""
import json, os, sys
sys.frozen = True
sys.executable = os.environ["FAKE_EXE"]
sys._MEIPASS = os.environ["FAKE_MEIPASS"]
sys.path.insert(0, os.environ["PACKAGING"])
sys.path.insert(0, os.environ["KERNEL_DIR"])
import mfstudio_bundle_cache
shipped = mfstudio_bundle_cache.configure(cpu_ok=True)
import tiny_kernel
assert tiny_kernel.add_one(41) == 42
stats = tiny_kernel.add_one.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                  "path": str(tiny_kernel.add_one._cache.cache_path), "shipped": shipped}))
"""


def _run(tmp_path, kernel_dir, meipass, cache_dir, building=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "MFSTUDIO_"))}
    env.update(FAKE_EXE=str(tmp_path / "mfstudio-exe"), FAKE_MEIPASS=str(meipass), PACKAGING=str(PACKAGING),
               KERNEL_DIR=str(kernel_dir), NUMBA_CACHE_DIR=str(cache_dir))
    if building:
        env[bundle_cache.BUILDING_ENV] = str(building)
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not bundle_cache.host_supports_portable_cpu(), reason="this CPU cannot run x86-64-v3 code")
def test_prepared_cache_is_used_after_the_bundle_moves(tmp_path):
    (tmp_path / "mfstudio-exe").write_bytes(b"the same executable in every copy of one build")
    build_src = tmp_path / "build-checkout"
    build_src.mkdir()
    (build_src / "tiny_kernel.py").write_text(KERNEL)
    bundle = tmp_path / "bundle" / "_internal"
    shipped = bundle / bundle_cache.SHIPPED_DIR
    shipped.mkdir(parents=True)
    built = _run(tmp_path, build_src, bundle, tmp_path / "unused", building=shipped)
    assert built["misses"] == 1 and Path(built["path"]) == shipped
    assert any(name.endswith(".nbc") for name in os.listdir(shipped))

    # Moved: the bundle unpacked elsewhere, the source path of the build gone, a user cache never used.
    moved = tmp_path / "elsewhere" / "_internal"
    shutil.copytree(bundle, moved)
    shutil.rmtree(bundle)
    user_src = tmp_path / "user-source"
    shutil.copytree(build_src, user_src)
    shutil.rmtree(build_src)
    loaded = _run(tmp_path, user_src, moved, tmp_path / "user-cache")
    assert loaded["shipped"] == str(moved / bundle_cache.SHIPPED_DIR)
    assert (loaded["hits"], loaded["misses"]) == (1, 0)
    assert Path(loaded["path"]).parent == tmp_path / "user-cache"

    # Shipped nothing: the same start compiles, so "0 compiled" above is the prepared cache's doing.
    for name in os.listdir(moved / bundle_cache.SHIPPED_DIR):
        os.remove(moved / bundle_cache.SHIPPED_DIR / name)
    empty = _run(tmp_path, user_src, moved, tmp_path / "another-user-cache")
    assert (empty["hits"], empty["misses"]) == (0, 1)


def test_configure_pins_the_cpu_only_where_the_shipped_cache_applies(tmp_path, monkeypatch):
    meipass = tmp_path / "_internal"
    (meipass / bundle_cache.SHIPPED_DIR).mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(meipass), raising=False)

    env = {}
    assert bundle_cache.configure(env, cpu_ok=True) == str(meipass / bundle_cache.SHIPPED_DIR)
    assert env["NUMBA_CPU_NAME"] == bundle_cache.PORTABLE_CPU and env["NUMBA_CPU_FEATURES"] == ""
    assert env["NUMBA_CACHE_LOCATOR_CLASSES"].startswith("mfstudio_bundle_cache.PreparedCacheLocator")
    # A CPU without the instructions, or a user's own CPU choice: numba compiles for this machine as before.
    assert bundle_cache.configure({}, cpu_ok=False) is None
    chosen = {"NUMBA_CPU_NAME": "generic"}
    assert bundle_cache.configure(chosen, cpu_ok=True) is None and chosen == {"NUMBA_CPU_NAME": "generic"}
    # Not frozen (a source install): nothing shipped, nothing changed.
    monkeypatch.setattr(sys, "frozen", False)
    assert bundle_cache.configure({}, cpu_ok=True) is None


def test_cpu_flags_decide_the_portable_target(tmp_path):
    v3 = "fpu sse2 ssse3 sse4_1 sse4_2 popcnt cx16 avx avx2 bmi1 bmi2 f16c fma abm movbe xsave"
    (tmp_path / "new").write_text(f"processor\t: 0\nflags\t\t: {v3}\n")
    (tmp_path / "old").write_text("processor\t: 0\nflags\t\t: fpu sse2 ssse3 sse4_1 sse4_2 popcnt cx16 avx\n")
    assert bundle_cache.host_supports_portable_cpu(str(tmp_path / "new"))
    assert not bundle_cache.host_supports_portable_cpu(str(tmp_path / "old"))
    assert not bundle_cache.host_supports_portable_cpu(str(tmp_path / "missing"))


def test_seeding_copies_once_and_keeps_what_the_user_compiled(tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "k.f-3.py311.nbi").write_bytes(b"index")
    (shipped / "k.f-3.py311.1.nbc").write_bytes(b"code")
    target = tmp_path / "user" / "bundle-x"
    bundle_cache.seed(str(target), str(shipped))
    assert (target / "k.f-3.py311.1.nbc").read_bytes() == b"code"
    (target / "k.g-9.py311.nbi").write_bytes(b"compiled later by the user")
    bundle_cache._seeded.clear()  # a new process: the marker, not memory, says it was done
    bundle_cache.seed(str(target), str(shipped))
    assert (target / "k.g-9.py311.nbi").exists()
    assert not [n for n in os.listdir(target) if n.endswith(".tmp")]


def test_a_new_build_removes_the_cache_folders_of_builds_unused_for_a_month(tmp_path):
    """Each build leaves ~5 MB in the user's cache; a start of a new build removes other builds' stale folders,
    and each start renews its own folder's time."""
    import time

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "k.f-3.py311.nbi").write_bytes(b"index")
    root = tmp_path / "user"
    month = bundle_cache.STALE_DAYS * 86400
    old, recent, unseeded, source = root / "bundle-old", root / "bundle-recent", root / "bundle-half", root / "kernels_ab"
    for folder in (old, recent, unseeded, source):
        folder.mkdir(parents=True)
    for folder, age in ((old, month + 3600), (recent, month - 3600)):
        marker = folder / bundle_cache._MARKER
        marker.write_text("x")
        os.utime(marker, (time.time() - age, time.time() - age))
    os.utime(source, (time.time() - 10 * month, time.time() - 10 * month))
    bundle_cache._seeded.clear()
    bundle_cache.seed(str(root / "bundle-new"), str(shipped))
    assert sorted(p.name for p in root.iterdir()) == ["bundle-half", "bundle-new", "bundle-recent", "kernels_ab"]
    # A later start of the recent build renews its time: it is still in use.
    bundle_cache._seeded.clear()
    before = (recent / bundle_cache._MARKER).stat().st_mtime
    bundle_cache.seed(str(recent), str(shipped))
    assert (recent / bundle_cache._MARKER).stat().st_mtime > before + month / 2


def test_self_test_fails_when_shipped_kernels_were_compiled():
    from mfstudio.selftest import PREPARED_ENV, prepared_cache_problem

    shipped = {PREPARED_ENV: "/bundle/_internal/numba_kernels"}
    assert "2 kernel signatures compiled" in prepared_cache_problem({"from_cache": 40, "compiled": 2}, shipped)
    assert prepared_cache_problem({"from_cache": 42, "compiled": 0}, shipped) is None
    # Nothing shipped (a source install, or a CPU the shipped code cannot run on): compiling is expected.
    assert prepared_cache_problem({"from_cache": 0, "compiled": 42}, {}) is None
