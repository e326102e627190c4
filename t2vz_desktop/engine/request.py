"""The generation request: what to make, as one dataclass that round-trips through JSON.

A request saved after `resolve()` has every value filled in (seed, size, steps, motion), so it
is a complete recipe: the same recipe gives the same frames.
"""

from __future__ import annotations

import json
import math
import random
import re
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path

from .camera import CameraKey, default_motion

MAX_FPS = 240.0  # frames a second: any video made, and any source read at a chosen rate
MAX_SOURCE_SECONDS = 1e7  # a source range's bound (115 days): beyond it sample counts overflow

RECIPE_VERSION = 1
# The post-process smoother's strength unless asked otherwise: on since engine 0.2.0, where it cut
# the warping error at 48 frames by 39% with the objects' motion and accuracy unchanged (issue #7,
# benchmarks/RESULTS.md). Recipes from before it say nothing of smoothing and get 0 (from_json).
DEFAULT_SMOOTH = 0.5
DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SCHEDULERS = ("ddim", "euler-a", "dpm++", "lcm", "tcd")
STEP_NOISE = ("shared", "frame")  # a sampler's step noise: shared by a video's frames, or each frame's own
NOISY_SCHEDULERS = ("euler-a", "lcm", "tcd")  # those whose step draws fresh noise: the only ones STEP_NOISE changes
# Lossless: auto (compiled where it pays: CUDA; else exact), exact (eager, the reference),
# compiled (the UNet's blocks compiled, compiled.py). Fast modes, which change pixels: cache
# (feature caching across steps, DeepCache), merge (token merging across frames, ToMe/VidToMe),
# and both.
SPEEDS = ("auto", "exact", "compiled", "cache", "merge", "cache+merge")
LOSSLESS_SPEEDS = ("auto", "exact", "compiled")
FAST_SPEEDS = tuple(s for s in SPEEDS if s not in LOSSLESS_SPEEDS)
SD_DEFAULTS = {"steps": 50, "guidance": 7.5, "scheduler": "ddim", "t_restart": 941, "t_warp": 881}  # the paper's defaults


class RequestError(ValueError):
    """A request value is out of range or malformed; the message is for the user."""


def first_line(e: BaseException) -> str:
    """An error's first line for a one-line message (its class name when it says nothing); a first
    line that ends in a colon is joined to the next, which says what it announces (pydantic-style
    "Validation error for field 'vocab_size':" then "TypeError: ... expected int, got str")."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def in_file_terms(message: str) -> str:
    """A request check's message (worded for the CLI: "--t-restart must be ...") as it applies to a
    settings file, whose keys are the request's field names ("t_restart must be ...")."""
    # Not inside a quoted value: "(got '--fast')" is what the file holds, and stays as it is.
    return re.sub(r"(?<![\w'\"-])--([a-z][a-z0-9-]*)", lambda m: m.group(1).replace("-", "_"), message)


MAX_SEED = 2**63 - 1  # the largest seed a request takes (as --seed)
MAX_VIDEOS = 64  # videos per prompt in one job


def check_seeds(seeds: list[int]) -> list[int]:
    """`seeds` if it is a usable list of seeds (1 to MAX_VIDEOS whole numbers from 0 to MAX_SEED,
    none twice: two takes of one seed are the same video); RequestError naming the first problem."""
    if not 1 <= len(seeds) <= MAX_VIDEOS:
        raise RequestError(f"--seeds takes 1 to {MAX_VIDEOS} seeds (got {len(seeds)})")
    for s in seeds:
        if not 0 <= s <= MAX_SEED:
            raise RequestError(f"--seeds: each seed must be between 0 and 2^63-1 (got {s})")
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        raise RequestError(f"--seeds: seed {twice[0]} is given twice; it would make the same video twice")
    return seeds


# Opt-ins that let a run do something unsafe. They are the user's own decision, taken from a flag
# on the command line or a dialog naming the file, never from a file (a recipe, a project, a
# video's embedded recipe): whoever wrote the file is not the person who runs it. `from_json`
# drops them and `to_json` does not write them.
CONSENT_FIELDS = frozenset({"allow_unsafe_pickle"})
PICKLE_SUFFIXES = frozenset({".ckpt", ".bin", ".pt", ".pth"})  # checkpoints that torch unpickles


