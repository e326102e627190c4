"""`t2vz condition SOURCE --mode canny|pose|depth --out OUT`: write a condition video.

Exit codes as in cli.py: 0 written; 2 bad input (one line on stderr, nothing written). Failures
while running propagate to the caller (cli.main turns them into 1, Ctrl-C into 130).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..media import ExportOptions, MediaError, check_target, export_format, export_video, refuse_overwriting_inputs
from . import DEFAULT_DEPTH_MODEL, MODES, SOURCE_KINDS, PoseSummary, condition_frames, is_condition_video
from .source import FITS, SourceSpec, add_range_arguments, open_source, range_from_arguments, rounded_size

BAD_INPUT = 2


def add_condition_command(subparsers) -> argparse.ArgumentParser:
    """Add the `condition` sub-command; it sets `args.run` to `run_condition`."""
    c = subparsers.add_parser("condition", help="make a pose, edge or depth condition video from a video")
    c.add_argument("source", help="video file (or folder of frame_*.png) to take the condition from")
    c.add_argument("--mode", required=True, choices=MODES, help="canny edges, OpenPose skeleton, or depth")
    c.add_argument("--out", "-o", required=True, help="output file: .mp4, .webm, .gif, or a folder for PNG frames")
    add_range_arguments(c, "--fps", "resample to this frame rate: frame k shows the picture on screen at k / FPS s "
                        "(overrides --step)")
    c.add_argument("--max-frames", type=int, help="at most this many output frames")
    c.add_argument("--width", type=int, help="output width (rounded to the nearest multiple of 8)")
    c.add_argument("--height", type=int, help="output height; with neither, the short side is --model's size")
    c.add_argument("--model", help="size the condition as `t2vz edit --model` sees it: short side the model's own "
                   "(64 for demo; default 512, Stable Diffusion 1.5's)")
    c.add_argument("--fit", choices=FITS, default="crop", help="crop to the new aspect, or pad with black")
    c.add_argument("--low", type=int, default=100, help="Canny low threshold (0-255)")
    c.add_argument("--high", type=int, default=200, help="Canny high threshold (0-255)")
    c.add_argument("--blur", type=float, default=0.0, help="Gaussian blur sigma before Canny")
    c.add_argument("--max-gap", type=int, default=4, help="pose: fill gaps of up to this many frames")
    c.add_argument(
        "--depth-model", default=DEFAULT_DEPTH_MODEL, help="depth model: a folder or a hub id in the local cache"
    )
    c.add_argument("--device", help="depth model device (default: cuda if available, else cpu)")
    c.add_argument(
        "--source-kind",
        choices=SOURCE_KINDS,
        default="auto",
        help="condition: SOURCE already is a skeleton/edge/depth video (only resized); "
        "auto: skeleton videos are detected for pose",
    )
    c.add_argument("--format", choices=["mp4", "webm", "gif", "png"], help="output format (default: from --out)")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    c.set_defaults(run=run_condition)
    return c


def run_condition(args: argparse.Namespace) -> int:
    """Write the condition video; 0 when written, 2 (and nothing written) for bad input."""
    out = Path(args.out)
    summaries: list[PoseSummary] = []
    notes: list[str] = []
    bars = _Progress(args.quiet)
    try:
        start, end, start_s, end_s = range_from_arguments(args)
        width, height = rounded_size(args.width, args.height, notes)
        spec = SourceSpec(
            path=args.source,
            start_frame=start,
            end_frame=end,
            start_s=start_s,
            end_s=end_s,
            step=args.step,
            target_fps=args.fps,
            width=width,
            height=height,
            fit=args.fit,
            max_frames=args.max_frames,
            short_side=_model_size(args.model),
        )
        fmt = export_format(out, args.format)
        refuse_overwriting_inputs([("--out", out)], [("the source video", args.source)])
        check_target(out, fmt)  # before any decoding or model loading
        clip = open_source(spec)
        kind = args.source_kind
        if kind == "auto":
            kind = "condition" if is_condition_video(args.mode, clip) else "video"
            if kind == "condition":
                print(f"note: {clip.path} looks like a skeleton video: used as it is", file=sys.stderr)
        options = _mode_options(args, summaries.append, bars.update)
        frames = condition_frames(args.mode, clip, kind, **options)
    except (ValueError, OSError) as e:  # MediaError and ConditionError are ValueErrors
        return _bad_input(e)
    try:
        report = export_video(bars.wrap(frames, clip.frames), out, ExportOptions(fps=clip.fps, format=fmt))
    except MediaError as e:  # the source broke off while being read; export left nothing behind
        return _bad_input(e)
    finally:
        bars.close()

    for note in notes + clip.notes + report.notes:
        print(f"note: {note}", file=sys.stderr)
    for summary in summaries:
        print(summary, file=sys.stderr)
        if summary.detected == 0 and summary.frames:  # a pose edit would follow no one: said as a warning
            print("t2vz: warning: no person was found in any frame: the skeleton video is black, and a pose edit "
                  "with it follows the prompt alone", file=sys.stderr)
    print(report.path)
    print(f"{args.mode}: {report.frames} frames, {report.width}x{report.height} at {report.fps:g} fps", file=sys.stderr)
    return 0


def _model_size(model: str | None) -> int:
    """The short side an edit with `model` gives its source; ValueError for a model not found."""
    from ..engine.model_settings import config_folder, own_size

    if model is None:
        return 512
    single_file = Path(model).expanduser().is_file() and Path(model).suffix.lower() == ".safetensors"
    if config_folder(model) is None and not single_file:
        raise ValueError(f"--model {model}: no such model here (demo, a model folder, a .safetensors file, "
                         "or a hub id in the local cache)")
    return own_size(model)


def _mode_options(args: argparse.Namespace, on_summary, progress) -> dict:
    if args.mode == "canny":
        return {"low": args.low, "high": args.high, "blur_sigma": args.blur}
    if args.mode == "pose":
        return {"max_gap": args.max_gap, "on_summary": on_summary, "progress": progress}
    return {"model": args.depth_model, "device": args.device, "progress": progress}


def _bad_input(e: Exception) -> int:
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    print(f"t2vz: error: {message}", file=sys.stderr)
    return BAD_INPUT


class _Progress:
    """tqdm bars on stderr, one per phase (detection, calibration, writing); silent if quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def update(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.bar is None or self.bar.desc != phase:
            self.close()
            self.bar = tqdm(total=total, desc=phase, unit="frame", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def wrap(self, frames: Iterator[np.ndarray], total: int) -> Iterator[np.ndarray]:
        for done, frame in enumerate(frames, start=1):
            yield frame
            self.update("writing", done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
