"""The render farm's driver: submit a job's tasks to the cluster, follow them, and put the
videos together in frame order for the usual decode and export (farm.py has the tasks)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from . import farm
from .cluster import alive_nodes, connect, reachable, tracker_for
from .cancel import Cancelled, CancelToken
from .guided import source_audio
from .models import ModelError, make_scheduler
from .request import GenerationRequest, RequestError
from .sampler import step_count


@dataclass
class Task:
    video: int
    frames: tuple[int, int] | None  # [a, b) of the video; None: all of it
    steps: int  # UNet steps it reports in all

    def name(self, recipe: GenerationRequest) -> str:
        videos = len(recipe.prompts) * recipe.videos_per_prompt
        what = f"video {self.video + 1} of {videos}" if videos > 1 else "the video"
        return what if self.frames is None else f"frames {self.frames[0] + 1}-{self.frames[1]} of {what}"


def render_on_cluster(request: GenerationRequest, emit, stepped: bool, cancel: CancelToken | None, cache,
                      previews: bool, checked: bool, address: str):
    """run_generation's work, denoised on the Ray cluster at `address` (farm.py); returns the
    same GenerationResult, its latents assembled here. Step events sum every task's steps
    (no previews: the latents stay on the workers until their task ends)."""
    from .jobs import GenerationResult, ProgressEvent, load_job_model, one_video, resolve_job, text_tables, video_plan

    started = time.perf_counter()
    ray = connect(address)  # an unreachable cluster is one line, before the model loads
    model, _ = load_job_model(request, emit, cache, checked)
    recipe, clip, _, warnings = resolve_job(request, model, emit)
    pipe, device = model.pipe, model.pipe._execution_device
    scheduler = make_scheduler(recipe.scheduler, pipe.scheduler.config)
    scheduler.set_timesteps(recipe.steps)
    resources = {"num_gpus": 1} if ray.cluster_resources().get("GPU") else {"num_cpus": 1}
    denoise = ray.remote(max_retries=farm.RETRIES)(farm.denoise_task).options(**resources)
    edit = ray.remote(max_retries=farm.RETRIES)(farm.edit_task).options(**resources)
    files = {}
    if recipe.edit is not None:
        files = {path: (Path(path).stat().st_size, ray.put(Path(path).read_bytes())) for path in farm.edit_inputs(recipe)}
    tasks, videos = [], {}
    for video, frames in farm.plan_tasks(recipe):
        if video not in videos:
            one = one_video(recipe, video)
            plan = video_plan(one, model, device, guided=recipe.edit is not None)
            text = None if recipe.edit is not None else farm.moved(text_tables(pipe, one, device, model.embeddings), "cpu")
            videos[video] = (one, farm.moved(plan, "cpu"), text)
        tasks.append(Task(video, frames, step_count(videos[video][1], scheduler)))
    job = uuid.uuid4().hex
    progress = tracker_for(ray, len(tasks), job)
    refs = {}
    for i, task in enumerate(tasks):
        one, plan, text = videos[task.video]
        if recipe.edit is not None:
            refs[edit.remote(one, files, progress, (job, i))] = i
        else:
            refs[denoise.remote(one, text, replace(plan, frames_only=task.frames), progress, (job, i))] = i
    emit(ProgressEvent("status", f"denoising on the cluster at {ray.get_runtime_context().gcs_address}: {len(tasks)} "
                                 f"task(s) on {alive_nodes(ray)} node(s)"))
    results = _follow(ray, refs, tasks, recipe, progress, emit if stepped else None, cancel)
    latents = torch.cat([results[i] for i in range(len(tasks))])
    audio = source_audio(recipe.edit, clip) if recipe.edit is not None else None
    return GenerationResult(recipe, latents, model, time.perf_counter() - started, warnings, audio)


def _follow(ray, refs: dict, tasks: list[Task], recipe: GenerationRequest, progress, emit,
            cancel: CancelToken | None) -> dict[int, torch.Tensor]:
    """Wait for every task, saying their summed steps; on cancel or a failed task, stop the rest."""
    pending, results = dict(refs), {}
    total = sum(t.steps for t in tasks)
    try:
        _wait(ray, pending, results, tasks, recipe, progress, emit, cancel, total)
    except BaseException:
        for ref in pending:  # nothing goes on computing for a job that ended
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - a cluster that is gone has nothing left to stop
                pass
        raise
    return results


def _wait(ray, pending: dict, results: dict, tasks: list[Task], recipe: GenerationRequest, progress, emit,
          cancel: CancelToken | None, total: int) -> None:
    from .jobs import ProgressEvent

    started, said = time.perf_counter(), None
    try:
        while pending:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=farm.POLL_S, fetch_local=True)
            for ref in ready:
                i = pending.pop(ref)
                results[i] = _result(ray, ref, tasks[i].name(recipe))
            if emit is None:
                continue
            steps = ray.get(progress.read.remote(), timeout=30)
            done = sum(t.steps if i in results else min(steps[i], t.steps) for i, t in enumerate(tasks))
            # A task counts its last step before its latents arrive: the step total can stand still
            # while the tasks-done line still has to change (it once ended on "7/8 tasks done").
            if (done, len(results)) != said and done:
                said, elapsed = (done, len(results)), time.perf_counter() - started
                emit(ProgressEvent("step", tasks_done(sorted(results), len(tasks)), step=done, total=total,
                                   phase="video", elapsed_s=elapsed, eta_s=elapsed / done * (total - done)))
    except ray.exceptions.RayError as e:  # the progress actor or the wait lost the cluster
        raise lost_cluster(ray, e) from e


def lost_cluster(ray, e: Exception) -> farm.FarmError:
    """The one line for a cluster gone mid-job; the connection is dropped when this computer's
    node or the head no longer answers, so the next job connects afresh (the app runs on)."""
    if isinstance(e, ray.exceptions.LocalRayletDiedError) or not reachable(ray.get_runtime_context().gcs_address):
        ray.shutdown()
    return farm.FarmError(f"lost the Ray cluster mid-job: its head or one of its nodes stopped answering "
                          f"({type(e).__name__}); nothing was written")


def tasks_done(done: list[int], count: int) -> str:
    """Which tasks (numbered from 1 in frame order) are done: "3/8 tasks done: 1-2, 5"."""
    runs: list[list[int]] = []
    for i in done:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    which = ", ".join(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in runs)
    return f"{len(done)}/{count} tasks done" + (f": {which}" if done and len(done) < count else "")


def _result(ray, ref, what: str) -> torch.Tensor:
    """A task's latents, or its failure as the engine's own error, in one line."""
    errors = ray.exceptions
    try:
        return ray.get(ref)
    except errors.TaskCancelledError as e:
        raise Cancelled() from e
    except (RequestError, ModelError) as e:  # a Ray task error is also an instance of its cause
        raise RequestError(f"{what}: {_cause_line(e)}") from e
    except errors.LocalRayletDiedError as e:  # `ray stop` on this computer, or the head going down
        raise lost_cluster(ray, e) from e
    except (errors.WorkerCrashedError, errors.NodeDiedError, errors.OutOfMemoryError) as e:
        raise farm.FarmError(f"{what}: its worker died on each of {farm.RETRIES + 1} tries "
                             f"({type(e).__name__}: {_cause_line(e)})") from e
    except errors.RayTaskError as e:
        raise farm.FarmError(f"{what} failed on the cluster: {_cause_line(e)}") from e
    except errors.RayError as e:  # the head went away, the object was lost
        raise farm.FarmError(f"the cluster failed while making {what}: {_cause_line(e)}") from e


def _cause_line(e: BaseException) -> str:
    cause = getattr(e, "cause", None) or e
    text = str(cause).strip()
    # Ray prefixes a task error with the task's traceback; the last line is the error itself.
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(cause).__name__
