"""The Generate panel's style presets row (a combo that applies the picked preset, Save as...,
Delete, and Undo for the panel's settings) and its LoRA table (files and scales, which presets
and Re-use settings fill). The file format and the built-ins are in presets.py."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QMessageBox, QSizePolicy, QToolButton, QWidget,
)

from ..engine.request import GenerationRequest, LoraSpec
from .panel_widgets import KeyTable
from .presets import Preset, PresetError, all_presets, delete_preset, save_preset


class LoraTable(KeyTable):
    """The LoRA files applied to the model, one a row with its scale (-5 to 5); + browses for a
    .safetensors file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(("file", "scale"), ["", "1"], parent)
        self.setMinimumHeight(48)
        self.setMaximumHeight(72)
        self.setToolTip("LoRA files applied to the model, each with a scale (1: as trained, 0: off)")

    def add_row(self, values: list | None = None) -> None:
        if values is None:  # the + button: ask for the file
            file, _ = QFileDialog.getOpenFileName(self, "Add a LoRA", "", "LoRA weights (*.safetensors)")
            if not file:
                return
            values = [file, "1"]
        super().add_row(values)

    def set_loras(self, loras: list) -> None:
        """Show `loras` (LoraSpec or their asdict form)."""
        self.set_rows([[lora["path"], lora["scale"]] for lora in (asdict(x) if isinstance(x, LoraSpec) else x
                                                                  for x in loras or [])])

    def loras(self) -> list[LoraSpec]:
        """The table's LoRAs; ValueError names a row whose scale is not a number."""
        found = []
        for row, (path, scale) in enumerate(self.rows(), 1):
            try:
                found.append(LoraSpec(path, float(scale or 1)))
            except ValueError:
                raise ValueError(f"LoRA {row}: the scale is a number (got {scale})") from None
        return [lora for lora in found if lora.path]


class _SettingsStep(QUndoCommand):
    """One change of some panel settings: `before` and `after` hold the same request fields."""

    def __init__(self, panel, text: str, before: dict, after: dict):
        super().__init__(text)
        self.panel, self.before, self.after = panel, before, after

    def redo(self) -> None:
        self.panel.set_fields(self.after)

    def undo(self) -> None:
        self.panel.set_fields(self.before)


