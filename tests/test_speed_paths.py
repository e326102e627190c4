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


def test_ahead_keeps_order_raises_the_producers_error_and_stops_when_closed():
    import threading

    from t2vz_desktop.engine.decode import ahead

    assert list(ahead(iter(range(50)), depth=3)) == list(range(50))

    def broken():
        yield 1
        raise ValueError("bad frame")

    got = []
    try:
        for x in ahead(broken()):
            got.append(x)
    except ValueError as e:
        assert str(e) == "bad frame" and got == [1]
    else:
        raise AssertionError("the error was lost")
    made = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    reader = ahead(endless(), depth=2)
    assert next(reader) == 0
    reader.close()  # a cancelled export
    count = len(made)
    assert not any(t.name == "t2vz-decode-ahead" for t in threading.enumerate())
    assert len(made) == count <= 5


def test_export_with_decoding_ahead_writes_the_same_frames(tiny_folder, tmp_path):
    from t2vz_desktop.engine.jobs import export_result
    from t2vz_desktop.media import ExportOptions, iter_frames

    result = run_generation(request(tiny_folder), cache=ModelCache())
    export_result(result, tmp_path / "a", ExportOptions(format="png"))
    written = sorted((tmp_path / "a").glob("*.png"))
    import cv2

    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in written]
    assert np.array_equal(np.stack(frames), np.stack(list(result.frames())))
