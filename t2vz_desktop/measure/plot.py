"""Small line plots drawn with OpenCV (no plotting library needed): one panel per measure,
stacked vertically, each with its own y range, axis labels and a legend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]  # RGB
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Panel:
    title: str
    xlabel: str
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)  # label -> (xs, ys)
    markers: bool = False  # draw a dot at every point (for a few points, e.g. frame counts)


def _nice(lo: float, hi: float) -> tuple[float, float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return 0.0, 1.0
    if hi - lo < 1e-12:
        pad = max(abs(hi) * 0.05, 1e-3)
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def _fmt(v: float, step: float | None = None) -> str:
    """A tick label with enough digits to tell ticks `step` apart."""
    a = abs(v)
    if a != 0 and (a < 1e-2 or a >= 1e5):
        return f"{v:.2e}"
    if step is None or step <= 0:
        return f"{v:.3g}"
    if float(v).is_integer() and step >= 1:
        return str(int(v))
    return f"{v:.{max(0, min(6, 1 - math.floor(math.log10(step))))}f}"


def _text(img, s, org, scale=0.4, colour=(0, 0, 0), thickness=1):
    cv2.putText(img, s, org, FONT, scale, colour, thickness, cv2.LINE_AA)


def draw_panel(panel: Panel, width: int = 720, height: int = 220) -> np.ndarray:
    """One panel as an RGB uint8 image (height, width, 3)."""
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 16, 26, 34
    pw, ph = width - left - right, height - top - bottom
    _text(img, panel.title, (left, 17), 0.5)
    points = [(x, y) for xs, ys in panel.series.values() for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    if not points:
        _text(img, "no data", (left + pw // 2 - 25, top + ph // 2))
        return img
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    y0, y1 = _nice(min(p[1] for p in points), max(p[1] for p in points))

    def to_px(x: float, y: float) -> tuple[int, int]:
        return (int(round(left + (x - x0) / (x1 - x0) * pw)), int(round(top + ph - (y - y0) / (y1 - y0) * ph)))

    for i in range(5):  # y grid and ticks
        v = y0 + (y1 - y0) * i / 4
        _, py = to_px(x0, v)
        cv2.line(img, (left, py), (left + pw, py), (225, 225, 225), 1)
        _text(img, _fmt(v, (y1 - y0) / 4), (4, py + 4), 0.35)
    xs_all = sorted({p[0] for p in points})
    if len(xs_all) <= 8:
        ticks = xs_all
    else:
        step = max(1, round((x1 - x0) / 6)) if all(float(x).is_integer() for x in xs_all) else (x1 - x0) / 6
        ticks = [x0 + step * i for i in range(int((x1 - x0) / step) + 1)]
    for v in ticks:
        px, _ = to_px(v, y0)
        cv2.line(img, (px, top + ph), (px, top + ph + 4), (0, 0, 0), 1)
        _text(img, _fmt(v, 1 if float(v).is_integer() else None), (px - 10, top + ph + 16), 0.35)
    _text(img, panel.xlabel, (left + pw // 2 - 30, height - 4), 0.4)
    for k, (label, (xs, ys)) in enumerate(panel.series.items()):
        colour = COLOURS[k % len(COLOURS)]
        pts = [to_px(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, colour, 2, cv2.LINE_AA)
        if panel.markers or len(pts) == 1:
            for p in pts:
                cv2.circle(img, p, 3, colour, -1, cv2.LINE_AA)
        ly = top + 12 + 14 * k
        cv2.line(img, (left + pw - 150, ly - 4), (left + pw - 130, ly - 4), colour, 2)
        _text(img, label[:22], (left + pw - 126, ly), 0.38)
    return img


def save_panels(panels: list[Panel], path: str | Path, width: int = 720, panel_height: int = 220) -> Path:
    """Stack the panels vertically and write a PNG."""
    path = Path(path)
    image = np.concatenate([draw_panel(p, width, panel_height) for p in panels], axis=0)
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode the plot {path}")
    data.tofile(str(path))
    return path


def curve_panels(scores) -> list[Panel]:
    """Per-frame-pair curves of a `VideoScores` (pair k compares frames k and k+1)."""
    c = scores.curves
    pairs = list(range(1, len(c.get("temporal_flickering", [])) + 1))
    panels = [
        Panel("temporal flickering (VBench; 1 = no change)", "frame k+1", {"flickering": (pairs, c.get("temporal_flickering", []))}),
        Panel("optical-flow magnitude (px) = dynamic degree", "frame k+1", {"flow": (pairs, c.get("flow_magnitude", []))}),
        Panel("warping error (MSE, RGB in [0,1]; DIS flow)", "frame k+1",
              {"warped": (pairs, c.get("warping_error", [])), "no warp": (pairs, c.get("zero_flow_error", []))}),
    ]
    if "clip_frame_consistency" in c:
        panels.append(Panel("CLIP frame consistency (cosine)", "frame k+1", {"consecutive": (pairs, c["clip_frame_consistency"])}))
    if "motion_alignment_epe" in c:
        ma = c["motion_alignment_epe"]
        panels.append(Panel("motion alignment: edit flow vs source flow, EPE (px)", "frame k+1",
                            {"EPE": (list(range(1, len(ma) + 1)), ma)}))
    if "clip_text_score" in c:
        frames = list(range(len(c["clip_text_score"])))
        panels.append(Panel("CLIP text score (x100)", "frame", {"text": (frames, c["clip_text_score"])}))
    return panels
