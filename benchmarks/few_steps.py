"""Few-step sampling (issue 27, part 2): seconds per video, warping error, motion and object
accuracy at 2, 3, 4 and 8 steps with DDIM, Euler ancestral and LCM, against 50-step DDIM and the
demo model's own 20-step Euler ancestral, on the same prompts and seeds. Made for the demo model
(colour, shape and background are read back with its classifiers: other weights score 0 there);
any weights the harness builds run (--tiny, --tiny-sdxl for smoke runs).

The demo model is not distilled, so the LCM rows show what its sampler does to ordinary weights,
not what an LCM gives; they measure where the paper's T and T' (the motion field's timesteps,
mapped to the nearest steps, noise_schedule.motion_steps) land with so few steps.

    python benchmarks/few_steps.py --model demo --prompts 12 --seeds 2     # the table
    python benchmarks/few_steps.py --tiny --prompts 1 --seeds 1 --frames 3  # smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import harness as h  # noqa: E402
import quality_demo as q  # noqa: E402
from t2vz_desktop.engine.jobs import run_generation  # noqa: E402
from t2vz_desktop.engine.noise_schedule import scheduler_motion_steps  # noqa: E402
from t2vz_desktop.measure import score_frames  # noqa: E402

# (sampler, steps); the first two are the references
LEVELS = [("ddim", 50), ("euler-a", 20)] + [(s, n) for s in ("ddim", "euler-a", "lcm") for n in (2, 3, 4, 8)]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    q.add_sample_args(p, seeds=2)
    p.add_argument("--levels", nargs="+", metavar="SAMPLER:STEPS[:T:T']",
                   help="default: every level of LEVELS; T and T' (timesteps) override the model's own")
    a = p.parse_args(argv)
    a.levels = [parse_level(x) for x in a.levels] if a.levels else LEVELS
    return h.keeping_threads(run, a)


def parse_level(text: str) -> tuple:
    """"ddim:4" -> ("ddim", 4); "ddim:4:749:499" -> ("ddim", 4, 749, 499)."""
    sampler, *numbers = text.split(":")
    return (sampler, *map(int, numbers))


def level_name(level: tuple) -> str:
    return f"{level[0]} {level[1]}" + (f" T {level[2]} T' {level[3]}" if len(level) > 2 else "")


def run(a) -> dict:
    setup = h.setup_from_args(a)
    scenes = q.prompt_set(a.prompts)
    print(f"# few_steps: {setup.describe}; {len(scenes)} prompts x {a.seeds} seeds, {a.frames} frames", flush=True)
    rows = []
    for seed in range(a.seeds):
        for scene in scenes:
            for level in a.levels:  # levels take turns, so a machine that slows down weighs on all alike
                sampler, steps = level[:2]
                times = {"t_restart": level[2], "t_warp": level[3]} if len(level) > 2 else {}
                spec = h.RunSpec("engine", a.frames, steps, None, seed=seed, prompt=scene.full_caption(),
                                 options={**q.PAPER, "scheduler": sampler, **times})
                request = h.engine_request(setup, spec)
                started = time.perf_counter()
                result = run_generation(request, cache=setup.cache)
                frames = list(result.frames())
                seconds = time.perf_counter() - started
                s = score_frames(frames)
                rows.append({"level": level_name(level), "seconds": seconds, "warping_error": s.warping_error,
                             "dynamic_degree": s.dynamic_degree, **q.object_scores(frames, scene, result.recipe.motion),
                             "motion_steps": _motion_steps(setup, result.recipe)})
    summary = summarise(rows, [level_name(level) for level in a.levels])
    print(render(summary, a))
    return {"rows": rows, "summary": summary}


def _motion_steps(setup, recipe) -> str:
    """Which steps T and T' landed on ("T=k T'=j" of n), as the loop maps them."""
    from t2vz_desktop.engine.models import make_scheduler

    scheduler = make_scheduler(recipe.scheduler, setup.model.pipe.scheduler.config)
    scheduler.set_timesteps(recipe.steps)
    m = scheduler_motion_steps(scheduler, recipe.t_restart, recipe.t_warp)
    t = scheduler.timesteps
    return f"T=step {m.restart} (t {int(t[m.restart])}), T'=step {m.warp} (t {int(t[m.warp])})"


def summarise(rows: list[dict], levels: list[str]) -> dict:
    out = {}
    for name in levels:
        rs = [r for r in rows if r["level"] == name]
        if not rs:
            continue
        out[name] = {"videos": len(rs), "motion_steps": rs[0]["motion_steps"],
                     **{k: q.interval([r[k] for r in rs]) for k in (
                         "seconds", "warping_error", "dynamic_degree", "colour_acc", "shape_acc", "background_acc",
                         "object_found", "motion_error")},
                     "motion_acc": q.interval([float(r["motion_ok"]) for r in rs])}
    return out


def render(summary: dict, a) -> str:
    def f(v, spec):
        if v is None:
            return "-"
        mean, half = v
        return f"{format(mean, spec)} ± {format(half, spec)}" if np.isfinite(half) else format(mean, spec)

    body = [[name, str(s["videos"]), f(s["seconds"], ".2f"), f(s["warping_error"], ".5f"),
             f(s["dynamic_degree"], ".3f"), f(s["colour_acc"], ".2f"), f(s["shape_acc"], ".2f"),
             f(s["background_acc"], ".2f"), f(s["object_found"], ".2f"), f(s["motion_acc"], ".2f"),
             f(s["motion_error"], ".2f"), s["motion_steps"]] for name, s in summary.items()]
    return "\n".join([
        f"\n{a.frames} frames; mean ± 95% interval over videos; s/video: job API with decoding; warp err: DIS flow; "
        "colour/shape/background: share of frames read as prompted (evaluate.analyse); motion acc.: share of videos "
        f"whose fitted centroid velocity is within {q.MOTION_TOLERANCE_PX} px/frame of the asked motion",
        h.table(["sampler steps", "videos", "s/video", "warp err", "dyn. degree", "colour", "shape", "background",
                 "object found", "motion acc.", "motion err px/f", "T and T'"], body),
    ])


if __name__ == "__main__":
    main()
