"""This engine against diffusers' TextToVideoZeroPipeline, and the engine's ablations, on the same
weights, seeds and settings in one process: seconds per video, UNet evaluations, peak memory and
the video measures of `t2vz eval`, at several frame counts. Writes a CSV and a PNG plot.

    python benchmarks/compare.py --tiny                      # CPU, tiny random components
    python benchmarks/compare.py --model demo                # the built-in demo model
    python benchmarks/compare.py --sd15-random --clip openai/clip-vit-base-patch32   # GPU

Variants: engine (the method as shipped), engine without cross-frame attention, engine without
motion (motion 0, 0), and diffusers' pipeline. diffusers needs at least 48 steps and guidance
above 1, so the comparison runs at 50 steps and guidance 7.5; a frame count it cannot hold is
marked in the table. Warping error uses OpenCV DIS flow at the video's resolution (see
t2vz_desktop/measure/metrics.py): figures published with RAFT are not comparable.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import harness as h  # noqa: E402
from t2vz_desktop.measure import score_frames  # noqa: E402
from t2vz_desktop.measure.plot import Panel, save_panels  # noqa: E402

VARIANTS = {
    "engine": dict(system="engine"),
    "engine, no cross-frame attention": dict(system="engine", cross_frame=False),
    "engine, no motion": dict(system="engine", motion=(0.0, 0.0)),
    "diffusers": dict(system="diffusers"),
}
DEMO_PROMPT = "a red circle on a blue background"
COLUMNS = ["variant", "frames", "seconds", "unet_calls", "frame_evals", "peak_bytes", "peak_above_base",
           "temporal_flickering", "dynamic_degree", "warping_error", "zero_flow_error",
           "clip_frame_consistency", "clip_text_score", "note"]


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.add_setup_args(p)
    p.add_argument("--frames", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--prompt", help=f"default: '{h.PROMPT}' ('{DEMO_PROMPT}' for --model demo)")
    p.add_argument("--chunk-size", type=int, default=8)
    p.add_argument("--clip", help="CLIP model (folder or cached hub id) for the CLIP measures")
    p.add_argument("--diffusers-max-frames", type=int, default=None, help="skip diffusers above this")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="VARIANT")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child runs (CPU)")
    p.add_argument("--quick", action="store_true", help="no warm-up runs (smoke tests)")
    p.add_argument("--out", type=Path, default=Path("out/compare"),
                   help="folder for the CSV and the PNG (default out/compare, ignored by git)")
    a = p.parse_args(argv)
    return h.keeping_threads(run, a)


def run(a) -> list[dict]:
    setup = h.setup_from_args(a)
    prompt = a.prompt or (DEMO_PROMPT if a.model == "demo" else h.PROMPT)
    clip = None
    if a.clip:
        from t2vz_desktop.measure.clip import ClipScorer

        clip = ClipScorer.load(a.clip, setup.device)
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"# compare: {setup.describe} on {h.device_name(setup)}; {a.steps} DDIM steps, guidance {a.guidance:g}, "
          f"seed {a.seed}, prompt {prompt!r}", flush=True)
    counter = h.UnetCounter(setup.model.pipe.unet)
    base = h.RunSpec("engine", min(a.frames), a.steps, a.guidance, a.seed, prompt, chunk_size=a.chunk_size)
    for system in () if a.quick else ("engine", "diffusers"):  # warm-up
        h.run_once(setup, replace(base, system=system))

    rows = []
    for m in a.frames:
        for name in a.variants:
            spec = replace(base, frames=m, label=name, **VARIANTS[name])
            row = {"variant": name, "frames": m}
            rows.append(row)
            if spec.system == "diffusers" and a.diffusers_max_frames is not None and m > a.diffusers_max_frames:
                row["note"] = f"skipped: diffusers not run above {a.diffusers_max_frames} frames"
                continue
            try:
                r = h.run_once(setup, spec, keep_frames=True, counter=counter)
            except Exception as e:
                if spec.system == "diffusers" and h.is_out_of_memory(e):
                    row["note"] = "skipped: out of memory (diffusers holds every frame in one batch)"
                    torch.cuda.empty_cache()
                    continue
                raise
            s = score_frames(r.frames, clip, prompt if clip is not None else None)
            row.update(seconds=r.seconds, unet_calls=r.unet_calls, frame_evals=r.unet_rows, note=r.note,
                       **{k: getattr(s, k) for k in COLUMNS if hasattr(s, k) and k != "frames"})
            if r.peak_bytes is not None:
                row.update(peak_bytes=r.peak_bytes, peak_above_base=r.peak_above_base)
            elif not a.no_memory:
                mem = h.measure_in_child(setup, spec)
                row.update(peak_bytes=mem.peak_bytes, peak_above_base=mem.peak_above_base)
            print(f"  {name:<34} {m:>4} frames: {r.seconds:7.2f} s, {r.unet_rows} frame evals, "
                  f"{h.fmt_bytes(row.get('peak_bytes'))}, warping error {s.warping_error:.5f}", flush=True)
    counter.remove()

    csv_path = a.out / "compare.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for row in rows:
            w.writerow({k: row.get(k, "") for k in COLUMNS})
    plot_path = save_panels(panels(rows, setup.device.type == "cuda"), a.out / "compare.png")
    print(render(rows, setup, a, prompt, clip is not None))
    print(f"wrote {csv_path} and {plot_path}")
    return rows


def panels(rows: list[dict], cuda: bool) -> list[Panel]:
    def series(key, scale=1.0):
        out = {}
        for name in dict.fromkeys(r["variant"] for r in rows):
            pts = [(r["frames"], r[key] / scale) for r in rows if r["variant"] == name and r.get(key) is not None]
            if pts:
                out[name] = ([x for x, _ in pts], [y for _, y in pts])
        return out

    mem_key = "peak_bytes" if cuda else "peak_above_base"
    mem_title = "peak CUDA memory (GiB)" if cuda else "RSS growth over the RSS before the run (MiB; fresh process)"
    return [
        Panel("seconds per video", "frames", series("seconds"), markers=True),
        Panel(mem_title, "frames", series(mem_key, h.GiB if cuda else h.MiB), markers=True),
        Panel("warping error (DIS flow; MSE in [0,1])", "frames", series("warping_error"), markers=True),
    ]


def render(rows: list[dict], setup, a, prompt: str, with_clip: bool) -> str:
    def f(v, spec):
        return "-" if v is None or v == "" else format(v, spec)

    headers = ["variant", "frames", "s/video", "UNet calls", "frame evals", "peak mem", "flicker", "dyn. degree",
               "warp err", "no-warp err"] + (["CLIP cons.", "CLIP text"] if with_clip else []) + ["note"]
    body = []
    for r in rows:
        if "seconds" not in r:
            body.append([r["variant"], str(r["frames"])] + ["-"] * (len(headers) - 3) + [r.get("note", "")])
            continue
        mem = h.fmt_bytes(r.get("peak_bytes"))
        if r.get("peak_above_base") is not None and setup.device.type != "cuda":
            mem += f" (+{h.fmt_bytes(r['peak_above_base'])})"
        cells = [r["variant"], str(r["frames"]), f(r["seconds"], ".2f"), str(r["unet_calls"]), str(r["frame_evals"]), mem,
                 f(r["temporal_flickering"], ".4f"), f(r["dynamic_degree"], ".3f"), f(r["warping_error"], ".5f"),
                 f(r["zero_flow_error"], ".5f")]
        if with_clip:
            cells += [f(r.get("clip_frame_consistency"), ".4f"), f(r.get("clip_text_score"), ".2f")]
        body.append(cells + [r.get("note", "")])
    mem_note = "peak CUDA memory allocated" if setup.device.type == "cuda" else \
        "peak RSS of the run in a fresh process (+ growth over the RSS before the run)"
    return "\n".join([
        f"\n{setup.describe} on {h.device_name(setup)}; {a.steps} DDIM steps, guidance {a.guidance:g}, seed {a.seed}, "
        f"prompt {prompt!r}; memory = {mem_note}",
        "flicker = VBench temporal flickering (never rank moving videos by it alone); dyn. degree = mean flow px/frame;",
        "warp err = DIS-flow warping error (not comparable with RAFT-based published figures)",
        h.table(headers, body),
    ])


if __name__ == "__main__":
    main()
