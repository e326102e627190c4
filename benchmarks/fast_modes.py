"""Fast modes against the exact level (issue 25, part 4): seconds, UNet FLOPs, and what they cost.

Per fast mode (request.FAST_SPEEDS) and exact, on the same prompts and seeds:
- seconds per video through the job API (decoding and MP4 export included), median of --repeats;
- UNet FLOPs per video, counted by torch's FlopCounterMode with attention as explicit matmuls (on
  the CPU it counts no scaled_dot_product_attention kernel; matmuls are what diffusers' plain
  AttnProcessor runs, so the figure is the one it would give);
- quality against exact with quality_demo's measures: warping error and dynamic degree (DIS
  flow), and on the demo model colour, shape and background accuracy (evaluate.analyse).

    python benchmarks/fast_modes.py --model demo --prompts 20 --seeds 2     # the real table (CPU)
    python benchmarks/fast_modes.py --tiny --prompts 2 --seeds 1 --frames 3 --steps 6   # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import harness as h  # noqa: E402
import quality_demo as q  # noqa: E402
from t2vz_desktop.engine.jobs import run_generation  # noqa: E402
from t2vz_desktop.engine.request import FAST_SPEEDS  # noqa: E402


@contextmanager
def explicit_attention():
    """scaled_dot_product_attention as softmax(q k^T * scale) v, so that FlopCounterMode sees it."""
    fused = F.scaled_dot_product_attention

    def matmuls(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **_):
        weights = (query @ key.transpose(-2, -1)) * (scale if scale is not None else query.shape[-1] ** -0.5)
        if attn_mask is not None:
            weights = weights.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool \
                else weights + attn_mask
        return weights.softmax(dim=-1) @ value

    F.scaled_dot_product_attention = matmuls
    try:
        yield
    finally:
        F.scaled_dot_product_attention = fused


def unet_flops(setup, spec: h.RunSpec) -> int:
    """FLOPs of every UNet call of one video (FlopCounterMode files them under the UNet's class)."""
    unet = type(setup.model.pipe.unet).__name__
    with explicit_attention(), FlopCounterMode(display=False) as counter:
        run_generation(h.engine_request(setup, spec), cache=setup.cache)
    return sum(counter.get_flop_counts().get(unet, {}).values())


def cached_calls(steps: int) -> tuple[int, int]:
    """(full, shallow) UNet calls of the feature cache over one phase of `steps` steps."""
    from t2vz_desktop.engine.feature_cache import is_full_step

    full = sum(is_full_step(i, 0, steps) for i in range(steps))
    return full, steps - full


def sd15_call_flops(frames: int = 8) -> dict[str, int]:
    """FLOPs of one SD 1.5 UNet call at 512x512 (64x64 latents) on `frames` frames and both
    guidance branches, with cross-frame attention as the engine runs it: in full, as the feature
    cache's shallow branch, and with token merging. Counted on the meta device (shapes only)."""
    import json

    from diffusers import UNet2DConditionModel

    from t2vz_desktop.engine.attention import FrameBatch, RowGroup, install_cross_frame_attention
    from t2vz_desktop.engine.feature_cache import SHALLOW_SKIPS, shallow_branch
    from t2vz_desktop.engine.paths import resources_dir
    from t2vz_desktop.engine.token_merge import DEFAULT_RATIO

    config = json.loads((resources_dir() / "configs" / "sd15" / "unet" / "config.json").read_text())
    batch = 2 * frames
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
        x, text, t = torch.randn(batch, 4, 64, 64), torch.randn(batch, 77, 768), torch.tensor(500)
    batch_frames = FrameBatch(groups=[RowGroup(0, frames, 0, 0), RowGroup(frames, batch, 1, frames)])
    install_cross_frame_attention(unet, batch_frames)
    up = unet.up_blocks[-1]
    first = len(up.resnets) - SHALLOW_SKIPS
    kept = []
    hook = up.resnets[first].register_forward_pre_hook(lambda m, args: kept.append(args[0]))
    counted = {}
    with torch.no_grad(), explicit_attention():
        with FlopCounterMode(display=False) as full:
            unet(x, t, encoder_hidden_states=text)
        hook.remove()
        with FlopCounterMode(display=False) as shallow:
            shallow_branch(unet, x, t, text, kept[0], first)
        batch_frames.merge = DEFAULT_RATIO
        with FlopCounterMode(display=False) as merged:
            unet(x, t, encoder_hidden_states=text)
    counted.update(full=full.get_total_flops(), shallow=shallow.get_total_flops(), merged=merged.get_total_flops())
    return counted


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    q.add_sample_args(p, seeds=2)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per level (median)")
    p.add_argument("--out", type=Path, default=Path("out/fast-modes"))
    a = p.parse_args(argv)
    return h.keeping_threads(run, a)


def run(a) -> dict:
    setup = h.setup_from_args(a)
    names = {speed: "paper method" if speed == "exact" else f"speed {speed}" for speed in ("exact", *FAST_SPEEDS)}
    variants = {name: {"options": {**q.PAPER, "speed": speed}} for speed, name in names.items()}
    quality = q.run(argparse.Namespace(  # quality_demo's own defaults for what this script does not ask
        variants=variants, baseline=names["exact"], ablations=list(names.values()), prompts=a.prompts,
        seeds=a.seeds, frames=a.frames, steps=a.steps, out=a.out, guidance=None, motion=None, toward_centre=False,
        first_seed=0, clip=None), setup)["summary"]
    print(f"\n# fast_modes: {setup.describe}; {a.frames} frames")
    spec = h.RunSpec("engine", a.frames, a.steps, None, options=dict(q.PAPER))
    rows, figures = [], {}
    for speed, name in names.items():
        s = h.RunSpec(**{**spec.__dict__, "options": {**q.PAPER, "speed": speed}})
        seconds = statistics.median(h.run_once(setup, s).seconds for _ in range(max(1, a.repeats)))
        flops = unet_flops(setup, s)
        figures[speed] = {"seconds": seconds, "flops": flops, **{k: quality[name].get(k) for k in (
            "warping_error", "dynamic_degree", "colour_acc", "shape_acc", "background_acc")}}
    exact = figures["exact"]
    for speed, f in figures.items():
        def delta(k):
            if f[k] is None or exact[k] is None:
                return "-"
            return f"{f[k][0]:.3f} ({f[k][0] - exact[k][0]:+.3f})"

        rows.append([speed, f"{f['seconds']:.2f}", f"{exact['seconds'] / f['seconds']:.2f}x",
                     f"{f['flops'] / 1e9:.2f}", f"{exact['flops'] / f['flops']:.2f}x",
                     delta("warping_error"), delta("dynamic_degree"), delta("colour_acc"), delta("shape_acc"),
                     delta("background_acc")])
    print(h.table(["level", "s/video", "speed-up", "UNet GFLOPs/video", "FLOPs ratio", "warp err (vs exact)",
                   "dyn. degree (vs exact)", "colour", "shape", "background"], rows))
    print(f"quality over {quality[names['exact']]['videos']} videos per level (prompts x seeds); "
          f"time: median of {a.repeats} runs of one video, job API with decode and export")
    call = sd15_call_flops()
    full, shallow, merged = call["full"], call["shallow"], call["merged"]
    n_full, n_shallow = cached_calls(50)
    print(f"SD 1.5 UNet call at 512x512, batch 16 (8 frames x 2 guidance branches, cross-frame attention): "
          f"{full / 1e12:.2f} TFLOPs in full, {shallow / 1e12:.2f} shallow ({shallow / full:.0%}), "
          f"{merged / 1e12:.2f} with token merging ({merged / full:.0%}); over 50 steps ({n_full} full, {n_shallow} "
          f"shallow) cache does {50 * full / (n_full * full + n_shallow * shallow):.2f}x fewer UNet FLOPs, merge "
          f"{full / merged:.2f}x, cache+merge {50 * full / (n_full * merged + n_shallow * shallow):.2f}x "
          "(merging counted on the full calls only; one phase of 50 steps)")
    figures["sd15_call_flops"] = call
    return figures


if __name__ == "__main__":
    main()
