"""File > Models...: what is installed (kind, size, where) and known-good models to download,
with progress and cancel. The work is engine/model_store.py's, on a background thread; the
dialog only shows it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from ..engine.model_store import CURATED, DownloadCancelled, Installed, download, installed_models, plan_download
from ..engine.models import ModelError


def size_text(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


class DownloadWorker(QObject):
    """Plans and runs one download at a time on its thread; `stop` is read between chunks."""

    progress = Signal(int, int)  # bytes done, bytes in all
    finished = Signal(str, str)  # repo id, folder
    failed = Signal(str, str)  # repo id, one line for the user

    def __init__(self) -> None:
        super().__init__()
        self.stop = False

    @Slot(str, object)
    def run(self, repo_id: str, variant: str | None) -> None:
        self.stop = False
        try:
            plan = plan_download(repo_id, variant)
            folder = download(plan, lambda done, total: self.progress.emit(done, total), lambda: self.stop)
        except DownloadCancelled:
            self.failed.emit(repo_id, f"Download of {repo_id} cancelled; nothing of it was kept.")
        except ModelError as e:
            self.failed.emit(repo_id, str(e))
        else:
            self.finished.emit(repo_id, str(folder))


class ModelsDialog(QDialog):
    _start = Signal(str, object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 520)
        self.installed = QTableWidget(0, 4)
        self.installed.setHorizontalHeaderLabels(["Model", "Kind", "Size", "Where"])
        self.known = QTableWidget(0, 4)
        self.known.setHorizontalHeaderLabels(["Model", "Kind", "Licence", "For"])
        for table in (self.installed, self.known):
            table.setEditTriggers(QTableWidget.NoEditTriggers)
            table.setSelectionBehavior(QTableWidget.SelectRows)
            table.setSelectionMode(QTableWidget.SingleSelection)
            table.verticalHeader().hide()
            header = table.horizontalHeader()
            for column in range(3):
                header.setSectionResizeMode(column, QHeaderView.ResizeToContents)
            header.setSectionResizeMode(3, QHeaderView.Stretch)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Fetch the selected model into the local Hugging Face cache (resumable; "
                                        "only its configurations and .safetensors weights)")
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.known.itemSelectionChanged.connect(self._selection_changed)

        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Installed (Hugging Face cache, Models folder, built in):"))
        layout.addWidget(self.installed, 1)
        layout.addWidget(QLabel("Known-good models to download:"))
        layout.addWidget(self.known, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

        self.thread = QThread(self)
        self.worker = DownloadWorker()
        self.worker.moveToThread(self.thread)
        self._start.connect(self.worker.run)
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.thread.start()
        self.running: str | None = None
        self.refresh()

    def refresh(self) -> None:
        """Read what is installed again and mark the known models that are."""
        models: list[Installed] = installed_models()
        self.installed.setRowCount(len(models))
        for r, m in enumerate(models):
            for c, text in enumerate((m.name, m.kind, size_text(m.bytes), m.where)):
                self.installed.setItem(r, c, QTableWidgetItem(text))
        have = {m.name for m in models}
        self.known.setRowCount(len(CURATED))
        for r, k in enumerate(CURATED):
            name = k.repo_id + ("  (installed)" if k.repo_id in have else "")
            for c, text in enumerate((name, k.kind, k.licence, k.what)):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, k.repo_id)
                self.known.setItem(r, c, item)
        self._selection_changed()

    def selected_known(self) -> str | None:
        rows = self.known.selectionModel().selectedRows()
        return self.known.item(rows[0].row(), 0).data(Qt.UserRole) if rows else None

    def _selection_changed(self) -> None:
        self.download_button.setEnabled(self.running is None and self.selected_known() is not None)

    def start_download(self) -> None:
        repo_id = self.selected_known()
        if repo_id is None or self.running is not None:
            return
        variant = next(k.variant for k in CURATED if k.repo_id == repo_id)
        self.running = repo_id
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the size is known
        self.status.setText(f"Fetching the file list of {repo_id}...")
        self._start.emit(repo_id, variant)

    def cancel_download(self) -> None:
        self.worker.stop = True
        self.status.setText("Cancelling...")

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * done / max(total, 1)))
        self.status.setText(f"Downloading {self.running}: {size_text(done)} of {size_text(total)}")

    def _finished(self, repo_id: str, folder: str) -> None:
        self._ended(f"{repo_id} is installed ({folder}).")
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)

    def _failed(self, repo_id: str, message: str) -> None:
        self._ended(message)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)

    def _ended(self, text: str) -> None:
        self.running = None
        self.cancel_button.setEnabled(False)
        self.status.setText(text)
        self.refresh()

    def done(self, result: int) -> None:
        self.worker.stop = True  # a download in flight stops and cleans up
        self.thread.quit()
        self.thread.wait(30_000)
        super().done(result)
