"""The render farm on a real local Ray cluster (issue 28): one cluster of two worker processes for
the module (not Ray's local mode), tiny weights, each worker on one thread."""

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from t2vz_desktop.engine import farm, farm_driver
from t2vz_desktop.engine.cluster import parse_address as cluster_address
from t2vz_desktop.engine.jobs import Cancelled, CancelToken, GenerationRequest, run_generation
from t2vz_desktop.engine.request import RequestError

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.farm


@pytest.fixture(scope="module")
def cluster():
    # "local": a new cluster of its own even where `ray start --head` already runs one.
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def one_thread():
    """This process computes the local videos on one thread, as each worker does: the kernels'
    summation order, and so the rounding, depends on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def submitted(monkeypatch):
    """How many tasks each farm job submitted (its driver's count, as Ray received them)."""
    counts = []
    follow = farm_driver._follow

    def counting(ray_, refs, *args):
        counts.append(len(refs))
        return follow(ray_, refs, *args)

    monkeypatch.setattr(farm_driver, "_follow", counting)
    return counts


def request(folder, **kw) -> GenerationRequest:
    base = dict(prompts=["a red circle"], model=str(folder), frames=16, width=32, height=32, steps=4, seed=4,
                chunk_size=2, device="cpu")
    return GenerationRequest(**{**base, **kw})


def frames(result, video=0) -> np.ndarray:
    return np.stack(list(result.frames(video)))


def test_a_farm_video_is_the_local_one_within_rounding_and_runs_as_one_task_per_chunk(
        cluster, tiny_folder, model_cache, submitted):
    job = request(tiny_folder, frames=64, chunk_size=8, steps=3)
    local_events, events = [], []
    local = run_generation(job, local_events.append, cache=model_cache)
    remote = run_generation(job, events.append, cache=model_cache, cluster=cluster)
    assert submitted == [8]  # 64 frames in chunks of 8
    # The chunk that holds the anchor is bit-exact; later chunks ran the anchor in a batch of
    # one, not of its chunk, and the kernels round by batch size.
    assert torch.equal(remote.latents[:8], local.latents[:8])
    relative = (remote.latents - local.latents).abs().max() / local.latents.abs().max()
    assert relative < 1e-5
    assert np.abs(frames(remote).astype(int) - frames(local)).max() <= 1
    steps = [e for e in events if e.kind == "step"]
    per_task = [e for e in local_events if e.kind == "step"][-1].total  # each task makes its chunk's steps
    assert steps[-1].step == steps[-1].total == 8 * per_task
    assert [e.step for e in steps] == sorted(e.step for e in steps)
    assert steps[-1].message == "8/8 tasks done" and steps[-1].eta_s == 0


def test_a_batch_fans_out_one_task_per_video_when_frames_read_more_than_the_anchor(
        cluster, tiny_folder, model_cache, submitted):
    job = request(tiny_folder, frames=6, videos_per_prompt=3, attention_window=1)
    local = run_generation(job, cache=model_cache)
    remote = run_generation(job, cache=model_cache, cluster=cluster)
    assert submitted == [3]
    assert torch.equal(remote.latents, local.latents)  # whole videos: bit-exact


def crash_once(marker: str, task):
    """`task`, except that the first call anywhere kills its worker process (marker file)."""

    def crashing(*args, **kwargs):
        if not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)
        return task(*args, **kwargs)

    return crashing


