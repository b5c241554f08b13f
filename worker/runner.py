"""The process that runs node attempts: `python -m worker.runner REQUEST_FD REPLY_FD`.

Each Celery pool process keeps one runner, started once and reused (warm: graft, the user's
modules and their imports stay loaded between attempts), and hands it one attempt at a time
over a pipe (`worker.supervisor`). The runner is an ordinary, non-daemonic process in a
session of its own, so a task may start processes of its own (multiprocessing, joblib,
scikit-learn's n_jobs); the pool process watches its time, its memory and its cancellation,
and ends it by killing its whole process group. The runner dies with its pool process.

Messages are a 4-byte big-endian length, then JSON. A request:
    {"store": url, "store_options": {...}, "execution": id, "node": id, "attempt": n,
     "payload": {...}, "worker": name, "locks": {"url": redis url, "prefix": key prefix},
     "cache_signing_key": hex key or ""}
and the reply is the attempt's report message (`worker.attempt.run_attempt`). While an
attempt runs, `GRAFT_WORKER` in its environment names the worker (`mem-<tier>-<pid>@<host>`),
and what it writes to its standard output and error is kept in the store (`worker.output`).
The runner's environment lacks GRAFT_SECRET, the broker's and database's passwords and the
store's credentials (`worker.environment`): what it needs of them comes in each request (the
store's fsspec storage options, credentials included: `sdk.values.store_access`).
Each attempt starts in the runner's working folder (`worker.folders`), emptied after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import struct
import sys
from typing import Any, BinaryIO

from sdk.values.store import open_store, set_default_store
from sdk.wire.cache_lock import CacheLocks
from worker import folders
from worker.attempt import run_attempt
from worker.output import OutputCapture

_HEADER = struct.Struct(">I")
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def read_message(stream: BinaryIO) -> Any:
    """The next message, or None when the other end closed the pipe."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data)


def write_message(stream: BinaryIO, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":")).encode()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the pool process that started it dies,
    and to make it the parent of any process a task starts that outlives its own parent (so
    that the pool process sees every process an attempt left among the runner's children)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() == 1:  # the parent died before the request above took effect
        os._exit(1)


def _reset_peak() -> None:
    """Start this process's peak resident memory (VmHWM) afresh for the next attempt."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak() -> int:
    """This process's peak resident bytes since `_reset_peak` (0 where /proc lacks it)."""
    with contextlib.suppress(OSError, ValueError, IndexError), \
            open("/proc/self/status", "rb") as fh:
        status = fh.read()  # one read, no line decoding: this runs after every attempt
        at = status.find(b"\nVmHWM:")
        if at >= 0:
            return int(status[at + 7:status.index(b"\n", at + 1)].split()[0]) * 1024
    return 0


def _reap() -> None:
    """Collect the exit status of every child that ended (adopted orphans included)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass


def _empty(folder: str) -> None:
    """Remove what an attempt left behind, so the next one starts in an empty folder."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Run attempts until the pool process closes the request pipe."""
    locks: dict[tuple[str, str], CacheLocks] = {}
    capture = OutputCapture()
    workdir, _lock = folders.make()  # locked until this process ends, however it ends
    os.chdir(workdir)
    try:
        while True:
            request = read_message(requests)
            if request is None:
                return
            store = open_store(request["store"], request.get("store_options") or {})
            set_default_store(store)  # what the task's own conversions use
            where = request.get("locks") or {}
            lock_id = (str(where.get("url") or ""), str(where.get("prefix") or ""))
            if lock_id[0] and lock_id not in locks:
                locks[lock_id] = CacheLocks(*lock_id)
            os.environ["GRAFT_WORKER"] = str(request.get("worker") or "")
            _reset_peak()
            try:
                with capture.attempt(store, request["execution"], request["node"],
                                     request["attempt"]):
                    reply = run_attempt(store, request["execution"], request["node"],
                                        request["attempt"], request["payload"],
                                        worker=request.get("worker", ""),
                                        locks=locks.get(lock_id),
                                        cache_signing_key=bytes.fromhex(
                                            request.get("cache_signing_key") or "") or None)
            finally:
                os.chdir(workdir)
                _empty(workdir)
                _reap()
            reply["peak_memory_bytes"] = _peak()
            write_message(replies, reply)
    finally:
        os.chdir("/")
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal goes to the worker
    with os.fdopen(int(argv[1]), "rb") as requests, os.fdopen(int(argv[2]), "wb") as replies:
        serve(requests, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
