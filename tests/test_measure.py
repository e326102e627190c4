"""The video measures on synthetic videos whose answers are known, and `t2vz eval` / `t2vz compare`
as a user runs them."""

import json
import re

import cv2
import numpy as np
import pytest
import torch

import tiny_models
from t2vz_desktop.cli import main
from t2vz_desktop.media import ExportOptions, export_video, iter_frames, probe_video
from t2vz_desktop.measure import score_frames, score_video
from t2vz_desktop.measure.clip import ClipError, ClipScorer

SIZE = 96


def texture(seed: int = 0, size: int = SIZE) -> np.ndarray:
    """A smooth random colour texture: every pixel is distinguishable, so flow is well defined."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (size, size, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    return cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def pan(dx: int, dy: int, frames: int = 6) -> list[np.ndarray]:
    """The whole frame moves by (dx, dy) px per frame (wrapping round, so nothing new enters)."""
    base = texture()
    return [np.roll(base, (k * dy, k * dx), axis=(0, 1)) for k in range(frames)]


def moving_square(step: int, frames: int = 6) -> list[np.ndarray]:
    out = []
    for k in range(frames):
        f = np.full((SIZE, SIZE, 3), (30, 60, 200), np.uint8)
        x = 10 + k * step
        f[30:54, x : x + 24] = (230, 40, 40)
        out.append(f)
    return out


def noise_video(frames: int = 6) -> list[np.ndarray]:
    return [np.random.default_rng(k).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for k in range(frames)]


def test_a_still_video_has_no_flicker_no_motion_and_no_warping_error():
    s = score_frames([texture()] * 5)
    assert s.frames == 5 and (s.width, s.height) == (SIZE, SIZE)
    assert s.temporal_flickering == 1.0
    assert s.dynamic_degree == pytest.approx(0.0, abs=1e-6)
    assert s.warping_error == pytest.approx(0.0, abs=1e-9)
    assert len(s.curves["warping_error"]) == 4  # one value per pair of consecutive frames


def test_a_moving_square_is_explained_by_the_flow():
    s = score_frames(moving_square(step=3))
    assert s.warping_error < 1e-4  # frame k warped by the flow lands on frame k+1
    assert s.zero_flow_error > 50 * s.warping_error  # without the flow the square is in the wrong place
    assert s.zero_flow_error > 3e-3
    assert s.temporal_flickering < 1.0  # VBench's flickering penalises this intended motion


@pytest.mark.parametrize("dx,dy", [(4, 0), (0, 2), (3, 3)])
def test_dynamic_degree_of_a_pan_equals_the_shift(dx, dy):
    s = score_frames(pan(dx, dy))
    assert s.dynamic_degree == pytest.approx(float(np.hypot(dx, dy)), rel=0.05)
    assert s.warping_error < 1e-4


def test_random_noise_scores_worse_than_smooth_motion():
    smooth, noise = score_frames(pan(2, 1)), score_frames(noise_video())
    assert noise.temporal_flickering < smooth.temporal_flickering
    assert noise.warping_error > 100 * smooth.warping_error
    assert noise.consistent_fraction < smooth.consistent_fraction


def test_a_file_is_scored_as_its_frames_streamed(tmp_path):
    frames = pan(2, 0, frames=5)
    export_video(iter(frames), tmp_path / "pan", ExportOptions(format="png"))  # lossless
    assert score_video(tmp_path / "pan").summary() == score_frames(frames).summary()


def test_frames_of_another_size_are_refused():
    with pytest.raises(ValueError, match="64x64"):
        score_frames([texture(), texture(size=64)])


# ---------------------------------------------------------------------------------------------
# CLIP, with a tiny random CLIP saved as a real transformers folder


def save_tiny_clip(folder, seed: int = 0):
    import torch
    from transformers import CLIPConfig, CLIPModel

    tokenizer = tiny_models.build_tiny_tokenizer()
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 32},
        "crop_size": {"height": 32, "width": 32}, "do_normalize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    }))
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_clip_consistency_of_identical_frames_is_one(tiny_clip):
    clip = ClipScorer.load(str(tiny_clip))
    still = score_frames([texture()] * 4, clip, prompt="a red circle")
    assert still.clip_frame_consistency == pytest.approx(1.0, abs=1e-5)
    assert len(still.curves["clip_text_score"]) == 4
    assert -100 <= still.clip_text_score <= 100
    changing = score_frames([texture(k) for k in range(4)], clip)
    assert changing.clip_frame_consistency < 1.0 - 1e-4
    assert changing.clip_text_score is None  # no prompt, no text score


def test_clip_streaming_batches_do_not_change_the_scores(tiny_clip):
    frames = [texture(k % 3) for k in range(7)]
    clip = ClipScorer.load(str(tiny_clip))
    whole = score_frames(frames, clip, "a blue square")
    clip.batch = 2
    batched = score_frames(frames, clip, "a blue square")
    assert batched.curves["clip_frame_consistency"] == pytest.approx(whole.curves["clip_frame_consistency"], abs=1e-5)
    assert batched.curves["clip_text_score"] == pytest.approx(whole.curves["clip_text_score"], abs=1e-3)


def test_a_missing_clip_model_is_a_clear_error(tmp_path):
    with pytest.raises(ClipError, match="is not a CLIP model on this machine"):
        ClipScorer.load(str(tmp_path / "nothing-here"))


@pytest.mark.parametrize("file,content", [("config.json", '"x"'), ("config.json", "[1]"),
                                          ("preprocessor_config.json", "[1]"),
                                          ("preprocessor_config.json", '{"size": "big"}')])
def test_a_broken_clip_folder_is_a_clear_error(tmp_path, tiny_clip, file, content):
    """A config.json holding a string failed `eval --clip` with "'str' object has no attribute", exit 1."""
    import shutil

    folder = tmp_path / "clip"
    shutil.copytree(tiny_clip, folder)
    (folder / file).write_text(content)
    with pytest.raises(ClipError, match=f"--clip '{folder}' is not a CLIP model this tool can use"):
        ClipScorer.load(str(folder))


@pytest.mark.parametrize("damage,words", [
    ("weights", "its weights lack"),  # the weights of another model: scored with exit 0
    ("tensor", "its weights lack 1 of its tensors (e.g. visual_projection.weight)"),
    ("tokenizer", "its tokenizer's model_max_length is"),  # "int too big to convert", exit 1
    ("length", "model_max_length is 99, and its text model takes up to 77 tokens"),
    ("file", "is a file: give the folder"),
])
def test_clip_weights_and_tokenizer_that_do_not_fit_are_refused(tmp_path, tiny_clip, damage, words):
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "clip"
    shutil.copytree(tiny_clip, folder)
    weights = folder / "model.safetensors"
    name = str(folder)
    if damage == "weights":
        save_file({"something.else": torch.zeros(3)}, str(weights))
    elif damage == "tensor":
        tensors = load_file(str(weights))
        del tensors["visual_projection.weight"]
        save_file(tensors, str(weights))
    elif damage == "tokenizer":
        (folder / "tokenizer_config.json").unlink()
    elif damage == "length":
        config = json.loads((folder / "tokenizer_config.json").read_text())
        (folder / "tokenizer_config.json").write_text(json.dumps(dict(config, model_max_length=99)))
    else:
        name = str(weights)
    with pytest.raises(ClipError, match=re.escape(words)):
        ClipScorer.load(name)


# ---------------------------------------------------------------------------------------------
# The command line


def write_video(path, frames, fps=8.0):
    return export_video(iter(frames), path, ExportOptions(fps=fps)).path


def test_eval_prints_and_writes_json_and_a_plot(tmp_path, tiny_clip, capsys):
    video = write_video(tmp_path / "pan.mp4", pan(3, 0, frames=6))
    assert main(["eval", str(video), "--clip", str(tiny_clip), "--prompt", "a red star"]) == 0
    out = capsys.readouterr().out
    assert "temporal flickering" in out and "warping error" in out and "CLIP text score" in out
    report = json.loads((tmp_path / "pan.metrics.json").read_text())
    assert report["frames"] == 6 and report["prompt"] == "a red star"
    assert report["dynamic_degree"] == pytest.approx(3.0, rel=0.15)  # through H.264, so looser
    assert report["clip_frame_consistency"] > 0.5 and len(report["curves"]["warping_error"]) == 5
    plot = cv2.imread(str(tmp_path / "pan.metrics.png"))
    assert plot is not None and plot.shape[0] >= 5 * 200  # five panels: three measures and two CLIP


def test_eval_without_clip_and_with_named_outputs(tmp_path):
    video = write_video(tmp_path / "still.mp4", [texture()] * 4)
    assert main(["eval", str(video), "--json", str(tmp_path / "m.json"), "--no-plot"]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["temporal_flickering"] == 1.0 and report["clip_frame_consistency"] is None
    assert not (tmp_path / "still.metrics.png").exists()


@pytest.mark.parametrize("case", ["missing", "not-a-video", "bad-clip", "bad-device", "one-frame"])
def test_eval_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, tiny_clip, case):
    video = tmp_path / "v.mp4"
    args = ["eval", str(video)]
    if case == "not-a-video":
        video.write_text("hello")
    elif case == "bad-clip":
        write_video(video, pan(1, 0, frames=3))
        args += ["--clip", str(tmp_path / "no-clip")]
    elif case == "bad-device":
        write_video(video, pan(1, 0, frames=3))
        args += ["--clip", str(tiny_clip), "--device", "tpu:7"]
    elif case == "one-frame":
        write_video(video, [texture()])
    before = set(tmp_path.iterdir())
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("t2vz: error:") and "\n" not in err
    assert set(tmp_path.iterdir()) == before


def test_compare_writes_a_labelled_side_by_side_video(tmp_path, capsys):
    a = write_video(tmp_path / "a.mp4", pan(2, 0, frames=6))
    b = write_video(tmp_path / "b.mp4", [cv2.resize(f, (48, 48)) for f in moving_square(2, frames=4)])
    out = tmp_path / "grid"  # a PNG folder: exact pixels
    assert main(["compare", str(a), str(b), "--out", str(out), "--labels", "engine", "diffusers"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    info = probe_video(out)
    bar = max(16, SIZE // 10)
    assert info.frames == 6  # the shorter video holds its last frame
    assert (info.width, info.height) == (2 * SIZE, SIZE + bar)  # b scaled to the common height
    frames = list(iter_frames(out))
    assert np.array_equal(frames[4][bar:, SIZE:], frames[5][bar:, SIZE:])  # held
    caption = frames[0][:bar, :SIZE].astype(int)
    assert caption.max() > 200 and np.median(caption) < 40  # white text on a dark bar


@pytest.mark.parametrize("extra", [["--labels", "only-one"], ["MISSING"], []])
def test_compare_bad_input_is_exit_2_and_no_file(tmp_path, capsys, extra):
    a = write_video(tmp_path / "a.mp4", pan(1, 0, frames=3))
    videos = [str(a)] + ([str(a)] if extra != [] else [])
    if extra == ["MISSING"]:
        videos, extra = [str(a), str(tmp_path / "missing.mp4")], []
    out = tmp_path / "grid.mp4"
    assert main(["compare", *videos, "--out", str(out), *extra]) == 2
    assert capsys.readouterr().err.startswith("t2vz: error:")
    assert not out.exists()


def test_compare_keeps_videos_of_different_rates_in_step(tmp_path):
    """A 24 fps source beside its 8 fps edit: each tile shows its picture at the same moment."""
    from fractions import Fraction

    import footage

    fast, slow = tmp_path / "fast.mp4", tmp_path / "slow.mp4"
    for path, fps in ((fast, 24), (slow, 8)):
        frames = footage.flashing(64, 48, [k / fps for k in range(fps)], 0.5)
        footage._write(path, frames, end_s=1.0, rate=fps, time_base=Fraction(1, 96))
    out = tmp_path / "grid"
    assert main(["compare", str(slow), str(fast), "--out", str(out), "--height", "48"]) == 0
    bar = max(16, 48 // 10)
    tiles = [(f[bar:, :64].mean() > 200, f[bar:, 64:].mean() > 200) for f in iter_frames(out)]
    assert len(tiles) == 8 and tiles[4] == (True, True) and sum(a or b for a, b in tiles) == 1