def test_a_task_whose_worker_dies_is_retried_and_the_video_is_unchanged(
        cluster, tiny_folder, model_cache, monkeypatch, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "crashed"
    job = request(tiny_folder, frames=8, chunk_size=2)
    plain = run_generation(job, cache=model_cache, cluster=cluster)
    monkeypatch.setattr(farm, "denoise_task", crash_once(str(marker), farm.denoise_task))
    survived = run_generation(job, cache=model_cache, cluster=cluster)
    assert marker.exists()  # a worker did die
    assert torch.equal(survived.latents, plain.latents)


def test_cancel_mid_job_stops_the_tasks_and_returns_nothing(cluster, tiny_folder, model_cache, tmp_path):
    cancel = CancelToken()
    job = request(tiny_folder, frames=24, chunk_size=2, steps=10)

    def on_event(e):
        if e.kind == "step":
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_generation(job, on_event, cancel, cache=model_cache, cluster=cluster)
    # The cluster is free again: the cancelled tasks gave their CPUs back.
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


def test_a_worker_that_lacks_the_model_fails_the_job_with_its_name(cluster, tiny_folder, model_cache, tmp_path):
    # This computer has the model under one name; the workers look for it under another.
    job = request(tiny_folder, frames=4)
    with pytest.raises(RequestError, match="cannot load the model"):
        farm_driver._result(ray, ray.remote(farm.denoise_task).remote(
            replace(job, model=str(tmp_path / "elsewhere")), None, None, None, ("job", 0)), "the video")


def test_an_unreachable_cluster_is_one_line_and_exit_2_before_any_work(tiny_folder, tmp_path, capsys):
    from t2vz_desktop.cli import main

    out = tmp_path / "v.mp4"
    code = main(["generate", "a red circle", "--model", str(tiny_folder), "--out", str(out), "--cluster", "127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "cannot reach the Ray cluster at 127.0.0.1:9" in err


@pytest.mark.parametrize("text", ["", "head:port", "head:0", "head:70000", "ray://x/y:1"])
def test_a_malformed_address_is_refused(text):
    with pytest.raises(RequestError, match="--cluster wants auto or the head's HOST:PORT"):
        cluster_address(text)


def test_the_tasks_done_are_named_as_ranges_in_frame_order():
    assert farm_driver.tasks_done([0, 1, 4], 8) == "3/8 tasks done: 1-2, 5"
    assert farm_driver.tasks_done([], 8) == "0/8 tasks done"
    assert farm_driver.tasks_done(list(range(8)), 8) == "8/8 tasks done"


class LateResults:
    """Just enough of Ray for _wait: every task has counted all its steps from the first poll,
    and the tasks' latents arrive one per poll (the race that once ended a job on "7/8")."""

    class exceptions:
        class RayError(Exception):
            pass

    def __init__(self, refs):
        self.queue = list(refs)

    def wait(self, pending, **_):
        return [self.queue.pop(0)], []

    def get(self, value, timeout=None):
        return value

    class progress:
        class read:
            @staticmethod
            def remote():
                return [3, 3]


def test_the_last_progress_line_says_every_task_done_even_after_the_steps_stood_still(monkeypatch):
    tasks = [farm_driver.Task(0, (0, 2), 3), farm_driver.Task(0, (2, 4), 3)]
    pending, results, events = {"a": 0, "b": 1}, {}, []
    fake = LateResults(["a", "b"])
    monkeypatch.setattr(farm_driver, "_result", lambda ray, ref, what: torch.zeros(1))
    farm_driver._wait(fake, pending, results, tasks, request("unused"), fake.progress, events.append, None, 6)
    assert [(e.step, e.message) for e in events] == [(6, "1/2 tasks done: 1"), (6, "2/2 tasks done")]
    assert events[-1].eta_s == 0


def test_addresses_parse_with_the_default_port():
    assert cluster_address("auto") is None
    assert cluster_address("gpu-box") == ("gpu-box", 6379)
    assert cluster_address("10.0.0.5:6380") == ("10.0.0.5", 6380)


def test_only_recipes_whose_frames_read_just_the_anchor_are_cut_into_chunks(tiny_folder):
    base = request(tiny_folder, frames=8, chunk_size=4, videos_per_prompt=2)
    assert farm.plan_tasks(base) == [(0, (0, 4)), (0, (4, 8)), (1, (0, 4)), (1, (4, 8))]
    for whole in (replace(base, attention_window=1), replace(base, speed="cache"), replace(base, speed="merge"),
                  replace(base, chunk_size=0)):
        assert farm.plan_tasks(whole) == [(0, None), (1, None)]


def test_moved_copies_every_tensor_of_a_plan_to_the_device_and_casts_floats():
    from t2vz_desktop.engine.chunks import Conditioning

    text = Conditioning(cond=torch.ones(1, 2, 3), uncond=None, guidance=7.5)
    half = farm.moved(text, "cpu", torch.float16)
    assert half.cond.dtype == torch.float16 and half.uncond is None and half.guidance == 7.5
    assert text.cond.dtype == torch.float32  # a copy


def test_an_edit_runs_one_task_per_video_and_keeps_the_sources_sound(
        cluster, tiny_folder, tiny_controlnet, model_cache, submitted, tmp_path):
    from test_edit import canny_request, write_square_video

    source = write_square_video(tmp_path / "source.mp4", frames=6, audio=True)
    job = canny_request(tiny_folder, source, tiny_controlnet, videos_per_prompt=2)
    local = run_generation(job, cache=model_cache)
    remote = run_generation(job, cache=model_cache, cluster=cluster)
    assert submitted == [2]
    assert torch.equal(remote.latents, local.latents)
    assert remote.audio is not None and remote.recipe.frames == local.recipe.frames == 6


def test_a_worker_without_the_source_file_writes_the_shipped_copy(cluster, tmp_path):
    from t2vz_desktop.engine.request import ControlSpec, EditSpec

    here = tmp_path / "here.mp4"
    here.write_bytes(b"same size")
    job = GenerationRequest(prompts=["x"], edit=EditSpec(source="/nowhere/clip.mp4", controls=[
        ControlSpec("pose", condition=str(here))]))
    files = {"/nowhere/clip.mp4": (4, ray.put(b"clip")), str(here): (9, ray.put(b"not read!"))}
    folder = tmp_path / "worker"
    folder.mkdir()
    local = farm._localised(job, files, folder)
    assert Path(local.edit.source).parent == folder and Path(local.edit.source).read_bytes() == b"clip"
    assert local.edit.controls[0].condition == str(here)  # found in place with the same size


@pytest.fixture
def listening():
    """A port something listens on (not a Ray head): (host, port)."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()
    server.close()


def test_a_computer_that_is_not_a_node_is_told_how_to_join_before_any_work(listening, monkeypatch):
    from t2vz_desktop.engine import cluster as place

    host, port = listening
    monkeypatch.setattr(place, "local_cluster_address", lambda: None)
    with pytest.raises(RequestError, match=f"not a node of the Ray cluster at {host}:{port}.*ray start "
                                           f"--address={host}:{port} --num-cpus=0 --num-gpus=0"):
        place.check_cluster(f"{host}:{port}")
    with pytest.raises(RequestError, match="no Ray cluster runs on this computer"):
        place.check_cluster("auto")
    monkeypatch.setattr(place, "local_cluster_address", lambda: "127.0.0.1:1")
    with pytest.raises(RequestError, match=f"a node of the Ray cluster at 127.0.0.1:1, not of {host}:{port}"):
        place.check_cluster(f"{host}:{port}")
    monkeypatch.setattr(place, "local_cluster_address", lambda: f"localhost:{port}")
    assert place.check_cluster(f"{host}:{port}") == f"localhost:{port}"  # one head, two names


def test_a_lost_progress_actor_ends_the_job_with_one_line_and_the_cluster_stays(cluster, tiny_folder, model_cache,
                                                                                 monkeypatch):
    from t2vz_desktop.engine import cluster as place

    def dead_tracker(ray_, tasks, job):
        actor = ray_.remote(num_cpus=0)(place.Tracker).remote()
        ray_.kill(actor)
        return actor

    monkeypatch.setattr(farm_driver, "tracker_for", dead_tracker)
    with pytest.raises(farm.FarmError, match=r"^lost the Ray cluster mid-job: .* \(ActorDiedError\); nothing was written$"):
        run_generation(request(tiny_folder, frames=4), lambda e: None, cache=model_cache, cluster=cluster)
    assert ray.is_initialized()  # the head still answers: the connection is kept


def test_the_heads_other_names_on_this_computer_are_the_same_cluster():
    import socket

    from t2vz_desktop.engine.cluster import same_place

    assert same_place("127.0.0.1:6379", ("localhost", 6379))
    assert same_place(f"{socket.gethostname()}:6379", ("127.0.0.1", 6379))
    assert not same_place("127.0.0.1:6379", ("127.0.0.1", 6380))
    assert not same_place("127.0.0.1:6379", ("203.0.113.7", 6379))  # TEST-NET-3: never this computer
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the address Ray's node would use
        try:
            probe.connect(("203.0.113.7", 9))  # a UDP "connect" sends nothing; it picks the outward address
            outward = probe.getsockname()[0]
        except OSError:  # no network at all: loopback only
            outward = "127.0.0.1"
    assert same_place(f"{outward}:6379", ("127.0.0.1", 6379))


@pytest.mark.parametrize("text, where", [("AUTO", None), ("[::1]:6380", ("::1", 6380)), ("::1", ("::1", 6379)),
                                         ("[fe80::1]", ("fe80::1", 6379))])
def test_auto_in_any_case_and_ipv6_addresses_parse(text, where):
    assert cluster_address(text) == where
