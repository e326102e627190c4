"""Shared set-up for the benchmark scripts: one set of weights, run through this engine and
through diffusers' TextToVideoZeroPipeline, timed, counted and measured the same way.

Weights (`build_setup`):
- "tiny": tests/tiny_models.py's random SD 1.x-shaped components (32 px), for CPU smoke runs;
- "sd15-random": UNet, VAE and text encoder built from resources/configs/sd15 (Stable Diffusion
  1.5's exact configurations) with random weights, fp16 on CUDA, 512 px; no download;
- "sdxl-random": the same from resources/configs/sdxl (SDXL base 1.0's), 1024 px, against
  diffusers' TextToVideoZeroSDXLPipeline; "tiny-sdxl": tests/tiny_sdxl.py's, 32 px;
- "model": any model the engine loads (`--model demo`, a folder, a .safetensors file).

The engine is run through its job API (`run_generation` + `export_result`, the path the CLI and
the app take) with the components handed over through a `ModelCache` that already holds them;
the UNet loop alone through `sample_video`. diffusers' pipeline is built from the very same
module objects (FACTS.md), with a DDIM scheduler of the same configuration.

Peak memory: on CUDA `torch.cuda.max_memory_allocated` around the run, in this process; on the
CPU the peak RSS of a fresh child process per configuration (`measure_in_child`), which runs
`python benchmarks/harness.py child SPEC`, builds the same weights, resets its peak-RSS mark and
reports the peak RSS of the run itself (VmHWM, weights and libraries included) and its growth
over the RSS held just before the run.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from t2vz_desktop.engine.jobs import ModelCache, export_result, run_generation, text_tables, video_plan  # noqa: E402
from t2vz_desktop.engine.models import (  # noqa: E402
    LoadedModel, fit_vae_precision, load_model, make_scheduler, pick_device, pick_dtype, quiet_libraries,
)
from t2vz_desktop.engine.motion import default_motion  # noqa: E402
from t2vz_desktop.engine.noise_schedule import motion_steps  # noqa: E402
from t2vz_desktop.engine.preview import PreviewMap, fit_preview_map, latents_to_rgb  # noqa: E402
from t2vz_desktop.engine.request import GenerationRequest  # noqa: E402
from t2vz_desktop.engine.sampler import sample_video  # noqa: E402
from t2vz_desktop.media import ExportOptions, export_video  # noqa: E402

GiB = 1024**3
MiB = 1024**2
SYSTEMS = ("engine", "engine-loop", "diffusers")  # end to end; the UNet loop alone; diffusers' pipeline
PROMPT = "a horse galloping on a street"


# ---------------------------------------------------------------------------------------------
# Weights


class PreloadedCache(ModelCache):
    """A ModelCache that already holds one model: every request gets it (the benchmark decides
    which weights; the request's model name only has to pass the engine's cheap path checks)."""

    def __init__(self, model: LoadedModel, preview: PreviewMap):
        super().__init__(capacity=1)
        self.entry = (model, preview)

    def get(self, r):
        return self.entry


@dataclass
class Setup:
    mode: str  # tiny, tiny-sdxl, sd15-random, sdxl-random, model
    model: LoadedModel
    cache: PreloadedCache
    model_ref: str  # what requests name as their model
    size: int  # frame width and height in pixels
    workdir: Path
    spec: dict = field(default_factory=dict)  # how to build it again (in a child process)

    @property
    def device(self) -> torch.device:
        return self.model.pipe._execution_device

    @property
    def describe(self) -> str:
        p = sum(x.numel() for x in self.model.pipe.unet.parameters()) / 1e6
        return f"{self.mode} ({self.model.name}): UNet {p:.1f} M parameters, {self.size}x{self.size}, " \
               f"{self.device.type} {str(self.model.dtype).replace('torch.', '')}"


@torch.no_grad()
def randomize_(module: torch.nn.Module, seed: int) -> None:
    """Seeded random weights of a sane scale (weights ~ N(0, 1/fan_in), norm scales ~ 1, small
    biases), drawn on the module's own device: activations stay finite in fp16 over 50 steps,
    which PyTorch's default initialisation of a whole SD UNet does not promise."""
    device = next(module.parameters()).device
    g = torch.Generator(device).manual_seed(seed)
    for name, p in sorted(module.named_parameters()):
        noise = torch.randn(p.shape, generator=g, device=device, dtype=torch.float32)
        if p.ndim >= 2:
            value = noise / math.sqrt(p[0].numel())
        elif name.endswith("weight"):
            value = 1.0 + 0.1 * noise
        else:
            value = 0.02 * noise
        p.copy_(value.to(p.dtype))


