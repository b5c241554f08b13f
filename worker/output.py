"""An attempt's standard output and error, captured where the runner writes them and kept in
the store beside its log records (`logs/<execution>/<node>/<attempt>.stdout|.stderr`).

The capture is at the file descriptors, so what processes the task starts write is kept
too. While the attempt runs, what was written is put in the store every `every_s` seconds
(`graft logs --follow` reads it there), and once more at its end. Only the last `limit_bytes`
of each stream are kept. A runner keeps one `OutputCapture` (two files and one thread) for
all its attempts, so that an attempt pays a few system calls for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from sdk.model.errors import StoreError
from sdk.model.store import Store
from sdk.runtime.context import output_key

STREAMS = (("stdout", 1), ("stderr", 2))
TRUNCATED = b"[graft: earlier output left out]\n"


@dataclass
class _Attempt:
    store: Store
    keys: dict[str, str]
    kept: dict[str, int] = field(default_factory=dict)


class OutputCapture:
    """`with capture.attempt(store, execution, node, attempt):` around each attempt."""

    def __init__(self, every_s: float = 2.0, limit_bytes: int = 2 * 2**20):
        self.every_s = every_s
        self.limit_bytes = limit_bytes
        self._files = {name: tempfile.TemporaryFile(prefix=f"graft-{name}-")  # noqa: SIM115
                       for name, _ in STREAMS}
        self._lock = threading.Lock()
        self._current: _Attempt | None = None
        threading.Thread(target=self._keep_going, name="graft-output", daemon=True).start()

    @contextlib.contextmanager
    def attempt(self, store: Store, execution: str, node: str, attempt: int) -> Iterator[None]:
        _flush()
        saved = {}
        for name, fd in STREAMS:
            f = self._files[name]
            os.ftruncate(f.fileno(), 0)
            os.lseek(f.fileno(), 0, os.SEEK_SET)  # the offset fd 1 or 2 will share
            saved[fd] = os.dup(fd)
            os.dup2(f.fileno(), fd)
        current = _Attempt(store, {name: output_key(execution, node, attempt, name)
                                   for name, _ in STREAMS})
        with self._lock:
            self._current = current
        try:
            yield
        finally:
            _flush()
            with self._lock:
                self._current = None
                for fd, old in saved.items():
                    os.dup2(old, fd)
                    os.close(old)
                self._keep(current)

    def _keep_going(self) -> None:
        stop = threading.Event()  # never set: the thread lives as long as the runner
        while not stop.wait(self.every_s):
            with self._lock:
                if self._current is not None:
                    self._keep(self._current)

    def _keep(self, current: _Attempt) -> None:
        """Put what each stream holds in the store, if it grew since last time."""
        for name, f in self._files.items():
            size = os.fstat(f.fileno()).st_size
            if size == current.kept.get(name, 0):
                continue
            start = max(0, size - self.limit_bytes)
            data = os.pread(f.fileno(), size - start, start)
            with contextlib.suppress(StoreError):  # kept next time, or lost with the store
                current.store.put(current.keys[name], (TRUNCATED if start else b"") + data)
                current.kept[name] = size


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()

