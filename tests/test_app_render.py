"""The timeline render: top track wins, other sizes and rates conformed, audio mixed in."""

import av
import numpy as np
import pytest
from test_app_fixtures import count_frames, make_clip

from t2vz_desktop.app.project import MediaItem, Project, new_id
from t2vz_desktop.app.render import (
    FrameCache, RenderCancelled, RenderOptions, frame_at, prefetch_at, render_timeline, timeline_frames,
)
from t2vz_desktop.media import probe_video


def add_file(project: Project, path, track: int = -1):
    info = probe_video(path)
    item = project.add_media(MediaItem(new_id(), str(path), path.name, info.width, info.height, info.fps, info.frames, info.has_audio))
    return project.add_clip(project.tracks[track].id, item.id)


@pytest.fixture
def two_clips(tmp_path):
    red = make_clip(tmp_path / "red.mp4", 8, 8, (64, 48), (220, 30, 30), tone_hz=440)
    green = make_clip(tmp_path / "green.webm", 8, 16, (32, 32), (30, 220, 30))  # twice the rate
    p = Project.new(64, 64, 8)
    add_file(p, red)
    add_file(p, green)
    return p


def test_two_clip_timeline_renders_every_frame_at_the_project_size(two_clips, tmp_path):
    assert two_clips.duration == 8 + 4
    out = render_timeline(two_clips, tmp_path / "out.mp4", RenderOptions(64, 64, 8))
    info = probe_video(out)
    assert (info.width, info.height, info.fps) == (64, 64, 8.0)
    assert count_frames(out) == 12
    assert info.has_audio  # the red clip's tone


def test_top_track_wins_and_gaps_are_black(two_clips):
    p = two_clips
    red = p.tracks[-1].clips[0]
    p.move_clip(red.id, p.tracks[0].id, 10)  # red on top from 10; green stays at 8-11 below
    frames = list(timeline_frames(p, 32, 32))
    assert len(frames) == 18
    assert frames[0].max() < 20 and frames[7].max() < 20  # nothing there: black
    assert frames[9][16, 30, 1] > 150  # green before red starts
    assert frames[10][16, 30, 0] > 150 and frames[10][16, 30, 1] < 100  # red (on top) wins


def test_audio_of_an_imported_clip_is_mixed_at_its_place(tmp_path):
    p = Project.new(64, 64, 8)
    silent = make_clip(tmp_path / "silent.mp4", 8, 8)
    tone = make_clip(tmp_path / "tone.mp4", 8, 8, tone_hz=440)
    add_file(p, silent)
    add_file(p, tone)  # starts at 1 s
    out = render_timeline(p, tmp_path / "mix.webm", RenderOptions(64, 64, 8))
    with av.open(str(out)) as box:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        sound = np.concatenate([f.to_ndarray() for fr in box.decode(audio=0) for f in resampler.resample(fr)], axis=1)[0]
    first, second = sound[2000:40000], sound[52000:90000]
    assert np.abs(first).max() < 0.05  # silence during the first clip
    spectrum = np.abs(np.fft.rfft(second))
    assert abs(np.argmax(spectrum) * 48000 / len(second) - 440) < 5  # the tone, during the second


def test_gif_and_png_exports(two_clips, tmp_path):
    gif = render_timeline(two_clips, tmp_path / "out.gif", RenderOptions(32, 32, 8))
    assert count_frames(gif) == 12
    png = render_timeline(two_clips, tmp_path / "frames", RenderOptions(32, 32, 8, format="png"))
    assert len(list(png.glob("frame_*.png"))) == 12


def test_cancel_leaves_no_file(two_clips, tmp_path):
    with pytest.raises(RenderCancelled):
        render_timeline(two_clips, tmp_path / "out.mp4", RenderOptions(64, 64, 8), cancelled=lambda: True)
    assert list(tmp_path.glob("out*")) == [] and list(tmp_path.glob(".out*")) == []


def test_the_monitor_cache_gives_the_rendered_frames_also_when_decoded_ahead(two_clips):
    cache, ahead = FrameCache(max_side=64), FrameCache(max_side=64)
    for f in range(two_clips.duration):
        prefetch_at(two_clips, f, ahead)  # background decode, as during playback
    rendered = list(timeline_frames(two_clips, 64, 48))
    for f in (0, 5, 9, 11):
        picture, clip = frame_at(two_clips, f, cache)
        early, _ = frame_at(two_clips, f, ahead)
        assert np.array_equal(picture, early)
        item = two_clips.media[clip.media_id]
        if (item.width, item.height) == (64, 48):  # same size: the monitor shows what the export writes
            assert np.array_equal(picture, rendered[f])
