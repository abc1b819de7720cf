"""Render the application icon from its SVG source into every size and format.

    python packaging/make_icons.py               # refresh the committed icons
    python packaging/make_icons.py --out DIR     # render them elsewhere (build.sh: build/icons)

Reads ``resources/mfstudio.svg`` and writes, into ``mfstudio/gui/resources/``
(shipped inside the package, found by the app at run time) or ``DIR``:

- ``mfstudio.svg`` (a copy, for the window and freedesktop's scalable icon),
- ``mfstudio-{16..512}.png``,
- ``mfstudio.ico`` (Windows: 16-256 in one file),
- ``mfstudio.icns`` (macOS).

Rendering uses Qt's SVG renderer (in PySide6-Essentials), so no extra tool is
needed; the .ico and .icns are written by Pillow.

The output carries no timestamps and no machine-dependent metadata (the PNGs'
resolution chunk is fixed at 96 dpi instead of the screen's; Pillow writes the
.ico and .icns without dates), so the same SVG with the same Qt and Pillow gives
the same bytes on every run. Other library versions may still compress
differently, so the build renders into ``build/icons`` and never rewrites the
committed files; refresh those deliberately, and commit them.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources" / "mfstudio.svg"
TARGET = ROOT / "mfstudio" / "gui" / "resources"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_DOTS_PER_METER = 3780  # 96 dpi


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
    # Qt's PNG writer adds one metadata chunk, pHYs, from the image's resolution, which otherwise comes from the
    # screen (the platform plugin, the display's DPI): fix it at 96 dpi. No text or time chunks are written.
    image.setDotsPerMeterX(_DOTS_PER_METER)
    image.setDotsPerMeterY(_DOTS_PER_METER)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"could not write {out}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Render the application icon into every size and format.")
    parser.add_argument("--out", type=Path, default=TARGET, help=f"output folder (default: {TARGET.relative_to(ROOT)})")
    target = parser.parse_args(argv).out.resolve()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - QImage needs it
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, target / "mfstudio.svg")
    for size in SIZES:
        render_png(SOURCE, size, target / f"mfstudio-{size}.png")
    biggest = Image.open(target / "mfstudio-512.png")
    biggest.save(target / "mfstudio.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    biggest.save(target / "mfstudio.icns")
    for path in sorted(target.iterdir()):
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
