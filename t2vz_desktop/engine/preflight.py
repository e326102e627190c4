"""Pre-flight: every check of a request that needs no model, in one place, run before any load.

A wrong flag or a missing file should be refused in a moment, not after a 20-40 s model load.
`preflight` touches files (probes videos and images, reads checkpoint headers), asks torch
which devices exist and looks names up in the local Hugging Face cache; it never loads
weights. The CLI, `run_generation` and the app call the same function, so a check lives here
once.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from ..media import MediaError, check_audio, check_target, export_format, refuse_overwriting_inputs, refuse_sharing_a_recipe
from .control import check_controlnet_fits, is_demo_model, mode_controlnet
from .interpolate import output_times
from .model_settings import model_defaults
from .models import ModelError, check_model, json_object, pick_device, pick_dtype
from .request import INSTRUCT_MODEL, NOISY_SCHEDULERS, GenerationRequest, RequestError


def output_paths(out: Path, videos: int, fmt: str) -> list[Path]:
    """One path per video: `out` itself for one video, else numbered siblings (clip-01.mp4, ...)."""
    if videos == 1:
        return [out]
    suffix = "" if fmt == "png" else out.suffix
    stem = out.name[: len(out.name) - len(suffix)] if suffix else out.name.rstrip("/")
    return [out.with_name(f"{stem}-{i + 1:02d}{suffix}") for i in range(videos)]


def preflight(request: GenerationRequest, out: str | Path | None = None, fmt: str | None = None,
              inputs: list[tuple[str, str | Path | None]] = ()) -> list[str]:
    """Check `request` (and the output target `out`, if given) without loading any model.

    Returns warnings for settings that work but are probably not meant (fp16 on the CPU,
    --offload without a GPU); raises RequestError or ModelError (messages for the user) for
    anything that cannot work: a value out of range, a device that is not there, a missing or
    unreadable model, image, LoRA, source or condition video, a ControlNet not in the cache,
    an output that cannot be written or would overwrite one of the request's files or `inputs`
    (what the caller read besides, such as the recipe: ("the recipe", path) pairs).
    """
    request.validate()
    if out is not None:  # first: nothing else matters if writing would destroy an input
        try:
            fmt = export_format(out, fmt)
            paths = output_paths(Path(out), len(request.prompts) * request.videos_per_prompt, fmt)
            written = [(what, p) for path in paths for what, p in
                       (("--out", path), ("its recipe", None if fmt == "png" else path.with_suffix(".json")))]
            refuse_overwriting_inputs(written, [*request_inputs(request), *inputs])
            for path in paths:
                refuse_sharing_a_recipe(path, fmt)
        except ValueError as e:
            raise RequestError(str(e)) from e
    instruct = request.edit is not None and request.edit.instruct
    try:
        source = check_model(request.model, request.allow_unsafe_pickle, request.model_config)
    except ModelError as e:
        if instruct and request.model == INSTRUCT_MODEL:  # the generic advice (--model demo) cannot edit
            raise ModelError(f"--mode pix2pix needs the Instruct-Pix2Pix model '{INSTRUCT_MODEL}' in the local "
                             f"Hugging Face cache: fetch it with `t2vz models download {INSTRUCT_MODEL}`, or pass another "
                             "Instruct-Pix2Pix model with --model") from e
        raise
    if instruct and source.path is not None and source.path.is_dir():
        _check_instruct_unet(source.path, request.model)
    warnings = _device_warnings(request) + _option_warnings(request) + _schedule_warnings(request, source)
    for image in (request.init_image, request.end_image):
        if image is not None:
            _check_image(image)
    text_width = _model_text_width(request) if request.loras else None
    for lora in request.loras:
        file = Path(lora.path).expanduser()
        if not file.is_file():
            raise ModelError(f"LoRA file {lora.path} does not exist")
        if file.suffix.lower() != ".safetensors":
            raise ModelError(f"LoRA '{lora.path}' is not a .safetensors file")
        _check_lora_fits(file, text_width)
    if request.loras and importlib.util.find_spec("peft") is None:
        raise ModelError("LoRA files need the 'peft' package: pip install peft")
    fps = _check_edit(request) if request.edit is not None else request.fps
    if request.interpolate_fps is not None:
        if abs(request.interpolate_fps - fps) < 1e-9:
            raise RequestError(f"--interpolate {request.interpolate_fps:g} is the video's own rate: nothing to "
                               f"interpolate (give a higher rate, e.g. {next((r for r in (24, 30, 60, 120) if r > fps), 2 * fps):g}, "
                               "or drop it)")
        try:
            output_times(1, fps, request.interpolate_fps)
        except ValueError as e:
            raise RequestError(f"--interpolate: {e}") from e
    if out is not None:
        try:
            for path in paths:
                check_target(path, fmt)
        except (ValueError, OSError) as e:
            raise RequestError(str(e)) from e
    return warnings


def request_inputs(request: GenerationRequest) -> list[tuple[str, str | None]]:
    """Every file a request reads, as (what, path) pairs (refuse_overwriting_inputs)."""
    files = [("the start image", request.init_image), ("the end image", request.end_image),
             *(("the LoRA", lora.path) for lora in request.loras)]
    if Path(request.model).expanduser().is_file():
        files.append(("the model", request.model))
    if request.edit is not None:
        files.append(("the source video", request.edit.source))
        files += [("the condition video", c.condition) for c in request.edit.controls]
    return files


def _option_warnings(request: GenerationRequest) -> list[str]:
    """Options that are accepted but change nothing as given: said, not silently ignored."""
    warnings = []
    keys = sorted(request.camera or [], key=lambda k: k.frame)
    if len(keys) == 1:
        warnings.append(f"one camera key (frame {keys[0].frame}) holds the camera still: the path is relative "
                        "to frame 0, so add a second key, e.g. --camera 0 --camera 7:zoom=1.5")
    if len(keys) > 1 and keys[-1].ease != "linear":
        warnings.append(f"ease={keys[-1].ease} on the last camera key (frame {keys[-1].frame}) does nothing: a key's "
                        f"ease shapes the move from it to the next key, e.g. --camera 0:ease=ease --camera "
                        f"{keys[-1].frame}:zoom=1.5")
    return warnings


def lora_text_width(path: Path) -> int | None:
    """The text width a LoRA's cross-attention keys read (768 SD 1.x, 1024 SD 2.x, 2048 SDXL),
    from the input width of its first cross-attention to_k down-projection, read from the file's
    header (diffusers/PEFT "lora_A", kohya "lora_down" names); None where it has none or the file
    cannot be read (the load says why)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                k = key.replace("_", ".")
                if "attn2" in k and "to.k" in k and any(d in k for d in ("lora.A", "lora.down")):
                    return int(f.get_slice(key).get_shape()[1])
    except Exception:  # safetensors raises its own error types for damaged files  # noqa: BLE001
        return None
    return None