def pickle_checkpoint(model: str | None) -> Path | None:
    """The file that `model` names when it is a pickle checkpoint, whose loading can run any code
    and so needs allow_unsafe_pickle; None for anything else (a folder, .safetensors, a hub id)."""
    path = Path(model).expanduser() if model else None
    return path if path is not None and path.suffix.lower() in PICKLE_SUFFIXES and path.is_file() else None


class FieldError(ValueError):
    """A value read from a file has the wrong kind; `field` is its path, e.g. ``camera[1].zoom``."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field


def from_data(cls: type, data: object, where: str = ""):
    """Build dataclass `cls` from JSON data, checking every value against the field's annotation
    (int, float, str, bool, dict, ``X | None``, ``list[X]``, ``tuple[X, ...]``, nested dataclasses).

    A bool is not a number, NaN and infinities are not numbers, and a whole float (``8.0``) is
    taken as an int. Ranges are left to the caller's own rules. Raises FieldError naming the
    path from `where` (``tracks[0].clips[2].out_point``) for a wrong kind, a missing field with
    no default, or a key the dataclass does not have.
    """
    return _convert(cls, data, where)


def _hints(cls: type) -> dict:
    cached = _HINTS.get(cls)
    if cached is None:
        cached = _HINTS[cls] = typing.get_type_hints(cls)
    return cached


_HINTS: dict[type, dict] = {}
_KINDS = {int: "a whole number", float: "a number", str: "text", bool: "true or false", dict: "an object"}


def _convert(kind, value, where: str):
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, where)
        raise FieldError(where, "has a type this reader does not handle")  # a programming error
    if origin is list:
        if not isinstance(value, list):
            raise FieldError(where, f"must be a list (got {_shown(value)})")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise FieldError(where, f"must be a list of {len(args)} (got {_shown(value)})")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if is_dataclass(kind):
        if not isinstance(value, dict):
            raise FieldError(where, f"must be an object (got {_shown(value)})")
        hints, prefix = _hints(kind), f"{where}." if where else ""
        unknown = sorted(set(value) - set(hints))
        if unknown:
            raise FieldError(prefix + unknown[0], "is not a known field")
        values = {}
        for f in fields(kind):
            if f.name in value:
                values[f.name] = _convert(hints[f.name], value[f.name], prefix + f.name)
            elif f.default is MISSING and f.default_factory is MISSING:
                raise FieldError(prefix + f.name, "is missing")
        return kind(**values)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise FieldError(where, f"must be a finite number (got {value})")
            return float(value)
    elif kind is str or kind is dict:
        if isinstance(value, kind):
            return value
    else:
        raise FieldError(where, "has a type this reader does not handle")  # a programming error
    raise FieldError(where, f"must be {_KINDS[kind]} (got {_shown(value)})")


def _shown(value) -> str:
    text = json.dumps(value) if isinstance(value, str | bool | int | float) or value is None else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


CONTROL_MODES = ("canny", "pose", "depth")
# The ControlNets and the instruct model that the paper's repository uses (hub ids, as published).
DEFAULT_CONTROLNETS = {
    "canny": "lllyasviel/sd-controlnet-canny",
    "pose": "lllyasviel/sd-controlnet-openpose",
    "depth": "lllyasviel/sd-controlnet-depth",
}
# For SDXL base models: diffusers' own canny and depth ControlNets, and xinsir's openpose (Apache-2.0).
SDXL_CONTROLNETS = {
    "canny": "diffusers/controlnet-canny-sdxl-1.0",
    "pose": "xinsir/controlnet-openpose-sdxl-1.0",
    "depth": "diffusers/controlnet-depth-sdxl-1.0",
}


def default_controlnet(mode: str, sdxl: bool) -> str:
    """The ControlNet an edit mode uses when none is named, for the base model's family."""
    return (SDXL_CONTROLNETS if sdxl else DEFAULT_CONTROLNETS)[mode]


