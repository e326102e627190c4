"""Command line: `t2vz generate "PROMPT" --out video.mp4 ...` over the engine's job API.

Exit codes: 0 success; 2 bad input (a flag out of range, a missing model, an unreadable recipe,
an unwritable output), with one line on stderr and no output file; 1 a failure while running;
130 cancelled with Ctrl-C. Progress goes to stderr, the written paths to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from .engine.request import (
    DEFAULT_FLOW_GUIDANCE, DEFAULT_MODEL, DEFAULT_SMOOTH, INSTRUCT_MODEL, SCHEDULERS, SD_DEFAULTS, SPEEDS, STEP_NOISE,
    GenerationRequest, RequestError, first_line,
)

BAD_INPUT, FAILED, CANCELLED = 2, 1, 130


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        # No abbreviations: "edit --source a.mp4" was taken for --source-fps ("invalid float value").
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


_EPILOG = """\
commands take --help of their own, e.g. `t2vz generate --help`.
The desktop app: `t2vz-desktop`, or `python main.py` with no command (`python main.py film.t2vz`
opens a project); `python main.py --self-test` opens it offscreen, makes one short video with the
built-in demo model and exits 0 when all went well.
exit codes: 0 done; 2 bad input (one line on stderr, before any model loads, nothing written);
1 a failure while running; 130 cancelled."""


def _demo_defaults() -> dict:
    """The demo model's own defaults (its t2vz.json), for --help; {} when it is missing."""
    import json

    from .engine.paths import resources_dir

    try:
        return json.loads((resources_dir() / "models" / "demo" / "t2vz.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _parser() -> argparse.ArgumentParser:
    from .conditions.source import add_range_arguments

    p = _Parser(prog="t2vz", description="Text2Video-Zero video generation and editing from the command line.",
                epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    demo = _demo_defaults()
    g = sub.add_parser("generate", help="make a video from text", description="Make a video from text (or from "
                       "a start image). Options left out take the model's own defaults, or the --recipe's values.")
    g.add_argument("prompt", nargs="*", help="one or more prompts (each makes a video)")
    _add_output_options(g)
    _add_model_options(g)
    _add_sampling_options(g, demo, edit=False)
    _add_motion_options(g, demo, edit=False)
    _add_video_options(g)
    e = sub.add_parser("edit", help="make a new video from a source video (pose/edges/depth, or an instruction)",
                       description="Make a new video from a source video: ControlNet-guided (canny, pose, depth) "
                       "or by an instruction (pix2pix). Frames, size and frame rate come from the source.")
    e.add_argument("source", nargs="?", help="the source video (may come from --recipe)")
    x = e.add_argument_group("editing")
    x.add_argument("--prompt", "-p", action="append", help="what to make (pix2pix: the instruction); repeat for several")
    x.add_argument("--mode", action="append", choices=["canny", "pose", "depth", "pix2pix"],
                   help="how the source steers the result; repeat for several ControlNets (e.g. pose and canny)")
    x.add_argument("--controlnet", action="append", help="ControlNet weights per --mode (folder, file or hub id; "
                   "default: lllyasviel/sd-controlnet-canny, -openpose or -depth from the local cache; the demo "
                   "model's own for canny)")
    x.add_argument("--control-scale", action="append", type=float, help="strength per --mode (default 1.0)")
    x.add_argument("--condition", action="append", help="a ready condition video per --mode (skeleton, depth)")
    add_range_arguments(x, "--source-fps", "resample the source to this frame rate: frame k shows the picture on screen "
                        "at k / FPS s (default: its own rate)")
    # No argparse defaults here: a flag left out keeps the --recipe's value, else EditSpec's default.
    x.add_argument("--fit", choices=["crop", "pad"], help="meet the output aspect by crop or pad (default crop)")
    x.add_argument("--low", type=int, help="Canny low threshold (default 100)")
    x.add_argument("--high", type=int, help="Canny high threshold (default 200)")
    x.add_argument("--depth-model", help="transformers depth-estimation model (folder or cached hub id)")
    x.add_argument("--image-guidance", type=float, help="pix2pix: how closely to keep the source (default 1.0)")
    x.add_argument("--motion-field", action="store_true",
                   help="the paper's motion init instead of shared noise (enables the motion options)")
    x.add_argument("--audio", action=argparse.BooleanOptionalAction,
                   help="keep the source's sound (the default), or drop it with --no-audio")
    x.add_argument("--flow-guidance", type=float,
                   help="carry the edit along the source's optical flow inside the denoising, 0 (off: the paper's "
                        f"method) to 1 (default {DEFAULT_FLOW_GUIDANCE:g}); keeps the source's motion where "
                        "cross-frame attention lets it drift")
    e.set_defaults(step=None)  # likewise (condition's --step keeps its 1)
    _add_output_options(e)
    _add_model_options(e)
    _add_sampling_options(e, demo, edit=True)
    _add_motion_options(e, demo, edit=True)
    for add in _EXTRA_COMMANDS:
        add(sub)
    return p


def _add_output_options(g: argparse.ArgumentParser) -> None:
    o = g.add_argument_group("output")
    o.add_argument("--out", "-o", required=True, help="output file: .mp4, .webm, .gif, or a folder for PNG frames")
    o.add_argument("--format", choices=["mp4", "webm", "gif", "png"], help="output format (default: from --out)")
    o.add_argument("--upscale", type=float, default=1.0, help="resize frames on export by this factor (default 1)")
    o.add_argument("--interpolate", dest="interpolate_fps", type=float, metavar="FPS",
                   help="raise the frame rate on export by optical-flow interpolation, e.g. 24, 30 or 60 (the "
                        "clip keeps its length; recorded in the recipe)")
    o.add_argument("--recipe", help="a recipe .json (or a video with its recipe) to start from; flags override it")
    o.add_argument("--quiet", "-q", action="store_true", help="no progress bar or status lines")


def _add_model_options(g: argparse.ArgumentParser) -> None:
    m = g.add_argument_group("model and device")
    m.add_argument("--model", help="demo, a hub id in the local cache, a diffusers folder, or a .safetensors file "
                   f"(default {DEFAULT_MODEL}; pix2pix: {INSTRUCT_MODEL})")
    m.add_argument("--model-config", help="configuration folder (or sd15/sd21/sd21-base/sdxl) for a single-file "
                   "checkpoint (default: read from the checkpoint)")
    m.add_argument("--allow-unsafe-pickle", action="store_true", default=None, help="allow .ckpt/.bin/.pt checkpoints")
    m.add_argument("--lora", nargs=2, action="append", metavar=("FILE", "SCALE"),
                   help="apply a LoRA .safetensors with a strength; repeat for several")
    m.add_argument("--device", help="auto (default: CUDA, else MPS, else the CPU), cpu, cuda, cuda:N, mps")
    m.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"],
                   help="weights' precision (default auto: fp16 on CUDA, else fp32); a video that overflows (NaN or inf) "
                        "in fp16 is made again in bf16 where the GPU has it, else fp32, with a warning")
    m.add_argument("--offload", action="store_true", default=None, help="model CPU offload for small GPUs (CUDA only)")
    m.add_argument("--vae-tiling", action="store_true", default=None, help="decode large frames in tiles")
    m.add_argument("--cluster", metavar="auto|HOST:PORT",
                   help="denoise on a Ray cluster (pip install 't2vz-desktop[farm]'; docs/render-farm.md): auto for the "
                        "one `ray start --head` runs on this computer, else the head's address; chunks of --chunk-size "
                        "frames and each video are tasks, decoded and written here")


def _add_sampling_options(g: argparse.ArgumentParser, demo: dict, edit: bool) -> None:
    s = g.add_argument_group("sampling")
    model_size = ("the source's, short side the model's own: 512 for SD 1.x, 768 SD 2.x-v, 1024 SDXL" if edit
                  else f"the model's own: 512 for SD 1.x, 768 SD 2.x-v, 1024 SDXL, {demo.get('width', 64)} demo")
    s.add_argument("--negative", help="negative prompt (default: none)")
    s.add_argument("--width", type=int, help=f"frame width, a multiple of 8 (default {model_size})")
    s.add_argument("--height", type=int, help="frame height, a multiple of 8 (default: as for --width)")
    steps = ("ControlNet 20, pix2pix 50" if edit
             else f"the model's own: {SD_DEFAULTS['steps']} for SD, 4 LCM models, {demo.get('steps', 20)} demo")
    guidance = ("ControlNet 9.0, pix2pix 7.5" if edit
                else f"the model's own: {SD_DEFAULTS['guidance']:g} for SD, 8.5 LCM models, {demo.get('guidance', 5.0):g} demo")
    s.add_argument("--steps", type=int, help=f"denoising steps (default {steps})")
    s.add_argument("--guidance", type=float, help=f"classifier-free guidance; 1 turns it off (a guidance-distilled "
                   f"LCM model takes it as an embedding instead; default {guidance})")
    s.add_argument("--seed", type=int, help="seed (default: random, recorded in the recipe)")
    s.add_argument("--videos-per-prompt", type=int, help="videos per prompt, video r with seed + r (default 1)")
    s.add_argument("--seeds", metavar="S1,S2,...", help="one video per seed for each prompt, each recipe naming "
                   "its own seed (instead of --seed and --videos-per-prompt)")
    sampler = ("ControlNet ddim, pix2pix euler-a" if edit
               else f"the model's own: {SD_DEFAULTS['scheduler']} for SD, {demo.get('scheduler', SD_DEFAULTS['scheduler'])}"
                    " for the demo model")
    s.add_argument("--scheduler", choices=["auto", *SCHEDULERS],
                   help=f"sampler (default auto: {sampler}); lcm and tcd are few-step samplers for distilled "
                        "weights (an LCM-LoRA, LCM or TCD models: 2-8 steps, guidance 1-2)")
    s.add_argument("--step-noise", choices=list(STEP_NOISE),
                   help="samplers that add noise at every step (euler-a, lcm, tcd): shared, every frame draws its "
                        "anchor's, for steadier frames, or frame, each its own (default "
                        f"{'frame' if edit else 'shared'}; recipes from before the option: frame)")
    s.add_argument("--speed", choices=list(SPEEDS),
                   help="Lossless levels (the same pixels to float rounding): auto (default: compiled on a CUDA "
                        "GPU, exact elsewhere), exact (eager), compiled (the UNet's blocks compiled with "
                        "torch.compile; a model's first video compiles, later launches load the kernels from "
                        "T2VZ_COMPILE_CACHE, default ~/.cache/t2vz/compile). Fast modes (slightly different pixels): "
                        "cache reuses the UNet's deep features for 2 of every 3 steps but the last fifth "
                        "(DeepCache; not with --background-smoothing); merge merges half of each chunk's similar "
                        "tokens across frames in cross-frame attention (ToMe/VidToMe; not with --attention-window, "
                        "--no-cross-frame, prompt keys or an end image); cache+merge both")
    s.add_argument("--chunk-size", type=int, help="frames per UNet call (0 = all; default 8); memory stays flat")
    s.add_argument("--no-cross-frame", action="store_true", default=None, help="plain per-frame attention (ablation)")
    s.add_argument("--attention-window", type=int,
                   help="also attend to N earlier frames (1: sparse-causal; default 0: frame 0 only, the paper)")
    s.add_argument("--noise-window", type=int, help="FreeNoise-style noise re-use every N frames (default 0: off)")
    s.add_argument("--smooth", type=float, help="flow-guided smoothing of the frames against flicker, 0 (off) to 1 "
                   f"(default {DEFAULT_SMOOTH:g})")


def _add_motion_options(g: argparse.ArgumentParser, demo: dict, edit: bool) -> None:
    title = "motion (with --motion-field only)" if edit else "motion"
    m = g.add_argument_group(title)
    m.add_argument("--motion", type=float, nargs=2, metavar=("DX", "DY"),
                   help="pixels per frame; +DX moves content right, +DY down (default: 12 at 512 px, scaled "
                        "to the size)")
    m.add_argument("--motion-fill", choices=["noise", "reflect"],
                   help="what enters the view: fresh noise (default) or a mirror image like the official code's")
    m.add_argument("--t-restart", type=int, help="timestep T where all frames restart (default: the model's own, "
                   f"{SD_DEFAULTS['t_restart']} for SD, {demo.get('t_restart', 401)} demo)")
    m.add_argument("--t-warp", type=int, help="timestep T' where frame 0 is warped (default: the model's own, "
                   f"{SD_DEFAULTS['t_warp']} for SD, {demo.get('t_warp', 301)} demo)")
    m.add_argument("--background-smoothing", type=float,
                   help="pull the background toward frame 0 (paper 3.3), 0 (off, default) to 1; the paper uses "
                        "about 0.6")
    m.add_argument("--subject", help="words of the prompt that name the foreground (default: guessed)")
    m.add_argument("--subject-mask", choices=["refined", "attention"],
                   help="background smoothing's mask: attention picks the object and the latent draws its "
                        "outline (refined, default), or the attention map alone")


def _add_video_options(g: argparse.ArgumentParser) -> None:
    v = g.add_argument_group("length, camera, prompt travel, image-to-video")
    v.add_argument("--frames", type=int, help="video length in frames (default 8)")
    v.add_argument("--fps", type=float, help="frame rate of the video (default 8)")
    v.add_argument("--camera", action="append", metavar="FRAME[:KEY=VALUE,...]",
                   help="camera keyframe, e.g. 0:ease=ease then 24:zoom=1.5,rotate=10,pan=20/0 (a key's ease shapes the "
                        "move to the next key); instead of --motion")
    v.add_argument("--prompt-at", nargs=2, action="append", metavar=("FRAME", "TEXT"),
                   help="prompt travel: from FRAME on, move toward TEXT (the first key is the prompt at frame 0)")
    v.add_argument("--prompt-blend", choices=["linear", "slerp"],
                   help="embedding interpolation between keys (default slerp)")
    v.add_argument("--image", dest="init_image", help="image-to-video: start from this image")
    v.add_argument("--end-image", dest="end_image", help="image-to-video: end on this image (with --image)")


def _condition_command(sub) -> None:
    from .conditions.command import add_condition_command

    add_condition_command(sub)


def _measure_commands(sub) -> None:
    from .measure.commands import add_measure_commands  # eval, compare

    add_measure_commands(sub)


def _models_command(sub) -> None:
    from .engine.model_commands import add_models_command  # list, download, remove, verify

    add_models_command(sub)


# Other subcommands register here: each entry adds its parser and sets `run` on it.
_EXTRA_COMMANDS: list = [_condition_command, _measure_commands, _models_command]


def _edit_spec(args: argparse.Namespace, recipe_edit=None):
    """The edit the flags ask for, over `recipe_edit` (the --recipe's EditSpec) when there is one:
    a flag left out keeps the recipe's value; --mode replaces the recipe's modes (a mode given
    again keeps its ControlNet)."""
    from .conditions.source import range_from_arguments
    from .engine.request import EditSpec

    # Recorded absolute: the recipe re-makes the edit from any folder (a newcomer's did not).
    source = _absolute(args.source) if args.source else (recipe_edit.source if recipe_edit else None)
    if not source:
        raise RequestError("give the source video to edit")
    edit = replace(recipe_edit, source=source) if recipe_edit else EditSpec(source=source)
    if _new_source(args, recipe_edit) and any(c.condition for c in edit.controls) and not args.condition:
        _warn("the recipe's ready condition video was made from its own source: the condition is taken from "
              f"{args.source} instead (give --condition to use one)")
        edit = replace(edit, controls=[replace(c, condition=None) for c in edit.controls])
    if args.mode:
        edit = _with_modes(edit, args.mode)
    elif recipe_edit is None:
        raise RequestError("give --mode canny|pose|depth|pix2pix (or --recipe of an edit)")
    # Accepted but without effect as given: said, not silently ignored (nor kept in the recipe).
    if not edit.instruct and args.image_guidance is not None:
        _warn("--image-guidance only steers --mode pix2pix; ignored with a ControlNet")
    if args.depth_model and not _has_depth(edit):
        _warn("--depth-model only steers --mode depth; ignored")
    given = [flag for flag, on in (("--motion", args.motion is not None),
                                   ("--background-smoothing", bool(args.background_smoothing))) if on]
    if not (edit.motion_field or args.motion_field) and given:  # name only what was given, not every such flag
        _warn(f"{' and '.join(given)} {'acts' if len(given) == 1 else 'act'} only with --motion-field (otherwise every"
              " frame starts from one noise and the edit follows the source's motion); ignored")
    edit = _with_control_flags(edit, args)
    try:
        range_from_arguments(args)  # refuses a frame and a time for the same end
    except ValueError as e:
        raise RequestError(str(e)) from e
    # Each end given replaces that end alone, in frames or in seconds (the other unit cleared).
    if args.start is not None or args.start_time is not None:
        edit = replace(edit, start=args.start or 0, start_s=args.start_time)
    if args.end is not None or args.end_time is not None:
        edit = replace(edit, end=args.end, end_s=args.end_time)
    return _given(edit, step=args.step, fps=args.source_fps, fit=args.fit, canny_low=args.low, canny_high=args.high,
                  depth_model=args.depth_model and _local(args.depth_model) if _has_depth(edit) else None,
                  flow_guidance=args.flow_guidance,
                  image_guidance=args.image_guidance if edit.instruct else None,
                  motion_field=True if args.motion_field else None, keep_audio=args.audio)


def _has_depth(edit) -> bool:
    return any(c.mode == "depth" for c in edit.controls)


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _local(name: str) -> str:
    """A file or folder given on the command line as an absolute path, so that its recipe works
    from any folder (a newcomer's `--controlnet ../net` did not); a hub id or a path that does not
    exist (refused later, by name) stays as typed."""
    return _absolute(name) if os.path.exists(os.path.expanduser(name)) else name


def _recipe_paths(request: GenerationRequest, folder: Path) -> GenerationRequest:
    """A recipe's relative file paths (written by hand, or by t2vz before 0.3.0) read against the
    recipe's own folder where they name something there, else against the current folder, and
    made absolute; "demo", hub ids and paths found nowhere stay as written."""
    def found(name: str | None) -> str | None:
        if not name or name == "demo":
            return name
        if not os.path.isabs(os.path.expanduser(name)) and (folder / name).exists():
            return _absolute(str(folder / name))
        return _local(name)

    e = request.edit
    if e is not None:
        controls = [replace(c, model=found(c.model), condition=found(c.condition)) for c in e.controls]
        e = replace(e, source=found(e.source), controls=controls, depth_model=found(e.depth_model))
    return replace(request, edit=e, model=found(request.model), model_config=found(request.model_config),
                   init_image=found(request.init_image), end_image=found(request.end_image),
                   loras=[replace(lora, path=found(lora.path)) for lora in request.loras])


def _new_source(args: argparse.Namespace, recipe_edit) -> bool:
    """Whether a source other than the recipe's is given: the recipe's size and ready conditions
    were its own source's."""
    return bool(recipe_edit and args.source
                and os.path.realpath(_absolute(args.source)) != os.path.realpath(_absolute(recipe_edit.source)))


def _given(spec, **changes):
    """`spec` with the fields whose flag was given (not None) replaced."""
    return replace(spec, **{k: v for k, v in changes.items() if v is not None})


def _with_modes(edit, modes: list[str]):
    from .engine.request import ControlSpec, EditSpec

    twice = sorted({m for m in modes if modes.count(m) > 1})
    if twice:
        raise RequestError(f"--mode {twice[0]} is given twice: give each mode once")
    if "pix2pix" in modes and len(modes) > 1:
        raise RequestError("--mode pix2pix cannot be combined with ControlNet modes")
    instruct = modes == ["pix2pix"]
    if instruct != edit.instruct:
        edit = replace(edit, image_guidance=EditSpec.image_guidance)
    kept = {c.mode: c for c in edit.controls}
    return replace(edit, instruct=instruct, controls=[] if instruct else [kept.get(m, ControlSpec(m)) for m in modes])


def _with_control_flags(edit, args: argparse.Namespace):
    """--controlnet, --control-scale and --condition, one per mode, over the edit's ControlNets."""
    flags = (("--controlnet", args.controlnet), ("--control-scale", args.control_scale), ("--condition", args.condition))
    if edit.instruct:
        given = [flag for flag, values in flags if values]
        if given:
            raise RequestError(f"{given[0]} steers a ControlNet mode; --mode pix2pix has none")
        return edit
    count = len(edit.controls)
    for flag, values in flags:
        if values and len(values) != count:
            raise RequestError(f"give {flag} once per --mode ({count} mode{'s' * (count != 1)}, {len(values)} given)")
    nets, scales, conditions = ([*values] if values else [None] * count for _, values in flags)
    nets, conditions = [n and _local(n) for n in nets], [c and _absolute(c) for c in conditions]
    return replace(edit, controls=[_given(c, model=n, scale=s, condition=k)
                                   for c, n, s, k in zip(edit.controls, nets, scales, conditions)])


_PENDING_WARNINGS: list[str] = []  # said once the pre-flight passes: a refusal stays the only line


def _warn(message: str) -> None:
    _PENDING_WARNINGS.append(message)


def parse_camera_key(text: str):
    """'24:zoom=1.5,rotate=10,pan=20/0,ease=ease' -> CameraKey."""
    from .engine.motion import CameraKey

    frame, _, rest = text.partition(":")
    try:
        values = dict(item.split("=", 1) for item in rest.split(",") if item)
        pan = tuple(float(p) for p in values.pop("pan", "0/0").split("/"))
        key = CameraKey(int(frame), pan=pan, zoom=float(values.pop("zoom", 1.0)),
                        rotate=float(values.pop("rotate", 0.0)), ease=values.pop("ease", "linear"))
    except ValueError as e:
        raise RequestError(f"--camera '{text}': use FRAME[:zoom=Z,rotate=DEG,pan=X/Y,ease=linear|ease] ({e})") from e
    if len(pan) != 2:
        raise RequestError(f"--camera '{text}': pan takes X/Y in pixels, e.g. pan=20/0")
    if values:
        raise RequestError(f"--camera '{text}': unknown setting(s) {', '.join(values)}; use zoom, rotate, pan=X/Y, ease")
    return key


# CLI flag -> request field, where the names differ.
_RENAMED = {"negative": "negative_prompt", "no_cross_frame": "cross_frame_attention"}


def parse_seeds(text: str) -> list[int]:
    """'3,7,11' -> [3, 7, 11]; RequestError for anything but distinct whole numbers in range."""
    from .engine.request import check_seeds

    parts = [p.strip() for p in text.split(",")]
    bad = next((p for p in parts if not p.lstrip("-").isdigit()), None)
    if bad is not None:
        raise RequestError(f"--seeds takes whole numbers separated by commas, e.g. 3,7,11 (got '{bad}' in '{text}')")
    return check_seeds([int(p) for p in parts])


def build_request(args: argparse.Namespace) -> GenerationRequest:
    base: dict = {}
    if args.recipe:
        base = _recipe_paths(_read_recipe(Path(args.recipe)), Path(args.recipe).parent).__dict__.copy()
    seeds = getattr(args, "seeds", None)
    if seeds is not None:
        given = [flag for flag, value in (("--seed", args.seed), ("--videos-per-prompt", args.videos_per_prompt))
                 if value is not None]
        if given:
            raise RequestError(f"--seeds gives each video its seed: drop {' and '.join(given)}")
        seeds = parse_seeds(seeds)
    flags = vars(args)
    for name, value in flags.items():
        field_name = _RENAMED.get(name, name)
        if value is None or name == "seeds" or field_name not in GenerationRequest.__dataclass_fields__:
            continue
        base[field_name] = (not value) if name == "no_cross_frame" else value
    for name in ("model", "model_config", "init_image", "end_image"):
        if flags.get(name) is not None and (name, flags[name]) != ("model", "demo"):  # the built-in, not ./demo
            base[name] = _local(flags[name])
    if base.get("scheduler") == "auto":  # the model's own, as the app's "auto"; also over a recipe's sampler
        base["scheduler"] = None
    if seeds is not None:  # over the recipe's own seed or seeds
        base.update(seeds=seeds, seed=None, videos_per_prompt=len(seeds))
    elif args.seed is not None or args.videos_per_prompt is not None:  # a recipe's seed list gives way to these
        if base.get("seeds"):
            base.update(seeds=None, seed=base["seed"] if args.seed is not None else base["seeds"][0])
            if args.videos_per_prompt is None:
                base["videos_per_prompt"] = 1
    if args.lora:
        from .engine.request import LoraSpec

        try:
            base["loras"] = [LoraSpec(_local(path), float(scale)) for path, scale in args.lora]
        except ValueError as e:
            raise RequestError(f"--lora takes FILE SCALE, with a number as SCALE ({e})") from e
        base.pop("lora", None)
    camera = getattr(args, "camera", None)
    if camera:
        base["camera"] = [parse_camera_key(text) for text in camera]
    if args.motion is not None and base.get("camera"):  # a camera path replaces the constant motion
        where = "--camera" if camera else f"the recipe's camera path ({args.recipe})"
        raise RequestError(f"--motion does nothing with {where}; give the pan in the camera keys "
                           "(pan=X/Y) or drop the camera")
    if getattr(args, "prompt_at", None):
        from .engine.request import PromptKey

        first = list(getattr(args, "prompt", None) or base.get("prompts", []))[:1]
        try:
            given = [PromptKey(int(frame), text) for frame, text in args.prompt_at]
        except ValueError as e:
            raise RequestError(f"--prompt-at takes FRAME TEXT with a whole number as FRAME ({e})") from e
        frames = [k.frame for k in given]
        twice = sorted({f for f in frames if frames.count(f) > 1})
        if twice:
            raise RequestError(f"two --prompt-at keys on frame {twice[0]}: give one prompt a frame")
        if getattr(args, "prompt", None) and 0 in frames:
            raise RequestError(f"--prompt-at 0 would replace the prompt '{args.prompt[0]}' at frame 0: give one "
                               "of them (the prompt is frame 0's key)")
        keys = ([PromptKey(0, first[0])] if first else []) + given
        keys = sorted({k.frame: k for k in keys}.values(), key=lambda k: k.frame)  # a key at 0 replaces the prompt
        base["prompt_keys"] = keys
        base["prompts"] = [keys[0].prompt] if keys else []
    if args.prompt:
        base["prompts"] = list(args.prompt)
    if args.command == "edit":
        from .conditions.source import rounded_size

        notes: list[str] = []
        # Sized from the source, as a fresh edit of it would be, where the recipe's size was made for
        # another picture (a new source, a generated video's recipe) or one side alone is given.
        if (args.recipe and (base.get("edit") is None or _new_source(args, base.get("edit")))
                or (args.width is None) != (args.height is None)):
            base.update({side: getattr(args, side) for side in ("width", "height")})
        base["width"], base["height"] = rounded_size(base.get("width"), base.get("height"), notes)
        for note in notes:
            _warn(note)
        recipe_edit = base.get("edit")
        base["edit"] = _edit_spec(args, recipe_edit)  # re-makes a recipe's edit, flags over it
        was_instruct = recipe_edit is not None and recipe_edit.instruct
        if not args.model and base["edit"].instruct != was_instruct:  # the recipe's model fits its own kind of edit
            base["model"] = INSTRUCT_MODEL if base["edit"].instruct else DEFAULT_MODEL
        base.pop("frames", None)  # an edit has as many frames as its source range
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
        text = path.read_text(encoding="utf-8-sig") if path.suffix.lower() == ".json" else read_recipe(path)
    except (OSError, UnicodeDecodeError, MediaError) as e:
        raise RequestError(f"cannot read the recipe {path} ({e})") from e
    if text is None:
        raise RequestError(f"{path} holds no t2vz recipe")
    # A consent the recipe asks for (allow_unsafe_pickle) is dropped with a warning: only the
    # user's own flag, applied over the recipe in build_request, grants it.
    return GenerationRequest.from_json(text, f"recipe {path.name}", warn=_warn)


def _generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .engine.jobs import ProgressEvent, export_result, preflight, run_generation
    from .engine.preflight import step_noise_warning
    from .engine.models import ModelError
    from .media import ExportOptions, export_format

    request = build_request(args)
    if not args.upscale or not 0 < args.upscale <= 8:
        raise RequestError(f"--upscale must be above 0 and at most 8 (got {args.upscale})")
    try:
        # Every check that needs no model, the output target included, before a word is printed
        # (run_generation is told it ran: for an edit it decodes the source's range).
        warnings = preflight(request, args.out, args.format, [("the recipe", args.recipe)])
        if getattr(args, "step_noise", None) is not None:
            warnings += filter(None, [step_noise_warning(request)])
        if args.cluster:  # a socket connect: an unreachable cluster is refused before any load
            from .engine.cluster import check_cluster

            check_cluster(args.cluster)
    except ModelError as e:
        raise RequestError(str(e)) from e
    for message in _PENDING_WARNINGS + warnings:
        print(f"t2vz: warning: {message}", file=sys.stderr)
    fmt = export_format(args.out, args.format)

    bar = None

    def on_event(e: ProgressEvent) -> None:
        nonlocal bar
        if e.kind == "warning":  # -q silences progress, never a warning
            tqdm.write(f"t2vz: warning: {e.message}", file=sys.stderr)
        if args.quiet:
            return
        if e.kind == "loaded":
            tqdm.write(f"model {e.message} on {e.device}", file=sys.stderr)
        elif e.kind == "status" or (e.kind == "optimise" and not e.total):
            tqdm.write(e.message, file=sys.stderr)
        elif e.kind in ("step", "decode", "optimise"):
            label = {"step": "denoising", "decode": "writing"}.get(e.kind) or e.message.split(":")[0]
            # A new bar for another stage, and for a stage that starts again (an overflowed video
            # made again in another precision counts its steps from 1).
            if bar is None or bar.desc != label or e.step < bar.n:
                close_bar()
                unit = {"step": "step", "decode": "frame", "optimise": "block"}[e.kind]
                bar = tqdm(total=e.total, desc=label, unit=unit, file=sys.stderr)
            bar.update(e.step - bar.n)
            if bar.n >= bar.total:  # done: a status line after it must not redraw it
                close_bar()

    def close_bar() -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None

    try:
        try:
            # A progress bar shows no images.
            result = run_generation(request, on_event, previews=False, checked=True, cluster=args.cluster)
        except ModelError as e:
            raise RequestError(str(e)) from e
        options = ExportOptions(fps=result.output_fps, format=fmt, upscale=args.upscale)
        reports = export_result(result, args.out, options, on_event)
    finally:  # an error is its own last line, not glued to a bar that is then redrawn
        close_bar()
    for r in reports:
        if not args.quiet:  # notes on the format (a PNG folder has no frame rate) are status
            for note in r.notes:
                print(f"note: {note}", file=sys.stderr)
        print(r.path)
    if not args.quiet:
        stored = reports[0]  # a GIF stores its rate in centiseconds, a PNG folder none
        print(summary_line(len(reports), stored.frames, stored.fps if stored.format != "png" else None,
                           result.recipe.frames, result.seconds), file=sys.stderr)
    return 0


def summary_line(videos: int, frames: int, fps: float | None, made: int, seconds: float) -> str:
    """The last status line of generate/edit: how long each video plays and how long the job took,
    worded apart (the run time alone read like the video's length). frames: each video's frames
    as written (interpolated ones included, of which `made` were denoised); fps: as the file
    stores it (a GIF stores at most 50), None for PNG frames, which have no length."""
    what = f"{videos} video{'s' if videos != 1 else ''}, {frames} frames{' each' if videos != 1 else ''}"
    details = [] if fps is None else [f"{frames / fps:.2f} s at {fps:g} fps"]
    if made != frames:
        # not "the rest interpolated": held last frames are not, and at 30 fps from 8 most
        # denoised frames fall between output times, so few pass through unchanged
        details.append(f"interpolated from {made} denoised")
    return what + (f" ({'; '.join(details)})" if details else "") + f", took {seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    _PENDING_WARNINGS.clear()
    try:
        args = _parser().parse_args(argv)
        if args.command in ("generate", "edit"):
            return _generate(args)
        return args.run(args)
    except (UsageError, RequestError) as e:
        print(f"t2vz: error: {e}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("t2vz: cancelled; nothing was written", file=sys.stderr)
        return CANCELLED
    except Exception as e:  # a runtime failure: one line, not a traceback
        from .media import MediaError

        if isinstance(e, MediaError):  # video data that breaks off after a good header is bad input too
            print(f"t2vz: error: {first_line(e)}", file=sys.stderr)
            return BAD_INPUT
        print(f"t2vz: failed: {first_line(e)}", file=sys.stderr)
        return FAILED
    return BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
