"""Video-to-video editing end to end on tiny random models: ControlNet-guided (Canny) and
Instruct-Pix2Pix. Each frame is steered by its own source frame, chunking does not change the
result, the source's sound is kept, and bad input exits 2 leaving nothing behind."""

import av
import numpy as np
import pytest
import torch

from t2vz_desktop.cli import main
from t2vz_desktop.conditions import canny_condition, fit_frame
from t2vz_desktop.engine import control, edit
from t2vz_desktop.engine.jobs import GenerationRequest, run_generation
from t2vz_desktop.engine.request import ControlSpec, EditSpec
from t2vz_desktop.media import probe_video, read_recipe

import tiny_models

W, H, N = 64, 48, 8


def write_square_video(path, frames=N, fps=10, audio=False):
    """A white square moving right by 3 px per frame on black; optional 440 Hz tone."""
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt = W, H, "yuv420p"
    a = None
    if audio:
        a = c.add_stream("aac", rate=44100)
        a.layout = "mono"
    for i in range(frames):
        img = np.zeros((H, W, 3), np.uint8)
        img[16:32, 4 + 3 * i : 20 + 3 * i] = 255
        vf = av.VideoFrame.from_ndarray(img, format="rgb24")
        vf.pts = i
        for p in v.encode(vf):
            c.mux(p)
    if a is not None:
        total = int(44100 * frames / fps)
        for start in range(0, total, 1024):
            t = np.arange(start, min(start + 1024, total)) / 44100
            af = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                            format="fltp", layout="mono")
            af.sample_rate, af.pts = 44100, start
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    for p in v.encode(None):
        c.mux(p)
    c.close()
    return path


@pytest.fixture(scope="session")
def square_video(tmp_path_factory):
    return write_square_video(tmp_path_factory.mktemp("src") / "square.mp4", audio=True)


@pytest.fixture(scope="session")
def tiny_pix2pix(tmp_path_factory):
    return tiny_models.save_tiny_folder(tmp_path_factory.mktemp("p2p") / "pix2pix", in_channels=8)


def canny_request(model, source, net, **kw):
    e = EditSpec(source=str(source), controls=[ControlSpec("canny", str(net))])
    base = dict(prompts=["a red square"], model=str(model), steps=4, seed=3, width=32, height=32, device="cpu",
                edit=e, chunk_size=0)
    base.update(kw)
    return GenerationRequest(**base)


def test_canny_edit_follows_each_source_frame(tiny_folder, tiny_controlnet, square_video, model_cache, monkeypatch):
    seen = []
    real = control.control_denoiser

    def spy(unet, controls):
        inner = real(unet, controls)

        def call(x, t, emb, frames, with_image, extra=None):
            seen.append((frames.clone(), controls[0].frames[frames.cpu()].clone()))
            return inner(x, t, emb, frames, with_image, extra)

        return call

    monkeypatch.setattr("t2vz_desktop.engine.guided.control_denoiser", spy)
    result = run_generation(canny_request(tiny_folder, square_video, tiny_controlnet), cache=model_cache)
    assert result.recipe.frames == N and (result.recipe.width, result.recipe.height) == (32, 32)
    from t2vz_desktop.media import iter_frames

    expected = [canny_condition(fit_frame(f, 32, 32, "crop")) for f in iter_frames(square_video)]
    frames, conds = seen[-1]
    for k, cond in zip(frames.tolist(), conds):
        assert np.array_equal(cond.numpy(), expected[k]), f"row for frame {k} got another frame's condition"
    # the edges move right with the square
    xs = [np.nonzero(e[..., 0])[1].mean() for e in expected]
    assert xs[-1] - xs[0] > 5


def test_chunked_canny_edit_equals_unchunked(tiny_folder, tiny_controlnet, square_video, model_cache):
    a = run_generation(canny_request(tiny_folder, square_video, tiny_controlnet, chunk_size=3), cache=model_cache)
    b = run_generation(canny_request(tiny_folder, square_video, tiny_controlnet, chunk_size=0), cache=model_cache)
    assert torch.allclose(a.latents, b.latents, atol=1e-4)


def test_controlnet_changes_the_result(tiny_folder, tiny_controlnet, square_video, model_cache):
    strong = run_generation(canny_request(tiny_folder, square_video, tiny_controlnet), cache=model_cache)
    e = EditSpec(source=str(square_video), controls=[ControlSpec("canny", str(tiny_controlnet), scale=0.0)])
    off = run_generation(canny_request(tiny_folder, square_video, tiny_controlnet, edit=e), cache=model_cache)
    assert (strong.latents - off.latents).abs().max() > 1e-3


