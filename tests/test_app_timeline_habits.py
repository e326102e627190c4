"""Timeline editing habits as a user meets them (issue 23, item 4): ripple delete and close gap,
markers, multi-select with copy/cut/paste, track mute/lock/hide, J/K/L shuttle, snapping, zoom
to fit, the frames display, and every action in a menu with its shortcut."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture
from test_app_window import track_point

from t2vz_desktop.app.project import EditError, MediaItem, Project
from t2vz_desktop.app.timeline_paint import AUDIO_H, RULER_H


def three_clips() -> tuple[Project, str]:
    """Clips of 4, 6 and 4 frames on the bottom track at 0, 6 and 14 (gaps at 4-6 and 12-14)."""
    p = Project.new(64, 64, 8)
    p.add_media(MediaItem("a", "/m/a.mp4", "a.mp4", 64, 64, 8.0, 4))
    p.add_media(MediaItem("b", "/m/b.mp4", "b.mp4", 64, 64, 8.0, 6))
    bottom = p.tracks[-1].id
    for media_id, start in (("a", 0), ("b", 6), ("a", 14)):
        p.add_clip(bottom, media_id, start)
    return p, bottom


def spans(p: Project, track_index: int = -1) -> list[tuple[int, int]]:
    return [(c.start, c.end) for c in p.tracks[track_index].clips]


def timeline_with_clips(window, tmp_path: Path) -> list[str]:
    """The window's bottom track with clips of 8, 4 and 8 frames at 0, 10 and 14; their ids."""
    a, b = make_clip(tmp_path / "a.mp4", 8, 8), make_clip(tmp_path / "b.mp4", 4, 8, color=(40, 60, 200))
    bottom = window.doc.project.tracks[-1].id
    window.import_files([a], bottom, 0)
    window.import_files([b], bottom, 10)
    window.import_files([a], bottom, 14)
    window.timeline.set_zoom(10)
    return [c.id for c in window.doc.project.tracks[-1].clips]


# -- ripple delete and close gap ----------------------------------------------------------------
def test_ripple_delete_pulls_the_later_clips_of_that_track_left():
    p, bottom = three_clips()
    top = p.tracks[0].id
    p.add_clip(top, "a", 20)  # another track: it stays
    middle = p.tracks[-1].clips[1]
    p.ripple_delete([middle.id])
    assert spans(p) == [(0, 4), (8, 12)]  # the last clip moved left by the deleted clip's 6 frames
    assert spans(p, 0) == [(20, 24)]
    p, _ = three_clips()
    p.ripple_delete([c.id for c in p.tracks[-1].clips[:2]])  # two at once: 4 + 6 frames pulled
    assert spans(p) == [(4, 8)]


def test_close_gap_under_a_frame_moves_the_later_clips_to_meet_the_earlier_one():
    p, bottom = three_clips()
    assert p.gap_at(bottom, 5) == (4, 6) and p.gap_at(bottom, 2) is None and p.gap_at(bottom, 30) is None
    assert p.close_gap(bottom, 13) == 2
    assert spans(p) == [(0, 4), (6, 12), (12, 16)]
    p.close_gap(bottom, 4)
    assert spans(p) == [(0, 4), (4, 10), (10, 14)]
    with pytest.raises(EditError, match="no gap"):
        p.close_gap(bottom, 2)


def test_shift_delete_ripple_deletes_the_selected_clip_and_undo_restores_it(window, qtbot, tmp_path):
    ids = timeline_with_clips(window, tmp_path)
    view = window.timeline
    qtbot.mouseClick(view, Qt.LeftButton, pos=track_point(window, 1, 12))  # the 4-frame clip at 10
    assert view.selected == ids[1]
    qtbot.keyClick(view, Qt.Key_Delete, Qt.ShiftModifier)
    assert spans(window.doc.project) == [(0, 8), (10, 18)]  # the last clip pulled left 4 frames
    qtbot.keyClick(view, Qt.Key_Z, Qt.ControlModifier)
    assert spans(window.doc.project) == [(0, 8), (10, 14), (14, 22)]


