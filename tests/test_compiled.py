"""The lossless compiled level (engine/compiled.py): the UNet's blocks compiled give the exact
level's pictures to float rounding, compile a bounded number of graphs whatever the chunks, say
once that they are optimising, and switch back to exact bit for bit. CPU, tiny weights."""

import numpy as np
import pytest
import torch

from t2vz_desktop.engine.compiled import is_compiled, wants_compile
from t2vz_desktop.engine.jobs import GenerationRequest, ModelCache, run_generation

pytestmark = pytest.mark.compile


@pytest.fixture(scope="module", autouse=True)
def compile_cache(tmp_path_factory):
    """A compile folder the app has never used (no model marked compiled), whose inductor kernels
    are the suite's (conftest.py): the jobs go through the whole first optimisation, without
    paying the C++ compiler again on every run."""
    import os
    from pathlib import Path

    kernels = Path(os.environ["T2VZ_COMPILE_CACHE"]) / "inductor"
    kernels.mkdir(parents=True, exist_ok=True)
    fresh = tmp_path_factory.mktemp("compile")
    (fresh / "inductor").symlink_to(kernels, target_is_directory=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("T2VZ_COMPILE_CACHE", str(fresh))
    yield
    mp.undo()


def request(model, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(model), frames=5, width=32, height=32, steps=4,
                seed=1, chunk_size=0, device="cpu")
    return GenerationRequest(**{**base, **kw})


def graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def test_compiled_equals_exact_to_float_rounding_and_says_it_optimises_once(tiny_folder):
    cache = ModelCache()
    exact = run_generation(request(tiny_folder, speed="exact"), cache=cache)
    events = []
    compiled = run_generation(request(tiny_folder, speed="compiled"), events.append, cache=cache)
    model, _ = cache.get(request(tiny_folder))
    assert is_compiled(model.pipe.unet)
    assert torch.allclose(compiled.latents, exact.latents, atol=1e-4)
    a, b = np.stack(list(exact.frames())), np.stack(list(compiled.frames()))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    said = [e for e in events if e.kind == "optimise"]
    assert said[0].message.startswith("optimising for this computer (first time only)")
    counted = [(e.step, e.total) for e in said if e.total]
    assert counted and counted[-1][0] == counted[-1][1] and [d for d, _ in counted] == list(range(1, len(counted) + 1))
    events.clear()
    run_generation(request(tiny_folder, speed="compiled", seed=2), events.append, cache=cache)
    assert not [e for e in events if e.kind == "optimise"]  # its kernels are cached now
    again = run_generation(request(tiny_folder, speed="exact"), cache=cache)
    assert not is_compiled(model.pipe.unet) and torch.equal(again.latents, exact.latents)


def test_optimising_can_be_skipped_and_the_video_is_then_made_eagerly(tiny_folder):
    from t2vz_desktop.engine.cancel import CancelToken

    cache, token, events = ModelCache(), CancelToken(), []

    def skip_after_first_block(e):
        events.append(e)
        if e.kind == "optimise" and e.step == 1:
            token.skip_optimising()

    exact = run_generation(request(tiny_folder, speed="exact", width=48, height=48), cache=cache)
    made = run_generation(request(tiny_folder, speed="compiled", width=48, height=48), skip_after_first_block,
                          token, cache)
    model, _ = cache.get(request(tiny_folder))
    assert [e.step for e in events if e.kind == "optimise" and e.total] == [1]
    assert any("skipped" in e.message for e in events if e.kind == "status")
    assert not is_compiled(model.pipe.unet) and torch.equal(made.latents, exact.latents)


def test_chunk_layouts_and_videos_do_not_each_compile(tiny_folder):
    cache = ModelCache()
    run_generation(request(tiny_folder, speed="compiled", chunk_size=2), cache=cache)
    after_first = graphs()
    for kw in ({"chunk_size": 3}, {"chunk_size": 0, "frames": 7}, {"videos_per_prompt": 2, "chunk_size": 2},
               {"prompts": ["a", "b"], "chunk_size": 4}):
        run_generation(request(tiny_folder, speed="compiled", **kw), cache=cache)
    assert graphs() == after_first  # batch sizes went dynamic in the first job; layouts are not traced


def test_auto_compiles_on_cuda_only():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not wants_compile("auto", cpu) and wants_compile("auto", cuda)
    assert wants_compile("compiled", cpu) and not wants_compile("exact", cuda)
    assert wants_compile("cache", cuda) and not wants_compile("merge", cpu)


def test_kernels_go_to_the_compile_cache_and_a_cache_that_cannot_hold_them_is_a_warning(tiny_folder, tmp_path,
                                                                                          monkeypatch):
    import os

    from t2vz_desktop.engine.system import compile_cache_dir

    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(compile_cache_dir() / "inductor")  # set by the jobs above
    assert any((compile_cache_dir() / "inductor").rglob("*"))
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("T2VZ_COMPILE_CACHE", str(blocked / "cache"))
    events = []
    cache = ModelCache()
    made = run_generation(request(tiny_folder, speed="compiled", width=40, height=40), events.append, cache=cache)
    said = [e.message for e in events if e.kind == "warning"]
    assert any("writable folder" in w and "without compiling" in w for w in said), said
    exact = run_generation(request(tiny_folder, speed="exact", width=40, height=40), cache=cache)
    assert torch.equal(made.latents, exact.latents)


def test_cli_warns_that_compiled_on_the_cpu_is_slower(tiny_folder, tmp_path, capsys):
    from t2vz_desktop.cli import main

    out = tmp_path / "v.mp4"
    args = ["generate", "a red circle", "--model", str(tiny_folder), "--width", "32", "--height", "32", "--frames",
            "3", "--steps", "3", "--device", "cpu", "--speed", "compiled", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "t2vz: warning: --speed compiled on the CPU" in err and "denoising (compiled blocks)" in err


def test_a_compile_that_fails_is_a_warning_and_the_video_is_made_eagerly(tiny_folder, monkeypatch):
    from t2vz_desktop.engine import jobs

    def broken(*args, **kwargs):
        raise RuntimeError("Compiler: cc not found")

    monkeypatch.setattr(jobs, "optimise", broken)
    cache, events = ModelCache(), []
    made = run_generation(request(tiny_folder, speed="compiled", width=56, height=56), events.append, cache=cache)
    said = [e.message for e in events if e.kind == "warning"]
    assert any("compiling failed (Compiler: cc not found)" in w for w in said), said
    exact = run_generation(request(tiny_folder, speed="exact", width=56, height=56), cache=cache)
    model, _ = cache.get(request(tiny_folder))
    assert not is_compiled(model.pipe.unet) and torch.equal(made.latents, exact.latents)
