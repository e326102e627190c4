"""The open project as seen by the widgets: the plain model, its file, and its undo stack.

Every edit goes through `ProjectDocument.edit`, which runs one function of the project's edit
API and records the state before and after as a QUndoCommand, so undo restores it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from .project import EditError, Project

T = TypeVar("T")


class SnapshotCommand(QUndoCommand):
    def __init__(self, doc: "ProjectDocument", text: str, before: dict, after: dict):
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after
        self._first = True  # the edit already ran when the command was pushed

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self.doc.project.restore(self.after)
        self.doc.changed.emit()

    def undo(self) -> None:
        self.doc.project.restore(self.before)
        self.doc.changed.emit()


class ProjectDocument(QObject):
    changed = Signal()  # the timeline, the bin or the settings changed
    replaced = Signal()  # another project was opened (or a new one started)
    error = Signal(str)  # an edit was refused; the message is for the user

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project or Project.new()
        self.path: Path | None = None
        self.undo = QUndoStack(self)

    @property
    def dirty(self) -> bool:
        return not self.undo.isClean()

    def edit(self, text: str, fn: Callable[[Project], T]) -> T | None:
        """Run `fn(project)` as one undoable step; a refused edit changes nothing."""
        before = self.project.snapshot()
        try:
            result = fn(self.project)
        except EditError as e:
            self.project.restore(before)
            self.error.emit(str(e))
            return None
        self.undo.push(SnapshotCommand(self, text, before, self.project.snapshot()))
        self.changed.emit()
        return result

    def replace(self, project: Project, path: Path | None) -> None:
        self.project, self.path = project, path
        self.undo.clear()
        self.replaced.emit()
        self.changed.emit()
