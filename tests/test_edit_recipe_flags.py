"""`t2vz edit --recipe FILE [flags]`: every editing flag given changes only its part of the recipe's
edit, and a flag left out keeps the recipe's value (a newcomer's `--mode canny` over a recipe lost
its source, range and fit; `--flow-guidance` over a recipe did nothing, silently)."""

from __future__ import annotations

import json

import pytest

from t2vz_desktop.cli import _parser, build_request, main
from t2vz_desktop.engine.request import (
    DEFAULT_MODEL, INSTRUCT_MODEL, ControlSpec, EditSpec, GenerationRequest,
)


def recipe_file(tmp_path, edit: EditSpec, model: str = "demo", drop: tuple[str, ...] = ()) -> str:
    data = json.loads(GenerationRequest(prompts=["a yellow circle on a purple background"], model=model,
                                        edit=edit).to_json())
    for name in drop:
        del data["edit"][name]
    path = tmp_path / "take.json"
    path.write_text(json.dumps(data))
    return str(path)


def remade(*args: str) -> GenerationRequest:
    return build_request(_parser().parse_args(["edit", *args, "--out", "/tmp/never-written.mp4"]))


@pytest.fixture
def canny_recipe(tmp_path):
    edit = EditSpec(source="/videos/walk.mp4", controls=[ControlSpec("canny", "/nets/canny", 0.7)], start=12,
                    end=40, step=2, fit="pad", canny_low=50, canny_high=150, flow_guidance=0.5, keep_audio=False)
    return recipe_file(tmp_path, edit)


def test_a_recipe_alone_remakes_its_edit(canny_recipe):
    edit = remade("--recipe", canny_recipe).edit
    assert edit == EditSpec(source="/videos/walk.mp4", controls=[ControlSpec("canny", "/nets/canny", 0.7)], start=12,
                            end=40, step=2, fit="pad", canny_low=50, canny_high=150, flow_guidance=0.5,
                            keep_audio=False)


@pytest.mark.parametrize("flags, changed", [
    (["--flow-guidance", "0"], {"flow_guidance": 0.0}),
    (["--fit", "crop"], {"fit": "crop"}),
    (["--low", "20", "--high", "90"], {"canny_low": 20, "canny_high": 90}),
    (["--step", "1"], {"step": 1}),
    (["--source-fps", "12"], {"fps": 12.0}),
    (["--motion-field"], {"motion_field": True}),
    (["--audio"], {"keep_audio": True}),  # the recipe's --no-audio undone (a newcomer found no flag for it)
    (["--no-audio"], {}),
    (["--start", "3"], {"start": 3}),  # one end given moves that end alone (a newcomer's lost the other)
    (["--end", "30"], {"end": 30}),
    (["--start-time", "1.5"], {"start": 0, "start_s": 1.5}),  # in seconds: the frame start gives way
    (["--end-time", "2.5"], {"end": None, "end_s": 2.5}),
    (["--control-scale", "0.3"], {"controls": [ControlSpec("canny", "/nets/canny", 0.3)]}),
    (["--mode", "canny"], {}),  # the mode given again keeps its ControlNet and strength
    (["--mode", "pose"], {"controls": [ControlSpec("pose")]}),
    (["--mode", "canny", "--mode", "depth"], {"controls": [ControlSpec("canny", "/nets/canny", 0.7),
                                                           ControlSpec("depth")]}),
])
def test_each_flag_changes_only_its_part(canny_recipe, flags, changed):
    before = remade("--recipe", canny_recipe).edit
    after = remade("--recipe", canny_recipe, *flags).edit
    assert {k: v for k, v in after.__dict__.items() if v != before.__dict__[k]} == changed


