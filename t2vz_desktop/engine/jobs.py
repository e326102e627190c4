"""The job API: a GenerationRequest in, ProgressEvents out, a GenerationResult (or an error).

This is the one door into the engine for the CLI and the app. Events are plain data (numbers,
text, uint8 arrays), so a Qt worker can forward them as signals without touching torch.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..media import AudioClip, ExportOptions, ExportReport, check_target, export_format, write_export
from ..media.atomic import AtomicGroup
from .background import default_subject, subject_token_positions
from .between import dissolve_latents
from .cancel import Cancelled, CancelToken
from .chunks import Conditioning
from .control import load_controlnet
from .decode import ahead, decode_batch, iter_decoded
from .compiled import is_ready, optimise, prepare, set_compiled, usable_cache, wants_compile, warm_marker
from .feature_cache import DEFAULT_INTERVAL
from .token_merge import DEFAULT_RATIO
from .finite import NonFinite, dtype_name, fallback_dtype, finite_per_video
from .guided import open_clip, prepare_guided
from .flow_guidance import source_flow
from .interpolate import interpolate_frames, output_count
from .models import LoadedModel, dtype_flag, load_model, make_scheduler
from .motion import camera_matrices
from .preflight import output_paths, preflight
from .preview import PreviewMap, fit_preview_map, latents_to_rgb, scaled_latents
from .prompts import (
    EmbeddingCache, branch_guidance, encode_prompts, guidance_distilled, guidance_embedding, prompt_warnings,
    repeat_per_video, size_ids, travel_embeddings,
)
from .request import GenerationRequest, RequestError, first_line
from .sampler import StepState, VideoPlan, sample_video
from .smoother import smooth_frames

__all__ = [
    "Cancelled", "CancelToken", "GenerationRequest", "GenerationResult", "ModelCache",
    "ProgressEvent", "RequestError", "export_result", "output_paths", "preflight", "run_generation",
]


@dataclass
class ProgressEvent:
    # "status", "loaded" (device and model known), "warning", "optimise" (first-time compilation:
    # step of total blocks), "step" or "decode"
    kind: str
    message: str = ""
    step: int = 0
    total: int = 0
    timestep: int | None = None
    phase: str = ""
    preview: np.ndarray | None = None  # (videos * frames, h, w, 3) uint8, at latent resolution
    mask: np.ndarray | None = None  # background smoothing's foreground, (videos * frames, h, w) uint8 0-255
    elapsed_s: float = 0.0
    eta_s: float | None = None
    device: str = ""  # with "loaded": e.g. "cuda:0 (float16)"


EventSink = Callable[[ProgressEvent], None]


class ModelCache:
    """Loaded models kept between jobs, least recently used dropped first beyond `capacity`."""

    def __init__(self, capacity: int = 1):
        self.capacity = capacity
        self._models: OrderedDict[tuple, tuple[LoadedModel, PreviewMap]] = OrderedDict()
        self._nets: dict[tuple, torch.nn.Module] = {}

    def get(self, r: GenerationRequest) -> tuple[LoadedModel, PreviewMap]:
        loras = tuple((x.path, x.scale) for x in r.loras)
        key = (r.model, r.device, r.dtype, r.model_config, r.allow_unsafe_pickle, r.offload, r.vae_tiling, loras)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        while len(self._models) >= max(self.capacity, 1):
            self.evict_oldest()
        model = load_model(r.model, r.device, r.dtype, r.model_config, r.allow_unsafe_pickle, r.offload,
                           r.vae_tiling, loras)
        entry = (model, fit_preview_map(model.pipe.vae))
        self._models[key] = entry
        return entry

    def get_net(self, name: str, model: LoadedModel) -> torch.nn.Module:
        """A ControlNet for `model`'s device and dtype, kept beside the models."""
        key = ("controlnet", name, str(model.device), str(model.dtype))
        if key not in self._nets:
            self._nets[key] = load_controlnet(name, model.dtype, model.pipe._execution_device)
        return self._nets[key]

    def loaded(self) -> list[str]:
        """Names of the models held, least recently used first."""
        return [model.name for model, _ in self._models.values()]

    def evict_oldest(self) -> None:
        if self._models:
            self._models.popitem(last=False)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def clear(self) -> None:
        self._nets.clear()
        while self._models:
            self.evict_oldest()


