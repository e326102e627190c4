"""What the post-process smoother (engine/smoother.py) costs per frame and what it removes, on a
synthetic scene with a known clean version: a textured background panning 2 px a frame, a red
block moving 5 px a frame faster, and a mild flicker on top (tests/test_smoother.py's scene).

    python benchmarks/smoother_cost.py                 # 64, 256 and 512 px, one OpenCV thread
    python benchmarks/smoother_cost.py --sizes 512 --threads 0   # OpenCV's own thread count

Prints ms per frame and the mean absolute error against the clean frames (0-255 levels), for the
whole frame and for the band the block uncovers each frame (where a smoother ghosts).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from t2vz_desktop.engine.smoother import smooth_frames  # noqa: E402
from test_smoother import mean_error, panning_scene  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512])
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--strength", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads (0: OpenCV's default)")
    a = p.parse_args(argv)
    if a.threads:
        cv2.setNumThreads(a.threads)
    print("| size | ms/frame | error, noisy | error, smoothed | uncovered band, noisy | uncovered band, smoothed |")
    print("|------|----------|--------------|-----------------|-----------------------|--------------------------|")
    for size in a.sizes:
        clean, noisy, band = panning_scene(size, a.frames)
        list(smooth_frames(noisy[:3], a.strength))  # warm-up: OpenCV's first calls allocate
        t0 = time.perf_counter()
        smoothed = list(smooth_frames(noisy, a.strength))
        ms = 1000 * (time.perf_counter() - t0) / len(noisy)
        errors = [mean_error(f, clean, where) for where in (None, band) for f in (noisy, smoothed)]
        print(f"| {size} | {ms:.0f} | " + " | ".join(f"{e:.2f}" for e in errors) + " |")


if __name__ == "__main__":
    main()
