"""numpy uint8 RGB frames <-> Qt images."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap


def to_qimage(frame: np.ndarray) -> QImage:
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    # copy(): the QImage must own its pixels, the numpy buffer may go away
    return QImage(frame.data, w, h, 3 * w, QImage.Format_RGB888).copy()


def thumbnail_image(frame: np.ndarray, width: int, height: int) -> QImage:
    """`frame` (H, W, 3) fitted into width x height on black, as a QImage: safe off the GUI
    thread (a QPixmap is not). Shrinks with cv2 INTER_AREA first: Qt's smooth scaling of an
    8192x8192 image takes ~0.6 s, the area resize a few ms."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    fit_w, fit_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(frame, (fit_w, fit_h), interpolation=cv2.INTER_AREA) if scale < 1 else frame
    image = QImage(width, height, QImage.Format_RGB888)
    image.fill(Qt.black)
    p = QPainter(image)
    picture = to_qimage(small)
    if scale >= 1:  # a tiny frame grows smoothly, as before
        picture = picture.scaled(width, height, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    p.drawImage((width - picture.width()) // 2, (height - picture.height()) // 2, picture)
    p.end()
    return image


def thumbnail(frame: np.ndarray, width: int, height: int) -> QPixmap:
    return QPixmap.fromImage(thumbnail_image(frame, width, height))
