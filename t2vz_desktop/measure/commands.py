"""`t2vz eval` and `t2vz compare`: the command-line side of the measures.

    t2vz eval VIDEO [--prompt TEXT] [--clip MODEL] [--source SRC] [--json OUT.json] [--plot OUT.png]
    t2vz compare A.mp4 B.mp4 ... --out grid.mp4 [--labels A B ...] [--height PX] [--fps N]

Bad input (no such video, an unusable --clip, an unwritable output) raises `RequestError`, which
the CLI turns into one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from ..engine.request import MAX_FPS, RequestError

def add_measure_commands(sub) -> None:
    """Add the `eval` and `compare` sub-commands to the CLI's sub-parsers."""
    e = sub.add_parser("eval", help="measure a video's temporal consistency (and CLIP scores)")
    e.add_argument("video", help="a video file or a folder of PNG frames")
    e.add_argument("--prompt", help="text for the CLIP text score (default: the prompt in the video's t2vz recipe)")
    e.add_argument("--clip", help="CLIP model: a folder or a hub id in the local cache (e.g. openai/clip-vit-base-patch32)")
    e.add_argument("--source", help="for an edit: the video it was made from, to measure motion alignment "
                   "(default: the source named in the edit's recipe)")
    e.add_argument("--device", default="cpu", help="device for CLIP: cpu (default), auto, cuda, cuda:N, mps")
    e.add_argument("--json", dest="json_out", help="where to write the JSON (default: VIDEO.metrics.json beside it)")
    e.add_argument("--plot", help="where to write the per-frame curves PNG (default: VIDEO.metrics.png beside it)")
    e.add_argument("--no-plot", action="store_true", help="write no plot")
    e.set_defaults(run=_eval)

    c = sub.add_parser("compare", help="write a labelled side-by-side video of several videos")
    c.add_argument("videos", nargs="+", help="two or more videos (or PNG folders)")
    c.add_argument("--out", "-o", required=True, help="output video: .mp4, .webm, .gif, or a folder for PNG frames")
    c.add_argument("--labels", nargs="+", help="one caption per video (default: the file names)")
    c.add_argument("--height", type=int, help="height of every tile in pixels (default: the first video's)")
    c.add_argument("--fps", type=float, help="frame rate (default: the first video's)")
    c.set_defaults(run=_compare)


def _beside(video: Path, suffix: str) -> Path:
    base = video.with_name(video.name.rstrip("/\\")) if video.is_dir() else video.with_suffix("")
    return base.with_name(base.name + suffix)


def _writable(path: Path, what: str) -> None:
    from ..media import check_target

    try:
        check_target(path, "mp4")  # any file format: a writable folder and not a folder itself
    except (ValueError, OSError) as e:
        raise RequestError(f"cannot write the {what}: {e}") from e


def _eval(args: argparse.Namespace) -> int:
    from ..media import MediaError, probe_video, refuse_overwriting_inputs
    from .metrics import score_video
    from .plot import curve_panels, save_panels

    video = Path(args.video)
    try:
        info = probe_video(video)
    except MediaError as e:
        raise RequestError(str(e)) from e
    if info.frames < 2:
        raise RequestError(f"{video} has {info.frames} frame(s); the measures compare consecutive frames (need 2 or more)")
    request = _recipe_request(video)  # read once: prompt, source and interpolated frames
    source = _alignment_source(request, info, args.source)
    if args.device not in ("cpu", "auto"):  # checked even without --clip: a wrong flag is said, not ignored
        from ..engine.models import ModelError, pick_device

        try:
            pick_device(args.device)
        except ModelError as e:
            raise RequestError(str(e)) from e
    if args.plot and args.no_plot:
        raise RequestError("--plot and --no-plot: give one of them")
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise RequestError(f"--plot writes a PNG image: name it .png (got {args.plot})")
    json_out = Path(args.json_out) if args.json_out else _beside(video, ".metrics.json")
    plot_out = None if args.no_plot else Path(args.plot) if args.plot else _beside(video, ".metrics.png")
    try:
        refuse_overwriting_inputs([("--json", json_out), ("--plot", plot_out)], [("the video", video)])
    except ValueError as e:
        raise RequestError(str(e)) from e
    for path, what in ((json_out, "JSON"), (plot_out, "plot")):
        if path is not None:
            _writable(path, what)
    prompt = args.prompt or (request.prompts[0] if request is not None else None)
    clip = None
    if args.clip:
        from ..engine.models import ModelError, pick_device
        from .clip import ClipError, ClipScorer

        try:
            clip = ClipScorer.load(args.clip, pick_device(args.device))
        except (ClipError, ModelError) as e:
            raise RequestError(str(e)) from e
    elif args.prompt:
        print("note: no --clip model given, so no CLIP scores", file=sys.stderr)

    originals, held = _original_frames(request, info)
    # held frames are copies of the model's last one, not the model's temporal behaviour
    scores = score_video(video, clip, prompt if clip is not None else None, frames=min(held) if held else None)
    alignment = _measure_alignment(video, source, originals) if source is not None else None
    if source is not None and alignment is None:
        print(f"note: no motion alignment: {source.path.name} gives fewer than 2 frames over the edit's",
              file=sys.stderr)
    if alignment is not None:
        scores.curves["motion_alignment_epe"] = alignment.curve
    curves = {k: [v if math.isfinite(v) else None for v in vs] for k, vs in scores.curves.items()}  # JSON has no NaN
    report = {"video": str(video), **scores.summary(), "curves": curves}
    if originals is not None:
        report["interpolated_frames"] = [k for k in range(info.frames) if k not in originals | held]
        report["original_frames"] = sorted(originals)
        report["held_frames"] = sorted(held)
    if alignment is not None:
        report["motion_alignment"] = {"source": str(source.path), "epe": alignment.motion_alignment_epe,
                                      "source_motion": alignment.source_motion, "pairs": alignment.pairs,
                                      "flow": alignment.flow}
    _write_outputs(json.dumps(report, indent=2, allow_nan=False) + "\n", json_out, plot_out,
                   lambda temp: save_panels(curve_panels(scores), temp))
    print(format_scores(scores))
    if originals is not None:
        interpolated = info.frames - len(originals | held)
        print(f"interpolated            {interpolated} of {info.frames} frames (by optical flow, from the"
              f" recipe); the originals are frames {_ranges(sorted(originals))}"
              + (f", the last held for {_ranges(sorted(held))} (copies, not scored)" if held else ""))
    if alignment is not None:
        print(format_alignment(alignment))
    print(f"wrote {json_out}" + (f" and {plot_out}" if plot_out else ""), file=sys.stderr)
    return 0