def test_pix2pix_uses_each_frames_unscaled_latent(tiny_pix2pix, square_video, model_cache, monkeypatch):
    captured = {}
    real = edit.instruct_denoiser

    def spy(unet, latents):
        captured["latents"] = latents
        return real(unet, latents)

    monkeypatch.setattr("t2vz_desktop.engine.guided.instruct_denoiser", spy)
    e = EditSpec(source=str(square_video), instruct=True, image_guidance=1.5)
    req = GenerationRequest(prompts=["make it red"], model=str(tiny_pix2pix), steps=4, seed=1, width=32, height=32,
                            device="cpu", edit=e, chunk_size=3)
    result = run_generation(req, cache=model_cache)
    assert result.recipe.scheduler == "euler-a" and result.recipe.frames == N
    from t2vz_desktop.media import iter_frames

    vae = result.model.pipe.vae
    frame3 = fit_frame(list(iter_frames(square_video))[3], 32, 32, "crop")
    image = torch.from_numpy(frame3).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        mode = vae.encode(image).latent_dist.mode()
    assert torch.allclose(captured["latents"][3], mode[0], atol=1e-4)  # mode, no scaling factor
    unchunked = run_generation(GenerationRequest(**{**req.__dict__, "chunk_size": 0}), cache=model_cache)
    assert torch.allclose(result.latents, unchunked.latents, atol=1e-4)


def test_pix2pix_refuses_a_text_to_image_unet(tiny_folder, square_video, tmp_path, capsys):
    out = tmp_path / "x.mp4"
    code = main(["edit", str(square_video), "--mode", "pix2pix", "-p", "make it red", "--model", str(tiny_folder),
                 "--steps", "3", "--width", "32", "--height", "32", "--out", str(out), "-q"])
    assert code == 2 and "Instruct-Pix2Pix" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_edit_cli_writes_video_with_source_audio_and_recipe(tiny_folder, tiny_controlnet, square_video, tmp_path):
    out = tmp_path / "edited.mp4"
    args = ["edit", str(square_video), "--mode", "canny", "--controlnet", str(tiny_controlnet), "-p", "a red square",
            "--model", str(tiny_folder), "--steps", "3", "--width", "32", "--height", "32", "--start", "2",
            "--out", str(out), "-q"]
    assert main(args) == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.has_audio) == (N - 2, 32, 32, True)
    with av.open(str(out)) as c:
        sound = np.concatenate([f.to_ndarray().ravel() for f in c.decode(c.streams.audio[0])])
    assert np.sqrt(np.mean(sound**2)) > 0.1  # the tone, not silence
    recipe = GenerationRequest.from_json(read_recipe(out))
    assert recipe.edit.start == 2 and recipe.edit.controls[0].mode == "canny"
    again = tmp_path / "again"
    assert main(["edit", "--recipe", str(tmp_path / "edited.json"), "--out", str(again), "-q"]) == 0
    from t2vz_desktop.media import iter_frames

    assert len(list(iter_frames(again))) == N - 2


@pytest.mark.parametrize("case", ["unreadable source", "empty range", "missing controlnet", "scale count",
                                  "pix2pix plus canny", "bad thresholds"])
def test_bad_edit_inputs_exit_2_and_leave_nothing(tiny_folder, tiny_controlnet, square_video, tmp_path, capsys, case):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    src = str(broken) if case == "unreadable source" else str(square_video)
    args = ["edit", src, "--mode", "canny", "--controlnet",
            str(tmp_path / "none") if case == "missing controlnet" else str(tiny_controlnet),
            "-p", "x", "--model", str(tiny_folder), "--steps", "3", "--width", "32", "--height", "32",
            "--out", str(tmp_path / "out.mp4"), "-q"]
    args += {"empty range": ["--start", "50"], "scale count": ["--control-scale", "1", "--control-scale", "2"],
             "pix2pix plus canny": ["--mode", "pix2pix"], "bad thresholds": ["--low", "200", "--high", "100"]}.get(case, [])
    before = set(tmp_path.iterdir())
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("t2vz: error:") and "\n" not in err, err
    assert set(tmp_path.iterdir()) == before


