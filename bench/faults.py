"""Fault recovery times on a real stack: how long graft takes to notice and repair each fault.

Three measurements, each on its own throwaway redis-server (tests/servers.py) with SQLite state:

* worker kill: a node sleeps 2 s on one of two 256Mi workers; its worker's whole process
  group is SIGKILLed. Measured: kill -> the scheduler declares the attempt lost, and kill -> the
  node starts again on the other worker. Repeated `--kills` times (default 5), medians.
* scheduler kill: a 60-node fan-out runs; the scheduler is SIGKILLed and a new one started at
  once (a restart on the same host takes the dead holder's lock at once); and, separately, a
  standby started beforehand takes over. Measured: kill -> the successor serves, and kill -> the
  next node finishes.
* emptied Redis: the same fan-out; Redis is restarted empty. Measured: restart -> the next node
  finishes, and restart -> the execution ends.

    python bench/faults.py                  # about two minutes
    python bench/faults.py --kills 9

Run it on an otherwise idle machine: the figures are wall-clock times of real processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from servers import RedisServer  # noqa: E402
from workflows import faults  # noqa: E402


class Stack:
    """A scheduler and workers on `redis`, each process in its own session."""

    def __init__(self, redis: RedisServer, root: Path):
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GRAFT_")}
        self.env.update({"GRAFT_BROKER_URL": redis.url + "/0", "GRAFT_HOME": str(root / "home"),
                         "GRAFT_STORE": str(root / "store"), "GRAFT_CACHE_DIR": str(root / "c"),
                         "GRAFT_DATABASE_URL": f"sqlite:///{root / 'state.db'}",
                         "PYTHONUNBUFFERED": "1"})
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("GRAFT_")})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.count = 0

    def spawn(self, name: str, *args: str, ready: str) -> subprocess.Popen[bytes]:
        self.count += 1
        log = self.root / f"{self.count:02d}-{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "sdk.cli", *args], env=self.env,
                                    cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name], self.logs[name] = proc, log
        wait_for(lambda: ready in log.read_text(errors="replace"), 60, f"{name} to start")
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs.clear()

    def client(self) -> Any:
        from sdk.remote.client import Client

        return Client()


@contextlib.contextmanager
def running_stack(workers: dict[str, int]) -> Iterator[tuple[Stack, RedisServer, Path]]:
    """A fresh Redis, a scheduler and `workers` ({name: concurrency}, all 256Mi), torn down
    after the block."""
    with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis:
        redis.start()
        stack = Stack(redis, Path(tmp))
        try:
            stack.spawn("scheduler", "scheduler", ready="scheduler serving")
            for name, concurrency in workers.items():
                stack.spawn(name, "worker", "--tier", "256Mi", "-c", str(concurrency),
                            ready="ready.")
            yield stack, redis, Path(tmp)
        finally:
            stack.stop()


def wait_for(predicate: Any, timeout_s: float, what: str, every_s: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def worker_kill() -> tuple[float, float]:
    """(kill -> attempt declared lost, kill -> node running again), in seconds."""
    with running_stack({"worker-a": 1, "worker-b": 1}) as (stack, _redis, tmp):
        marks = tmp / "marks"
        execution = stack.client().submit(faults.marked, path=str(marks), seconds=2.0)
        first = wait_for(lambda: lines(marks), 30, "the node to start")[0]
        parent = int(first.split()[2])  # the worker: the task runs in its runner
        [holder] = [n for n, p in stack.procs.items() if p.pid == parent]
        log = stack.logs["scheduler"]
        stack.kill(holder)
        killed = time.monotonic()
        wait_for(lambda: "is lost" in log.read_text(errors="replace"), 60, "loss")
        detect = time.monotonic() - killed
        wait_for(lambda: len(lines(marks)) >= 2, 60, "the node to run again")
        rerun = time.monotonic() - killed
        assert execution.wait(timeout=60) == 2
        return detect, rerun


def worker_kills(kills: int) -> tuple[list[float], list[float]]:
    detect, rerun = [], []
    for i in range(kills):
        lost, again = worker_kill()
        detect.append(lost)
        rerun.append(again)
        print(f"  kill {i + 1}: lost after {lost:.2f} s, running again after {again:.2f} s",
              flush=True)
    return detect, rerun


def _done(execution: Any) -> int:
    return int(execution.info().get("done", 0))


def scheduler_kill(standby: bool) -> tuple[float, float]:
    with running_stack({"worker": 2}) as (stack, _redis, _tmp):
        if standby:
            stack.spawn("standby", "scheduler", ready="standing by")
        execution = stack.client().submit(faults.fan_out, n=60, delay=0.2)
        wait_for(lambda: _done(execution) >= 5, 60, "progress")
        stack.kill("scheduler")
        killed = time.monotonic()
        before = _done(execution)
        if standby:
            log = stack.logs["standby"]
            wait_for(lambda: "scheduler serving" in log.read_text(errors="replace"), 30,
                     "the standby to serve")
        else:
            stack.spawn("successor", "scheduler", ready="scheduler serving")
        serving = time.monotonic() - killed
        wait_for(lambda: _done(execution) > before, 60, "progress after the kill")
        progress = time.monotonic() - killed
        assert execution.wait(timeout=120) == 60 * 61 // 2
        return serving, progress


def emptied_redis() -> tuple[float, float]:
    with running_stack({"worker": 2}) as (stack, redis, _tmp):
        execution = stack.client().submit(faults.fan_out, n=60, delay=0.2)
        wait_for(lambda: _done(execution) >= 5, 60, "progress")
        before = _done(execution)
        redis.restart_empty()
        emptied = time.monotonic()
        wait_for(lambda: _done(execution) > before, 120, "progress after the restart",
                 every_s=0.1)
        progress = time.monotonic() - emptied
        assert execution.wait(timeout=180) == 60 * 61 // 2
        return progress, time.monotonic() - emptied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=5, help="worker kills (default 5)")
    args = parser.parse_args()
    print(f"worker SIGKILL x{args.kills}:", flush=True)
    detect, rerun = worker_kills(args.kills)
    print(f"  median: lost after {statistics.median(detect):.2f} s, running again after "
          f"{statistics.median(rerun):.2f} s (lease TTL 10 s)")
    for standby in (False, True):
        serving, progress = scheduler_kill(standby)
        how = "a standby takes over" if standby else "restarted at once"
        print(f"scheduler SIGKILL, {how}: serving after {serving:.2f} s, next node done "
              f"after {progress:.2f} s")
    progress, done = emptied_redis()
    print(f"Redis restarted empty: next node done after {progress:.2f} s, 60-node execution "
          f"done {done:.2f} s after the restart")


if __name__ == "__main__":
    main()
