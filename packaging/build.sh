#!/usr/bin/env bash
# Build the double-clickable bundle: dist/mfstudio/mfstudio (onedir).
#
#   python -m pip install -e ".[packaging]"   # once
#   packaging/build.sh
#
# Then run dist/mfstudio/mfstudio (or double-click it), or check it headless with
# dist/mfstudio/mfstudio --self-test. packaging/linux/install.sh adds the menu
# entry, icon and file associations.
set -euo pipefail
cd "$(dirname "$0")/.."
python packaging/make_icons.py >/dev/null
python -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/mfstudio.spec
du -sh dist/mfstudio
echo "built dist/mfstudio/mfstudio"
