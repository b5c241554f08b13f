"""The runners' working folders: `graft-node-<runner pid>-<random>` in the temporary folder
(`tempfile.gettempdir()`: TMPDIR, else /tmp).

A runner (`worker.runner`) makes its folder when it starts, runs every attempt in it (emptied
after each) and removes it when it ends in order. A runner that is killed cannot: graft
SIGKILLs it to stop an attempt (timeout, memory limit, cancel, terminate), and it dies with
its pool process. So:

- the pool process removes its runner's folder once the runner is dead (`Runner.stop`);
- a worker removes, when it starts and when it stops, the folders of runners that are gone
  (a worker or a pool process killed outright takes its runners with it, by
  `PR_SET_PDEATHSIG`, and leaves their folders).

A folder is a gone runner's when it is this user's, its pid is not a live `worker.runner`
process, and no process holds the lock its runner takes on it while it lives (an flock on the
folder itself, which tells a live runner apart even in another pid namespace that shares
this temporary folder). Folders of live runners, this worker's or another's, are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import tempfile

log = logging.getLogger("graft.worker")

PREFIX = "graft-node-"
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-")


def make() -> tuple[str, int]:
    """A new folder for this runner, locked while the process lives: its path and the lock's
    file descriptor (keep it open; it is not inherited by programs the task runs)."""
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    with contextlib.suppress(OSError):  # a file system without flock: the pid tells alone
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new: nobody else has it
    return folder, fd


def remove_of(pid: int, tmp: str | None = None) -> None:
    """Remove the folder of runner `pid`, which is dead (not one of the same name whose lock
    is held: a live runner's of another pid namespace)."""
    for path, _ in _folders(tmp, pid):
        if not _locked(path):
            shutil.rmtree(path, ignore_errors=True)


def remove_orphans(tmp: str | None = None) -> list[str]:
    """Remove the folders of runners that are gone; the paths removed."""
    removed = []
    for path, pid in _folders(tmp):
        if _live_runner(pid) or _locked(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        log.info("removed %d working folder(s) of runners that are gone, in %s", len(removed),
                 os.path.dirname(removed[0]))
    return removed


def _folders(tmp: str | None, pid: int | None = None) -> list[tuple[str, int]]:
    """This user's runner folders in `tmp` (default: the temporary folder), with their
    runner's pid; only runner `pid`'s when given."""
    found = []
    try:
        entries = list(os.scandir(tmp or tempfile.gettempdir()))
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or (pid is not None and int(match.group(1)) != pid):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False) and \
                    entry.stat(follow_symlinks=False).st_uid == os.getuid():
                found.append((entry.path, int(match.group(1))))
    return found


def _live_runner(pid: int) -> bool:
    """Whether process `pid` is a live runner (when it cannot be told: yes)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return b"worker.runner" in args  # a zombie's is empty


def _locked(path: str) -> bool:
    """Whether a process holds the lock on folder `path` (one that cannot be opened: yes; on
    a file system without flock: no, the pid tells alone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # lets go of the lock, if taken
    return False
