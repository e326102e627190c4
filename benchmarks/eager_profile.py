"""Where the eager engine's time goes against diffusers' TextToVideoZeroPipeline.

The H200 run of gpu.sh (2026-11-26) put the UNet forward of both at the same cost (50.7 vs
51.6 ms at batch 16) and the UNet call counts are equal (compare.py), yet a whole 8-frame video
took 3.66 s in the engine against 3.47 s in diffusers. This script splits the engine's time into
the denoising loop alone (`engine-loop`) and the rest (text encoding, decode, export), and
profiles one run of each system to count what makes the host wait for the GPU (each wait
leaves the GPU idle while the host queues the next UNet call's kernels):
`aten::_local_scalar_dense` (.item(), int(), bool() of a device tensor), device-to-host and
pageable host-to-device copies, and stream synchronisations. Also prints the busiest host ops.

    python benchmarks/eager_profile.py            # CUDA, SD 1.5 configurations, random fp16 weights
    python benchmarks/eager_profile.py --tiny     # CPU smoke run (how the script is tested)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import harness as h  # noqa: E402
from gpu_bench import timed  # noqa: E402

# Host ops that wait for the device (or copy through it); their counts per run are the figure.
WAITS = ("aten::_local_scalar_dense", "aten::item", "cudaStreamSynchronize", "cudaDeviceSynchronize",
         "cudaMemcpyAsync", "cudaMemcpy", "Memcpy DtoH (Device -> Pageable)", "Memcpy HtoD (Pageable -> Device)",
         "Memcpy DtoH (Device -> Pinned)", "Memcpy HtoD (Pinned -> Device)")


def profiled(setup, spec, cuda: bool, top: int) -> dict:
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        seconds = h.run_once(setup, spec).seconds
    events = prof.key_averages()
    counts = {e.key: e.count for e in events if e.key in WAITS}
    busiest = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    rows = [(e.key, e.count, e.self_cpu_time_total / 1e3) for e in busiest]
    device_ms = sum(getattr(e, "self_device_time_total", 0.0) for e in events) / 1e3 if cuda else None
    return {"seconds": seconds, "waits": counts, "busiest": rows, "device_ms": device_ms}


def sync_sites(setup, spec, top: int) -> list[tuple[str, int]]:
    """Source lines that made the host wait for the GPU during one run, with counts (CUDA's
    sync debug mode warns at each one)."""
    import collections
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            h.run_once(setup, spec)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    sites = collections.Counter(f"{Path(w.filename).name}:{w.lineno}" for w in caught
                                if "synchroniz" in str(w.message).lower())
    return sites.most_common(top)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="CPU smoke run with tiny components")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3, help="timed runs per system after a warm-up (median kept)")
    p.add_argument("--top", type=int, default=12, help="busiest host ops to list")
    a = p.parse_args(argv)
    if a.tiny:
        setup = h.build_setup("tiny", device="cpu")
        a.steps, a.frames, a.repeat = min(a.steps, 4), min(a.frames, 2), min(a.repeat, 1)
    else:
        if not torch.cuda.is_available():
            sys.exit("eager_profile: no CUDA GPU here (use --tiny for the CPU smoke run)")
        setup = h.build_setup("sd15-random", device="cuda", dtype="fp16")
    cuda = setup.device.type == "cuda"
    print(f"# eager_profile: {setup.describe} on {h.device_name(setup)}, torch {torch.__version__}; "
          f"{a.frames} frames, {a.steps} steps", flush=True)
    specs = {system: h.RunSpec(system, a.frames, a.steps, 7.5) for system in ("diffusers", "engine", "engine-loop")}
    report = {}
    for system, spec in specs.items():
        report[system] = {"median_s": timed(setup, spec, a.repeat)[1]}  # after a warm-up run
        print(f"{system}: {report[system]['median_s']:.3f} s (median of {a.repeat})", flush=True)
    for system in ("diffusers", "engine"):
        found = profiled(setup, specs[system], cuda, a.top)
        report[system].update(found)
        device = "" if found["device_ms"] is None else f", device self time {found['device_ms']:.0f} ms"
        print(f"\n## {system} under the profiler: {found['seconds']:.3f} s{device}")
        print("waits: " + (", ".join(f"{k} x{n}" for k, n in sorted(found["waits"].items())) or "none"))
        for key, count, ms in found["busiest"]:
            print(f"  {ms:9.1f} ms  x{count:<6} {key}")
        if cuda:
            sites = sync_sites(setup, specs[system], a.top)
            report[system]["sync_sites"] = sites
            print("host waits by source line: " + (", ".join(f"{k} x{n}" for k, n in sites) or "none"))
    loop, whole = report["engine-loop"]["median_s"], report["engine"]["median_s"]
    print(f"\nengine: loop {loop:.3f} s + the rest {whole - loop:.3f} s; diffusers whole {report['diffusers']['median_s']:.3f} s")
    return report


if __name__ == "__main__":
    main()
