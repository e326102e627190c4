"""Project settings that follow the footage, and exporting a range: a first import into an empty
project offers the clip's size and rate (Yes sets both in the import's own undo step, No keeps the
project's, later imports and matching formats are not asked); I and O mark a range that is shaded
on the ruler, saved with the project and checked when read; the export renders the whole
timeline, the In to Out range or the selected clips' span, pictures and sound alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from test_app_fixtures import count_frames, make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app import ranges
from t2vz_desktop.app.match_format import offer_for
from t2vz_desktop.app.project import MediaItem, Project, ProjectFileError, new_id
from t2vz_desktop.app.render import RenderOptions, render_timeline
from t2vz_desktop.app.timeline_paint import HEADER_W, RULER_H
from t2vz_desktop.media import audio_blocks, iter_frames

RATE = 48_000


class Asked:
    """Stands in for the window's question: records each offer and gives `answer`."""

    def __init__(self, answer: bool):
        self.answer, self.questions = answer, []

    def __call__(self, offer) -> bool:
        self.questions.append(offer.question())
        return self.answer


def fmt(project: Project) -> tuple[int, int, float]:
    return project.width, project.height, project.fps


def beep_onset(path: Path) -> float:
    """Seconds to the first sample louder than 0.1 (the zoo's beep is 0.5)."""
    sound = np.concatenate(list(audio_blocks(path, rate=RATE)), axis=1)
    loud = np.flatnonzero(np.abs(sound).max(axis=0) > 0.1)
    assert loud.size, f"{path} is silent"
    return loud[0] / RATE


def export(window, qtbot, out: Path, choice: str | None = None):
    """Export through the dialog, as the user does; `choice` picks the range (None: its default)."""
    dialog = window.export_dialog()
    if choice is not None:
        qtbot.mouseClick(dialog.range_buttons[choice], Qt.LeftButton)
    dialog.path.setText(str(out))
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dialog.result is not None or not dialog.running, timeout=60_000)
    return dialog


# -- the first import sets the project's format ---------------------------------------------------
def test_first_import_offers_the_clips_format_and_yes_sets_it_undone_with_the_import(window, tmp_path):
    clip = make_clip(tmp_path / "tall.mp4", 30, 30, (64, 96))
    window.ask_match_format = asked = Asked(True)
    track = window.doc.project.tracks[-1].id
    [item] = window.import_files([clip], track, 0)
    assert asked.questions == ["Set the project to 64x96 at 30 fps to match tall.mp4?"]
    assert fmt(window.doc.project) == (64, 96, 30)
    assert window.doc.project.duration == 30  # its 30 frames at the new rate, not resampled to 8 fps
    assert "64x96 at 30 fps" in window.statusBar().currentMessage()
    window.doc.undo.undo()  # one step takes back the import and the format together
    assert fmt(window.doc.project) == (512, 512, 8) and not window.doc.project.media
    window.doc.undo.redo()
    assert fmt(window.doc.project) == (64, 96, 30) and item.id in window.doc.project.media


def test_no_keeps_the_project_and_later_imports_are_not_asked(window, tmp_path):
    window.ask_match_format = asked = Asked(False)
    window.import_files([make_clip(tmp_path / "tall.mp4", 30, 30, (64, 96))])
    assert len(asked.questions) == 1 and fmt(window.doc.project) == (512, 512, 8)
    window.import_files([make_clip(tmp_path / "wide.mp4", 8, 24, (96, 64))])
    assert len(asked.questions) == 1  # the project is not empty any more


def test_a_matching_clip_and_a_scripted_answer_ask_nothing(window, tmp_path):
    window.ask_match_format = asked = Asked(True)
    window.doc.edit("Project settings", lambda p: p.set_format(64, 96, 30))
    window.import_files([make_clip(tmp_path / "same.mp4", 8, 30, (64, 96))])
    assert asked.questions == []  # same size and rate: nothing to ask
    window.new_project()
    window.import_files([make_clip(tmp_path / "tall.mp4", 8, 24, (64, 96))], match_format=True)
    assert asked.questions == [] and fmt(window.doc.project) == (64, 96, 24)
    window.new_project()  # a new project starts with the last one's format
    window.import_files([make_clip(tmp_path / "wide.mp4", 8, 12, (96, 64))], match_format=False)
    assert asked.questions == [] and fmt(window.doc.project) == (64, 96, 24)