def test_close_gap_from_the_menu_and_from_the_gaps_context_menu(window, qtbot, tmp_path):
    timeline_with_clips(window, tmp_path)
    view = window.timeline
    view.current_track = window.doc.project.tracks[-1].id
    view.set_playhead(9)  # in the gap 8-10
    window.actions_by_name["close_gap"].trigger()
    assert spans(window.doc.project) == [(0, 8), (8, 12), (12, 20)]
    assert "Closed a gap of 2 frames" in window.messages[-1]
    window.actions_by_name["close_gap"].trigger()  # no gap under the playhead any more
    assert "no gap there" in window.messages[-1]
    window.doc.undo.undo()
    view.set_playhead(0)
    view.menu_frame = 9  # right-clicked in the gap
    menu = window.timeline_menu("track")
    close = next(a for a in menu.actions() if a.text() == "Close gap")
    close.trigger()
    assert spans(window.doc.project) == [(0, 8), (8, 12), (12, 20)]


# -- markers --------------------------------------------------------------------------------------
def test_markers_add_rename_jump_and_survive_save_and_reopen(window, qtbot, tmp_path):
    timeline_with_clips(window, tmp_path)
    view = window.timeline
    view.setFocus()
    for frame in (3, 12):
        view.set_playhead(frame)
        qtbot.keyClick(window, Qt.Key_M)
    assert [(m.frame, m.name) for m in window.doc.project.markers] == [(3, "Marker 1"), (12, "Marker 2")]
    window.ask_marker_name = lambda current: "Sunset starts"
    qtbot.mouseDClick(view, Qt.LeftButton, pos=QPoint(int(view.x_of(12)), RULER_H // 2))
    assert window.doc.project.markers[1].name == "Sunset starts"
    view.set_playhead(0)
    qtbot.keyClick(window, Qt.Key_M, Qt.ShiftModifier)  # next marker
    assert view.playhead == 3
    qtbot.keyClick(window, Qt.Key_Right, Qt.ControlModifier)
    assert view.playhead == 12
    qtbot.keyClick(window, Qt.Key_Left, Qt.ControlModifier)  # previous marker
    assert view.playhead == 3
    qtbot.keyClick(window, Qt.Key_M, Qt.ControlModifier | Qt.ShiftModifier)
    assert view.playhead == 3 and "No marker before" in window.messages[-1]

    path = tmp_path / "film.t2vz"
    window.save_project(path)
    window.new_project()
    assert window.doc.project.markers == []
    window.open_project(path)
    assert [(m.frame, m.name) for m in window.doc.project.markers] == [(3, "Marker 1"), (12, "Sunset starts")]
    view.set_playhead(3)
    window.actions_by_name["delete_marker"].trigger()
    assert [m.frame for m in window.doc.project.markers] == [12]
    window.doc.undo.undo()
    assert [m.frame for m in window.doc.project.markers] == [3, 12]


def test_markers_are_drawn_on_the_ruler_with_their_names(window, tmp_path):
    timeline_with_clips(window, tmp_path)
    view = window.timeline
    view.resize(900, 300)
    blank = view.grab().toImage()
    window.doc.edit("Add marker", lambda p: p.add_marker(12, "Sunset starts"))
    image = view.grab().toImage()
    x = int(view.x_of(12))
    from t2vz_desktop.app.timeline_paint import MARKER_COLOR
    assert image.pixelColor(x, 4) == MARKER_COLOR and blank.pixelColor(x, 4) != MARKER_COLOR
    text = [image.pixelColor(px, py) != blank.pixelColor(px, py) for px in range(x + 8, x + 80) for py in range(2, RULER_H - 10)]
    assert sum(text) > 30  # the name is written beside the flag


def test_an_old_project_without_markers_opens_and_a_bad_marker_list_is_refused(tmp_path):
    from t2vz_desktop.app.project import ProjectFileError

    p, _ = three_clips()
    data = p.to_dict()
    assert "markers" not in data and all(set(t) == {"id", "name", "clips"} for t in data["tracks"])  # written as before
    assert Project.from_dict(data).markers == []
    p.add_marker(5, "a")
    p.tracks[0].locked = True
    again = Project.from_dict(p.to_dict())
    assert [(m.frame, m.name) for m in again.markers] == [(5, "a")] and again.tracks[0].locked
    import json

    for markers, message in (({"frame": 1}, "markers must be a list"),
                             ([{"frame": -1, "name": ""}], r"markers\[0\].frame must be from 0"),
                             ([{"frame": 2, "name": 3}], r"markers\[0\].name"),
                             ([{"frame": 2}, {"frame": 2}], r"markers\[1\].frame repeats frame 2")):
        file = tmp_path / "bad.t2vz"
        file.write_text(json.dumps({**p.to_dict(), "markers": markers}))
        with pytest.raises(ProjectFileError, match=message) as e:
            Project.load(file)
        assert "\n" not in str(e.value) and str(e.value).startswith("bad.t2vz: ")


# -- multi-select, copy, cut, paste ---------------------------------------------------------------
def test_shift_and_ctrl_click_and_the_rubber_band_select_several_clips(window, qtbot, tmp_path):
    ids = timeline_with_clips(window, tmp_path)
    view = window.timeline
    qtbot.mouseClick(view, Qt.LeftButton, pos=track_point(window, 1, 4))
    qtbot.mouseClick(view, Qt.LeftButton, Qt.ShiftModifier, track_point(window, 1, 18))
    assert view.selected_ids() == [ids[0], ids[2]]
    qtbot.mouseClick(view, Qt.LeftButton, Qt.ControlModifier, track_point(window, 1, 4))  # Ctrl-click takes it out
    assert view.selected_ids() == [ids[2]]
    qtbot.mouseClick(view, Qt.LeftButton, pos=track_point(window, 0, 4))  # empty space: nothing selected
    assert view.selected_ids() == []
    # a rubber band from the empty top track down across the last two clips
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 0, 9))
    qtbot.mouseMove(view, track_point(window, 1, 30))
    assert view.drag is not None and view.drag.mode == "band"
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 1, 30))
    assert view.selected_ids() == ids[1:]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_A, Qt.ControlModifier)
    assert view.selected_ids() == ids
    # a plain click inside the selection, without a drag, picks that clip alone (a newcomer's
    # Shift+Del then ripple-deleted all three)
    qtbot.mouseClick(view, Qt.LeftButton, pos=track_point(window, 1, 12))
    assert view.selected_ids() == [ids[1]]


