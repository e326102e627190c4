"""The demo model's own Canny ControlNet: its trainer, and edits that follow the source's outlines."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from t2vz_desktop.demo_model import data
from t2vz_desktop.demo_model.evaluate import evaluation_scenes
from t2vz_desktop.demo_model.evaluate_controlnet import make_edits, recoloured, source_frames, summarise


def test_training_writes_a_controlnet_that_fits_the_demo_model_and_says_how_it_was_made(tmp_path):
    from t2vz_desktop.demo_model.train_controlnet import main
    from t2vz_desktop.engine.control import check_controlnet_fits

    out = tmp_path / "net"
    info = main(["--out", str(out), "--steps", "2", "--num-images", "8", "--batch", "2", "--threads", "1"])
    config = json.loads((out / "config.json").read_text())
    assert config["_class_name"] == "ControlNetModel" and config["conditioning_embedding_out_channels"] == [16, 32, 64]
    check_controlnet_fits(str(out), "demo")  # silent: it fits
    with open(out / "training_log.csv") as f:
        assert [row["step"] for row in csv.DictReader(f)] == ["1", "2"]
    card = (out / "README.md").read_text()
    assert info["steps"] == 2 and "2 steps of batch 2" in card and "--batch 2" in card
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "diffusion_pytorch_model.safetensors",
                                                     "training_info.json", "training_log.csv"]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in out.iterdir())  # readable by whoever runs the app


def test_it_trains_on_the_edge_maps_the_editor_makes():
    """The condition the ControlNet learns from must be the one an edit hands it: the editor's
    Canny with its default thresholds, 0-1 floats channels first."""
    from t2vz_desktop.conditions.canny import canny_condition
    from t2vz_desktop.demo_model.train_controlnet import edge_maps
    from t2vz_desktop.engine.request import EditSpec

    images, _ = data.make_dataset(4, seed=5, mode="continuous")
    e = EditSpec(source="any.mp4")
    want = np.stack([canny_condition(im, e.canny_low, e.canny_high) for im in images]).transpose(0, 3, 1, 2) / 255.0
    got = edge_maps(images)
    assert got.shape == (4, 3, data.IMAGE_SIZE, data.IMAGE_SIZE) and np.array_equal(got.numpy(), want)
    assert 0.005 < float(got.mean()) < 0.2  # outlines, not nothing and not everything


@pytest.mark.parametrize("argv, message", [
    (["--base", "NOWHERE", "--out", "NEW"], "not a demo model folder"),
    (["--out", "HOLDS_NOTES"], "holds notes.txt, which is not part of a ControlNet"),
    (["--steps", "0", "--out", "NEW"], "--steps"),
    (["--steps", "2"], "--out"),  # no default: a trial run never replaces the built-in one
])
def test_a_bad_flag_is_one_line_and_exit_2_before_any_work(argv, message, tmp_path, capsys):
    from t2vz_desktop.demo_model.train_controlnet import main

    (tmp_path / "HOLDS_NOTES").mkdir()
    (tmp_path / "HOLDS_NOTES" / "notes.txt").write_text("mine")
    argv = [str(tmp_path / a) if a.isupper() else a for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and message in err[0], err
    assert (tmp_path / "HOLDS_NOTES" / "notes.txt").read_text() == "mine" and not (tmp_path / "NEW").exists()


def test_the_evaluation_sources_move_and_turn_and_the_prompt_asks_other_colours():
    scene = evaluation_scenes()[1]  # a square
    frames = source_frames(scene)
    asked = recoloured(scene)
    assert len(frames) == 8 and not np.array_equal(frames[0], frames[1])
    assert asked.shape == scene.shape and asked.colour != scene.colour and asked.background != scene.background
    assert asked.colour != asked.background


# One scene of each shape (evaluation_scenes: colour-major, shapes in turn).
SCENES = [evaluation_scenes()[i] for i in (0, 5, 10, 15)]


def test_demo_edits_keep_the_sources_outlines_and_take_the_prompted_colours():
    """What the built-in ControlNet is for: an edit of a moving, turning shape keeps the source's
    outline frame by frame (IoU of the object regions) while the prompt recolours it."""
    result = summarise(make_edits(SCENES, seeds=1))  # measured: IoU 0.73, 0.9 px, colours 100%
    assert result["iou"] >= 0.6 and result["centroid_px"] <= 2.0, result
    assert result["colour"] >= 0.9 and result["background"] >= 0.9, result


def test_without_a_trained_controlnet_the_same_edits_lose_the_outlines(tmp_path):
    """The measure above can fail: a ControlNet that adds nothing (diffusers' from_unet, zero
    output convolutions) leaves the prompt alone to place the object."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    from t2vz_desktop.engine.models import demo_model_dir

    net = ControlNetModel.from_unet(UNet2DConditionModel.from_pretrained(demo_model_dir() / "unet"),
                                    conditioning_embedding_out_channels=(16, 32, 64))
    net.save_pretrained(tmp_path / "noop")
    result = summarise(make_edits(SCENES[:2], seeds=1, net=str(tmp_path / "noop")))
    assert result["iou"] < 0.4, result
