"""How long importing a very large clip blocks the GUI thread: a 50 ms QTimer heartbeat runs
while the main window imports one clip (the path a drop takes) and draws its thumbnails.

    python benchmarks/gui_stall.py                 # an 8192x8192 clip (encoding it takes ~10-20 s)
    python benchmarks/gui_stall.py --size 4096

Prints the time start_import() (a drop) took to return, the longest gap between heartbeats (the stall a
user sees: nothing repaints, clicks wait) and when the bin's thumbnail was in, all in ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import av  # noqa: E402
import numpy as np  # noqa: E402


def textured_clip(path: Path, size: int, frames: int) -> Path:
    """Camera-like content (a gradient with fine noise), so decoding costs what real footage does."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([(x * 255 // size), (y * 255 // size), ((x + y) * 127 // size)], axis=-1).astype(np.int16)
    with av.open(str(path), "w") as box:
        stream = box.add_stream("libx264", rate=Fraction(8))
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            noise = rng.integers(-12, 13, (size // 8, size // 8, 1), dtype=np.int16).repeat(8, 0).repeat(8, 1)
            image = np.clip(base + noise + 3 * i, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            box.mux(stream.encode(frame))
        box.mux(stream.encode(None))
    return path


def measure(clip: Path, settle_s: float) -> dict:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from t2vz_desktop.app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat), Path(tmp) / "data")
        window.show()
        app.processEvents()
        beats: list[float] = []
        heartbeat = QTimer()
        heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
        heartbeat.start(50)
        pending = getattr(window.bin, "pending_thumbnails", lambda: 0)
        start = time.perf_counter()
        beats.append(start)
        # start_import, as a drop does (import_files waits for the result); the format question is modal
        QTimer.singleShot(0, lambda: window.start_import([clip], match_format=False))
        app.processEvents()
        returned = time.perf_counter()
        thumb_at = None
        while time.perf_counter() - start < settle_s:
            app.processEvents()
            if thumb_at is None and window.doc.project.media and not pending():
                thumb_at = time.perf_counter()
            time.sleep(0.005)
        heartbeat.stop()
        gaps = np.diff(beats)
        window.doc.undo.setClean()
        window.close()
        window.queue.shutdown()
    return {"import_ms": 1000 * (returned - start), "stall_ms": 1000 * float(gaps.max()),
            "thumbnail_ms": None if thumb_at is None else 1000 * (thumb_at - start),
            "imported": bool(window.doc.project.media)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=8192, help="width and height of the clip in pixels")
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--settle", type=float, default=5.0, help="seconds to keep the event loop running")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        clip = textured_clip(Path(tmp) / f"big{a.size}.mp4", a.size, a.frames)
        print(f"made a {a.size}x{a.size} clip of {a.frames} frames in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        r = measure(clip, a.settle)
    thumb = "never" if r["thumbnail_ms"] is None else f"{r['thumbnail_ms']:.0f} ms"
    print(f"{a.size}x{a.size}: start_import returned after {r['import_ms']:.0f} ms; longest GUI stall "
          f"{r['stall_ms']:.0f} ms; thumbnail in after {thumb}; imported: {r['imported']}")
    return r


if __name__ == "__main__":
    main()