@dataclass
class GenerationResult:
    recipe: GenerationRequest  # resolved: every value filled in
    latents: torch.Tensor  # (videos * frames, c, h, w), on the CPU
    model: LoadedModel
    seconds: float
    warnings: list[str]
    audio: AudioClip | None = None  # the source's sound, for edits that keep it
    remade: dict[int, LoadedModel] = field(default_factory=dict)  # videos made again in another precision


    @property
    def videos(self) -> int:
        return len(self.recipe.prompts) * self.recipe.videos_per_prompt

    def video_recipe(self, video: int) -> GenerationRequest:
        """A recipe that re-makes video `video` alone (batching does not change a video)."""
        one = one_video(self.recipe, video)
        if video in self.remade:
            one = replace(one, dtype=dtype_flag(self.remade[video].dtype))
        return one

    def frames(self, video: int = 0, batch: int | None = None) -> Iterator[np.ndarray]:
        """Decoded uint8 RGB frames of one video, streamed: `batch` frames in memory at a time
        (None: decode.decode_batch for the device)."""
        m, model = self.recipe.frames, self.remade.get(video, self.model)
        device = model.pipe._execution_device
        decoded = iter_decoded(model.pipe.vae, self.latents[video * m : (video + 1) * m],
                               batch or decode_batch(device), device)
        yield from smooth_frames(decoded, self.recipe.smooth)

    @property
    def output_fps(self) -> float:
        """The exported frame rate: the recipe's, or its interpolation rate."""
        return self.recipe.interpolate_fps or self.recipe.fps

    @property
    def output_frames(self) -> int:
        """Frames each exported video has (more than the recipe's when interpolated)."""
        if not self.recipe.interpolate_fps:
            return self.recipe.frames
        return output_count(self.recipe.frames, self.recipe.fps, self.recipe.interpolate_fps)

    def output(self, video: int = 0) -> Iterator[np.ndarray]:
        """The frames as exported: :meth:`frames`, interpolated to `output_fps` when asked."""
        if not self.recipe.interpolate_fps:
            return self.frames(video)
        pairs = interpolate_frames(self.frames(video), self.recipe.fps, self.recipe.interpolate_fps, self.recipe.frames)
        return (frame for frame, _ in pairs)


_DEFAULT_CACHE = ModelCache()


def one_video(recipe: GenerationRequest, video: int) -> GenerationRequest:
    """The recipe of video `video` (prompt-major, then seed) of a batch, made alone."""
    prompt, repeat = divmod(video, recipe.videos_per_prompt)
    return replace(recipe, prompts=[recipe.prompts[prompt]], seed=recipe.video_seeds()[repeat], videos_per_prompt=1,
                   seeds=None)


def text_tables(pipe, recipe: GenerationRequest, device, cache: EmbeddingCache | None = None) -> Conditioning:
    """Text embeddings per video, or per frame for prompt travel (`cache`: the model's own, kept
    between jobs), with SDXL's size conditioning for the recipe's frame size and a
    guidance-distilled model's guidance embedding."""
    model_inputs = {"time_ids": size_ids(pipe, recipe.height, recipe.width, device),
                    "guidance_embedding": guidance_embedding(pipe, recipe.guidance, device)}
    if recipe.prompt_keys:
        return replace(travel_text(pipe, recipe, device, cache), **model_inputs)
    instruct = recipe.edit is not None and recipe.edit.instruct
    text = encode_prompts(pipe, recipe.prompts, recipe.negative_prompt, branch_guidance(pipe, recipe.guidance), device,
                          image_guidance=recipe.edit.image_guidance if instruct else None, cache=cache)
    text = repeat_per_video(text, recipe.videos_per_prompt)
    if recipe.end_image is not None:  # two anchors per video: the loop reads text per frame
        text = repeat_per_video(text, recipe.frames)
    return replace(text, **model_inputs)


