"""Quality of the engine's videos on the built-in demo model, per variant: a fixed prompt set
(20 prompts x 3 seeds by default) rendered with the plain paper method, with each temporal
consistency option and sensible combinations of them, with the engine's defaults, without
cross-frame attention and without motion; scored with the measures of `t2vz eval` and with the demo model's
own object read-out (t2vz_desktop/demo_model/evaluate.py: colour, shape and background of the
object in every frame) plus centroid motion: the object's centroid is tracked over the frames, a
line fitted to it gives its velocity, compared with the motion asked for.

    python benchmarks/quality_demo.py --model demo                     # the real table (CPU, minutes)
    python benchmarks/quality_demo.py --model demo --frames 48 --seeds 5 --motion 0.5 0.25 --toward-centre \
        --ablations "paper method" "engine"                             # the consistency check at 48 frames
    python benchmarks/quality_demo.py --tiny --prompts 2 --seeds 1 --frames 3 --steps 4   # smoke run

Every figure is a mean over videos with its 95% confidence interval (normal approximation,
1.96 standard errors); each variant is also compared with the plain paper method on the same
prompts and seeds (paired: the interval is over the per-video differences). Prints a Markdown
table for benchmarks/RESULTS.md and writes per-video rows as CSV.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import harness as h  # noqa: E402
from t2vz_desktop.demo_model import data  # noqa: E402
from t2vz_desktop.demo_model.evaluate import analyse, centroid, evaluation_scenes, object_region  # noqa: E402
from t2vz_desktop.engine.jobs import run_generation  # noqa: E402
from t2vz_desktop.measure import score_frames  # noqa: E402

# The paper's method: every consistency option off, whatever the engine's defaults are.
PAPER = {"attention_window": 0, "noise_window": 0, "background_smoothing": 0.0, "smooth": 0.0}
ABLATIONS = {
    "paper method": {"options": PAPER},
    "sparse-causal (window 1)": {"options": {**PAPER, "attention_window": 1}},
    "window 4": {"options": {**PAPER, "attention_window": 4}},
    "correlated noise 8": {"options": {**PAPER, "noise_window": 8}},
    "background smoothing 0.6": {"options": {**PAPER, "background_smoothing": 0.6}},
    "background smoothing 0.3": {"options": {**PAPER, "background_smoothing": 0.3}},
    "background smoothing 0.15": {"options": {**PAPER, "background_smoothing": 0.15}},
    "smoother 1.0": {"options": {**PAPER, "smooth": 1.0}},
    "smoother 0.5": {"options": {**PAPER, "smooth": 0.5}},
    "smoother 0.25": {"options": {**PAPER, "smooth": 0.25}},
    "smoother 0.1": {"options": {**PAPER, "smooth": 0.1}},
    "window 1 + smoother 0.25": {"options": {**PAPER, "attention_window": 1, "smooth": 0.25}},
    "window 1 + smoother 0.5": {"options": {**PAPER, "attention_window": 1, "smooth": 0.5}},
    "window 1 + noise 8 + smoother 0.5": {"options": {**PAPER, "attention_window": 1, "noise_window": 8, "smooth": 0.5}},
    "all four": {"options": {"attention_window": 1, "noise_window": 8, "background_smoothing": 0.6, "smooth": 0.5}},
    "engine": {},  # the request's defaults, as the CLI and the app run
    "no cross-frame attention": {"cross_frame": False, "options": PAPER},
    "no motion": {"motion": (0.0, 0.0), "options": PAPER},
}
BASELINE = "paper method"
METRICS = ("temporal_flickering", "dynamic_degree", "warping_error", "clip_frame_consistency", "clip_text_score",
           "colour_acc", "shape_acc", "background_acc", "object_found", "object_speed", "motion_error", "seconds")
# Start positions from which the default motion (right and down) keeps the object in view.
START_POSITIONS = ("centre", "top left", "left", "top")
MOTION_TOLERANCE_PX = 0.5  # |measured - asked| velocity, px per frame, for "accurate"


def prompt_set(n: int) -> list[data.Scene]:
    """`n` (at most 40) fixed scenes from evaluate.py's set, ordered so that any 10 consecutive
    ones hold every colour and the shapes rotate: colour i % 10 with shape (i + i // 10) % 4."""
    scenes = evaluation_scenes()  # colour-major: scene 4 * colour + shape
    shapes = len(data.SHAPES)
    chosen = [scenes[(i % 10) * shapes + (i + i // 10) % shapes] for i in range(min(n, len(scenes)))]
    return [replace(s, position=START_POSITIONS[i % len(START_POSITIONS)]) for i, s in enumerate(chosen)]


def object_centroid(image: np.ndarray) -> tuple[float, float] | None:
    """Centroid (x, y) of the object as evaluate.analyse finds it, None when there is none."""
    region = object_region(image)
    return None if region is None else centroid(region)


def object_scores(frames: list[np.ndarray], scene: data.Scene, motion: tuple[float, float]) -> dict:
    readings = [analyse(f) for f in frames]
    points = [(k, c) for k, f in enumerate(frames) if (c := object_centroid(f)) is not None]
    row = {
        "colour_acc": float(np.mean([r.colour == scene.colour for r in readings])),
        "shape_acc": float(np.mean([r.shape == scene.shape for r in readings])),
        "background_acc": float(np.mean([r.background == scene.background for r in readings])),
        "object_found": len(points) / len(frames),
        "velocity_x": None, "velocity_y": None, "object_speed": None, "motion_error": None, "motion_ok": False,
    }
    if len(points) >= max(2, len(frames) // 2):
        k = np.array([p[0] for p in points], np.float64)
        xy = np.array([p[1] for p in points], np.float64)
        vx, vy = np.polyfit(k, xy[:, 0], 1)[0], np.polyfit(k, xy[:, 1], 1)[0]
        err = float(np.hypot(vx - motion[0], vy - motion[1]))
        row.update(velocity_x=float(vx), velocity_y=float(vy), object_speed=float(np.hypot(vx, vy)), motion_error=err,
                   motion_ok=err <= MOTION_TOLERANCE_PX)
    return row


def aimed_motion(setup, a, scene: data.Scene, seed: int) -> tuple[float, float] | None:
    """The asked motion's speed, pointed from the object's centroid in frame 0 to the centre.
    Frame 0 of a video is the one-frame video of the same seed, so one frame tells where the
    object starts; without an object the motion keeps its direction."""
    spec = h.RunSpec("engine", 1, a.steps, a.guidance, seed=seed, prompt=scene.full_caption(), label="aim",
                     options=PAPER)
    result = run_generation(h.engine_request(setup, spec), cache=setup.cache)
    frame = next(iter(result.frames()))
    speed = float(np.hypot(*a.motion)) if a.motion is not None else float(np.hypot(*result.recipe.motion))
    c = object_centroid(frame)
    h_, w_ = frame.shape[:2]
    d = None if c is None else np.array([(w_ - 1) / 2 - c[0], (h_ - 1) / 2 - c[1]])
    if d is None or np.hypot(*d) < 1:
        return a.motion
    d = d / np.hypot(*d)
    return (round(float(speed * d[0]), 4), round(float(speed * d[1]), 4))


def add_sample_args(p: argparse.ArgumentParser, seeds: int) -> None:
    """The weights and the videos scored: prompts of prompt_set, seeds each, frames, steps."""
    h.add_setup_args(p)
    p.add_argument("--prompts", type=int, default=20)
    p.add_argument("--seeds", type=int, default=seeds)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=None, help="default: the model's recommended steps")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_sample_args(p, seeds=3)
    p.add_argument("--guidance", type=float, default=None, help="default: the model's recommended guidance")
    p.add_argument("--motion", type=float, nargs=2, metavar=("DX", "DY"),
                   help="output px per frame (default: the engine's default motion); keep the object in view")
    p.add_argument("--toward-centre", action="store_true",
                   help="per video, turn the motion (same speed) from the object's place in frame 0 toward the "
                        "frame's centre, so that it stays in view (the demo model mostly ignores position words)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--clip", help="CLIP model (folder or cached hub id) for the CLIP measures")
    p.add_argument("--ablations", nargs="+", choices=list(ABLATIONS), default=list(ABLATIONS), metavar="ABLATION")
    p.add_argument("--out", type=Path, default=Path("out/quality-demo"), help="folder for the CSV (default out/quality-demo)")
    a = p.parse_args(argv)
    a.variants, a.baseline = ABLATIONS, BASELINE
    return h.keeping_threads(run, a)


def run(a, setup=None) -> dict:
    """The table for the arguments `a` (main's), on `setup`'s weights (default: built from `a`)."""
    setup = setup or h.setup_from_args(a)
    clip = None
    if a.clip:
        from t2vz_desktop.measure.clip import ClipScorer

        clip = ClipScorer.load(a.clip, setup.device)
    scenes = prompt_set(a.prompts)
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"# quality_demo: {setup.describe}; {len(scenes)} prompts x {a.seeds} seeds x {len(a.ablations)} "
          f"ablations, {a.frames} frames", flush=True)
    rows: list[dict] = []
    started = time.monotonic()
    # Variants take turns on each prompt and seed, so that a machine that slows down or speeds up
    # during the run (other jobs, thermal limits) weighs on every variant alike: run one after the
    # other, two halves of a run read 20% apart in time with no cost in between.
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for i, scene in enumerate(scenes):
            asked = aimed_motion(setup, a, scene, seed) if a.toward_centre else a.motion
            for name in a.ablations:
                variant = dict(a.variants[name])
                if asked is not None and "motion" not in variant:
                    variant["motion"] = tuple(asked)
                spec = h.RunSpec("engine", a.frames, a.steps, a.guidance, seed=seed, prompt=scene.full_caption(),
                                 label=name, **variant)
                t0 = time.perf_counter()
                result = run_generation(h.engine_request(setup, spec), cache=setup.cache)
                frames = list(result.frames())  # decoding (and the smoother) count in the time
                seconds = time.perf_counter() - t0
                motion = result.recipe.motion
                s = score_frames(frames, clip, spec.prompt if clip is not None else None)
                row = {"ablation": name, "prompt": spec.prompt, "seed": seed, "seconds": seconds, "steps": result.recipe.steps,
                       "guidance": result.recipe.guidance, "motion_x": motion[0], "motion_y": motion[1],
                       "temporal_flickering": s.temporal_flickering, "dynamic_degree": s.dynamic_degree,
                       "warping_error": s.warping_error, "clip_frame_consistency": s.clip_frame_consistency,
                       "clip_text_score": s.clip_text_score, **object_scores(frames, scene, motion)}
                rows.append(row)
        print(f"  seed {seed}: {len(rows)} videos, {time.monotonic() - started:.0f} s so far", flush=True)

    csv_path = a.out / "quality_demo.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    summary = summarise(rows, a.ablations, a.baseline)
    print(render(summary, setup, a, rows[0], clip is not None))
    print(f"wrote {csv_path}")
    return {"rows": rows, "summary": summary}


def interval(values: list[float]) -> tuple[float, float] | None:
    """Mean and the half-width of its 95% confidence interval (normal approximation)."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    half = 1.96 * float(np.std(values, ddof=1)) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(np.mean(values)), half


def summarise(rows: list[dict], ablations: list[str], baseline: str = BASELINE) -> dict[str, dict]:
    """Per variant: mean and 95% interval of every metric; against the baseline (the paper
    method), the paired relative change of warping error, dynamic degree and time, and the change
    of object accuracy."""
    out = {}
    base = {(r["prompt"], r["seed"]): r for r in rows if r["ablation"] == baseline}
    for name in ablations:
        rs = [r for r in rows if r["ablation"] == name]
        s = {"videos": len(rs), **{k: interval([r.get(k) for r in rs]) for k in METRICS},
             "motion_acc": interval([float(r["motion_ok"]) for r in rs])}
        paired = [(r, base[(r["prompt"], r["seed"])]) for r in rs if (r["prompt"], r["seed"]) in base]
        if name != baseline and paired:
            for k in ("warping_error", "dynamic_degree", "object_speed", "seconds"):
                ref = np.mean([b[k] for _, b in paired if b[k] is not None])
                diffs = [r[k] - b[k] for r, b in paired if r[k] is not None and b[k] is not None]
                d = interval(diffs)
                s[f"{k}_vs_paper"] = None if d is None or not ref else (d[0] / ref, d[1] / ref)
            acc = [(r["colour_acc"] + r["shape_acc"]) / 2 - (b["colour_acc"] + b["shape_acc"]) / 2 for r, b in paired]
            s["object_acc_vs_paper"] = interval(acc)
        out[name] = s
    return out


def render(summary: dict, setup, a, first: dict, with_clip: bool) -> str:
    def f(v, spec, pct=False):
        if v is None:
            return "-"
        mean, half = v
        if pct:
            return f"{mean:+.0%} ± {half:.0%}" if np.isfinite(half) else f"{mean:+.0%}"
        return f"{format(mean, spec)} ± {format(half, spec.lstrip('+'))}" if np.isfinite(half) else format(mean, spec)

    headers = ["variant", "videos", "flicker", "dyn. degree", "warp err"] + \
        (["CLIP cons.", "CLIP text"] if with_clip else []) + \
        ["colour", "shape", "object found", "object speed px/f", "motion err px/f", "s/video",
         "warp err vs paper", "dyn. vs paper", "speed vs paper", "time vs paper", "object acc. vs paper"]
    body = []
    for name, s in summary.items():
        cells = [name, str(s["videos"]), f(s["temporal_flickering"], ".4f"), f(s["dynamic_degree"], ".3f"),
                 f(s["warping_error"], ".5f")]
        if with_clip:
            cells += [f(s["clip_frame_consistency"], ".4f"), f(s["clip_text_score"], ".2f")]
        cells += [f(s["colour_acc"], ".2f"), f(s["shape_acc"], ".2f"), f(s["object_found"], ".2f"),
                  f(s["object_speed"], ".3f"), f(s["motion_error"], ".2f"), f(s["seconds"], ".2f"),
                  f(s.get("warping_error_vs_paper"), "", True), f(s.get("dynamic_degree_vs_paper"), "", True),
                  f(s.get("object_speed_vs_paper"), "", True),
                  f(s.get("seconds_vs_paper"), "", True), f(s.get("object_acc_vs_paper"), "+.2f")]
        body.append(cells)
    return "\n".join([
        f"\n{setup.describe}; {a.frames} frames, {first['steps']} DDIM steps, guidance {first['guidance']:g}, "
        f"motion ({first['motion_x']:g}, {first['motion_y']:g}) px/frame asked (0 for 'no motion')",
        "mean ± 95% interval over videos; 'vs paper': paired change against the paper method on the same prompts "
        "and seeds (object acc.: mean of colour and shape accuracy, difference in share of frames); colour/shape: "
        "share of frames read back as prompted (evaluate.analyse); object speed: |fitted centroid velocity|, the "
        "motion the object makes, which flicker does not inflate as it does the dynamic degree (mean flow); "
        "motion err: |fitted centroid velocity - asked|; "
        "warp err: DIS flow, the smoother uses Farneback (not comparable with RAFT figures)",
        h.table(headers, body),
    ])


if __name__ == "__main__":
    main()