def pix2pix_request(model, source, image_guidance, **kw):
    e = EditSpec(source=str(source), instruct=True, image_guidance=image_guidance)
    base = dict(prompts=["make it red"], model=str(model), steps=4, seed=1, width=32, height=32, device="cpu",
                edit=e, chunk_size=0)
    base.update(kw)
    return GenerationRequest(**base)


def test_image_guidance_changes_the_edit_and_frame_0_is_diffusers_instruct_pix2pix(tiny_pix2pix, square_video,
                                                                                     model_cache):
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline

    from t2vz_desktop.media import iter_frames

    runs = {s: run_generation(pix2pix_request(tiny_pix2pix, square_video, s), cache=model_cache) for s in (1.0, 1.5, 5.0)}
    assert (runs[1.0].latents - runs[1.5].latents).abs().max() > 1e-2
    assert (runs[1.5].latents - runs[5.0].latents).abs().max() > 1e-2
    # Frame 0 attends to itself: it is the image diffusers' pipeline makes from the first source
    # frame with the same seed, guidance and image guidance (same branch order and formula).
    pipe = runs[1.5].model.pipe
    reference = StableDiffusionInstructPix2PixPipeline(
        vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=pipe.unet,
        scheduler=EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False)
    reference.set_progress_bar_config(disable=True)
    first = fit_frame(next(iter(iter_frames(square_video))), 32, 32, "crop")
    recipe = runs[1.5].recipe
    latent = reference("make it red", image=first[None].astype(np.float32) / 255, num_inference_steps=recipe.steps,
                       guidance_scale=recipe.guidance, image_guidance_scale=1.5, output_type="latent",
                       generator=torch.Generator("cpu").manual_seed(1)).images[0]
    # latents reach 30 here: 1e-3 is rounding (measured 4e-4); image guidance 1.0 is 2.6 away
    assert torch.allclose(runs[1.5].latents[0], latent, atol=1e-3)


def test_image_guidance_1_is_two_branch_guidance_on_the_image_branches(tiny_pix2pix, square_video, model_cache,
                                                                        monkeypatch):
    """e_u + s_I (e_i - e_u) + s_T (e_t - e_i) at s_I = 1 is e_i + s_T (e_t - e_i): classifier-free
    guidance between the two branches that see the source image."""
    seen = []
    real = edit.instruct_denoiser

    def spy(unet, latents):
        inner = real(unet, latents)

        def call(x, t, emb, frames, with_image, extra=None):
            seen.append(with_image.clone())
            return inner(x, t, emb, frames, with_image, extra)

        return call

    monkeypatch.setattr("t2vz_desktop.engine.guided.instruct_denoiser", spy)
    three = run_generation(pix2pix_request(tiny_pix2pix, square_video, 1.0), cache=model_cache)
    assert all((~w).sum() == len(w) // 3 for w in seen)  # the branch without the image did run
    from dataclasses import replace

    from t2vz_desktop.engine import jobs

    real_tables = jobs.text_tables
    monkeypatch.setattr(jobs, "text_tables", lambda *a: replace(real_tables(*a), image_guidance=None))
    seen.clear()
    two = run_generation(pix2pix_request(tiny_pix2pix, square_video, 1.0), cache=model_cache)
    assert all(w.all() and len(w) == 2 * N for w in seen)  # (negative + image, prompt + image)
    assert torch.allclose(three.latents, two.latents, atol=1e-4)  # measured 2e-5 on latents up to 30: rounding


def test_depth_edit_without_depth_model_uses_the_cached_default(tiny_folder, tiny_controlnet, square_video, tmp_path,
                                                                monkeypatch):
    """`edit --mode depth` with no --depth-model finds Intel/dpt-hybrid-midas in the local Hugging
    Face cache, as `condition --mode depth` does."""
    import huggingface_hub

    from t2vz_desktop.conditions import DEFAULT_DEPTH_MODEL

    cache = tmp_path / "hub"
    repo = cache / ("models--" + DEFAULT_DEPTH_MODEL.replace("/", "--"))
    revision = "0" * 40
    tiny_models.save_tiny_depth_model(repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))  # read at import otherwise
    out = tmp_path / "depth.mp4"
    args = ["edit", str(square_video), "--mode", "depth", "--controlnet", str(tiny_controlnet), "-p", "a red square",
            "--model", str(tiny_folder), "--steps", "2", "--width", "32", "--height", "32", "--out", str(out), "-q"]
    assert main(args) == 0
    assert probe_video(out).frames == N
    assert GenerationRequest.from_json(read_recipe(out)).edit.controls[0].mode == "depth"
