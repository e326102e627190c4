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


def fitted_image(frame: np.ndarray, width: int, height: int) -> QImage:
    """`frame` (H, W, 3) scaled to fit in width x height, aspect kept, no bars, as a QImage: safe
    off the GUI thread (a QPixmap is not). Shrinks with cv2 INTER_AREA: Qt's smooth scaling of an
    8192x8192 image takes ~0.6 s, the area resize a few ms; a tiny frame grows smoothly."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    fit_w, fit_h = max(1, round(w * scale)), max(1, round(h * scale))
    if scale < 1:
        return to_qimage(cv2.resize(frame, (fit_w, fit_h), interpolation=cv2.INTER_AREA))
    return to_qimage(frame).scaled(width, height, Qt.KeepAspectRatio, Qt.SmoothTransformation)


def letterboxed(picture: QImage, width: int, height: int) -> QImage:
    """`picture` centred on black in width x height (the bin's tiles are all one size)."""
    image = QImage(width, height, QImage.Format_RGB888)
    image.fill(Qt.black)
    p = QPainter(image)
    p.drawImage((width - picture.width()) // 2, (height - picture.height()) // 2, picture)
    p.end()
    return image


def thumbnail_image(frame: np.ndarray, width: int, height: int) -> QImage:
    """`frame` fitted into width x height on black (`fitted_image`, then `letterboxed`)."""
    return letterboxed(fitted_image(frame, width, height), width, height)


def thumbnail(frame: np.ndarray, width: int, height: int) -> QPixmap:
    return QPixmap.fromImage(thumbnail_image(frame, width, height))
