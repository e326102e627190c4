"""The benchmark scripts in their smoke modes (tiny components, few frames), so that they cannot
rot: each runs end to end and reports what it promises."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402


def test_bench_engine_times_engine_and_diffusers_and_the_preview(tmp_path, capsys):
    import bench_engine

    report = bench_engine.main(["--tiny", "--frames", "2", "3", "--steps", "48", "--no-memory", "--quick",
                                "--json", str(tmp_path / "bench.json")])
    cells = report["cells"]
    for system in harness.SYSTEMS:
        for m in (2, 3):
            assert cells[f"{system}@{m}"]["seconds"] > 0
    # Same settings, so the same number of frame evaluations: 48 steps, guidance halves counted.
    assert cells["engine@3"]["unet_rows"] == cells["diffusers@3"]["unet_rows"] > cells["engine@2"]["unet_rows"]
    assert report["preview"]["steps"] > 0 and report["preview"]["callback_s_per_step"] > 0
    out = capsys.readouterr().out
    assert "engine not slower than diffusers at 2 frames" in out and "live preview under 5%" in out
    assert json.loads((tmp_path / "bench.json").read_text())["steps"] == 48


def test_peak_memory_is_measured_in_a_fresh_process():
    setup = harness.build_setup("tiny", device="cpu")
    r = harness.measure_in_child(setup, harness.RunSpec("engine", frames=2, steps=4))
    assert r.peak_bytes > 50 * harness.MiB  # torch alone is more than this
    assert 0 <= r.peak_above_base < r.peak_bytes


def test_compare_writes_table_csv_and_plot(tmp_path, capsys):
    import compare
    from test_measure import save_tiny_clip

    clip = save_tiny_clip(tmp_path / "clip")
    rows = compare.main(["--tiny", "--frames", "2", "--steps", "48", "--no-memory", "--quick", "--clip", str(clip),
                         "--out", str(tmp_path / "out")])
    assert [r["variant"] for r in rows] == list(compare.VARIANTS)
    by_name = {r["variant"]: r for r in rows}
    assert all(r["seconds"] > 0 and r["warping_error"] is not None for r in rows)
    assert by_name["engine"]["frame_evals"] == by_name["diffusers"]["frame_evals"]
    assert by_name["engine, no motion"]["dynamic_degree"] < by_name["engine"]["dynamic_degree"]
    assert 0 < by_name["engine"]["clip_frame_consistency"] <= 1
    with open(tmp_path / "out" / "compare.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    assert cv2.imread(str(tmp_path / "out" / "compare.png")) is not None
    out = capsys.readouterr().out
    assert "not comparable with RAFT" in out and "diffusers" in out


def test_compare_runs_sdxl_against_diffusers_sdxl_pipeline(tmp_path):
    """The SDXL comparison's CPU smoke run (the GPU one: --sdxl-random, 1024 px): the engine and
    TextToVideoZeroSDXLPipeline on the same tiny SDXL modules, the same UNet work."""
    import compare

    rows = compare.main(["--tiny-sdxl", "--frames", "2", "--steps", "48", "--no-memory", "--quick",
                         "--out", str(tmp_path / "out")])
    by_name = {r["variant"]: r for r in rows}
    assert by_name["engine"]["frame_evals"] == by_name["diffusers"]["frame_evals"] > 0
    assert all(r["seconds"] > 0 and r["warping_error"] is not None for r in rows)


def test_few_steps_times_and_scores_each_sampler_and_step_count():
    import few_steps

    out = few_steps.main(["--tiny", "--prompts", "1", "--seeds", "1", "--frames", "3",
                          "--levels", "ddim:50", "lcm:2", "euler-a:3"])
    summary = out["summary"]
    assert list(summary) == ["ddim 50", "lcm 2", "euler-a 3"]
    assert summary["ddim 50"]["seconds"][0] > summary["lcm 2"]["seconds"][0] > 0
    assert summary["ddim 50"]["motion_steps"] == "T=step 2 (t 941), T'=step 5 (t 881)"  # SD's T and T' at 50 steps
    assert all(s["warping_error"] is not None for s in summary.values())


def test_quality_demo_scores_every_ablation(tmp_path):
    import quality_demo

    result = quality_demo.main(["--tiny", "--prompts", "2", "--seeds", "1", "--frames", "3", "--steps", "4",
                                "--out", str(tmp_path)])
    summary = result["summary"]
    assert list(summary) == list(quality_demo.ABLATIONS)
    assert all(s["videos"] == 2 for s in summary.values())
    assert all(0 <= s["colour_acc"][0] <= 1 and s["warping_error"] is not None for s in summary.values())
    assert summary["all four"]["warping_error_vs_paper"] is not None and "seconds" in result["rows"][0]
    rows = result["rows"]
    still = [r for r in rows if r["ablation"] == "no motion"]
    assert all(r["motion_x"] == 0 and r["motion_y"] == 0 for r in still)
    assert (tmp_path / "quality_demo.csv").is_file()


def test_fast_modes_prints_time_flops_and_quality_per_level(tmp_path, capsys):
    import fast_modes

    figures = fast_modes.main(["--tiny", "--prompts", "2", "--seeds", "1", "--frames", "3", "--steps", "6",
                               "--repeats", "1", "--out", str(tmp_path)])
    assert figures["cache"]["flops"] < figures["exact"]["flops"]  # cached steps skip the deep blocks
    assert all(figures[level]["warping_error"] is not None for level in ("exact", "cache"))
    call = figures["sd15_call_flops"]
    assert 12e12 < call["full"] < 14e12  # SD 1.5 at 512x512, batch 16: ~0.8 TFLOPs a row
    assert call["shallow"] < call["full"] / 3 and call["merged"] < call["full"]
    assert figures["merge"]["flops"] < figures["exact"]["flops"]
    out = capsys.readouterr().out
    assert "UNet GFLOPs/video" in out and "SD 1.5 UNet call" in out


def test_precision_check_compares_half_precisions_with_float32():
    import gpu_bench
    import harness as h

    setup = h.build_setup("tiny", device="cpu")
    diff = gpu_bench.precisions(setup, lambda: h.RunSpec("engine", 1, 4, 7.5, options={"speed": "exact"}),
                                any_device=True)
    assert diff["bf16"] > 0 and diff["fp16"] >= 0  # bfloat16 keeps 8 bits of mantissa: it differs
    assert setup.model.pipe.unet.dtype == torch.float32 and setup.model.dtype == torch.float32  # put back


def test_quality_demo_prompt_set_is_fixed_and_large_enough():
    import quality_demo

    scenes = quality_demo.prompt_set(20)
    assert len({s.full_caption() for s in scenes}) == 20
    assert scenes == quality_demo.prompt_set(20)
    assert {s.colour for s in scenes} >= {"red", "blue", "green"} and len({s.shape for s in scenes}) == 4


def test_centroid_motion_is_read_from_a_drawn_moving_square():
    import numpy as np
    import quality_demo
    from t2vz_desktop.demo_model import data

    frames = []
    for k in range(6):
        f = np.full((64, 64, 3), data.COLOURS["blue"], np.uint8)
        f[20 + k : 32 + k, 10 + 2 * k : 22 + 2 * k] = data.COLOURS["red"]
        frames.append(f)
    scene = data.Scene("square", "red", "blue", "small", "top left")
    row = quality_demo.object_scores(frames, scene, (2.0, 1.0))
    assert row["velocity_x"] == pytest.approx(2.0, abs=0.05) and row["velocity_y"] == pytest.approx(1.0, abs=0.05)
    assert row["motion_ok"] and row["colour_acc"] == 1.0 and row["background_acc"] == 1.0


def test_gpu_script_runs_its_cpu_smoke_mode(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["bash", str(BENCH / "gpu.sh"), "--tiny", "--steps", "48", "--repeat", "0", "--mem-frames", "2",
         "--diffusers-max-frames", "0", "--options", "compile-cl", "cudagraphs",
         "--json", str(tmp_path / "gpu.json")],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    names = [s["configuration"] for s in report["speed"]]
    assert names[0].startswith("diffusers") and names[1] == "engine (SDPA)"
    compiled = next(s for s in report["speed"] if s["configuration"] == "engine + torch.compile + channels-last")
    assert compiled["seconds"] > 0 and compiled["graphs"] >= 1  # dynamo traced the engine's UNet calls
    cudagraphs = next(s for s in report["speed"] if "CUDA graphs" in s["configuration"])
    assert "need a GPU" in cudagraphs["note"]
    assert report["memory"][0]["engine_peak"] > 0 and "not run" in report["memory"][0]["diffusers_note"]
    assert "speed vs diffusers" in proc.stdout
    fast = {s["configuration"]: s for s in report["speed"] if "fast mode" in s["configuration"]}
    assert set(fast) == {f"engine --speed {level} (fast mode)" for level in ("cache", "merge", "cache+merge")}
    assert any(s["configuration"] == "engine --speed auto (default)" and s["seconds"] > 0 for s in report["speed"])
    assert all(s["seconds"] > 0 for s in fast.values())
    stages = report["stages"]
    assert all(stages[k] > 0 for k in ("text_encoding", "loop", "decode", "encode", "decode_and_encode"))
    assert "outside the loop" in proc.stdout
    forward = report["unet_forward"]
    assert forward["batch"] == 4 and min(forward["plain_ms"], forward["engine_ms"], forward["channels_last_ms"]) > 0


def test_attention_layouts_agree_and_are_timed():
    proc = subprocess.run([sys.executable, str(BENCH / "attention_layout.py"), "--tiny", "--repeats", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| 256") or line.startswith("| 64")]
    assert len(rows) == 2 and "differs" not in proc.stdout and "n/a" not in proc.stdout, proc.stdout


def test_demo_train_step_times_the_training_loop_and_the_bare_step_in_every_mode(capsys):
    import re

    import demo_train_step

    threads = torch.get_num_threads()
    try:
        demo_train_step.main(["--steps", "1", "--rounds", "1", "--batch", "2", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)  # the suite's other tests keep theirs
    times = dict(re.findall(r"round 1: (\S+) +([0-9.]+) s a step", capsys.readouterr().out))
    assert sorted(times) == sorted(demo_train_step.MODES) and all(float(t) > 0 for t in times.values()), times


def test_eager_profile_splits_the_engine_time_and_counts_host_waits(capsys):
    import eager_profile

    report = eager_profile.main(["--tiny"])
    assert all(report[s]["median_s"] > 0 for s in ("diffusers", "engine", "engine-loop"))
    # On the CPU the profiler still sees .item() calls (the scheduler reads its tables with them).
    assert report["engine"]["waits"].get("aten::_local_scalar_dense", 0) > 0
    assert report["engine"]["busiest"] and report["diffusers"]["busiest"]
    assert "engine: loop" in capsys.readouterr().out
