"""Command line: `t2vz generate "PROMPT" --out video.mp4 ...` over the engine's job API.

Exit codes: 0 success; 2 bad input (a flag out of range, a missing model, an unreadable recipe,
an unwritable output), with one line on stderr and no output file; 1 a failure while running;
130 cancelled with Ctrl-C. Progress goes to stderr, the written paths to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine.request import GenerationRequest, RequestError

BAD_INPUT, FAILED, CANCELLED = 2, 1, 130


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="t2vz", description="Text2Video-Zero video generation.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    g = sub.add_parser("generate", help="make a video from text")
    g.add_argument("prompt", nargs="*", help="one or more prompts (each makes a video)")
    g.add_argument("--out", "-o", required=True, help="output file: .mp4, .webm, .gif, or a folder for PNG frames")
    g.add_argument("--recipe", help="a recipe .json (or a video with its recipe) to start from; flags override it")
    g.add_argument("--model", help="demo, a hub id in the local cache, a diffusers folder, or a .safetensors file")
    g.add_argument("--model-config", help="configuration folder (or sd15/sd21/sd21-base) for a single-file checkpoint")
    g.add_argument("--allow-unsafe-pickle", action="store_true", default=None, help="allow .ckpt/.bin/.pt checkpoints")
    g.add_argument("--negative", help="negative prompt")
    g.add_argument("--frames", type=int)
    g.add_argument("--width", type=int)
    g.add_argument("--height", type=int)
    g.add_argument("--steps", type=int)
    g.add_argument("--guidance", type=float, help="classifier-free guidance; 1 turns it off")
    g.add_argument("--seed", type=int)
    g.add_argument("--videos-per-prompt", type=int)
    g.add_argument("--motion", type=float, nargs=2, metavar=("DX", "DY"), help="pixels per frame; +DX moves right")
    g.add_argument("--t-restart", type=int, help="timestep T where all frames restart (default 941)")
    g.add_argument("--t-warp", type=int, help="timestep T' where frame 0 is warped (default 881)")
    g.add_argument("--chunk-size", type=int, help="frames per UNet call (0 = all); memory stays flat")
    g.add_argument("--no-cross-frame", action="store_true", default=None, help="plain per-frame attention (ablation)")
    g.add_argument("--fps", type=float)
    g.add_argument("--scheduler", choices=["ddim", "euler-a", "dpm++"])
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:N, mps")
    g.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"])
    g.add_argument("--offload", action="store_true", default=None, help="model CPU offload for small GPUs")
    g.add_argument("--vae-tiling", action="store_true", default=None, help="decode large frames in tiles")
    g.add_argument("--format", choices=["mp4", "webm", "gif", "png"], help="output format (default: from --out)")
    g.add_argument("--upscale", type=float, default=1.0, help="resize frames on export by this factor")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return p


# CLI flag -> request field, where the names differ.
_RENAMED = {"negative": "negative_prompt", "no_cross_frame": "cross_frame_attention"}


def build_request(args: argparse.Namespace) -> GenerationRequest:
    base: dict = {}
    if args.recipe:
        base = _read_recipe(Path(args.recipe)).__dict__.copy()
    flags = vars(args)
    for name, value in flags.items():
        field_name = _RENAMED.get(name, name)
        if value is None or field_name not in GenerationRequest.__dataclass_fields__:
            continue
        base[field_name] = (not value) if name == "no_cross_frame" else value
    if args.prompt:
        base["prompts"] = list(args.prompt)
    if "prompts" not in base:
        raise RequestError("give a prompt (or --recipe FILE)")
    if "motion" in base and base["motion"] is not None:
        base["motion"] = tuple(base["motion"])
    return GenerationRequest(**base).validate()


def _read_recipe(path: Path) -> GenerationRequest:
    from .media import MediaError, read_recipe

    if not path.exists():
        raise RequestError(f"recipe {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8") if path.suffix.lower() == ".json" else read_recipe(path)
    except (OSError, UnicodeDecodeError, MediaError) as e:
        raise RequestError(f"cannot read the recipe {path} ({e})") from e
    if text is None:
        raise RequestError(f"{path} holds no t2vz recipe")
    return GenerationRequest.from_json(text)


def _generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .engine.jobs import ProgressEvent, export_result, run_generation
    from .engine.models import ModelError
    from .media import ExportOptions, check_target, export_format

    request = build_request(args)
    if not args.upscale or not 0 < args.upscale <= 8:
        raise RequestError(f"--upscale must be above 0 and at most 8 (got {args.upscale})")
    try:
        fmt = export_format(args.out, args.format)
        check_target(Path(args.out), fmt)
    except (ValueError, OSError) as e:
        raise RequestError(str(e)) from e

    bar = None

    def on_event(e: ProgressEvent) -> None:
        nonlocal bar
        if args.quiet:
            return
        if e.kind in ("status", "warning"):
            tqdm.write(("warning: " if e.kind == "warning" else "") + e.message, file=sys.stderr)
        elif e.kind in ("step", "decode"):
            label = "denoising" if e.kind == "step" else "writing"
            if bar is None or bar.desc != label:
                if bar is not None:
                    bar.close()
                bar = tqdm(total=e.total, desc=label, unit="step" if e.kind == "step" else "frame", file=sys.stderr)
            bar.update(e.step - bar.n)

    try:
        result = run_generation(request, on_event)
    except ModelError as e:
        raise RequestError(str(e)) from e
    options = ExportOptions(fps=result.recipe.fps, format=fmt, upscale=args.upscale)
    reports = export_result(result, args.out, options, on_event)
    if bar is not None:
        bar.close()
    for r in reports:
        for note in r.notes:
            print(f"note: {note}", file=sys.stderr)
        print(r.path)
    print(f"{len(reports)} video(s), {result.recipe.frames} frames each, {result.seconds:.1f} s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "generate":
            return _generate(args)
    except (UsageError, RequestError) as e:
        print(f"t2vz: error: {e}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("t2vz: cancelled; nothing was written", file=sys.stderr)
        return CANCELLED
    except Exception as e:  # a runtime failure: one line, not a traceback
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"t2vz: failed: {message}", file=sys.stderr)
        return FAILED
    return BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
