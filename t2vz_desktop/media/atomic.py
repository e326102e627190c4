"""Writes that a kill (even `kill -9`) or a power cut leaves as the old or the new, pairs included.

Every new file or folder is first written under a temp name beside its final name (same folder,
so the rename stays on one file system and is atomic):

    .NAME.PID-RANDOM.part        PID: the writer's process id, so a later run can tell whether
                                 the writer still runs before it removes the leftover

One name (`atomic_write_bytes`, `atomic_write_text`, a group of one): write the temp, fsync it,
`os.replace` it over the final name, fsync the folder. A reader sees the old or the new file.

One folder over an older one (a PNG-frame export): a non-empty folder cannot be renamed over
another, and two renames (old aside, new in) leave the final name missing in between. On Linux,
`renameat2(RENAME_EXCHANGE)` swaps the two in one step; the old one, now under the temp name, is
then deleted. Where that is refused (other systems, some file systems) the journal below is used.

Several names (a video and its sidecar recipe `.json`; the videos of one job; eval's JSON and
plot): two renames are never atomic together, so a commit journal makes them one step:

    1. every new file complete under its temp name, fsynced;
    2. `.FIRSTNAME.PID-RANDOM.t2vz-commit` written and fsynced: a JSON list of the renames and
       removals still to do; once it is complete on disk the new set is committed;
    3. each rename and removal done, the folder fsynced;
    4. the journal deleted.

A kill before 2 leaves the old set plus `.part` files; a kill after 2 leaves a journal that
`settle` (run by every export to that name and by `read_recipe` before it reads) rolls forward
to the new set. Rolling forward is always possible, since the new files were complete and on
disk before the journal was. Each step is idempotent: a rename is still to do while its source
exists (and, for a folder moved aside, while its destination does not), so a kill during the
roll-forward is rolled forward again. Between a kill and the next `settle` another program that
reads the names directly can see the new video beside the old sidecar; the embedded recipe of
an MP4/WebM always matches its own video, whatever the sidecar says.

`settle(path)` then removes `.part` leftovers of `path` whose writer is gone: the pid in the
name is no longer running, or was started after the file was last written (a reused pid). Files
of a live writer are kept, and so are this process's own while a group (any thread) holds them.
Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import sys
import threading
import uuid
from pathlib import Path

PART = ".part"
JOURNAL = ".t2vz-commit"
_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}(?P<kind>\.part|\.t2vz-commit)$")
_active: set[Path] = set()  # temps and journals of this process still being written or carried out
_lock = threading.Lock()


def temp_sibling(path: str | os.PathLike[str], kind: str = PART) -> Path:
    """A fresh hidden name beside `path` that carries this process's pid. Not mkstemp: its 0600
    mode would stay on the exported file."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{kind}")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that a reader (or a kill) sees the old file or the new, whole."""
    with AtomicGroup() as group:
        temp = group.temp_for(path)
        with open(temp, "wb") as f:
            f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


class AtomicGroup:
    """New files and folders that appear under their final names all together, or not at all.

        with AtomicGroup() as group:
            video, sidecar = group.temp_for(out), group.temp_for(out.with_suffix(".json"))
            ...write both...
        # here both are in place; on an exception neither is, and the temps are gone

    `temp_for(final)` gives the temp path to write (a file, or a folder the caller creates);
    `remove_on_commit(path)` deletes an existing file as part of the same step. All names must
    be in one folder. Errors: OSError from the file system; on an error before the commit the old
    files stay, after it `settle` finishes the commit.
    """

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []  # (temp, final)
        self.removals: list[Path] = []
        self._journal_written = False

    def temp_for(self, final: str | os.PathLike[str]) -> Path:
        final = Path(final)
        if self.moves and final.parent != self.moves[0][1].parent:
            raise ValueError(f"{final} is not in {self.moves[0][1].parent}, the folder of this group")
        temp = temp_sibling(final)
        with _lock:
            _active.add(temp)
        self.moves.append((temp, final))
        return temp

    def remove_on_commit(self, path: str | os.PathLike[str]) -> None:
        self.removals.append(Path(path))

    def __enter__(self) -> AtomicGroup:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def discard(self) -> None:
        try:
            for temp, _ in self.moves:
                _remove(temp)
        finally:
            self._release()

    def _release(self) -> None:
        with _lock:
            _active.difference_update(t for t, _ in self.moves)

    def commit(self) -> None:
        """Put every temp in place (see the module docstring for the steps and what a kill leaves)."""
        try:
            self._commit()
        except BaseException:
            if not self._journal_written:  # not committed: the old set stands, the temps go
                self.discard()
            raise
        finally:
            self._release()  # what is left now is a leftover for `settle`

    def _commit(self) -> None:
        moves = [(t, f) for t, f in self.moves if t.exists() or t.is_symlink()]
        if not moves and not self.removals:
            return
        for temp, _ in moves:
            _fsync_tree(temp)
        folder = (moves[0][1] if moves else self.removals[0]).parent
        if len(moves) == 1 and not self.removals:
            temp, final = moves[0]
            if not (temp.is_dir() and final.exists()):
                os.replace(temp, final)
                _fsync_dir(folder)
                return
            if _exchange(temp, final):  # `temp` now holds the old folder
                _fsync_dir(folder)
                _remove(temp)
                return
        steps: list[list] = []
        asides: list[Path] = []
        for temp, final in moves:
            if temp.is_dir() and final.exists():
                aside = temp_sibling(final)
                asides.append(aside)
                with _lock:
                    _active.add(aside)
                steps.append(["move", final.name, aside.name, False])  # only while `aside` is free
            steps.append(["move", temp.name, final.name, True])
        steps += [["remove", p.name] for p in self.removals]
        journal = temp_sibling(moves[0][1] if moves else self.removals[0], JOURNAL)
        with _lock:
            _active.add(journal)
        try:
            _write_journal(journal, {"t2vz_commit": 1, "pid": os.getpid(), "steps": steps})
            self._journal_written = True  # from here on `settle` rolls forward, never back
            _run_journal(journal, steps)
            for aside in asides:
                _remove(aside)
        finally:
            with _lock:
                _active.difference_update([journal, *asides])


def settle(path: str | os.PathLike[str]) -> list[str]:
    """Finish the interrupted commits that name `path` and remove its stale `.part` leftovers.
    Returns one line per thing done (for a log); OSError only when a roll-forward fails."""
    path = Path(path)
    done = []
    folder = path.parent
    try:
        names = os.listdir(folder)
    except OSError:
        return done
    for name in sorted(names):
        m = _NAME.match(name)
        if not m or m["kind"] != JOURNAL:
            continue
        journal = folder / name
        steps = _read_journal(journal)
        if steps is not None and not any(path.name in s[1:3] for s in steps):
            continue
        if _in_use(journal, int(m["pid"])):
            continue
        if steps is None:  # never completed, so never committed: the old set stands
            journal.unlink(missing_ok=True)
            done.append(f"removed the unfinished commit journal {journal}")
        else:
            _run_journal(journal, steps)
            done.append(f"finished the interrupted commit {journal}")
    done += clean_stale_parts(path)
    return done


def clean_stale_parts(path: str | os.PathLike[str]) -> list[str]:
    """Remove `.NAME.PID-RANDOM.part` siblings of `path` whose writer is gone; run `settle` instead
    when a journal may name them."""
    path = Path(path)
    removed = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    for name in names:
        m = _NAME.match(name)
        if m and m["kind"] == PART and m["name"] == path.name:
            part = path.parent / name
            if not _in_use(part, int(m["pid"])):
                _remove(part)
                removed.append(f"removed the leftover {part}")
    return removed


def clean_folder(folder: str | os.PathLike[str]) -> list[str]:
    """`settle` every name in `folder` that has leftovers (an app's own data folder at start)."""
    folder = Path(folder)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    finals = {m["name"] for m in map(_NAME.match, names) if m}
    return [line for name in sorted(finals) for line in settle(folder / name)]


def _run_journal(journal: Path, steps: list[list]) -> None:
    folder = journal.parent
    for step in steps:
        if step[0] == "move":
            src, dst, overwrite = folder / step[1], folder / step[2], step[3]
            if (src.exists() or src.is_symlink()) and (overwrite or not dst.exists()):
                os.replace(src, dst)
        elif step[0] == "remove":
            (folder / step[1]).unlink(missing_ok=True)
    _fsync_dir(folder)
    journal.unlink(missing_ok=True)
    _fsync_dir(folder)


def _write_journal(journal: Path, content: dict) -> None:
    # Written in place, not renamed: a journal cut short does not parse and counts as never made.
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, json.dumps(content).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(journal.parent)


def _read_journal(journal: Path) -> list[list] | None:
    try:
        content = json.loads(journal.read_bytes())
        steps = content["steps"]
        ok = all(
            (s[0] == "move" and len(s) == 4 and all(_safe(n) for n in s[1:3]))
            or (s[0] == "remove" and len(s) == 2 and _safe(s[1]))
            for s in steps
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return steps if ok else None


def _safe(name: object) -> bool:
    """A bare name in the journal's own folder, never a path elsewhere."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and os.sep not in name


def _in_use(file: Path, pid: int) -> bool:
    """Whether the writer of `file` (a `.part` or journal named with `pid`) may still be at work."""
    if pid == os.getpid():
        with _lock:  # ours: in use while a group of this process (any thread) still holds it
            return file in _active
    if not _pid_alive(pid):
        return False
    started = _process_start(pid)
    try:
        written = file.lstat().st_mtime
    except OSError:
        return False
    # A pid reused by a process started after the file was last written cannot be its writer.
    return started is None or written >= started - 1


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe probe without an extra dependency (os.kill(pid, 0) kills on Windows)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_start(pid: int) -> float | None:
    """Epoch seconds at which `pid` started (Linux /proc), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two names in one step (Linux renameat2); False where the system or file system refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync_tree(path: Path) -> None:
    """Put a file, or a folder and the files in it, on disk (for a power cut)."""
    if path.is_dir():
        for child in path.iterdir():
            if child.is_file():
                _fsync_file(child)
        _fsync_dir(path)
    elif path.is_file():
        _fsync_file(path)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals renames itself
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename is still atomic
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass

