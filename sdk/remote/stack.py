"""A local graft stack: the scheduler plus one worker per memory tier, as child processes,
and with `graft up` the graph page (and Flower when asked).

`graft up` starts a worker for every tier; `graft run --remote --up` only for the tiers its
workflow uses (`tiers_used`), the machine's cores shared among them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from sdk.model.config import Settings, data_dir
from sdk.model.resources import format_memory
from sdk.model.spec import GraphSpec


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def worker_sizes(settings: Settings, tiers: Iterable[int] | None = None
                 ) -> list[tuple[int, int]]:
    """(tier, concurrency) for `tiers` (default: every tier), sized to this machine: the
    cores shared among the tiers (one process each at least), and no more memory than the
    machine has."""
    chosen = sorted(set(settings.tiers if tiers is None else tiers))
    cores = os.cpu_count() or 1
    memory = machine_memory_bytes()
    share = max(1, cores // max(1, len(chosen)))
    return [(tier, max(1, min(share, memory // tier))) for tier in chosen]


def tiers_used(settings: Settings, spec: GraphSpec, memories: Iterable[int | None] = ()
               ) -> list[int]:
    """The tiers that `spec`'s task nodes need, and those of `memories` (the memory limits
    of tasks a dynamic may call, which the spec cannot know before it runs). A need larger
    than every tier is left out: submitting names it."""
    needed = [node.memory_bytes for _, node in spec.walk() if node.kind != "workflow"]
    tiers = {settings.tier_for(m) for m in (*needed, *memories)} - {None}
    return sorted(tiers) or settings.tiers[:1]


def stack_commands(settings: Settings, tiers: Iterable[int] | None = None,
                   ui_port: int | None = None, flower_port: int | None = None
                   ) -> list[list[str]]:
    """The stack's processes: the scheduler, a worker per tier, and the graph page on
    `ui_port` and Flower on `flower_port` when given (both on 127.0.0.1)."""
    graft = [sys.executable, "-m", "sdk.cli"]
    commands = [[*graft, "scheduler"]]
    for tier, concurrency in worker_sizes(settings, tiers):
        commands.append([*graft, "worker", "--tier", format_memory(tier),
                         "--memory", format_memory(tier * concurrency),
                         "--concurrency", str(concurrency)])
    if ui_port is not None:
        commands.append([*graft, "ui", "--host", "127.0.0.1", "--port", str(ui_port)])
    if flower_port is not None:
        commands.append([*graft, "flower", "--address", "127.0.0.1", "--port",
                         str(flower_port)])
    return commands


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on `host:port` yet."""
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def page_url(execution_id: str | None = None) -> str:
    """Where the graph page is reached (`GRAFT_UI_URL`, else `graft ui`'s default address),
    and an execution's page there."""
    base = (os.environ.get("GRAFT_UI_URL") or "").rstrip("/") or \
        f"http://127.0.0.1:{os.environ.get('GRAFT_UI_PORT') or 8080}"
    return base if execution_id is None else f"{base}/executions/{execution_id}"


class Stack:
    """Start with `start()`, stop with `stop()` (SIGTERM, then SIGKILL after `grace_s`)."""

    def __init__(self, settings: Settings, log_path: Path | None = None,
                 tiers: Iterable[int] | None = None, ui_port: int | None = None,
                 flower_port: int | None = None):
        self.settings = settings
        self.log_path = log_path
        self.tiers = None if tiers is None else list(tiers)
        self.ports = (ui_port, flower_port)
        self.procs: list[subprocess.Popen[bytes]] = []
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        out = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115
            out = self._log
        for cmd in stack_commands(self.settings, self.tiers, *self.ports):
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
