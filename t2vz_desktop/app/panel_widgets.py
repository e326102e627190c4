"""The generation panel's building blocks: sections that fold, keyframe tables, spin boxes and
rows of widgets."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QAbstractSpinBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QSpinBox,
    QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout, QWidget,
)


class Section(QWidget):
    """A titled group that folds away: a toggle button over its content (collapsed by default)."""

    def __init__(self, title: str, content: QWidget, expanded: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.button = QToolButton()
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.button.toggled.connect(self.set_expanded)
        self.content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.button)
        layout.addWidget(content)
        self.button.setChecked(expanded)
        self.set_expanded(expanded)

    def set_expanded(self, on: bool) -> None:
        self.button.setChecked(on)
        self.button.setArrowType(Qt.DownArrow if on else Qt.RightArrow)
        self.button.setText(self.title)
        self.content.setVisible(on)

    @property
    def expanded(self) -> bool:
        return self.button.isChecked()


class KeyTable(QTableWidget):
    """Rows of keyframes, edited in place; + adds a row after the last key, - removes the selection."""

    changed = Signal()

    def __init__(self, columns: tuple[str, ...], defaults: list[str], parent: QWidget | None = None):
        super().__init__(0, len(columns), parent)
        self.defaults = defaults
        self.setHorizontalHeaderLabels(list(columns))
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setMinimumHeight(96)
        self.setMaximumHeight(130)
        self.itemChanged.connect(lambda _: self.changed.emit())

    def add_row(self, values: list | None = None) -> None:
        if values is None:
            last = self.row_values(self.rowCount() - 1) if self.rowCount() else None
            values = list(self.defaults)
            if last:
                values[0] = str(int(float(last[0] or 0)) + 8)
        self.blockSignals(True)
        row = self.rowCount()
        self.insertRow(row)
        for col, value in enumerate(values):
            self.setItem(row, col, QTableWidgetItem(_text(value)))
        self.blockSignals(False)
        self.changed.emit()

    def remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.selectedIndexes()}, reverse=True):
            self.removeRow(row)
        self.changed.emit()

    def set_rows(self, rows: list[list]) -> None:
        self.blockSignals(True)
        self.setRowCount(0)
        self.blockSignals(False)
        for values in rows:
            self.add_row(values)
        self.changed.emit()

    def row_values(self, row: int) -> list[str]:
        return [(self.item(row, c).text().strip() if self.item(row, c) else "") for c in range(self.columnCount())]

    def rows(self) -> list[list[str]]:
        return [self.row_values(r) for r in range(self.rowCount())]

    def with_buttons(self) -> QWidget:
        add, remove = QToolButton(), QToolButton()
        add.setText("+")
        add.setToolTip("Add a key")
        remove.setText("-")
        remove.setToolTip("Remove the selected keys")
        add.clicked.connect(lambda: self.add_row())
        remove.clicked.connect(self.remove_selected)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self)
        layout.addWidget(row_of(add, remove, QWidget()))
        return box


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)



def spin_box(lo: int, hi: int, value: int, tip: str, step: int = 1, special: str | None = None) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    if special:
        box.setSpecialValueText(special)
    return box


def float_box(lo: float, hi: float, value: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def row_of(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    return row


class _WheelGuard(QObject):
    """Wheel events over a spin box or combo box that does not have the focus go to the scroll
    area around it instead (an ignored event travels to the parent): scrolling a long panel must
    not change the values the pointer passes over ("auto" steps became 1)."""

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Wheel and not watched.hasFocus():
            event.ignore()
            return True
        return False


def guard_wheel(panel: QWidget) -> QObject:
    """Guard every spin box and combo box in `panel` (clicking one, or Tab, focuses it and its wheel
    works again); returns the filter, which the caller keeps."""
    guard = _WheelGuard(panel)
    for box in panel.findChildren(QAbstractSpinBox) + panel.findChildren(QComboBox):
        box.setFocusPolicy(Qt.StrongFocus)  # the wheel alone no longer gives it the focus
        box.installEventFilter(guard)
    return guard