def _recipe_request(video: Path):
    """The video's own recipe (GenerationRequest), or None for a video without (or with a foreign) one."""
    from ..engine.request import GenerationRequest
    from ..media import read_recipe

    try:
        text = read_recipe(video)
        return GenerationRequest.from_json(text) if text else None
    except Exception:  # a video without (or with a foreign) recipe simply has none
        return None


def _alignment_source(request, info, given: str | None):
    """The source frames an edit was made from, fitted to the edit's size (a SourceClip), or None
    when there is nothing to align with. An explicit --source that cannot be read is bad input; a
    recipe's source that has since moved is said in a note and skipped."""
    from ..conditions.source import SourceSpec, open_source
    from ..media import MediaError

    edit = request.edit if request is not None else None
    if given is None and edit is None:
        return None
    path = given or edit.source
    if edit is not None:
        # The edit's own source range: frame k of the edit was made from frame k of this clip.
        spec = SourceSpec.of_edit(edit, info.width, info.height)
        spec.path = path
    else:
        spec = SourceSpec(path, target_fps=info.fps or None, width=info.width, height=info.height)
    try:
        clip = open_source(spec)
    except (MediaError, ValueError, OSError) as e:
        if given is None:
            print(f"note: the edit's source {path} cannot be read ({e}), so no motion alignment; "
                  "give it with --source", file=sys.stderr)
            return None
        raise RequestError(f"--source: {e}") from e
    if given is not None and edit is None:  # a foreign edit: paired by time, so shape and length must fit
        _check_comparable(clip, info, path)
    elif given is not None and clip.frames < 2:  # framed as the recipe says, as the edit's own source is
        raise RequestError(f"--source {path} has {clip.frames} frame(s) in the edit's range: motion needs two")
    # The engine rounds its sizes to multiples of 8; a foreign edit may not be: fit to it exactly.
    return replace(clip, size=(info.width, info.height))


def _check_comparable(clip, info, path) -> None:
    """RequestError for an explicit --source whose motion cannot be compared with the edit's:
    one frame (no motion), fewer frames than the edit (its later frames would go unmeasured), or
    another shape (fitting it would crop or stretch, and the flows would not line up)."""
    source_w, source_h = clip.info.width, clip.info.height  # as displayed
    if clip.frames < 2:
        raise RequestError(f"--source {path} has {clip.frames} frame(s) at {clip.fps:g} fps: motion needs two")
    if clip.frames < info.frames:
        raise RequestError(f"--source {path} has {clip.frames} frames at the edit's {clip.fps:g} fps, the edit "
                           f"{info.frames}: give the clip the edit was made from")
    if abs(source_w / source_h - info.width / info.height) > 0.01 * info.width / info.height:
        raise RequestError(f"--source {path} is {source_w}x{source_h} and the edit {info.width}x{info.height}: "
                           "other shapes, so their motion cannot be compared")


def _original_frames(request, info) -> tuple[set[int] | None, set[int]]:
    """Indices of the frames the model made and of the last one held to the video's end, when
    the recipe says the rest were interpolated ((None, empty) when not, or when the file is not
    the video the recipe describes: another frame count or rate, as a trimmed copy or a recipe
    copied beside another video has; then every frame is scored and a note says why)."""
    from ..engine.interpolate import output_times

    if request is None or not request.interpolate_fps:
        return None, set()
    # A video's own recipe is resolved: frames and fps are what the model made (an edit's too).
    plan = output_times(request.frames, request.fps, request.interpolate_fps)
    if len(plan) != info.frames or abs(info.fps - request.interpolate_fps) > 0.01 * request.interpolate_fps:
        print(f"note: the recipe describes {len(plan)} frames at {request.interpolate_fps:g} fps and the video has "
              f"{info.frames} at {info.fps:g}: not the video it made, so every frame is scored as it is",
              file=sys.stderr)
        return None, set()
    return {t.index for t in plan if t.original}, {t.index for t in plan if t.held}


def _ranges(indices: list[int]) -> str:
    """[0, 3, 6, 9] -> '0, 3, ..., 9' for long regular lists."""
    if len(indices) > 4 and len({b - a for a, b in zip(indices, indices[1:])}) == 1:
        return f"{indices[0]}, {indices[1]}, ..., {indices[-1]}"
    return ", ".join(map(str, indices))


def _measure_alignment(video: Path, source, originals: set[int] | None):
    """Alignment of the edit's frames with the source's; of its originals only when it was
    interpolated (the source range gives one picture per original frame)."""
    from ..media import iter_frames
    from .alignment import motion_alignment

    frames = iter_frames(video)
    if originals is not None:
        frames = (f for k, f in enumerate(frames) if k in originals)
    result = motion_alignment(frames, source.iter_frames())
    return result if result.pairs else None


def format_alignment(a) -> str:
    return (f"motion alignment EPE    {a.motion_alignment_epe:.3f} px/frame   (edit's flow vs the source's, {a.flow};"
            f" source moves {a.source_motion:.3f} px/frame; V2VBench reports -EPE with GMFlow: not comparable)")


def _write_outputs(text: str, json_out: Path, plot_out: Path | None, save_plot) -> None:
    """The JSON and the plot of one run appear together, or (on an error or a kill) neither
    replaces the earlier pair (media/atomic.py); `_writable` (check_target) has already finished
    or removed what a killed run left. A plot in another folder than the JSON is written
    atomically on its own."""
    from contextlib import nullcontext

    from ..media import AtomicGroup

    apart = plot_out is not None and plot_out.parent != json_out.parent  # a journal needs one folder
    with AtomicGroup() as group, (AtomicGroup() if apart else nullcontext(group)) as plot_group:
        group.temp_for(json_out).write_text(text, encoding="utf-8")
        if plot_out is not None:
            save_plot(plot_group.temp_for(plot_out))


def format_scores(s) -> str:
    def f(v, spec):
        return "n/a" if v is None else format(v, spec)

    lines = [
        f"frames                  {s.frames} ({s.width}x{s.height})",
        f"temporal flickering     {f(s.temporal_flickering, '.4f')}   (VBench; 1 = still; penalises motion too)",
        f"dynamic degree          {f(s.dynamic_degree, '.3f')} px/frame (mean flow magnitude)",
        f"warping error           {f(s.warping_error, '.5f')}   (MSE in [0,1], {s.flow}; not comparable with RAFT figures)",
        f"  without flow          {f(s.zero_flow_error, '.5f')}   ({f(s.consistent_fraction, '.0%')} of pixels passed the flow check)",
    ]
    if s.clip_model:
        lines.append(f"CLIP frame consistency  {f(s.clip_frame_consistency, '.4f')}   ({s.clip_model})")
        lines.append(f"CLIP text score         {f(s.clip_text_score, '.2f')}" + (f"   prompt: {s.prompt!r}" if s.prompt else "   (no prompt)"))
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> int:
    from ..media import MediaError, check_target, export_format, probe_video, refuse_overwriting_inputs
    from .grid import compare_videos

    if len(args.videos) < 2:
        raise RequestError("compare needs two or more videos")
    if args.labels and len(args.labels) != len(args.videos):
        raise RequestError(f"--labels gave {len(args.labels)} caption(s) for {len(args.videos)} video(s)")
    if args.height is not None and not 16 <= args.height <= 4096:
        raise RequestError(f"--height must be between 16 and 4096 (got {args.height})")
    if args.fps is not None and not 0 < args.fps <= MAX_FPS:
        raise RequestError(f"--fps must be above 0 and at most {MAX_FPS:g} (got {args.fps})")
    for v in args.videos:
        try:
            probe_video(v)
        except MediaError as e:
            raise RequestError(str(e)) from e
    try:
        fmt = export_format(args.out)
        refuse_overwriting_inputs([("--out", args.out)], [("the video", v) for v in args.videos])
        check_target(Path(args.out), fmt)
    except (ValueError, OSError) as e:
        raise RequestError(str(e)) from e
    report = compare_videos(args.videos, args.out, args.labels, args.height, args.fps)
    print(report.path)
    print(f"{report.frames} frames, {report.width}x{report.height}", file=sys.stderr)
    return 0