def test_a_new_source_keeps_the_rest_and_is_recorded_absolute(canny_recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    request = remade("clip.mp4", "--recipe", canny_recipe)
    assert request.edit.source == str(tmp_path / "clip.mp4")
    assert (request.edit.start, request.edit.fit, request.model) == (12, "pad", "demo")
    assert remade("clip.mp4", "--mode", "canny", "-p", "x").edit.source == str(tmp_path / "clip.mp4")


def test_a_new_source_is_sized_and_conditioned_from_itself(tmp_path, capsys):
    """A newcomer's portrait clip over a landscape edit's recipe came out landscape (the recipe's
    size), and a recipe's ready condition video (the old clip's edges) went on steering."""
    from t2vz_desktop import cli

    edit = EditSpec(source="/videos/walk.mp4", controls=[ControlSpec("canny", condition="/videos/walk-edges.mp4")])
    data = json.loads(GenerationRequest(prompts=["x"], model="demo", width=96, height=64, edit=edit).to_json())
    recipe = tmp_path / "take.json"
    recipe.write_text(json.dumps(data))
    same = remade("--recipe", str(recipe))
    assert (same.width, same.height, same.edit.controls[0].condition) == (96, 64, "/videos/walk-edges.mp4")
    cli._PENDING_WARNINGS.clear()
    other = remade("/videos/portrait.mp4", "--recipe", str(recipe))
    assert (other.width, other.height, other.edit.controls[0].condition) == (None, None, None)
    assert any("condition is taken from /videos/portrait.mp4" in w for w in cli._PENDING_WARNINGS)
    assert remade("/videos/portrait.mp4", "--recipe", str(recipe), "--width", "64").width == 64
    alone = remade("--recipe", str(recipe), "--width", "64")  # one side given: the other follows the source
    assert (alone.width, alone.height) == (64, None)
    link = tmp_path / "same.mp4"
    link.symlink_to(tmp_path / "walk.mp4")
    data["edit"]["source"] = str(tmp_path / "walk.mp4")
    recipe.write_text(json.dumps(data))
    cli._PENDING_WARNINGS.clear()
    same = remade(str(link), "--recipe", str(recipe))  # a link to the recipe's own source is not a new one
    assert (same.width, same.edit.controls[0].condition) == (96, "/videos/walk-edges.mp4") and not cli._PENDING_WARNINGS


def test_an_edit_from_a_generated_videos_recipe_is_sized_from_its_source(tmp_path):
    data = json.loads(GenerationRequest(prompts=["a red circle"], model="demo", width=64, height=64).to_json())
    recipe = tmp_path / "generated.json"
    recipe.write_text(json.dumps(data))
    request = remade("/videos/walk.mp4", "--recipe", str(recipe), "--mode", "canny")
    assert (request.width, request.height, request.model) == (None, None, "demo")


def test_local_files_and_folders_are_recorded_absolute_and_names_as_typed(tmp_path, monkeypatch):
    """A newcomer's `--controlnet ../cn --model ../demo_copy` recipe failed from another folder."""
    monkeypatch.chdir(tmp_path)
    for folder in ("net", "model", "depth"):
        (tmp_path / folder).mkdir()
    request = remade("clip.mp4", "--mode", "depth", "-p", "x", "--controlnet", "net", "--model", "model",
                     "--depth-model", "depth")
    assert request.model == str(tmp_path / "model") and request.edit.depth_model == str(tmp_path / "depth")
    assert request.edit.controls[0].model == str(tmp_path / "net")
    named = remade("clip.mp4", "--mode", "canny", "-p", "x", "--controlnet", "someone/net", "--model", "demo")
    assert (named.model, named.edit.controls[0].model) == ("demo", "someone/net")
    (tmp_path / "demo").mkdir()  # a folder named demo: --model demo is still the built-in, --controlnet demo the folder
    both = remade("clip.mp4", "--mode", "canny", "-p", "x", "--controlnet", "demo", "--model", "demo")
    assert (both.model, both.edit.controls[0].model) == ("demo", str(tmp_path / "demo"))


def test_a_recipe_from_before_flow_guidance_keeps_it_off_and_a_new_edit_has_it_on(tmp_path):
    old = recipe_file(tmp_path, EditSpec(source="/videos/walk.mp4", controls=[ControlSpec("canny")]),
                      drop=("flow_guidance",))
    assert remade("--recipe", old).edit.flow_guidance == 0.0
    assert remade("--recipe", old, "--flow-guidance", "1").edit.flow_guidance == 1.0
    assert remade("/videos/walk.mp4", "--mode", "canny", "-p", "x").edit.flow_guidance == 1.0


def test_the_model_follows_the_kind_of_edit_unless_the_recipe_made_that_kind(tmp_path):
    pix2pix = recipe_file(tmp_path, EditSpec(source="/videos/walk.mp4", instruct=True, image_guidance=1.8),
                          model="/models/my-pix2pix")
    again = remade("--recipe", pix2pix)
    assert again.model == "/models/my-pix2pix" and again.edit.image_guidance == 1.8  # its own model kept
    assert remade("--recipe", pix2pix, "--image-guidance", "1.2").edit.image_guidance == 1.2
    canny = remade("--recipe", pix2pix, "--mode", "canny")
    assert canny.model == DEFAULT_MODEL and not canny.edit.instruct and canny.edit.image_guidance == 1.0
    assert remade("--recipe", pix2pix, "--mode", "canny", "--model", "demo").model == "demo"
    assert remade("/videos/walk.mp4", "--mode", "pix2pix", "-p", "make it snow").model == INSTRUCT_MODEL


@pytest.mark.parametrize("flags, says", [
    (["--mode", "canny", "--mode", "canny"], "--mode canny is given twice"),
    (["--mode", "pix2pix", "--controlnet", "/nets/x"], "--controlnet steers a ControlNet mode"),
    (["--control-scale", "1", "--control-scale", "2"], "give --control-scale once per --mode (1 mode, 2 given)"),
    (["--start", "2", "--start-time", "1"], "give --start or --start-time, not both"),
    (["--start", "50"], "end > start (got 50..40)"),  # past the recipe's own end, as on a plain command line
])
def test_contradictions_are_one_line_and_exit_2(canny_recipe, tmp_path, capsys, flags, says):
    out = tmp_path / "out.mp4"
    assert main(["edit", "--recipe", canny_recipe, *flags, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and says in err, err
    assert not out.exists()


def test_an_edit_without_a_recipe_still_needs_a_mode_and_a_source(tmp_path, capsys):
    out = str(tmp_path / "out.mp4")
    assert main(["edit", "/videos/walk.mp4", "-p", "x", "--out", out, "-q"]) == 2
    assert "give --mode" in capsys.readouterr().err
    assert main(["edit", "--mode", "canny", "-p", "x", "--out", out, "-q"]) == 2
    assert "give the source video to edit" in capsys.readouterr().err


def test_relative_paths_in_a_recipe_are_read_beside_it_then_here_and_written_absolute(tmp_path, monkeypatch):
    """A newcomer's hand-written recipe naming "src.mp4" (as 0.2.0 wrote what was typed) failed when run
    from the recipe's own folder, and a re-make wrote the relative name again."""
    folder, here = tmp_path / "takes", tmp_path / "elsewhere"
    folder.mkdir()
    here.mkdir()
    (folder / "src.mp4").write_bytes(b"")
    (here / "net").mkdir()
    edit = EditSpec(source="src.mp4", controls=[ControlSpec("canny", "net")])
    data = json.loads(GenerationRequest(prompts=["x"], model="demo", edit=edit).to_json())
    (folder / "take.json").write_text(json.dumps(data))
    monkeypatch.chdir(here)
    request = remade("--recipe", str(folder / "take.json"))
    assert request.edit.source == str(folder / "src.mp4")  # beside the recipe
    assert request.edit.controls[0].model == str(here / "net")  # not there: here
    assert request.model == "demo"


def test_a_depth_model_without_a_depth_mode_is_said():
    from t2vz_desktop import cli

    cli._PENDING_WARNINGS.clear()
    canny = remade("/videos/walk.mp4", "--mode", "canny", "-p", "x", "--depth-model", "someone/depth")
    assert cli._PENDING_WARNINGS == ["--depth-model only steers --mode depth; ignored"]
    assert canny.edit.depth_model is None  # not kept in the recipe either
    cli._PENDING_WARNINGS.clear()
    remade("/videos/walk.mp4", "--mode", "depth", "-p", "x", "--depth-model", "someone/depth")
    assert cli._PENDING_WARNINGS == []
