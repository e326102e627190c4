"""Work outside the denoising loop that must stay lossless: prompt embeddings kept between jobs,
frames made uint8 on the device."""

import numpy as np
import torch

from t2vz_desktop.engine.decode import to_uint8
from t2vz_desktop.engine.jobs import GenerationRequest, ModelCache, run_generation


def request(model, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(model), frames=3, width=32, height=32, steps=4,
                seed=1, chunk_size=0, device="cpu")
    return GenerationRequest(**{**base, **kw})


def test_a_second_job_with_the_same_prompt_does_not_run_the_text_encoder(tiny_folder):
    cache = ModelCache()
    model, _ = cache.get(request(tiny_folder))
    calls = []
    hook = model.pipe.text_encoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        first = run_generation(request(tiny_folder), cache=cache)
        assert len(calls) == 2  # the prompt and the negative prompt
        second = run_generation(request(tiny_folder, seed=2), cache=cache)
        assert len(calls) == 2
        run_generation(request(tiny_folder, prompts=["a blue square"]), cache=cache)
        assert len(calls) == 4
        again = run_generation(request(tiny_folder), cache=cache)
    finally:
        hook.remove()
    assert torch.equal(first.latents, again.latents) and not torch.equal(first.latents, second.latents)
    fresh = run_generation(request(tiny_folder), cache=ModelCache())
    assert torch.equal(fresh.latents, first.latents)


def test_uint8_on_the_device_rounds_as_diffusers_does():
    images = torch.rand(3, 3, 8, 8)
    images[0, 0, 0, :4] = torch.tensor([0.5 / 255, 1.5 / 255, 254.5 / 255, 1.0])  # halves: to even
    reference = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)  # diffusers' numpy_to_pil path
    assert np.array_equal(to_uint8(images), reference)
