"""Preferences (Edit > Preferences...): choices kept in the window's QSettings across restarts.
Today one: "Show AI generation features". Off hides everything that generates (the Generate dock
with its queue, the Generate menu and toolbar buttons, Edit with..., Re-generate, Animate this
frame, Re-use settings, the model checks) for users who want only the editor (OpenShot's users
asked for it); import, timeline and export work as before."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QDockWidget, QLabel, QMenu, QVBoxLayout, QWidget

AI_KEY = "preferences/ai_features"
AI_DOCKS = ("generate-dock", "history-dock")  # History lists generated takes (window_takes.py)
AI_ACTIONS = ("generate", "cancel", "models", "models_folder", "first_run")  # in actions_by_name
AI_MENU_ITEMS = ("Edit with...", "Re-generate", "Animate this frame", "Re-use settings")  # context menus


def ai_features_on(settings) -> bool:
    return settings.value(AI_KEY, True, type=bool)


class PreferencesDialog(QDialog):
    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
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
        layout.addStretch(1)
        layout.addWidget(buttons)

    def accept(self) -> None:
        self.settings.setValue(AI_KEY, self.ai.isChecked())
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
