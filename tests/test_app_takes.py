"""Variations and History (issue #24 items 2 and 3), driven as a user would: a batch of takes on
the built-in demo model (2 frames, 2 steps) shown as a grid in the monitor, one or more chosen
onto the timeline while every take stays in History; History's search, model filter, Re-use
settings, Put on timeline and Delete file; and History kept in the project file or rebuilt
from the recipes in NAME_media when the file has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_app_fixtures import make_clip, window  # noqa: F401 - the fixture

from t2vz_desktop.app.panel import demo_model_present
from t2vz_desktop.app.project import Project
from t2vz_desktop.app.project_format import project_data, project_from_data
from t2vz_desktop.app.takes_data import make_take, take_info
from t2vz_desktop.engine.request import GenerationRequest

pytestmark = pytest.mark.skipif(not demo_model_present(), reason="the built-in demo model is not installed")


def generate_batch(window, qtbot, batch: int, prompt: str = "a red circle on a blue background"):
    panel = window.panel
    panel.prompt.setPlainText(prompt)
    panel.set_model("demo")
    panel.frames.setValue(2)
    panel.steps.setValue(2)
    panel.seed.setValue(7)
    panel.seed_lock.setChecked(True)
    panel.batch.setValue(batch)
    with qtbot.waitSignal(window.queue.job_finished, timeout=120_000):
        qtbot.mouseClick(panel.generate_button, Qt.LeftButton)


def clips_of(window) -> list:
    return [c for t in window.doc.project.tracks for c in t.clips]


def shown_takes(window, qtbot) -> list:
    grid = window.takes_grid
    grid.wait_for_frames(60_000)
    qtbot.waitUntil(lambda: len(grid.frames) == len(grid.takes), timeout=10_000)
    return grid.takes


def test_a_batch_is_a_grid_and_the_chosen_take_goes_on_the_timeline_the_other_stays_in_history(window, qtbot):
    generate_batch(window, qtbot, 2)
    grid = window.takes_grid
    assert window.monitor_stack.currentWidget() is grid  # the grid is in the monitor's place
    takes = shown_takes(window, qtbot)
    assert [take_info(t).seed for t in takes] == [7, 8]  # take r: seed + r, named in its own recipe
    assert [GenerationRequest.from_json(t.item.recipe).seed for t in takes] == [7, 8]
    assert all(Path(t.item.path).is_file() and Path(t.item.path).with_suffix(".json").is_file() for t in takes)
    assert clips_of(window) == []  # nothing on the timeline until the user chooses
    assert window.history.list.count() == 2 and window.doc.dirty

    # all takes play on one clock: every tile shows the same frame number
    grid._tick()
    assert grid.frame == 1 and all(grid.image_of(t) is grid.frames[t.item.id][1] for t in takes)

    # a click picks the second take alone; Put on timeline adds it in one undo step
    qtbot.mouseClick(grid.tiles, Qt.LeftButton, pos=grid.tiles.tile_rect(1).center())
    assert grid.chosen_ids() == [takes[1].item.id]
    qtbot.mouseClick(grid.put_button, Qt.LeftButton)
    clips = clips_of(window)
    assert len(clips) == 1 and window.doc.project.media[clips[0].media_id].path == takes[1].item.path
    assert window.monitor_stack.currentWidget() is window.monitor
    assert window.doc.undo.undoText() == "Add generated clip"
    assert set(window.history.visible_ids()) == {t.item.id for t in takes}  # the other stays in History
    window.doc.undo.undo()
    assert clips_of(window) == [] and len(window.doc.project.history) == 2  # undo takes the clip, not the take

    # Ctrl+click chooses more than one; both go on the timeline in one step
    window.show_takes(takes)
    qtbot.mouseClick(grid.tiles, Qt.LeftButton, Qt.ControlModifier, grid.tiles.tile_rect(1).center())
    assert grid.chosen_ids() == [t.item.id for t in takes]
    qtbot.mouseClick(grid.put_button, Qt.LeftButton)
    assert len(clips_of(window)) == 2 and window.doc.undo.undoText() == "Add 2 takes"
    window.doc.undo.undo()
    assert clips_of(window) == []


def test_one_take_goes_straight_onto_the_timeline_and_into_history(window, qtbot):
    generate_batch(window, qtbot, 1)
    assert window.monitor_stack.currentWidget() is window.monitor
    clips = clips_of(window)
    assert len(clips) == 1 and window.doc.undo.undoText() == "Add generated clip"
    (take,) = window.doc.project.history
    assert window.doc.project.media[clips[0].media_id].path == take.item.path
    assert take.seconds > 0 and take.batch == 1 and take.created


def test_history_survives_save_and_reopen_and_is_rebuilt_without_its_index(window, qtbot, tmp_path):
    generate_batch(window, qtbot, 2)
    takes = shown_takes(window, qtbot)
    window.put_takes([takes[0].item.id])
    film = tmp_path / "film.t2vz"
    assert window.save_project(film)
    media = tmp_path / "film_media"
    assert sorted(p.suffix for p in media.iterdir()) == [".json", ".json", ".mp4", ".mp4"]  # the unchosen take too

    def reopened() -> list:
        window.new_project()
        assert window.doc.project.history == []
        assert window.open_project(film)
        return window.doc.project.history

    def described(history) -> list:
        return [(take_info(t).prompt, take_info(t).seed, Path(t.item.path).parent) for t in history]

    before = described(window.doc.project.history)
    again = reopened()
    assert described(again) == before and [t.seconds for t in again] == [t.seconds for t in takes]
    assert window.history.list.count() == 2

    # the index lost: the takes come back from the recipes beside the project
    data = json.loads(film.read_text())
    del data["history"]
    film.write_text(json.dumps(data))
    rebuilt = reopened()
    assert sorted(described(rebuilt)) == sorted(before) and all(t.seconds == 0 for t in rebuilt)

    # a damaged index: the project still opens, the history is rebuilt, and one line says why
    data["history"] = [{"item": {"id": "x"}, "seconds": 1.0}]
    film.write_text(json.dumps(data))
    rebuilt = reopened()
    assert sorted(described(rebuilt)) == sorted(before)
    assert any("history left out (history[0].item.path is missing)" in m for m in window.messages)


def fake_take(window, name: str, prompt: str, model: str, seed: int):
    """A take whose video is a small PyAV clip in the app's own media folder, with its recipe."""
    folder = window.generated_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = make_clip(folder / f"{name}.mp4", frames=4)
    recipe = GenerationRequest([prompt], model=model, seed=seed, frames=4, width=64, height=48, steps=2, guidance=5.0,
                               fps=8.0).to_json()
    path.with_suffix(".json").write_text(recipe)
    return make_take(path, recipe, 64, 48, 8.0, 4, False, 1.5, 1)


