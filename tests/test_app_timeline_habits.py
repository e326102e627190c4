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
