#!/usr/bin/env bash
# Install mfstudio's menu entry, icon and file associations for the current user.
#
#   packaging/linux/install.sh [PATH-TO-mfstudio]
#
# PATH-TO-mfstudio is the program to start: the bundle's dist/mfstudio/mfstudio,
# or the `mfstudio` command of a pip install (the default: whatever is on PATH).
# Nothing is written outside ~/.local; run with --uninstall to remove it all again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
icons="$data/icons/hicolor"
mime="$data/mime"


if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$apps/mfstudio.desktop" "$mime/packages/mfstudio-mime.xml"
  find "$icons" -name 'mfstudio.png' -delete 2>/dev/null || true
  rm -f "$icons/scalable/apps/mfstudio.svg"
  command -v update-mime-database >/dev/null && update-mime-database "$mime" || true
  command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
  echo "mfstudio's menu entry, icons and file types are removed."
  exit 0
fi

program="${1:-$(command -v mfstudio || true)}"
if [ -z "$program" ] || [ ! -x "$program" ]; then
  echo "install.sh: cannot find the mfstudio program; give its path, e.g. packaging/linux/install.sh \$PWD/dist/mfstudio/mfstudio" >&2
  exit 2
fi
program="$(cd "$(dirname "$program")" && pwd)/$(basename "$program")"

mkdir -p "$apps" "$icons/scalable/apps" "$mime/packages"
resources="$root/mfstudio/gui/resources"
[ -d "$resources" ] || resources="$(dirname "$program")/_internal/mfstudio/gui/resources"
for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "$icons/${size}x${size}/apps"
  cp "$resources/mfstudio-$size.png" "$icons/${size}x${size}/apps/mfstudio.png"
done
cp "$resources/mfstudio.svg" "$icons/scalable/apps/mfstudio.svg"
cp "$here/mfstudio-mime.xml" "$mime/packages/"
# The menu entry runs the program by absolute path: a bundle is not on PATH.
sed -e "s|^Exec=mfstudio %F|Exec=\"$program\" %F|" -e "s|^TryExec=mfstudio|TryExec=$program|" \
  "$here/mfstudio.desktop" > "$apps/mfstudio.desktop"
command -v update-mime-database >/dev/null && update-mime-database "$mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$icons" || true
echo "mfstudio is in your applications menu; .mfproj, .csv, .tsv, .mtx, .npy and .npz files can open with it."