def _random_from_configs(name: str, device: torch.device, dtype: torch.dtype):
    """A pipeline of resources/configs/`name`'s exact configurations with random weights (seeds 0,
    1, 2, 3 for the UNet, VAE and text encoders, in that order): sd15, or sdxl with its second
    text encoder."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from t2vz_desktop.engine.models import is_sdxl_index, shared_clip_tokenizer

    cfg = ROOT / "resources" / "configs" / name
    xl = is_sdxl_index(cfg / "model_index.json")
    with torch.device(device):
        parts = {"unet": UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(cfg / "unet")),
                 "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(cfg / "vae")),
                 "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(cfg / "text_encoder"))}
        if xl:
            parts["text_encoder_2"] = CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(cfg / "text_encoder_2"))
    for seed, m in enumerate(parts.values()):
        randomize_(m, seed)
        m.to(dtype).eval()
    parts["scheduler"] = DDIMScheduler.from_config(DDIMScheduler.load_config(cfg / "scheduler"))
    parts["tokenizer"] = shared_clip_tokenizer(cfg)
    if xl:
        return StableDiffusionXLPipeline(**parts, tokenizer_2=shared_clip_tokenizer(cfg, "tokenizer_2")), str(cfg)
    return StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False), str(cfg)


def _tiny(workdir: Path):
    import tiny_models

    pipe = tiny_models.build_tiny_pipeline(seed=0)
    folder = tiny_models.save_config_folder(pipe, workdir / "tiny-config")  # passes the engine's path checks
    return pipe, str(folder)


def _tiny_sdxl(workdir: Path):
    import tiny_sdxl

    pipe = tiny_sdxl.build_tiny_sdxl_pipeline(seed=0)
    folder = workdir / "tiny-sdxl"
    pipe.save_pretrained(folder)
    return pipe, str(folder)


RANDOM_MODES = {"tiny": _tiny, "tiny-sdxl": _tiny_sdxl, "sd15-random": partial(_random_from_configs, "sd15"),
                "sdxl-random": partial(_random_from_configs, "sdxl")}


def build_setup(mode: str, model_path: str | None = None, device: str = "auto", dtype: str = "auto",
                workdir: Path | None = None) -> Setup:
    quiet_libraries()
    if workdir is None:  # our own scratch folder: gone when the run ends (the suite left one per test)
        workdir = Path(tempfile.mkdtemp(prefix="t2vz-bench-"))
        atexit.register(shutil.rmtree, workdir, True)
    workdir = Path(workdir)
    spec = {"mode": mode, "model_path": model_path, "device": device, "dtype": dtype, "workdir": str(workdir)}
    if mode == "model":
        model = load_model(model_path, device, dtype)
        ref = model_path
    else:
        dev = pick_device(device)
        dt = pick_dtype(dtype, dev)
        build = RANDOM_MODES[mode]
        pipe, ref = build(workdir) if mode.startswith("tiny") else build(dev, dt)
        pipe.set_progress_bar_config(disable=True)
        pipe.to(dev, dt)
        fit_vae_precision(pipe, dt)  # as the engine's loader does: SDXL's VAE in fp32 under fp16 (or the fp16-fix)
        pipe.vae.to(dev)  # the fp16-fix VAE loads on the CPU
        model = LoadedModel(pipe=pipe, name=mode, source="benchmark", device=dev, dtype=dt)
    cache = PreloadedCache(model, fit_preview_map(model.pipe.vae))
    return Setup(mode, model, cache, ref, model.native_size, workdir, spec)


def setup_from_args(args) -> Setup:
    mode = ("tiny" if args.tiny else "tiny-sdxl" if args.tiny_sdxl else "sd15-random" if args.sd15_random
            else "sdxl-random" if args.sdxl_random else "model")
    torch.set_num_threads(args.threads)
    os.environ["T2VZ_BENCH_THREADS"] = str(args.threads)  # for the memory children
    return build_setup(mode, args.model, args.device, args.dtype)


def add_setup_args(p) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--tiny", action="store_true", help="tiny random components, 32 px (CPU smoke run)")
    which.add_argument("--sd15-random", action="store_true", help="SD 1.5 configurations, random weights, 512 px (GPU)")
    which.add_argument("--tiny-sdxl", action="store_true", help="tiny random SDXL components, 32 px (CPU smoke run)")
    which.add_argument("--sdxl-random", action="store_true",
                       help="SDXL base 1.0 configurations, random weights, 1024 px (GPU; VAE in fp32)")
    which.add_argument("--model", help="a model the engine loads: demo, a folder or a .safetensors file")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    # On a shared 2-core machine two threads were 50x slower than one (OpenMP spinning against
    # the other processes' threads): one thread gives steadier CPU figures.
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")


# ---------------------------------------------------------------------------------------------
# One run


@dataclass
class RunSpec:
    system: str  # engine, engine-loop, diffusers
    frames: int
    steps: int = 50
    guidance: float = 7.5
    seed: int = 42
    prompt: str = PROMPT
    cross_frame: bool = True
    motion: tuple[float, float] | None = None  # output px per frame; None: the paper's, scaled
    chunk_size: int = 8
    label: str = ""  # variant name for tables
    options: dict = field(default_factory=dict)  # further GenerationRequest fields (consistency options)

    @property
    def name(self) -> str:
        return self.label or self.system


@dataclass
class RunResult:
    spec: RunSpec
    seconds: float
    unet_calls: int = 0
    unet_rows: int = 0  # UNet evaluations of one frame (guidance halves counted)
    peak_bytes: int | None = None  # CUDA peak allocated, or the child's peak RSS
    peak_above_base: int | None = None  # the same minus what was held just before the run
    frames: list[np.ndarray] | None = None  # kept only when asked (for the metrics)
    note: str = ""


class UnetCounter:
    """Counts UNet calls and the rows (frame evaluations) they carry."""

    def __init__(self, unet):
        self.calls = self.rows = 0
        self.handle = unet.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs):
        sample = args[0] if args else kwargs["sample"]
        self.calls += 1
        self.rows += int(sample.shape[0])

    def reset(self) -> None:
        self.calls = self.rows = 0

    def remove(self) -> None:
        self.handle.remove()


def motion_of(setup: Setup, spec: RunSpec) -> tuple[float, float]:
    return tuple(spec.motion) if spec.motion is not None else default_motion(setup.size, setup.size)


def diffusers_t0_t1(setup: Setup, spec: RunSpec, scheduler) -> dict:
    """diffusers' t0/t1 for the T/T' the engine resolves for this model (a model's t2vz.json may
    move them from 941/881): diffusers restarts at timesteps[-t1 - 1] and warps at
    timesteps[-t0 - 1]."""
    recipe = engine_request(setup, spec).resolve(setup.model.defaults, setup.model.native_size)
    scheduler.set_timesteps(spec.steps)
    at = motion_steps(scheduler.timesteps, recipe.t_restart, recipe.t_warp)
    last = len(scheduler.timesteps) - 1
    return {"t0": last - at.warp, "t1": last - at.restart}


def engine_request(setup: Setup, spec: RunSpec) -> GenerationRequest:
    return GenerationRequest(
        prompts=[spec.prompt], model=setup.model_ref, frames=spec.frames, width=setup.size, height=setup.size,
        steps=spec.steps, guidance=spec.guidance, seed=spec.seed, motion=motion_of(setup, spec),
        chunk_size=spec.chunk_size, cross_frame_attention=spec.cross_frame, device=str(setup.device), fps=8.0,
        **{"scheduler": "ddim", **spec.options},  # DDIM, as diffusers' pipeline runs, unless the options say
    )


def loop_inputs(setup: Setup, spec: RunSpec):
    """What `sample_video` needs for `spec`, made by the same engine functions as `run_generation`."""
    model = setup.model
    recipe = engine_request(setup, spec).resolve(model.defaults, model.native_size)
    pipe = model.pipe
    text = text_tables(pipe, recipe, setup.device)
    plan = video_plan(recipe, model, setup.device)
    return text, plan, lambda: make_scheduler(recipe.scheduler, pipe.scheduler.config)


def diffusers_pipeline(setup: Setup):
    """diffusers' TextToVideoZeroPipeline (TextToVideoZeroSDXLPipeline for SDXL) over the setup's
    own modules (no copy of the weights)."""
    import warnings

    from diffusers import DDIMScheduler

    from t2vz_desktop.engine.prompts import is_sdxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from diffusers import TextToVideoZeroPipeline, TextToVideoZeroSDXLPipeline

    parts = {k: v for k, v in setup.model.pipe.components.items() if k != "image_encoder"}
    parts["scheduler"] = DDIMScheduler.from_config(parts["scheduler"].config)
    if is_sdxl(setup.model.pipe):
        pipe = TextToVideoZeroSDXLPipeline(**parts)
    else:
        pipe = TextToVideoZeroPipeline(**parts, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_uint8(images) -> list[np.ndarray]:
    return list((np.clip(np.asarray(images, np.float32), 0, 1) * 255).round().astype(np.uint8))


def run_once(setup: Setup, spec: RunSpec, keep_frames: bool = False, counter: UnetCounter | None = None) -> RunResult:
    """One timed run of `spec`; CUDA peak memory measured around it when on a GPU."""
    device = setup.device
    cuda = device.type == "cuda"
    if counter is not None:
        counter.reset()
    if cuda:
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    out = Path(tempfile.mkdtemp(dir=setup.workdir)) / "video.mp4"
    frames = None
    note = ""
    started = time.perf_counter()
    if spec.system == "engine":
        result = run_generation(engine_request(setup, spec), cache=setup.cache)
        export_result(result, out, ExportOptions(fps=8.0))
        sync(device)
        seconds = time.perf_counter() - started
        if keep_frames:
            frames = list(result.frames())
        if result.model.pipe.vae.dtype != setup.model.dtype:
            note = "VAE fell back to fp32"
    elif spec.system == "engine-loop":
        text, plan, scheduler = loop_inputs(setup, spec)
        sync(device)
        started = time.perf_counter()
        sample_video(setup.model.pipe.unet, scheduler(), text, plan, device)
        sync(device)
        seconds = time.perf_counter() - started
    elif spec.system == "diffusers":
        pipe = diffusers_pipeline(setup)
        dx, dy = motion_of(setup, spec)
        images = pipe(
            prompt=spec.prompt, video_length=spec.frames, height=setup.size, width=setup.size,
            num_inference_steps=spec.steps, guidance_scale=spec.guidance,
            # diffusers' strength is in pixels of a 512 px frame and moves content by -strength
            motion_field_strength_x=-dx * 512 / setup.size, motion_field_strength_y=-dy * 512 / setup.size,
            generator=torch.Generator("cpu").manual_seed(spec.seed), output_type="np",
            **diffusers_t0_t1(setup, spec, pipe.scheduler),
        ).images
        frames = to_uint8(images)
        export_video(iter(frames), out, ExportOptions(fps=8.0))
        sync(device)
        seconds = time.perf_counter() - started
        if not keep_frames:
            frames = None
    else:
        raise ValueError(f"unknown system {spec.system!r}")
    r = RunResult(spec, seconds, frames=frames, note=note)
    if counter is not None:
        r.unet_calls, r.unet_rows = counter.calls, counter.rows
    if cuda:
        r.peak_bytes = torch.cuda.max_memory_allocated(device)
        r.peak_above_base = r.peak_bytes - base
    return r


def stage_times(setup: Setup, spec: RunSpec) -> dict[str, float]:
    """Seconds of each stage of one engine job, the device synchronised between stages: text
    encoding (cold: the model's embedding cache emptied first), the plan, the denoising loop,
    latents to the host, decoding (uint8 on the device, one copy), MP4 encoding, and decoding
    and encoding together as export_result runs them (decoding ahead in a thread).
    'outside_loop' sums what a job spends besides the loop."""
    from t2vz_desktop.engine.decode import decode_batch, iter_decoded
    from t2vz_desktop.engine.jobs import GenerationResult

    model, device = setup.model, setup.device
    pipe = model.pipe
    recipe = engine_request(setup, spec).resolve(model.defaults, model.native_size)
    out: dict[str, float] = {}

    def mark(name: str, started: float) -> float:
        sync(device)
        now = time.perf_counter()
        out[name] = now - started
        return now

    model.embeddings.clear()
    sync(device)
    t = time.perf_counter()
    text = text_tables(pipe, recipe, device, model.embeddings)
    t = mark("text_encoding", t)
    plan = video_plan(recipe, model, device)
    t = mark("plan", t)
    latents = sample_video(pipe.unet, make_scheduler(recipe.scheduler, pipe.scheduler.config), text, plan, device)
    t = mark("loop", t)
    latents = latents.cpu()
    t = mark("latents_to_host", t)
    frames = list(iter_decoded(pipe.vae, latents, decode_batch(device), device))
    t = mark("decode", t)
    folder = Path(tempfile.mkdtemp(dir=setup.workdir))
    export_video(iter(frames), folder / "encode.mp4", ExportOptions(fps=8.0))
    t = mark("encode", t)
    result = GenerationResult(recipe, latents, model, 0.0, [])
    export_result(result, folder / "both.mp4", ExportOptions(fps=8.0))
    mark("decode_and_encode", t)
    out["outside_loop"] = out["text_encoding"] + out["plan"] + out["latents_to_host"] + out["decode_and_encode"]
    return out


def is_out_of_memory(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


# ---------------------------------------------------------------------------------------------
# Peak RSS in a child process (CPU)


def _status_bytes(field: str) -> int | None:
    """A memory line of /proc/self/status (Linux), in bytes; None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (VmHWM) to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _child(spec_json: str) -> None:
    """Run one configuration and print its peak RSS. Note: getrusage's ru_maxrss survives exec on
    Linux, so a child forked from a big parent starts with the parent's mark; VmHWM belongs to the
    child's own address space, and resetting it just before the run gives the run's own peak."""
    torch.set_num_threads(int(os.environ.get("T2VZ_BENCH_THREADS", "1")))
    data = json.loads(spec_json)
    setup = build_setup(**data["setup"])
    spec = RunSpec(**data["run"])
    load_peak = _status_bytes("VmHWM")
    base = _status_bytes("VmRSS")
    if load_peak is None or base is None or not _reset_peak_rss():
        r = run_once(setup, spec)  # no /proc: the process-wide mark is all there is
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        print("RESULT " + json.dumps({"seconds": r.seconds, "peak": peak, "above": None, "note": r.note + " (ru_maxrss)"}))
        return
    r = run_once(setup, spec)
    run_peak = _status_bytes("VmHWM")
    print("RESULT " + json.dumps({"seconds": r.seconds, "peak": run_peak, "above": run_peak - base,
                                  "load_peak": load_peak, "note": r.note}))


def measure_in_child(setup: Setup, spec: RunSpec, timeout: float = 1800) -> RunResult:
    """Run `spec` once in a fresh Python process with the same weights; its peak RSS."""
    payload = json.dumps({"setup": setup.spec, "run": asdict(spec)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "child", payload],
                          capture_output=True, text=True, timeout=timeout, env=env)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"child run of {spec.name} at {spec.frames} frames failed: {tail}")
    d = json.loads(lines[-1][len("RESULT "):])
    return RunResult(spec, d["seconds"], peak_bytes=d["peak"], peak_above_base=d["above"], note=d["note"])


