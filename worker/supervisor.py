"""A pool process's side of running attempts: it hands each attempt to its runner process
(`worker.runner`) and watches it until the report comes back.

While an attempt runs, the pool process:
- stops it at its `timeout` (the runner's own alarm first; a task stuck in C code is killed a
  grace period later), failing it as `TaskTimeout` (retried per the task's `retries`);
- holds it to its memory limit (its `limits.mem`, else its request, else its tier's size), by
  the resident memory of the runner (every 50 ms) and of every process the task started
  (their proportional set size, so that pages they share count once; every 0.5 s): going
  over kills them and fails the attempt as `OutOfMemory`, naming the limit and the tier;
- kills it when the scheduler gives it up (GIVE_UP, a real-time signal from the lease thread)
  and returns without a report, and when an operator terminates it (Flower's Terminate,
  `celery control revoke --terminate`: the worker sends TERMINATE instead of SIGTERM), failing
  it as `Terminated`, which is not retried;
- records its peak resident memory, which the report carries;
- when the runner dies on its own, tells the kernel's out-of-memory killer from any other
  killer by the kernel's OOM-kill counts (`worker.oom`), read before the attempt and after
  its death: `OutOfMemory` only when they rose (`sdk.model.failures.process_ended`).

Killing means SIGKILL to the runner's process group, then removing the runner's working
folder (`worker.folders`); the next attempt starts a new runner.
So does a runner whose attempt left processes running (joblib keeps its workers for reuse)
or that holds more than half its tier's size after an attempt (CPython keeps memory it has
freed): the next attempt starts alone, and is not charged for what this one left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdk.model.errors import GraftError
from sdk.model.failures import KillEvidence, process_ended
from sdk.model.report import Report
from sdk.model.resources import parse_memory
from sdk.model.spec import node_from_json
from sdk.wire.keys import queue_tier
from sdk.wire.messages import report_message
from worker import folders, oom
from worker.environment import task_environment
from worker.runner import read_message, write_message

log = logging.getLogger("graft.worker")

SAMPLE_S = 0.05  # how often memory, the deadline and the signals are looked at
TREE_EVERY = 10  # the runner's own memory every sample, its children's every 10th
TIMEOUT_GRACE_S = 2.0  # after the runner's own alarm, before the kill
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Limits:
    """What one attempt is held to: seconds (None: no timeout) and bytes (None: no limit),
    and the tier named in errors (with its size, when the queue names one)."""

    timeout_s: float | None
    memory_bytes: int | None
    tier: str
    tier_bytes: int | None = None


# Real-time signals, which neither Celery nor billiard use (billiard's soft time limit is
# SIGUSR1, and SIGTERM stays the pool's own shutdown signal).
GIVE_UP = signal.SIGRTMIN + 6
TERMINATE = signal.SIGRTMIN + 7


class _Signals:
    """What the pool process was told while an attempt ran."""

    given_up = False
    terminated = False


def _on_give_up(signum: int, frame: Any) -> None:
    _Signals.given_up = True


def _on_terminate(signum: int, frame: Any) -> None:
    _Signals.terminated = True


def install_signals() -> None:
    """Take GIVE_UP and TERMINATE in this pool process (again before each attempt: nothing
    else may have them)."""
    signal.signal(GIVE_UP, _on_give_up)
    signal.signal(TERMINATE, _on_terminate)


@dataclass(frozen=True)
class Died:
    """How a runner that died on its own ended: its exit status (negative: the signal that
    killed it; None: not read), and what the pool process knows of who killed it."""

    exitcode: int | None
    evidence: KillEvidence


class Runner:
    """The warm runner process of this pool process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._given_up: Callable[[], bool] | None = None
        self._requests: Any = None
        self._replies: Any = None
        self._oom_before: tuple[int | None, int | None] = (None, None)
        self._last_bytes = 0  # the attempt's last memory sample

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.stop()
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.runner", str(req_r), str(rep_w)],
            pass_fds=(req_r, rep_w), start_new_session=True, stdin=subprocess.DEVNULL,
            env=task_environment(os.environ))
        os.close(req_r)
        os.close(rep_w)
        self._requests = os.fdopen(req_w, "wb")
        self._replies = os.fdopen(rep_r, "rb")

    def stop(self) -> None:
        """Kill the runner and everything it started, and remove its working folder (a
        runner killed cannot)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            if self.proc.returncode is not None:  # else the next worker start removes it
                folders.remove_of(self.proc.pid)
        for stream in (self._requests, self._replies):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.proc, self._requests, self._replies = None, None, None

    def run(self, request: dict[str, Any], limits: Limits,
            given_up: Callable[[], bool] | None = None) -> tuple[str, Any, int]:
        """Run one attempt: ("reply", report message, peak bytes), or (what ended it, detail,
        peak bytes) for "timeout", "memory" (detail: bytes used), "given_up", "terminated"
        and "died" (detail: `Died`). On GIVE_UP, `given_up()` says whether it is this
        attempt the scheduler gave up (the signal names no attempt; one meant for an attempt
        this process ran before is ignored)."""
        self._given_up = given_up
        self.start()
        assert self.proc is not None
        install_signals()
        _Signals.given_up = _Signals.terminated = False
        self._oom_before, self._last_bytes = oom.read(), 0
        try:
            write_message(self._requests, request)
            return self._watch(limits)
        except (BrokenPipeError, OSError):
            return self._died(limits, 0)

    def _watch(self, limits: Limits) -> tuple[str, Any, int]:
        assert self.proc is not None
        started = time.monotonic()
        deadline = None if limits.timeout_s is None else \
            started + limits.timeout_s + TIMEOUT_GRACE_S
        fd = self._replies.fileno()
        peak, tick = 0, 0
        while True:
            ready, _, _ = select.select([fd], [], [], SAMPLE_S)
            if ready:
                reply = read_message(self._replies)
                if reply is None:
                    return self._died(limits, peak)
                if _has_children(self.proc.pid) or (
                        limits.tier_bytes is not None
                        and _rss(self.proc.pid) > limits.tier_bytes // 2):
                    self.stop()  # a fresh runner for the next attempt
                return "reply", reply, peak
            used = _memory(self.proc.pid, whole_tree=tick % TREE_EVERY == 0)
            tick += 1
            peak = max(peak, used)
            self._last_bytes = used or self._last_bytes  # a dead runner's sample is 0
            if _Signals.given_up:
                _Signals.given_up = False
                if self._given_up is None or self._given_up():
                    return self._ended("given_up", None, peak)
                log.info("GIVE_UP ignored: the attempt this process runs was not given up")
            if _Signals.terminated:
                return self._ended("terminated", None, peak)
            if limits.memory_bytes is not None and used > limits.memory_bytes:
                return self._ended("memory", used, peak)
            if deadline is not None and time.monotonic() > deadline:
                return self._ended("timeout", None, peak)
            if self.proc.poll() is not None:
                return self._died(limits, peak)

    def _ended(self, why: str, detail: Any, peak: int) -> tuple[str, Any, int]:
        self.stop()
        return why, detail, peak

    def _died(self, limits: Limits, peak: int) -> tuple[str, Any, int]:
        """The runner died on its own: its exit status, and whether the kernel's OOM killer
        killed a process in the worker's cgroup, or on the machine, while the attempt ran."""
        exitcode = self._exit_status()
        self.stop()
        cgroup, machine = oom.since(self._oom_before)
        evidence = KillEvidence(cgroup, machine, self._last_bytes, limits.memory_bytes)
        return "died", Died(exitcode, evidence), peak

    def _exit_status(self) -> int | None:
        if self.proc is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout=1)
        return None


