"""Finding and joining a Ray cluster for the render farm (farm.py), without torch: the app's
Test connection button and the CLI's early check use it before any model loads."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from .request import RequestError

DEFAULT_PORT = 6379  # `ray start --head`'s
INSTALL = "pip install 't2vz-desktop[farm]'"


def need_ray():
    try:
        import ray
    except ImportError as e:
        raise RequestError(f"rendering on a cluster needs Ray on this computer: {INSTALL}") from e
    return ray


def parse_address(text: str) -> tuple[str, int] | None:
    """(host, port) of a Ray head written HOST[:PORT]; None for "auto" (this computer's cluster).
    RequestError for anything else."""
    text = text.strip()
    if text == "auto":
        return None
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(DEFAULT_PORT))
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
    """The HOST:PORT to connect to, after checking that Ray is installed and that something
    listens there; one RequestError line otherwise. Costs a socket connect, before any model
    loads."""
    need_ray()
    where = parse_address(address)
    if where is None:
        found = local_cluster_address()
        if found is None:
            raise RequestError("no Ray cluster runs on this computer: start one with `ray start --head`, or give "
                               "--cluster HOST:PORT (docs/render-farm.md)")
        where = parse_address(found)
    host, port = where
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        raise RequestError(f"cannot reach the Ray cluster at {host}:{port} ({e.strerror or e}); is `ray start "
                           "--head` running there, and is the port open? (docs/render-farm.md)") from e
    return f"{host}:{port}"


def connect(address: str):
    """Ray, connected to the cluster at `address` (reusing this process's connection to it)."""
    ray = need_ray()
    target = check_cluster(address)
    if ray.is_initialized():
        if ray.get_runtime_context().gcs_address == target:
            return ray
        ray.shutdown()
    try:
        # "auto" is handed to Ray as such: only then does it use this computer's token (clusters
        # authenticate by default; for an explicit address the user turns the token on, as Ray asks).
        ray.init(address="auto" if address.strip() == "auto" else target, logging_level="ERROR", log_to_driver=False)
    except Exception as e:  # version mismatch, a port that is not a Ray head, no token: one line
        hint = "" if os.environ.get("RAY_AUTH_MODE") == "token" else (
            "; if the cluster uses token authentication (Ray's default), copy its ~/.ray/auth_token here "
            "and set RAY_AUTH_MODE=token (docs/render-farm.md)")
        raise RequestError(f"cannot join the Ray cluster at {target}: {first_line(e)}{hint}") from e
    return ray


def test_connection(address: str) -> str:
    """One line on the cluster at `address` (nodes, GPUs, CPUs) for a Test connection button;
    RequestError when it cannot be reached."""
    ray = connect(address)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    return (f"connected to {ray.get_runtime_context().gcs_address}: {len(nodes)} node(s), "
            f"{int(total.get('GPU', 0))} GPU(s), {int(total.get('CPU', 0))} CPU(s)")


def first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
