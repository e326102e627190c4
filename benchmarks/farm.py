"""Render farm figures (issue 28): 2 worker processes against 1 on a local Ray cluster, the
overhead of a chunk task, and what shipping the anchor's keys/values would cost instead of
recomputing the anchor in every task.

1. Seconds for one video of --frames frames at --chunk frames per task, through the job API:
   local (this process, one thread), then on a fresh local Ray cluster of 1 and of 2 worker
   processes (one thread each). Cold: the cluster's first job (worker start, model load); warm:
   median of --repeats jobs after it.
2. Latent rows per task: the chunk's plus the anchor's (counted by a hook on the UNet).
3. The anchor's self-attention keys and values per denoising step (what a task would receive
   instead of recomputing the anchor): measured by hooks on every attn1.to_k/to_v, for the tiny
   weights and for Stable Diffusion 1.5's UNet at 512x512 on the meta device (shapes only).

    python benchmarks/farm.py                    # tiny weights, 64 frames, chunks of 8
    python benchmarks/farm.py --frames 16 --repeats 1 --steps 4     # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import torch  # noqa: E402

import tiny_models  # noqa: E402
from t2vz_desktop.engine.jobs import GenerationRequest, ModelCache, run_generation  # noqa: E402


def anchor_kv_bytes(unet, latent_hw: tuple[int, int], branches: int = 2, bytes_per_value: int = 2,
                    text_dim: int | None = None) -> int:
    """Bytes of the anchor's self-attention keys and values in one UNet call (one row per
    guidance branch), read from the shapes attn1.to_k/to_v produce."""
    sizes = []
    hooks = [m.register_forward_hook(lambda mod, args, out: sizes.append(out.numel()))
             for name, m in unet.named_modules() if name.endswith(("attn1.to_k", "attn1.to_v"))]
    device = next(unet.parameters()).device
    dim = text_dim or unet.config.cross_attention_dim
    with torch.no_grad():
        unet(torch.randn(branches, unet.config.in_channels, *latent_hw, device=device), torch.tensor(500, device=device),
             encoder_hidden_states=torch.randn(branches, 77, dim, device=device))
    for h in hooks:
        h.remove()
    return sum(sizes) * bytes_per_value


def sd15_anchor_kv_bytes() -> int:
    from diffusers import UNet2DConditionModel

    from t2vz_desktop.engine.paths import resources_dir

    config = json.loads((resources_dir() / "configs" / "sd15" / "unet" / "config.json").read_text())
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
    return anchor_kv_bytes(unet, (64, 64))


def task_rows(job: GenerationRequest, cache: ModelCache) -> list[int]:
    """Latent rows through the UNet: the whole video, the anchor chunk's task, a later chunk's."""
    from dataclasses import replace

    from t2vz_desktop.engine.jobs import text_tables, video_plan
    from t2vz_desktop.engine.models import make_scheduler
    from t2vz_desktop.engine.sampler import sample_video

    model, _ = cache.get(job)
    recipe = job.resolve(model.defaults, model.native_size)
    pipe, device = model.pipe, model.device
    text, plan = text_tables(pipe, recipe, device), video_plan(recipe, model, device)
    rows = []
    hook = pipe.unet.register_forward_pre_hook(lambda m, args: rows.append(args[0].shape[0]))
    counts = []
    for only in (None, (0, job.chunk_size), (job.chunk_size, 2 * job.chunk_size)):
        rows.clear()
        sample_video(pipe.unet, make_scheduler(recipe.scheduler, pipe.scheduler.config), text,
                     replace(plan, frames_only=only), device)
        counts.append(sum(rows))
    hook.remove()
    return counts


def timed(job: GenerationRequest, cache: ModelCache, cluster: str | None = None) -> float:
    started = time.perf_counter()
    run_generation(job, cache=cache, cluster=cluster, previews=False)
    return time.perf_counter() - started


def on_cluster(workers: int, job: GenerationRequest, cache: ModelCache, repeats: int) -> tuple[float, float]:
    """(cold, warm median) seconds of `job` on a fresh local cluster of `workers` processes."""
    import ray

    ray.init(address="local", num_cpus=workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        address = ray.get_runtime_context().gcs_address
        cold = timed(job, cache, address)
        warm = statistics.median(timed(job, cache, address) for _ in range(repeats))
    finally:
        ray.shutdown()
    return cold, warm


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--size", type=int, default=64, help="frame size in px (the tiny VAE halves it)")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    torch.set_num_threads(1)  # as each worker
    folder = tiny_models.save_tiny_folder(Path(tempfile.mkdtemp(prefix="t2vz-farm-bench-")) / "tiny")
    job = GenerationRequest(prompts=["a red circle"], model=str(folder), frames=a.frames, width=a.size, height=a.size,
                            steps=a.steps, seed=1, chunk_size=a.chunk, device="cpu")
    cache = ModelCache()
    model, _ = cache.get(job)
    whole_rows, first_rows, later_rows = task_rows(job, cache)  # also the warm-up
    local = statistics.median(timed(job, cache) for _ in range(a.repeats))
    tasks = -(-a.frames // a.chunk)
    results = {"frames": a.frames, "chunk": a.chunk, "steps": a.steps, "size": a.size, "tasks": tasks,
               "local_s": local, "rows_whole_video": whole_rows, "rows_first_task": first_rows,
               "rows_later_task": later_rows, "rows_all_tasks": first_rows + later_rows * (tasks - 1)}
    for workers in (1, 2):
        cold, warm = on_cluster(workers, job, cache, a.repeats)
        results[f"workers{workers}"] = {"cold_s": cold, "warm_s": warm}
    one, two = results["workers1"]["warm_s"], results["workers2"]["warm_s"]
    results["speedup_2_vs_1"] = one / two
    results["overhead_per_task_s"] = (one - local) / tasks
    tiny_kv = anchor_kv_bytes(model.pipe.unet, (a.size // model.vae_scale_factor,) * 2, bytes_per_value=4)
    results["anchor_kv_bytes_per_step"] = {"tiny_fp32": tiny_kv, "sd15_512px_fp16": sd15_anchor_kv_bytes()}
    print(f"{a.frames} frames, chunks of {a.chunk} ({tasks} tasks), {a.steps} steps, {a.size} px, tiny weights")
    print(f"local (1 thread): {local:.2f} s; UNet rows: whole video {whole_rows}, all tasks "
          f"{results['rows_all_tasks']} ({results['rows_all_tasks'] / whole_rows - 1:+.1%}: the anchor in every task)")
    for workers in (1, 2):
        r = results[f"workers{workers}"]
        print(f"{workers} worker(s): cold {r['cold_s']:.2f} s, warm {r['warm_s']:.2f} s")
    print(f"2 workers vs 1: {results['speedup_2_vs_1']:.2f}x; overhead per task vs local: "
          f"{results['overhead_per_task_s'] * 1000:.0f} ms (anchor recomputed + Ray dispatch + result transfer)")
    kv = results["anchor_kv_bytes_per_step"]
    print(f"anchor keys/values per step: tiny {kv['tiny_fp32'] / 1e6:.2f} MB (fp32), "
          f"SD 1.5 at 512 px {kv['sd15_512px_fp16'] / 1e6:.1f} MB (fp16)")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
