"""The GPU benchmark behind benchmarks/gpu.sh: speed options and memory, all figures in one run.

On CUDA (default): UNet, VAE and text encoder with Stable Diffusion 1.5's exact configurations
(resources/configs/sd15) and random weights, fp16, 512x512, 50 DDIM steps, guidance 7.5.
1. seconds per 8-frame video for diffusers' TextToVideoZeroPipeline and for this engine's job
   API (decode and MP4 export included for both), the engine with SDPA attention and with each
   speed option applied around it: channels-last UNet, torch.compile, both, and
   torch.compile(mode="reduce-overhead") (CUDA graphs), and each fast mode (--speed cache, merge,
   cache+merge: feature caching and token merging, eager);
2. peak CUDA memory at 8, 64 and 256 frames (engine; diffusers where it can hold them);
3. the live preview's cost against a denoising step;
4. one UNet forward at the batch of a step, with diffusers' and with the engine's processors.
Everything runs under a time budget (--budget-s); what does not fit is marked, not dropped.

    python benchmarks/gpu_bench.py --tiny      # CPU, tiny components: how the script is tested
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import harness as h  # noqa: E402

from t2vz_desktop.engine.request import FAST_SPEEDS  # noqa: E402
from t2vz_desktop.engine.attention import FrameBatch, RowGroup, install_cross_frame_attention, restore_attention  # noqa: E402

# (name, channels_last, compile kwargs or None), most promising first: each compilation of SD's
# UNet costs ~50 s per graph on an H100/H200 (FACTS.md), and the engine's loop makes 2 graphs at
# 8 frames (the anchor alone, then all frames) and 3 beyond one chunk (a chunk holding the anchor
# and one reusing its keys/values), so the budget may not reach the last ones.
OPTIONS = {  # key: (name, channels_last, compile kwargs or None)
    "channels-last": ("engine + channels-last", True, None),
    "compile-cl": ("engine + torch.compile + channels-last", True, {}),
    "cudagraphs": ("engine + torch.compile(reduce-overhead: CUDA graphs) + channels-last", True, {"mode": "reduce-overhead"}),
    "compile": ("engine + torch.compile", False, {}),
}


class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def allows(self, estimate: float) -> bool:
        return self.left() > estimate


def timed(setup, spec, repeat: int) -> tuple[float, float]:
    """(first run incl. warm-up/compilation, median of `repeat` further runs) in seconds; with
    `repeat` 0 (smoke runs) the first run stands for both."""
    first = h.run_once(setup, spec).seconds
    runs = sorted(h.run_once(setup, spec).seconds for _ in range(repeat)) or [first]
    return first, runs[len(runs) // 2]


def dynamo_stats() -> dict:
    from torch._dynamo.utils import counters

    breaks = dict(counters["graph_break"])
    return {"graphs": int(counters["stats"]["unique_graphs"]), "graph_breaks": int(sum(breaks.values())),
            "break_reasons": sorted(breaks, key=breaks.get, reverse=True)[:3]}


def apply_option(setup, channels_last: bool, compile_kwargs: dict | None, backend: str | None):
    """Put the option on the UNet the engine will use; returns a function that takes it off."""
    pipe = setup.model.pipe
    unet = pipe.unet
    if channels_last:
        unet.to(memory_format=torch.channels_last)
    if compile_kwargs is not None:
        from torch import _dynamo

        _dynamo.reset()
        _dynamo.utils.counters.clear()
        kwargs = dict(compile_kwargs)
        if backend:
            kwargs["backend"] = backend
        pipe.unet = torch.compile(unet, **kwargs)  # an OptimizedModule passes attribute access through

    def undo():
        pipe.unet = unet
        if channels_last:
            unet.to(memory_format=torch.contiguous_format)

    return undo


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="CPU smoke run with tiny components")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--time-frames", type=int, default=None, help="frames of the timed video (default 8; tiny 2)")
    p.add_argument("--mem-frames", type=int, nargs="+", default=None, help="default 8 64 256 (tiny: 2 4)")
    p.add_argument("--diffusers-max-frames", type=int, default=64, help="diffusers is not run above this")
    p.add_argument("--repeat", type=int, default=2, help="timed runs after the first (median kept)")
    p.add_argument("--budget-s", type=float, default=400, help="stop starting new measurements after this")
    p.add_argument("--compile-backend", default=None, help="torch.compile backend (default: inductor; tiny: eager)")
    p.add_argument("--options", nargs="+", choices=list(OPTIONS), default=list(OPTIONS), help="speed options to time")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    return h.keeping_threads(run, a)


def run(a) -> dict:
    budget = Budget(a.budget_s)
    torch.set_num_threads(a.threads)
    if a.tiny:
        setup = h.build_setup("tiny", device="cpu")
    else:
        if not torch.cuda.is_available():
            sys.exit("gpu_bench: no CUDA GPU here (use --tiny for the CPU smoke run)")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        setup = h.build_setup("sd15-random", device="cuda", dtype="fp16")
    cuda = setup.device.type == "cuda"
    m_time = a.time_frames or (2 if a.tiny else 8)
    mem_frames = a.mem_frames or ([2, 4] if a.tiny else [8, 64, 256])
    backend = a.compile_backend or ("eager" if a.tiny else None)
    device = h.device_name(setup)
    print(f"# gpu_bench: {setup.describe} on {device}, torch {torch.__version__}; {a.steps} DDIM steps, "
          f"guidance {a.guidance:g}; budget {a.budget_s:.0f} s", flush=True)
    def spec(system, m, label=""):  # the engine eager, as the options below expect it
        return h.RunSpec(system, m, a.steps, a.guidance, label=label,
                         options={"speed": "exact"} if system == "engine" else {})

    speed: list[dict] = []

    def add_speed(name, first=None, median=None, note="", **extra):
        speed.append({"configuration": name, "first_s": first, "seconds": median, "note": note, **extra})
        shown = "-" if median is None else f"{median:.2f} s"
        print(f"  {name}: {shown} {note}", flush=True)

    # 1. Speed at m_time frames: diffusers, then the engine as shipped (SDPA).
    first, med = timed(setup, spec("diffusers", m_time), a.repeat)
    add_speed("diffusers TextToVideoZeroPipeline (SDPA)", first, med)
    first, med = timed(setup, spec("engine", m_time), a.repeat)
    add_speed("engine (SDPA)", first, med)
    step_estimate = med

    # 2. Peak memory (engine as shipped; diffusers where it can hold the frames).
    memory: list[dict] = []
    for m in mem_frames:
        row = {"frames": m}
        memory.append(row)
        for system in ("engine", "diffusers"):
            if system == "diffusers" and m > a.diffusers_max_frames:
                row["diffusers_note"] = f"not run: holds all {m} frames in one batch"
                continue
            need = step_estimate * m / m_time * 1.3
            if not budget.allows(need):
                row[f"{system}_note"] = f"not run: time budget (~{need:.0f} s needed)"
                continue
            try:
                r = h.peak_memory(setup, spec(system, m))
            except Exception as e:
                if not h.is_out_of_memory(e):
                    raise
                torch.cuda.empty_cache()
                row[f"{system}_note"] = "out of memory"
                continue
            row[f"{system}_peak"] = r.peak_bytes
            row[f"{system}_s"] = r.seconds
            print(f"  memory {system} {m} frames: {h.fmt_bytes(r.peak_bytes)} ({r.seconds:.1f} s)", flush=True)
    per_frame = _diffusers_growth(memory)
    for row in memory:
        if "diffusers_peak" not in row and per_frame is not None and "diffusers_note" in row:
            est = per_frame[0] + per_frame[1] * row["frames"]
            row["diffusers_note"] += f" (~{h.fmt_bytes(int(est))} by its measured growth)"

    # 3. The live preview against a denoising step.
    preview = None
    if budget.allows(step_estimate * 4):
        preview = h.preview_cost(setup, spec("engine-loop", m_time), repeats=1)

    # 4. One UNet forward at the batch of a step (frames x 2 guidance branches); cheap, so it
    # runs before the compilations that may use up the budget.
    forward = unet_forward(setup, frames=m_time, repeats=3 if a.tiny else 20) if budget.allows(30) else None

    # 4a. Half precisions against float32 on frame 0 (the bfloat16-default decision).
    precision = precisions(setup, lambda: h.RunSpec("engine", 1, a.steps, a.guidance, options={"speed": "exact"})) \
        if budget.allows(step_estimate * 3) else None

    # 4b. Where a job's time goes outside the loop, stage by stage (every level does the same
    # work there; the loop in this split runs eagerly).
    stages = h.stage_times(setup, h.RunSpec("engine", m_time, a.steps, a.guidance)) if budget.allows(
        step_estimate * 2) else None
    if stages:
        print("  stages: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in stages.items()), flush=True)

    # 5. The default level (auto: the UNet's blocks compiled on CUDA; its first run compiles, or
    # loads the kernels a previous launch cached), then the fast modes (they change pixels;
    # benchmarks/fast_modes.py measures what they cost), before the whole-UNet compilations below.
    for level in ("auto", *FAST_SPEEDS):
        label = "engine --speed auto (default)" if level == "auto" else f"engine --speed {level} (fast mode)"
        if not budget.allows(step_estimate * (a.repeat + 1) + (120 if cuda else 0)):
            add_speed(label, note="not run: time budget")
            continue
        first, med = timed(setup, h.RunSpec("engine", m_time, a.steps, a.guidance, options={"speed": level}), a.repeat)
        add_speed(label, first, med, f"first run {first:.1f} s" if level == "auto" else "")
    if cuda:
        from t2vz_desktop.engine.compiled import prepare

        prepare(setup.model.pipe.unet, False, setup.device)  # eager again for the options below

    # 6. Lossless speed options around the engine.
    for name, channels_last, compile_kwargs in (OPTIONS[k] for k in a.options):
        if compile_kwargs is not None and compile_kwargs.get("mode") == "reduce-overhead" and not cuda:
            add_speed(name, note="not run: CUDA graphs need a GPU")
            continue
        need = step_estimate * (a.repeat + 1) + (120 if compile_kwargs is not None and cuda else 0)
        if not budget.allows(need):
            add_speed(name, note=f"not run: time budget (~{need:.0f} s needed)")
            continue
        undo = apply_option(setup, channels_last, compile_kwargs, backend)
        try:
            first, med = timed(setup, spec("engine", m_time), a.repeat)
            extra = dynamo_stats() if compile_kwargs is not None else {}
            note = ""
            if extra:
                note = f"first run {first:.0f} s incl. compile; {extra['graphs']} graphs, {extra['graph_breaks']} breaks"
            add_speed(name, first, med, note, **extra)
        except Exception as e:  # an option that fails is a finding, not a crash
            add_speed(name, note=f"failed: {type(e).__name__}: {str(e).strip().splitlines()[0][:120] if str(e).strip() else ''}")
        finally:
            undo()

    report = {"device": device, "setup": setup.describe, "torch": torch.__version__, "steps": a.steps,
              "guidance": a.guidance, "time_frames": m_time, "speed": speed, "memory": memory, "preview": preview,
              "unet_forward": forward, "stages": stages, "precision": precision,
              "date": time.strftime("%Y-%m-%d")}
    print(render(report, cuda))
    if a.json:
        a.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


def precisions(setup, spec_of, any_device: bool = False) -> dict | None:
    """Frame 0 (a one-frame video: the plain SD image) made in float32, float16 and bfloat16 from
    the same weights: the mean absolute difference of each half precision from float32, in 8-bit
    levels. bfloat16 may become the default where the GPU has it if its difference is within
    float16's, the SD pipeline's own (issue 25, part 3); None where bf16 is not native."""
    device = setup.device
    native = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    if not (native or any_device):  # any_device: the CPU test of this function
        return None
    pipe, original = setup.model.pipe, setup.model.dtype
    frames = {}
    try:
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            pipe.to(dtype=dtype)
            setup.model.dtype = dtype
            frames[dtype] = h.run_once(setup, spec_of(), keep_frames=True).frames[0].astype(float)
    finally:
        pipe.to(dtype=original)
        setup.model.dtype = original
    diff = {name: float(abs(frames[d] - frames[torch.float32]).mean())
            for name, d in (("fp16", torch.float16), ("bf16", torch.bfloat16))}
    print(f"  frame 0 against float32: fp16 {diff['fp16']:.2f}, bf16 {diff['bf16']:.2f} levels (mean |difference|)",
          flush=True)
    return diff


@torch.no_grad()
def unet_forward(setup, frames: int, repeats: int) -> dict:
    """Median milliseconds of one UNet forward on a batch of `frames` x 2 (guidance) latents at
    the timed size: with diffusers' own SDPA processors (the figure other projects quote), with
    the engine's cross-frame processors (what each denoising step costs), and channels-last."""
    unet = setup.model.pipe.unet
    device, dtype = setup.device, setup.model.dtype
    f = setup.model.pipe.vae_scale_factor
    g = torch.Generator(device).manual_seed(0)
    batch = 2 * frames
    latents = torch.randn(batch, unet.config.in_channels, setup.size // f, setup.size // f, generator=g,
                          device=device, dtype=dtype)
    text = torch.randn(batch, 77, unet.config.cross_attention_dim, generator=g, device=device, dtype=dtype)
    t = torch.tensor(500, device=device)
    groups = [RowGroup(0, frames, slot=0, anchor_row=0), RowGroup(frames, batch, slot=1, anchor_row=frames)]

    def median_ms(before=None) -> float:
        times = []
        for i in range(repeats + 5):  # 5 warm-ups (clocks ramp up; 3 were not enough on an H100)
            if before:
                before()
            h.sync(device)
            start = time.perf_counter()
            unet(latents, t, encoder_hidden_states=text)
            h.sync(device)
            if i >= 5:
                times.append(time.perf_counter() - start)
        return 1e3 * sorted(times)[len(times) // 2]

    out = {"batch": batch, "plain_ms": median_ms()}
    fb = FrameBatch(groups=groups)
    previous = install_cross_frame_attention(unet, fb)
    try:
        out["engine_ms"] = median_ms(fb.new_step)
    finally:
        restore_attention(unet, previous)
    unet.to(memory_format=torch.channels_last)
    try:
        out["channels_last_ms"] = median_ms()
    finally:
        unet.to(memory_format=torch.contiguous_format)
    print(f"  UNet forward, batch {batch}: diffusers' processors {out['plain_ms']:.1f} ms, engine's cross-frame "
          f"{out['engine_ms']:.1f} ms, channels-last {out['channels_last_ms']:.1f} ms", flush=True)
    return out


def _diffusers_growth(memory: list[dict]) -> tuple[float, float] | None:
    pts = [(r["frames"], r["diffusers_peak"]) for r in memory if "diffusers_peak" in r]
    if len(pts) < 2:
        return None
    (m0, b0), (m1, b1) = pts[0], pts[-1]
    slope = (b1 - b0) / (m1 - m0)
    return b0 - slope * m0, slope


def render(report: dict, cuda: bool) -> str:
    speed = report["speed"]
    base = next((s["seconds"] for s in speed if s["configuration"].startswith("diffusers")), None)
    rows = []
    for s in speed:
        ratio = f"{base / s['seconds']:.2f}x" if base and s["seconds"] else "-"
        rows.append([s["configuration"], "-" if s["seconds"] is None else f"{s['seconds']:.2f}", ratio,
                     "-" if s["first_s"] is None else f"{s['first_s']:.1f}", s["note"]])
    mem_rows = []
    for r in report["memory"]:
        cell = lambda k: h.fmt_bytes(r[f"{k}_peak"]) if f"{k}_peak" in r else r.get(f"{k}_note", "-")  # noqa: E731
        mem_rows.append([str(r["frames"]), cell("engine"), cell("diffusers")])
    what = "peak CUDA memory allocated" if cuda else "peak RSS of the run in a fresh process"
    out = [f"\n{report['setup']} on {report['device']}, torch {report['torch']}, {report['date']}; "
           f"{report['steps']} DDIM steps, guidance {report['guidance']:g}",
           f"seconds per {report['time_frames']}-frame video (decode + MP4 export included; median of the runs after the first)",
           h.table(["configuration", "s/video", "speed vs diffusers", "first run s", "note"], rows),
           f"\n{what} per video",
           h.table(["frames", "engine", "diffusers"], mem_rows)]
    engine_best = min((s["seconds"] for s in speed if s["configuration"].startswith("engine") and s["seconds"]), default=None)
    if base and engine_best:
        r = base / engine_best
        out.append(f"target: engine with its speed options >= 1.3x diffusers' speed at {report['time_frames']} frames: "
                   f"{'MET' if r >= 1.3 else 'MISSED'} ({r:.2f}x)")
    top = max(report["memory"], key=lambda r: r["frames"])
    if "engine_peak" in top:
        gb = top["engine_peak"] / 1e9
        out.append(f"target: {top['frames']} frames in under 16 GB: {'MET' if gb < 16 else 'MISSED'} ({gb:.2f} GB)")
    fw = report.get("unet_forward")
    if fw:
        out.append(f"UNet forward, batch {fw['batch']} (median): diffusers' SDPA processors {fw['plain_ms']:.1f} ms, "
                   f"engine's cross-frame processors {fw['engine_ms']:.1f} ms, channels-last {fw['channels_last_ms']:.1f} ms")
    pr = report.get("precision")
    if pr:
        verdict = "bf16 may be the default" if pr["bf16"] <= pr["fp16"] else "fp16 stays the default"
        out.append(f"frame 0 against float32 (mean |difference|, 8-bit levels): fp16 {pr['fp16']:.2f}, "
                   f"bf16 {pr['bf16']:.2f}: {verdict}")
    st = report.get("stages")
    if st:
        out.append(f"outside the loop, {report['time_frames']} frames: " + ", ".join(
            f"{k.replace('_', ' ')} {v * 1e3:.0f} ms" for k, v in st.items() if k not in ("loop", "outside_loop"))
            + f"; in all {st['outside_loop'] * 1e3:.0f} ms (target <= 200 ms on H100/H200), loop {st['loop']:.2f} s")
    pv = report["preview"]
    if pv:
        out.append(f"live preview: {pv['overhead']:+.1%} of the loop time; callback {pv['callback_share']:.1%} of a "
                   f"{pv['step_s'] * 1e3:.1f} ms step (target < 5%)")
    return "\n".join(out)


if __name__ == "__main__":
    main()
