"""The export dialog: render the whole timeline, the In to Out range or the selected clips' span
to MP4/WebM/GIF/PNG frames on a background thread, with presets, progress and cancel."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
    QLineEdit, QProgressBar, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget,
)

from ..engine.interpolate import MAX_RATIO, output_count
from .project import Project
from .ranges import Span, describe, marked_span, selection_span
from .render import RenderCancelled, RenderOptions, render_timeline, stored_size

SUFFIX = {"mp4": ".mp4", "webm": ".webm", "gif": ".gif", "png": ""}
INTERPOLATED_RATES = (24.0, 30.0, 60.0)


def higher_rates(fps: float) -> list[float]:
    """The rates an export can interpolate a project of `fps` up to (above it, at most 16x)."""
    return [r for r in INTERPOLATED_RATES if fps < r <= MAX_RATIO * fps]
RANGES = {"whole": "Whole timeline", "in_out": "In to out", "selection": "Selected clips"}


@dataclass(frozen=True)
class Preset:
    name: str
    format: str
    crf: int
    scale: float  # of the project's size
    audio: bool = True


PRESETS = (
    Preset("Web (MP4, H.264)", "mp4", 23, 1.0),
    Preset("High quality (MP4)", "mp4", 14, 1.0),
    Preset("WebM (VP9)", "webm", 30, 1.0),
    Preset("GIF (half size)", "gif", 0, 0.5, audio=False),
    Preset("PNG sequence", "png", 0, 1.0, audio=False),
)


class ExportWorker(QObject):
    progress = Signal(int, int)
    finished = Signal(str)  # the written path
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.stop = False

    @Slot(object, str, object, object)
    def run(self, project: Project, out: str, options: RenderOptions, span: Span | None) -> None:
        try:
            render_timeline(project, out, options, self.progress.emit, lambda: self.stop, span)
        except RenderCancelled:
            self.cancelled.emit()
        except (OSError, ValueError) as e:  # MediaError is a ValueError: an unreadable source
            self.failed.emit(str(e))
        else:
            self.finished.emit(out)


class ExportDialog(QDialog):
    """`selected`: the ids of the timeline's selected clips when the dialog opened, for the
    "Selected clips" range."""

    _start = Signal(object, str, object, object)

    def __init__(self, project: Project, default_path: Path, parent: QWidget | None = None,
                 selected: Sequence[str] = ()):
        super().__init__(parent)
        self.setWindowTitle("Export video")
        self.project = project
        self.selected = tuple(selected)
        self.running = False
        # what to render: Premiere's habit, the In to Out range when one is marked, else everything
        self.range_buttons = {key: QRadioButton(label) for key, label in RANGES.items()}
        self._ranges = QButtonGroup(self)
        for button in self.range_buttons.values():
            self._ranges.addButton(button)
            button.toggled.connect(self._show_range)
        self.preset = QComboBox()
        self.preset.addItems([p.name for p in PRESETS])
        self.format = QComboBox()
        self.format.addItems(list(SUFFIX))
        self.path = QLineEdit(str(default_path))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box in (self.width_box, self.height_box):
            box.setRange(16, 8192)
            box.setSingleStep(2)
        self.crf = QSpinBox()
        self.crf.setRange(0, 63)
        self.crf.setToolTip("Quality for MP4/WebM: lower is better and larger")
        self.rate = QComboBox()
        self.rate.setToolTip("Above the project's rate the frames between are made by optical flow from the two "
                             "around them (no extra model); the project's own frames stay as they are")
        for fps in higher_rates(project.fps):
            self.rate.addItem(f"{fps:g} fps (interpolated)", fps)
        self.rate.insertItem(0, f"Project rate ({project.fps:g} fps)", None)
        self.rate.setCurrentIndex(0)
        self.rate.currentIndexChanged.connect(self._show_range)
        self.audio = QCheckBox("Include the audio of imported clips")
        self.progress = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)

        form = QFormLayout()
        ranges = QVBoxLayout()
        for button in self.range_buttons.values():
            ranges.addWidget(button)
        form.addRow("Range", ranges)
        form.addRow("Preset", self.preset)
        form.addRow("Format", self.format)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("x"))
        size.addWidget(self.height_box)
        form.addRow("Size", size)
        form.addRow("Frame rate", self.rate)
        form.addRow("Quality (CRF)", self.crf)
        form.addRow("", self.audio)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.cancel_button = self.buttons.addButton("Close", QDialogButtonBox.RejectRole)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.preset.currentIndexChanged.connect(self.apply_preset)
        self.format.currentTextChanged.connect(self._format_changed)
        self.apply_preset(0)
        self._offer_ranges()

        self.thread = QThread(self)
        self.worker = ExportWorker()
        self.worker.moveToThread(self.thread)
        self._start.connect(self.worker.run)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.thread.start()
        self.result: str | None = None
        self._size_note = ""

    def apply_preset(self, index: int) -> None:
        preset = PRESETS[index]
        self.format.setCurrentText(preset.format)
        self.width_box.setValue(max(16, round(self.project.width * preset.scale)))
        self.height_box.setValue(max(16, round(self.project.height * preset.scale)))
        if preset.crf:
            self.crf.setValue(preset.crf)
        self.audio.setChecked(preset.audio)

    def _format_changed(self, fmt: str) -> None:
        path = Path(self.path.text())
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        self.path.setText(str(path.with_name(stem + SUFFIX[fmt])))
        self.crf.setEnabled(fmt in ("mp4", "webm"))
        self.audio.setEnabled(fmt in ("mp4", "webm"))

    def _browse(self) -> None:
        fmt = self.format.currentText()
        if fmt == "png":
            chosen = QFileDialog.getExistingDirectory(self, "Folder for the PNG frames")
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), f"{fmt.upper()} (*{SUFFIX[fmt]})")
        if chosen:
            self.path.setText(chosen)

    def _spans(self) -> dict[str, Span | None]:
        """Each range choice's frames [first, last); None for one that is not available now."""
        p = self.project
        return {"whole": (0, p.duration), "in_out": marked_span(p), "selection": selection_span(p, self.selected)}

    def _offer_ranges(self) -> None:
        spans = self._spans()
        for key, button in self.range_buttons.items():
            button.setEnabled(spans[key] is not None)
            described = "" if spans[key] is None else f" ({describe(spans[key], self.project.fps)})"
            button.setText(RANGES[key] + described)
        self.range_buttons["in_out" if spans["in_out"] else "whole"].setChecked(True)
        self._show_range()

    def _show_range(self) -> None:
        if not self.running:  # while exporting the status says how it goes
            first, last = self.span() or (0, self.project.duration)
            fps = self.rate.currentData()
            if fps:
                made = output_count(last - first, self.project.fps, fps)
                self.status.setText(f"{made} frames at {fps:g} fps ({last - first} from the timeline, the rest interpolated)")
            else:
                self.status.setText(f"{last - first} frames at {self.project.fps:g} fps")

    def range_choice(self) -> str:
        return next((k for k, b in self.range_buttons.items() if b.isChecked()), "whole")

    def span(self) -> Span | None:
        """The frames [first, last) the export renders; None: the whole timeline (or a choice
        whose range is gone)."""
        key = self.range_choice()
        return None if key == "whole" else self._spans()[key]

    def options(self) -> RenderOptions:
        fmt = self.format.currentText()
        return RenderOptions(self.width_box.value(), self.height_box.value(), self.project.fps, fmt,
                             self.crf.value(), self.audio.isChecked() and fmt in ("mp4", "webm"), self.rate.currentData())

    def start(self) -> None:
        if self.running:
            return
        if self.range_choice() != "whole" and self.span() is None:  # the project changed under the dialog
            self.status.setText(f"Nothing to export: the {RANGES[self.range_choice()]} range is empty now.")
            return
        self.running, self.worker.stop, self.result = True, False, None
        self.export_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.status.setText("Exporting...")
        # the worker renders a copy, so edits made meanwhile cannot race with it
        options = self.options()
        self._size_note = size_note(options)
        self._start.emit(copy.deepcopy(self.project), self.path.text(), options, self.span())

    def cancel_or_close(self) -> None:
        if self.running:
            self.worker.stop = True
        else:
            self.reject()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _ended(self, text: str) -> None:
        self.running = False
        self.export_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.status.setText(text)

    def _finished(self, path: str) -> None:
        self.result = path
        self._ended(f"Exported {path}" + (f" ({self._size_note})" if self._size_note else ""))

    def _failed(self, message: str) -> None:
        self._ended(f"Export failed: {message}")

    def _cancelled(self) -> None:
        self.progress.setValue(0)
        self._ended("Export cancelled; nothing was written.")

    def done(self, result: int) -> None:
        self.worker.stop = True
        self.thread.quit()
        self.thread.wait(10_000)
        super().done(result)


def size_note(options: RenderOptions) -> str:
    """What the export does to a size the format cannot store ('' when nothing): render_timeline
    writes `stored_size`, which rounds odd sizes up for MP4 and WebM (it did so unsaid)."""
    w, h = options.width, options.height
    stored = stored_size(w, h, options.format)
    if stored == (w, h):
        return ""
    return f"{w}x{h} was written as {stored[0]}x{stored[1]}: {options.format.upper()} needs even sizes"
