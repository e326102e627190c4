"""The model picker (ModelPicker), one combo box for the Generate panel and Edit with...: the
built-in demo model, the models installed in the Hugging Face cache and the Models folder, and
"Open model folder/file..." for any other. Reads folder names only; nothing is loaded here.
It watches the chosen model's settings file (t2vz.json), so what the panel offers follows an
edit made on disk while the model stays chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from ..engine.model_settings import settings_folder
from ..engine.paths import resources_dir
from ..engine.system import find_models

OPEN_MODEL = "__open__"


def demo_model_present() -> bool:
    return (resources_dir() / "models" / "demo" / "model_index.json").is_file()


class ModelPicker(QComboBox):
    """Each item's data is the model name a request takes ("demo", a hub id, a path)."""

    # The chosen model's t2vz.json was written, created or removed (same model still chosen).
    settings_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("Built-in demo model, a model from the local Hugging Face cache, or a file/folder")
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._settings_touched)
        self._watcher.directoryChanged.connect(self._settings_touched)
        self.currentIndexChanged.connect(self._watch_settings)
        self.fill()
        self.activated.connect(self._chosen)

    def _watch_settings(self, *_) -> None:
        """Watch the chosen folder model's t2vz.json, and its folder for one created or saved by
        renaming a new file over it (as most editors save), which ends a file watch."""
        for paths in (self._watcher.files(), self._watcher.directories()):
            if paths:
                self._watcher.removePaths(paths)
        folder = settings_folder(self.model_name())
        if folder is None:
            return
        self._watcher.addPath(str(folder))
        if (folder / "t2vz.json").is_file():
            self._watcher.addPath(str(folder / "t2vz.json"))

    def _settings_touched(self, *_) -> None:
        self._watch_settings()
        self.settings_changed.emit()

    def fill(self) -> None:
        self.clear()
        if demo_model_present():
            self.addItem("Built-in demo model", "demo")
        for found in find_models():  # Hugging Face cache, then the user's Models folder
            label = found.name if found.kind == "hub cache" else f"{Path(found.name).name} (Models folder)"
            self.addItem(label, found.name)
        self.addItem("Open model folder/file...", OPEN_MODEL)
        self.setPlaceholderText("Choose a model...")
        self.setCurrentIndex(0 if self.count() > 1 else -1)  # never "Open..." by default

    def refresh(self) -> None:
        """Re-read the list (after the user dropped weights into the Models folder), keeping the
        current choice."""
        current = self.currentData()
        self.blockSignals(True)
        self.fill()
        if current and current != OPEN_MODEL:
            self.set_model(current)
        self.blockSignals(False)

    def names(self) -> list[str]:
        """Every model in the list, in its order."""
        return [self.itemData(i) for i in range(self.count()) if self.itemData(i) != OPEN_MODEL]

    def _chosen(self, index: int) -> None:
        if self.itemData(index) != OPEN_MODEL:
            return
        folder = QFileDialog.getExistingDirectory(self, "Open a diffusers model folder")
        if not folder:
            file, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint file", "", "Checkpoints (*.safetensors)")
            folder = file
        if folder:
            self.set_model(folder)
        else:
            self.setCurrentIndex(0 if self.count() > 1 else -1)

    def set_model(self, name: str) -> None:
        """Select a model by name or path, adding it to the list if new."""
        index = self.findData(name)
        if index < 0:
            label = Path(name).name if Path(name).exists() else name
            index = self.count() - 1  # before "Open..."
            self.insertItem(index, label, name)
        self.setCurrentIndex(index)

    def model_name(self) -> str | None:
        name = self.currentData()
        return None if name in (None, OPEN_MODEL) else name
