"""The generation queue (GUI thread) and its worker (a QObject living on a QThread).

The GUI hands the worker plain request fields; the worker imports torch and the engine on its
own thread the first time it runs a job, so the window never waits for torch. Engine progress
events come back as signals carrying plain data (numbers, text, uint8 arrays).
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..engine.cancel import CancelToken
from .sysinfo import available_memory


@dataclass
class Job:
    id: str
    fields: dict  # GenerationRequest keyword arguments, built by the generation panel
    out_dir: Path  # where the finished MP4 and its recipe go
    state: str = "queued"  # queued, running, finished, failed, cancelled
    cancel: CancelToken = field(default_factory=CancelToken)
    above_clip: str = ""  # an edit or re-generation: the result goes on the track above this clip
    error: str = ""  # why it failed, for the user (the queue view shows it beside Retry)
    cluster: str | None = None  # denoise on this Ray cluster (Preferences > Render on); None: here

    @property
    def title(self) -> str:
        edit = self.fields.get("edit")
        return self.fields["prompts"][0] if edit is None else f"edit {Path(edit.source).name}: {self.fields['prompts'][0]}"


@dataclass
class StepUpdate:
    job_id: str
    step: int
    total: int
    phase: str
    preview: np.ndarray | None  # (frames, h, w, 3) uint8 at latent resolution
    elapsed_s: float
    eta_s: float | None
    mask: np.ndarray | None = None  # background smoothing's foreground, (frames, h, w) uint8
    note: str = ""  # on a cluster: which tasks are done ("3/8 tasks done: 1-2, 5")


@dataclass
class JobOutput:
    job_id: str
    path: Path
    recipe: str  # JSON of the resolved request: re-makes this exact video
    width: int
    height: int
    fps: float
    frames: int
    seconds: float
    has_audio: bool = False  # an edit that kept the source's sound
    more: list[JobOutput] = field(default_factory=list)  # a batch's other takes (videos_per_prompt > 1), in order

    @property
    def takes(self) -> list[JobOutput]:
        """Every video the job made, this one first; each with the recipe that names its seed."""
        return [self, *self.more]


class GenerationWorker(QObject):
    """Runs one job at a time on its own thread; knows nothing of the widgets."""

    status = Signal(str, str)  # job id, message
    step = Signal(object)  # StepUpdate
    finished = Signal(object)  # JobOutput
    failed = Signal(str, str)  # job id, message for the user
    cancelled = Signal(str)
    loaded = Signal(str, str)  # device, model name

    def __init__(self, cache_capacity: int = 2, threads: int | None = None, cache=None):
        super().__init__()
        self.cache_capacity = cache_capacity
        # One core stays free for the GUI: on a 2-core machine torch gets one thread.
        self.threads = threads or max(1, (os.cpu_count() or 2) - 1)
        self._cache = cache  # an engine ModelCache; made on first use unless given (tests share one)
        self._threads_set = False

    @Slot(object)
    def run(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            output = self._generate(job)
        except BaseException as e:  # noqa: BLE001 - every failure becomes a message, never a crash
            kind, message = self._explain(e)
            if kind == "cancelled":
                self.cancelled.emit(job.id)
            else:
                self.failed.emit(job.id, message)
            return
        seconds = time.perf_counter() - started
        for take in output.takes:  # one job made them together: each shows the job's time
            take.seconds = seconds
        self.finished.emit(output)

    def _generate(self, job: Job) -> JobOutput:
        import torch  # first use: imported here, on the worker thread

        from ..engine.jobs import GenerationRequest, ModelCache, export_result, run_generation
        from ..media import ExportOptions, has_audio

        if not self._threads_set:
            torch.set_num_threads(self.threads)
            self._threads_set = True
        if self._cache is None:
            self._cache = ModelCache(self.cache_capacity)
        if available_memory() < 1.5 * 2**30:  # drop the least recently used model before loading
            self._cache.evict_oldest()

        def on_event(e) -> None:
            if e.kind == "loaded":  # after the engine's pre-flight: a bad input is refused before any load
                self.loaded.emit(e.device, e.message)
            elif e.kind == "step":
                self.step.emit(StepUpdate(job.id, e.step, e.total, e.phase, e.preview, e.elapsed_s, e.eta_s, e.mask,
                                          e.message))
            elif e.kind == "decode":
                self.status.emit(job.id, f"writing frame {e.step}/{e.total}")
            else:
                self.status.emit(job.id, e.message)

        request = GenerationRequest(**job.fields).validate()
        result = run_generation(request, on_event, job.cancel, self._cache, cluster=job.cluster)
        job.out_dir.mkdir(parents=True, exist_ok=True)
        path = job.out_dir / f"{_slug(job.title)}-{job.id}.mp4"
        reports = export_result(result, path, ExportOptions(fps=result.recipe.fps), on_event, job.cancel)
        takes = [JobOutput(job.id, r.path, result.video_recipe(i).to_json(), r.width, r.height, r.fps, r.frames, 0.0,
                           has_audio(r.path)) for i, r in enumerate(reports)]
        takes[0].more = takes[1:]
        return takes[0]

    def _explain(self, e: BaseException) -> tuple[str, str]:
        """('cancelled' | 'error', a message a user can act on)."""
        try:
            from ..conditions import ConditionError
            from ..engine.jobs import Cancelled, RequestError
            from ..engine.models import ModelError
            from ..media import MediaError
        except BaseException as broken:  # noqa: BLE001 - torch itself did not load: say so, never hang
            return "error", f"the engine could not be loaded ({type(broken).__name__}: {broken}); was: {e}"

        if isinstance(e, Cancelled):
            return "cancelled", "cancelled"
        if isinstance(e, (ModelError, RequestError, MediaError, ConditionError)):
            return "error", str(e)
        if isinstance(e, MemoryError) or "out of memory" in str(e).lower():
            if self._cache is not None:
                self._cache.clear()  # give the memory back before the user tries again
            return "error", ("out of memory: try fewer frames, a smaller size or chunk size, "
                             "or model offload on a GPU")
        if isinstance(e, OSError):
            return "error", f"could not write the video: {e}"
        traceback.print_exception(e, file=sys.stderr)
        return "error", f"the job failed unexpectedly ({type(e).__name__}: {e})"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "clip"


class JobQueue(QObject):
    """Jobs wait here and go to the worker one at a time (Krita AI Diffusion's JobQueue shape).
    `jobs` keeps every job of the session in run order until the user removes it; one job can be
    cancelled, moved while it waits, or retried after it failed."""

    job_added = Signal(object)  # Job
    job_started = Signal(object)
    job_step = Signal(object)  # StepUpdate
    job_status = Signal(str, str)
    job_finished = Signal(object, object)  # Job, JobOutput
    job_failed = Signal(object, str)
    job_cancelled = Signal(object)
    model_loaded = Signal(str, str)
    count_changed = Signal(int)
    order_changed = Signal()  # jobs moved, retried or removed: the list's order is new
    _dispatch = Signal(object)

    def __init__(self, worker: GenerationWorker | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.jobs: list[Job] = []
        self.current: Job | None = None
        self.worker = worker or GenerationWorker()
        self.thread = QThread()
        self.thread.setObjectName("t2vz-generation")
        self.worker.moveToThread(self.thread)
        self._dispatch.connect(self.worker.run)  # queued: runs on the worker thread
        self.worker.step.connect(self.job_step)
        self.worker.status.connect(self.job_status)
        self.worker.loaded.connect(self.model_loaded)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.thread.start()

    def submit(self, job: Job) -> Job:
        self.jobs.append(job)
        self.job_added.emit(job)
        self._next()
        return job

    @property
    def pending(self) -> int:
        return sum(j.state in ("queued", "running") for j in self.jobs)

    def cancel(self, job: Job | None = None) -> None:
        """Cancel one job, or (None) drop every queued job and interrupt the running one. A queued
        job is cancelled at once; the running one stops at the worker's next step."""
        targets = [job] if job else [j for j in self.jobs if j.state in ("queued", "running")]
        for j in targets:
            j.cancel.cancel()
            if j.state == "queued":
                j.state = "cancelled"
                self.job_cancelled.emit(j)
        self.count_changed.emit(self.pending)

    def move(self, job: Job, offset: int) -> bool:
        """Move a waiting job `offset` places among the waiting jobs (-1: it runs one job sooner);
        False when it is not waiting or already at that end."""
        waiting = [j for j in self.jobs if j.state == "queued"]
        if job not in waiting:
            return False
        target = waiting.index(job) + offset
        if not 0 <= target < len(waiting) or offset == 0:
            return False
        other = waiting[target]
        a, b = self.jobs.index(job), self.jobs.index(other)
        self.jobs[a], self.jobs[b] = other, job
        self.order_changed.emit()
        return True

    def retry(self, job: Job) -> bool:
        """Queue a failed or cancelled job's request again, at the end of the queue (same id: it
        wrote nothing, so its file name is free)."""
        if job not in self.jobs or job.state not in ("failed", "cancelled"):
            return False
        self.jobs.remove(job)
        job.state, job.error, job.cancel = "queued", "", CancelToken()
        self.jobs.append(job)
        self.order_changed.emit()
        self._next()
        return True

    def remove(self, job: Job) -> bool:
        """Take a finished, failed or cancelled job off the list."""
        if job not in self.jobs or job.state in ("queued", "running"):
            return False
        self.jobs.remove(job)
        self.order_changed.emit()
        return True

    def shutdown(self) -> None:
        self.cancel()
        self.thread.quit()
        self.thread.wait(30_000)

    def _next(self) -> None:
        self.count_changed.emit(self.pending)
        if self.current is not None:
            return
        job = next((j for j in self.jobs if j.state == "queued"), None)
        if job is None:
            return
        self.current, job.state = job, "running"
        self.job_started.emit(job)
        self._dispatch.emit(job)

    def _done(self, state: str) -> Job:
        job, self.current = self.current, None
        job.state = state
        return job

    def _on_finished(self, output: JobOutput) -> None:
        self.job_finished.emit(self._done("finished"), output)
        self._next()

    def _on_failed(self, job_id: str, message: str) -> None:
        job = self._done("failed")
        job.error = message
        self.job_failed.emit(job, message)
        self._next()

    def _on_cancelled(self, job_id: str) -> None:
        self.job_cancelled.emit(self._done("cancelled"))
        self._next()
