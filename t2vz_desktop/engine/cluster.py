"""Finding and joining a Ray cluster for the render farm (farm.py), without torch: the app's
Test connection button and the CLI's early check use it before any model loads."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from .request import RequestError, first_line

DEFAULT_PORT = 6379  # `ray start --head`'s
INSTALL = "pip install 't2vz-desktop[farm]'"


def need_ray():
    try:
        import ray
    except ImportError as e:
        raise RequestError(f"rendering on a cluster needs Ray on this computer: {INSTALL}") from e
    return ray


def parse_address(text: str) -> tuple[str, int] | None:
    """(host, port) of a Ray head written HOST[:PORT] ([IPv6]:PORT for an IPv6 address); None
    for "auto" (this computer's cluster). RequestError for anything else."""
    text = text.strip()
    if text.lower() == "auto":
        return None
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (str(DEFAULT_PORT) if not rest else "x")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    elif ":" in text:  # a bare IPv6 address
        host, port = text, str(DEFAULT_PORT)
    else:
        host, port = text, str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
        raise RequestError(f"--cluster wants auto or the head's HOST:PORT (port {DEFAULT_PORT} by default), got '{text}'")
    return host, int(port)


def local_cluster_address() -> str | None:
    """The address of the cluster `ray start --head` left on this computer (RAY_ADDRESS first, as
    Ray reads it), or None."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    marker = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    try:
        return marker.read_text().strip() or None
    except OSError:
        return None


def check_cluster(address: str, timeout_s: float = 3.0) -> str:
    """The HOST:PORT of the cluster to send work to, after checking that Ray is installed, that
    something listens there, and that this computer is one of its nodes (Ray takes work from a
    driver on a node only); one RequestError line otherwise. Costs a socket connect, before any
    model loads."""
    need_ray()
    where = parse_address(address)
    here = local_cluster_address()
    if where is None and here is None:
        raise RequestError("no Ray cluster runs on this computer: start one with `ray start --head`, or join one "
                           "with `ray start --address=HEAD:6379` (docs/render-farm.md)")
    host, port = where or parse_address(here)
    try:
        _knock(host, port, timeout_s)
    except OSError as e:
        raise RequestError(f"cannot reach the Ray cluster at {host}:{port} ({e.strerror or e}); is `ray start "
                           "--head` running there, and is the port open? (docs/render-farm.md)") from e
    join = f"`ray start --address={host}:{port} --num-cpus=0 --num-gpus=0`"
    if here is None:
        raise RequestError(f"this computer is not a node of the Ray cluster at {host}:{port}, and Ray takes work only "
                           f"from its nodes: run {join} here first (docs/render-farm.md)")
    if not same_place(here, (host, port)):
        raise RequestError(f"this computer is a node of the Ray cluster at {here}, not of {host}:{port}: `ray stop`, "
                           f"then {join} (docs/render-farm.md)")
    return here


def _knock(host: str, port: int, timeout_s: float) -> None:
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def reachable(address: str, timeout_s: float = 2.0) -> bool:
    """Whether something still listens at HOST:PORT `address` (a head that went away does not)."""
    try:
        where = parse_address(address)
        if where is not None:
            _knock(*where, timeout_s)
            return True
    except (OSError, RequestError):
        pass
    return False


def same_place(address: str, where: tuple[str, int]) -> bool:
    """Whether HOST:PORT `address` and (host, port) `where` name one Ray head: the same port, and
    hosts that resolve alike or are both this computer."""
    host, port = parse_address(address) or ("", 0)
    if port != where[1]:
        return False
    try:
        a, b = (socket.getaddrinfo(h, None)[0][4][0] for h in (host, where[0]))
    except OSError:
        return host == where[0]
    return a == b or (_is_this_computer(a) and _is_this_computer(b))


def _is_this_computer(ip: str) -> bool:
    """Whether `ip` is one of this computer's addresses: a socket can bind to it (the hostname's
    own entry is often 127.0.1.1, not the address Ray's node uses)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((ip, 0))
    except OSError:
        return False
    return True


def connect(address: str):
    """Ray, connected to the cluster at `address` (reusing this process's connection to it)."""
    ray = need_ray()
    if ray.is_initialized():
        where = parse_address(address)
        if where is None or same_place(ray.get_runtime_context().gcs_address, where):
            return ray
        ray.shutdown()
    target = check_cluster(address)
    try:
        # Through this computer's node, as Ray's "auto" does: it then uses this computer's token
        # too (clusters authenticate by default).
        ray.init(address="auto", logging_level="ERROR", log_to_driver=False)
    except Exception as e:  # version mismatch, no token: one line
        raise RequestError(f"cannot join the Ray cluster at {target}: {first_line(e)} (the cluster's Ray and Python "
                           "versions must match this computer's; docs/render-farm.md)") from e
    return ray


def test_connection(address: str) -> str:
    """One line on the cluster at `address` (nodes, GPUs, CPUs) for a Test connection button;
    RequestError when it cannot be reached."""
    ray = connect(address)
    total = ray.cluster_resources()
    return (f"connected to {ray.get_runtime_context().gcs_address}: {alive_nodes(ray)} node(s), "
            f"{int(total.get('GPU', 0))} GPU(s), {int(total.get('CPU', 0))} CPU(s)")


def alive_nodes(ray) -> int:
    return sum(1 for n in ray.nodes() if n.get("Alive"))


class Tracker:
    """A Ray actor the tasks tell their progress; the driver reads it between waits. It lives
    here, in a module without torch, so that its process starts in a moment, and one serves
    every job of a connection (`reset` per job). A task names its slot as (job, index), so a
    late word from an earlier job's task is ignored."""

    def __init__(self) -> None:
        self.reset(0, "")

    def reset(self, tasks: int, job: str) -> None:
        self.job = job
        self.steps = [0] * tasks

    def report(self, slot: tuple[str, int], step: int) -> None:
        """Steps done by the task in `slot`; a retried task counts again from its first step."""
        if slot[0] == self.job:
            self.steps[slot[1]] = step

    def read(self) -> list[int]:
        return self.steps


_trackers: dict[tuple[str, str], object] = {}


def tracker_for(ray, tasks: int, job: str):
    """This connection's Tracker actor, reset for job `job` of `tasks` tasks."""
    context = ray.get_runtime_context()
    key = (context.gcs_address, context.get_job_id())  # a new connection is a new Ray job
    if key not in _trackers:
        _trackers.clear()  # a handle from an earlier connection is dead
        _trackers[key] = ray.remote(num_cpus=0)(Tracker).remote()
    tracker = _trackers[key]
    ray.get(tracker.reset.remote(tasks, job))
    return tracker
