#!/usr/bin/env bash
# Build the double-clickable bundle: dist/mfstudio/mfstudio (onedir), and the
# archive to hand out: dist/mfstudio-VERSION-linux-x86_64.tar.xz (unpack with
# `tar xf`; it holds the mfstudio/ folder).
#
#   python -m pip install -e ".[packaging]"   # once
#   packaging/build.sh
#
# Then run dist/mfstudio/mfstudio (or double-click it), or check it headless with
# dist/mfstudio/mfstudio --self-test. packaging/linux/install.sh adds the menu
# entry, icon and file associations. benchmarks/bench_bundle.py measures the
# result against the size targets.
#
# The build writes only under build/ and dist/: the icons are rendered into
# build/icons (the committed ones in mfstudio/gui/resources are not touched).
# MFSTUDIO_ARCHIVE=0 skips the archive; MFSTUDIO_PREPARED_CACHE=0 the prepared kernel cache; MFSTUDIO_STRIP=0 and MFSTUDIO_FULL_ICU=1
# undo two of the size cuts (see packaging/mfstudio.spec) to rule them out.
set -euo pipefail
cd "$(dirname "$0")/.."
python packaging/make_icons.py --out build/icons >/dev/null
python -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/mfstudio.spec

# The prepared kernel cache: every kernel compiled once here, for a portable CPU, inside the built bundle, and
# shipped with it, so that a user's first start loads machine code instead of compiling it for a minute
# (packaging/mfstudio_bundle_cache.py says how numba is made to find it). MFSTUDIO_PREPARED_CACHE=0 skips it.
if [ "${MFSTUDIO_PREPARED_CACHE:-1}" = "1" ]; then
  prepared="$PWD/dist/mfstudio/_internal/numba_kernels"
  rm -rf "$prepared"
  mkdir -p "$prepared"
  started=$(date +%s)
  QT_QPA_PLATFORM=offscreen dist/mfstudio/mfstudio --prepare-kernel-cache "$prepared"
  echo "prepared kernel cache: $(du -sh "$prepared" | cut -f1) in $(( $(date +%s) - started )) s"
  rmdir "$prepared" 2>/dev/null || true  # nothing prepared (a CPU without the portable target's instructions)
fi
echo "bundle: $(du -sh dist/mfstudio | cut -f1) on disk"
echo "built dist/mfstudio/mfstudio"

if [ "${MFSTUDIO_ARCHIVE:-1}" = "1" ]; then
  version=$(python -c "import mfstudio; print(mfstudio.__version__)")
  archive="dist/mfstudio-${version}-$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m).tar.xz"
  rm -f "$archive"
  # xz: every Linux unpacks it (tar xf); -T0 uses all cores. Sorted names, fixed owner and no atime keep the
  # archive's listing stable between builds.
  tar --sort=name --owner=0 --group=0 --numeric-owner -C dist -cf - mfstudio | xz -T0 -6 > "$archive"
  echo "archive: $archive, $(du -h "$archive" | cut -f1) ($(stat -c %s "$archive") bytes)"
fi
