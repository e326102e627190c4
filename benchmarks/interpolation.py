"""What frame interpolation (engine/interpolate.py) does to motion: warping error between
consecutive output frames against the source's, ghosting at moving edges, and its cost.

    python benchmarks/interpolation.py            # 8 fps sources made 24 and 32 fps

Sources are drawn here with known content at every instant, so an interpolated frame can be
compared with the true picture at its time:
- "pan": a smooth colour texture panning 6 px a frame (256 px);
- "square": a flat 40 px square moving 12 px a frame on another flat colour of like brightness;
- "square-on-texture": the square moving over a still textured background (occlusion at both
  edges);
- "fast": the square moving 30 px a frame, more than half its width (the documented limit).

Figures (mean over output frames):
- warping error: measure/metrics.py (DIS flow, forward-backward check) between consecutive
  frames, for the 8 fps source and for the interpolated output;
- error vs truth: mean absolute RGB error of the interpolated frames against the picture drawn
  at their time (0-255 levels); the same for a plain cross-fade as a baseline;
- ghost pixels: pixels of an interpolated frame more than 1 px from the true object outline
  whose colour is neither the object's nor the background's there (more than 40 levels summed
  from both) - a faded double or a torn edge; per frame, for interpolation and cross-fade;
- ms per interpolated frame (one OpenCV thread).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from t2vz_desktop.engine.interpolate import between, interpolate_frames, output_times  # noqa: E402
from t2vz_desktop.measure import score_frames  # noqa: E402

SIZE = 256
OBJECT, FLAT = (220, 40, 40), (40, 70, 200)


def texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 3)
    return cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def draw(kind: str, t: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The picture at source time t (in frames), and the object's mask (None: no object)."""
    if kind == "pan":
        base = np.tile(texture(0), (1, 2, 1))
        x = 6 * t
        m = np.float32([[1, 0, -x], [0, 1, 0]])
        return cv2.warpAffine(base, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR), None
    speed = 30 if kind == "fast" else 12
    frame = texture(1) if kind == "square-on-texture" else np.full((SIZE, SIZE, 3), FLAT, np.uint8)
    big = np.zeros((SIZE * 8, SIZE * 8), np.uint8)
    x0 = 40 + speed * t
    cv2.rectangle(big, (round(x0 * 8), 100 * 8), (round((x0 + 40) * 8) - 1, 140 * 8 - 1), 255, -1)
    cover = cv2.resize(big, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255
    out = np.clip(frame * (1 - cover) + np.array(OBJECT, np.float32) * cover + 0.5, 0, 255).astype(np.uint8)
    return out, (cover[..., 0] > 0.5).astype(np.uint8)


def ghosts(frame: np.ndarray, truth: np.ndarray, mask: np.ndarray | None) -> int:
    if mask is None:
        return 0
    far = np.abs(frame.astype(int) - OBJECT).sum(-1) > 40
    far &= np.abs(frame.astype(int) - truth.astype(int)).sum(-1) > 40  # nor what is behind
    edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    near = cv2.dilate(edge, np.ones((3, 3), np.uint8)).astype(bool)
    return int((far & ~near).sum())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--rates", type=float, nargs="+", default=[24.0, 32.0])
    a = p.parse_args(argv)
    cv2.setNumThreads(1)
    print("| source | 8 fps -> | warping error, source | warping error, output | error vs truth, interpolated | "
          "error vs truth, cross-fade | ghost px/frame, interpolated | ghost px/frame, cross-fade | ms/frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in ("pan", "square", "square-on-texture", "fast"):
        source = [draw(kind, k)[0] for k in range(a.frames)]
        for rate in a.rates:
            plan = output_times(a.frames, 8.0, rate)
            started = time.perf_counter()
            out = [f for f, _ in interpolate_frames(iter(source), 8.0, rate, a.frames)]
            ms = (time.perf_counter() - started) * 1000 / max(1, sum(not t.original for t in plan))
            err, fade_err, ghost, fade_ghost = [], [], [], []
            for t, frame in zip(plan, out):
                if t.original:
                    continue
                truth, mask = draw(kind, t.before + t.s)
                fade = np.clip((1 - t.s) * source[t.before].astype(np.float32) + t.s * source[t.before + 1] + 0.5,
                               0, 255).astype(np.uint8)
                err.append(np.abs(frame.astype(int) - truth).mean())
                fade_err.append(np.abs(fade.astype(int) - truth).mean())
                ghost.append(ghosts(frame, truth, mask))
                fade_ghost.append(ghosts(fade, truth, mask))
            print(f"| {kind} | {rate:g} | {score_frames(source).warping_error:.5f} | {score_frames(out).warping_error:.5f} | "
                  f"{np.mean(err):.2f} | {np.mean(fade_err):.2f} | {np.mean(ghost):.0f} | {np.mean(fade_ghost):.0f} | "
                  f"{ms:.0f} |", flush=True)
    # the pair's cost alone, for the record: one between() with its flows
    a_, b_ = draw("square", 0)[0], draw("square", 1)[0]
    started = time.perf_counter()
    between(a_, b_, 0.5)
    print(f"\none frame between two {SIZE} px frames, flows included: {(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
