"""'Edit with...': video-to-video on a timeline clip. Choose a mode (ControlNet canny, pose or
depth, or an Instruct-Pix2Pix instruction) and its options, look at a few condition frames beside
the source frames, and queue a GenerationRequest with `edit=EditSpec(...)`.

The condition preview runs on a background thread (pose and depth run models) and comes back
through a queued signal; nothing here runs torch on the GUI thread. The model picker is the
Generate panel's (model_picker.py); its default is a model that can run the chosen mode, found by
the engine's own check (engine/control.py check_edit_model), which reads configuration files only.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox,
    QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QToolButton, QVBoxLayout, QWidget,
)

from ..engine.request import (
    DEFAULT_CONTROLNETS, DEFAULT_FLOW_GUIDANCE, DEFAULT_MODEL, INSTRUCT_MODEL, ControlSpec, EditSpec,
)
from .images import thumbnail
from .model_picker import ModelPicker
from .panel_widgets import float_box, row_of, spin_box
from ..engine.system import hub_cache_dir

MODES = ("canny", "pose", "depth", "pix2pix")
PREVIEW_FRAMES = 4
PREVIEW_SIZE = 96
MEDIAPIPE_HINT = "bash tools/install_pose.sh"


@dataclass
class EditSource:
    """What is being edited: a video file and the stretch of it the timeline clip uses."""

    path: str
    name: str
    frames: int  # source frames in the file
    fps: float
    start: int = 0  # source frame range [start, end)
    end: int | None = None
    clip_id: str = ""  # the timeline clip; the result lands on the track above it
    project_fps: float | None = None  # resample to the timeline's rate when it differs


@dataclass
class PreviewResult:
    token: int
    source: list[np.ndarray]
    condition: list[np.ndarray]
    error: str = ""


class ConditionPreviewer(QObject):
    """A few evenly spaced source frames and their condition images, made on a daemon thread
    (a closed dialog never waits for it, nor is torn down under it); `done` is delivered on the
    GUI thread."""

    done = Signal(object)  # PreviewResult

    def start(self, *args) -> None:
        threading.Thread(target=self.run, args=args, name="t2vz-condition-preview", daemon=True).start()

    def run(self, token: int, path: str, mode: str, start: int, end: int, fit: str, low: int, high: int) -> None:
        try:
            self.done.emit(PreviewResult(token, *self._frames(path, mode, start, end or None, fit, low, high)))
        except Exception as e:  # noqa: BLE001 - shown in the dialog, never a crash
            self.done.emit(PreviewResult(token, [], [], str(e)))

    @staticmethod
    def _frames(path, mode, start, end, fit, low, high) -> tuple[list[np.ndarray], list[np.ndarray]]:
        from ..conditions import condition_frames, open_source
        from ..conditions.source import SourceSpec

        clip = open_source(SourceSpec(path, start, end, fit=fit, short_side=256))
        picks = set(np.linspace(0, clip.frames - 1, min(PREVIEW_FRAMES, clip.frames)).round().astype(int).tolist())
        source = _pick(clip.iter_frames(), picks)
        if mode == "pix2pix":
            return source, []
        options = {"canny": {"low": low, "high": high}}.get(mode, {})
        return source, _pick(condition_frames(mode, clip, **options), picks)


def _pick(frames, picks: set[int]) -> list[np.ndarray]:
    out = []
    for i, frame in enumerate(frames):
        if i in picks:
            out.append(frame)
        if len(out) == len(picks):
            break
    close = getattr(frames, "close", None)
    if close:
        close()
    return out


class EditDialog(QDialog):
    """The options of one edit; `request_fields()` gives the GenerationRequest keyword arguments."""

    def __init__(self, source: EditSource, model: str | None = None, seed: int = 0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Edit with... - {source.name}")
        self.source = source
        self.base_model = model
        self.message = ""  # why the last request was refused, for the user
        self.hint = ""  # what to fetch when no model here can run the mode
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("canny / pose / depth: a ControlNet follows the source's edges, skeleton or depth;\n"
                             "pix2pix: Instruct-Pix2Pix applies the prompt as an instruction")
        self.prompt = QPlainTextEdit()
        self.prompt.setFixedHeight(56)
        self.controlnet = QLineEdit()
        self.controlnet.setToolTip("ControlNet weights: a diffusers folder, a .safetensors file or a hub id "
                                   "in the local cache; empty: the default for the mode")
        pick_folder, pick_file = QToolButton(), QToolButton()
        pick_folder.setText("folder...")
        pick_file.setText("file...")
        self.controlnet.setMinimumWidth(250)
        pick_folder.clicked.connect(self._choose_folder)
        pick_file.clicked.connect(self._choose_file)
        self.scale = float_box(0, 5, 1.0, "ControlNet strength")
        self.scale.setSingleStep(0.1)
        self.low = spin_box(0, 255, 100, "Canny low threshold")
        self.high = spin_box(1, 255, 200, "Canny high threshold")
        self.image_guidance = float_box(0, 20, 1.5, "Image guidance: how closely pix2pix follows the source frame")
        self.image_guidance.setSingleStep(0.1)
        self.model = ModelPicker()
        self.model.setToolTip("The Stable Diffusion model the ControlNet steers (pix2pix: an Instruct-Pix2Pix "
                              "model); chosen for you when the mode changes if the current one cannot run it")
        limit = max(source.frames, 1)
        self.start = spin_box(0, limit - 1, min(source.start, limit - 1), "First source frame (from the clip's in point)")
        self.end = spin_box(1, limit, min(source.end or limit, limit), "One past the last source frame (the clip's out point)")
        self.fit = QComboBox()
        self.fit.addItems(("crop", "pad"))
        self.fit.setToolTip("How the source meets the output size: centre-crop or letterbox")
        self.flow = float_box(0, 1, DEFAULT_FLOW_GUIDANCE, "Follow the source's motion: carry each frame's picture "
                              "along the source's optical flow while it forms, so moving objects stay where the source "
                              "has them (0: off, the paper's method)")
        self.flow.setSingleStep(0.1)
        self.keep_audio = QCheckBox("keep the source's sound")
        self.keep_audio.setChecked(True)
        self.steps = spin_box(0, 1000, 0, "Denoising steps (auto: 20 for ControlNet, 50 for pix2pix)", special="auto")
        self.width_box = spin_box(0, 4096, 0, "Width (auto: from the source, short side the model's size)", 8, "auto")
        self.height_box = spin_box(0, 4096, 0, "Height (auto)", 8, "auto")
        self.seed = spin_box(0, 2**31 - 1, seed, "Seed")

        form = QFormLayout()
        form.addRow("Mode", self.mode)
        self.prompt_label = QLabel("Prompt")
        form.addRow(self.prompt_label, self.prompt)
        self.net_row = row_of(self.controlnet, pick_folder, pick_file)
        form.addRow("ControlNet", self.net_row)
        form.addRow("Control scale", self.scale)
        self.canny_row = row_of(QLabel("low"), self.low, QLabel("high"), self.high)
        form.addRow("Canny", self.canny_row)
        form.addRow("Image guidance", self.image_guidance)
        form.addRow("Model", self.model)
        form.addRow("Frames", row_of(self.start, QLabel("to"), self.end))
        form.addRow("Fit", self.fit)
        form.addRow("Follow motion", self.flow)
        form.addRow("Audio", self.keep_audio)
        form.addRow("Steps", self.steps)
        form.addRow("Size", row_of(self.width_box, QLabel("x"), self.height_box))
        form.addRow("Seed", self.seed)
        self.form = form

        self.preview_button = QPushButton("Preview conditions")
        self.preview_button.clicked.connect(self.preview_conditions)
        self.preview_status = QLabel("Source frames (top) and what the ControlNet sees (bottom).")
        self.preview_status.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self.cells: list[list[QLabel]] = []
        for row, title in enumerate(("source", "condition")):
            label = QLabel(title)
            label.setStyleSheet("color: #a8aab0;")
            self.grid.addWidget(label, row, 0)
            cells = []
            for col in range(PREVIEW_FRAMES):
                cell = QLabel()
                cell.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE * 3 // 4)
                cell.setStyleSheet("background: black;")
                cell.setAlignment(Qt.AlignCenter)
                self.grid.addWidget(cell, row, col + 1)
                cells.append(cell)
            self.cells.append(cells)
        preview = QGroupBox("Preview")
        pv = QVBoxLayout(preview)
        pv.addLayout(self.grid)
        pv.addWidget(self.preview_status)
        pv.addWidget(self.preview_button, 0, Qt.AlignLeft)
        pv.addStretch(1)

        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff7b72;")
        # Room for three lines from the start: a message appearing must not move the fields the
        # user is about to click (the rows jumped up by a line each time).
        self.error.setMinimumHeight(3 * self.error.fontMetrics().lineSpacing())
        self.error.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.generate_button = buttons.addButton("Generate", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        columns = QHBoxLayout()
        columns.addLayout(form, 1)
        columns.addWidget(preview)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.source_frames: list[np.ndarray] = []
        self.condition_images: list[np.ndarray] = []
        self._token = 0
        self._previewer = ConditionPreviewer()  # no parent: it outlives the dialog if a preview still runs
        self._previewer.done.connect(self._show_preview)
        if model:
            self.model.set_model(model)  # the Generate panel's model, if it can run the mode
        self.mode.currentTextChanged.connect(self._mode_changed)
        self.controlnet.textChanged.connect(self.pick_model)
        self.model.currentIndexChanged.connect(self._show_default_net)
        self._mode_changed(self.mode.currentText())

    # -- options ------------------------------------------------------------------------------
    def _mode_changed(self, mode: str) -> None:
        instruct = mode == "pix2pix"
        for widget in (self.net_row, self.scale):
            self.form.setRowVisible(widget, not instruct)
        self.form.setRowVisible(self.canny_row, mode == "canny")
        self.form.setRowVisible(self.image_guidance, instruct)
        self.prompt_label.setText("Instruction" if instruct else "Prompt")
        self.prompt.setPlaceholderText("e.g. make it snowy" if instruct else "e.g. an astronaut dancing on the moon")
        self.pick_model()
        self._show_default_net()

    def _show_default_net(self, *_) -> None:
        """The ControlNet used when the field is left empty: the mode's, for the chosen model's family."""
        mode = self.mode.currentText()
        self.controlnet.setPlaceholderText("" if mode == "pix2pix" else _mode_controlnet(mode, self.model.model_name()))

    def pick_model(self, *_) -> None:
        """Keep the chosen model if it can run the mode, else choose the first that can (the
        panel's, then the picker's list); with none, choose nothing and say what to fetch: a model
        filled in only to fail after the load is worse than an empty choice."""
        mode, net = self.mode.currentText(), self.controlnet.text().strip() or None
        names = dict.fromkeys(n for n in (self.model.model_name(), self.base_model, *self.model.names()) if n)
        fitting = next((n for n in names if not _model_misfit(mode, net, n)), None)
        if fitting is not None:
            self.model.set_model(fitting)
            self.hint = ""
            self.error.setText("")
            return
        self.model.setCurrentIndex(-1)
        if mode == "pix2pix":
            hint = (f"No model here can run pix2pix: fetch {INSTRUCT_MODEL} (t2vz models download {INSTRUCT_MODEL}) or "
                    "open an Instruct-Pix2Pix folder with Open model folder/file... in the Model list.")
        else:
            missing = self._net_problem()
            hint = (f"{missing} It steers a Stable Diffusion 1.5 model such as {DEFAULT_MODEL}." if missing else
                    f"No model here fits this ControlNet: fetch {DEFAULT_MODEL} (t2vz models download {DEFAULT_MODEL}) "
                    "or open the model it was made for.")
        self.hint = hint  # problem() gives it while no model is chosen
        self.error.setText(hint)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "ControlNet weights folder")
        if folder:
            self.controlnet.setText(folder)

    def _choose_file(self) -> None:
        file, _ = QFileDialog.getOpenFileName(self, "ControlNet weights", "", "Weights (*.safetensors)")
        if file:
            self.controlnet.setText(file)

    def problem(self) -> str:
        """Why this edit cannot run on this machine, in words a user can act on ('' if it can)."""
        mode = self.mode.currentText()
        if not self.prompt.toPlainText().strip():
            return "Write the instruction first." if mode == "pix2pix" else "Write a prompt first."
        missing = "" if mode == "pix2pix" else self._net_problem()
        if missing:
            return missing
        if mode == "pose" and importlib.util.find_spec("mediapipe") is None:
            return f"Pose needs MediaPipe, an optional install: {MEDIAPIPE_HINT}"
        if mode == "canny" and self.low.value() >= self.high.value():
            return "The Canny low threshold must be below the high one."
        if self.model.model_name() is None:
            return self.hint or "Choose the model to edit with."
        return _model_misfit(mode, self.controlnet.text().strip() or None, self.model.model_name())

    def _net_problem(self) -> str:
        """Why the ControlNet weights of this mode cannot be found ('' if they can)."""
        mode, net = self.mode.currentText(), self.controlnet.text().strip()
        if net:
            looks_local = "/" not in net or Path(net).expanduser().is_absolute() or net.startswith(".")
            if looks_local and not Path(net).expanduser().exists():
                return f"The ControlNet weights {net} do not exist: choose a folder or a .safetensors file."
        elif not _net_present(default := _mode_controlnet(mode, self.model.model_name())):
            return (f"No ControlNet weights for {mode}: {default} is not in the local Hugging "
                    "Face cache. Choose a ControlNet folder or .safetensors file, or download that model first.")
        return ""

    def edit_spec(self) -> EditSpec:
        mode, s = self.mode.currentText(), self.source
        instruct = mode == "pix2pix"
        controls = [] if instruct else [ControlSpec(mode, self.controlnet.text().strip() or None, round(self.scale.value(), 3))]
        fps = s.project_fps if s.project_fps and abs(s.project_fps - s.fps) > 1e-6 else None
        end = self.end.value()
        return EditSpec(
            source=s.path, controls=controls, instruct=instruct, image_guidance=round(self.image_guidance.value(), 3),
            start=self.start.value(), end=None if end >= s.frames else end, fps=fps, fit=self.fit.currentText(),
            canny_low=self.low.value(), canny_high=self.high.value(), keep_audio=self.keep_audio.isChecked(),
            flow_guidance=round(self.flow.value(), 3),
        )

    def request_fields(self) -> dict:
        """GenerationRequest keyword arguments for this edit (frames, size and fps follow the source)."""
        return {
            "prompts": [self.prompt.toPlainText().strip()],
            "model": self.model.model_name(),
            "steps": self.steps.value() or None,
            "width": self.width_box.value() or None,
            "height": self.height_box.value() or None,
            "seed": self.seed.value(),
            "edit": self.edit_spec(),
        }

    def accept(self) -> None:
        self.message = self.problem()
        if self.message:
            self.error.setText(self.message)
            return
        super().accept()

    # -- condition preview --------------------------------------------------------------------
    def preview_conditions(self) -> None:
        """Ask the preview thread for a few frames; the newest request wins."""
        mode = self.mode.currentText()
        if mode == "pose" and importlib.util.find_spec("mediapipe") is None:
            self.preview_status.setText(f"Pose needs MediaPipe, an optional install: {MEDIAPIPE_HINT}")
            return
        self._token += 1
        self.preview_status.setText("Computing conditions...")
        end = self.end.value()
        self._previewer.start(self._token, self.source.path, mode, self.start.value(),
                           0 if end >= self.source.frames else end, self.fit.currentText(),
                           self.low.value(), self.high.value())

    def _show_preview(self, result: PreviewResult) -> None:
        if result.token != self._token:
            return  # an older request: the options changed since
        if result.error:
            self.preview_status.setText(f"No preview: {result.error}")
            return
        self.source_frames, self.condition_images = result.source, result.condition
        for row, frames in enumerate((result.source, result.condition)):
            for col, cell in enumerate(self.cells[row]):
                if col < len(frames):
                    cell.setPixmap(thumbnail(frames[col], cell.width(), cell.height()))
                else:
                    cell.clear()
        mode = self.mode.currentText()
        self.preview_status.setText("pix2pix edits the source frames directly (no condition)." if mode == "pix2pix"
                                    else f"{len(result.source)} of the source frames and their {mode} condition.")


def _mode_controlnet(mode: str, model: str | None) -> str:
    """The ControlNet the engine takes for `mode` with `model` (an SDXL one for an SDXL model)."""
    from ..engine.control import mode_controlnet
    from ..engine.models import ModelError

    try:
        return mode_controlnet(mode, model) if model else DEFAULT_CONTROLNETS[mode]
    except ModelError:  # a model that cannot be read: its own check says why
        return DEFAULT_CONTROLNETS[mode]


def _model_misfit(mode: str, net: str | None, model: str) -> str:
    """Why `model` cannot run this edit mode with this ControlNet (None: the mode's default) ('' if
    it can, or if the engine's loader will say what else is wrong): the engine's own check, so the
    dialog and the CLI agree. It reads configuration files; the engine (and torch) is imported
    here the first time, as the job that follows would."""
    from ..engine.control import check_edit_model
    from ..engine.models import ModelError

    try:
        check_edit_model(mode, model, net)
    except ModelError as e:  # not a ControlNet, another model family, an unreadable file
        text = str(e)
        return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
    return ""


def _net_present(name: str) -> bool:
    """Whether a default ControlNet is here: the demo model's own folder (an absolute path, which
    engine.control.demo_controlnet gives only once it has found the folder whole) or a hub id in the cache."""
    return Path(name).is_absolute() or _hub_cached(name)


def _hub_cached(hub_id: str) -> bool:
    """Whether a hub model (any kind: a ControlNet has no model_index.json) is in the local cache."""
    folder = hub_cache_dir() / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    return folder.is_dir() and any((snap / "config.json").exists() for snap in folder.glob("*"))