INSTRUCT_MODEL = "timbrooks/instruct-pix2pix"
# Guided-mode defaults of the paper's repository (ALGORITHM.md section 4).
# step_noise "frame": each frame its own step noise, as the official modes draw it (generation
# shares it, step_noise.py; not measured for edits without real weights).
FEW_STEP_SCHEDULERS = ("lcm", "tcd")  # a model whose own sampler is one keeps it, steps and guidance for edits
# On by default since it won on every measure but shape (benchmarks/RESULTS.md, "Flow-guided
# editing on a ControlNet that follows edges"): at 1.0 the edit's motion alignment error is 0.23x
# the paper method's (the target: <= 1/4), warping error 3.5-7x lower, colours unchanged;
# at 0.8 only 0.31-0.42x.
DEFAULT_FLOW_GUIDANCE = 1.0
CONTROL_DEFAULTS = {"steps": 20, "guidance": 9.0, "scheduler": "ddim", "step_noise": "frame"}
INSTRUCT_DEFAULTS = {"steps": 50, "guidance": 7.5, "scheduler": "euler-a", "step_noise": "frame"}


@dataclass
class ControlSpec:
    """One ControlNet: the kind of condition, its weights, its strength."""

    mode: str  # canny | pose | depth
    model: str | None = None  # folder, .safetensors or cached hub id; None: the usual one for the mode
    scale: float = 1.0
    condition: str | None = None  # a ready condition video (skeleton, depth) instead of extracting


@dataclass
class PromptKey:
    """Prompt travel: from this frame on, the video moves toward this prompt."""

    frame: int
    prompt: str
    seed: int | None = None  # None: share frame 0's noise, for a steady layout


@dataclass
class LoraSpec:
    """A LoRA file applied to the base model with a strength."""

    path: str
    scale: float = 1.0


@dataclass
class EditSpec:
    """Video-to-video: a source clip steered by ControlNets, or edited by an instruction."""

    source: str
    controls: list[ControlSpec] = field(default_factory=list)
    instruct: bool = False  # Instruct-Pix2Pix: the prompt is an instruction ("make it snowy")
    image_guidance: float = 1.0  # how closely to follow the source frame (pix2pix)
    start: int = 0  # source frame range [start, end), every `step`-th frame, or resampled to `fps`
    end: int | None = None
    step: int = 1
    fps: float | None = None
    start_s: float | None = None  # seconds on the source's clock, instead of start / end frames
    end_s: float | None = None
    fit: str = "crop"  # crop | pad: how the source meets the output aspect
    canny_low: int = 100
    canny_high: int = 200
    depth_model: str | None = None  # transformers depth-estimation model for mode depth
    motion_field: bool = False  # the paper's motion init instead of one shared noise
    keep_audio: bool = True
    # Flow-guided editing (engine/flow_guidance.py): each frame's clean estimate is pulled toward
    # the previous frame's, carried along the source's optical flow, at this strength (0: off, the
    # paper's method, and what a recipe from before the option gets; 1: wherever the flow is
    # reliable, the previous frame wins).
    flow_guidance: float = DEFAULT_FLOW_GUIDANCE

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise RequestError(message)

        need(bool(self.source), "give a source video to edit")
        need(self.instruct != bool(self.controls), "an edit is either instruction-based or ControlNet-guided")
        for c in self.controls:
            need(c.mode in CONTROL_MODES, f"--mode must be one of {', '.join(CONTROL_MODES)} or pix2pix (got {c.mode})")
            need(0 <= c.scale <= 5, f"ControlNet scale must be between 0 and 5 (got {c.scale})")
        need(0 <= self.image_guidance <= 20, f"--image-guidance must be between 0 and 20 (got {self.image_guidance})")
        need(self.start >= 0 and (self.end is None or self.end > self.start),
             f"the frame range must have start >= 0 and end > start (got {self.start}..{self.end})")
        need(self.step >= 1, f"--step must be 1 or more (got {self.step})")
        for flag, value in (("--start-time", self.start_s), ("--end-time", self.end_s)):
            need(value is None or 0 <= value <= MAX_SOURCE_SECONDS,
                 f"{flag} takes seconds from 0 to {MAX_SOURCE_SECONDS:,.0f} (got {value})")
        need(self.start_s is None or self.end_s is None or self.end_s > self.start_s,
             f"--end-time must be after --start-time (got {self.start_s}..{self.end_s})")
        need(self.fps is None or 0 < self.fps <= MAX_FPS,
             f"--source-fps must be above 0 and at most {MAX_FPS:g} (got {self.fps})")
        need(self.fit in ("crop", "pad"), f"--fit must be crop or pad (got {self.fit})")
        need(0 <= self.flow_guidance <= 1, f"--flow-guidance must be between 0 and 1 (got {self.flow_guidance})")
        need(0 <= self.canny_low < self.canny_high <= 255,
             f"Canny thresholds need 0 <= low < high <= 255 (got {self.canny_low}, {self.canny_high})")