def test_a_multi_selection_moves_and_deletes_as_one_undo_step(window, qtbot, tmp_path):
    ids = timeline_with_clips(window, tmp_path)
    view = window.timeline
    view.set_selection(set(ids[1:]))
    steps = window.doc.undo.count()
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 1, 12))  # drag the middle clip: both go
    qtbot.mouseMove(view, track_point(window, 0, 15))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 15))
    assert spans(window.doc.project, 0) == [(13, 17), (17, 25)] and spans(window.doc.project) == [(0, 8)]
    assert window.doc.undo.count() == steps + 1
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_Delete)
    assert spans(window.doc.project, 0) == [] and window.doc.undo.count() == steps + 2
    window.doc.undo.undo()
    assert spans(window.doc.project, 0) == [(13, 17), (17, 25)]


def test_copy_cut_and_paste_at_the_playhead_on_the_current_track(window, qtbot, tmp_path):
    ids = timeline_with_clips(window, tmp_path)
    view = window.timeline
    project = window.doc.project
    view.set_selection({ids[0], ids[1]})
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_C, Qt.ControlModifier)
    view.current_track = project.tracks[0].id
    view.set_playhead(20)
    qtbot.keyClick(view, Qt.Key_V, Qt.ControlModifier)
    assert spans(project, 0) == [(20, 28), (30, 34)]  # the same layout, starting at the playhead
    assert view.selected_ids() == [c.id for c in project.tracks[0].clips]  # the pasted clips are selected
    view.set_playhead(22)
    qtbot.keyClick(view, Qt.Key_V, Qt.ControlModifier)  # the clips in the way push the paste after them
    assert spans(project, 0) == [(20, 28), (30, 34), (34, 42), (44, 48)]
    view.set_selection({ids[2]})
    qtbot.keyClick(view, Qt.Key_X, Qt.ControlModifier)
    assert spans(project) == [(0, 8), (10, 14)]
    view.current_track = project.tracks[1].id
    view.set_playhead(30)
    qtbot.keyClick(view, Qt.Key_V, Qt.ControlModifier)
    assert spans(project) == [(0, 8), (10, 14), (30, 38)]


