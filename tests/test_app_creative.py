"""The app's creative tools driven like a user would: 'Edit with...' on a dropped video, the
consistency options, the smoothing mask, keyframe lanes on the timeline, the camera-path preview
and 'Animate this frame'. Tiny models (32x32 px, 3 steps), real files made with PyAV."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture

import tiny_models
from t2vz_desktop.app.project import EditError, MediaItem, Project, new_id
from t2vz_desktop.app.timeline import LANE_H
from t2vz_desktop.engine.camera import CameraKey
from t2vz_desktop.engine.request import DEFAULT_SMOOTH, GenerationRequest, PromptKey


def square_video(path: Path, frames: int = 8, fps: int = 8) -> Path:
    """A white square moving right by 4 px per frame on black, 64x48."""
    with av.open(str(path), "w") as box:
        video = box.add_stream("libx264", rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.zeros((48, 64, 3), np.uint8)
            image[14:34, 4 + 4 * i : 24 + 4 * i] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            box.mux(video.encode(frame))
        box.mux(video.encode(None))
    return path


@pytest.fixture(scope="module")
def tiny_controlnet(tmp_path_factory, tiny_folder):
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_folder / "unet")
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16))
    tiny_models.randomize_(net, 99)
    path = tmp_path_factory.mktemp("controlnet") / "tiny-canny"
    net.save_pretrained(path)
    return path


def generated_item(path: Path, model: Path, **request) -> MediaItem:
    """A bin item as the app makes it after a job: the video and the recipe that made it."""
    base = dict(prompts=["a red circle"], model=str(model), frames=8, width=32, height=32, steps=3, seed=5,
                device="cpu")
    recipe = GenerationRequest(**{**base, **request}).validate().to_json()
    return MediaItem(new_id(), str(path), path.name, 64, 48, 8.0, 8, recipe=recipe, generated=True)


def put_generated(window, tmp_path, model, **request):
    item = generated_item(make_clip(tmp_path / f"gen-{new_id()}.mp4"), model, **request)
    track_id = window.doc.project.tracks[-1].id

    def add(p):
        p.add_media(item)
        return p.add_clip(track_id, item.id, 4)

    clip = window.doc.edit("Add", add)
    window.timeline.set_zoom(24)
    window.timeline.set_scroll(0)
    window.timeline.select(clip.id)
    return item, clip


# -- (A) Edit with... -------------------------------------------------------------------------------
def fill_canny(dialog, controlnet, steps: int | None = None) -> None:
    """Edit with... set to a Canny edit of "a red square" with `controlnet` (and, given `steps`,
    a 32x32 result in that many steps, as the tiny models want)."""
    dialog.mode.setCurrentText("canny")
    dialog.prompt.setPlainText("a red square")
    dialog.controlnet.setText(str(controlnet))
    if steps is not None:
        dialog.steps.setValue(steps)
        dialog.width_box.setValue(32)
        dialog.height_box.setValue(32)


def test_edit_with_canny_lands_the_result_above_the_source_aligned_with_its_recipe(
        window, qtbot, tiny_folder, tiny_controlnet, tmp_path):
    source = square_video(tmp_path / "square.mp4")
    bottom = window.doc.project.tracks[-1].id
    window.import_files([source], bottom, 3)
    track, clip = window.doc.project.tracks[-1], window.doc.project.tracks[-1].clips[0]
    window.doc.edit("Trim", lambda p: p.trim_clip(clip.id, "left", 5))  # the clip now uses source frames 2..7
    window.panel.set_model(str(tiny_folder))

    dialog = window.edit_with(clip.id)
    assert (dialog.start.value(), dialog.end.value()) == (2, 8)  # the clip's in/out points
    fill_canny(dialog, tiny_controlnet, steps=3)

    dialog.preview_conditions()
    qtbot.waitUntil(lambda: len(dialog.condition_images) == 4, timeout=30_000)
    assert len(dialog.source_frames) == 4
    edges = dialog.condition_images[0]
    assert set(np.unique(edges)) <= {0, 255} and edges.max() == 255  # Canny: the square's outline
    assert not dialog.cells[1][0].pixmap().isNull()  # drawn beside the source frames
    dialog.grab().save(str(tmp_path / "edit-dialog.png"))

    with qtbot.waitSignal(window.queue.job_finished, timeout=180_000) as done:
        dialog.accept()
    job, out = done.args
    assert job.above_clip == clip.id and out.frames == 6
    project = window.doc.project
    above = project.tracks[project.tracks.index(track) - 1]
    [result] = above.clips
    assert (result.start, result.length) == (5, 6)  # in place of the trimmed source, frame for frame
    recipe = json.loads(project.media[result.media_id].recipe)
    assert recipe["edit"]["controls"][0]["mode"] == "canny"
    assert recipe["edit"]["start"] == 2 and recipe["prompts"] == ["a red square"]
    assert window.timeline.selected == result.id


def test_an_edit_that_keeps_the_sources_sound_brings_it_to_the_timeline(window, qtbot, tiny_folder, tiny_controlnet,
                                                                         tmp_path):
    """B1: the result of Edit with... made with "keep the source's sound" has that sound in the
    bin, on the Audio lane and in the export's mix (the window built it as silent)."""
    from test_edit import write_square_video

    from t2vz_desktop.app.render import mix_audio

    source = write_square_video(tmp_path / "with-sound.mp4", audio=True)
    window.import_files([source], window.doc.project.tracks[-1].id, 0)
    clip = window.doc.project.tracks[-1].clips[0]
    window.panel.set_model(str(tiny_folder))
    dialog = window.edit_with(clip.id)
    fill_canny(dialog, tiny_controlnet, steps=2)
    assert dialog.keep_audio.isChecked()
    with qtbot.waitSignal(window.queue.job_finished, timeout=180_000) as done:
        dialog.accept()
    job, out = done.args
    edited = next(m for m in window.doc.project.media.values() if m.path == str(out.path))
    assert edited.has_audio, "the edit kept the source's sound, but the bin says it is silent"
    window.doc.edit("Remove source", lambda p: p.remove_media(clip.media_id))  # only the edit's sound is left
    mix = mix_audio(window.doc.project)
    assert mix is not None and np.abs(mix).max() > 0.1, "the edit's sound does not reach the export's mix"


