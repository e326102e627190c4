"""The job queue as the user sees it (QueueView): one row per job in run order, with the latest
preview frame as a thumbnail, the step progress and time left while it runs, and for a failed
job its one-line reason and a Retry button. Right-click cancels, moves, retries or removes one
job; Delete cancels the selected waiting job (only it: the Cancel button stops them all).

The rows only show JobQueue's state (worker.py); every change goes through the queue's methods.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMenu, QProgressBar, QSizePolicy,
    QToolButton, QVBoxLayout, QWidget,
)

from .images import thumbnail
from .monitor import eta_words
from .worker import Job, JobOutput, JobQueue, StepUpdate

THUMB_W, THUMB_H = 64, 40
STATE_WORDS = {"queued": "waiting", "running": "starting...", "finished": "done", "failed": "failed",
               "cancelled": "cancelled"}
STATE_COLORS = {"failed": "#ff7b72", "cancelled": "#a8aab0", "finished": "#7ee787"}


@dataclass
class JobProgress:
    """What the worker last said of a job: the row is re-made from this after a reorder."""

    step: int = 0
    total: int = 0
    eta_s: float | None = None
    thumb: QPixmap | None = None
    seconds: float | None = None  # how long a finished job took
    note: str = ""  # a running job's last status before its steps (loading, optimising)
    tasks: str = ""  # on a cluster: which of its tasks are done


class ElidedLabel(QLabel):
    """A one-line label that ends in "..." where it is too narrow: a long prompt or message must
    not widen the dock (text() keeps the whole line)."""

    def __init__(self):
        super().__init__()
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        p.drawText(self.rect(), Qt.AlignLeft | Qt.AlignVCenter,
                   self.fontMetrics().elidedText(self.text(), Qt.ElideRight, self.width()))


class JobRow(QWidget):
    """One job: thumbnail | title, state line, progress bar | Retry."""

    def __init__(self, job: Job, on_retry, parent: QWidget | None = None):
        super().__init__(parent)
        self.job = job
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB_W, THUMB_H)
        self.thumb.setStyleSheet("background: black;")
        self.thumb.setAlignment(Qt.AlignCenter)
        self.title = ElidedLabel()
        self.detail = ElidedLabel()
        self.detail.setObjectName("job-detail")
        self.bar = QProgressBar()
        self.bar.setFixedHeight(6)
        self.bar.setTextVisible(False)
        self.retry = QToolButton()
        self.retry.setText("Retry")
        self.retry.setToolTip("Queue this job's request again")
        self.retry.clicked.connect(lambda: on_retry(self.job))
        text = QVBoxLayout()
        text.setSpacing(1)
        text.setContentsMargins(0, 0, 0, 0)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addWidget(self.bar)
        row = QHBoxLayout(self)
        row.setContentsMargins(3, 3, 3, 3)
        row.addWidget(self.thumb)
        row.addLayout(text, 1)
        row.addWidget(self.retry)

    def show_state(self, p: JobProgress) -> None:
        job = self.job
        self.title.setText(job.title)
        self.title.setToolTip(job.title)
        if job.state == "running" and p.total:
            line = f"step {p.step}/{p.total}" + (f", {eta_words(p.eta_s)}" if p.eta_s is not None else "") \
                + (f" ({p.tasks})" if p.tasks else "")
        elif job.state == "finished" and p.seconds is not None:
            line = f"done in {p.seconds:.1f} s"
        elif job.state == "failed":
            line = f"failed: {job.error.splitlines()[0] if job.error else 'unknown reason'}"
        elif job.state == "running" and p.note:
            line = p.note
        else:
            line = STATE_WORDS[job.state]
        self.detail.setText(line)
        self.detail.setToolTip(job.error if job.state == "failed" else "")
        self.detail.setStyleSheet(f"color: {STATE_COLORS[job.state]};" if job.state in STATE_COLORS else "")
        self.bar.setVisible(job.state == "running")
        self.bar.setRange(0, max(p.total, 1))
        self.bar.setValue(p.step)
        self.retry.setVisible(job.state in ("failed", "cancelled"))
        if p.thumb is not None:
            self.thumb.setPixmap(p.thumb)


class QueueView(QListWidget):
    """The rows of a JobQueue (attach() it); a job's row keeps its id in Qt.UserRole."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue: JobQueue | None = None
        self.progress: dict[str, JobProgress] = {}
        self.rows: dict[str, JobRow] = {}
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.customContextMenuRequested.connect(lambda pos: self.menu_for(self._job_at(pos)).exec(self.mapToGlobal(pos)))
        self.setToolTip("Right-click a job to cancel, move or retry it; Delete cancels the selected waiting job")

    def attach(self, queue: JobQueue) -> None:
        self.queue = queue
        for signal in (queue.job_added, queue.job_started, queue.job_cancelled):
            signal.connect(self.show_job)
        queue.job_failed.connect(lambda job, _message: self.show_job(job))
        queue.job_finished.connect(self._finished)
        queue.job_step.connect(self.show_step)
        queue.job_status.connect(self.show_status)
        queue.order_changed.connect(self.sync)
        self.sync()

    # -- rows ---------------------------------------------------------------------------------
    def sync(self) -> None:
        """Re-make the rows in the queue's order (after a move, a retry or a removal), keeping the
        selection and what each job last showed."""
        selected = self.selected_job()
        self.clear()
        self.rows.clear()
        for job in self.queue.jobs if self.queue else []:
            self._add_row(job)
        self.progress = {k: v for k, v in self.progress.items() if k in self.rows}
        if selected is not None and selected.id in self.rows:
            self.setCurrentRow(self.row_of(selected.id))

    def _add_row(self, job: Job) -> JobRow:
        item = QListWidgetItem()
        item.setData(Qt.UserRole, job.id)
        self.addItem(item)
        row = JobRow(job, self._retry)
        item.setSizeHint(row.sizeHint())
        self.setItemWidget(item, row)
        self.rows[job.id] = row
        row.show_state(self.progress.setdefault(job.id, JobProgress()))
        return row

    def show_job(self, job: Job) -> None:
        """Add or refresh a job's row."""
        row = self.rows.get(job.id) or self._add_row(job)
        row.job = job
        row.show_state(self.progress[job.id])
        if job.state == "running":
            self.scrollToItem(self.item(self.row_of(job.id)))

    def show_step(self, update: StepUpdate) -> None:
        p = self.progress.get(update.job_id)
        if p is None:
            return
        p.step, p.total, p.eta_s, p.tasks = update.step, update.total, update.eta_s, update.note
        if update.preview is not None and len(update.preview):
            p.thumb = thumbnail(update.preview[0], THUMB_W, THUMB_H)
        self.rows[update.job_id].show_state(p)

    def show_status(self, job_id: str, text: str) -> None:
        p = self.progress.get(job_id)
        if p is not None and job_id in self.rows:
            p.note = text
            self.rows[job_id].show_state(p)

    def _finished(self, job: Job, output: JobOutput) -> None:
        if job.id in self.progress:
            self.progress[job.id].seconds = output.seconds
        self.show_job(job)

    def row_of(self, job_id: str) -> int:
        return next(i for i in range(self.count()) if self.item(i).data(Qt.UserRole) == job_id)

    def job(self, row: int) -> Job | None:
        item = self.item(row)
        return self.rows[item.data(Qt.UserRole)].job if item is not None else None

    def selected_job(self) -> Job | None:
        return self.job(self.currentRow()) if self.currentItem() is not None and self.selectedItems() else None

    def _job_at(self, pos: QPoint) -> Job | None:
        item = self.itemAt(pos)
        return None if item is None else self.job(self.row(item))

    # -- actions ------------------------------------------------------------------------------
    def menu_for(self, job: Job | None) -> QMenu:
        """The right-click menu of one job (empty for no job): only what applies to its state."""
        menu = QMenu(self)
        q = self.queue
        if job is None or q is None:
            return menu
        waiting = [j for j in q.jobs if j.state == "queued"]
        if job.state in ("queued", "running"):
            menu.addAction("Cancel this job", lambda: q.cancel(job))
        if job.state == "queued":
            up, down = menu.addAction("Move up", lambda: q.move(job, -1)), menu.addAction("Move down", lambda: q.move(job, 1))
            up.setEnabled(job is not waiting[0])
            down.setEnabled(job is not waiting[-1])
        if job.state in ("failed", "cancelled"):
            menu.addAction("Retry", lambda: self._retry(job))
        if job.state in ("finished", "failed", "cancelled"):
            menu.addAction("Remove from list", lambda: q.remove(job))
        return menu

    def _retry(self, job: Job) -> None:
        if self.queue is not None:
            self.progress.pop(job.id, None)  # a fresh start: no old thumbnail or step count
            self.queue.retry(job)

    def keyPressEvent(self, event) -> None:
        # Delete is this list's own: it must reach neither the timeline's Delete nor Cancel-all.
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            job = self.selected_job()
            if job is not None and self.queue is not None:
                if job.state == "queued":
                    self.queue.cancel(job)
                elif job.state in ("finished", "failed", "cancelled"):
                    self.queue.remove(job)
            event.accept()
            return
        super().keyPressEvent(event)
