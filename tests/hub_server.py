"""A local stand-in for the Hugging Face Hub's download endpoints, for the model manager's tests.

It serves repositories from memory in the hub's URL layout, with the headers huggingface_hub
reads: the repository info and its file tree (/api/models/...), and each file at
/{repo}/resolve/{revision}/{path} with X-Repo-Commit, ETag (git's blob SHA-1, or the SHA-256 of
a large file, which also goes in X-Linked-Etag / X-Linked-Size), Accept-Ranges and HTTP Range
requests answered with 206. `cut_once` names files whose first GET stops halfway (a dropped
connection); every request is logged, so tests can see a resumed transfer ask for a Range.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".ckpt")


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"

    def etag(self, path: str) -> str:
        data = self.files[path]
        if path.endswith(LFS_SUFFIXES):
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def blob_id(self, path: str) -> str:
        data = self.files[path]
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Hub:
    repos: dict[str, Repo] = field(default_factory=dict)
    cut_once: set[str] = field(default_factory=set)
    log: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range header)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Hub":
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub.handle(self, head=True)

            def do_GET(self) -> None:
                hub.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ routes
    def handle(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(req.path).path)
        self.log.append((req.command, path, req.headers.get("Range")))
        if path.startswith("/api/models/"):
            return self._api(req, path.removeprefix("/api/models/"))
        if "/resolve/" in path:
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            _, _, file = rest.partition("/")
            return self._file(req, repo_id, file, head)
        self._send(req, 404, b"not found", {"X-Error-Code": "EntryNotFound"})

    def _api(self, req, rest: str) -> None:
        if "/revision/" not in rest and "/tree/" not in rest:
            rest += "/revision/main"  # the repository's info at its default branch
        for marker in ("/revision/", "/tree/"):
            if marker in rest:
                repo_id, _, _ = rest.partition(marker)
                repo = self.repos.get(repo_id)
                if repo is None:
                    return self._send(req, 404, b'{"error": "Repository not found"}',
                                      {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"})
                if marker == "/revision/":
                    body = {"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                            "siblings": [{"rfilename": p} for p in sorted(repo.files)]}
                else:
                    body = [self._entry(repo, p) for p in sorted(repo.files)]
                return self._send(req, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        self._send(req, 404, b"{}", {"Content-Type": "application/json"})

    @staticmethod
    def _entry(repo: Repo, path: str) -> dict:
        data = repo.files[path]
        entry = {"type": "file", "oid": repo.blob_id(path), "size": len(data), "path": path}
        if path.endswith(LFS_SUFFIXES):
            entry["lfs"] = {"oid": repo.etag(path), "size": len(data), "pointerSize": 134}
        return entry

    def _file(self, req, repo_id: str, file: str, head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None or file not in repo.files:
            code = "RepoNotFound" if repo is None else "EntryNotFound"
            return self._send(req, 404, b"not found", {"X-Error-Code": code}, head)
        data = repo.files[file]
        etag = repo.etag(file)
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if file.endswith(LFS_SUFFIXES):
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        start, status = 0, 200
        wanted = req.headers.get("Range")
        if wanted and wanted.startswith("bytes=") and not head:
            start = int(wanted.removeprefix("bytes=").split("-")[0] or 0)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if not head and file in self.cut_once:
            self.cut_once.discard(file)
            req.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                req.send_header(k, v)
            req.end_headers()
            req.wfile.write(body[: len(body) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        self._send(req, status, body, headers, head)

    @staticmethod
    def _send(req, status: int, body: bytes, headers: dict, head: bool = False) -> None:
        req.send_response(status)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            req.send_header(k, v)
        req.end_headers()
        if not head:
            req.wfile.write(body)