def _model_text_width(request: GenerationRequest) -> int | None:
    """The text width the model's cross-attention reads (its UNet configuration, read once for
    every LoRA), None where it cannot be read here."""
    from .control import base_unet_config

    unet = base_unet_config(request.model, request.model_config, request.allow_unsafe_pickle)
    wanted = None if unet is None else unet.get("cross_attention_dim")
    return wanted if isinstance(wanted, int) else None


def _check_lora_fits(file: Path, wanted: int | None) -> None:
    """A LoRA made for another model family, refused before the load (an SD 1.x LoRA on SDXL
    failed after loading with diffusers' size-mismatch dump of every layer)."""
    width = lora_text_width(file)
    if width is not None and wanted is not None and width != wanted:
        families = {768: "SD 1.x", 1024: "SD 2.x", 2048: "SDXL"}
        made = families.get(width, f"a model with {width}-wide text")
        raise ModelError(f"LoRA {file.name} is made for {made} (its cross-attention reads {width}-wide text); the model "
                         f"reads {wanted}-wide text ({families.get(wanted, 'another family')}): choose a LoRA made for it")


def _schedule_warnings(request: GenerationRequest, source) -> list[str]:
    """One step on a zero-terminal-SNR model (the demo model; Lin et al. 2023): its only step is t
    999, pure noise, where the motion field has nothing to move (noise_schedule.motion_steps)."""
    folder = source.folder
    if folder is None or request.edit is not None or request.frames < 2:
        return []
    if request.resolve(model_defaults(request.model), native_size=512).steps != 1:
        return []
    schedule = json_object(folder / "scheduler" / "scheduler_config.json", "the scheduler's configuration")
    if not schedule.get("rescale_betas_zero_snr"):
        return []
    return ["--steps 1 on this model: its one step starts from pure noise (zero terminal SNR), where the motion "
            "field has nothing to move, so the frames do not follow the motion or a start image; use --steps 2 or more"]


def step_noise_warning(request: GenerationRequest) -> str | None:
    """The warning for a step noise asked of a sampler that draws none (DDIM, DPM-Solver++), else
    None. For a flag the user typed: recipes and the app always carry a step noise, and with a
    deterministic sampler it is rightly moot. Reads the model's t2vz.json (its sampler), so call it
    after `preflight` has checked the model."""
    if request.step_noise is None:
        return None
    check_model(request.model, request.allow_unsafe_pickle, request.model_config)
    sampler = request.resolve(model_defaults(request.model), native_size=512).scheduler
    if sampler in NOISY_SCHEDULERS:
        return None
    return (f"--step-noise {request.step_noise} changes nothing with the {sampler} sampler: it adds no noise at a "
            f"step ({', '.join(NOISY_SCHEDULERS)} do)")


