"""Shared helpers for the app tests: real video files made with PyAV, and a main window with its
own settings file, data folder and a model cache shared across the session."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def make_clip(path: Path, frames: int = 8, fps: float = 8, size: tuple[int, int] = (64, 48),
              color: tuple[int, int, int] = (200, 60, 40), tone_hz: float | None = None,
              picture: Callable[[int], np.ndarray] | None = None, lossless: bool = False) -> Path:
    """A small video of a flat colour with a white bar growing left to right (frame i: 4*i px),
    or `picture(i)` (uint8 RGB of `size`), with a sine tone as audio when `tone_hz` is given;
    `lossless`: H.264 at CRF 0 in 4:4:4, so the pictures come back as drawn."""
    fmt = {".mp4": "libx264", ".webm": "libvpx-vp9", ".mkv": "libx264", ".mov": "libx264"}[path.suffix]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as box:
        video = box.add_stream(fmt, rate=rate)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv444p" if lossless else "yuv420p"
        if lossless:
            video.options = {"crf": "0"}
        audio = box.add_stream("aac" if path.suffix != ".webm" else "libopus", rate=48000, layout="mono") if tone_hz else None
        for i in range(frames):
            if picture is not None:
                image = picture(i)
            else:
                image = np.zeros((size[1], size[0], 3), np.uint8)
                image[:] = color
                image[:, : 4 * i] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            box.mux(video.encode(frame))
        box.mux(video.encode(None))
        if audio is not None:
            n = round(48000 * frames / fps)
            wave = (0.5 * np.sin(2 * np.pi * tone_hz * np.arange(n) / 48000)).astype(np.float32)[None]
            for k in range(0, n, 960):
                piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, k : k + 960]), format="fltp", layout="mono")
                piece.sample_rate, piece.pts = 48000, k
                box.mux(audio.encode(piece))
            box.mux(audio.encode(None))
    return path


def count_frames(path: Path) -> int:
    with av.open(str(path)) as box:
        return sum(1 for _ in box.decode(video=0))


@pytest.fixture
def window(qtbot, tmp_path, model_cache):
    from PySide6.QtCore import QSettings

    from t2vz_desktop.app.window import MainWindow
    from t2vz_desktop.app.worker import GenerationWorker, JobQueue

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    import torch

    # keep the suite's thread count: the app's default (one core for the GUI) would slow later tests
    worker = GenerationWorker(threads=torch.get_num_threads(), cache=model_cache)
    win = MainWindow(settings, tmp_path / "data", JobQueue(worker))
    win.ask_unsaved = lambda: "discard"  # no blocking dialogs in tests
    win.ask_recover = lambda path: True
    win.ask_remove_used_media = lambda name, clips: True
    win.ask_match_format = lambda offer: False  # a first import keeps the project's 512x512 at 8 fps
    qtbot.addWidget(win)
    win.show()
    yield win
    win.queue.shutdown()
