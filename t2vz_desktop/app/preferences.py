"""Preferences (Edit > Preferences...): choices kept in the window's QSettings across restarts.

"Show AI generation features": off hides everything that generates (the Generate dock with its
queue, the Generate menu and toolbar buttons, Edit with..., Re-generate, Animate this frame,
Re-use settings, the model checks) for users who want only the editor (OpenShot's users asked
for it); import, timeline and export work as before.

"Render on": this computer, or a Ray cluster (engine/farm.py, docs/render-farm.md), with a Test
connection button; jobs queued afterwards denoise there.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDockWidget, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMenu,
    QPushButton, QVBoxLayout, QWidget,
)

AI_KEY = "preferences/ai_features"
AI_DOCKS = ("generate-dock", "history-dock")  # History lists generated takes (window_takes.py)
AI_ACTIONS = ("generate", "cancel", "models", "models_folder", "first_run")  # in actions_by_name
AI_MENU_ITEMS = ("Edit with...", "Re-generate", "Animate this frame", "Re-use settings")  # context menus
CLUSTER_KEY = "preferences/cluster"  # "" renders on this computer; else "auto" or HOST:PORT


def ai_features_on(settings) -> bool:
    return settings.value(AI_KEY, True, type=bool)


def render_cluster(settings) -> str | None:
    """Where new jobs denoise: None for this computer, else the cluster's address."""
    return settings.value(CLUSTER_KEY, "", type=str) or None


class _Answer(QObject):
    """Carries a connection test's one line from its thread to the dialog (a queued signal)."""

    ready = Signal(str, bool)  # the line, whether it connected


class PreferencesDialog(QDialog):
    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(480)  # room for a connection answer to wrap into a few lines
        self.settings = settings
        self.ai = QCheckBox("Show AI generation features")
        self.ai.setChecked(ai_features_on(settings))
        self.ai.setToolTip("Off: the Generate panel, its queue, Edit with... and Re-generate are hidden; "
                           "the editor (import, timeline, export) stays")
        note = QLabel("Off leaves an editor only: no Generate panel, job queue, Edit with... or Re-generate.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #a8aab0;")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.ai)
        layout.addWidget(note)
        layout.addLayout(self._render_on())
        layout.addStretch(1)
        layout.addWidget(buttons)

    def _render_on(self) -> QFormLayout:
        cluster = render_cluster(self.settings)
        self.where = QComboBox()
        self.where.addItems(["This computer", "A Ray cluster"])
        self.where.setCurrentIndex(0 if cluster is None else 1)
        self.address = QLineEdit(cluster or "auto")
        self.address.setPlaceholderText("auto, or the head's HOST:PORT")
        self.address.setToolTip("auto: the cluster `ray start --head` runs on this computer; else the head's address "
                                "(port 6379 by default). Needs Ray: pip install 't2vz-desktop[farm]'")
        self.test = QPushButton("Test connection")
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self._reply = _Answer()
        self._reply.ready.connect(self._show_answer)
        self.test.clicked.connect(self._test_connection)
        self.where.currentIndexChanged.connect(self._follow_choice)
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(self.test)
        form = QFormLayout()
        form.addRow("Render on", self.where)
        form.addRow("Cluster", row)
        form.addRow("", self.answer)
        self._follow_choice()
        return form

    def _follow_choice(self) -> None:
        on = self.where.currentIndex() == 1
        self.address.setEnabled(on)
        self.test.setEnabled(on)

    def _test_connection(self) -> None:
        """Connect in a thread (an unreachable head takes seconds) and say the answer in one line."""
        address = self.address.text().strip()
        self.test.setEnabled(False)
        self.answer.setStyleSheet("")
        self.answer.setText(f"Connecting to {address}...")

        def run() -> None:
            try:
                from ..engine.cluster import test_connection

                self._reply.ready.emit(test_connection(address), True)
            except Exception as e:  # noqa: BLE001 - any failure is the answer, in one line
                self._reply.ready.emit(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, False)

        threading.Thread(target=run, name="t2vz-test-connection", daemon=True).start()

    def _show_answer(self, line: str, ok: bool) -> None:
        self.answer.setText(line[0].upper() + line[1:])
        self.answer.setStyleSheet("" if ok else "color: #e06c6c;")
        self._follow_choice()
        self.adjustSize()  # a long answer wraps onto more lines: the dialog grows to show them

    def accept(self) -> None:
        cluster = ""
        if self.where.currentIndex() == 1:
            from ..engine.cluster import RequestError, parse_address

            cluster = self.address.text().strip()
            try:
                parse_address(cluster)
            except RequestError as e:
                self._show_answer(str(e), False)
                return
        self.settings.setValue(AI_KEY, self.ai.isChecked())
        self.settings.setValue(CLUSTER_KEY, cluster)
        self.settings.sync()
        super().accept()


def open_preferences(window) -> PreferencesDialog:
    """Edit > Preferences...: the window follows the choice when the dialog is accepted."""
    dialog = PreferencesDialog(window.settings, window)
    dialog.accepted.connect(lambda: show_ai_features(window, ai_features_on(window.settings)))
    dialog.open()
    return dialog


def apply_preferences(window) -> None:
    """At start, after the saved layout is restored (which would show the Generate dock again)."""
    if not ai_features_on(window.settings):
        show_ai_features(window, False)
    window.ai_features = ai_features_on(window.settings)


def show_ai_features(window, on: bool) -> None:
    """Show (on) or hide every generation control of `window`; a hidden action's shortcut is off
    too (Ctrl+Return must not queue a job the user cannot see)."""
    window.ai_features = on
    for name in AI_DOCKS:
        dock = window.findChild(QDockWidget, name)
        if dock is not None:
            dock.setVisible(on)
            dock.toggleViewAction().setVisible(on)  # View > Generate would bring it back
    for name in AI_ACTIONS:
        action = window.actions_by_name[name]
        action.setVisible(on)
        action.setEnabled(on)
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == "Generate":
            action.setVisible(on)
    for toggle in (window.monitor.show_camera, window.monitor.show_mask):  # they draw a generation's path and mask
        toggle.setVisible(on)
    window.timeline.show_lanes = on
    window.timeline.update()
    window.show_playhead()  # the empty monitor's hint names the Generate panel only when it shows
    # Jobs already queued run on and land on the timeline: turning the switch off loses no work.


def hide_ai_items(window, menu: QMenu) -> QMenu:
    """`menu` (a context menu) without its generation items while AI features are off."""
    if not getattr(window, "ai_features", True):
        for action in menu.actions():
            if action.text() in AI_MENU_ITEMS:
                action.setVisible(False)
    return menu
