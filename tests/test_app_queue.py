"""The job queue a user controls: one job cancelled, moved or retried while the others run on, each
row showing its latest preview, step and time left. A gated worker stands in for the engine (no
model runs): each job waits at every step until the test opens its gate."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from t2vz_desktop.app.queue_view import QueueView
from t2vz_desktop.app.worker import GenerationWorker, Job, JobOutput, JobQueue, StepUpdate
from t2vz_desktop.engine.cancel import Cancelled
from t2vz_desktop.engine.request import RequestError
from test_app_fixtures import make_clip

STEPS = 3
PREVIEW_COLOR = (250, 200, 0)


class GatedWorker(GenerationWorker):
    """Each job emits STEPS steps with a yellow preview, waiting before each until gate[title] is
    set; a title in `fail_once` fails (once) with a two-line message; the result is a real clip."""

    def __init__(self):
        super().__init__(threads=1, cache=object())
        self.gates: dict[str, threading.Event] = {}
        self.ran: list[str] = []  # titles, in the order the worker started them
        self.fail_once: set[str] = set()

    def gate(self, title: str) -> threading.Event:
        return self.gates.setdefault(title, threading.Event())

    def _generate(self, job: Job) -> JobOutput:
        title = job.title
        self.ran.append(title)
        preview = np.zeros((2, 16, 16, 3), np.uint8)
        preview[:] = PREVIEW_COLOR
        for step in range(1, STEPS + 1):
            while not self.gate(title).wait(0.01):
                if job.cancel.cancelled:
                    raise Cancelled()
            self.step.emit(StepUpdate(job.id, step, STEPS, "denoise", preview, 1.0, 5.0 * (STEPS - step)))
        if title in self.fail_once:
            self.fail_once.discard(title)
            raise RequestError(f"{title} needs a model that is not here\nsecond line of detail")
        job.out_dir.mkdir(parents=True, exist_ok=True)
        path = make_clip(job.out_dir / f"{title}-{job.id}.mp4", 4, 8)
        return JobOutput(job.id, path, "{}", 64, 48, 8.0, 4, 0.0)


def shown_queue(qtbot, width: int = 360) -> tuple[GatedWorker, JobQueue, QueueView]:
    """A JobQueue on a GatedWorker, and its view shown at `width` x 300 pixels."""
    worker = GatedWorker()
    queue = JobQueue(worker)
    view = QueueView()
    view.attach(queue)
    qtbot.addWidget(view)
    view.resize(width, 300)
    view.show()
    return worker, queue, view


@pytest.fixture
def gated(qtbot, tmp_path):
    worker, queue, view = shown_queue(qtbot)
    yield worker, queue, view
    for gate in list(worker.gates.values()):
        gate.set()
    queue.shutdown()


def job(title: str, out: Path) -> Job:
    return Job(f"id-{title}", {"prompts": [title], "model": "demo"}, out)


def submit(queue: JobQueue, tmp_path: Path, *titles: str) -> list[Job]:
    return [queue.submit(job(t, tmp_path / "out")) for t in titles]


def wait_states(qtbot, jobs: list[Job], states: list[str], timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: [j.state for j in jobs] == states, timeout=timeout)


def detail(view: QueueView, j: Job) -> str:
    return view.rows[j.id].detail.text()


def test_cancelling_the_middle_of_three_queued_jobs_leaves_the_other_two_to_run_in_order(gated, qtbot, tmp_path):
    worker, queue, view = gated
    a, b, c = submit(queue, tmp_path, "a", "b", "c")
    wait_states(qtbot, [a, b, c], ["running", "queued", "queued"])
    queue.cancel(b)
    assert [a.state, b.state, c.state] == ["running", "cancelled", "queued"]
    assert not a.cancel.cancelled and not c.cancel.cancelled
    for t in "abc":
        worker.gate(t).set()
    wait_states(qtbot, [a, b, c], ["finished", "cancelled", "finished"])
    assert worker.ran == ["a", "c"]
    assert detail(view, b) == "cancelled" and detail(view, c).startswith("done in")


def test_cancelling_the_running_job_starts_the_next_and_keeps_the_rest(gated, qtbot, tmp_path):
    worker, queue, view = gated
    a, b, c = submit(queue, tmp_path, "a", "b", "c")
    wait_states(qtbot, [a, b, c], ["running", "queued", "queued"])
    view.menu_for(a).actions()[0].trigger()  # "Cancel this job" on the running one
    wait_states(qtbot, [a, b, c], ["cancelled", "running", "queued"])
    qtbot.waitUntil(lambda: worker.ran == ["a", "b"])  # the worker thread picks b up a moment later
    assert not c.cancel.cancelled


def test_delete_cancels_only_the_selected_queued_job(gated, qtbot, tmp_path):
    worker, queue, view = gated
    a, b, c = submit(queue, tmp_path, "a", "b", "c")
    wait_states(qtbot, [a, b, c], ["running", "queued", "queued"])
    view.setCurrentRow(view.row_of(c.id))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_Delete)
    assert [a.state, b.state, c.state] == ["running", "queued", "cancelled"]
    view.setCurrentRow(view.row_of(a.id))  # Delete on the running job: it keeps running (the menu cancels it)
    qtbot.keyClick(view, Qt.Key_Delete)
    assert a.state == "running" and not a.cancel.cancelled
    view.setCurrentRow(view.row_of(c.id))  # on a finished row: off the list
    qtbot.keyClick(view, Qt.Key_Delete)
    assert c not in queue.jobs and [view.job(i) for i in range(view.count())] == [a, b]


def test_a_waiting_job_moves_up_and_down_and_runs_in_its_new_place(gated, qtbot, tmp_path):
    worker, queue, view = gated
    a, b, c, d = submit(queue, tmp_path, "a", "b", "c", "d")
    wait_states(qtbot, [a], ["running"])
    texts = {x.text(): x for x in view.menu_for(b).actions()}
    assert not texts["Move up"].isEnabled() and texts["Move down"].isEnabled()  # b is first in line
    assert {x.text() for x in view.menu_for(a).actions()} == {"Cancel this job"}  # the running one stays put
    {x.text(): x for x in view.menu_for(d).actions()}["Move up"].trigger()
    view.setCurrentRow(view.row_of(b.id))
    {x.text(): x for x in view.menu_for(b).actions()}["Move down"].trigger()
    assert [view.job(i).title for i in range(view.count())] == ["a", "d", "b", "c"]
    assert view.selected_job() is b  # the selection follows the moved job
    assert not queue.move(a, 1) and not queue.move(c, 1)  # running; already last
    for t in "abcd":
        worker.gate(t).set()
    wait_states(qtbot, [a, b, c, d], ["finished"] * 4)
    assert worker.ran == ["a", "d", "b", "c"]


def test_a_row_shows_the_latest_preview_its_step_and_the_time_left(gated, qtbot, tmp_path):
    worker, queue, view = gated
    (a,) = submit(queue, tmp_path, "a")
    row = view.rows[a.id]
    qtbot.waitUntil(lambda: a.state == "running")
    assert row.thumb.pixmap().isNull() and detail(view, a) == "starting..."
    view.show_status(a.id, "optimising for this GPU (first time only): 2/9 blocks")  # before any step
    assert detail(view, a) == "optimising for this GPU (first time only): 2/9 blocks"
    worker.gate("a").set()
    qtbot.waitUntil(lambda: a.state == "finished", timeout=20_000)
    assert "done in" in detail(view, a) and not row.bar.isVisible()
    color = row.thumb.pixmap().toImage().pixelColor(row.thumb.width() // 2, row.thumb.height() // 2)
    assert (color.red(), color.green(), color.blue()) == PREVIEW_COLOR
    # mid-job: the step and the engine's estimate, as the monitor words it
    view.show_step(StepUpdate(a.id, 1, STEPS, "denoise", None, 1.0, 10.0))
    a.state = "running"
    view.show_job(a)
    assert detail(view, a) == "step 1/3, about 10 s left"
    assert row.bar.isVisible() and (row.bar.value(), row.bar.maximum()) == (1, STEPS)


def test_a_failed_job_shows_its_reason_and_retry_runs_it_again(gated, qtbot, tmp_path):
    worker, queue, view = gated
    worker.fail_once.add("a")
    a, b = submit(queue, tmp_path, "a", "b")
    worker.gate("a").set()
    wait_states(qtbot, [a, b], ["failed", "running"])
    row = view.rows[a.id]
    assert detail(view, a) == "failed: a needs a model that is not here"  # one line
    assert "second line" in row.detail.toolTip()  # the whole message on hover
    assert row.retry.isVisible() and not view.rows[b.id].retry.isVisible()
    assert [x.text() for x in view.menu_for(a).actions()] == ["Retry", "Remove from list"]
    qtbot.mouseClick(view.rows[a.id].retry, Qt.LeftButton)
    assert a.state == "queued" and a.error == "" and queue.jobs[-1] is a  # behind b, which is running
    assert [view.job(i) for i in range(view.count())] == [b, a]
    worker.gate("b").set()
    wait_states(qtbot, [a, b], ["finished", "finished"])
    assert worker.ran == ["a", "b", "a"]
    assert not view.rows[a.id].retry.isVisible()


def test_remove_takes_only_finished_jobs_off_the_list(gated, qtbot, tmp_path):
    worker, queue, view = gated
    a, b = submit(queue, tmp_path, "a", "b")
    worker.gate("a").set()
    wait_states(qtbot, [a, b], ["finished", "running"])
    assert not queue.remove(b)
    {x.text(): x for x in view.menu_for(a).actions()}["Remove from list"].trigger()
    assert queue.jobs == [b] and view.count() == 1


def test_in_the_window_delete_cancels_one_job_and_cancel_stops_them_all(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from t2vz_desktop.app.window import MainWindow

    worker = GatedWorker()
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), tmp_path / "data", JobQueue(worker))
    win.ask_unsaved = lambda: "discard"
    qtbot.addWidget(win)
    win.show()
    try:
        view = win.panel.queue
        jobs = [win.generate({"prompts": [t], "model": "demo"}) for t in "abc"]
        wait_states(qtbot, jobs, ["running", "queued", "queued"])
        assert view.count() == 3 and win.panel.cancel_button.isEnabled()
        view.setCurrentRow(view.row_of(jobs[1].id))
        view.setFocus()
        qtbot.keyClick(view, Qt.Key_Delete)
        assert [j.state for j in jobs] == ["running", "cancelled", "queued"]
        qtbot.mouseClick(win.panel.cancel_button, Qt.LeftButton)  # Cancel stays: all of them
        wait_states(qtbot, jobs, ["cancelled"] * 3)
        assert worker.ran == ["a"]
        qtbot.waitUntil(lambda: not win.panel.cancel_button.isEnabled())
    finally:
        for gate in list(worker.gates.values()):
            gate.set()
        win.queue.shutdown()
        time.sleep(0)  # the window is closed by qtbot
