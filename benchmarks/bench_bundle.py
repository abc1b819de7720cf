"""The PyInstaller bundle against its targets: size on disk, archive size, what takes the space, self-test times.

    packaging/build.sh                                  # first: dist/mfstudio and dist/mfstudio-*.tar.xz
    python benchmarks/bench_bundle.py [--bundle dist/mfstudio] [--archive FILE] [--top 15]
                                      [--no-self-test] [--json]

Prints, in one run:

- the bundle's size on disk (``du``: allocated blocks, MiB as ``du -sh`` shows them, and MB) against the
  target of issue 13 (under 450 MB) and the size before the cuts (651 MiB, ``du -sh`` on main before);
- the archive's size (``dist/mfstudio-*-linux-*.tar.*``, the newest) against its target (under 200 MB);
- the biggest contributors: top-level folders of ``_internal`` and the largest files;
- ``--self-test`` of the bundle twice on an empty kernel cache of its own (a temporary ``NUMBA_CACHE_DIR``
  and XDG folders, so the user's cache is neither used nor touched): cold (every kernel compiled) and warm
  (every kernel loaded from the cache), wall time of the whole process, and whether the second run was warm.

The targets are in MB (10^6 bytes) *and* MiB: a size passes only under both readings of "450 MB".
Timings move with the machine's load; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_BUNDLE_MB = 450
TARGET_ARCHIVE_MB = 200
#: Measured on main before the size work (PyInstaller 6.22, PySide6 6.11, numba 0.68, pyarrow 26): du -sh.
BEFORE = {"bundle_mib": 651, "self_test_cold_s": 45, "self_test_warm_s": 7}
MIB = 1 << 20


def disk_bytes(path: Path) -> int:
    """Allocated size as ``du`` counts it (symlinks count as links, hard links once)."""
    out = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def contributors(bundle: Path, top: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    internal = bundle / "_internal"
    folders = []
    for child in internal.iterdir():
        if child.is_symlink():
            continue
        size = disk_bytes(child) if child.is_dir() else child.stat().st_size
        folders.append((child.name + ("/" if child.is_dir() else ""), size))
    for child in bundle.iterdir():
        if child.is_file():
            folders.append((f"../{child.name}", child.stat().st_size))
    files = [(str(p.relative_to(bundle)), p.stat().st_size)
             for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    return sorted(folders, key=lambda x: -x[1])[:top], sorted(files, key=lambda x: -x[1])[:top]


def newest_archive(bundle: Path) -> Path | None:
    candidates = [p for p in bundle.parent.glob("mfstudio-*-linux-*.tar.*") if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def self_test_pair(executable: Path) -> dict:
    """Run ``--self-test`` twice on a fresh kernel cache; wall times and the kernel lines."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="mfstudio-bench-bundle-") as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba"), QT_QPA_PLATFORM="offscreen")
        for name in ("cache", "config", "state", "data"):
            env[f"XDG_{name.upper()}_HOME"] = str(Path(tmp) / name)
        for run in ("cold", "warm"):
            started = time.perf_counter()
            proc = subprocess.run([str(executable), "--self-test"], env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            kernels = next((line.strip() for line in proc.stdout.splitlines() if "kernels:" in line), "")
            failed = [line.strip() for line in proc.stdout.splitlines() if line.startswith("FAIL")]
            results[run] = {"seconds": round(seconds, 1), "exit": proc.returncode, "kernels": kernels,
                            "failed": failed, "from_cache": "kernels from cache" in proc.stdout}
            if proc.returncode != 0 and not failed:
                results[run]["failed"] = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
    return results


def verdict(size: int, target_mb: int) -> str:
    ok = size < target_mb * 1_000_000  # the stricter reading: MB < MiB
    return "PASS" if ok else ("pass in MiB only" if size < target_mb * MIB else "FAIL")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "mfstudio")
    parser.add_argument("--archive", type=Path, default=None, help="default: the newest dist/mfstudio-*-linux-*.tar.*")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-self-test", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)

    bundle = args.bundle.resolve()
    executable = bundle / "mfstudio"
    if not executable.exists():
        print(f"no bundle at {bundle}: run packaging/build.sh first", file=sys.stderr)
        return 2
    size = disk_bytes(bundle)
    archive = args.archive or newest_archive(bundle)
    archive_size = archive.stat().st_size if archive and archive.exists() else None
    folders, files = contributors(bundle, args.top)
    tests = None if args.no_self_test else self_test_pair(executable)
    report = {
        "bundle": str(bundle), "bundle_bytes": size, "bundle_mib": round(size / MIB, 1),
        "bundle_mb": round(size / 1e6, 1), "bundle_verdict": verdict(size, TARGET_BUNDLE_MB),
        "archive": str(archive) if archive else None, "archive_bytes": archive_size,
        "archive_verdict": verdict(archive_size, TARGET_ARCHIVE_MB) if archive_size else "no archive",
        "folders": folders, "files": files, "self_test": tests, "before": BEFORE,
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0 if _passed(report) else 1

    print(f"bundle   {bundle}")
    print(f"  on disk      {size / MIB:7.1f} MiB = {size / 1e6:7.1f} MB   target < {TARGET_BUNDLE_MB} MB   "
          f"{report['bundle_verdict']}   (before: {BEFORE['bundle_mib']} MiB)")
    if archive_size:
        print(f"  archive      {archive_size / MIB:7.1f} MiB = {archive_size / 1e6:7.1f} MB   "
              f"target < {TARGET_ARCHIVE_MB} MB   {report['archive_verdict']}   ({archive.name})")
    else:
        print("  archive      none found (packaging/build.sh writes dist/mfstudio-VERSION-linux-ARCH.tar.xz)")
    print(f"\nbiggest parts of the bundle (MiB on disk, top {args.top}):")
    for name, n in folders:
        print(f"  {n / MIB:7.1f}  {name}")
    print(f"\nbiggest files (MiB, top {args.top}):")
    for name, n in files:
        print(f"  {n / MIB:7.1f}  {name}")
    if tests:
        print(f"\nself-test on a fresh kernel cache (load average {report['load_average'][0]:.2f}):")
        for run in ("cold", "warm"):
            r = tests[run]
            state = "passed" if r["exit"] == 0 else "FAILED"
            print(f"  {run:5s} {r['seconds']:6.1f} s  {state}  {r['kernels']}  "
                  f"(before: {BEFORE[f'self_test_{run}_s']} s)")
            for line in r["failed"]:
                print(f"        {line}")
        print(f"  second run warm: {'yes' if tests['warm']['from_cache'] else 'NO'}")
    return 0 if _passed(report) else 1


def _passed(report) -> bool:
    tests = report["self_test"]
    tests_ok = tests is None or (tests["cold"]["exit"] == 0 and tests["warm"]["exit"] == 0
                                 and tests["warm"]["from_cache"])
    return report["bundle_verdict"] == "PASS" and report["archive_verdict"] == "PASS" and tests_ok


if __name__ == "__main__":
    raise SystemExit(main())