def travel_text(pipe, recipe: GenerationRequest, device, cache: EmbeddingCache | None = None) -> Conditioning:
    """Per-frame text tables for prompt travel, for every video (prompt travel has one prompt
    list, so the videos differ by seed only)."""
    keys = recipe.prompt_keys
    keyed = encode_prompts(pipe, [k.prompt for k in keys], recipe.negative_prompt,
                           branch_guidance(pipe, recipe.guidance), device, cache=cache)
    frames = [k.frame for k in keys]
    cond = travel_embeddings(keyed.cond, frames, recipe.frames, recipe.prompt_blend)
    uncond = None if keyed.uncond is None else keyed.uncond[:1].expand(recipe.frames, -1, -1)
    pooled, pooled_uncond = None, None
    if keyed.pooled is not None:  # SDXL: the pooled text travels with the tokens, one "token" each
        pooled = travel_embeddings(keyed.pooled[:, None], frames, recipe.frames, recipe.prompt_blend)[:, 0]
        pooled_uncond = None if keyed.pooled_uncond is None else keyed.pooled_uncond[:1].expand(recipe.frames, -1)
    videos = recipe.videos_per_prompt

    def per_video(x):
        return None if x is None else x.repeat(videos, *([1] * (x.dim() - 1)))

    return Conditioning(cond=per_video(cond), guidance=keyed.guidance, uncond=per_video(uncond),
                        pooled=per_video(pooled), pooled_uncond=per_video(pooled_uncond))


def image_pixels(recipe: GenerationRequest, path: str) -> torch.Tensor:
    """An image file cropped to the video's size, in [-1, 1].  # (1, 3, height, width)"""
    import cv2

    from ..conditions.source import fit_frame

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise RequestError(f"cannot read the image {path}")
    rgb = fit_frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), recipe.width, recipe.height, "crop")
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1


def image_latent(vae, pixels: torch.Tensor, device) -> torch.Tensor:
    """An image from `image_pixels` as a scaled latent.  # (c, h, w)"""
    with torch.no_grad():
        return scaled_latents(vae, pixels.to(device, vae.dtype))[0].float()


def end_image_dissolve(vae, recipe: GenerationRequest, images: torch.Tensor, device,
                       latent_size) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every frame's start between the start and end images (2, 3, H, W) (between.py), in latent units."""
    camera = None if recipe.camera is None else camera_matrices(recipe.camera, recipe.frames, 1)
    batch = recipe.chunk_size or recipe.frames
    return dissolve_latents(vae, images.to(device), recipe.frames, recipe.motion, camera, recipe.motion_fill,
                            latent_size, batch)


def subject_tokens(tokenizer, recipe: GenerationRequest) -> list[list[int]]:
    """Per video, where the subject's words sit in its prompt (for background smoothing)."""
    per_prompt = []
    for prompt in recipe.prompts:
        words = recipe.subject.split() if recipe.subject else default_subject(prompt)
        positions = subject_token_positions(tokenizer, prompt, words)
        if not positions:
            raise RequestError(f"none of the subject words {words} is in the prompt '{prompt}'")
        per_prompt.append(positions)
    return [p for p in per_prompt for _ in range(recipe.videos_per_prompt)]


