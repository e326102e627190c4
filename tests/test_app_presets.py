"""Style presets in the Generate panel: saved to the data folder and read back the same, a
malformed shared file refused in one line, read-only built-ins, and undo of applying one."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_app_fixtures import window  # noqa: F401 - the fixture

from t2vz_desktop.app.panel import demo_model_present
from t2vz_desktop.app.presets import PRESET_FIELDS, PresetError, delete_preset, load_preset
from t2vz_desktop.engine.request import GenerationRequest, LoraSpec


def style(panel) -> dict:
    """What the panel shows of every field a preset may name, plus two it must leave alone."""
    return {
        "model": panel.model_name(), "loras": panel.presets.loras.rows(), "scheduler": panel.scheduler.currentText(),
        "steps": panel.steps.value(), "guidance": panel.guidance.value(),
        "attention_window": panel.attention_window.value(), "noise_window": panel.noise_window.value(),
        "background": panel.background.value(), "subject_mask": panel.subject_mask.currentText(),
        "smooth": panel.smooth.value(), "negative": panel.negative.toPlainText(),
        "prompt": panel.prompt.toPlainText(), "frames": panel.frames.value(),
    }


def set_look(panel, tmp_path) -> None:
    panel.prompt.setPlainText("a red circle on a blue background")
    panel.frames.setValue(12)
    panel.set_model("demo")
    panel.presets.loras.set_loras([LoraSpec(str(tmp_path / "ink.safetensors"), 0.7)])
    panel.scheduler.setCurrentText("euler-a")
    panel.steps.setValue(30)
    panel.guidance.setValue(6.0)
    panel.attention_window.setValue(3)
    panel.noise_window.setValue(24)
    panel.background.setValue(0.4)
    panel.subject_mask.setCurrentText("attention")
    panel.smooth.setValue(0.25)
    panel.negative.setPlainText("blurry, text")


def pick(panel, name: str) -> None:
    """What a user does: choose the preset in the combo."""
    index = [p.name for p in panel.presets.presets].index(name)
    panel.presets.combo.setCurrentIndex(index)
    panel.presets.combo.activated.emit(index)


def ctrl_key(widget, modifiers) -> None:
    """Ctrl+Z as a keyboard sends it: the text is the control character, not "z" (qtbot's "z"
    makes a combo box search its items for a z and take the key)."""
    QTest.sendKeyEvent(QTest.Press, widget, Qt.Key_Z, "\x1a", modifiers)
    QTest.sendKeyEvent(QTest.Release, widget, Qt.Key_Z, "\x1a", modifiers)


def test_a_saved_preset_round_trips_through_its_file(window, tmp_path):
    panel = window.panel
    set_look(panel, tmp_path)
    saved_look = style(panel)
    saved = panel.presets.save_as("Ink / wash: v2")
    assert saved.path == window.data_dir / "presets" / "Ink wash v2.json"  # the name made a safe file name
    data = json.loads(saved.path.read_text())
    assert data["t2vz_preset"] == 1 and set(data["settings"]) == set(PRESET_FIELDS)
    assert data["settings"]["loras"] == [{"path": str(tmp_path / "ink.safetensors"), "scale": 0.7}]
    assert load_preset(saved.path).settings == saved.settings

    pick(panel, "Paper defaults")
    assert panel.steps.value() == 50 and panel.scheduler.currentText() == "ddim" and panel.presets.loras.rows() == []
    pick(panel, "Ink wash v2")
    assert style(panel) == saved_look
    # the list is read back from the folder: a fresh window's panel finds it too
    panel.presets.set_folder(window.data_dir / "presets")
    assert "Ink wash v2" in [p.name for p in panel.presets.presets]


def test_a_preset_sets_only_what_it_names(window, tmp_path):
    panel = window.panel
    set_look(panel, tmp_path)
    before = style(panel)
    pick(panel, "Steady")
    after = style(panel)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"attention_window", "noise_window", "background", "subject_mask", "smooth"}
    assert (after["attention_window"], after["background"]) == (2, 0.6)
    assert "Preset Steady" in panel.message.text()


def test_a_malformed_preset_file_is_refused_in_one_line_and_changes_nothing(window, tmp_path):
    panel = window.panel
    set_look(panel, tmp_path)
    before = style(panel)
    folder = window.data_dir / "presets"
    folder.mkdir(parents=True)
    bad = {
        "broken.json": '{"t2vz_preset": 1, "settings": {',
        "unknown.json": json.dumps({"t2vz_preset": 1, "settings": {"steps": 20, "sharpness": 3}}),
        "consent.json": json.dumps({"t2vz_preset": 1, "settings": {"model": "x.ckpt", "allow_unsafe_pickle": True}}),
        "prompt.json": json.dumps({"t2vz_preset": 1, "settings": {"prompts": ["a cat"]}}),
        "kind.json": json.dumps({"t2vz_preset": 1, "settings": {"steps": "many"}}),
        "range.json": json.dumps({"t2vz_preset": 1, "settings": {"guidance": 500}}),
        "nan.json": '{"t2vz_preset": 1, "settings": {"smooth": NaN}}',
        "lora.json": json.dumps({"t2vz_preset": 1, "settings": {"loras": [{"path": "a.safetensors", "scale": 9}]}}),
        "version.json": json.dumps({"t2vz_preset": 2, "settings": {}}),
        "recipe.json": GenerationRequest(["a cat"]).to_json(),
        "extra.json": json.dumps({"t2vz_preset": 1, "settings": {}, "run": "rm -rf"}),
        "Steady.json": json.dumps({"t2vz_preset": 1, "settings": {"steps": 2}}),  # not over a built-in
    }
    for name, text in bad.items():
        (folder / name).write_text(text)
    for name in bad:
        if name == "Steady.json":
            continue
        with pytest.raises(PresetError) as caught:
            load_preset(folder / name)
        message = str(caught.value)
        assert name in message and "\n" not in message, message
    assert "allow_unsafe_pickle" in str(pytest.raises(PresetError, load_preset, folder / "consent.json").value)
    # a file's keys are the field names, not the CLI's flags ("--guidance must be ...")
    assert "range.json: guidance must be" in str(pytest.raises(PresetError, load_preset, folder / "range.json").value)

    panel.presets.set_folder(folder)
    names = [p.name for p in panel.presets.presets]
    assert [n for n in names if n.lower() in {b[:-5].lower() for b in bad}] == ["Steady"]  # only the built-in
    assert next(p for p in panel.presets.presets if p.name == "Steady").builtin
    for name in bad:
        assert name in panel.message.text()
    assert style(panel) == before


def test_built_ins_are_there_and_read_only(window, monkeypatch):
    panel = window.panel
    presets = {p.name: p for p in panel.presets.presets}
    expected = ["Paper defaults", "Steady"] + (["Demo model"] if demo_model_present() else [])
    assert [n for n in presets if presets[n].builtin] == expected
    assert presets["Paper defaults"].settings["steps"] == 50 and presets["Paper defaults"].settings["smooth"] == 0
    if demo_model_present():
        demo = presets["Demo model"].settings
        assert (demo["model"], demo["steps"], demo["guidance"]) == ("demo", 20, 5.0)  # its t2vz.json
        assert demo["scheduler"] is None  # auto: the model's own sampler, not carried over to another model

    pick(panel, "Steady")
    assert not panel.presets.delete_button.isEnabled()
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.question", lambda *a: pytest.fail("asked to delete a built-in"))
    panel.presets.delete_current()
    assert "Steady" in [p.name for p in panel.presets.presets]
    with pytest.raises(PresetError):
        delete_preset(presets["Steady"])
    assert panel.presets.save_as("steady") is None  # a built-in's name, in any case
    assert "built-in" in panel.message.text()
    assert not (window.data_dir / "presets" / "steady.json").exists()

    mine = panel.presets.save_as("Mine")
    assert panel.presets.delete_button.isEnabled()
    panel.presets.delete_current(confirm=False)
    assert not mine.path.exists() and "Mine" not in [p.name for p in panel.presets.presets]


def test_applying_a_preset_is_undone_by_the_panel_not_the_project(window, qtbot, tmp_path):
    panel = window.panel
    set_look(panel, tmp_path)
    before = style(panel)
    project_steps = window.doc.undo.count()
    pick(panel, "Paper defaults")
    applied = style(panel)
    assert applied != before and applied["model"] == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert panel.presets.undo_button.isEnabled()
    panel.presets.undo_button.click()
    assert style(panel) == before

    # Ctrl+Z with the focus in the panel (on a combo box, not a text field) undoes there too
    pick(panel, "Paper defaults")
    window.activateWindow()
    panel.scheduler.setFocus()
    qtbot.waitUntil(panel.scheduler.hasFocus)
    ctrl_key(panel.scheduler, Qt.ControlModifier)
    assert style(panel) == before
    ctrl_key(panel.scheduler, Qt.ControlModifier | Qt.ShiftModifier)
    assert style(panel) == applied
    assert window.doc.undo.count() == project_steps  # the project's history is not touched


def test_re_use_settings_brings_the_recipes_loras(window, tmp_path):
    request = GenerationRequest(["a cat"], model="demo", loras=[LoraSpec("/loras/ink.safetensors", 0.5)])
    window.panel.apply_recipe(request.to_json())
    assert window.panel.presets.loras.rows() == [["/loras/ink.safetensors", "0.5"]]
    assert window.panel.fields()["loras"] == [LoraSpec("/loras/ink.safetensors", 0.5)]


def test_step_noise_is_offered_only_with_a_sampler_that_draws_noise(window, tmp_path):
    panel = window.panel
    panel.set_model("demo")  # its own sampler: euler-a
    enabled = {}
    for i in range(panel.scheduler.count()):
        panel.scheduler.setCurrentIndex(i)
        enabled[panel.scheduler.currentText()] = panel.step_noise.isEnabled()
    assert enabled == {"auto": True, "ddim": False, "euler-a": True, "dpm++": False, "lcm": True, "tcd": True}
    panel.scheduler.setCurrentIndex(panel.scheduler.findData(None))  # auto: the model's own
    panel.set_model("stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert not panel.step_noise.isEnabled()  # DDIM, Stable Diffusion's
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "t2vz.json").write_text(json.dumps({"scheduler": "lcm"}))
    panel.set_model(str(folder))
    assert panel.step_noise.isEnabled()
    (folder / "t2vz.json").write_text(json.dumps({"scheduler": "dpm++"}))
    panel.set_model("demo")
    panel.set_model(str(folder))
    assert not panel.step_noise.isEnabled()


def wait_until(condition, seconds: float = 5.0) -> bool:
    from PySide6.QtCore import QDeadlineTimer

    deadline = QDeadlineTimer(int(seconds * 1000))
    while not condition() and not deadline.hasExpired():
        QTest.qWait(20)
    return condition()


def test_step_noise_follows_the_models_settings_file_edited_on_disk(window, tmp_path):
    """The combo kept its state when t2vz.json was edited with the model still chosen (the job
    itself reads the file anew, so it was only the offer that went stale)."""
    import os

    panel = window.panel
    folder = tmp_path / "own"
    folder.mkdir()
    panel.set_model(str(folder))  # no t2vz.json yet: Stable Diffusion's DDIM
    assert not panel.step_noise.isEnabled()
    (folder / "t2vz.json").write_text(json.dumps({"scheduler": "lcm"}))  # created
    assert wait_until(panel.step_noise.isEnabled)
    (folder / "t2vz.json").write_text(json.dumps({"scheduler": "ddim"}))  # written in place
    assert wait_until(lambda: not panel.step_noise.isEnabled())
    (folder / "new.json").write_text(json.dumps({"scheduler": "euler-a"}))
    os.replace(folder / "new.json", folder / "t2vz.json")  # saved as editors do, by renaming over it
    assert wait_until(panel.step_noise.isEnabled)
    (folder / "t2vz.json").write_text(json.dumps({"scheduler": "dpm++"}))  # and still watched after that
    assert wait_until(lambda: not panel.step_noise.isEnabled())
