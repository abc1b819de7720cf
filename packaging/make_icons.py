"""Render the application icon from its SVG source into every size and format.

    python packaging/make_icons.py

Reads ``resources/mfstudio.svg`` and writes, into ``mfstudio/gui/resources/``
(shipped inside the package, found by the app at run time):

- ``mfstudio.svg`` (a copy, for the window and freedesktop's scalable icon),
- ``mfstudio-{16..512}.png``,
- ``mfstudio.ico`` (Windows: 16-256 in one file),
- ``mfstudio.icns`` (macOS).

Rendering uses Qt's SVG renderer (in PySide6-Essentials), so no extra tool is
needed; the .ico and .icns are written by Pillow.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources" / "mfstudio.svg"
TARGET = ROOT / "mfstudio" / "gui" / "resources"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_png(svg: Path, size: int, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out)):
        raise SystemExit(f"could not write {out}")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - QImage needs it
    TARGET.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, TARGET / "mfstudio.svg")
    for size in SIZES:
        render_png(SOURCE, size, TARGET / f"mfstudio-{size}.png")
    biggest = Image.open(TARGET / "mfstudio-512.png")
    biggest.save(TARGET / "mfstudio.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    biggest.save(TARGET / "mfstudio.icns")
    for path in sorted(TARGET.iterdir()):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
