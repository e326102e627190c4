"""Projects and recipes written by someone else: every malformed file gets one message naming the
file and the field, and changes nothing; consent to load pickle checkpoints never comes from a
file; Save copies only what the app generated itself, through temporary names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from t2vz_desktop.app.project import MediaItem, Project, ProjectFileError, media_folder
from t2vz_desktop.engine.request import CONSENT_FIELDS, GenerationRequest, RequestError

RECIPE = GenerationRequest(prompts=["a red ball"], seed=3).to_json()


def valid_data(tmp_path: Path) -> dict:
    """A correct project file's data: two media items, three clips on the bottom track."""
    p = Project.new(64, 64, 8)
    for name in ("a", "b"):
        (tmp_path / f"{name}.mp4").write_bytes(b"x")
        p.add_media(MediaItem(name, str(tmp_path / f"{name}.mp4"), f"{name}.mp4", 64, 48, 8.0, 10, recipe=RECIPE))
    for name in ("a", "b", "a"):
        p.add_clip(p.tracks[-1].id, name)
    p.save(tmp_path / "valid.t2vz")
    return json.loads((tmp_path / "valid.t2vz").read_text())


def _set(path: str, value):
    """A change to the data at a dotted path: 'tracks.1.clips.2.out_point'."""
    def change(data):
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
        return data
    return change


def _clip_at(k: int, **values):
    def change(data):
        data["tracks"][1]["clips"][k].update(values)
        return data
    return change


def _duplicate_media(data):
    data["media"][1]["id"] = data["media"][0]["id"]
    return data


def _duplicate_clip(data):
    clips = data["tracks"][1]["clips"]
    clips[1]["id"] = clips[0]["id"]
    return data


