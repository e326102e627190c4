"""Seconds per video and peak memory: this engine against diffusers' TextToVideoZeroPipeline on
the same weights and settings, in one process (memory on the CPU: one fresh child per run).

    python benchmarks/bench_engine.py --tiny                 # CPU smoke run, 32 px (a test runs it)
    python benchmarks/bench_engine.py --sd15-random          # GPU: SD 1.5 configs, random fp16 weights, 512 px
    python benchmarks/bench_engine.py --model demo           # any model the engine loads

Rows per frame count (default 8, 32, 128; 50 DDIM steps, guidance 7.5 -- diffusers' pipeline
needs >= 48 steps and guidance > 1):
- engine: the job API end to end -- denoising with the live preview, VAE decode in chunks and
  streaming MP4 export to a temporary file;
- engine loop: the UNet loop alone (`sample_video`, no preview);
- diffusers: `TextToVideoZeroPipeline(...)` with output_type="np", then the same MP4 export.
Also the live preview's cost relative to a denoising step. Targets: the engine not slower than
diffusers at 8 frames; the engine's peak memory at 128 frames within 1.15x of 8 frames; the
preview under 5% of a step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import harness as h  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.add_setup_args(p)
    p.add_argument("--frames", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--chunk-size", type=int, default=8)
    p.add_argument("--repeat", type=int, default=1, help="timed runs per cell (the median is kept)")
    p.add_argument("--diffusers-max-frames", type=int, default=None,
                   help="skip diffusers above this many frames (default: try, skip on out-of-memory)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--quick", action="store_true", help="no warm-up runs, one preview repeat (smoke tests)")
    p.add_argument("--memory-only", action="store_true", help="only the peak-memory runs (CPU children / CUDA)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    a = p.parse_args(argv)
    return h.keeping_threads(run, a)


def run(a) -> dict:
    setup = h.setup_from_args(a)
    print(f"# bench_engine: {setup.describe} on {h.device_name(setup)}; {a.steps} DDIM steps, guidance {a.guidance:g}, "
          f"chunk size {a.chunk_size}", flush=True)
    counter = h.UnetCounter(setup.model.pipe.unet)
    spec = lambda system, m: h.RunSpec(system, m, a.steps, a.guidance, chunk_size=a.chunk_size)  # noqa: E731
    cells: dict[tuple[str, int], dict] = {}

    # Warm-up: first calls pay for kernel selection, allocator growth and lazy imports.
    for system in () if a.quick or a.memory_only else h.SYSTEMS:
        h.run_once(setup, spec(system, min(a.frames)))

    for m in a.frames:
        for system in h.SYSTEMS:
            cell = cells.setdefault((system, m), {})
            if system == "diffusers" and a.diffusers_max_frames is not None and m > a.diffusers_max_frames:
                cell["skipped"] = f"not run above {a.diffusers_max_frames} frames"
                continue
            if a.memory_only and setup.device.type != "cuda":
                continue
            try:
                runs = [h.run_once(setup, spec(system, m), counter=counter) for _ in range(a.repeat)]
            except Exception as e:
                if system == "diffusers" and h.is_out_of_memory(e):
                    cell["skipped"] = "out of memory (holds every frame in one batch)"
                    torch.cuda.empty_cache()
                    continue
                raise
            r = sorted(runs, key=lambda x: x.seconds)[len(runs) // 2]
            cell.update(seconds=r.seconds, unet_calls=r.unet_calls, unet_rows=r.unet_rows, note=r.note)
            if r.peak_bytes is not None:
                cell.update(peak=r.peak_bytes, above=r.peak_above_base)
            print(f"  {system:<12} {m:>4} frames: {r.seconds:8.2f} s  {h.fmt_bytes(r.peak_bytes)}", flush=True)
        if not a.no_memory and setup.device.type != "cuda":
            for system in h.SYSTEMS:
                cell = cells[(system, m)]
                if "skipped" in cell:
                    continue
                r = h.measure_in_child(setup, spec(system, m))
                cell.update(peak=r.peak_bytes, above=r.peak_above_base)
                print(f"  {system:<12} {m:>4} frames: peak RSS {h.fmt_bytes(r.peak_bytes)} "
                      f"(+{h.fmt_bytes(r.peak_above_base)} in the run)", flush=True)
    counter.remove()

    preview = None if a.memory_only else \
        h.preview_cost(setup, spec("engine-loop", min(a.frames)), repeats=1 if a.quick else 2)
    report = {"setup": setup.describe, "device": h.device_name(setup), "steps": a.steps, "guidance": a.guidance,
              "chunk_size": a.chunk_size, "cells": {f"{s}@{m}": c for (s, m), c in cells.items()}, "preview": preview}
    print(render(report, a.frames, setup.device.type == "cuda"))
    if a.json:
        a.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


def render(report: dict, frames: list[int], cuda: bool) -> str:
    cells = report["cells"]
    mem = "peak CUDA allocated" if cuda else "peak RSS of the run in a fresh process (+ growth over the RSS before the run)"

    def time_of(s, m):
        c = cells[f"{s}@{m}"]
        if "skipped" in c:
            return f"skipped: {c['skipped']}"
        return f"{c['seconds']:.2f}" if "seconds" in c else "-"

    def mem_of(s, m):
        c = cells[f"{s}@{m}"]
        if "skipped" in c:
            return "skipped"
        if "peak" not in c:
            return "-"
        return h.fmt_bytes(c["peak"]) + ("" if cuda else f" (+{h.fmt_bytes(c['above'])})")

    rows = []
    for m in frames:
        e, d = cells[f"engine@{m}"], cells[f"diffusers@{m}"]
        ratio = f"{d['seconds'] / e['seconds']:.2f}x" if "seconds" in d and "seconds" in e else "-"
        rows.append([str(m), time_of("engine", m), time_of("engine-loop", m), time_of("diffusers", m), ratio,
                     f"{e.get('unet_rows', '-')} / {d.get('unet_rows', '-')}",
                     mem_of("engine", m), mem_of("engine-loop", m), mem_of("diffusers", m)])
    out = [f"\n{report['setup']} on {report['device']}; {report['steps']} steps, guidance {report['guidance']:g}",
           f"seconds per video; memory = {mem}",
           h.table(["frames", "engine s", "engine loop s", "diffusers s", "diffusers/engine time",
                    "frame evals engine / diffusers", "engine mem", "engine loop mem", "diffusers mem"], rows)]
    lo, hi = min(frames), max(frames)
    e_lo, d_lo = cells[f"engine@{lo}"], cells[f"diffusers@{lo}"]
    if "seconds" in d_lo and "seconds" in e_lo:
        ok = e_lo["seconds"] <= d_lo["seconds"]
        out.append(f"target: engine not slower than diffusers at {lo} frames: {'MET' if ok else 'MISSED'} "
                   f"({e_lo['seconds']:.2f} s vs {d_lo['seconds']:.2f} s)")
    e_hi = cells[f"engine@{hi}"]
    if "peak" in e_lo and "peak" in e_hi and hi != lo:
        r = e_hi["peak"] / e_lo["peak"]
        line = f"target: engine peak memory at {hi} frames within 1.15x of {lo}: {'MET' if r <= 1.15 else 'MISSED'} ({r:.3f}x"
        if not cuda:
            line += f"; growth during the run {h.fmt_bytes(e_lo['above'])} -> {h.fmt_bytes(e_hi['above'])}"
        out.append(line + ")")
    pv = report["preview"]
    if pv is None:
        return "\n".join(out)
    out.append(f"target: live preview under 5% of a denoising step: {'MET' if pv['overhead'] < 0.05 else 'MISSED'} "
               f"(loop {pv['loop_s']:.3f} s -> {pv['loop_preview_s']:.3f} s with preview, {pv['overhead']:+.1%}; "
               f"inside the callback {pv['callback_s_per_step'] * 1e3:.2f} ms = {pv['callback_share']:.1%} of a "
               f"{pv['step_s'] * 1e3:.1f} ms step, {pv['frames']} frames)")
    return "\n".join(out)


if __name__ == "__main__":
    main()
