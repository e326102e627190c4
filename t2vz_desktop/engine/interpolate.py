"""Frame interpolation by optical flow: the method's 8-16 frames a second played at 24, 30 or 60.

No extra weights. Between two frames A (time 0) and B (time 1) the flows A->B and B->A are
computed once (engine/flow.py, Farneback with the wide window that moves flat objects). The flows from an intermediate time s back to A and
to B are approximated from them as in Super SloMo (Jiang et al. 2018, eq. 4), which assumes the
motion is linear across the pair:

    F_s->A = -(1 - s) s F_A->B + s^2 F_B->A
    F_s->B = (1 - s)^2 F_A->B - s (1 - s) F_B->A

and A and B are warped to time s along them and blended with weights (1 - s) V_A and s V_B
(eq. 1). V_A is where A's forward flow is confirmed by the backward flow (the forward-backward
test the smoother uses), read where F_s->A lands: a pixel of A that B does not show (occluded
or uncovered) is taken from B alone, and the reverse, so a moving edge does not ghost. Where
neither is trusted the plain time-weighted blend is kept. Where the two warped pictures still
disagree in colour (a flow smoothed across a motion boundary), the frame nearer in time is
taken alone instead of a faded mix.

Limit: Farneback follows a flat-coloured object that moves up to about half its width between
two frames (a 24 px square: clean at 12 px a frame, ghosting at 18 px in tests/test_interpolate.py);
faster objects are blended where the flows disagree, which shows as a faded double.

Output frame j is the picture at time j / fps_out; it is an original frame where that time is
one of the input's (within a microsecond), else interpolated between the two inputs around it.
The output lasts as long as the input: the last input frame also fills its own 1 / fps_in s, so
N frames at 8 fps (N / 8 s) become 3N at 24 fps, as a timeline and its sound expect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from .flow import NARROW, WIDE, dense_flow, pair_grey, trusted, warp

ALIGN_S = 1e-6  # seconds: an output time this close to an input frame's shows that frame
MAX_RATIO = 16  # at most this many output frames per input frame
DISAGREE = (20.0, 60.0)  # RGB levels (mean over channels): from blending to the nearer frame alone


@dataclass(frozen=True)
class OutputFrame:
    """Where output frame j comes from: input frames `before` and `before + 1`, at fraction `s`
    of the way between them (0: frame `before` itself, an original), or the last input frame
    again after its own time (`held`)."""

    index: int
    before: int
    s: float
    held: bool = False

    @property
    def original(self) -> bool:
        return self.s == 0.0 and not self.held


def output_times(frames: int, fps_in: float, fps_out: float) -> list[OutputFrame]:
    """The output frames for `frames` input frames at fps_in shown at fps_out (>= fps_in).

    The output lasts frames / fps_in s, as the input does: the output times after the last input
    frame show it again (`held`), 3N frames from 8 to 24 fps.
    ValueError for rates that are not positive, a lower output rate, or more than MAX_RATIO
    output frames per input frame."""
    if not (fps_in > 0 and fps_out > 0 and math.isfinite(fps_in) and math.isfinite(fps_out)):
        raise ValueError(f"frame rates must be positive (got {fps_in:g} -> {fps_out:g})")
    if fps_out < fps_in - 1e-9:
        raise ValueError(f"interpolation raises the frame rate: {fps_out:g} fps is below the video's {fps_in:g}")
    if fps_out > MAX_RATIO * fps_in:
        raise ValueError(f"{fps_out:g} fps is more than {MAX_RATIO}x the video's {fps_in:g} "
                         f"(at most {MAX_RATIO * fps_in:g} fps for this video)")
    if frames < 1:
        return []
    end_s = (frames - 1) / fps_in
    # as many output frames as fit the input's length, rounded: 8 frames at 23.976 fps last
    # 0.3337 s, 8.008 frames at 24 fps, so 8 (counting every start before the end made it 9)
    count = max(1, round(frames / fps_in * fps_out))
    out = []
    for j in range(count):
        position = j / fps_out * fps_in  # in input frames
        nearest = round(position)
        if j / fps_out > end_s + ALIGN_S:  # held: the last frame again
            out.append(OutputFrame(j, frames - 1, 0.0, held=True))
        elif abs(position - nearest) / fps_in <= ALIGN_S:
            out.append(OutputFrame(j, min(nearest, frames - 1), 0.0))
        else:
            before = math.floor(position)
            out.append(OutputFrame(j, before, position - before))
    return out


def output_count(frames: int, fps_in: float, fps_out: float) -> int:
    return len(output_times(frames, fps_in, fps_out))


def between(a: np.ndarray, b: np.ndarray, s: float, flows: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
    """The picture a fraction `s` (0 < s < 1) of the way from uint8 RGB frame a to frame b.
    `flows`: (a->b, b->a, trusted_a, trusted_b) from :func:`pair_flows`, to reuse across s."""
    f_ab, f_ba, trust_a, trust_b = flows if flows is not None else pair_flows(a, b)
    to_a = -(1 - s) * s * f_ab + s * s * f_ba
    to_b = (1 - s) ** 2 * f_ab - s * (1 - s) * f_ba
    from_a = warp(a.astype(np.float32), to_a)
    from_b = warp(b.astype(np.float32), to_b)
    w_a = (1 - s) * warp(trust_a, to_a)
    w_b = s * warp(trust_b, to_b)
    total = w_a + w_b
    neither = total < 1e-3
    w_a = np.where(neither, 1 - s, w_a)
    w_b = np.where(neither, s, w_b)
    # Where the two warped pictures disagree in colour, a flow is wrong there (at a motion
    # boundary, where flow is smoothed across the edge); a blend would draw a faded band, so the
    # frame nearer in time is taken alone, fading in over DISAGREE levels.
    difference = np.abs(from_a - from_b).mean(-1)
    alone = np.clip((difference - DISAGREE[0]) / (DISAGREE[1] - DISAGREE[0]), 0.0, 1.0)
    nearer_a = 1.0 if s < 0.5 else 0.0
    w_a = (1 - alone) * w_a / (w_a + w_b) + alone * nearer_a
    w_b = 1 - w_a
    blended = w_a[..., None] * from_a + w_b[..., None] * from_b
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def pair_flows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(flow a->b, flow b->a, where a's flow is trusted, where b's is), full size."""
    grey_a, grey_b = pair_grey(a, b)
    rgb_a, rgb_b = a.astype(np.float32), b.astype(np.float32)
    f_ab, f_ba = best_flow(grey_a, grey_b, rgb_a, rgb_b), best_flow(grey_b, grey_a, rgb_b, rgb_a)
    return f_ab, f_ba, trusted(f_ab, f_ba), trusted(f_ba, f_ab)