# kind -> (change to a valid file's data or its bytes, the field the message must name)
CASES = {
    "clip names a missing media id": (_clip_at(2, media_id="nope"), "tracks[1].clips[2].media_id"),
    "project fps 0": (_set("settings.fps", 0), "settings.fps"),
    "project fps negative": (_set("settings.fps", -8), "settings.fps"),
    "media fps 0": (_set("media.0.fps", 0), "media[0].fps"),
    "project width 0": (_set("settings.width", 0), "settings.width"),
    "media height negative": (_set("media.1.height", -48), "media[1].height"),
    "media frames 0": (_set("media.0.frames", 0), "media[0].frames"),
    "in equals out": (_clip_at(2, in_point=4, out_point=4), "tracks[1].clips[2].out_point must be greater than in_point"),
    "in after out": (_clip_at(0, in_point=6, out_point=2), "tracks[1].clips[0].out_point"),
    "start beyond 10^7 frames": (_clip_at(2, start=10**7 + 1), "tracks[1].clips[2].start"),
    "no tracks": (_set("tracks", []), "tracks"),
    "text in a numeric field": (_set("settings.width", "64"), "settings.width must be a whole number"),
    "bool as an int": (_clip_at(1, start=True), "tracks[1].clips[1].start must be a whole number"),
    "NaN frame rate": (_set("settings.fps", float("nan")), "settings.fps must be a finite number"),
    "infinite source rate": (_set("media.0.fps", float("inf")), "media[0].fps must be a finite number"),
    "fractional frame count": (_set("media.0.frames", 2.5), "media[0].frames must be a whole number"),
    "truncated JSON": (lambda raw: raw[: len(raw) // 2], "ends early"),
    "non-UTF-8 bytes": (lambda raw: raw.replace(b'"a.mp4"', b'"\xff\xfe.mp4"', 1), "not UTF-8"),
    "unknown format version": (_set("t2vz_project", 99), "format 99"),
    "version is not a number": (_set("t2vz_project", "1"), "t2vz_project"),
    "duplicate media ids": (_duplicate_media, "media[1].id"),
    "duplicate clip ids": (_duplicate_clip, "tracks[1].clips[1].id"),
    "overlapping clips on a track": (_clip_at(1, start=5), "tracks[1].clips[1].start overlaps tracks[1].clips[0]"),
    "out point past the source": (_clip_at(0, out_point=11), "tracks[1].clips[0].out_point is past the end"),
    "unknown key in a clip": (_clip_at(0, colour="red"), "tracks[1].clips[0].colour is not a known field"),
    "unknown top-level key": (_set("extras", 1), "extras is not a known field"),
    "media path is not text": (_set("media.0.path", 5), "media[0].path must be text"),
    "media list is an object": (_set("media", {}), "media must be a list"),
    "malformed embedded recipe": (_set("media.1.recipe", RECIPE.replace('"frames": 8', '"frames": "8"')),
                                  "media[1].recipe: frames must be a whole number"),
    "embedded recipe is not JSON": (_set("media.0.edited_recipe", "{oops"), "media[0].edited_recipe is not valid JSON"),
}


def write_case(tmp_path: Path, kind: str) -> Path:
    change, _ = CASES[kind]
    path = tmp_path / "film.t2vz"
    if kind in ("truncated JSON", "non-UTF-8 bytes"):
        path.write_bytes(change((tmp_path / "valid.t2vz").read_bytes()))
    else:
        path.write_text(json.dumps(change(valid_data(tmp_path))))
    return path


@pytest.mark.parametrize("kind", CASES)
def test_a_malformed_project_gets_one_message_naming_the_file_and_the_field(tmp_path, kind):
    valid_data(tmp_path)
    path = write_case(tmp_path, kind)
    with pytest.raises(ProjectFileError) as caught:
        Project.load(path)
    message = str(caught.value)
    assert message.startswith("film.t2vz"), message
    assert CASES[kind][1] in message, message
    assert "\n" not in message


def test_a_valid_file_still_loads_and_its_clips_come_back_in_order(tmp_path):
    data = valid_data(tmp_path)
    data["tracks"][1]["clips"].reverse()  # order in the file does not matter
    (tmp_path / "film.t2vz").write_text(json.dumps(data))
    project = Project.load(tmp_path / "film.t2vz")
    assert [c.start for c in project.tracks[1].clips] == [0, 10, 20]


# -- recipes ------------------------------------------------------------------------------------
def _recipe(**changes) -> str:
    data = json.loads(RECIPE)
    data.update(changes)
    return json.dumps(data)


RECIPE_CASES = {
    "text as frames": (_recipe(frames="8"), "frames must be a whole number"),
    "bool as frames": (_recipe(frames=True), "frames must be a whole number"),
    "NaN guidance": (_recipe(guidance=float("nan")), "guidance must be a finite number"),
    "infinite fps": (_recipe(fps=float("inf")), "fps must be a finite number"),
    "fractional seed": (_recipe(seed=1.5), "seed must be a whole number"),
    "prompts as text": (_recipe(prompts="a cat"), "prompts must be a list"),
    "camera key with text zoom": (_recipe(camera=[{"frame": 0, "zoom": "x"}]), "camera[0].zoom must be a number"),
    "camera pan of three": (_recipe(camera=[{"frame": 0, "pan": [1, 2, 3]}]), "camera[0].pan must be a list of 2"),
    "prompt key without prompt": (_recipe(prompt_keys=[{"frame": 0}]), "prompt_keys[0].prompt is missing"),
    "control scale null": (_recipe(edit={"source": "s.mp4", "controls": [{"mode": "canny", "scale": None}]}),
                           "edit.controls[0].scale must be a number"),
    "loras as an object": (_recipe(loras={"path": "x"}), "loras must be a list"),
    "frames out of range": (_recipe(frames=0), ": frames must be between"),  # the recipe's key, not the flag
    "sampler's step noise misspelt": (_recipe(step_noise="Shared"), ": step_noise must be shared or frame (got 'Shared')"),
    "unknown recipe version": (_recipe(t2vz_recipe=7), "t2vz_recipe 7"),
    "truncated": (RECIPE[: len(RECIPE) // 2], "not valid JSON"),
    "unknown field": (_recipe(colour="red"), "unknown field(s): colour"),
}


@pytest.mark.parametrize("kind", RECIPE_CASES)
def test_a_malformed_recipe_is_a_request_error_naming_the_field(kind):
    text, expected = RECIPE_CASES[kind]
    with pytest.raises(RequestError) as caught:
        GenerationRequest.from_json(text, "film.json")
    assert str(caught.value).startswith("film.json") and expected in str(caught.value), str(caught.value)


def test_a_recipe_never_grants_consent_and_says_so(tmp_path):
    warnings = []
    request = GenerationRequest.from_json(_recipe(allow_unsafe_pickle=True), "film.json", warn=warnings.append)
    assert request.allow_unsafe_pickle is False
    assert len(warnings) == 1 and "film.json" in warnings[0] and "--allow-unsafe-pickle" in warnings[0]
    assert "allow_unsafe_pickle" in CONSENT_FIELDS
    # and our own recipes never carry it, even from a run the user allowed
    assert "allow_unsafe_pickle" not in GenerationRequest(prompts=["x"], allow_unsafe_pickle=True).to_json()


def test_generate_recipe_drops_the_recipes_pickle_consent_and_only_the_flag_grants_it(tmp_path, capsys):
    from t2vz_desktop import cli
    from t2vz_desktop.cli import _parser, build_request, main

    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"not really a pickle")
    recipe = tmp_path / "shared.json"
    recipe.write_text(_recipe(model=str(checkpoint), allow_unsafe_pickle=True))
    args = ["generate", "--recipe", str(recipe), "--out", str(tmp_path / "out.mp4")]
    assert build_request(_parser().parse_args(args)).allow_unsafe_pickle is False
    assert any("recipe shared.json asks to allow pickle checkpoints" in w for w in cli._PENDING_WARNINGS)
    assert build_request(_parser().parse_args(args + ["--allow-unsafe-pickle"])).allow_unsafe_pickle is True
    assert main(args) == 2  # refused before any work: the pickle gate holds
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pickle checkpoint" in err[0] and not (tmp_path / "out.mp4").exists()  # one line


# -- Save copies only our own generated media -------------------------------------------------
def test_save_never_copies_a_file_that_a_project_claims_was_generated(tmp_path):
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"private")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "in").mkdir(parents=True)
    data = valid_data(elsewhere / "in")
    data["media"][0].update(path="../../secret.mp4", generated=True)  # relative to the project file
    data["media"][1].update(path=str(secret), generated=True)  # and absolute
    (elsewhere / "in" / "film.t2vz").write_text(json.dumps(data))
    project = Project.load(elsewhere / "in" / "film.t2vz")
    own = tmp_path / "app-data" / "unsaved"
    own.mkdir(parents=True)
    (own / "link.mp4").symlink_to(secret)  # a link in our own folder to a file elsewhere is elsewhere
    project.add_media(MediaItem("c", str(own / "link.mp4"), "link.mp4", 64, 48, 8.0, 10, generated=True))

    out = tmp_path / "mine" / "copy.t2vz"
    out.parent.mkdir()
    project.save(out, own_media=(own, media_folder(elsewhere / "in" / "film.t2vz")))
    assert not media_folder(out).exists()
    saved = Project.load(out)
    assert {m.path for m in saved.media.values()} == {str(secret), str(own / "link.mp4")}


def test_save_copies_our_generated_clips_through_a_temporary_name(tmp_path, monkeypatch):
    own = tmp_path / "unsaved"
    own.mkdir()
    (own / "gen.mp4").write_bytes(b"video" * 1000)
    p = Project.new(64, 64, 8)
    p.add_media(MediaItem("g", str(own / "gen.mp4"), "gen.mp4", 64, 48, 8.0, 10, recipe=RECIPE, generated=True))
    p.add_clip(p.tracks[-1].id, "g")
    path = tmp_path / "film.t2vz"

    real_replace = os.replace

    def killed(src, dst):  # the process dies as the first copy is about to get its final name
        raise SystemExit("killed")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(SystemExit):
        p.save(path, own_media=(own,))
    monkeypatch.setattr(os, "replace", real_replace)
    assert not path.exists()  # the project file comes after its media
    assert not (media_folder(path) / "gen.mp4").exists()  # no half file under the final name
    assert p.media["g"].path == str(own / "gen.mp4")

    p.save(path, own_media=(own,))
    assert (media_folder(path) / "gen.mp4").read_bytes() == b"video" * 1000
    assert Project.load(path).media["g"].path == str(media_folder(path) / "gen.mp4")
    assert [f.name for f in media_folder(path).iterdir()] == ["gen.mp4"]


def test_the_next_save_removes_what_a_killed_save_left_and_keeps_a_live_writers(tmp_path):
    """A save killed with -9 leaves its `.part` copies (named with its pid, media.atomic); the next
    save removes those of a dead writer, beside the project and in its media folder, and keeps
    those of a writer that still runs."""
    import subprocess
    import sys

    from test_atomic_writes import dead_pid

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        own = tmp_path / "unsaved"
        own.mkdir()
        (own / "gen.mp4").write_bytes(b"video" * 1000)
        (own / "gen.json").write_text(RECIPE)
        p = Project.new(64, 64, 8)
        p.add_media(MediaItem("g", str(own / "gen.mp4"), "gen.mp4", 64, 48, 8.0, 10, recipe=RECIPE, generated=True))
        path = tmp_path / "film.t2vz"
        media = media_folder(path)
        media.mkdir()
        dead, live = dead_pid(), sleeper.pid
        leftovers = {tmp_path / f".film.t2vz.{dead}-0123abcd.part": False, media / f".gen.mp4.{dead}-0123abcd.part": False,
                     media / f".gen.json.{dead}-0123abcd.part": False, media / f".gen.mp4.{live}-89abcdef.part": True}
        for file in leftovers:
            file.write_bytes(b"half")
        p.save(path, own_media=(own,))
        for file, kept in leftovers.items():
            assert file.exists() == kept, file.name
        assert sorted(f.name for f in media.iterdir() if not f.name.startswith(".")) == ["gen.json", "gen.mp4"]
    finally:
        sleeper.kill()
        sleeper.wait()
