"""One dark theme for every widget: Fusion style, a dark palette, and a few style-sheet touches."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = QColor(37, 38, 41)
PANEL = QColor(45, 46, 50)
BASE = QColor(28, 29, 31)
TEXT = QColor(222, 222, 224)
MUTED = QColor(140, 142, 148)
ACCENT = QColor(62, 136, 224)
CLIP = QColor(58, 108, 160)
GENERATED_CLIP = QColor(122, 86, 170)
AUDIO_CLIP = QColor(56, 128, 96)
PLAYHEAD = QColor(232, 72, 64)

STYLE = """
QToolBar { border: none; spacing: 2px; padding: 2px; }
QDockWidget::title { background: #2d2e32; padding: 4px 6px; }
QStatusBar QLabel { color: #a8aab0; padding: 0 8px; }
QGroupBox { border: 1px solid #3a3b40; border-radius: 4px; margin-top: 10px; padding-top: 4px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; color: #a8aab0; }
QPushButton#generate { background: #3e88e0; color: white; font-weight: bold; padding: 6px; border-radius: 4px; }
QPushButton#generate:hover { background: #4f98f0; }
QListWidget { border: 1px solid #3a3b40; }
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    for role, color in (
        (QPalette.Window, BACKGROUND), (QPalette.WindowText, TEXT), (QPalette.Base, BASE),
        (QPalette.AlternateBase, PANEL), (QPalette.ToolTipBase, PANEL), (QPalette.ToolTipText, TEXT),
        (QPalette.Text, TEXT), (QPalette.Button, PANEL), (QPalette.ButtonText, TEXT),
        (QPalette.BrightText, QColor(255, 90, 90)), (QPalette.Highlight, ACCENT),
        (QPalette.HighlightedText, QColor(255, 255, 255)), (QPalette.Link, ACCENT),
        (QPalette.PlaceholderText, MUTED),
    ):
        p.setColor(role, color)
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, MUTED)
    app.setPalette(p)
    app.setStyleSheet(STYLE)