def test_paste_keeps_the_groups_tracks_and_refuses_when_there_are_too_few():
    p, bottom = three_clips()
    top = p.tracks[0].id
    p.add_clip(top, "b", 2)
    copied = p.copy_clips([p.tracks[0].clips[0].id, p.tracks[1].clips[0].id])
    assert [(c.track_offset, c.offset) for c in copied] == [(0, 2), (1, 0)]
    with pytest.raises(EditError, match="not enough tracks"):
        p.paste_clips(copied, bottom, 40)
    pasted = p.paste_clips(copied, top, 40)
    assert [(c.start, c.end) for c in pasted] == [(42, 48), (40, 44)]


# -- track mute, lock, hide -----------------------------------------------------------------------
def click_flag(qtbot, window, track_index: int, flag: str) -> None:
    from t2vz_desktop.app.timeline_paint import FLAG_LABELS, flag_rect

    view = window.timeline
    track = window.doc.project.tracks[track_index]
    box = flag_rect(view.track_y(track.id), list(FLAG_LABELS).index(flag))
    qtbot.mouseClick(view, Qt.LeftButton, pos=box.center())


def test_header_buttons_lock_hide_and_mute_a_track(window, qtbot, tmp_path):
    ids = timeline_with_clips(window, tmp_path)
    view, project = window.timeline, window.doc.project
    from t2vz_desktop.app.render import frame_at

    click_flag(qtbot, window, 1, "locked")
    assert project.tracks[1].locked
    before = [c.start for c in project.tracks[1].clips]
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 1, 4))  # a drag on a locked track: nothing moves
    qtbot.mouseMove(view, track_point(window, 1, 8))
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 1, 8))
    assert [c.start for c in project.tracks[1].clips] == before
    view.select(ids[0])
    window.delete_selected()
    assert len(project.tracks[1].clips) == 3 and "V1 is locked" in window.messages[-1]
    window.ripple_delete()
    assert len(project.tracks[1].clips) == 3
    click_flag(qtbot, window, 1, "locked")
    assert not project.tracks[1].locked

    picture, _ = frame_at(project, 2, window.frames)
    assert picture is not None
    click_flag(qtbot, window, 1, "hidden")
    assert project.tracks[1].hidden and project.visible_clip(2) is None
    assert frame_at(project, 2, window.frames)[0] is None  # the monitor shows nothing there
    click_flag(qtbot, window, 1, "muted")
    assert project.tracks[1].muted
    window.doc.undo.undo()
    assert not project.tracks[1].muted


def test_the_timeline_menus_switches_act_on_the_current_track_and_show_its_state(window, qtbot, tmp_path):
    make = make_clip(tmp_path / "tone.mp4", 8, 8, tone_hz=440)
    window.import_files([make], window.doc.project.tracks[1].id, 0)
    view, project, a = window.timeline, window.doc.project, window.actions_by_name
    view.current_track = project.tracks[1].id
    view.resize(900, 300)
    audio_y = view.tracks_bottom() + AUDIO_H // 2
    heard = view.grab().toImage().pixelColor(int(view.x_of(4)), audio_y)
    window.sync_track_actions()  # what opening the Timeline menu does
    assert not a["mute_track"].isChecked() and a["mute_track"].text() == "&Mute track (V1)"
    a["mute_track"].trigger()
    assert project.tracks[1].muted and window.doc.undo.undoText() == "Mute track"
    muted = view.grab().toImage().pixelColor(int(view.x_of(4)), audio_y)
    assert muted.lightness() < heard.lightness() - 20  # the muted track's sound is drawn faded
    a["hide_track"].trigger()
    a["lock_track"].trigger()
    assert project.tracks[1].hidden and project.tracks[1].locked
    view.current_track = project.tracks[0].id
    window.sync_track_actions()
    assert not a["lock_track"].isChecked() and a["lock_track"].text() == "&Lock track (V2)"
    view.current_track = project.tracks[1].id
    window.sync_track_actions()
    assert a["lock_track"].isChecked() and a["mute_track"].isChecked()


