"""Motion alignment of an edit with its source (measure/alignment.py, `t2vz eval --source`):
known shifts give their end-point error, and the command finds the source in the edit's recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest

from t2vz_desktop.cli import main
from t2vz_desktop.engine.request import EditSpec, GenerationRequest
from t2vz_desktop.measure.alignment import flow_epe, motion_alignment
from test_measure import pan, write_video


@pytest.mark.parametrize("source_dx,edit_dx", [(2, 2), (2, 0), (2, 5), (0, 3)])
def test_a_known_shift_gives_its_end_point_error(source_dx, edit_dx):
    """Both pan by whole pixels a frame; the flows differ by (edit_dx - source_dx, 0) everywhere."""
    result = motion_alignment(pan(edit_dx, 0), pan(source_dx, 0))
    expected = abs(edit_dx - source_dx)
    assert result.pairs == 5
    assert result.motion_alignment_epe == pytest.approx(expected, abs=0.25), result.curve
    assert result.source_motion == pytest.approx(source_dx, abs=0.25)


def test_epe_of_flows():
    a = np.zeros((4, 4, 2), np.float32)
    b = a.copy()
    b[..., 0], b[..., 1] = 3.0, 4.0
    assert flow_epe(a, b) == pytest.approx(5.0)


def test_frames_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="fit the source"):
        motion_alignment(pan(1, 0), [f[:50] for f in pan(1, 0)])


def edit_with_recipe(tmp_path, source, edit_frames, start: int = 0):
    """An 'edit' video whose sidecar recipe names `source`, as `t2vz edit` writes it."""
    video = write_video(tmp_path / "edit.mp4", edit_frames)
    h, w = edit_frames[0].shape[:2]
    recipe = GenerationRequest(prompts=["a red star"], width=w, height=h, frames=len(edit_frames),
                               edit=EditSpec(source=str(source), instruct=True, start=start))
    (tmp_path / "edit.json").write_text(recipe.to_json())
    return video


def test_eval_reads_the_source_from_the_edits_recipe(tmp_path, capsys):
    source = write_video(tmp_path / "src.mp4", pan(2, 0, frames=8))
    video = edit_with_recipe(tmp_path, source, pan(2, 0, frames=8))
    assert main(["eval", str(video), "--no-plot"]) == 0
    report = json.loads((tmp_path / "edit.metrics.json").read_text())
    alignment = report["motion_alignment"]
    assert alignment["source"] == str(source) and alignment["pairs"] == 7
    assert alignment["epe"] < 0.5, alignment  # the edit moves as its source does
    assert len(report["curves"]["motion_alignment_epe"]) == 7
    assert "motion alignment EPE" in capsys.readouterr().out


def test_eval_pairs_the_edit_with_the_recipes_source_range(tmp_path):
    """An edit made from source frames 3.. is compared with those frames, not with 0.."""
    frames = [np.roll(pan(0, 0, frames=1)[0], (0, k * k), axis=(0, 1)) for k in range(12)]  # speeds up
    source = write_video(tmp_path / "src.mp4", frames)
    video = edit_with_recipe(tmp_path, source, frames[3:9], start=3)
    assert main(["eval", str(video), "--no-plot"]) == 0
    aligned = json.loads((tmp_path / "edit.metrics.json").read_text())["motion_alignment"]["epe"]
    video = edit_with_recipe(tmp_path, source, frames[3:9], start=0)
    assert main(["eval", str(video), "--no-plot"]) == 0
    shifted = json.loads((tmp_path / "edit.metrics.json").read_text())["motion_alignment"]["epe"]
    assert aligned < 0.5 < shifted, (aligned, shifted)


def test_an_explicit_source_without_a_recipe_is_paired_by_time(tmp_path):
    source = write_video(tmp_path / "src.mp4", pan(3, 0, frames=8))
    video = write_video(tmp_path / "other.mp4", pan(0, 0, frames=8))
    assert main(["eval", str(video), "--source", str(source), "--json", str(tmp_path / "m.json"), "--no-plot"]) == 0
    epe = json.loads((tmp_path / "m.json").read_text())["motion_alignment"]["epe"]
    assert epe == pytest.approx(3.0, abs=0.4)  # a still edit of a source moving 3 px a frame


def test_a_recipes_missing_source_is_a_note_and_the_rest_is_measured(tmp_path, capsys):
    video = edit_with_recipe(tmp_path, tmp_path / "moved-away.mp4", pan(1, 0))
    assert main(["eval", str(video), "--no-plot"]) == 0
    assert "cannot be read" in capsys.readouterr().err
    report = json.loads((tmp_path / "edit.metrics.json").read_text())
    assert "motion_alignment" not in report and report["warping_error"] is not None


def test_an_unreadable_source_flag_is_one_line_and_exit_2(tmp_path, capsys):
    video = write_video(tmp_path / "v.mp4", pan(1, 0))
    assert main(["eval", str(video), "--source", str(tmp_path / "nope.mp4"), "--no-plot"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--source" in err[0] and not (tmp_path / "v.metrics.json").exists()


@pytest.mark.parametrize("case", ["one picture", "shorter", "other shape"])
def test_a_source_that_cannot_be_compared_is_one_line_and_exit_2(tmp_path, capsys, case):
    import cv2

    video = write_video(tmp_path / "v.mp4", pan(1, 0))  # 6 frames
    if case == "one picture":
        source = tmp_path / "still.png"
        cv2.imwrite(str(source), pan(0, 0, frames=1)[0])
    elif case == "shorter":
        source = write_video(tmp_path / "short.mp4", pan(1, 0, frames=3))
    else:
        source = write_video(tmp_path / "wide.mp4", [np.concatenate([f, f], axis=1) for f in pan(1, 0)])
    assert main(["eval", str(video), "--source", str(source), "--no-plot"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--source" in err[0], err
    assert not (tmp_path / "v.metrics.json").exists()


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_an_explicit_source_is_framed_as_the_recipe_says_like_the_recipes_own(tmp_path, fit):
    """A newcomer's `eval EDIT --source SRC` with the very source the edit was made from was
    refused as "other shapes" whenever the edit had been cropped or padded to another size (nearly
    always); the recipe says how the edit framed it, so the given file is framed the same way."""
    wide = [np.concatenate([f, f], axis=1) for f in pan(2, 0, frames=8)]
    source = write_video(tmp_path / "wide.mp4", wide)
    video = edit_with_recipe(tmp_path, source, pan(2, 0, frames=8))
    recipe = json.loads((tmp_path / "edit.json").read_text())
    recipe["edit"]["fit"] = fit
    (tmp_path / "edit.json").write_text(json.dumps(recipe))
    assert main(["eval", str(video), "--no-plot"]) == 0
    own = json.loads((tmp_path / "edit.metrics.json").read_text())["motion_alignment"]
    assert main(["eval", str(video), "--source", str(source), "--no-plot"]) == 0
    given = json.loads((tmp_path / "edit.metrics.json").read_text())["motion_alignment"]
    assert given["epe"] == pytest.approx(own["epe"]) and given["pairs"] == own["pairs"] == 7
