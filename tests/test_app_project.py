"""The timeline model without Qt: edits, conforming other frame rates, and the project file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from t2vz_desktop.app.project import EditError, MediaItem, Project, ProjectFileError
from t2vz_desktop.engine.request import GenerationRequest

RECIPE = GenerationRequest(prompts=["a red ball"]).to_json()  # a project's recipes are checked on load


def project_with_clips():
    p = Project.new(64, 64, 8)
    p.add_media(MediaItem("a", "/media/a.mp4", "a.mp4", 64, 48, 8.0, 10))
    p.add_media(MediaItem("b", "/media/b.mp4", "b.mp4", 80, 80, 16.0, 12))
    bottom = p.tracks[-1].id
    p.add_clip(bottom, "a")
    p.add_clip(bottom, "b")
    return p, bottom


def test_new_project_has_two_tracks_and_clips_follow_each_other():
    p, bottom = project_with_clips()
    assert [t.name for t in p.tracks] == ["V2", "V1"]
    a, b = p.track(bottom).clips
    assert (a.start, a.end) == (0, 10)
    assert (b.start, b.length) == (10, 6)  # 12 frames at 16 fps last 6 frames at 8 fps
    assert p.duration == 16


def test_a_faster_source_is_resampled_by_time():
    item = MediaItem("b", "x", "b", 8, 8, 16.0, 12)
    assert [item.source_frame(k, 8.0) for k in range(6)] == [0, 2, 4, 6, 8, 10]
    slow = MediaItem("c", "x", "c", 8, 8, 4.0, 3)
    assert [slow.source_frame(k, 8.0) for k in range(6)] == [0, 0, 1, 1, 2, 2]


def test_move_trim_split_delete():
    p, bottom = project_with_clips()
    top = p.tracks[0].id
    a, b = p.track(bottom).clips
    with pytest.raises(EditError):
        p.move_clip(a.id, bottom, 12)  # onto b
    p.move_clip(a.id, top, 3)
    assert p.visible_clip(4).id == a.id and p.visible_clip(12).id == a.id and p.visible_clip(13).id == b.id
    p.trim_clip(a.id, "left", 5)
    assert (a.start, a.in_point, a.out_point) == (5, 2, 10)
    p.trim_clip(a.id, "right", 9)
    assert (a.start, a.in_point, a.out_point) == (5, 2, 6)
    with pytest.raises(EditError):
        p.trim_clip(a.id, "right", 20)  # past the source's end
    right = p.split_clip(a.id, 7)
    assert (a.start, a.end, right.start, right.end, right.in_point) == (5, 7, 7, 9, 4)
    p.delete_clip(right.id)
    assert [c.id for c in p.track(top).clips] == [a.id]


def test_tracks_add_remove_reorder():
    p, bottom = project_with_clips()
    new = p.add_track()
    assert new.name == "V3" and p.tracks[0] is new
    p.move_track(new.id, 2)
    assert p.tracks[-1] is new
    p.remove_track(new.id)
    assert len(p.tracks) == 2


def test_snapshot_restore_is_exact():
    p, bottom = project_with_clips()
    before = p.to_dict()
    state = p.snapshot()
    a = p.track(bottom).clips[0]
    p.split_clip(a.id, 4)
    p.add_track()
    p.restore(state)
    assert p.to_dict() == before


def test_save_and_load_round_trip_with_relative_paths(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    p = Project.new(64, 64, 8)
    for name in ("a.mp4", "b.mp4"):
        (media / name).write_bytes(b"x")
        p.add_media(MediaItem(name, str(media / name), name, 64, 48, 8.0, 10, recipe=RECIPE if name == "a.mp4" else None))
        p.add_clip(p.tracks[-1].id, name)
    path = tmp_path / "proj.t2vz"
    p.save(path)
    data = json.loads(path.read_text())
    assert data["t2vz_project"] == 1
    assert data["media"][0]["path"] == "media/a.mp4"
    loaded = Project.load(path)
    assert loaded.to_dict(tmp_path) == p.to_dict(tmp_path)
    assert not loaded.offline_media()
    assert not list(tmp_path.glob(".*.part"))  # the atomic write leaves no temp file


def test_missing_media_is_kept_offline(tmp_path):
    p = Project.new()
    p.add_media(MediaItem("a", str(tmp_path / "gone.mp4"), "gone.mp4", 64, 48, 8.0, 10))
    p.add_clip(p.tracks[-1].id, "a")
    p.save(tmp_path / "p.t2vz")
    loaded = Project.load(tmp_path / "p.t2vz")
    assert [m.name for m in loaded.offline_media()] == ["gone.mp4"]
    assert loaded.duration == 10


def test_unreadable_project_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.t2vz").write_text("{not json")
    with pytest.raises(ProjectFileError, match="bad.t2vz"):
        Project.load(tmp_path / "bad.t2vz")
    (tmp_path / "other.t2vz").write_text("{}")
    with pytest.raises(ProjectFileError, match="not a t2vz project"):
        Project.load(tmp_path / "other.t2vz")


def test_changing_the_frame_rate_keeps_clip_times():
    p, bottom = project_with_clips()
    p.set_format(128, 72, 16)
    a, b = p.track(bottom).clips
    assert (a.start, a.length, b.start, b.length) == (0, 20, 20, 12)
    assert (p.width, p.height) == (128, 72)


def test_the_model_and_the_renderer_never_import_qt():
    code = ("import sys, t2vz_desktop.app.project, t2vz_desktop.app.render;"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'torch'))]; assert not bad, bad")
    run = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