def test_hidden_tracks_are_not_exported_and_muted_tracks_not_mixed(tmp_path):
    from t2vz_desktop.app.render import RenderOptions, mix_audio, render_timeline
    from t2vz_desktop.media.reader import iter_frames

    red = make_clip(tmp_path / "red.mp4", 8, 8, color=(220, 30, 30), tone_hz=440)
    blue = make_clip(tmp_path / "blue.mp4", 8, 8, color=(30, 30, 220))
    from t2vz_desktop.app.importer import probe_file

    p = Project.new(64, 48, 8)
    for path, track in ((red, p.tracks[0]), (blue, p.tracks[1])):
        item = p.add_media(probe_file(path))
        p.add_clip(track.id, item.id, 0)
    assert mix_audio(p) is not None
    p.set_track_flag(p.tracks[0].id, "muted", True)
    assert mix_audio(p) is None  # the only sound was on the muted track
    p.set_track_flag(p.tracks[0].id, "hidden", True)
    out = render_timeline(p, tmp_path / "out.mp4", RenderOptions(64, 48, 8))
    frame = next(iter_frames(out, 4, 5))
    r, g, b = frame[24, 60].astype(int)
    assert b > 150 and r < 90  # the blue track below shows: the red one on top is hidden


# -- J/K/L shuttle --------------------------------------------------------------------------------
class StoppedClock:
    """A QElapsedTimer stand-in that says `ms` have passed."""

    def __init__(self, ms: int):
        self.ms = ms

    def start(self) -> None:
        pass

    def elapsed(self) -> int:
        return self.ms


def test_jkl_shuttle_plays_forward_and_backward_faster_with_each_press(window, qtbot, tmp_path):
    timeline_with_clips(window, tmp_path)  # 22 frames at 8 fps
    view = window.timeline
    view.set_playhead(4)
    qtbot.keyClick(window, Qt.Key_L)
    assert window.play_timer.isActive() and window.playing_speed == 1  # 1x is ordinary playback, with sound
    qtbot.keyClick(window, Qt.Key_L)
    assert not window.play_timer.isActive() and window.shuttle_speed == 2
    assert window.monitor.play_button.text() == "Pause (+2x)"  # it said Play while the shuttle ran
    start = view.playhead
    qtbot.waitUntil(lambda: view.playhead >= start + 4, timeout=3000)
    for expected in (4, 8, 8):  # doubles up to 8x
        qtbot.keyClick(window, Qt.Key_L)
        assert window.shuttle_speed == expected
    qtbot.keyClick(window, Qt.Key_K)
    assert window.shuttle_speed == 0 and not window.play_timer.isActive() and not window.shuttle_timer.isActive()
    assert window.monitor.play_button.text() == "Play"

    view.set_playhead(20)
    qtbot.keyClick(window, Qt.Key_J)
    assert window.shuttle_speed == -1
    qtbot.waitUntil(lambda: view.playhead <= 18, timeout=3000)  # backward
    qtbot.keyClick(window, Qt.Key_J)
    assert window.shuttle_speed == -2
    window._shuttle_origin, window._shuttle_clock = 20, StoppedClock(500)
    window._shuttle_tick()
    assert view.playhead == 12  # 0.5 s at 2 x 8 fps backward
    window.shuttle_speed = 8
    window._shuttle_origin = 0
    window._shuttle_tick()
    assert view.playhead == 22 and window.shuttle_speed == 0  # stops at the end, 32 frames would overshoot
    qtbot.keyClick(window, Qt.Key_K)


