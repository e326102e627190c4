"""Depth conditions: a monocular depth model per frame, normalised once for the whole video.

Normalisation. A depth model's output has no fixed scale: relative-depth models (MiDaS/DPT,
Depth Anything) give disparity up to an unknown scale and shift that changes from frame to frame.
Stretching every frame to its own min..max (what transformers' pipeline does for its "depth"
image) makes the brightness of a still background pump whenever something near the camera moves:
flicker the ControlNet then copies. We fix one mapping for the whole video instead: before
writing, the model runs on `calibration_frames` frames spread evenly over the clip, and the 2nd
and 98th percentiles of all their values become black and white; every frame is then mapped with
those two numbers and clipped. Frames spread over the clip (not just the first ones) cover a
camera move into a nearer or farther scene; percentiles (not min/max) keep a few outlier pixels
from squeezing the range. A true min/max over every frame would need the model to run twice on
the whole video or all depth maps kept in memory; this costs `calibration_frames` extra frames
of decoding and no extra model runs (their maps are reused) and memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConditionError
from .source import SourceClip

DEFAULT_DEPTH_MODEL = "Intel/dpt-hybrid-midas"  # the MiDaS model behind the depth ControlNet
# Model types whose output is metric depth (far = large): inverted, so that near is bright as
# in the depth ControlNet's training images (MiDaS disparity).
METRIC_DEPTH_TYPES = {"glpn", "zoedepth", "depth_pro"}
LOW_PERCENTILE, HIGH_PERCENTILE = 2.0, 98.0


class DepthEstimator:
    """A transformers depth-estimation model loaded from a folder or the local hub cache only.
    `model` None is DEFAULT_DEPTH_MODEL: the one place where a missing choice becomes the
    default, so a caller that passes its unset option through gets the default, not 'None'."""

    def __init__(self, model: str | Path | None = None, device: str | None = None):
        try:
            import torch
            from transformers import AutoImageProcessor, AutoModelForDepthEstimation, pipeline
        except ImportError as e:
            raise ConditionError(f"depth estimation needs torch and transformers ({e.msg})") from None

        name = DEFAULT_DEPTH_MODEL if model is None else str(model)
        folder = Path(name).expanduser()
        if folder.exists() and not (folder / "config.json").is_file():
            raise ConditionError(f"depth model folder {folder} has no config.json")
        source = str(folder) if folder.exists() else name
        try:
            network = AutoModelForDepthEstimation.from_pretrained(source, local_files_only=True)
            processor = AutoImageProcessor.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError, KeyError) as e:
            if folder.exists():
                detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ConditionError(f"cannot load the depth model in {folder} ({detail})") from None
            raise ConditionError(
                f"depth model {name!r} is not a folder and not in the local Hugging Face cache; "
                f"download it once with `hf download {name}`, or pass a folder with config.json "
                f"and preprocessor_config.json"
            ) from None
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.name = name
        self.inverted = network.config.model_type in METRIC_DEPTH_TYPES
        self._pipe = pipeline("depth-estimation", model=network.eval(), image_processor=processor, device=device)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Nearness (larger = nearer, arbitrary scale) of an RGB uint8 frame, float32 (H, W)."""
        from PIL import Image

        out = self._pipe(Image.fromarray(frame))
        depth = out["predicted_depth"].float().cpu().numpy().reshape(frame.shape[:2])  # (H, W)
        return -depth if self.inverted else depth


@dataclass
class DepthRange:
    """The values shown black and white; fixed for a whole video."""

    low: float
    high: float

    @classmethod
    def from_maps(cls, maps: list[np.ndarray]) -> DepthRange:
        values = np.concatenate([m.ravel() for m in maps])
        low, high = np.percentile(values, [LOW_PERCENTILE, HIGH_PERCENTILE])
        if not high > low:  # a flat map: all black rather than a division by zero
            high = low + 1.0
        return cls(float(low), float(high))

    def to_uint8(self, nearness: np.ndarray) -> np.ndarray:
        """(H, W) nearness -> (H, W, 3) uint8 grey, near = white."""
        scaled = np.clip((nearness - self.low) / (self.high - self.low), 0.0, 1.0)
        grey = np.round(scaled * 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)


def depth_frames(
    clip: SourceClip,
    estimator: Callable[[np.ndarray], np.ndarray],
    calibration_frames: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> Iterator[np.ndarray]:
    """Depth condition frames of the clip, streamed, with one black/white range for all of them."""
    if calibration_frames < 1:
        raise ValueError(f"calibration frames must be at least 1, got {calibration_frames}")
    picks = sorted(set(np.linspace(0, clip.frames - 1, min(calibration_frames, clip.frames)).round().astype(int)))
    cache: dict[int, np.ndarray] = {}
    for position, frame in enumerate(clip.iter_frames()):
        if position in picks:
            cache[position] = estimator(frame)
            if progress is not None:
                progress("depth calibration", len(cache), len(picks))
            if len(cache) == len(picks):
                break
    depth_range = DepthRange.from_maps(list(cache.values()))
    for position, frame in enumerate(clip.iter_frames()):
        nearness = cache.pop(position) if position in cache else estimator(frame)
        yield depth_range.to_uint8(nearness)
