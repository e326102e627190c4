"""The generation panel: what to make (prompt, model, size, motion...), and the job queue.

It builds plain GenerationRequest keyword arguments; the engine (and torch) are only imported
by the worker thread, so nothing here slows the window's start.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
    QLabel, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QSpinBox, QToolButton,
    QVBoxLayout, QWidget,
)

from ..engine.paths import resources_dir
from ..engine.request import SCHEDULERS
from .sysinfo import hub_cache_models
from .worker import Job
DEVICES = ("auto", "cpu", "cuda", "mps")
OPEN_MODEL = "__open__"
MAX_SEED = 2**31 - 1


def demo_model_present() -> bool:
    return (resources_dir() / "models" / "demo" / "model_index.json").is_file()


class GenerationPanel(QWidget):
    generate_requested = Signal(dict)  # GenerationRequest keyword arguments
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the video, e.g. a red circle moving over a blue sea")
        self.prompt.setFixedHeight(64)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("Negative prompt (optional)")
        self.negative.setFixedHeight(40)

        self.model = QComboBox()
        self.model.setToolTip("Built-in demo model, a model from the local Hugging Face cache, or a file/folder")
        self._fill_models()
        self.model.activated.connect(self._model_chosen)

        self.frames = _spin(1, 1000, 8, "Number of frames")
        self.width_box = _spin(0, 4096, 0, "Width in pixels (auto: the model's size)", step=8, special="auto")
        self.height_box = _spin(0, 4096, 0, "Height in pixels (auto: the model's size)", step=8, special="auto")
        self.steps = _spin(0, 1000, 0, "Denoising steps (auto: the model's default)", special="auto")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(-0.5, 50)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(-0.5)
        self.guidance.setSpecialValueText("auto")
        self.guidance.setToolTip("Classifier-free guidance scale; 1 or less turns it off")

        self.seed = _spin(0, MAX_SEED, random.randrange(MAX_SEED), "Seed: the same seed and settings give the same video")
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setToolTip("Locked: every job uses this seed. Unlocked: a new random seed per job")
        dice = QToolButton()
        dice.setText("random")
        dice.setToolTip("Pick a random seed")
        dice.clicked.connect(self.randomize_seed)

        self.motion_auto = QCheckBox("paper default")
        self.motion_auto.setChecked(True)
        self.dx = _dspin(-512, 512, 4.0, "Pixels per frame to the right")
        self.dy = _dspin(-512, 512, 0.0, "Pixels per frame down")
        self.motion_auto.toggled.connect(lambda on: (self.dx.setEnabled(not on), self.dy.setEnabled(not on)))
        self.dx.setEnabled(False)
        self.dy.setEnabled(False)

        self.chunk = _spin(0, 1024, 8, "Frames per UNet call: memory stays flat, the result is the same", special="all")
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULERS)
        self.device = QComboBox()
        self.device.addItems(DEVICES)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate")
        self.generate_button.setToolTip("Add a job to the queue (Ctrl+Return)")
        self.generate_button.clicked.connect(self.request_generation)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job and drop the queued ones")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.setEnabled(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.queue = QListWidget()
        self.queue.setMaximumHeight(110)

        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Frames", self.frames)
        form.addRow("Size", _row(self.width_box, QLabel("x"), self.height_box))
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", _row(self.seed, dice, self.seed_lock))
        form.addRow("Motion", _row(self.motion_auto, QLabel("dx"), self.dx, QLabel("dy"), self.dy))
        form.addRow("Chunk size", self.chunk)
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Device", self.device)
        settings = QGroupBox("Settings")
        settings.setLayout(form)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative)
        layout.addWidget(settings)
        layout.addWidget(_row(self.generate_button, self.cancel_button))
        layout.addWidget(self.message)
        layout.addWidget(QLabel("Queue"))
        layout.addWidget(self.queue)
        layout.addStretch(1)

    # -- model picker -------------------------------------------------------------------------
    def _fill_models(self) -> None:
        self.model.clear()
        if demo_model_present():
            self.model.addItem("Built-in demo model", "demo")
        for hub_id in hub_cache_models():
            self.model.addItem(hub_id, hub_id)
        self.model.addItem("Open model folder/file...", OPEN_MODEL)
        self.model.setPlaceholderText("Choose a model...")
        self.model.setCurrentIndex(0 if self.model.count() > 1 else -1)  # never "Open..." by default

    def _model_chosen(self, index: int) -> None:
        if self.model.itemData(index) != OPEN_MODEL:
            return
        folder = QFileDialog.getExistingDirectory(self, "Open a diffusers model folder")
        if not folder:
            file, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint file", "", "Checkpoints (*.safetensors)")
            folder = file
        if folder:
            self.set_model(folder)
        else:
            self.model.setCurrentIndex(0 if self.model.count() > 1 else -1)

    def set_model(self, name: str) -> None:
        """Select a model by name or path, adding it to the list if new."""
        index = self.model.findData(name)
        if index < 0:
            label = Path(name).name if Path(name).exists() else name
            index = self.model.count() - 1  # before "Open..."
            self.model.insertItem(index, label, name)
        self.model.setCurrentIndex(index)

    def model_name(self) -> str | None:
        name = self.model.currentData()
        return None if name in (None, OPEN_MODEL) else name

    # -- requests -----------------------------------------------------------------------------
    def randomize_seed(self) -> None:
        self.seed.setValue(random.randrange(MAX_SEED))

    def fields(self, fps: float = 8.0) -> dict:
        """The request as GenerationRequest keyword arguments (validated by the engine)."""
        return {
            "prompts": [self.prompt.toPlainText().strip()],
            "negative_prompt": self.negative.toPlainText().strip(),
            "model": self.model_name() or "demo",
            "frames": self.frames.value(),
            "width": self.width_box.value() or None,
            "height": self.height_box.value() or None,
            "steps": self.steps.value() or None,
            "guidance": None if self.guidance.value() < 0 else self.guidance.value(),
            "seed": self.seed.value(),
            "motion": None if self.motion_auto.isChecked() else (self.dx.value(), self.dy.value()),
            "chunk_size": self.chunk.value(),
            "scheduler": self.scheduler.currentText(),
            "device": self.device.currentText(),
            "fps": fps,
        }

    def request_generation(self) -> None:
        if not self.prompt.toPlainText().strip():
            self.show_message("Write a prompt first.", error=True)
            return
        if self.model_name() is None:
            self.show_message("Pick a model first (the demo model is not installed).", error=True)
            return
        if not self.seed_lock.isChecked():
            self.randomize_seed()
        self.generate_requested.emit(self.fields())

    def apply_recipe(self, recipe: str) -> None:
        """Fill the panel from a generated clip's recipe ("Re-use settings")."""
        r = json.loads(recipe)
        self.prompt.setPlainText(r["prompts"][0])
        self.negative.setPlainText(r.get("negative_prompt", ""))
        self.set_model(r["model"])
        self.frames.setValue(r["frames"])
        self.width_box.setValue(r.get("width") or 0)
        self.height_box.setValue(r.get("height") or 0)
        self.steps.setValue(r.get("steps") or 0)
        self.guidance.setValue(-0.5 if r.get("guidance") is None else r["guidance"])
        self.seed.setValue(min(r.get("seed") or 0, MAX_SEED))
        self.seed_lock.setChecked(True)  # re-use means the same video: keep the seed
        motion = r.get("motion")
        self.motion_auto.setChecked(motion is None)
        if motion is not None:
            self.dx.setValue(motion[0])
            self.dy.setValue(motion[1])
        self.chunk.setValue(r.get("chunk_size", 8))
        self.scheduler.setCurrentText(r.get("scheduler", "ddim"))
        self.device.setCurrentText(r.get("device", "auto"))

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #ff7b72;" if error else "")
        self.message.setText(text)

    # -- queue --------------------------------------------------------------------------------
    def show_job(self, job: Job) -> None:
        """Add or refresh a job's line in the queue list."""
        for i in range(self.queue.count()):
            item = self.queue.item(i)
            if item.data(Qt.UserRole) == job.id:
                break
        else:
            item = QListWidgetItem()
            item.setData(Qt.UserRole, job.id)
            self.queue.insertItem(0, item)
        item.setText(f"[{job.state}] {job.title[:48]}")

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)


def _spin(lo: int, hi: int, value: int, tip: str, step: int = 1, special: str | None = None) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    if special:
        box.setSpecialValueText(special)
    return box


def _dspin(lo: float, hi: float, value: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return row