# -- snapping, zoom to fit, frames display --------------------------------------------------------
def test_snapping_shows_a_snap_line_and_the_n_key_turns_it_off_persistently(window, qtbot, tmp_path):
    clip_file = make_clip(tmp_path / "a.mp4", 8, 8)
    project = window.doc.project
    window.import_files([clip_file], project.tracks[1].id, 0)
    window.import_files([clip_file], project.tracks[1].id, 8)
    view = window.timeline
    view.set_zoom(10)
    first = project.tracks[1].clips[0]
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 1, 4))
    qtbot.mouseMove(view, track_point(window, 0, 4 + 7.4))
    assert view.drag.snap == 8 and view.drag.start == 8
    snapped = view.grab().toImage()
    line_x = int(view.x_of(8))
    view.drag.snap = None
    unsnapped = view.grab().toImage()
    assert sum(snapped.pixelColor(line_x, y) != unsnapped.pixelColor(line_x, y) for y in range(view.height())) > 20
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 4 + 7.4))
    assert first.start == 8
    window.doc.undo.undo()

    qtbot.keyClick(window, Qt.Key_N)
    assert not view.snapping and window.settings.value("timeline/snapping", type=bool) is False
    qtbot.mousePress(view, Qt.LeftButton, pos=track_point(window, 1, 4))
    qtbot.mouseMove(view, track_point(window, 0, 4 + 7.4))
    assert view.drag.snap is None
    qtbot.mouseRelease(view, Qt.LeftButton, pos=track_point(window, 0, 4 + 7.4))
    assert project.tracks[0].clips[0].start == 7  # where it was dropped
    window.actions_by_name["snapping"].setChecked(True)
    window.settings.setValue("timeline/snapping", False)
    window.restore_view_switches()  # what a new window does with the same settings
    assert not view.snapping and not window.actions_by_name["snapping"].isChecked()


def test_zoom_to_fit_shows_the_whole_timeline(window, qtbot, tmp_path):
    timeline_with_clips(window, tmp_path)
    view = window.timeline
    view.set_zoom(96)
    view.set_scroll(300)
    end = window.doc.project.duration
    assert view.x_of(end) > view.width()
    qtbot.keyClick(window, Qt.Key_Backslash)
    assert view.scroll == 0 and 0.8 * view.width() < view.x_of(end) <= view.width()
    view.set_zoom(60)
    qtbot.keyClick(window, Qt.Key_Z, Qt.ShiftModifier)
    assert view.x_of(end) <= view.width()


def test_the_frames_display_option_shows_frame_numbers_and_is_kept(window, qtbot, tmp_path):
    timeline_with_clips(window, tmp_path)
    view = window.timeline
    view.set_playhead(12)
    assert window.monitor.timecode.text() == "00:00:01:04 / 00:00:02:06"
    ruler = view.grab().toImage().copy(0, 0, view.width(), RULER_H)
    window.actions_by_name["frames"].setChecked(True)
    assert window.monitor.timecode.text() == "12 / 22"
    assert view.grab().toImage().copy(0, 0, view.width(), RULER_H) != ruler  # the ruler counts frames
    assert window.settings.value("view/frames", type=bool) is True
    window.actions_by_name["frames"].setChecked(False)
    assert window.monitor.timecode.text() == "00:00:01:04 / 00:00:02:06"


# -- menus and the shortcuts dialog ---------------------------------------------------------------
def menu_actions(window) -> set:
    found, menus = set(), list(window.menuBar().actions())
    while menus:
        action = menus.pop()
        if action.menu() is not None:
            menus.extend(action.menu().actions())
        else:
            found.add(action)
    return found


def test_every_action_with_keys_is_in_a_menu_and_in_the_shortcuts_dialog(window):
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QApplication

    in_menus = menu_actions(window)
    named = set(window.actions_by_name.values())
    assert named <= in_menus, [a.text() for a in named - in_menus]
    with_keys = {a for w in (window, window.timeline, window.bin) for a in w.actions() if a.shortcuts()}
    assert with_keys <= in_menus, [a.text() for a in with_keys - in_menus]

    dialog = window.show_shortcuts()
    QApplication.processEvents()
    rows = dict(dialog.visible_rows())
    native = lambda text: QKeySequence(text).toString(QKeySequence.NativeText)  # noqa: E731
    for action, keys in (("Ripple delete", "Shift+Del"), ("Add marker", "M"), ("Next marker", "Shift+M, Ctrl+Right"),
                         ("Shuttle forward (again: faster)", "L"), ("Stop", "K"), ("Snapping", "N"),
                         ("Zoom to fit", "Shift+Z, \\"), ("Paste clips", "Ctrl+V"), ("Undo", "Ctrl+Z")):
        assert rows[action] == ", ".join(native(k) for k in keys.split(", ")), action
    dialog.filter.setText("marker")
    assert {a for a, _ in dialog.visible_rows()} == {"Add marker", "Previous marker", "Next marker"}
    dialog.close()
    # read from the actions themselves: a changed key shows the next time the dialog opens
    window.actions_by_name["close_gap"].setShortcut(QKeySequence("Ctrl+G"))
    assert dict(window.show_shortcuts().visible_rows())["Close gap"] == native("Ctrl+G")


