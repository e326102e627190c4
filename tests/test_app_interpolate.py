"""Frame interpolation in the editor (issue 26): a clip's Smooth motion property makes the frames
between a slow source's frames by optical flow, and the export can raise the frame rate."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from test_app_fixtures import count_frames, make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app.project import MediaItem, Project, new_id
from t2vz_desktop.app.project_format import read_project, write_project
from t2vz_desktop.app.render import FrameCache, RenderOptions, frame_at, render_timeline, timeline_frames
from t2vz_desktop.media import probe_video

SIZE = (96, 64)


def moving_square_clip(path: Path, frames: int = 6, fps: float = 8, step: int = 6, tone: bool = False) -> Path:
    """A white 16 px square moving `step` px right a frame on dark blue, optionally with a tone."""
    def picture(i: int) -> np.ndarray:
        image = np.full((SIZE[1], SIZE[0], 3), (20, 30, 120), np.uint8)
        image[24:40, 10 + step * i : 26 + step * i] = 255
        return image

    return make_clip(path, frames, fps, SIZE, tone_hz=440 if tone else None, picture=picture, lossless=True)


def square_left(frame: np.ndarray) -> float:
    """Left edge of the white square along row 32, sub-pixel."""
    white = (frame[32, :, 1].astype(np.float32) - 30) / (255 - 30)
    first = int(np.argmax(white > 0.1))
    return first + 1 - float(np.clip(white[first], 0, 1))


def project_with(path: Path, fps: float, interpolate: bool) -> Project:
    info = probe_video(path)
    p = Project.new(*SIZE, fps)
    item = p.add_media(MediaItem(new_id(), str(path), path.name, info.width, info.height, info.fps, info.frames,
                                 info.has_audio))
    clip = p.add_clip(p.tracks[-1].id, item.id)
    clip.interpolate = interpolate
    return p


@pytest.fixture
def clip_8fps(tmp_path):
    return moving_square_clip(tmp_path / "square.mp4")


def test_smooth_motion_makes_the_frames_between_by_flow(clip_8fps):
    p = project_with(clip_8fps, 24, interpolate=True)
    frames = list(timeline_frames(p, *SIZE))
    assert len(frames) == p.duration == 18  # 6 frames of 1/8 s at 24 fps
    edges = [square_left(f) for f in frames]
    expected = [10 + 2 * min(j, 15) for j in range(18)]  # the last source frame holds its 1/8 s
    assert all(abs(e - x) < 0.7 for e, x in zip(edges, expected)), [round(e, 1) for e in edges]


def test_without_smooth_motion_each_source_frame_repeats(clip_8fps):
    frames = list(timeline_frames(project_with(clip_8fps, 24, interpolate=False), *SIZE))
    edges = [round(square_left(f)) for f in frames]
    assert edges[:6] == [10, 10, 10, 16, 16, 16]


def test_the_monitor_shows_what_the_export_renders(clip_8fps):
    p = project_with(clip_8fps, 24, interpolate=True)
    cache = FrameCache()
    rendered = list(timeline_frames(p, *SIZE))
    for j in (1, 2, 4, 7):
        shown, _ = frame_at(p, j, cache)
        assert np.abs(shown.astype(int) - rendered[j]).max() <= 2, j


def test_export_at_a_higher_rate_interpolates_and_keeps_the_sound_in_step(tmp_path):
    source = moving_square_clip(tmp_path / "tone.mp4", tone=True)
    p = project_with(source, 8, interpolate=False)
    out = render_timeline(p, tmp_path / "out.mp4", RenderOptions(*SIZE, 8, interpolate_fps=24))
    info = probe_video(out)
    assert info.fps == pytest.approx(24) and count_frames(out) == 18 and info.has_audio  # 0.75 s, the last held
    with av.open(str(out)) as box:
        sound_s = sum(f.samples for f in box.decode(audio=0)) / 48000
    assert abs(sound_s - 6 / 8) < 0.05  # the timeline's 6 frames at 8 fps: 0.75 s of sound


def test_the_property_survives_save_split_copy_and_paste(clip_8fps, tmp_path):
    p = project_with(clip_8fps, 24, interpolate=True)
    clip = p.tracks[-1].clips[0]
    right = p.split_clip(clip.id, 6)
    assert right.interpolate
    copied = p.copy_clips([right.id])
    pasted = p.paste_clips(copied, p.tracks[0].id, 40)
    assert pasted[0].interpolate
    write_project(p, tmp_path / "p.t2vz")
    again = read_project(tmp_path / "p.t2vz")
    assert [c.interpolate for t in again.tracks for c in t.clips] == [True, True, True]
    p.set_interpolate([pasted[0].id], False)
    assert not pasted[0].interpolate


def test_the_export_dialog_offers_interpolated_rates(window, clip_8fps):
    window.import_files([clip_8fps], window.doc.project.tracks[-1].id, 0)  # an 8 fps project
    dialog = window.export_dialog()
    try:
        assert [dialog.rate.itemData(i) for i in range(dialog.rate.count())] == [None, 24.0, 30.0, 60.0]
        assert dialog.options().interpolate_fps is None and "6 frames at 8 fps" in dialog.status.text()
        dialog.rate.setCurrentIndex(1)
        assert dialog.options().interpolate_fps == 24.0
        assert "18 frames at 24 fps" in dialog.status.text()
    finally:
        dialog.done(0)


def test_the_clip_menu_turns_smooth_motion_on_as_one_undoable_edit(window, clip_8fps):
    window.import_files([clip_8fps], window.doc.project.tracks[-1].id, 0)
    clip = window.doc.project.tracks[-1].clips[0]
    window.timeline.select(clip.id)
    action = next(a for a in window.timeline_menu("clip").actions() if a.text().startswith("Smooth motion"))
    assert action.isCheckable() and not action.isChecked()
    action.trigger()
    assert window.doc.project.tracks[-1].clips[0].interpolate
    window.doc.undo.undo()
    assert not window.doc.project.tracks[-1].clips[0].interpolate
