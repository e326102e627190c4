"""The generation panel: what to make (prompt, model, size, motion...), and the job queue.

It builds plain GenerationRequest keyword arguments; the engine (and torch) are only imported
by the worker thread, so nothing here slows the window's start.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHeaderView, QLabel, QLineEdit,
    QPlainTextEdit, QPushButton, QToolButton, QVBoxLayout, QWidget,
)

from ..engine.camera import CameraKey, default_motion
from ..engine.model_settings import own_sampler, own_size
from ..engine.request import DEFAULT_SMOOTH, NOISY_SCHEDULERS, SCHEDULERS, GenerationRequest, PromptKey
from .model_picker import ModelPicker, demo_model_present  # noqa: F401 (re-exported)
from .panel_widgets import KeyTable, Section, float_box, guard_wheel, row_of, spin_box
from .preset_row import PresetRow
from .queue_view import QueueView
from .worker import Job

SPEED_LABELS = {"Automatic": "auto", "Exact": "exact", "Compiled": "compiled", "Fast (feature cache)": "cache",
                "Fast (token merging)": "merge", "Fastest (both)": "cache+merge"}  # request.SPEEDS, in words

CAMERA_COLUMNS = ("frame", "pan x", "pan y", "zoom", "rotate", "ease")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SEED = 2**31 - 1


class GenerationPanel(QWidget):
    generate_requested = Signal(dict)  # GenerationRequest keyword arguments
    cancel_requested = Signal()
    skip_requested = Signal()  # run the job without its first-time compilation
    camera_changed = Signal()  # the camera keys were edited: the monitor redraws the path

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the video, e.g. a red circle moving over a blue sea")
        self.prompt.setFixedHeight(64)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("Negative prompt (optional)")
        self.negative.setFixedHeight(40)

        self.model = ModelPicker()

        self.frames = spin_box(1, 1000, 8, "Number of frames")
        self.width_box = spin_box(0, 4096, 0, "Width in pixels (auto: the model's size)", step=8, special="auto")
        self.height_box = spin_box(0, 4096, 0, "Height in pixels (auto: the model's size)", step=8, special="auto")
        self.steps = spin_box(0, 1000, 0, "Denoising steps (auto: the model's default)", special="auto")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(-0.5, 50)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(-0.5)
        self.guidance.setSpecialValueText("auto")
        self.guidance.setToolTip("Classifier-free guidance scale; 1 or less turns it off")

        self.seed = spin_box(0, MAX_SEED, random.randrange(MAX_SEED), "Seed: the same seed and settings give the same video")
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setToolTip("Locked: every job uses this seed. Unlocked: a new random seed per job")
        dice = QToolButton()
        dice.setText("random")
        dice.setToolTip("Pick a random seed")
        dice.clicked.connect(self.randomize_seed)
        self.batch = spin_box(1, 16, 1, "Batch count: takes per job, take r with seed + r; more than one are shown "
                              "side by side to choose from, and all stay in History")

        self.motion_auto = QCheckBox("paper default")
        self.motion_auto.setChecked(True)
        self.dx = float_box(-512, 512, 4.0, "Pixels per frame to the right")
        self.dy = float_box(-512, 512, 0.0, "Pixels per frame down")
        self.motion_auto.toggled.connect(lambda on: (self.dx.setEnabled(not on), self.dy.setEnabled(not on)))
        self.dx.setEnabled(False)
        self.dy.setEnabled(False)
        # While "paper default" is ticked the greyed fields show the motion the job will use (they
        # showed 4, 0 while the demo model moved 1.5, 1.5), so unticking starts from it.
        for changed in (self.motion_auto.toggled, self.width_box.valueChanged, self.height_box.valueChanged,
                        self.model.currentIndexChanged):
            changed.connect(self._show_default_motion)
        self._show_default_motion()

        self.chunk = spin_box(0, 1024, 8, "Frames per UNet call: memory stays flat, the result is the same", special="all")
        self.scheduler = QComboBox()
        for name in (None, *SCHEDULERS):
            self.scheduler.addItem(name or "auto", name)
        self.scheduler.setToolTip("Sampler. auto: the model's own, DDIM for Stable Diffusion (the paper's) or the one "
                                  "a model's t2vz.json names (the demo model's)")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.speed = QComboBox()
        for label, speed in SPEED_LABELS.items():
            self.speed.addItem(label, speed)
        self.speed.setToolTip("Automatic: compiled on a CUDA GPU (the first video compiles, once per model), "
                              "exact elsewhere; both give the same pixels. The fast modes change them a little: the "
                              "feature cache reuses the UNet's deep features for 2 of every 3 steps but the last "
                              "fifth (DeepCache); "
                              "token merging merges similar tokens across frames in cross-frame attention")

        # -- consistency (the engine's options beyond the paper) --
        self.attention_window = spin_box(0, 16, 0, "Cross-frame attention also looks at this many earlier frames "
                                      "(1: sparse-causal); paper: every frame attends to frame 0", special="paper")
        self.noise_window = spin_box(0, 1000, 0, "Frames past this window reuse its noise, shuffled "
                                  "(steadier long videos); off: fresh noise", special="off")
        self.step_noise = QComboBox()
        for label, value in (("shared", "shared"), ("per frame", "frame")):
            self.step_noise.addItem(label, value)
        self.step_noise.setToolTip("Samplers that add noise at every step (euler-a, lcm, tcd): shared, every frame "
                                   "draws its anchor's (steadier frames), or per frame, each its own")
        for changed in (self.scheduler.currentIndexChanged, self.model.currentIndexChanged, self.model.settings_changed):
            changed.connect(self._offer_step_noise)
        self._offer_step_noise()
        self.background = float_box(0, 1, 0.0, "Background smoothing (paper section 3.3): blends the background "
                                 "toward frame 0; the paper uses about 0.6; off: 0")
        self.background.setSingleStep(0.1)
        self.background.setSpecialValueText("off")
        self.subject = QLineEdit()
        self.subject.setPlaceholderText("subject words (default: guessed from the prompt)")
        self.subject.setToolTip("Words of the prompt whose attention marks the foreground, e.g. 'horse'")
        self.subject_mask = QComboBox()
        self.subject_mask.addItems(["refined", "attention"])
        self.subject_mask.setToolTip("How background smoothing finds the foreground: refined (the subject's "
                                     "attention picks the object, frame 0's own latent draws its outline) or "
                                     "attention (the coarse attention map alone)")
        self.smooth = float_box(0, 1, DEFAULT_SMOOTH, "Flow-guided smoothing of the decoded frames (blends each frame "
                             f"with its motion-aligned neighbours against flicker), 0 (off) to 1; default {DEFAULT_SMOOTH:g}")
        self.smooth.setSingleStep(0.1)
        self.smooth.setSpecialValueText("off")
        consistency = QFormLayout()
        consistency.addRow("Attention window", self.attention_window)
        consistency.addRow("Noise window", self.noise_window)
        consistency.addRow("Step noise", self.step_noise)
        consistency.addRow("Background", self.background)
        consistency.addRow("Subject", self.subject)
        consistency.addRow("Subject mask", self.subject_mask)
        consistency.addRow("Post smoothing", self.smooth)
        box = QGroupBox()
        box.setLayout(consistency)
        self.consistency = Section("Consistency", box)

        # -- keyframes and a start image --
        self.camera_keys = KeyTable(CAMERA_COLUMNS, ["0", "0", "0", "1", "0", "linear"])
        self.camera_keys.setToolTip("Camera path: pan in output pixels (+x moves the content right), zoom > 1 "
                                    "zooms in, rotate in degrees; ease: linear or ease (smooth) to the next key")
        self.camera_keys.changed.connect(self.camera_changed)
        self.prompt_keys = KeyTable(("frame", "prompt"), ["0", ""])
        self.prompt_keys.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.prompt_keys.setToolTip("Prompt travel: from each frame on the video moves toward its prompt "
                                    "(frame 0 defaults to the main prompt)")
        self.init_image, start_row = self._image_field("none: text-to-video",
                                                       "Image-to-video: frame 0 is this image (PNG or JPEG)",
                                                       self.set_init_image, "Start image")
        self.end_image, end_row = self._image_field("none: the video ends where it goes",
                                                    "Image-to-video: the last frame is this image (needs a start image)",
                                                    self.set_end_image, "End image")
        keys = QVBoxLayout()
        keys.addWidget(QLabel("Camera keys"))
        keys.addWidget(self.camera_keys.with_buttons())
        keys.addWidget(QLabel("Prompt keys"))
        keys.addWidget(self.prompt_keys.with_buttons())
        keys.addWidget(QLabel("Start image"))
        keys.addWidget(start_row)
        keys.addWidget(QLabel("End image"))
        keys.addWidget(end_row)
        box = QGroupBox()
        box.setLayout(keys)
        self.keyframes = Section("Keyframes", box)

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
        self.skip_button = QPushButton("Skip optimising")
        self.skip_button.setToolTip("Run this video without compiling (the same pixels, slower); the next one "
                                    "compiles again")
        self.skip_button.clicked.connect(self.skip_requested)
        self.skip_button.hide()
        self.queue = QueueView()  # rows with thumbnail, progress, Retry; the window attaches the JobQueue
        self.queue.setMinimumHeight(120)
        self.queue.setMaximumHeight(190)

        self.presets = PresetRow(self)  # style presets and the LoRA table (preset_row.py)
        form = QFormLayout()
        form.addRow("Preset", self.presets)
        form.addRow("Model", self.model)
        form.addRow("LoRAs", self.presets.loras.with_buttons())
        form.addRow("Frames", self.frames)
        form.addRow("Size", row_of(self.width_box, QLabel("x"), self.height_box))
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", row_of(self.seed, dice, self.seed_lock))
        form.addRow("Batch count", self.batch)
        form.addRow("Motion", row_of(self.motion_auto, QLabel("dx"), self.dx, QLabel("dy"), self.dy))
        form.addRow("Chunk size", self.chunk)
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Device", self.device)
        form.addRow("Speed", self.speed)
        settings = QGroupBox("Settings")
        settings.setLayout(form)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative)
        layout.addWidget(settings)
        layout.addWidget(self.consistency)
        layout.addWidget(self.keyframes)
        # Not in the panel's layout: the window keeps it below the scrolling panel, always in view
        # (inside, at the default size it sat below the fold).
        self.buttons = row_of(self.generate_button, self.cancel_button, self.skip_button)
        layout.addWidget(self.message)
        layout.addWidget(QLabel("Queue"))
        layout.addWidget(self.queue)
        layout.addStretch(1)
        self._wheel_guard = guard_wheel(self)

    # -- model picker (model_picker.py, shared with Edit with...) ---------------------------------
    def refresh_models(self) -> None:
        self.model.refresh()

    def set_model(self, name: str) -> None:
        self.model.set_model(name)

    def _show_default_motion(self, *_) -> None:
        if not self.motion_auto.isChecked():
            return
        native = own_size(self.model_name())  # 64 demo, 512 SD 1.x, 1024 SDXL: the engine's "auto" size
        dx, dy = default_motion(self.width_box.value() or native, self.height_box.value() or native)
        self.dx.setValue(dx)
        self.dy.setValue(dy)

    def _offer_step_noise(self, *_) -> None:
        # A deterministic sampler (DDIM, DPM-Solver++) draws no step noise: the choice would
        # change nothing. "auto" is the model's own sampler, read from its t2vz.json.
        sampler = self.scheduler.currentData() or own_sampler(self.model_name())
        self.step_noise.setEnabled(sampler in NOISY_SCHEDULERS)

    def model_name(self) -> str | None:
        return self.model.model_name()

    # -- requests -----------------------------------------------------------------------------
    def randomize_seed(self) -> None:
        self.seed.setValue(random.randrange(MAX_SEED))

    def _image_field(self, placeholder: str, tip: str, setter, title: str) -> tuple[QLineEdit, QWidget]:
        """A path box with a browse button that hands the chosen file to `setter`."""
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setToolTip(tip)
        browse = QToolButton()
        browse.setText("...")
        browse.clicked.connect(lambda: self._choose_image(setter, title))
        return edit, row_of(edit, browse)

    def _choose_image(self, setter, title: str) -> None:
        file, _ = QFileDialog.getOpenFileName(self, title, "", "Images (*.png *.jpg *.jpeg *.webp)")
        if file:
            setter(file)

    def set_init_image(self, path: str | Path | None) -> None:
        self.init_image.setText("" if path is None else str(path))
        if path is not None:
            self.keyframes.set_expanded(True)

    def set_end_image(self, path: str | Path | None) -> None:
        self.end_image.setText("" if path is None else str(path))
        if path is not None:
            self.keyframes.set_expanded(True)

    def camera(self) -> list[CameraKey] | None:
        """The camera keys of the table (None: no camera path); ValueError names a bad cell."""
        keys = []
        for row, (frame, x, y, zoom, rotate, ease) in enumerate(self.camera_keys.rows(), 1):
            try:
                keys.append(CameraKey(int(frame), (float(x or 0), float(y or 0)), float(zoom or 1),
                                      float(rotate or 0), ease or "linear"))
            except ValueError:
                raise ValueError(f"camera key {row}: frame is a whole number, pan/zoom/rotate are numbers") from None
            if keys[-1].ease not in ("linear", "ease"):
                raise ValueError(f"camera key {row}: ease is linear or ease")
        return sorted(keys, key=lambda k: k.frame) or None

    def travel(self, prompt: str) -> list[PromptKey] | None:
        keys = {}
        for row, (frame, text) in enumerate(self.prompt_keys.rows(), 1):
            try:
                keys[int(frame)] = PromptKey(int(frame), text)
            except ValueError:
                raise ValueError(f"prompt key {row}: the frame is a whole number") from None
        if not keys:
            return None
        keys.setdefault(0, PromptKey(0, prompt))
        return [keys[f] for f in sorted(keys)]

    def fields(self, fps: float = 8.0) -> dict:
        """The request as GenerationRequest keyword arguments (validated by the engine); a
        malformed key table raises ValueError with a message for the user."""
        prompt = self.prompt.toPlainText().strip()
        travel = self.travel(prompt)
        return {
            "prompts": [travel[0].prompt if travel else prompt],
            "attention_window": self.attention_window.value(),
            "noise_window": self.noise_window.value(),
            "step_noise": self.step_noise.currentData(),
            "background_smoothing": round(self.background.value(), 3),
            "subject": self.subject.text().strip() or None,
            "subject_mask": self.subject_mask.currentText(),
            "smooth": round(self.smooth.value(), 3),
            "camera": self.camera(),
            "prompt_keys": travel,
            "init_image": self.init_image.text().strip() or None,
            "end_image": self.end_image.text().strip() or None,
            "negative_prompt": self.negative.toPlainText().strip(),
            "model": self.model_name() or "demo",
            "loras": self.presets.loras.loras(),
            "frames": self.frames.value(),
            "width": self.width_box.value() or None,
            "height": self.height_box.value() or None,
            "steps": self.steps.value() or None,
            "guidance": None if self.guidance.value() < 0 else self.guidance.value(),
            "seed": self.seed.value(),
            "videos_per_prompt": self.batch.value(),
            "motion": None if self.motion_auto.isChecked() else (self.dx.value(), self.dy.value()),
            "chunk_size": self.chunk.value(),
            "scheduler": self.scheduler.currentData(),
            "device": self.device.currentText(),
            "speed": self.speed.currentData(),
            "fps": fps,
        }

    def request_generation(self) -> None:
        if not self.prompt.toPlainText().strip():
            self.show_message("Write a prompt first.", error=True)
            return
        if self.model_name() is None:
            self.show_message("Pick a model first (the demo model is not installed).", error=True)
            return
        try:
            fields = self.fields()
        except ValueError as e:
            self.show_message(str(e), error=True)
            return
        if not self.seed_lock.isChecked():
            self.randomize_seed()
            fields["seed"] = self.seed.value()
        self.generate_requested.emit(fields)

    def apply_recipe(self, recipe: str, source: str = "the recipe") -> None:
        """Fill the panel from a generated clip's recipe ("Re-use settings"); RequestError (naming
        `source` and the field) for a malformed one, before anything changes. Consent fields such
        as allow_unsafe_pickle are not taken: generating asks the user (MainWindow.generate)."""
        self.set_fields(asdict(GenerationRequest.from_json(recipe, source)))
        self.seed_lock.setChecked(True)  # re-use means the same video: keep the seed

    def set_fields(self, r: dict) -> None:
        """Show the request fields in `r` (as asdict(GenerationRequest) gives them) and leave the
        others as they are: a recipe gives every field, a style preset only the ones it names."""
        setters = {  # in the dataclass's order: motion after the size, whose change re-fills dx/dy
            "prompts": lambda v: self.prompt.setPlainText(v[0]),
            "negative_prompt": self.negative.setPlainText,
            "model": self.set_model,
            "frames": self.frames.setValue,
            "width": lambda v: self.width_box.setValue(v or 0),
            "height": lambda v: self.height_box.setValue(v or 0),
            "steps": lambda v: self.steps.setValue(v or 0),
            "guidance": lambda v: self.guidance.setValue(-0.5 if v is None else v),
            "seed": lambda v: self.seed.setValue(min(v or 0, MAX_SEED)),
            "motion": self._set_motion,
            "chunk_size": self.chunk.setValue,
            "scheduler": lambda v: self.scheduler.setCurrentIndex(max(0, self.scheduler.findData(v))),
            "device": self.device.setCurrentText,
            "speed": lambda v: self.speed.setCurrentIndex(max(0, self.speed.findData(v or "auto"))),
            "attention_window": self.attention_window.setValue,
            "noise_window": self.noise_window.setValue,
            "step_noise": lambda v: self.step_noise.setCurrentIndex(max(0, self.step_noise.findData(v or "shared"))),
            "background_smoothing": self.background.setValue,
            "subject": lambda v: self.subject.setText(v or ""),
            "subject_mask": self.subject_mask.setCurrentText,
            "smooth": self.smooth.setValue,
            "camera": lambda v: self.camera_keys.set_rows(
                [[k["frame"], *k["pan"], k["zoom"], k["rotate"], k["ease"]] for k in v or []]),
            "prompt_keys": lambda v: self.prompt_keys.set_rows([[k["frame"], k["prompt"]] for k in v or []]),
            "init_image": self.set_init_image,
            "end_image": self.set_end_image,
            "loras": self.presets.loras.set_loras,
        }
        for name, setter in setters.items():
            if name in r:
                setter(r[name])
        self.consistency.set_expanded(self.consistency.expanded or self.smooth.value() != DEFAULT_SMOOTH
                                      or r.get("step_noise") == "frame" or any(
            r.get(k) for k in ("attention_window", "noise_window", "background_smoothing")))
        if r.get("camera") or r.get("prompt_keys") or r.get("init_image"):
            self.keyframes.set_expanded(True)

    def _set_motion(self, motion: tuple[float, float] | None) -> None:
        self.motion_auto.setChecked(motion is None)
        if motion is not None:
            self.dx.setValue(motion[0])
            self.dy.setValue(motion[1])

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #ff7b72;" if error else "")
        self.message.setText(text)

    # -- queue --------------------------------------------------------------------------------
    def show_job(self, job: Job) -> None:
        """Add or refresh a job's row in the queue view."""
        self.queue.show_job(job)

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
