"""Render resources/icons/app.svg into the icon files the Windows and macOS builds need:
packaging/windows/t2vz.ico (16-256 px) and packaging/macos/t2vz.icns (16-1024 px).

    python packaging/make_icons.py            # both
    python packaging/make_icons.py --png OUT  # one 256 px PNG (e.g. for a Linux AppImage)

Uses QtSvg (PySide6, already a dependency) to draw and Pillow to write .ico and .icns.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "app.svg"


def render(size: int):
    """The SVG drawn on a transparent size x size canvas, as a Pillow image."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--png", type=Path, help="write one 256 px PNG here instead")
    args = p.parse_args()
    if args.png:
        render(256).save(args.png)
        return
    big = render(1024)
    ico = ROOT / "packaging" / "windows" / "t2vz.ico"
    big.resize((256, 256)).save(ico, sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    icns = ROOT / "packaging" / "macos" / "t2vz.icns"
    big.save(icns)  # Pillow writes every ICNS size from 16 to 1024 px
    print(f"wrote {ico} and {icns}")


if __name__ == "__main__":
    main()