def _device_warnings(request: GenerationRequest) -> list[str]:
    device = pick_device(request.device)
    pick_dtype(request.dtype, device)
    warnings = []
    # A warning, not a refusal: fp16 does run on the CPU (in half the memory), and a recipe made
    # on a GPU with --dtype fp16 must still re-make its video on a machine without one.
    if device.type != "cuda" and request.speed == "compiled":
        warnings.append(f"--speed compiled on the {device.type.upper()}: "
                        "compiling a model takes minutes the first time and its kernels gained nothing measurable "
                        "here (a warm launch still reloads them); --speed auto runs exact, which is faster")
    if device.type == "cpu" and request.dtype == "fp16":
        warnings.append("--dtype fp16 on the CPU runs about 3x slower than fp32 (the CPU has no fast "
                        "half-precision kernels); use --dtype fp32 or auto unless memory is short")
    if request.offload and device.type != "cuda":
        warnings.append(f"--offload only works with a CUDA GPU; ignored on {device.type}")
    return warnings


def _check_instruct_unet(folder: Path, name: str) -> None:
    """An instruction edit needs a UNet that also takes the source frame's latent (twice the
    latent channels, engine/edit.py); a text-to-image model (the demo, SD) takes the latent
    alone and would fail only after the load."""
    import json

    try:
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
        vae = json.loads((folder / "vae" / "config.json").read_text(encoding="utf-8"))
        channels, needed = unet["in_channels"], 2 * vae.get("latent_channels", 4)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return  # the loader names what is wrong with the folder
    if channels != needed:
        raise RequestError(f"--mode pix2pix needs an Instruct-Pix2Pix model; '{name}' is a text-to-image model "
                           f"({channels} UNet input channels, not {needed}): leave out --model to use "
                           f"{INSTRUCT_MODEL}, or use --mode {'canny' if is_demo_model(name) else 'canny|pose|depth'} "
                           "with it")


def _check_image(path: str) -> None:
    import cv2

    if not Path(path).is_file():
        raise RequestError(f"image {path} does not exist")
    if cv2.imread(str(path), cv2.IMREAD_COLOR) is None:
        raise RequestError(f"cannot read the image {path}")


def _check_edit(request: GenerationRequest) -> float:
    """Probe the source (and decode its chosen range) and each condition video (headers only), and
    check each ControlNet against the model. Returns the output's frame rate."""
    from ..conditions.source import MAX_FPS, SourceSpec, open_source

    e = request.edit
    spec = SourceSpec.of_edit(e, request.width, request.height)
    try:
        clip = open_source(spec)
        # Decode the chosen range now: a file whose header is whole but whose data is cut or
        # damaged was found only after the model had loaded (seconds of decoding against a
        # 20-40 s load; the frames are not kept).
        if e.fps is None and clip.fps > MAX_FPS:  # the output takes the source's rate
            raise RequestError(f"{e.source} plays at {clip.fps:g} fps, more than a video can be made at "
                               f"({MAX_FPS:g}): give --source-fps, e.g. 30")
        for _ in clip.iter_frames():  # MediaError where the pictures end early
            pass
        if e.keep_audio and clip.has_audio:
            check_audio(e.source)  # sound that cannot be kept fails now, not after the denoising
        for c in e.controls:
            if c.condition:
                ready = open_source(replace(spec, path=c.condition))
                if ready.frames != clip.frames:
                    raise RequestError(f"condition video {c.condition} has {ready.frames} frames in the chosen "
                                       f"range, the source has {clip.frames}")
    except (MediaError, ValueError) as err:
        if isinstance(err, RequestError):
            raise
        raise RequestError(str(err)) from err
    for c in e.controls:
        check_controlnet_fits(c.model or mode_controlnet(c.mode, request.model, request.model_config,
                                                         request.allow_unsafe_pickle),
                              request.model, request.model_config, request.allow_unsafe_pickle)
        if c.mode == "pose" and not c.condition and importlib.util.find_spec("mediapipe") is None:
            from ..conditions import MEDIAPIPE_INSTALL, is_condition_video

            if not is_condition_video("pose", clip):  # a skeleton video needs no detector
                raise RequestError(f"pose extraction needs MediaPipe; install it with: {MEDIAPIPE_INSTALL} "
                                   "(or give a skeleton video with --condition)")
    return clip.fps
