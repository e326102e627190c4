"""Feature caching across steps (engine/feature_cache.py, DeepCache): the shallow branch mirrors
the UNet exactly, cached steps skip the deep blocks, and the result keeps the engine's promises."""

import pytest
import torch

import tiny_models
from t2vz_desktop.cli import main
from t2vz_desktop.engine.feature_cache import FeatureCaching, shallow_branch
from t2vz_desktop.engine.jobs import GenerationRequest, RequestError, run_generation
from t2vz_desktop.engine import sampler

SIZE = 32


def request(model, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(model), frames=6, width=SIZE, height=SIZE, steps=10,
                seed=3, chunk_size=0, device="cpu", speed="cache")
    return GenerationRequest(**{**base, **kw})


@pytest.mark.parametrize("layers, xl", [(1, False), (2, False), (1, True)])
def test_the_shallow_branch_on_this_steps_features_is_the_full_unet(layers, xl):
    """SD's layout and SDXL's (its first down block has no attention, and the pooled text and
    size ids join the timestep embedding)."""
    import tiny_sdxl

    base = tiny_sdxl.tiny_sdxl_unet_config() if xl else tiny_models.tiny_unet_config()
    config = {**base, "layers_per_block": layers}
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config).eval()
    tiny_models.randomize_(unet, 1)
    x, text = torch.randn(3, 4, 8, 8), torch.randn(3, 77, config["cross_attention_dim"])
    added = {"text_embeds": torch.randn(3, tiny_sdxl.POOLED), "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 3)}
    added = added if xl else None
    kept = []
    up = unet.up_blocks[-1]
    first = len(up.resnets) - 2
    hook = up.resnets[first].register_forward_pre_hook(lambda m, a: kept.append(a[0]))
    with torch.no_grad():
        full = unet(x, 500, encoder_hidden_states=text, added_cond_kwargs=added, return_dict=False)[0]
        hook.remove()
        shallow = shallow_branch(unet, x, 500, text, kept[0], first, added=added)
        other_step = shallow_branch(unet, x, 200, text, kept[0], first, added=added)
        if xl:  # the pooled text reaches the shallow branch
            other_text = shallow_branch(unet, x, 500, text, kept[0], first,
                                        added={**added, "text_embeds": torch.randn(3, tiny_sdxl.POOLED)})
            assert not torch.allclose(other_text, full, atol=1e-3)
    assert torch.allclose(shallow, full, atol=1e-5)
    assert not torch.allclose(other_step, full, atol=1e-3)  # the timestep reaches the shallow branch


def test_two_of_every_three_steps_are_shallow_in_each_phase_and_the_last_fifth_is_full(tiny_folder, monkeypatch):
    made = []

    class Counting(FeatureCaching):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.log = []
            made.append(self)

        def before_model(self, i, x, phase):
            x = super().before_model(i, x, phase)
            self.log.append((i, phase, self.full))
            return x

    monkeypatch.setattr(sampler, "FeatureCaching", Counting)
    result = run_generation(request(tiny_folder, steps=20), cache=None)
    assert torch.isfinite(result.latents).all()
    (c,) = made
    starts = {}
    for i, phase, full in c.log:  # anchors alone, then every frame: each phase restarts with a full call
        start = starts.setdefault(phase, i)
        assert full == ((i - start) % 3 == 0 or i >= 16), (i, phase, full)
    assert c.shallow_calls == sum(not full for *_, full in c.log) > 0
    assert c.full_calls == sum(full for *_, full in c.log)


def test_cache_changes_pixels_a_little_and_keeps_chunks_exact(tiny_folder, model_cache):
    exact = run_generation(request(tiny_folder, speed="exact"), cache=model_cache).latents
    cached = run_generation(request(tiny_folder), cache=model_cache).latents
    chunked = run_generation(request(tiny_folder, chunk_size=2), cache=model_cache).latents
    assert not torch.equal(cached, exact)
    assert torch.allclose(chunked, cached, atol=1e-4)  # a chunk keeps its own deep features
    assert (cached - exact).abs().mean() < exact.abs().mean()  # near, not another video


def test_cache_refuses_background_smoothing_with_one_line(tiny_folder, tmp_path, capsys):
    with pytest.raises(RequestError, match="background-smoothing"):
        request(tiny_folder, background_smoothing=0.5).validate()
    out = tmp_path / "clip.mp4"
    code = main(["generate", "a red circle", "--model", str(tiny_folder), "--speed", "fast", "--out", str(out)])
    assert code == 2 and "--speed" in capsys.readouterr().err and not out.exists()


def test_speed_is_in_the_recipe_and_remakes_the_video(tiny_folder, tmp_path):
    from t2vz_desktop.media import read_recipe
    import json

    out = tmp_path / "clip.mp4"
    args = ["generate", "a red circle", "--model", str(tiny_folder), "--width", "32", "--height", "32",
            "--frames", "4", "--steps", "6", "--seed", "2", "--device", "cpu", "--speed", "cache", "--out", str(out), "-q"]
    assert main(args) == 0
    assert json.loads(read_recipe(out))["speed"] == "cache"
