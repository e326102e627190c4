"""The built-in demo model: its data, its tokenizer, and a tiny end-to-end training run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from t2vz_desktop import PASSIVE_SET_HERE, TRAINER_MODULE, openmp_wait_policy, runs_module
from t2vz_desktop.demo_model import data
from t2vz_desktop.demo_model.evaluate import analyse, classify_shape, nearest_colour, position_of
from t2vz_desktop.demo_model.tokenizer import build_tokenizer


# ---------------------------------------------------------------- data


def test_every_combination_is_drawn_once_per_cycle_and_colours_differ():
    combos = data.all_scenes()
    assert len(combos) == len(data.SHAPES) * 10 * 9 * len(data.SIZES) * len(data.POSITIONS)
    scenes = data.sample_scenes(len(combos), seed=3)
    assert set(scenes) == set(combos)
    assert all(s.colour != s.background for s in scenes)


@pytest.mark.parametrize("mode", data.PLACEMENTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_drawing_matches_caption_colours(seed, mode):
    rng = np.random.default_rng(seed)
    for scene in data.sample_scenes(200, seed):
        cx, cy, r, angle = data.placement(scene, rng, mode)
        image = data.draw(scene, cx, cy, r, angle)
        n = data.IMAGE_SIZE
        assert image.shape == (n, n, 3) and image.dtype == np.uint8
        # The whole object is inside the image and its centre in the third the caption names.
        assert data.extent(scene.shape, r) < min(cx, cy, n - cx, n - cy), scene
        assert position_of(cx, cy) == ("centre" if scene.position == "centre" else scene.position), scene
        lo, hi = data.SIZE_RANGE[scene.size] if mode == "continuous" else \
            (0.92 * data.SIZE_RADIUS[scene.size], 1.08 * data.SIZE_RADIUS[scene.size])
        assert lo <= r <= hi and (mode == "continuous" or angle == 0), scene
        # The object's inside has exactly the named RGB, the far corner the background's.
        centre = image[int(cy), int(cx)]
        assert tuple(centre) == data.COLOURS[scene.colour], scene
        far = image[0, n - 1] if cx < n / 2 or cy > n / 2 else image[n - 1, 0]
        assert tuple(far) == data.COLOURS[scene.background], scene
        assert nearest_colour(centre) == scene.colour
        assert scene.colour != scene.background


def test_edges_are_anti_aliased():
    image = data.render(data.Scene("circle", "white", "black", "large", "centre"), np.random.default_rng(0))
    levels = np.unique(image[..., 0])
    assert len(levels) > 5  # not just the two fill values


def test_captions_name_colour_and_shape_and_sometimes_drop_the_rest():
    scene = data.Scene("star", "orange", "white", "small", "top left")
    assert scene.full_caption() == "a small orange star in the top left on a white background"
    rng = np.random.default_rng(0)
    captions = {data.random_caption(scene, rng) for _ in range(200)}
    assert "an orange star" in captions
    assert all("orange star" in c for c in captions)
    assert len(captions) == 8


@pytest.mark.parametrize("mode", data.PLACEMENTS)
def test_contour_classifier_reads_the_renderer_back(mode):
    rng = np.random.default_rng(7)
    wrong = []
    for scene in data.sample_scenes(300, 7):
        reading = analyse(data.render(scene, rng, mode))
        if (reading.colour, reading.background, reading.shape, reading.position) != (
                scene.colour, scene.background, scene.shape, scene.position):
            wrong.append((scene, reading))
    # Upright shapes are read back exactly; a small square turned near 45 degrees can round off
    # into a circle at 64 px (2 of these 300).
    assert len(wrong) <= (0 if mode == "fixed" else 3), wrong
    assert classify_shape(np.zeros((64, 64), np.uint8)) is None


# ---------------------------------------------------------------- tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tok")
    build_tokenizer().save_pretrained(folder)
    reloaded = PreTrainedTokenizerFast.from_pretrained(folder)
    assert AutoTokenizer.from_pretrained(folder)("a red star").input_ids == reloaded("a red star").input_ids
    return reloaded


def test_whole_words_are_single_tokens(tokenizer):
    ids = tokenizer("A Small RED star, in the top-left!").input_ids
    assert tokenizer.convert_ids_to_tokens(ids) == [
        "[BOS]", "a", "small", "red", "star", "in", "the", "top", "left", "[EOS]"]
    assert tokenizer("a grey square in the center").input_ids == tokenizer("a gray square in the centre").input_ids


def test_unknown_words_map_to_unk(tokenizer):
    assert tokenizer.unk_token_id is not None
    ids = tokenizer("a red zebra").input_ids
    assert ids[3] == tokenizer.unk_token_id
    assert tokenizer.unk_token_id not in tokenizer("a red star on a blue background").input_ids


def test_pads_like_clip_and_longest_caption_fits(tokenizer):
    longest = max((s.full_caption() for s in data.all_scenes()), key=lambda c: len(c.split()))
    out = tokenizer(longest, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt")
    ids = out.input_ids[0].tolist()
    assert len(ids) == tokenizer.model_max_length
    assert ids[len(longest.split()) + 1] == tokenizer.eos_token_id  # nothing cut off
    assert ids[-1] == tokenizer.pad_token_id
    assert tokenizer.batch_decode(out.input_ids, skip_special_tokens=True)[0] == longest
    assert tokenizer(["a red star", ""], padding="longest", return_tensors="pt").input_ids.shape == (2, 5)


# ---------------------------------------------------------------- training


def test_tiny_training_run_saves_a_loadable_pipeline(tmp_path):
    from diffusers import StableDiffusionPipeline

    from t2vz_desktop.demo_model import train

    folder = tmp_path / "demo"
    argv = ["--tiny", "--out", str(folder), "--threads", "1", "--vae-steps", "40", "--unet-steps", "40",
            "--judge-every", "15", "--judge-per-shape", "1"]
    result = train.main(argv)
    assert np.mean(result.vae_losses[-5:]) < np.mean(result.vae_losses[:5])
    assert np.mean(result.unet_losses[-10:]) < np.mean(result.unet_losses[:10])

    with open(folder / "training_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["phase"] for r in rows} == {"vae", "unet"} and len(rows) == 80
    defaults = json.loads((folder / "t2vz.json").read_text())
    assert defaults["height"] == defaults["width"] == data.IMAGE_SIZE
    command = next(line for line in (folder / "README.md").read_text().splitlines()
                   if line.startswith("python -m t2vz_desktop.demo_model.train"))
    again = train.parse_args(command.split()[3:])  # the card's re-make command makes this run again
    ran = train.parse_args(argv)
    assert (again.tiny, again.vae_steps, again.unet_steps, again.num_images, again.schedule, again.judge_every) == (
        ran.tiny, ran.vae_steps, ran.unet_steps, ran.num_images, ran.schedule, 15)
    # judged every 15 steps and at the end, on one still per shape; the card says which step was kept
    judging = json.loads((folder / "training_info.json").read_text())["judging"]
    assert [j["step"] for j in judging["judgements"]] == [15, 30, 40] and judging["stills"] == 4
    card = (folder / "README.md").read_text()
    assert f"step {judging['chosen_step']}'s, which drew" in card
    from t2vz_desktop.demo_model.card import WAIT_POLICY_TEXT

    policy = json.loads((folder / "training_info.json").read_text())["openmp_wait_policy"]
    assert f"up to 1 thread{WAIT_POLICY_TEXT[policy]}." in card  # one thread: no other jobs to blame
    assert not list(tmp_path.glob(".demo.*"))  # the temporary folder was renamed into place

    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
    assert pipe.tokenizer.unk_token_id is not None
    assert 2 ** (len(pipe.vae.config.block_out_channels) - 1) == pipe.vae_scale_factor
    pipe.set_progress_bar_config(disable=True)
    n = data.IMAGE_SIZE
    image = pipe("a red circle on a blue background", num_inference_steps=3, guidance_scale=5.0, height=n, width=n,
                 generator=torch.Generator().manual_seed(0), output_type="np").images
    assert image.shape == (1, n, n, 3) and np.isfinite(image).all()


def test_recommended_steps_keep_t941_and_t881_apart():
    from t2vz_desktop.demo_model.model import SCHEDULES, build_sample_scheduler
    from t2vz_desktop.demo_model.train import DEFAULTS

    for schedule in SCHEDULES:
        scheduler = build_sample_scheduler(schedule)
        scheduler.set_timesteps(DEFAULTS["steps"])
        steps = scheduler.timesteps.numpy()
        assert np.abs(steps - 941).argmin() != np.abs(steps - 881).argmin(), schedule


def test_zero_snr_schedule_has_no_signal_at_t999_and_sampling_starts_from_pure_noise():
    """Lin et al. 2023's recipe (train.py --schedule zero-snr): no signal at t=999 in training,
    v-prediction, and a first sampling step at t=999 that sees pure noise."""
    from t2vz_desktop.demo_model.model import build_sample_scheduler, build_train_scheduler
    from t2vz_desktop.demo_model.train import DEFAULTS

    train_schedule = build_train_scheduler("zero-snr")
    assert float(train_schedule.alphas_cumprod[-1]) == 0.0
    assert train_schedule.config.prediction_type == "v_prediction"
    sampler = build_sample_scheduler("zero-snr")
    sampler.set_timesteps(DEFAULTS["steps"])
    assert int(sampler.timesteps[0]) == 999 and float(sampler.alphas_cumprod[999]) == 0.0
    assert sampler.config.prediction_type == "v_prediction"


def test_sd_schedule_is_sd15s_and_samples_as_the_model_trained_on_it():
    from t2vz_desktop.demo_model.model import build_sample_scheduler, build_train_scheduler
    from t2vz_desktop.demo_model.train import DEFAULTS

    train_schedule = build_train_scheduler("sd")
    # SD 1.x keeps sqrt(alpha_bar) = 0.068 of the picture at t=999: the leak offset noise hides.
    assert float(train_schedule.alphas_cumprod[-1]) ** 0.5 == pytest.approx(0.068, abs=5e-4)
    assert train_schedule.config.prediction_type == "epsilon"
    sampler = build_sample_scheduler("sd")
    sampler.set_timesteps(DEFAULTS["steps"])
    assert int(sampler.timesteps[0]) == 951 and int(sampler.timesteps[-1]) == 1  # SD's leading spacing
    # SD 1.x's sampler settings (its scheduler_config.json with diffusers' defaults for the keys it lacks).
    sd15 = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type="epsilon",
                rescale_betas_zero_snr=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")
    assert {k: sampler.config[k] for k in sd15} == sd15
    with pytest.raises(KeyError):
        build_train_scheduler("cosine")


def test_upright_share_draws_that_share_of_polygons_upright_and_no_extra_randomness_at_zero():
    scenes = data.sample_scenes(4000, 0)
    polygons = [s for s in scenes if s.shape != "circle"]
    angles = [data.placement(s, np.random.default_rng(i), "continuous", 0.5)[3] for i, s in enumerate(polygons)]
    assert np.mean([a == 0.0 for a in angles]) == pytest.approx(0.5, abs=0.03)
    assert all(0 <= a < data.SYMMETRY[s.shape] for a, s in zip(angles, polygons))
    # 0 makes the data of the recipe before the option, image for image.
    old, _ = data.make_dataset(300, 0, "continuous")
    again, _ = data.make_dataset(300, 0, "continuous", 0.0)
    assert np.array_equal(old, again)


def test_shape_weights_give_each_shape_its_share_and_each_shape_every_combination_in_turn():
    n = 25920
    scenes = data.sample_scenes(n, 0, {"circle": 0.6, "square": 1.4})
    counts = {shape: sum(s.shape == shape for s in scenes) for shape in data.SHAPES}
    # 0.6 : 1.4 : 1 : 1 of 25,920
    assert counts == {"circle": 3888, "square": 9072, "triangle": 6480, "star": 6480}
    assert data.shape_counts(n, {"circle": 0.6, "square": 1.4}) == counts
    # Within a shape, every combination is drawn once before any is drawn again: 9,072 squares
    # are 5 cycles of its 1,620 combinations and 972 more, each at most once.
    squares = [s for s in scenes if s.shape == "square"]
    per_combination = {}
    for scene in squares:
        per_combination[scene] = per_combination.get(scene, 0) + 1
    assert len(per_combination) == len(data.all_scenes()) // len(data.SHAPES)
    assert set(per_combination.values()) == {5, 6}
    # The shapes are shuffled together, not laid out in runs.
    assert len({s.shape for s in scenes[:20]}) > 1
    # Largest remainders: the counts always sum to n.
    assert sum(data.shape_counts(7, {"star": 3.3}).values()) == 7
    # None draws the recipe before the option, bit for bit; equal weights balance it anew.
    assert data.sample_scenes(300, 0, None) == data.sample_scenes(300, 0)
    assert data.shape_counts(400, {}) == dict.fromkeys(data.SHAPES, 100)
    for bad in ({"hexagon": 1.0}, {"square": 0.0}, {"square": float("nan")}, {"square": -1.0}):
        with pytest.raises(ValueError):
            data.shape_counts(10, bad)


def test_eps_loss_weight_is_min_snr():
    from t2vz_desktop.demo_model.train import eps_loss_weight

    snr = torch.tensor([0.01, 1.0, 5.0, 20.0])
    # epsilon-loss = SNR x0-loss, so the x0 weight is weight * SNR = min(SNR, 5) (Hang et al. 2023).
    assert (eps_loss_weight(snr, 5.0) * snr).tolist() == pytest.approx([0.01, 1.0, 5.0, 5.0])


def test_a_mid_share_draws_that_share_of_timesteps_from_the_middle_and_none_draws_as_ddpm():
    from t2vz_desktop.demo_model.model import MID_TIMESTEPS
    from t2vz_desktop.demo_model.train import training_timesteps

    uniform = torch.randint(0, 1000, (4096,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(training_timesteps(4096, 1000, 0.0, torch.Generator().manual_seed(3)), uniform)
    low, high = MID_TIMESTEPS
    only_mid = training_timesteps(4096, 1000, 1.0, torch.Generator().manual_seed(3))
    assert low <= only_mid.min() and only_mid.max() < high
    half = training_timesteps(40_000, 1000, 0.5, torch.Generator().manual_seed(3))
    in_mid = ((half >= low) & (half < high)).float().mean().item()
    assert in_mid == pytest.approx(0.5 + 0.5 * (high - low) / 1000, abs=0.01)  # 0.7
    assert half.min() == 0 and half.max() == 999  # the ends are still drawn


def test_v_loss_weight_is_min_snr_in_x0_terms_with_a_floor_for_pure_noise():
    from t2vz_desktop.demo_model.train import v_loss_weight

    snr = torch.tensor([0.0, 1.0, 4.0, 9.0, 99.0])
    weight = v_loss_weight(snr, 5.0, 0.1)
    # v-loss = (SNR + 1) x0-loss, so the x0 weight is weight * (SNR + 1) = min(SNR, 5) + 0.1.
    assert (weight * (snr + 1)).tolist() == pytest.approx([0.1, 1.1, 4.1, 5.1, 5.1])
    assert v_loss_weight(snr, 5.0, 0.0)[0] == 0.0  # without the floor t=999 would learn nothing


def test_mask_layers_keeps_the_object_shaped_layers_and_never_none():
    from t2vz_desktop.demo_model.mask_layers import MIN_SCORE, choose

    assert choose({"a": MIN_SCORE + 0.5, "b": 0.6, "c": MIN_SCORE}) == ["a", "c"]
    assert choose({"a": 1.1, "b": 0.6}) == ["a"]  # none object-shaped enough: the best one
    assert choose({}) == []


def test_train_flags_reach_the_settings(tmp_path):
    from t2vz_desktop.demo_model.train import parse_args

    s = parse_args(["--schedule", "sd", "--upright-share", "0.25", "--offset-noise", "0.3", "--snr-gamma", "10",
                    "--out", str(tmp_path / "m")])
    assert (s.schedule, s.upright_share, s.offset_noise, s.snr_gamma) == ("sd", 0.25, 0.3, 10.0)
    assert parse_args(["--out", str(tmp_path / "m")]).snr_gamma == 5.0  # Hang et al.'s recommended gamma
    tiny = ["--tiny", "--out", str(tmp_path / "m")]
    assert (parse_args(tiny).unet_batch, parse_args(tiny + ["--unet-batch", "4"]).unet_batch) == (8, 4)
    assert parse_args(["--out", str(tmp_path / "m")]).unet_batch == 48
    assert (parse_args(tiny).precision, parse_args(tiny + ["--precision", "bf16"]).precision) == ("fp32", "bf16")
    # the built-in model wherever it is run from (it wrote ./resources/models/demo in the caller's folder)
    from t2vz_desktop.engine.models import demo_model_dir

    assert parse_args([]).out == demo_model_dir()


BAD_TOOL_INPUT = [
    ("train", ["--upright-share", "1.5"], "--upright-share: must be between 0 and 1 (got 1.5)"),
    ("train", ["--offset-noise", "-0.1"], "--offset-noise: must be between 0 and 1"),
    ("train", ["--schedule", "cosine"], "invalid choice: 'cosine'"),
    ("train", ["--minutes", "-3"], "--minutes: must be above 0 (got -3)"),
    ("train", ["--minutes", "nan"], "--minutes: must be a finite number"),
    ("train", ["--minutes", "1e400"], "--minutes: must be a finite number"),
    ("train", ["--minutes", "abc"], "--minutes: 'abc' is not a number"),
    ("train", ["--threads", "0"], "--threads: must be at least 1"),
    ("train", ["--unet-steps", "1.5"], "--unet-steps: '1.5' is not an integer"),
    ("train", ["--snr-gamma", "0"], "--snr-gamma: must be above 0 (got 0)"),
    ("train", ["--seed", "-1"], "--seed: must be between 0 and 4294967295"),
    ("train", ["--shape-weights", "sqare=2"], "--shape-weights: unknown shape 'sqare' (shapes: circle, square"),
    ("train", ["--shape-weights", "square=0"], "--shape-weights: shape weights must be numbers above 0"),
    ("train", ["--shape-weights", "square"], "--shape-weights: 'square' is not SHAPE=WEIGHT (once per shape)"),
    ("train", ["--shape-weights", "star=1,star=2"], "'star=2' is not SHAPE=WEIGHT (once per shape)"),
    ("train", ["--precision", "fp16"], "--precision: invalid choice: 'fp16'"),
    ("train", ["--judge-every", "-1"], "--judge-every: must be at least 0 (got -1)"),
    ("train", ["--judge-per-shape", "0"], "--judge-per-shape: must be between 1 and 256 (got 0)"),
    # above 88 the scene list of the first version never filled: training hung after the VAE phase
    ("train", ["--judge-per-shape", "257"], "--judge-per-shape: must be between 1 and 256 (got 257)"),
    ("evaluate", ["NOT_A_MODEL"], "is not a model folder (no model_index.json in it)"),
    ("evaluate", ["--sweep", "3,x"], "--sweep: 'x' is not a number"),
    ("evaluate", ["NOT_A_MODEL/none"], "NOT_A_MODEL/none does not exist"),
    ("mask_layers", ["NOT_A_MODEL/broken.safetensors"], "is a file, not a model folder"),
    ("app", ["--self-test", "--model", ""], "--model: no model named"),
    ("evaluate", ["NOT_A_MODEL_INCOMPLETE"], "is incomplete: no unet/"),
    ("evaluate", ["NOT_A_MODEL_BUT_DIFFUSERS"], "has no t2vz.json: this measures a demo model"),
    ("mask_layers", ["NOT_A_MODEL_INCOMPLETE"], "is incomplete: no unet/"),
    # weights of another part: a 94-line traceback ("Tensor on device meta"), exit 1
    ("evaluate", ["NOT_A_MODEL_SWAPPED", "--seeds", "1", "--no-write"], "the unet weights in"),
    ("mask_layers", ["NOT_A_MODEL_SWAPPED"], "the unet weights in"),
    ("evaluate", ["--seeds", "0"], "--seeds: must be at least 1"),
    ("evaluate", ["--grid", "NOT_A_MODEL"], "give a .png or .jpg file name"),
    ("evaluate", ["--grid", "nowhere/grid.png"], "its folder does not exist"),
    ("evaluate", ["--sweep", ","], "names no guidance scale"),
    ("evaluate", ["--sweep", "1e999"], "must be a finite number"),
    ("mask_layers", ["NOT_A_MODEL_BUT_DIFFUSERS", "--write"], "has no t2vz.json to write the layers into"),
    ("mask_layers", ["NOT_A_MODEL"], "is not a model folder"),
    ("app", ["--play", "5"], "--play SECONDS needs --self-test"),
    ("app", ["--self-test", "--bogus"], "unrecognized arguments: --bogus (Qt's own options take one dash"),
    ("app", ["--selftest"], "unrecognized arguments: --selftest"),
    ("app", ["--self-test", "--model", "NOT_A_MODEL"], "is a folder but not a diffusers model"),
    ("app", ["--self-test", "--model", "no/such-model"], "is not in the local Hugging Face cache"),
    ("app", ["--self-test", "--model", "NOT_A_MODEL/broken.safetensors"], "is not a readable .safetensors checkpoint"),
]


@pytest.mark.parametrize("tool,argv,message", BAD_TOOL_INPUT, ids=[f"{t}{a}" for t, a, _ in BAD_TOOL_INPUT])
def test_a_bad_flag_is_one_line_and_exit_2_before_any_work(tool, argv, message, tmp_path, capsys, monkeypatch):
    """Found trying the trainer: a bad value printed argparse's 16-line usage block above the
    message, and `--minutes -3` started training."""
    import importlib
    import shutil

    from t2vz_desktop.engine.models import demo_model_dir

    module = "t2vz_desktop.app.main" if tool == "app" else f"t2vz_desktop.demo_model.{tool}"
    monkeypatch.chdir(tmp_path)
    argv = [str(tmp_path / a) if a.startswith("NOT_A_MODEL") else a for a in argv]
    (tmp_path / "NOT_A_MODEL").mkdir()
    (tmp_path / "NOT_A_MODEL" / "broken.safetensors").write_text("garbage")
    # a diffusers model, t2vz.json aside
    if argv and "NOT_A_MODEL_BUT_DIFFUSERS" in argv[0]:
        shutil.copytree(demo_model_dir(), argv[0], ignore=shutil.ignore_patterns("t2vz.json"))
    if argv and "NOT_A_MODEL_SWAPPED" in argv[0]:
        swapped = Path(shutil.copytree(demo_model_dir(), argv[0]))
        shutil.copy(swapped / "vae" / "diffusion_pytorch_model.safetensors", swapped / "unet")
    (tmp_path / "NOT_A_MODEL_INCOMPLETE").mkdir()
    (tmp_path / "NOT_A_MODEL_INCOMPLETE" / "model_index.json").write_text("{}")
    with pytest.raises(SystemExit) as e:
        importlib.import_module(module).main(argv + (["--out", str(tmp_path / "new")] if tool == "train" else []))
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "new").exists()


def test_train_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path, capsys):
    """Training swaps its --out folder for the new model: `--out ~/Documents` would have deleted
    it after an hour's training, and a model folder with the user's notes in it lost the notes
    (found by a newcomer). A new folder, an empty one or a model's own parts are taken; anything
    else, or a place that cannot be written, exits 2 before any work."""
    from t2vz_desktop.demo_model.train import parse_args

    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "thesis.txt").write_text("mine")
    noted = tmp_path / "noted"
    (noted / "unet").mkdir(parents=True)
    (noted / "model_index.json").write_text("{}")
    (noted / "precious.txt").write_text("mine")
    refused = {papers: "holds thesis.txt, which is not part of a model", papers / "thesis.txt": "is a file",
               noted: "holds precious.txt", papers / "thesis.txt" / "sub": "cannot be written"}
    for out, why in refused.items():
        with pytest.raises(SystemExit) as e:
            parse_args(["--out", str(out)])
        assert e.value.code == 2 and why in capsys.readouterr().err
    assert (papers / "thesis.txt").read_text() == "mine" and (noted / "precious.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    (noted / "precious.txt").unlink()
    for out in ("empty", "noted", "new", "new/deeper"):
        assert parse_args(["--out", str(tmp_path / out)]).out == tmp_path / out


def test_offset_noise_moves_each_channels_mean_and_draws_nothing_more_at_zero():
    from t2vz_desktop.demo_model.train import training_noise

    shape = torch.Size((4000, 4, 16, 16))
    plain = training_noise(shape, 0.0, torch.Generator().manual_seed(1))
    assert torch.equal(plain, torch.randn(shape, generator=torch.Generator().manual_seed(1)))
    offset = training_noise(shape, 0.3, torch.Generator().manual_seed(1))
    diff = offset - plain
    assert torch.allclose(diff, diff[..., :1, :1].expand(shape), atol=1e-6)  # one constant per image and channel
    # the mean of a channel: std 1/16 from the pixels, 0.3 from the offset
    assert plain.mean(dim=(2, 3)).std().item() == pytest.approx(1 / 16, rel=0.05)
    assert offset.mean(dim=(2, 3)).std().item() == pytest.approx((0.3**2 + 1 / 256) ** 0.5, rel=0.05)


def test_denoising_score_recovers_nearly_clean_images_through_the_models_own_parameterisation():
    """At t=50 a one-step x0 prediction is nearly the image: circles read back and the latent error
    is small, whichever of epsilon or v the committed model predicts (a wrong conversion is noise)."""
    from t2vz_desktop.demo_model.evaluate import denoising_score
    from t2vz_desktop.engine.models import demo_model_dir

    row = denoising_score(demo_model_dir(), timesteps=(50,), per_shape=4)["50"]
    assert row["snr"] > 10
    assert row["shape"]["circle"] == 1.0
    assert max(row["x0_mse"].values()) < 0.01


EVERY_FLAG = ["--minutes", "0.123456789", "--vae-share", "0.3333333", "--num-images", "1000", "--seed", "7",
              "--threads", "1", "--placement", "continuous", "--schedule", "zero-snr", "--upright-share", "0.1234567",
              "--terminal-weight", "0.05", "--unet-lr", "1e-3", "--snr-gamma", "10", "--mid-share", "0.4",
              "--shape-weights", "square=1.5,circle=0.5", "--offset-noise", "0.1", "--vae-steps", "11",
              "--unet-steps", "12", "--judge-every", "300", "--judge-per-shape", "5", "--unet-batch", "32",
              "--precision", "bf16"]
# Settings the run does not use (no terminal weight on SD's schedule, no stills when never judged)
# are still the settings it recorded.
UNUSED = ["--schedule", "sd", "--terminal-weight", "0.5", "--judge-every", "0", "--judge-per-shape", "2"]


@pytest.mark.parametrize("argv", [EVERY_FLAG, UNUSED], ids=["every-flag", "unused-settings"])
def test_the_cards_remake_command_gives_back_the_settings_it_was_trained_with(argv, tmp_path):
    """The card's "Re-make it with" line is how anyone reproduces the model: every flag that
    changed the training must be in it, with its exact value (a newcomer found --unet-lr dropped
    and --minutes 0.123456789 rounded to 6 digits)."""
    import shlex
    from dataclasses import asdict

    from t2vz_desktop.demo_model.card import remake_command
    from t2vz_desktop.demo_model.train import build_parser, parse_args

    flags = {o for a in build_parser()._actions for o in a.option_strings} - {"-h", "--help", "--out", "--tiny"}
    assert flags == set(EVERY_FLAG[::2]), "a new flag of train.py belongs in EVERY_FLAG (and in the card)"
    trained = asdict(parse_args(argv + ["--out", str(tmp_path / "m")]))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in trained.items() if k != "config"}
    words = shlex.split(remake_command(settings, tmp_path))[3:]
    i = words.index("--out")
    remade = asdict(parse_args(words[:i] + ["--out", str(tmp_path / "m")] + words[i + 2:]))
    assert remade == trained


def test_judging_keeps_the_weights_of_the_best_judgement_and_the_later_of_two_equal():
    """train.py saves the EMA weights its judge scored best on sampled stills (judge.py), not
    always the last: five trials showed the loss does not foretell what the sampler draws."""
    from t2vz_desktop.demo_model.judge import Judgement, Judging

    scripted = {100: 0.5, 200: 0.75, 300: 0.6, 400: 0.75}

    class Judge:
        scenes = [None] * 8
        steps, guidance = 20, 5.0

        def __call__(self, unet, text_encoder, step):
            return Judgement(step, scripted[step], 1.0, 1.0, {"circle": scripted[step]}, 0.1)

    judging = Judging(Judge(), every=100)
    for step in scripted:
        judging.run(step, None, None, [torch.full((2,), float(step))])
    assert judging.best.step == 400 and judging.best_weights[0].tolist() == [400.0, 400.0]
    summary = judging.summary()
    assert summary["chosen_step"] == 400 and [j["all"] for j in summary["judgements"]] == [0.5, 0.75, 0.6, 0.75]

    # equal accuracies in another order of shapes sum to another float: still a tie, the later step wins
    judging = Judging(Judge(), every=10)
    third = 1 / 3
    for step, shapes in ((10, (third, 1, 1, 1)), (20, (1, 1, 1, third))):
        judgement = Judgement(step, 0.5, 1.0, 1.0, dict(zip(data.SHAPES, shapes)), 0.1)
        judging.judge = lambda unet, text_encoder, step, j=judgement: j
        judging.run(step, None, None, [torch.zeros(1)])
    assert judging.best.step == 20


def test_the_cards_judging_sentence_says_what_was_kept_and_why():
    from t2vz_desktop.demo_model.card import judging_text

    def judged(step, right, shapes):
        return {"step": step, "all": right, "shape": dict(zip(data.SHAPES, shapes))}

    judging = {"every": 600, "stills": 96, "seed": 77, "chosen_step": 1200,
               "judgements": [judged(600, 0.5, (1, 0, 0, 0)), judged(1200, 0.75, (1, 1, 0.5, 0.5)),
                              judged(1300, 0.75, (1, 0.5, 0.5, 0.5))]}
    assert judging_text(judging).endswith("the saved ones are step 1,200's, which drew 75% of them right (the last, step"
                                          " 1,300, 75%, with fewer shapes right: 62% against 75%); every judgement is"
                                          " in training_info.json")
    judging["chosen_step"] = 1300
    # a tie kept the later step: not "the most" (a newcomer's run judged 0% twice read "the most of the 2")
    assert "the last, step 1,300's, which drew 75% of them right, as many as the best of the 3" in judging_text(judging)
    judging["judgements"][1]["all"] = 0.7
    assert "the last, step 1,300's, which drew 75% of them right, the most of the 3" in judging_text(judging)
    one = {**judging, "judgements": judging["judgements"][-1:]}
    assert judging_text(one).startswith("judged once, at the end, on 96 stills")
    assert judging_text(None) == "saved as they were at the last step"


def test_the_ema_weights_are_judged_in_eval_mode_and_training_goes_on_with_its_own():
    from t2vz_desktop.demo_model.train import EMA

    net = torch.nn.Linear(3, 2)
    ema = EMA([net], decay=0.5)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update()
    trained = [p.detach().clone() for p in net.parameters()]
    with ema.applied([net]):
        assert not net.training
        assert all(torch.equal(p, s) for p, s in zip(net.parameters(), ema.shadow))
        assert not torch.equal(net.weight, trained[0])
    assert net.training and all(torch.equal(p, k) for p, k in zip(net.parameters(), trained))


def test_judged_scenes_are_balanced_and_none_is_an_evaluation_scene():
    from t2vz_desktop.demo_model.evaluate import evaluation_scenes
    from t2vz_desktop.demo_model.judge import judge_scenes

    assert len(set(judge_scenes(256))) == 1024  # the most --judge-per-shape takes
    scenes = judge_scenes(24)
    assert len(scenes) == len(set(scenes)) == 96
    assert {s.shape: sum(x.shape == s.shape for x in scenes) for s in scenes} == dict.fromkeys(data.SHAPES, 24)
    assert not set(scenes) & set(evaluation_scenes())
    assert len({s.colour for s in scenes}) == len({s.background for s in scenes}) == len(data.COLOURS)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_unet_phase_runs_its_forward_pass_in_the_asked_precision_and_keeps_fp32_weights(precision, tmp_path):
    """--precision bf16 buys UNet steps on CPUs with bf16 instructions (benchmarks/demo_train_step.py);
    it must change the forward pass only: weights, EMA and loss stay fp32."""
    from t2vz_desktop.demo_model.model import TINY, build_text_encoder, build_unet
    from t2vz_desktop.demo_model.train import parse_args, train_unet

    s = parse_args(["--tiny", "--out", str(tmp_path / "m"), "--unet-steps", "2", "--precision", precision])
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    unet, text_encoder = build_unet(TINY), build_text_encoder(TINY, tokenizer)
    seen = []
    unet.conv_in.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    size = TINY.latent_size
    means, stds = torch.randn(8, 4, size, size), torch.full((8, 4, size, size), 0.1)
    losses, ema = train_unet(unet, text_encoder, tokenizer, means, stds, 1.0, data.sample_scenes(8, 0), s,
                             seconds=60.0, log=lambda *row: None)
    assert seen == [torch.bfloat16 if precision == "bf16" else torch.float32] * 2
    assert len(losses) == 2 and np.isfinite(losses).all()
    assert {p.dtype for p in [*unet.parameters(), *ema.shadow]} == {torch.float32}


def test_bf16_on_a_cpu_without_bf16_instructions_warns_that_it_buys_fewer_steps(tmp_path, monkeypatch, capsys):
    from t2vz_desktop.demo_model import train

    with_bf16, without = tmp_path / "zen4", tmp_path / "old"
    with_bf16.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512vl\n")
    without.write_text("flags\t\t: fpu sse avx2 avx512f\n")
    assert (train.cpu_lacks_bf16(with_bf16), train.cpu_lacks_bf16(without)) == (False, True)
    assert not train.cpu_lacks_bf16(tmp_path / "no-such-file")  # not Linux: nothing to say
    monkeypatch.setattr(train, "cpu_lacks_bf16", lambda: True)
    train.parse_args(["--out", str(tmp_path / "m"), "--precision", "bf16"])
    train.parse_args(["--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert err.count("warning: this CPU has no bf16 instructions") == 1 and "fewer steps" in err


@pytest.mark.parametrize("argv, trainer", [
    (["python", "-m", TRAINER_MODULE, "--out", "x"], True),
    (["python3.11", "-u", "-X", "dev", "-W", "ignore", "-m", TRAINER_MODULE], True),
    (["python", "-Im", TRAINER_MODULE], True),
    (["python", "-m" + TRAINER_MODULE], True),
    (["python", "-m", "pytest", "-m", TRAINER_MODULE], False),
    (["python", "-m", "t2vz_desktop.cli", "generate"], False),
    (["python", "main.py", "-m", TRAINER_MODULE], False),
    (["python", "-c", "import t2vz_desktop", "-m", TRAINER_MODULE], False),
    (["t2vz", "generate", "a red circle"], False),
    (["python"], False),
])
def test_the_trainer_is_recognised_from_the_interpreters_command_line(argv, trainer):
    assert runs_module(argv, TRAINER_MODULE) is trainer


def test_openmp_wait_policy_reads_a_value_as_libgomp_does():
    assert [openmp_wait_policy(v) for v in (None, "", "garbage", " Active ", "PASSIVE", "passive\n")] == [
        "default", "default", "default", "active", "passive", "passive"]


def train_tiny(out: Path, env: dict) -> str:
    """The wait policy a tiny trainer run started with ``python -m`` records."""
    subprocess.run([sys.executable, "-m", TRAINER_MODULE, "--tiny", "--out", str(out), "--threads", "1",
                    "--vae-steps", "2", "--unet-steps", "2", "--judge-every", "0"], env=env, check=True,
                   capture_output=True)
    return json.loads((out / "training_info.json").read_text())["openmp_wait_policy"]


def test_the_trainer_keeps_openmps_default_wait_policy_and_everything_else_waits_passively(tmp_path):
    """Passive waits made the trainer's UNet step about 25% longer on quiet cores (RESULTS.md), and
    spinning waits made generation 11x slower beside a busy process (t2vz_desktop/__init__.py)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", PASSIVE_SET_HERE)}
    assert train_tiny(tmp_path / "m", env) == "default"
    # the PASSIVE a parent process set by importing the package is not the user's choice; ACTIVE is
    assert train_tiny(tmp_path / "n", {**env, "OMP_WAIT_POLICY": "PASSIVE", PASSIVE_SET_HERE: "1"}) == "default"
    assert train_tiny(tmp_path / "o", {**env, "OMP_WAIT_POLICY": "active"}) == "active"
    policy = "import os, t2vz_desktop; print(os.environ.get('OMP_WAIT_POLICY'), t2vz_desktop.OPENMP_WAIT_POLICY)"
    for code, asked, got in (
        (policy, {}, "PASSIVE passive"),
        (policy, {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE active"),  # the user's value wins
        ("import torch; " + policy, {}, "None default"),  # too late to choose: OpenMP has read it
    ):
        run = subprocess.run([sys.executable, "-c", code], env={**env, **asked}, check=True, capture_output=True,
                             text=True)
        assert run.stdout.strip() == got


def test_a_trainer_that_waits_passively_because_the_package_chose_it_says_so(tmp_path, monkeypatch, capsys):
    from t2vz_desktop.demo_model import train

    monkeypatch.setattr(train, "OPENMP_WAIT_POLICY", "passive")
    monkeypatch.setenv(PASSIVE_SET_HERE, "1")
    train.parse_args(["--out", str(tmp_path / "m"), "--threads", "2"])
    train.parse_args(["--out", str(tmp_path / "m"), "--threads", "1"])  # one thread never waits
    monkeypatch.delenv(PASSIVE_SET_HERE)
    train.parse_args(["--out", str(tmp_path / "m"), "--threads", "2"])  # the user's own choice
    assert capsys.readouterr().err.count(f"start training with python -m {TRAINER_MODULE}") == 1


# ---------------------------------------------------------------- threads beside other work


def test_thread_adapter_gives_up_a_cpu_per_busy_neighbour(monkeypatch):
    from t2vz_desktop.demo_model.train import ThreadAdapter

    adapter = ThreadAdapter(4, cpus=4)
    others = {0.0: 4, 0.5: 4, 0.79: 4, 0.85: 3, 1.0: 3, 1.9: 2, 3.0: 1, 7.5: 1}
    assert {o: adapter.threads(o) for o in others} == others
    assert ThreadAdapter(2, cpus=8).threads(3.0) == 2  # never more than asked
    assert ThreadAdapter(8, cpus=2).threads(1.0) == 1  # nor more than the CPUs left
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert adapter.threads(None) == 3  # nothing measured: the count stays


def test_thread_adapter_decides_on_the_mean_of_an_interval(monkeypatch):
    from t2vz_desktop.demo_model import train

    now, readings, asked = [0.0], iter([(3, 2), (4, 2), (5, 2), (2, 2), (2, 2)]), []
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    adapter = train.ThreadAdapter(2, interval_s=5.0, sample=lambda: next(readings), clock=lambda: now[0], cpus=2)
    for t in (1.0, 2.0, 3.0):
        now[0] = t
        adapter()  # its own 2 threads are not a neighbour's
    assert asked == [] and adapter.samples == [1, 2, 3]
    now[0] = 5.0
    adapter()  # mean of 1, 2, 3, 0: 1.5 other threads want a CPU
    assert asked == [1] and adapter.samples == [] and adapter.since == 5.0


def test_thread_adapter_without_proc_reads_the_load_average_or_keeps_the_count(monkeypatch):
    from t2vz_desktop.demo_model.train import ThreadAdapter

    adapter = ThreadAdapter(2, sample=lambda: None, cpus=2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.1, 2.0, 1.0), raising=False)
    assert adapter.others() == pytest.approx(1.1)
    monkeypatch.delattr(os, "getloadavg")  # Windows
    assert adapter.others() is None and adapter.threads(adapter.others()) == 2


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux's /proc")
def test_runnable_threads_sees_a_busy_neighbour_and_not_this_process():
    from t2vz_desktop.demo_model.train import runnable_threads

    def share_with_others(seconds: float) -> float:
        """Share of samples with at least one other process's thread runnable."""
        samples = []
        for _ in range(int(seconds / 0.05)):
            machine, own = runnable_threads()
            assert machine >= own >= 1  # the thread reading is running, and counted on the machine
            samples.append(machine - own >= 1)
            time.sleep(0.05)
        return sum(samples) / len(samples)

    # A busy loop is runnable in every sample whether or not it gets a CPU, so this holds on a loaded
    # machine too (a mean count against a quiet baseline did not: other work comes and goes).
    neighbour = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 4\nwhile time.time() < end: pass"])
    try:
        time.sleep(0.5)  # the interpreter starting
        busy = share_with_others(2.0)
        assert neighbour.poll() is None  # it was running all along
    finally:
        neighbour.kill()
        neighbour.wait()
    assert busy >= 0.9