class PresetRow(QWidget):
    """Pick a preset to apply it (only the settings it names change), save the panel's style
    settings as a preset, delete one of the user's; built-ins are read-only.

    The panel's widgets have no undo of their own and the window's Undo is the project's, so
    applying a preset pushes onto this row's own stack: Undo beside the combo, or Ctrl+Z while
    the focus is in the panel (a text field keeps Ctrl+Z for its own text), takes it back.
    """

    def __init__(self, panel: QWidget):
        super().__init__(panel)
        self.panel = panel
        self.folder: Path | None = None
        self.presets: list[Preset] = []
        self.undo_stack = QUndoStack(self)
        self.combo = QComboBox()
        self.combo.setPlaceholderText("Choose a preset...")
        self.combo.setToolTip("Style presets: picking one sets the settings it names (Ctrl+Z in the panel undoes it)")
        self.combo.activated.connect(lambda i: self.apply(self.presets[i]))
        self.combo.currentIndexChanged.connect(self._update_buttons)
        self.save_button = self._button("Save as...", "Save the model, LoRAs, scheduler, steps, guidance, "
                                        "consistency options and negative prompt as a preset", self.save_as)
        self.delete_button = self._button("Delete", "Delete this preset's file (built-ins cannot be deleted)",
                                          self.delete_current)
        # "Undo" alone: the step's name ("Undo preset Steady") is its tooltip, the row is narrow
        self.undo_button = self._button("Undo", "Nothing to undo", self.undo_stack.undo)
        self.undo_button.setEnabled(False)
        self.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.undo_stack.undoTextChanged.connect(lambda text: self.undo_button.setToolTip(
            f"Undo {text} (Ctrl+Z in the panel)" if text else "Nothing to undo"))
        self.loras = LoraTable()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.combo, self.save_button, self.delete_button, self.undo_button):
            layout.addWidget(widget)
        self.combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self._keys = _PanelUndoKeys(self.undo_stack)
        panel.installEventFilter(self._keys)
        self.set_folder(None)

    def _button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: slot())
        return button

    def set_folder(self, folder: Path | None) -> None:
        """Where the user's presets live (`<data dir>/presets`); re-reads the list."""
        self.folder = None if folder is None else Path(folder)
        self.reload()

    def reload(self, select: str | None = None) -> None:
        """Re-read the presets; files left out are named in the panel's message line."""
        self.presets, problems = all_presets(self.folder)
        self.combo.blockSignals(True)
        self.combo.clear()
        for preset in self.presets:
            self.combo.addItem(preset.name)
            self.combo.setItemData(self.combo.count() - 1, ("built-in, read-only: " if preset.builtin else
                                                            f"{preset.path}: ") + preset.summary, Qt.ToolTipRole)
        names = [p.name for p in self.presets]
        self.combo.setCurrentIndex(names.index(select) if select in names else -1)
        self.combo.blockSignals(False)
        self._update_buttons()
        if problems:
            self.panel.show_message("Preset left out: " + "; ".join(problems), error=True)

    def current(self) -> Preset | None:
        i = self.combo.currentIndex()
        return self.presets[i] if 0 <= i < len(self.presets) else None

    def _update_buttons(self, *_) -> None:
        preset = self.current()
        self.delete_button.setEnabled(preset is not None and not preset.builtin)

    def _panel_settings(self) -> dict | None:
        """The panel's request fields in asdict form, or None after saying what is malformed."""
        try:
            return asdict(GenerationRequest(**self.panel.fields()))
        except ValueError as e:
            self.panel.show_message(f"Fix the settings first: {e}", error=True)
            return None

    def apply(self, preset: Preset) -> None:
        """Set the settings `preset` names, as one step of the panel's undo."""
        current = self._panel_settings()
        if current is None:
            return
        before = {name: current[name] for name in preset.settings}
        self.undo_stack.push(_SettingsStep(self.panel, f"preset {preset.name}", before, dict(preset.settings)))
        self.combo.setCurrentIndex(self.presets.index(preset))
        self.panel.show_message(f"Preset {preset.name}: {preset.summary}")

    def save_as(self, name: str | None = None) -> Preset | None:
        """Save the panel's style settings as preset `name` (asked for when None)."""
        if name is None:
            current = self.current()
            name, ok = QInputDialog.getText(self, "Save preset", "Preset name:",
                                            text="" if current is None or current.builtin else current.name)
            if not ok:
                return None
        settings = self._panel_settings()
        if settings is None:
            return None
        if self.folder is None:
            self.panel.show_message("Presets cannot be saved: the app has no data folder", error=True)
            return None
        try:
            saved = save_preset(self.folder, name, settings)
        except (PresetError, OSError) as e:
            self.panel.show_message(f"Cannot save the preset: {e}", error=True)
            return None
        self.reload(select=saved.name)
        self.panel.show_message(f"Saved preset {saved.name} ({saved.path})")
        return saved

    def delete_current(self, confirm: bool = True) -> None:
        preset = self.current()
        if preset is None or preset.builtin:
            return
        if confirm and QMessageBox.question(self, "Delete preset", f"Delete the preset {preset.name}?\n{preset.path}",
                                            QMessageBox.Yes | QMessageBox.No, QMessageBox.No) != QMessageBox.Yes:
            return
        try:
            delete_preset(preset)
        except (PresetError, OSError) as e:
            self.panel.show_message(f"Cannot delete the preset: {e}", error=True)
            return
        self.reload()
        self.panel.show_message(f"Deleted preset {preset.name}")


class _PanelUndoKeys(QObject):
    """Ctrl+Z / Ctrl+Shift+Z reaching the panel (no child took them) undo and redo its settings.

    The window's Undo shortcut is the project's and is window-wide; taking the shortcut-override
    event here, only while the panel's stack has a step to undo (or redo), turns the keys into a
    key press for the panel instead, and leaves them to the project otherwise."""

    def __init__(self, stack: QUndoStack):
        super().__init__(stack)
        self.stack = stack

    def _which(self, event) -> str | None:
        if event.matches(QKeySequence.Undo) and self.stack.canUndo():
            return "undo"
        if event.matches(QKeySequence.Redo) and self.stack.canRedo():
            return "redo"
        return None

    def eventFilter(self, watched, event) -> bool:
        if event.type() in (QEvent.ShortcutOverride, QEvent.KeyPress):
            which = self._which(event)
            if which is not None:
                event.accept()
                if event.type() == QEvent.KeyPress:
                    getattr(self.stack, which)()
                return True
        return False