# -- filmstrips -------------------------------------------------------------------------------------
def test_filmstrip_tiles_show_the_frames_along_the_clip_and_reuse_them_when_zooming():
    from t2vz_desktop.app.project import Clip
    from t2vz_desktop.app.timeline_paint import filmstrip

    item = MediaItem("a", "/m/a.mp4", "a.mp4", 64, 48, 8.0, 100)
    clip = Clip("c", "a", 0, 10, 90)  # source frames 10-89
    tiles = filmstrip(clip, item, 8.0, 12.0, 64)  # a tile every 64 px = 5.33 frames: step 4
    frames = [f for _, f in tiles]
    assert [x for x, _ in tiles] == [64 * k for k in range(len(tiles))] and len(tiles) == 15
    assert frames == sorted(set(frames)) and frames[0] == 8 and all(f % 4 == 0 and f < 90 for f in frames)
    closer = [f for _, f in filmstrip(clip, item, 8.0, 12.5, 64)]
    assert set(closer) & set(frames) and all(f % 4 == 0 for f in closer)  # the same step: decoded tiles are reused
    fast = MediaItem("b", "/m/b.mp4", "b.mp4", 64, 48, 16.0, 100)  # twice the project's rate
    assert [f for _, f in filmstrip(Clip("d", "b", 0, 0, 16), fast, 8.0, 16.0, 64)] == [0, 8, 16, 24]


def test_a_wide_clip_shows_a_filmstrip_decoded_off_the_gui_thread(window, qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication

    clip_file = make_clip(tmp_path / "bar.mp4", 16, 8, size=(64, 48))  # a white bar grows 4 px a frame
    window.import_files([clip_file], window.doc.project.tracks[1].id, 0)
    qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=5000)
    view = window.timeline
    view.set_zoom(4)
    view.grab()
    assert window.bin.pending_thumbnails() == 0  # narrow: one thumbnail, the first frame, already made
    view.set_zoom(40)  # 16 frames x 40 px: about nine 58 px tiles
    view.grab()
    assert window.bin.pending_thumbnails() > 0  # the tiles are asked for, not decoded in the paint
    qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=10_000)
    QApplication.processEvents()
    image = view.grab().toImage()
    from t2vz_desktop.app.timeline_paint import filmstrip

    clip = window.doc.project.tracks[1].clips[0]
    item = window.doc.project.media[clip.media_id]
    inner = view.clip_rect(clip, window.doc.project.tracks[1].id).adjusted(3, 3, -3, -3)
    thumb = window.bin.thumbnail_for(item)
    tile_w = int(inner.height() * thumb.width() / thumb.height())
    y = int(inner.bottom()) - 4  # under the clip's name
    white = []  # per whole tile: the share of it the white bar covers
    for dx, frame in filmstrip(clip, item, window.doc.project.fps, view.ppf, tile_w):
        if inner.left() + dx + tile_w <= inner.right():
            row = [image.pixelColor(int(inner.left()) + dx + i, y) for i in range(2, tile_w - 2)]
            white.append((frame, sum(min(c.red(), c.green(), c.blue()) > 200 for c in row) / len(row)))
    assert len(white) >= 6
    for frame, share in white:  # each tile shows its own frame: the bar is 4 px of 64 a frame
        assert abs(share - 4 * frame / 64) < 0.1, (frame, share)


def test_no_key_is_bound_to_two_actions(window):
    """Qt runs neither action of an ambiguous key (it only warns), so a clash is a dead key."""
    from PySide6.QtGui import QKeySequence

    owners: dict[str, set[str]] = {}
    for widget in (window, window.timeline, window.bin):
        for action in widget.actions():
            for key in action.shortcuts():
                owners.setdefault(key.toString(QKeySequence.PortableText), set()).add(action.text())
    clashes = {key: names for key, names in owners.items() if key and len(names) > 1}
    assert not clashes