def _memory(pid: int, whole_tree: bool) -> int:
    """Resident bytes of process `pid`, or with `whole_tree` the proportional set size of
    every process in its group (the runner leads its own session, so the group is the task
    and what it started; shared pages are split among those sharing them)."""
    if not whole_tree:
        return _rss(pid)
    return sum(_pss(member) or _rss(member) for member in _group(pid))


def _has_children(pid: int) -> bool:
    """Whether process `pid` has live children (cheap: its threads' `children` files; a scan
    of its process group where the kernel lacks them)."""
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/children", "rb") as fh:
                for child in fh.read().split():
                    if _rss(int(child)) > 0:  # a zombie holds no memory and is not counted
                        return True
    except FileNotFoundError:
        return _group(pid) != [pid]
    except OSError:
        return False
    return False


def _group(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (zombies left out)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":  # fields 5 and 3: group, state
            members.append(int(entry.name))
    return sorted(members)


def _pss(pid: int) -> int:
    """Proportional set size of a process (0 where smaps_rollup is missing)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def failed_message(eid: str, node: str, attempt: int, token: str, why: str, detail: Any,
                   limits: Limits, worker: str) -> dict[str, Any] | None:
    """The report of an attempt its runner did not finish, or None when it was given up
    (the scheduler expects no report of it)."""
    if why == "given_up":
        return None
    died = detail if why == "died" and isinstance(detail, Died) else None
    failure = process_ended(
        f"attempt {attempt} of node {node!r}", why,
        exitcode=died.exitcode if died else None, evidence=died.evidence if died else None,
        cause="its exit status was not read", timeout_s=limits.timeout_s,
        used=_mib(detail) if why == "memory" else "",
        limit=f"{_mib(limits.memory_bytes or 0)} (tier {limits.tier})")
    return report_message(eid, token, Report.failed(node, attempt, failure, worker=worker))


def limits_of(payload: dict[str, Any], queue: str) -> Limits:
    """An attempt's timeout and memory limit: its own (`limits.mem`, else its request), else
    its tier's size (the queue it came from, `mem-<tier>`)."""
    tier = queue_tier(queue)
    try:
        spec = node_from_json(payload["spec"])
        timeout, memory = spec.timeout_s, spec.memory_bytes
    except (GraftError, KeyError, TypeError, ValueError):
        timeout, memory = None, None  # the runner reports the malformed spec
    size = None
    with contextlib.suppress(GraftError):
        size = parse_memory(tier, what=f"tier {tier!r}")
    return Limits(timeout, memory if memory is not None else size, tier, size)