def test_the_question_is_a_yes_no_box_with_yes_as_default(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from t2vz_desktop.app import window_import

    asked = []

    def question(parent, title, text, buttons, default):
        asked.append((text, buttons, default))
        return QMessageBox.Yes

    monkeypatch.setattr(window_import.QMessageBox, "question", question)
    del window.ask_match_format  # the window's own question, not the fixture's stand-in
    window.import_files([make_clip(tmp_path / "tall.mp4", 8, 30, (64, 96))])
    assert asked == [("Set the project to 64x96 at 30 fps to match tall.mp4?", QMessageBox.Yes | QMessageBox.No,
                      QMessageBox.Yes)]
    assert fmt(window.doc.project) == (64, 96, 30)


def test_the_offer_rounds_odd_sides_up_clamps_the_rate_and_leaves_a_stills_rate():
    def item(w, h, fps):
        return MediaItem(new_id(), "/x/clip.mp4", "clip.mp4", w, h, fps, 10)

    odd_fast = offer_for(Project.new(), item(63, 95, 300.0))
    assert (odd_fast.width, odd_fast.height, odd_fast.fps) == (64, 96, 240.0)
    assert "over the project's maximum" in odd_fast.question() and "even" in odd_fast.question()
    ntsc = offer_for(Project.new(), item(1080, 1920, 30000 / 1001))
    assert ntsc.question() == "Set the project to 1080x1920 at 29.97 fps to match clip.mp4?"
    still = offer_for(Project.new(), item(64, 64, 0.1))  # the zoo's one frame shown for 10 s
    assert (still.width, still.height, still.fps) == (64, 64, 8.0) and "keeps 8 fps" in still.question()
    assert offer_for(Project.new(), item(511, 512, 8.0)) is None  # rounds to the project's own format
    project = Project.new()
    project.add_media(item(64, 64, 30))
    assert offer_for(project, item(96, 96, 24)) is None  # not empty: never asked


# -- In and Out points ------------------------------------------------------------------------------
def test_i_and_o_mark_the_range_at_the_playhead_undoably_and_alt_x_clears_it(window):
    a = window.actions_by_name
    assert [a[k].shortcut() for k in ("mark_in", "mark_out", "clear_in_out")] == \
        [QKeySequence("I"), QKeySequence("O"), QKeySequence("Alt+X")]
    p = window.doc.project
    window.timeline.set_playhead(5)
    a["mark_in"].trigger()
    window.timeline.set_playhead(20)
    a["mark_out"].trigger()
    assert (p.mark_in, p.mark_out) == (5, 20) and ranges.marked_span(p) == (5, 20) and window.doc.dirty
    window.timeline.set_playhead(25)
    a["mark_in"].trigger()  # past the Out point: the newer mark wins
    assert (p.mark_in, p.mark_out) == (25, None)
    window.doc.undo.undo()
    assert (p.mark_in, p.mark_out) == (5, 20)
    a["clear_in_out"].trigger()
    assert (p.mark_in, p.mark_out) == (None, None) and ranges.marked_span(p) is None
    a["clear_in_out"].trigger()
    assert window.messages[-1] == "No In or Out point to clear."


def test_the_range_is_shaded_on_the_ruler(window, tmp_path):
    view = window.timeline
    view.ppf = 10.0
    window.timeline.set_playhead(4)
    window.mark_in_point()
    window.timeline.set_playhead(12)
    window.mark_out_point()
    view.set_playhead(30)  # the playhead's own line out of the way
    image = view.grab().toImage()
    y = RULER_H - 3  # under the labels, between the ticks (every 8 frames here)

    def shade(frame: float):
        return image.pixelColor(int(view.x_of(frame)), y).name()

    inside, outside = {shade(f) for f in (5.5, 7.5, 10.5)}, {shade(f) for f in (1.5, 14.5, 20.5)}
    assert len(inside) == 1 and not inside & outside
    assert view.x_of(12) < view.width() and HEADER_W < view.x_of(4)


def test_marks_are_saved_reopened_and_undone_with_a_rate_change(window, tmp_path):
    project = window.doc.project
    window.doc.edit("Mark In", lambda p: ranges.set_in(p, 8))
    window.doc.edit("Mark Out", lambda p: ranges.set_out(p, 24))
    project.save(tmp_path / "marked.t2vz")
    data = json.loads((tmp_path / "marked.t2vz").read_text())
    assert data["in_out"] == {"in": 8, "out": 24}
    again = Project.load(tmp_path / "marked.t2vz")
    assert (again.mark_in, again.mark_out) == (8, 24)
    window.doc.edit("Project settings", lambda p: p.set_format(512, 512, 16))  # the marks keep their times
    assert (project.mark_in, project.mark_out) == (16, 48)
    del data["in_out"]  # a project from before the marks opens with none
    (tmp_path / "old.t2vz").write_text(json.dumps(data))
    assert Project.load(tmp_path / "old.t2vz").mark_in is None


@pytest.mark.parametrize("value, problem", [
    ({"in": -1}, "in_out.in must be from 0 to"),
    ({"in": 30, "out": 10}, "in_out.out must be after in_out.in (10 <= 30)"),
    ({"out": "end"}, 'in_out.out must be a whole number (got "end")'),
    ({"out": 0}, "in_out.out must be after frame 0"),
    ({"start": 3}, "in_out.start is not a known field"),
    ([8, 24], "in_out must be an object"),
])
def test_malformed_marks_are_refused_with_one_line(tmp_path, value, problem):
    data = Project.new().to_dict()
    data["in_out"] = value
    (tmp_path / "bad.t2vz").write_text(json.dumps(data))
    with pytest.raises(ProjectFileError) as caught:
        Project.load(tmp_path / "bad.t2vz")
    assert str(caught.value).startswith(f"bad.t2vz: {problem}") and "\n" not in str(caught.value)


# -- exporting a range -------------------------------------------------------------------------------
def test_in_to_out_export_has_the_timelines_pictures_and_sound_of_that_range(window, qtbot, tmp_path, media_zoo):
    track = window.doc.project.tracks[-1].id
    window.doc.edit("Project settings", lambda p: p.set_format(64, 64, 30))
    window.import_files([media_zoo / "vfr_flash_beep.mp4"], track, 0)
    assert window.doc.project.duration == 60  # the flash on frame 30
    window.timeline.set_playhead(15)  # 0.5 s
    window.mark_in_point()
    window.timeline.set_playhead(45)  # 1.5 s
    window.mark_out_point()
    out = tmp_path / "range.mp4"
    dialog = export(window, qtbot, out)  # In to out is the default once marked
    assert dialog.range_buttons["in_out"].isChecked() and dialog.result == str(out)
    assert not dialog.range_buttons["selection"].isEnabled()  # nothing selected
    assert dialog.progress.maximum() == 30 and dialog.progress.value() == 30
    assert count_frames(out) == 30
    assert [i for i, f in enumerate(iter_frames(out)) if f.mean() > 200] == [15]
    assert beep_onset(out) == pytest.approx(0.5, abs=1 / 30)
    dialog.close()


def test_selected_clips_export_spans_the_first_selected_start_to_the_last_end(window, qtbot, tmp_path):
    track = window.doc.project.tracks[-1].id
    red, green, blue = (make_clip(tmp_path / f"{n}.mp4", 8, 8, (64, 48), c)
                        for n, c in (("red", (220, 30, 30)), ("green", (30, 220, 30)), ("blue", (30, 30, 220))))
    window.import_files([red, green, blue], track, 0)
    clips = window.doc.project.track(track).clips
    window.timeline.set_selection({clips[1].id, clips[2].id})  # green and blue: frames 8 to 24
    out = tmp_path / "selected.mp4"
    dialog = export(window, qtbot, out, "selection")
    assert not dialog.range_buttons["in_out"].isEnabled() and dialog.result == str(out)
    frames = list(iter_frames(out))
    assert len(frames) == 16 and dialog.progress.value() == 16
    first, last = frames[0][256, 480], frames[-1][256, 480]  # the middle right, away from the growing white bar
    assert first[1] > 150 > first[0] and last[2] > 150 > last[1]  # green first, blue last
    dialog.close()


def test_render_timeline_takes_a_range_counted_in_its_own_frames(tmp_path):
    project = Project.new(64, 48, 8)
    clip = make_clip(tmp_path / "a.mp4", 8, 8, (64, 48), tone_hz=440)
    item = project.add_media(MediaItem(new_id(), str(clip), "a.mp4", 64, 48, 8.0, 8, True))
    project.add_clip(project.tracks[-1].id, item.id, 0)
    seen = []
    out = render_timeline(project, tmp_path / "tail.mp4", RenderOptions(64, 48, 8),
                          lambda done, total: seen.append((done, total)), span=(6, 12))
    assert seen[-1] == (6, 6) and count_frames(out) == 6
    frames = list(iter_frames(out))
    assert frames[0][:, :20].mean() > 200 and frames[-1].mean() < 10  # frame 6's bar is 24 px; past the end, black
    with pytest.raises(ValueError, match="range to export is empty"):
        render_timeline(project, tmp_path / "none.mp4", RenderOptions(64, 48, 8), span=(5, 5))