@dataclass
class GenerationRequest:
    prompts: list[str]
    negative_prompt: str = ""
    model: str = DEFAULT_MODEL
    frames: int = 8
    width: int | None = None  # None: the model's own size
    height: int | None = None
    steps: int | None = None  # None: the model's default (50 for Stable Diffusion)
    guidance: float | None = None  # None: the model's default (7.5); <= 1 turns guidance off
    seed: int | None = None  # None: a random seed, recorded in the recipe
    videos_per_prompt: int = 1  # video r of a prompt uses seed + r
    motion: tuple[float, float] | None = None  # output px per frame; None: 12 px at 512 px, scaled
    # What enters the view as the motion field shifts the anchor: "noise" (fresh noise at T, as
    # camera paths do) or "reflect" (the official code's mirror image, which copies objects near
    # the edge; recipes from before this option get it, so they still reproduce).
    motion_fill: str = "noise"
    t_restart: int | None = None  # T: where every frame restarts (a timestep); None: the model's, else 941
    t_warp: int | None = None  # T': where the anchor is warped; None: the model's, else 881
    chunk_size: int = 8  # frames per UNet call; 0 = all at once
    cross_frame_attention: bool = True
    attention_window: int = 0  # also attend to this many earlier frames (1: sparse-causal); 0: the paper
    noise_window: int = 0  # FreeNoise-style: frames past this window reuse its noise, shuffled; 0: off
    # Samplers that add noise at every step (euler-a, lcm, tcd): "shared", every frame draws its
    # anchor's step noise (step_noise.py), or "frame", each its own (recipes from before the
    # option). None: shared for generation, frame for the editing modes (their recipes' own).
    step_noise: str | None = None
    # How fast, and at what cost: a lossless level ("auto", "exact", "compiled": the same pixels
    # to float rounding) or a fast mode that changes pixels: "cache" reuses the UNet's deep
    # features across steps (feature_cache.py, DeepCache), "merge" merges similar tokens across
    # frames in cross-frame attention (token_merge.py), "cache+merge" both
    speed: str = "auto"
    smooth: float = DEFAULT_SMOOTH  # flow-guided smoothing of the decoded frames, 0 (off) to 1
    background_smoothing: float = 0.0  # paper section 3.3 strength (about 0.6 in the paper); 0: off
    subject: str | None = None  # words whose attention marks the foreground; None: guessed from the prompt
    # How background smoothing's foreground mask is made: "refined" (the subject words'
    # attention picks the object, the anchor's own predicted latent draws its outline) or
    # "attention" (the attention map alone, thresholded: all there was before the option).
    subject_mask: str = "refined"
    fps: float = 8.0
    # Flow interpolation of the decoded frames to this rate on export (engine/interpolate.py):
    # N frames at `fps` become the pictures at every 1 / interpolate_fps s up to the last frame,
    # the originals in place. None: off (recipes from before the option).
    interpolate_fps: float | None = None
    scheduler: str | None = None  # None: the model's own (t2vz.json), else ddim; euler-a for instruction editing
    device: str = "auto"
    dtype: str = "auto"
    model_config: str | None = None  # configuration folder for a single-file checkpoint
    allow_unsafe_pickle: bool = False
    offload: bool = False  # model CPU offload, for small GPUs
    vae_tiling: bool = False
    prompt_keys: list[PromptKey] | None = None  # prompt travel; the first key is at frame 0
    prompt_blend: str = "slerp"  # how embeddings move between keys: linear | slerp
    camera: list[CameraKey] | None = None  # keyframed pan/zoom/rotation; replaces `motion` when given
    init_image: str | None = None  # image-to-video: frame 0 is this image
    end_image: str | None = None  # image-to-video: the last frame is this image (needs init_image)
    loras: list[LoraSpec] = field(default_factory=list)
    edit: EditSpec | None = None  # video-to-video; frames, size and fps then come from the source
    extra: dict = field(default_factory=dict)  # free-form notes kept in the recipe
    # One video per seed for each prompt (the app's takes, `--seeds 3,7,11`): video r of a prompt
    # uses seeds[r] instead of seed + r. None: seed + r. Each video's own re-make recipe has
    # seeds None and its seed in `seed` (GenerationResult.video_recipe), so recipes from before
    # the field, which lack it, and recipes of single takes read the same.
    seeds: list[int] | None = None

    @property
    def fast_modes(self) -> tuple[str, ...]:
        """The fast modes `speed` turns on ("cache", "merge"); none at a lossless level."""
        return () if self.speed in LOSSLESS_SPEEDS else tuple(self.speed.split("+"))

    def video_seeds(self) -> list[int]:
        """The seed of each video of one prompt, in order (needs a resolved `seed`)."""
        return list(self.seeds) if self.seeds else [self.seed + r for r in range(self.videos_per_prompt)]

    def validate(self) -> "GenerationRequest":
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise RequestError(message)

        need(isinstance(self.prompts, list) and len(self.prompts) > 0, "give at least one prompt")
        need(all(isinstance(p, str) and p.strip() for p in self.prompts), "prompts must be non-empty text")
        need(1 <= self.frames <= 100_000, f"--frames must be between 1 and 100000 (got {self.frames})")
        for name in ("width", "height"):
            v = getattr(self, name)
            need(v is None or (16 <= v <= 4096 and v % 8 == 0), f"--{name} must be a multiple of 8 from 16 to 4096 (got {v})")
        need(self.steps is None or 1 <= self.steps <= 1000, f"--steps must be between 1 and 1000 (got {self.steps})")
        need(self.guidance is None or 0 <= self.guidance <= 50, f"--guidance must be between 0 and 50 (got {self.guidance})")
        need(self.seed is None or 0 <= self.seed < 2**63, f"--seed must be between 0 and 2^63-1 (got {self.seed})")
        need(1 <= self.videos_per_prompt <= 64, f"videos per prompt must be between 1 and 64 (got {self.videos_per_prompt})")
        if self.seeds is not None:
            check_seeds(self.seeds)
            need(self.videos_per_prompt == len(self.seeds),
                 f"seeds make one video each: videos per prompt must be {len(self.seeds)} (got {self.videos_per_prompt})")
            need(self.seed is None or self.seed == self.seeds[0],
                 f"give either a seed or a list of seeds (got seed {self.seed} and seeds starting {self.seeds[0]})")
        if self.motion is not None:
            need(len(self.motion) == 2 and all(abs(float(v)) <= 512 for v in self.motion),
                 f"--motion takes DX DY in pixels per frame, each within +-512 (got {self.motion})")
        if self.t_restart is not None and self.t_warp is not None:
            need(0 < self.t_warp < self.t_restart < 1000,
                 f"timesteps need 0 < T' < T < 1000 (got T={self.t_restart}, T'={self.t_warp})")
        for name in ("t_restart", "t_warp"):
            v = getattr(self, name)
            need(v is None or 0 < v < 1000, f"--{name.replace('_', '-')} must be a timestep from 1 to 999 (got {v})")
        need(0 <= self.chunk_size <= 100_000, f"--chunk-size must be 0 (all frames) or more (got {self.chunk_size})")
        need(0 < self.fps <= MAX_FPS, f"--fps must be above 0 and at most {MAX_FPS:g} (got {self.fps})")
        need(self.interpolate_fps is None or 0 < self.interpolate_fps <= MAX_FPS,
             f"--interpolate must be above 0 and at most {MAX_FPS:g} fps (got {self.interpolate_fps})")
        need(0 <= self.attention_window <= 16, f"--attention-window must be between 0 and 16 (got {self.attention_window})")
        need(0 <= self.noise_window <= 1000, f"--noise-window must be 0 (off) or more (got {self.noise_window})")
        need(self.speed in SPEEDS, f"--speed must be one of {', '.join(SPEEDS)} (got {self.speed!r})")
        need("cache" not in self.fast_modes or self.background_smoothing == 0,
             f"--speed {self.speed} does not combine with --background-smoothing (it reads attention maps "
             "from deep layers that a cached step skips)")
        if "merge" in self.fast_modes:
            given = [flag for flag, on in (("--no-cross-frame", not self.cross_frame_attention),
                                           (f"--attention-window {self.attention_window}", self.attention_window),
                                           ("prompt keys (--prompt-at)", self.prompt_keys is not None),
                                           ("an end image (--end-image)", self.end_image is not None)) if on]
            need(not given, f"--speed {self.speed} merges tokens in the anchor-only cross-frame attention, which "
                            f"{' and '.join(given)} {'changes' if len(given) == 1 else 'change'}: drop "
                            f"{'it' if len(given) == 1 else 'them'} or use "
                            "--speed cache")
        need(0 <= self.smooth <= 1, f"--smooth must be between 0 and 1 (got {self.smooth})")
        need(0 <= self.background_smoothing <= 1,
             f"--background-smoothing must be between 0 and 1 (got {self.background_smoothing})")
        need(self.scheduler is None or self.scheduler in SCHEDULERS,
             f"--scheduler must be one of {', '.join(SCHEDULERS)} (got {self.scheduler!r}); leave it out for the "
             "model's own")
        need(self.step_noise is None or self.step_noise in STEP_NOISE,
             f"--step-noise must be {' or '.join(STEP_NOISE)} (got {self.step_noise!r})")
        need(self.dtype in ("auto", "fp32", "fp16", "bf16"), f"--dtype must be auto, fp32, fp16 or bf16 (got {self.dtype})")
        if self.prompt_keys is not None:
            keys = self.prompt_keys
            need(len(keys) >= 1 and keys[0].frame == 0, "prompt travel needs a key at frame 0")
            need(all(a.frame < b.frame for a, b in zip(keys, keys[1:])), "prompt keys must be in frame order, one per frame")
            need(keys[-1].frame < self.frames or self.edit is not None,
                 f"prompt key at frame {keys[-1].frame} is past the last frame ({self.frames - 1})")
            need(all(k.prompt.strip() for k in keys), "every prompt key needs a prompt")
            need(self.prompt_blend in ("linear", "slerp"), f"prompt blend must be linear or slerp (got {self.prompt_blend})")
            need(len(self.prompts) == 1, "prompt travel makes one video per seed: give the prompts as keys only")
            need(self.attention_window == 0 and self.background_smoothing == 0 and self.init_image is None
                 and self.edit is None,
                 "prompt travel does not combine with --attention-window, --background-smoothing, --image or edits yet")
        if self.end_image is not None:
            need(self.init_image is not None, "an end image needs a start image (--image)")
            need(self.frames >= 3, "a video with an end image needs at least 3 frames")
            need(self.prompt_keys is None and self.attention_window == 0 and self.background_smoothing == 0
                 and self.edit is None,
                 "an end image does not combine with prompt keys, --attention-window, --background-smoothing or edits yet")
        need(self.motion_fill in ("noise", "reflect"), f"--motion-fill must be noise or reflect (got {self.motion_fill})")
        need(self.subject_mask in ("refined", "attention"),
             f"--subject-mask must be refined or attention (got {self.subject_mask})")
        if self.camera is not None:
            need(len(self.camera) > 0, "a camera path needs at least one key")
            frames_seen = [k.frame for k in self.camera]
            need(len(set(frames_seen)) == len(frames_seen), f"two camera keys on one frame ({frames_seen})")
            for k in self.camera:
                numbers = (*k.pan, k.zoom, k.rotate)
                need(all(math.isfinite(float(v)) for v in numbers),
                     f"camera key at frame {k.frame}: pan, zoom and rotate must be finite numbers (got {numbers})")
                need(k.frame >= 0 and 0.05 <= k.zoom <= 20 and k.ease in ("linear", "ease") and abs(k.rotate) <= 3600
                     and all(abs(float(p)) <= 100_000 for p in k.pan),
                     f"camera key at frame {k.frame}: frame >= 0, zoom 0.05-20, rotate within +-3600 degrees, "
                     "pan within +-100000 px, ease linear|ease")
        for lora in self.loras:
            need(-5 <= lora.scale <= 5, f"LoRA scale must be between -5 and 5 (got {lora.scale})")
        if self.edit is not None:
            self.edit.validate()
        return self

    def mode_defaults(self) -> dict:
        """Settings an editing mode fixes over the model's own (none for generation)."""
        if self.edit is None:
            return {}
        return INSTRUCT_DEFAULTS if self.edit.instruct else CONTROL_DEFAULTS

    def resolve(self, model_defaults: dict, native_size: int) -> "GenerationRequest":
        """Fill every None from the model's defaults, so the result is a complete recipe."""
        d = {**SD_DEFAULTS, **model_defaults, **self.mode_defaults()}
        if model_defaults.get("scheduler") in FEW_STEP_SCHEDULERS:  # an LCM edits its own way too
            d.update({k: model_defaults[k] for k in ("scheduler", "steps", "guidance") if k in model_defaults})
        width = self.width or int(d.get("width", native_size))
        height = self.height or int(d.get("height", native_size))
        return replace(
            self,
            width=width,
            height=height,
            steps=self.steps or int(d["steps"]),
            guidance=float(d["guidance"] if self.guidance is None else self.guidance),
            seed=(self.seeds[0] if self.seeds else random.SystemRandom().randrange(2**31)) if self.seed is None
            else self.seed,
            motion=tuple(self.motion) if self.motion is not None else default_motion(width, height),
            scheduler=self.scheduler or d["scheduler"],
            step_noise=self.step_noise or d.get("step_noise", "shared"),
            t_restart=int(d["t_restart"] if self.t_restart is None else self.t_restart),
            t_warp=int(d["t_warp"] if self.t_warp is None else self.t_warp),
        ).validate()

    def to_json(self) -> str:
        # The engine version travels with the recipe. Every option added later defaults to the
        # behaviour before it existed, so an old recipe, which lacks it, still makes its video.
        # Consent fields stay out: a recipe says what to make, not what its reader allows.
        from .. import __version__

        data = {k: v for k, v in asdict(self).items() if k not in CONSENT_FIELDS}
        return json.dumps({"t2vz_recipe": RECIPE_VERSION, "engine_version": __version__, **data}, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "the recipe",
                  warn: Callable[[str], None] | None = None) -> "GenerationRequest":
        """A request from recipe JSON written by anyone: a RequestError naming `source` and the
        field for anything malformed (wrong kind, NaN, out of range, unknown field, unknown
        version). Consent fields (CONSENT_FIELDS) are dropped: one that a recipe turns on is
        reported through `warn` and is NOT granted; the user gives it with the flag or a dialog."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise RequestError(f"{source} is not valid JSON ({e})") from e
        except RecursionError as e:
            raise RequestError(f"{source} is nested too deeply to be a recipe") from e
        if not isinstance(data, dict) or "t2vz_recipe" not in data:
            raise RequestError(f"{source} is not a t2vz recipe (no 't2vz_recipe' key)")
        version = data.pop("t2vz_recipe")
        if type(version) is not int or not 1 <= version <= RECIPE_VERSION:
            raise RequestError(f"{source}: t2vz_recipe {_shown(version)} is not a recipe version this "
                               f"t2vz-desktop reads (1 to {RECIPE_VERSION}); a newer release may read it")
        data.pop("engine_version", None)
        for name in sorted(CONSENT_FIELDS & set(data)):
            if data.pop(name) and warn is not None:
                flag = "--" + name.replace("_", "-")
                warn(f"{source} asks to {CONSENT_WARNINGS.get(name, name)}; ignored - pass {flag} yourself "
                     "if you trust it")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RequestError(f"{source} has unknown field(s): {', '.join(unknown)}")
        if "prompts" not in data:
            raise RequestError(f"{source} has no prompts")
        data.setdefault("motion_fill", "reflect")  # the only behaviour before the option existed
        data.setdefault("subject_mask", "attention")  # likewise
        data.setdefault("smooth", 0.0)  # likewise: no smoothing before the option, off by default until 0.2.0
        data.setdefault("step_noise", "frame")  # likewise: each frame's own step noise before the option
        if isinstance(data.get("edit"), dict):
            data["edit"].setdefault("flow_guidance", 0.0)  # likewise: off before the option, on by default since 0.3.0
        try:
            return from_data(cls, data).validate()
        except FieldError as e:
            raise RequestError(f"{source}: {e}") from e
        except RequestError as e:
            raise RequestError(f"{source}: {in_file_terms(str(e))}") from e


# What each consent field would allow, in the warning when a file asks for it.
CONSENT_WARNINGS = {"allow_unsafe_pickle": "allow pickle checkpoints (which can run any code)"}
