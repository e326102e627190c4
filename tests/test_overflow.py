"""Overflow in half precision (finite.py): an fp16 run whose UNet gives NaN or inf is made again
in a wider precision with one warning, never written as a black video; float32 NaN is a failure."""

import json

import numpy as np
import pytest
import torch
from diffusers import UNet2DConditionModel

import tiny_models
from t2vz_desktop.cli import main
from t2vz_desktop.engine.decode import decode_latents
from t2vz_desktop.engine.finite import NonFinite, fallback_dtype, finite_per_video
from t2vz_desktop.engine.jobs import GenerationRequest, ModelCache, run_generation
from t2vz_desktop.media import read_recipe

SIZE = 32


def request(model, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(model), frames=4, width=SIZE, height=SIZE, steps=5,
                seed=7, chunk_size=0, device="cpu")
    return GenerationRequest(**{**base, **kw})


@pytest.fixture(scope="module")
def overflowing_folder(tmp_path_factory):
    """A tiny model whose UNet output is ~1e5: inf in float16 (largest 65504), finite in float32,
    the way a real SD UNet overflows in fp16 while its fp32 run is fine."""
    path = tiny_models.save_tiny_folder(tmp_path_factory.mktemp("models") / "overflowing")
    unet = UNet2DConditionModel.from_pretrained(path / "unet")
    with torch.no_grad():
        unet.conv_out.weight.mul_(1e6)
        unet.conv_out.bias.fill_(1e5)
    unet.save_pretrained(path / "unet")
    return path


@pytest.fixture(scope="module")
def nan_folder(tmp_path_factory):
    """A tiny model with a NaN weight: broken in every precision (a corrupt checkpoint)."""
    path = tiny_models.save_tiny_folder(tmp_path_factory.mktemp("models") / "nan")
    unet = UNet2DConditionModel.from_pretrained(path / "unet")
    with torch.no_grad():
        unet.conv_in.weight[0, 0, 0, 0] = float("nan")
    unet.save_pretrained(path / "unet")
    return path


def warnings_of(events):
    return [e.message for e in events if e.kind == "warning" and "overflow" in e.message]


def test_fp16_overflow_is_made_again_in_float32_with_one_warning(overflowing_folder):
    events, cache = [], ModelCache(capacity=2)
    result = run_generation(request(overflowing_folder, dtype="fp16"), events.append, cache=cache)
    said = warnings_of(events)
    # one wording for a whole job and for one video of several (below)
    assert said == ["the model's output overflowed (NaN or inf) in float16 by step 1; making it again in float32"]
    assert torch.isfinite(result.latents).all()
    assert result.video_recipe(0).dtype == "fp32"  # the recipe re-makes it the way that worked
    direct = run_generation(request(overflowing_folder, dtype="fp32"), cache=cache)
    assert torch.equal(result.latents, direct.latents)
    frames = np.stack(list(result.frames(0)))
    assert frames.shape == (4, SIZE, SIZE, 3)


def test_the_loop_stops_at_the_first_preview_when_every_video_overflowed(overflowing_folder):
    cache = ModelCache(capacity=2)
    model, _ = cache.get(request(overflowing_folder, dtype="fp16"))
    calls = []
    model.pipe.unet.register_forward_hook(lambda *a: calls.append(1))
    events = []
    run_generation(request(overflowing_folder, dtype="fp16", steps=10), events.append, cache=cache)
    assert len(calls) == 1  # the fp16 run stopped after its first step; the fp32 run is another UNet


def test_only_the_video_that_overflowed_is_made_again(tiny_folder):
    cache = ModelCache(capacity=2)
    prompts = ["a red circle", "a blue square"]
    model, _ = cache.get(request(tiny_folder, dtype="fp16", prompts=prompts))
    second = run_generation(request(tiny_folder, dtype="fp16", prompts=prompts[1:]), cache=cache).latents
    plain = run_generation(request(tiny_folder, dtype="fp16", prompts=prompts), cache=cache)
    emb_second = model.pipe.text_encoder(model.pipe.tokenizer(
        prompts[1], padding="max_length", max_length=model.pipe.tokenizer.model_max_length,
        return_tensors="pt").input_ids)[0].to(torch.float16)

    def overflow_second(module, args, kwargs, out):  # rows conditioned on the second prompt overflow
        rows = (kwargs["encoder_hidden_states"] == emb_second).flatten(1).all(1)
        return (torch.where(rows[:, None, None, None], torch.full_like(out[0], float("inf")), out[0]),)

    hook = model.pipe.unet.register_forward_hook(overflow_second, with_kwargs=True)
    try:
        events = []
        result = run_generation(request(tiny_folder, dtype="fp16", prompts=prompts), events.append,
                                previews=False, cache=cache)
    finally:
        hook.remove()
    said = warnings_of(events)
    assert said == ["video 2 of 2: the model's output overflowed (NaN or inf) in float16; making it again in float32"]
    assert torch.equal(result.latents[:4], plain.latents[:4])  # video 1 kept as made
    assert not torch.equal(result.latents[4:], second)  # video 2 made again, in float32
    again = run_generation(request(tiny_folder, dtype="fp32", prompts=prompts[1:]), cache=cache)
    assert torch.equal(result.latents[4:], again.latents)
    assert [result.video_recipe(v).dtype for v in range(2)] == ["fp16", "fp32"]


def test_cli_makes_the_video_in_float32_and_says_so_once(overflowing_folder, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    args = ["generate", "a red circle", "--model", str(overflowing_folder), "--width", "32", "--height", "32",
            "--frames", "4", "--steps", "4", "--device", "cpu", "--dtype", "fp16", "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.count("overflowed") == 1, err
    assert json.loads(read_recipe(out))["dtype"] == "fp32"
    bars = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("denoising:")]
    assert bars[-1].startswith("denoising: 100%")  # the float32 run counts its own steps to the end


@pytest.mark.parametrize("quiet", [["-q"], []])
def test_nan_in_float32_fails_with_one_line_and_writes_nothing(nan_folder, tmp_path, capsys, quiet):
    out = tmp_path / "clip.mp4"
    args = ["generate", "a red circle", "--model", str(nan_folder), "--width", "32", "--height", "32",
            "--frames", "4", "--steps", "4", "--device", "cpu", "--dtype", "fp16", "--out", str(out), *quiet]
    assert main(args) == 1
    err = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    assert err[-1].startswith("t2vz: failed:") and "in float32 by step 1, the highest precision t2vz runs in: the model's weights give NaN" in err[-1], err
    assert not list(tmp_path.iterdir())


def test_fallback_precisions():
    cpu = torch.device("cpu")
    assert fallback_dtype(torch.float16, cpu) == torch.float32
    assert fallback_dtype(torch.bfloat16, cpu) == torch.float32
    assert fallback_dtype(torch.float32, cpu) is None


def test_finite_per_video_reads_video_major_rows():
    x = torch.zeros(6, 4, 2, 2)
    x[4, 1, 0, 0] = float("inf")
    assert finite_per_video(x, 2).tolist() == [True, False]
    assert finite_per_video(x, 3).tolist() == [True, True, False]


def test_a_float32_vae_that_gives_nan_raises():
    vae = torch.nn.Module()
    vae.config = type("C", (), {"scaling_factor": 1.0, "shift_factor": None})()
    vae.dtype = torch.float32
    vae.decode = lambda z, return_dict=False: (torch.full((len(z), 3, 4, 4), float("nan")),)
    with pytest.raises(NonFinite, match="float32"):
        decode_latents(vae, torch.ones(2, 4, 2, 2))
