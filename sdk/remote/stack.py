"""A local graft stack: the scheduler plus one worker per memory tier, as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from sdk.model.config import Settings, data_dir
from sdk.model.resources import format_memory


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def worker_sizes(settings: Settings) -> list[tuple[int, int]]:
    """(tier, concurrency) per tier, sized to this machine: no more processes than cores,
    and no more memory than the machine has."""
    cores = os.cpu_count() or 1
    memory = machine_memory_bytes()
    return [(tier, max(1, min(cores, memory // tier))) for tier in settings.tiers]


def stack_commands(settings: Settings) -> list[list[str]]:
    graft = [sys.executable, "-m", "sdk.cli"]
    commands = [[*graft, "scheduler"]]
    for tier, concurrency in worker_sizes(settings):
        commands.append([*graft, "worker", "--tier", format_memory(tier),
                         "--memory", format_memory(tier * concurrency),
                         "--concurrency", str(concurrency)])
    return commands


class Stack:
    """Start with `start()`, stop with `stop()` (SIGTERM, then SIGKILL after `grace_s`)."""

    def __init__(self, settings: Settings, log_path: Path | None = None):
        self.settings = settings
        self.log_path = log_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        out = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115
            out = self._log
        for cmd in stack_commands(self.settings):
            self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=out,
                                               start_new_session=out is not None))

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self, grace_s: float = 20.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self._log is not None:
            self._log.close()


def default_log_path() -> Path:
    return data_dir() / "logs" / "stack.log"
