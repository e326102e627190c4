"""Help > Keyboard shortcuts: every menu action that has keys, grouped by menu, read from the
menu bar's own QActions when the dialog opens (so it always shows the keys that work), with a
filter box."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHeaderView, QLineEdit, QMenuBar, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu path, action text, keys) of every action with keys in the menus, in menu order;
    keys as the platform writes them ("Ctrl+Shift+Z, Ctrl+Y")."""
    rows: list[tuple[str, str, str]] = []

    def walk(actions: list[QAction], path: str) -> None:
        for action in actions:
            if action.menu() is not None:
                walk(action.menu().actions(), f"{path} > {action.text().replace('&', '')}".lstrip(" >"))
            elif not action.isSeparator():
                # a standard key the platform leaves unbound (Quit on some desktops) writes as ""
                keys = ", ".join(s for k in action.shortcuts() if (s := k.toString(QKeySequence.NativeText)))
                name = action.property("plain_text") or action.text()  # Undo's text names the last edit
                if keys:
                    rows.append((path, name.replace("&", ""), keys))

    walk(bar.actions(), "")
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, bar: QMenuBar, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 780)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: an action or a key")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        groups: dict[str, QTreeWidgetItem] = {}
        self.rows = menu_shortcuts(bar)
        for path, text, keys in self.rows:
            if path not in groups:
                groups[path] = QTreeWidgetItem(self.tree, [path])
                groups[path].setFirstColumnSpanned(True)
                font = groups[path].font(0)
                font.setBold(True)
                groups[path].setFont(0, font)
            QTreeWidgetItem(groups[path], [text, keys])
        self.tree.expandAll()
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)

    def visible_rows(self) -> list[tuple[str, str]]:
        """(action, keys) of the rows the filter leaves in view."""
        return [(g.child(k).text(0), g.child(k).text(1)) for i in range(self.tree.topLevelItemCount())
                if not (g := self.tree.topLevelItem(i)).isHidden() for k in range(g.childCount()) if not g.child(k).isHidden()]

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            group, shown = self.tree.topLevelItem(i), 0
            for k in range(group.childCount()):
                row = group.child(k)
                hit = all(w in f"{group.text(0)} {row.text(0)} {row.text(1)}".lower() for w in words)
                row.setHidden(not hit)
                shown += hit
            group.setHidden(shown == 0)
