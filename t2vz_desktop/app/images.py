"""numpy uint8 RGB frames <-> Qt images."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap


def to_qimage(frame: np.ndarray) -> QImage:
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    # copy(): the QImage must own its pixels, the numpy buffer may go away
    return QImage(frame.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def thumbnail(frame: np.ndarray, width: int, height: int) -> QPixmap:
    image = to_qimage(frame).scaled(width, height, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    pixmap = QPixmap(width, height)
    pixmap.fill(Qt.black)
    p = QPainter(pixmap)
    p.drawImage((width - image.width()) // 2, (height - image.height()) // 2, image)
    p.end()
    return pixmap