def best_flow(grey_a: np.ndarray, grey_b: np.ndarray, rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """Flow a->b, per pixel the narrow or the wide window's, whichever explains a better.

    The wide window moves a flat object's textureless inside but smears its motion some 15 px
    into a still textured background around it (the texture then moved with the object: 3% of a
    256 px frame torn in benchmarks/interpolation.py); the narrow window keeps the background
    still but reads a flat inside as still, and both smear a little. Each pixel takes, of no
    motion, the narrow and the wide flow, the one whose warp of b matches a best (mean RGB error
    over a 5x5 neighbourhood); in flat regions they all match and any is right.
    """
    size = rgb_a.shape[:2]
    flows = np.stack([np.zeros((*size, 2), np.float32), dense_flow(grey_a, grey_b, size, NARROW),
                      dense_flow(grey_a, grey_b, size, WIDE, median=True)])
    errors = np.stack([cv2.blur(np.abs(warp(rgb_b, f) - rgb_a).mean(-1), (5, 5)) for f in flows])
    errors[0] -= 0.5  # ties go to standing still: a still background is the commonest picture
    # a 5x5 median of the choice: single pixels that pick another flow than their neighbours
    # notch an edge
    best = cv2.medianBlur(np.argmin(errors, axis=0).astype(np.uint8), 5).astype(np.int64)  # (h, w)
    return np.take_along_axis(flows, best[None, ..., None].repeat(2, -1), axis=0)[0]


def interpolate_frames(frames: Iterable[np.ndarray], fps_in: float, fps_out: float,
                       count: int) -> Iterator[tuple[np.ndarray, bool]]:
    """Stream `count` uint8 RGB frames at fps_in as (frame, is_original) at fps_out, as long as
    the input (:func:`output_times`; a held last frame is the same array, not original).

    Two input frames and one pair of flows are held at a time. Originals pass through
    unchanged (the same array)."""
    plan = output_times(count, fps_in, fps_out)
    source = iter(frames)
    index, a = 0, next(source, None)
    b, flows = None, None
    for item in plan:
        while index < item.before:  # move the window so that a is frame `before`
            a, b, flows = (b if b is not None else next(source)), None, None
            index += 1
        if item.s == 0.0:
            yield a, item.original
            continue
        if b is None:
            b = next(source)
        if flows is None:
            flows = pair_flows(a, b)
        yield between(a, b, item.s, flows), False
