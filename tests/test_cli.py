"""The command line as a user meets it: a video comes out with its recipe, and every bad input is
one line on stderr, exit code 2, and no file left behind."""

import json

import numpy as np
import pytest

from t2vz_desktop.cli import main, summary_line
from t2vz_desktop.engine.request import GenerationRequest
from t2vz_desktop.media import iter_frames, probe_video, read_recipe


def base_args(model, out):
    return ["generate", "a red circle", "--model", str(model), "--width", "32", "--height", "24",
            "--frames", "6", "--steps", "4", "--seed", "5", "--device", "cpu", "--out", str(out), "-q"]


def test_generate_writes_a_video_with_its_recipe(tiny_folder, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    assert main(base_args(tiny_folder, out) + ["--fps", "12"]) == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (6, 32, 24)
    assert info.fps == pytest.approx(12)
    recipe = GenerationRequest.from_json(read_recipe(out))
    assert recipe.prompts == ["a red circle"] and recipe.seed == 5 and recipe.frames == 6
    assert recipe.motion == pytest.approx((32 * 12 / 512, 24 * 12 / 512))  # default scaled to the size
    assert json.loads((tmp_path / "clip.json").read_text())["seed"] == 5
    assert capsys.readouterr().out.strip() == str(out)


def test_the_summary_says_how_long_the_video_plays_apart_from_the_run_time(tiny_folder, tmp_path, capsys):
    args = [a for a in base_args(tiny_folder, tmp_path / "clip.mp4") if a != "-q"]
    assert main(args + ["--fps", "12"]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("1 video, 6 frames (0.50 s at 12 fps), took ") and last.endswith(" s")
    assert summary_line(2, 24, 24, 8, 3.04) == (
        "2 videos, 24 frames each (1.00 s at 24 fps; interpolated from 8 denoised), took 3.0 s")
    assert summary_line(1, 8, None, 8, 1.0) == "1 video, 8 frames, took 1.0 s"  # PNG frames: no length
    # a GIF at 24 fps keeps it (delays of 4 and 5 cs), as the file plays
    gif = [a for a in base_args(tiny_folder, tmp_path / "anim.gif") if a != "-q"]  # clip.json is clip.mp4's
    assert main(gif + ["--fps", "24"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("1 video, 6 frames (0.25 s at 24 fps), took ")


def test_recipe_remakes_the_same_frames(tiny_folder, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"  # PNG folders: lossless, so exact
    assert main(base_args(tiny_folder, first)) == 0
    assert main(["generate", "--recipe", str(first / "recipe.json"), "--out", str(second), "-q"]) == 0
    a, b = list(iter_frames(first)), list(iter_frames(second))
    assert len(a) == 6 and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("fmt,suffix", [("webm", ".webm"), ("gif", ".gif")])
def test_other_formats_and_upscale(tiny_folder, tmp_path, fmt, suffix):
    out = tmp_path / f"clip{suffix}"
    assert main(base_args(tiny_folder, out) + ["--upscale", "2"]) == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (6, 64, 48)
    assert GenerationRequest.from_json(read_recipe(out)).seed == 5


def test_two_prompts_write_two_numbered_videos(tiny_folder, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    args = base_args(tiny_folder, out)
    args.insert(2, "a blue star")
    assert main(args) == 0
    written = capsys.readouterr().out.split()
    assert written == [str(tmp_path / "clip-01.mp4"), str(tmp_path / "clip-02.mp4")]
    assert GenerationRequest.from_json(read_recipe(written[1])).prompts == ["a blue star"]


BAD = {
    "frames 0": ["--frames", "0"],
    "frames not a number": ["--frames", "many"],
    "steps 0": ["--steps", "0"],
    "guidance negative": ["--guidance", "-1"],
    "width not a multiple of 8": ["--width", "30"],
    "height too small": ["--height", "8"],
    "chunk size negative": ["--chunk-size", "-1"],
    "fps 0": ["--fps", "0"],
    "motion too large": ["--motion", "1000", "0"],
    "motion one value": ["--motion", "3"],
    "T before T'": ["--t-restart", "100", "--t-warp", "200"],
    "unknown scheduler": ["--scheduler", "plms"],
    "unknown dtype": ["--dtype", "int8"],
    "seed negative": ["--seed", "-3"],
    "upscale 0": ["--upscale", "0"],
    "unknown flag": ["--colour", "red"],
    "unknown device": ["--device", "tpu"],
    "end image without a start image": ["--end-image", "end.png"],
}


@pytest.mark.parametrize("extra", BAD.values(), ids=BAD.keys())
def test_bad_flags_exit_2_with_one_line_and_no_file(tiny_folder, tmp_path, capsys, extra):
    out = tmp_path / "clip.mp4"
    assert main(base_args(tiny_folder, out) + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("t2vz: error:") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def _bad_cases(tmp_path, tiny_folder):
    (tmp_path / "m.ckpt").write_bytes(b"not really a pickle")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"t2vz_recipe": 1, "prompts": ["x"], "colour": "red"}))
    (tmp_path / "fake.safetensors").write_bytes(b"garbage")
    return {
        "missing model folder": ["--model", str(tmp_path / "nothing")],
        "hub id not in cache": ["--model", "nobody/no-such-model"],
        "ckpt without opt-in": ["--model", str(tmp_path / "m.ckpt")],
        "damaged safetensors": ["--model", str(tmp_path / "fake.safetensors")],
        "recipe not json": ["--recipe", str(tmp_path / "broken.json")],
        "recipe with unknown field": ["--recipe", str(tmp_path / "other.json")],
        "recipe missing": ["--recipe", str(tmp_path / "none.json")],
        "out in a missing folder": ["--out", str(tmp_path / "no" / "clip.mp4")],
        "out on a read-only file system": ["--out", "/proc/clip.mp4"],
        "out with unknown format": ["--out", str(tmp_path / "clip.avi")],
    }


@pytest.mark.parametrize("case", ["missing model folder", "hub id not in cache", "ckpt without opt-in",
                                  "damaged safetensors", "recipe not json", "recipe with unknown field",
                                  "recipe missing", "out in a missing folder", "out on a read-only file system",
                                  "out with unknown format"])
def test_bad_inputs_exit_2_and_leave_nothing(tiny_folder, tmp_path, capsys, case):
    extra = _bad_cases(tmp_path, tiny_folder)[case]
    before = set(tmp_path.iterdir())
    assert main(base_args(tiny_folder, tmp_path / "clip.mp4") + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("t2vz: error:") and "\n" not in err, err
    assert set(tmp_path.iterdir()) == before


def test_no_prompt_is_bad_input(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "prompt" in capsys.readouterr().err


def test_cancelled_export_leaves_nothing(tiny_folder, tmp_path, model_cache):
    from t2vz_desktop.engine.jobs import CancelToken, Cancelled, export_result, run_generation
    from t2vz_desktop.media import ExportOptions

    result = run_generation(GenerationRequest(prompts=["a", "b"], model=str(tiny_folder), frames=4, width=32,
                                              height=32, steps=3, seed=1, device="cpu"), cache=model_cache)
    token = CancelToken()

    def on_event(e):
        if e.kind == "decode" and e.step == 6:  # in the second video, after the first was written
            token.cancel()

    with pytest.raises(Cancelled):
        export_result(result, tmp_path / "clip.mp4", ExportOptions(), on_event, token)
    assert list(tmp_path.iterdir()) == []


def test_a_gif_beside_an_mp4_of_the_same_name_does_not_take_its_recipe(tiny_folder, tmp_path, capsys):
    """Found by a newcomer: `--out x.mp4` then `--out x.gif` replaced x.json, so `--recipe x.json`
    re-made the GIF's seed, not the MP4's. Now refused in one line before any work; replacing a
    video with its own recipe stays allowed."""
    mp4 = tmp_path / "x.mp4"
    assert main(base_args(tiny_folder, mp4)) == 0
    recipe = (tmp_path / "x.json").read_text()
    capsys.readouterr()
    gif = base_args(tiny_folder, tmp_path / "x.gif")
    assert main(gif) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "its recipe x.json is x.mp4's" in err[0], err
    assert (tmp_path / "x.json").read_text() == recipe and not (tmp_path / "x.gif").exists()
    assert main(base_args(tiny_folder, mp4)[:-1] + ["--seed", "6", "-q"]) == 0  # the MP4 again: its own pair
    assert '"seed": 6' in (tmp_path / "x.json").read_text()


def test_a_flag_is_never_taken_for_the_start_of_a_longer_one(tmp_path, capsys):
    """`edit --source a.mp4` was read as --source-fps a.mp4 ("invalid float value: 'a.mp4'")."""
    assert main(["edit", "a.mp4", "--source", "b.mp4", "--out", str(tmp_path / "o.mp4")]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --source" in err and "float" not in err