def video_plan(recipe: GenerationRequest, model: LoadedModel, device, guided: bool = False) -> VideoPlan:
    """The sampler's plan for a resolved recipe, in latent units (guided: a video-to-video edit)."""
    pipe = model.pipe
    factor = model.vae_scale_factor
    dx, dy = recipe.motion
    keys, key_seeds = (0,), (None,)
    if recipe.prompt_keys:
        keys, key_seeds = tuple(k.frame for k in recipe.prompt_keys), tuple(k.seed for k in recipe.prompt_keys)
    elif recipe.end_image is not None:  # the end image is the last frame's anchor
        keys, key_seeds = (0, recipe.frames - 1), (None, None)
    latent_size = (recipe.height // factor, recipe.width // factor)
    # Each image file is read once: pinned as an anchor, and (both) dissolved for the frames between.
    start, end = (None if path is None else image_pixels(recipe, path) for path in (recipe.init_image, recipe.end_image))
    between, between_in_view = None, None
    if end is not None:
        between, between_in_view = end_image_dissolve(pipe.vae, recipe, torch.cat([start, end]), device, latent_size)
    return VideoPlan(
        frames=recipe.frames,
        seeds=[s for _ in recipe.prompts for s in recipe.video_seeds()],
        latent_size=latent_size,
        steps=recipe.steps,
        shift_per_frame=(dx / factor, dy / factor),
        t_restart=recipe.t_restart,
        t_warp=recipe.t_warp,
        chunk_size=recipe.chunk_size,
        cross_frame=recipe.cross_frame_attention,
        attention_window=recipe.attention_window,
        noise_window=recipe.noise_window,
        camera=None if recipe.camera is None else camera_matrices(recipe.camera, recipe.frames, factor),
        fill=recipe.motion_fill,
        init_image=None if start is None else image_latent(pipe.vae, start, device),
        end_image=None if end is None else image_latent(pipe.vae, end, device),
        between=between,
        between_in_view=between_in_view,
        keys=keys,
        key_seeds=key_seeds,
        background=recipe.background_smoothing,
        subject_tokens=subject_tokens(pipe.tokenizer, recipe) if recipe.background_smoothing else None,
        subject_mask=recipe.subject_mask,
        subject_layers=tuple(model.defaults["subject_layers"]) if model.defaults.get("subject_layers") else None,
        init="shared" if guided and not recipe.edit.motion_field else "motion",
        feature_cache=DEFAULT_INTERVAL if "cache" in recipe.fast_modes else 0,
        token_merge=DEFAULT_RATIO if "merge" in recipe.fast_modes else 0.0,
        shared_step_noise=recipe.step_noise == "shared",
    )


def run_generation(
    request: GenerationRequest,
    on_event: EventSink | None = None,
    cancel: CancelToken | None = None,
    cache: ModelCache | None = None,
    previews: bool = True,
    checked: bool = False,
    cluster: str | None = None,
) -> GenerationResult:
    """Load (or reuse) the model, denoise every frame, and return the latents with the recipe.
    Step events carry a preview image (and background smoothing's mask) unless `previews` is
    off; without `on_event` the loop makes no step events at all. `checked`: the caller has run
    `preflight` on this request and said its warnings (the CLI does, to check the output too), so
    it is not run again (for an edit it decodes the source's range). `cluster`: "auto" or a Ray
    head's HOST:PORT to denoise on (farm.py); the result is the same kind, decoded here.

    A video whose latents overflow (NaN or inf, finite.py) is made again in bfloat16 where the
    GPU has it, else float32, with one warning; its recipe then names that precision. Raises
    NonFinite when float32 overflows too: never a black video.
    """
    emit = on_event or (lambda e: None)
    cache = cache or _DEFAULT_CACHE
    started = time.perf_counter()
    make = _generate
    if cluster is not None:
        from .farm_driver import render_on_cluster

        make = partial(render_on_cluster, address=cluster)
    try:
        result = make(request, emit, on_event is not None, cancel, cache, previews, checked)
    except NonFinite as e:  # every video broke: the loop stopped early
        lower = _fallback(e, e.dtype, e.device)
        emit(ProgressEvent("warning", f"{e}; making it again in {dtype_name(lower)}"))
        again = run_generation(replace(request, dtype=dtype_flag(lower)), on_event, cancel, cache, previews,
                               checked=True, cluster=cluster)
        again.seconds = time.perf_counter() - started  # the overflowed try counts too
        return again
    model = result.model
    broken = [v for v, ok in enumerate(finite_per_video(result.latents, result.videos).tolist()) if not ok]
    for v in broken:
        e = NonFinite(f"video {v + 1} of {result.videos}: the model's output overflowed (NaN or inf) in "
                      f"{dtype_name(model.dtype)}")
        lower = _fallback(e, model.dtype, model.device)
        emit(ProgressEvent("warning", f"{e}; making it again in {dtype_name(lower)}"))
        again = run_generation(replace(result.video_recipe(v), dtype=dtype_flag(lower)), on_event, cancel, cache,
                               previews, checked=True, cluster=cluster)
        m = result.recipe.frames
        result.latents[v * m : (v + 1) * m] = again.latents
        result.remade[v] = again.model
    if broken:  # the re-made videos count too
        result.seconds = time.perf_counter() - started
    return result


def _fallback(e: NonFinite, dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The precision to make an overflowed video again in; NonFinite when it overflowed in float32."""
    lower = fallback_dtype(dtype, device)
    if lower is None:
        raise NonFinite(f"{e}, the highest precision t2vz runs in: the model's weights give NaN (a broken or mismatched"
                        " checkpoint?)")
    return lower


def load_job_model(request: GenerationRequest, emit: EventSink, cache: ModelCache,
                   checked: bool) -> tuple[LoadedModel, PreviewMap]:
    """Pre-flight (unless `checked`), then load or reuse the model, saying which and where."""
    # Every check that needs no model comes first, and nothing is said before it passes, so a bad
    # input is one error line and no status lines.
    for w in [] if checked else preflight(request):
        emit(ProgressEvent("warning", w))
    emit(ProgressEvent("status", f"loading model {request.model}"))
    model, preview = cache.get(request)
    emit(ProgressEvent("loaded", model.name, device=f"{model.pipe._execution_device} ({dtype_name(model.dtype)})"))
    if model.vae_note:
        emit(ProgressEvent("status", model.vae_note))
    return model, preview


def resolve_job(request: GenerationRequest, model: LoadedModel, emit: EventSink):
    """The recipe with every value filled in (an edit's frames, size and fps from its source),
    and the source clip and its spec for an edit (else None, None). Says the prompts' warnings,
    which it returns too."""
    clip = spec = None
    if request.edit is not None:
        clip, spec = open_clip(request, model.native_size)
        emit(ProgressEvent("status", f"source: {clip.frames} frames of {clip.path.name} at {clip.size[0]}x{clip.size[1]}"))
        request = replace(request, frames=clip.frames, width=clip.size[0], height=clip.size[1], fps=clip.fps)
    recipe = request.resolve(model.defaults, model.native_size)
    factor = model.vae_scale_factor
    if recipe.width % factor or recipe.height % factor:
        raise RequestError(f"width and height must be multiples of {factor} for this model")
    prompts = [k.prompt for k in recipe.prompt_keys] if recipe.prompt_keys else recipe.prompts
    warnings = [w for p in prompts for w in prompt_warnings(model.pipe.tokenizer, p)]
    if recipe.negative_prompt and guidance_distilled(model.pipe):
        warnings.append("this model is guidance-distilled (an LCM): it takes --guidance as an embedding and "
                        "reads no negative prompt, so --negative is ignored")
    for w in warnings:
        emit(ProgressEvent("warning", w))
    return recipe, clip, spec, warnings


def _generate(request: GenerationRequest, emit: EventSink, stepped: bool, cancel: CancelToken | None,
              cache: ModelCache, previews: bool, checked: bool) -> GenerationResult:
    started = time.perf_counter()
    model, preview = load_job_model(request, emit, cache, checked)
    pipe = model.pipe
    recipe, clip, spec, warnings = resolve_job(request, model, emit)
    guided = None
    if recipe.edit is not None:
        emit(ProgressEvent("status", "preparing the source"))
        guided = prepare_guided(recipe, model, clip, spec, lambda name: cache.get_net(name, model))
    device = pipe._execution_device
    text = text_tables(pipe, recipe, device, model.embeddings)
    plan = video_plan(recipe, model, device, guided is not None)
    if recipe.edit is not None and recipe.edit.flow_guidance > 0:
        emit(ProgressEvent("status", "measuring the source's motion"))
        flow = source_flow(clip.iter_frames(), plan.latent_size)
        plan = replace(plan, source_flow=flow, flow_guidance=recipe.edit.flow_guidance)
    scheduler = make_scheduler(recipe.scheduler, pipe.scheduler.config)
    compiled = ready_unet(model, recipe.speed, plan.latent_size, emit, cancel)
    loop_started = time.perf_counter()

    def on_step(s: StepState) -> None:
        elapsed = time.perf_counter() - loop_started
        emit(ProgressEvent(
            "step", step=s.step, total=s.total, timestep=s.timestep, phase=s.phase,
            preview=None if s.denoised is None else latents_to_rgb(s.denoised, preview), elapsed_s=elapsed,
            mask=None if s.subject_mask is None else (s.subject_mask[:, 0] * 255).round().byte().cpu().numpy(),
            eta_s=elapsed / s.step * (s.total - s.step),
        ))

    how = [w for w, on in (("compiled blocks", compiled), (f"fast mode {recipe.speed}", recipe.fast_modes)) if on]
    emit(ProgressEvent("status", "denoising" + (f" ({', '.join(how)})" if how else "")))
    latents = sample_video(
        pipe.unet, scheduler, text, plan, device, on_step if stepped else None, cancel,
        denoiser=guided.denoiser if guided else None,
        attention_models=guided.attention_models if guided else None,
        previews=previews,
    )
    audio = guided.audio if guided else None
    return GenerationResult(recipe, latents.cpu(), model, time.perf_counter() - started, warnings, audio)


def ready_unet(model: LoadedModel, speed: str, latent_size: tuple[int, int], emit: EventSink,
               cancel: CancelToken | None) -> bool:
    """The UNet's blocks compiled (first compiling them, or loading the kernels cached) where
    `speed` wants it on this device, else eager; whether they are compiled. Used by a local job
    and by a farm task alike."""
    unet, device = model.pipe.unet, model.pipe._execution_device
    compiled = wants_compile(speed, device) and not (cancel is not None and cancel.skipped)
    if compiled and (problem := usable_cache()) is not None:
        emit(ProgressEvent("warning", f"{problem}; this video runs without compiling"))
        compiled = False
    prepare(unet, compiled, device)
    if compiled and not is_ready(unet, latent_size):
        warm = warm_marker(model.name, model.dtype, device, latent_size)
        compiled = _optimise(unet, latent_size, device, emit, cancel, first_time=not warm.exists())
        if compiled:
            warm.parent.mkdir(parents=True, exist_ok=True)
            warm.touch()
    return compiled


def _optimise(unet, latent_size: tuple[int, int], device: torch.device, emit: EventSink,
              cancel: CancelToken | None, first_time: bool) -> bool:
    """Compile the model's blocks before the loop (the first time: minutes), or load the kernels
    an earlier launch cached (seconds), saying so with progress; the user may skip it (the job
    then runs eagerly) or cancel the job."""
    started = time.perf_counter()
    doing = f"optimising for this {'GPU' if device.type == 'cuda' else 'computer'} (first time only)" if first_time \
        else "loading the compiled kernels"

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        emit(ProgressEvent("optimise", f"{doing}: {done}/{total} blocks",
                           step=done, total=total, elapsed_s=elapsed, eta_s=elapsed / done * (total - done)))
        if cancel is not None and cancel.cancelled:
            raise Cancelled()

    emit(ProgressEvent("optimise", f"{doing}: the model's blocks"))
    try:
        finished = optimise(unet, latent_size, progress, lambda: cancel is not None and cancel.skipped)
    except Cancelled:
        raise
    except Exception as e:  # no C++ compiler, an unsupported GPU: the video is still made, eagerly
        set_compiled(unet, False)
        emit(ProgressEvent("warning", f"compiling failed ({first_line(e)[:200]}); this video runs without compiling"))
        return False
    if not finished:
        emit(ProgressEvent("status", "optimising skipped: this video runs without compiling"))
    return finished


def export_result(
    result: GenerationResult, out: str | Path, options: ExportOptions, on_event: EventSink | None = None,
    cancel: CancelToken | None = None,
) -> list[ExportReport]:
    """Decode and write every video of a result, each with its own re-make recipe. All or nothing:
    the videos and sidecars appear together under their final names when the last is written; if
    one fails, the job is cancelled or the process is killed, the earlier files at those names stay."""
    emit = on_event or (lambda e: None)
    fmt = export_format(out, options.format)
    paths = output_paths(Path(out), result.videos, fmt)
    for p in paths:
        check_target(p, fmt)
    reports: list[ExportReport] = []
    total = result.videos * result.output_frames
    with AtomicGroup() as group:
        for video, path in enumerate(paths):
            # Decoding runs ahead in a thread while this one encodes (decode.ahead).
            frames = _counted(ahead(result.output(video)), video * result.output_frames, total, emit, cancel)
            opts = replace(options, format=fmt, fps=result.output_fps, metadata=result.video_recipe(video).to_json(),
                           audio=options.audio or result.audio)
            reports.append(write_export(frames, path, opts, group))
    return reports


def _counted(frames: Iterator[np.ndarray], done: int, total: int, emit: EventSink, cancel: CancelToken | None):
    with closing(frames):  # a cancel or a failed write stops the decoding thread now, not at GC
        for frame in frames:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            done += 1
            emit(ProgressEvent("decode", f"writing frame {done}/{total}", step=done, total=total))
            yield frame