def peak_memory(setup: Setup, spec: RunSpec) -> RunResult:
    """Peak memory of one run: in this process on CUDA, in a fresh child on the CPU."""
    if setup.device.type == "cuda":
        return run_once(setup, spec)
    return measure_in_child(setup, spec)


# ---------------------------------------------------------------------------------------------
# Preview cost


def preview_cost(setup: Setup, spec: RunSpec, repeats: int = 2) -> dict:
    """The live preview's cost relative to a denoising step: the UNet loop timed with no callback
    and with the preview callback the job API installs (x0 estimate + latent->RGB map), best of
    `repeats`; plus the time spent inside the callback itself."""
    text, plan, scheduler = loop_inputs(setup, spec)
    unet, device = setup.model.pipe.unet, setup.device
    preview = setup.cache.entry[1]
    inside = [0.0]
    steps = [0]

    def on_step(s):
        sync(device)
        t = time.perf_counter()
        latents_to_rgb(s.denoised, preview)
        inside[0] += time.perf_counter() - t
        steps[0] += 1

    def timed(callback) -> float:
        sync(device)
        t = time.perf_counter()
        sample_video(unet, scheduler(), text, plan, device, callback)
        sync(device)
        return time.perf_counter() - t

    timed(None)  # warm-up
    plain, with_preview = [], []
    for _ in range(repeats):
        plain.append(timed(None))
        inside[0], steps[0] = 0.0, 0
        with_preview.append(timed(on_step))
    a, b = min(plain), min(with_preview)
    per_step = a / max(steps[0], 1)
    return {"frames": spec.frames, "steps": steps[0], "step_s": per_step, "loop_s": a, "loop_preview_s": b,
            "overhead": (b - a) / a, "callback_s_per_step": inside[0] / max(steps[0], 1),
            "callback_share": inside[0] / max(steps[0], 1) / per_step}


# ---------------------------------------------------------------------------------------------
# Output


def keeping_threads(run, args):
    """Run a benchmark and give torch its thread count back (they set their own)."""
    threads = torch.get_num_threads()
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (it reads as well in a terminal as in RESULTS.md)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def device_name(setup: Setup) -> str:
    if setup.device.type == "cuda":
        return torch.cuda.get_device_name(setup.device)
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        _child(sys.argv[2])
    else:
        sys.exit("usage: harness.py child SPEC_JSON (used by the benchmark scripts)")