def test_history_search_filter_reuse_put_and_delete(window, qtbot):
    a = fake_take(window, "a", "a red circle", "demo", 3)
    b = fake_take(window, "b", "a blue square", "demo", 4)
    c = fake_take(window, "c", "a blue star", "stable-diffusion-v1-5/stable-diffusion-v1-5", 5)
    window.doc.project.history.extend([a, b, c])
    window._history_changed()
    h = window.history
    assert h.visible_ids() == [c.item.id, b.item.id, a.item.id]  # newest first
    assert h.list.item(0).text().splitlines()[1:] == ["stable-diffusion-v1-5/stable-diffusion-v1-5  ·  seed 5", f"1.5 s  ·  {c.created.replace('T', ' ')[:16]}"]
    h.search.setText("blue")
    assert h.visible_ids() == [c.item.id, b.item.id]
    h.model.setCurrentText("demo")
    assert h.visible_ids() == [b.item.id]
    h.search.setText("green")  # nothing matches: the dock says so instead of an empty list
    assert h.visible_ids() == [] and h.empty.text() == "No takes match the search." and not h.empty.isHidden()
    h.search.clear()
    assert h.visible_ids() == [b.item.id, a.item.id] and h.empty.isHidden()
    window.bin.wait_for_thumbnails(10_000)
    qtbot.waitUntil(lambda: window.bin.pending_thumbnails() == 0, timeout=10_000)

    # Re-use settings loads the take's recipe into the panel (the bin's code path)
    h.select(a.item.id)
    qtbot.mouseClick(h.buttons["reuse"], Qt.LeftButton)
    assert (window.panel.prompt.toPlainText(), window.panel.seed.value()) == ("a red circle", 3)

    # Put on timeline, then Delete file: refused while on the timeline, asked otherwise
    qtbot.mouseClick(h.buttons["put"], Qt.LeftButton)
    assert len(clips_of(window)) == 1
    assert not window.delete_take(a.item.id)
    assert Path(a.item.path).is_file() and "remove it from the project first" in window.messages[-1]
    window.ask_delete_take = lambda path: False
    assert not window.delete_take(b.item.id) and Path(b.item.path).is_file()
    window.ask_delete_take = lambda path: True
    assert window.delete_take(b.item.id)
    assert not Path(b.item.path).exists() and not Path(b.item.path).with_suffix(".json").exists()
    assert b.item.id not in h.visible_ids() and len(window.doc.project.history) == 2


def test_a_take_outside_the_apps_folders_is_not_deleted(window, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    path = make_clip(outside / "mine.mp4")
    take = make_take(path, GenerationRequest(["x"], seed=1, width=64, height=48).to_json(), 64, 48, 8.0, 8, False, 1, 1)
    window.doc.project.history.append(take)
    window.ask_delete_take = lambda p: True
    assert not window.delete_take(take.item.id) and path.is_file()


def test_old_projects_read_unchanged_and_history_is_checked_at_the_border(tmp_path):
    old = project_data(Project.new())
    assert "history" not in old  # a project without takes is written as before
    assert project_from_data(old).history is None  # no history: the window rebuilds it
    clip = make_clip(tmp_path / "t.mp4")
    recipe = GenerationRequest(["x"], seed=1, width=64, height=48).to_json()
    project = Project.new()
    project.history = [make_take(clip, recipe, 64, 48, 8.0, 8, False, 2.5, 3)]
    data = project_data(project, tmp_path)
    assert data["history"][0]["item"]["path"] == "t.mp4"
    back = project_from_data(json.loads(json.dumps(data)), tmp_path)
    assert back.history[0].item.path == str(clip) and (back.history[0].seconds, back.history[0].batch) == (2.5, 3)
    for damage, words in (({"created": "yesterday"}, "history[0].created must be a date"),
                          ({"batch": 0}, "batch >= 1"), ({"extra": 1}, "history[0].extra is not a known field")):
        bad = json.loads(json.dumps(data))
        bad["history"][0].update(damage)
        read = project_from_data(bad, tmp_path)
        assert read.history is None and words in read.history_note and "\n" not in read.history_note