def test_edit_with_explains_what_is_missing(window, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    window.import_files([square_video(tmp_path / "square.mp4")])
    media_id = next(iter(window.doc.project.media))
    dialog = window.edit_with(media_id=media_id)  # from the bin: the whole source
    assert (dialog.start.value(), dialog.end.value()) == (0, 8)
    dialog.prompt.setPlainText("a robot")
    dialog.model.set_model("demo")
    dialog.mode.setCurrentText("depth")
    dialog.accept()
    assert dialog.isVisible() and "No ControlNet weights for depth" in dialog.error.text()
    dialog.controlnet.setText(str(tmp_path / "nowhere"))
    assert "do not exist" in dialog.problem()
    dialog.controlnet.setText(str(tmp_path))  # weights that exist: now pose needs MediaPipe
    dialog.mode.setCurrentText("pose")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mediapipe" else real(name, *a))
    assert "MediaPipe" in dialog.problem() and "install_pose.sh" in dialog.problem()
    dialog.preview_conditions()
    assert "MediaPipe" in dialog.preview_status.text()
    dialog.mode.setCurrentText("pix2pix")  # no Instruct-Pix2Pix model here: none is filled in, the fetch is named
    assert dialog.model.model_name() is None and "t2vz models download timbrooks/instruct-pix2pix" in dialog.problem()


def test_speed_setting_reaches_the_request_and_comes_back_from_a_recipe(window):
    from t2vz_desktop.app.panel import SPEED_LABELS
    from t2vz_desktop.engine.request import SPEEDS

    panel = window.panel
    assert list(SPEED_LABELS.values()) == list(SPEEDS)  # every engine level offered, in its order
    panel.prompt.setPlainText("a red circle")
    assert panel.fields()["speed"] == "auto"  # the engine's default: lossless, compiled on a GPU
    panel.speed.setCurrentIndex(panel.speed.findData("cache"))
    fields = panel.fields()
    assert fields["speed"] == "cache"
    panel.apply_recipe(GenerationRequest(**{**fields, "speed": "exact"}).to_json())
    assert panel.speed.currentData() == "exact"
    panel.apply_recipe(GenerationRequest(**{**fields, "speed": "cache"}).to_json())
    assert panel.speed.currentText() == "Fast (feature cache)"


def test_skip_optimising_appears_while_compiling_and_tells_the_running_job(window):
    from t2vz_desktop.app.worker import Job

    panel, job = window.panel, Job("j1", {"prompts": ["a"]}, Path("."))
    window.queue.current = job
    try:
        window._job_status("j1", "optimising for this GPU (first time only): 3/20 blocks")
        assert panel.skip_button.isVisibleTo(window) and "3/20 blocks" in panel.message.text()
        panel.skip_button.click()
        assert job.cancel.skipped and not job.cancel.cancelled and not panel.skip_button.isVisibleTo(window)
        window._job_status("j1", "optimising for this GPU (first time only): 4/20 blocks")
        window._job_status("j1", "denoising")
        assert not panel.skip_button.isVisibleTo(window)
    finally:
        window.queue.current = None


# -- (B) consistency -------------------------------------------------------------------------------
def test_consistency_options_reach_the_request(window):
    panel = window.panel
    assert not panel.consistency.expanded  # folded away until wanted
    panel.prompt.setPlainText("a horse on a street")
    panel.attention_window.setValue(1)
    panel.noise_window.setValue(4)
    panel.background.setValue(0.6)
    panel.subject.setText("horse")
    assert panel.fields()["subject_mask"] == "refined"
    panel.subject_mask.setCurrentText("attention")
    assert panel.fields()["smooth"] == DEFAULT_SMOOTH > 0  # the engine's default, shown as such
    panel.smooth.setValue(0.3)
    fields = panel.fields()
    assert (fields["attention_window"], fields["noise_window"], fields["background_smoothing"],
            fields["subject"], fields["subject_mask"], fields["smooth"]) == (1, 4, 0.6, "horse", "attention", 0.3)
    GenerationRequest(**fields).validate()
    panel.apply_recipe(GenerationRequest(**{**fields, "attention_window": 2, "subject_mask": "refined"}).to_json())
    assert panel.attention_window.value() == 2 and panel.consistency.expanded
    assert panel.subject_mask.currentText() == "refined"


def test_background_smoothing_job_shows_its_mask_over_the_preview(window, qtbot, tiny_folder):
    panel = window.panel
    panel.prompt.setPlainText("a red circle on a blue background")
    panel.set_model(str(tiny_folder))
    panel.frames.setValue(3)
    panel.steps.setValue(3)
    panel.seed_lock.setChecked(True)
    panel.background.setValue(0.6)
    panel.subject.setText("circle")
    window.monitor.show_mask.setChecked(True)
    overlays = []
    window.queue.job_step.connect(lambda u: overlays.append((u.mask, window.monitor.view.overlay)))
    with qtbot.waitSignal(window.queue.job_finished, timeout=120_000):
        panel.request_generation()
    masks = [(m, o) for m, o in overlays if m is not None]
    assert masks, "background smoothing sends its mask with the steps"
    mask, overlay = masks[-1]
    assert mask.shape[0] == 3 and mask.dtype == np.uint8
    assert overlay is not None and (overlay.width(), overlay.height()) == mask.shape[1:][::-1]


def test_mask_overlay_tints_the_frame(window):
    monitor = window.monitor
    monitor.resize(400, 300)
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    mask = np.zeros((2, 8, 8), np.uint8)
    mask[:, :, 4:] = 255  # the right half is the subject
    monitor.show_preview(frames, 1, 3, None, mask)
    assert monitor.view.overlay is None  # off until asked for
    monitor.show_mask.setChecked(True)
    image = monitor.view.grab().toImage()
    cx, cy = image.width() // 2, image.height() // 2
    right, left = image.pixelColor(cx + 40, cy), image.pixelColor(cx - 40, cy)
    assert right.red() > 80 and right.blue() > 40 and left.red() < 10
    monitor.end_preview()
    assert monitor.view.overlay is None


# -- (C) keyframes ------------------------------------------------------------------------------------
def lane_point(window, lane: str, frame: int) -> QPoint:
    """Where source frame `frame` of the selected clip sits on a keyframe lane."""
    view = window.timeline
    _, clip = view.lane_clip()
    return QPoint(int(view.key_x(clip, frame)), view.lane_y(lane) + LANE_H // 2)


def test_keyframes_are_added_moved_and_deleted_with_the_mouse_and_undo_exactly(window, qtbot, tiny_folder, tmp_path):
    item, clip = put_generated(window, tmp_path, tiny_folder,
                               camera=[CameraKey(0), CameraKey(6, pan=(12.0, 0.0), zoom=1.5)])
    view = window.timeline
    assert view.lane_clip() is not None and view.lane_y("camera") is not None
    states = [window.doc.project.to_dict()]

    qtbot.mouseDClick(view, Qt.LeftButton, pos=lane_point(window, "camera", 3))
    keys = window.doc.project.keys(item.id, "camera")
    assert [k["frame"] for k in keys] == [0, 3, 6]
    assert keys[1]["pan"][0] == pytest.approx(6.0)  # added where the path already was
    states.append(window.doc.project.to_dict())

    start = lane_point(window, "camera", 6)
    qtbot.mousePress(view, Qt.LeftButton, pos=start)
    qtbot.mouseMove(view, lane_point(window, "camera", 5))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=lane_point(window, "camera", 5))
    assert [k["frame"] for k in window.doc.project.keys(item.id, "camera")] == [0, 3, 5]
    states.append(window.doc.project.to_dict())

    qtbot.mouseClick(view, Qt.LeftButton, pos=lane_point(window, "camera", 3))
    assert view.selected_key == ("camera", 3)
    qtbot.keyClick(view, Qt.Key_Delete)
    assert [k["frame"] for k in window.doc.project.keys(item.id, "camera")] == [0, 5]
    assert window.doc.project.tracks[-1].clips  # the clip itself stayed
    states.append(window.doc.project.to_dict())

    qtbot.mouseDClick(view, Qt.LeftButton, pos=lane_point(window, "prompt", 4))  # prompt travel starts
    assert [(k["frame"], k["prompt"]) for k in window.doc.project.keys(item.id, "prompt")] == \
        [(0, "a red circle"), (4, "a red circle")]
    states.append(window.doc.project.to_dict())

    again = Project.from_dict(window.doc.project.to_dict())  # the edited keys are saved with the project
    assert again.keys(item.id, "prompt") == window.doc.project.keys(item.id, "prompt")

    for state in reversed(states[:-1]):
        window.doc.undo.undo()
        assert window.doc.project.to_dict() == state
    for state in states[1:]:
        window.doc.undo.redo()
        assert window.doc.project.to_dict() == state


def test_keys_stay_with_the_content_when_the_clip_is_trimmed_or_moved(window, tiny_folder, tmp_path):
    item, clip = put_generated(window, tmp_path, tiny_folder, camera=[CameraKey(0), CameraKey(6, zoom=2.0)])
    view = window.timeline
    assert view.key_x(clip, 6) == view.x_of(4 + 6)
    window.doc.edit("Trim", lambda p: p.trim_clip(clip.id, "left", 7))  # cut the first 3 frames
    _, clip = window.doc.project.find_clip(clip.id)
    assert [k["frame"] for k in window.doc.project.keys(item.id, "camera")] == [0, 6]
    assert view.key_x(clip, 6) == view.x_of(4 + 6)  # same picture, same place
    assert view.key_x(clip, 0) is None  # trimmed away: not drawn
    window.doc.edit("Move", lambda p: p.move_clip(clip.id, clip_track(window, clip.id), 20))
    view.select(clip.id)
    _, clip = window.doc.project.find_clip(clip.id)
    assert view.key_x(clip, 6) == view.x_of(20 + 3)
    assert view.key_frame_at_x(clip, view.x_of(20 + 3)) == 6


def test_prompt_keys_are_refused_where_prompt_travel_cannot_run(window, tiny_folder, tmp_path):
    item, clip = put_generated(window, tmp_path, tiny_folder, background_smoothing=0.6)
    with pytest.raises(EditError, match="background smoothing"):
        window.doc.project.add_key(item.id, "prompt", 3)
    assert window.doc.edit("Add keyframe", lambda p: p.add_key(item.id, "prompt", 3)) is None
    assert window.doc.project.keys(item.id, "prompt") == [] and window.doc.undo.count() == 1  # only the "Add"
    assert "prompt travel does not combine" in window.messages[-1]  # told, not crashed


def clip_track(window, clip_id: str) -> str:
    return window.doc.project.find_clip(clip_id)[0].id


def test_regenerate_queues_the_edited_keys_and_lands_above(window, qtbot, tiny_folder, tmp_path):
    item, clip = put_generated(window, tmp_path, tiny_folder, frames=4,
                               camera=[CameraKey(0), CameraKey(3, pan=(4.0, 0.0))])
    window.doc.edit("Move key", lambda p: p.move_key(item.id, "camera", 3, 2))
    with qtbot.waitSignal(window.queue.job_finished, timeout=120_000) as done:
        window.regenerate(clip.id)
    _, out = done.args
    recipe = json.loads(out.recipe)
    assert [k["frame"] for k in recipe["camera"]] == [0, 2] and recipe["seed"] == 5
    tracks = window.doc.project.tracks
    assert tracks[-2].clips and tracks[-2].clips[0].start == clip.start


def test_keyframe_tables_reach_the_request_and_the_camera_path_is_drawn(window):
    panel = window.panel
    panel.prompt.setPlainText("a lighthouse")
    panel.frames.setValue(16)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.camera_keys.set_rows([[0, 0, 0, 1, 0, "linear"], [15, -16, 0, 2, 10, "ease"]])
    panel.prompt_keys.set_rows([[8, "a lighthouse at night"]])
    fields = panel.fields()
    assert fields["camera"] == [CameraKey(0), CameraKey(15, (-16.0, 0.0), 2.0, 10.0, "ease")]
    assert fields["prompt_keys"] == [PromptKey(0, "a lighthouse"), PromptKey(8, "a lighthouse at night")]
    GenerationRequest(**fields).validate()

    monitor = window.monitor
    monitor.resize(400, 300)
    assert monitor.view.camera is not None  # the panel's edits reach the monitor
    image = monitor.view.grab().toImage()
    colours = {(image.pixelColor(x, y).red() > 200, image.pixelColor(x, y).blue() > 200)
               for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    assert (True, False) in colours and (False, True) in colours  # yellow keys, a blue first key
    panel.camera_keys.set_rows([[0, 0, 0, "x", 0, "linear"]])
    with pytest.raises(ValueError, match="camera key 1"):
        panel.fields()


def test_animate_this_frame_fills_the_start_image(window, tmp_path):
    window.import_files([make_clip(tmp_path / "bar.mp4")], window.doc.project.tracks[-1].id, 0)
    window.timeline.set_playhead(5)
    path = window.animate_frame()
    assert path.is_file() and path.suffix == ".png"
    assert path.parent == window.generated_dir()
    window.panel.prompt.setPlainText("the bar keeps growing")
    fields = window.panel.fields()
    assert fields["init_image"] == str(path)
    GenerationRequest(**fields).validate()
    from PySide6.QtGui import QImage

    picture = QImage(str(path))
    assert picture.pixelColor(4, 20).red() == pytest.approx(255, abs=12)  # the white bar of frame 5
    window.timeline.set_playhead(50)
    assert window.animate_frame() is None  # nothing there
    # An end image travels with the start image into the request and back from a recipe.
    window.panel.set_end_image(str(path))
    fields = window.panel.fields()
    assert fields["end_image"] == str(path)
    recipe = GenerationRequest(**fields).validate()
    window.panel.set_end_image(None)
    window.panel.apply_recipe(recipe.to_json())
    assert window.panel.end_image.text() == str(path)


def test_context_menus_offer_the_new_actions(window, tiny_folder, tmp_path):
    item, clip = put_generated(window, tmp_path, tiny_folder)
    window.timeline.set_playhead(6)
    texts = [a.text() for a in window.timeline_menu("clip").actions()]
    assert {"Edit with...", "Re-generate", "Animate this frame"} <= set(texts)
    assert [a.text() for a in window.timeline_menu("key").actions()] == ["Delete keyframe"]


def test_edit_with_refuses_a_controlnet_that_does_not_fit_the_model(window, tiny_folder, tiny_controlnet, tmp_path):
    """B8 (issue 24): Edit with... queued a ControlNet edit on the demo model, which failed after
    ~40 s with a raw tensor-size error; the dialog now says so before queueing."""
    window.import_files([square_video(tmp_path / "square.mp4")], window.doc.project.tracks[-1].id, 0)
    clip = window.doc.project.tracks[-1].clips[0]
    window.panel.set_model("demo")
    dialog = window.edit_with(clip.id)
    fill_canny(dialog, tiny_controlnet)
    assert dialog.model.model_name() is None  # not pre-filled with a model that would fail
    dialog.model.set_model("demo")  # the user insists
    dialog.accept()
    assert dialog.isVisible() and window.queue.pending == 0
    assert "does not fit the built-in demo model" in dialog.error.text()
    dialog.model.set_model(str(tiny_folder))  # the model it was made for
    assert dialog.problem() == ""
    dialog.reject()


def test_the_first_camera_key_keeps_the_clips_own_motion(window, tiny_folder, tmp_path):
    """B2 (issue 24): the first key on a clip's camera lane held pan 0,0, so the re-generated take
    was static; the lane now starts as the motion the clip was made with (3 px right, 1 down a
    frame), with keys on that line at the first and last frames."""
    from t2vz_desktop.engine.camera import CameraKey, camera_at

    item, _ = put_generated(window, tmp_path, tiny_folder, motion=(3.0, 1.0))
    window.doc.edit("Add keyframe", lambda p: p.add_key(item.id, "camera", 4))
    keys = window.doc.project.keys(item.id, "camera")
    assert [(k["frame"], k["pan"]) for k in keys] == [(0, [0.0, 0.0]), (4, [12.0, 4.0]), (7, [21.0, 7.0])]
    path = [CameraKey(k["frame"], tuple(k["pan"]), k["zoom"], k["rotate"], k["ease"]) for k in keys]
    assert all(camera_at(path, f)[:2] == pytest.approx((3.0 * f, 1.0 * f)) for f in range(8))
    window.doc.edit("Zoom", lambda p: p.add_key(item.id, "camera", 6))  # later keys hold the path as it is
    assert window.doc.project.keys(item.id, "camera")[2]["pan"] == pytest.approx([18.0, 6.0])


def test_reuse_settings_takes_the_keys_edited_on_the_clips_lanes(window, tiny_folder, tmp_path):
    """B3 (issue 24): Re-use settings loaded the clip's original recipe and dropped the keys the
    user had edited on its lanes."""
    item, _ = put_generated(window, tmp_path, tiny_folder, motion=(2.0, 0.0))
    window.doc.edit("Add keyframe", lambda p: p.add_key(item.id, "camera", 3))
    window.reuse_settings(item.id)
    assert [k.frame for k in window.panel.camera()] == [0, 3, 7]
    assert window.panel.camera()[1].pan == pytest.approx((6.0, 0.0))
