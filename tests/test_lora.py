"""LoRA files change the model by their scale; scale 0 leaves it as it was."""

import pytest
import torch

from t2vz_desktop.cli import main
from t2vz_desktop.engine.jobs import GenerationRequest, run_generation
from t2vz_desktop.engine.request import LoraSpec


@pytest.fixture(scope="session")
def tiny_lora(tmp_path_factory, tiny_folder):
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(tiny_folder / "unet")
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():  # make the low-rank update large enough to matter on random weights
        for name, p in unet.named_parameters():
            if "lora_" in name:
                p.mul_(3.0)
    folder = tmp_path_factory.mktemp("lora")
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=get_peft_model_state_dict(unet),
                                              weight_name="style.safetensors")
    return folder / "style.safetensors"


def request(model, loras):
    return GenerationRequest(prompts=["a red circle"], model=str(model), frames=3, width=32, height=32, steps=4,
                             seed=2, device="cpu", loras=loras)


def test_lora_scale_changes_the_video_and_zero_does_not(tiny_folder, tiny_lora, model_cache):
    plain = run_generation(request(tiny_folder, []), cache=model_cache).latents
    zero = run_generation(request(tiny_folder, [LoraSpec(str(tiny_lora), 0.0)]), cache=model_cache).latents
    full = run_generation(request(tiny_folder, [LoraSpec(str(tiny_lora), 1.0)]), cache=model_cache).latents
    assert torch.allclose(plain, zero, atol=1e-5)
    assert (full - plain).abs().max() > 1e-2


def test_lora_flag_and_bad_lora(tiny_folder, tiny_lora, tmp_path, capsys):
    base = ["generate", "x", "--model", str(tiny_folder), "--frames", "2", "--width", "32", "--height", "32",
            "--steps", "3", "-q"]
    assert main(base + ["--lora", str(tiny_lora), "0.5", "--out", str(tmp_path / "a.mp4")]) == 0
    assert main(base + ["--lora", str(tmp_path / "none.safetensors"), "1", "--out", str(tmp_path / "b.mp4")]) == 2
    assert main(base + ["--lora", str(tiny_lora), "strong", "--out", str(tmp_path / "c.mp4")]) == 2
    assert not (tmp_path / "b.mp4").exists() and not (tmp_path / "c.mp4").exists()
