"""A worker's cost per attempt: a real `graft worker --tier 256Mi -c 2` fed N no-op attempts.

    python bench/worker_attempt.py                           # this tree only
    python bench/worker_attempt.py --tree old=/tmp/old --tree new=.   # compare two trees

Each tree's worker runs from that tree (its folder first on PYTHONPATH), on a database of its
own (tier queues are not prefixed) of one private redis-server (port 6398 by default, started
and stopped here). A round builds N attempts as the scheduler does
(`scheduler.dispatch.make_dispatch` of `bench_workflows.noop`, inline inputs, signed with
`--secret`), sends them in one `CeleryDispatcher` batch and waits until N reports are on the
control stream. It records the wall time from the send to the last report, and the CPU
seconds (user + system, from /proc) that the worker's processes (main process, pool
processes, runners) and redis-server spent meanwhile. Workers are started once and warmed
up; rounds alternate between trees (who goes first alternates too). Prints the median µs per
attempt of each, and the ratios to the first tree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import redis  # noqa: E402
from bench_workflows import chain_warmup_wf  # noqa: E402

from scheduler.celery_dispatch import CeleryDispatcher  # noqa: E402
from scheduler.dispatch import make_dispatch  # noqa: E402
from sdk.model.config import Settings  # noqa: E402
from sdk.model.runs import NodeRun  # noqa: E402
from sdk.values.store import MemoryStore  # noqa: E402
from sdk.wire.control import shard_of  # noqa: E402
from sdk.wire.keys import Keys  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def split(main: int, pids: list[int]) -> dict[str, list[int]]:
    """The worker's processes by role: its main process, pool processes, runners."""
    roles: dict[str, list[int]] = {"main": [], "pool": [], "runner": []}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                runner = b"worker.runner" in fh.read()
        except OSError:
            continue
        roles["main" if pid == main else "runner" if runner else "pool"].append(pid)
    return roles


def tree(root: int) -> list[int]:
    """Process `root` and its descendants (runners lead sessions of their own)."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    parent[int(entry.name)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(child for child, ppid in parent.items() if ppid == pid)
    return found


class Worker:
    def __init__(self, name: str, tree: Path, url: str, prefix: str, tmp: Path,
                 secret: str, concurrency: int):
        self.name, self.prefix = name, prefix
        home = tmp / name
        env = dict(os.environ)
        env.update({"GRAFT_BROKER_URL": url, "GRAFT_HOME": str(home),
                    "GRAFT_STORE": str(home / "store"), "GRAFT_KEY_PREFIX": prefix,
                    "GRAFT_LOCAL_CACHE": "false", "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'bench'}"})
        env.pop("GRAFT_SECRET", None)
        if secret:
            env["GRAFT_SECRET"] = secret
        self.log = tmp / f"{name}.log"
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "sdk.cli", "worker", "--tier", "256Mi", "-c",
                 str(concurrency)],
                cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.settings = Settings(broker_url=url, key_prefix=prefix,
                                 secret=secret.encode() if secret else None)
        self.dispatcher = CeleryDispatcher(self.settings)
        self.redis = redis.Redis.from_url(url)
        self.spec = chain_warmup_wf.compile().nodes[0]
        self.store = MemoryStore()
        self.round = 0

    def run(self, n: int) -> tuple[float, float, float, dict[str, float]]:
        """Wall seconds, worker CPU seconds, redis CPU seconds for n attempts, and the
        worker's CPU seconds by role."""
        self.round += 1
        eid = f"bench{self.round:04d}{os.getpid()}"
        batch = [make_dispatch(self.settings, self.store, eid,
                               NodeRun(f"n-{i}", self.spec, None, {}),
                               {"x": {"val": {"v": i}}}, "t" * 43) for i in range(n)]
        stream = Keys(self.prefix).control(shard_of(eid))
        self.redis.delete(stream)
        roles = split(self.popen.pid, tree(self.popen.pid))
        redis_pid = int(self.redis.info("server")["process_id"])
        before = {role: cpu_s(pids) for role, pids in roles.items()}
        rcpu0 = cpu_s([redis_pid])
        t0 = time.perf_counter()
        self.dispatcher.send(batch)
        deadline = time.monotonic() + 60 + n * 0.05
        while self.redis.xlen(stream) < n:
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: {self.redis.xlen(stream)} of {n} reports; "
                                 f"see {self.log}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        time.sleep(0.2)  # let the worker finish acknowledging the last ones
        if split(self.popen.pid, tree(self.popen.pid)) != roles:
            print(f"{self.name}: worker processes changed during the round", flush=True)
        by_role = {role: cpu_s(pids) - before[role] for role, pids in roles.items()}
        rcpu = cpu_s([redis_pid]) - rcpu0
        self.redis.delete(stream)
        return wall, sum(by_role.values()), rcpu, by_role

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(timeout=20)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[],
                        help="NAME=PATH of a graft tree whose worker to run (repeatable; "
                             "default: this tree)")
    parser.add_argument("-n", "--attempts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-c", "--concurrency", type=int, default=2)
    parser.add_argument("--port", type=int, default=6398)
    parser.add_argument("--secret", default="", help="GRAFT_SECRET for workers and messages")
    parser.add_argument("--profile", metavar="FILE",
                        help="py-spy (raw, busy samples) the first tree's worker and its "
                             "children during the measured rounds, into FILE")
    args = parser.parse_args()
    trees = [(t.split("=", 1)[0], Path(t.split("=", 1)[1]).resolve()) for t in args.tree] \
        or [("this", ROOT)]
    tmp = Path(tempfile.mkdtemp(prefix="graft-bench-worker-"))
    subprocess.run(["redis-server", "--port", str(args.port), "--save", "", "--appendonly",
                    "no", "--daemonize", "yes", "--dir", str(tmp),
                    "--pidfile", str(tmp / "redis.pid")], check=True)
    url = f"redis://127.0.0.1:{args.port}"
    for _ in range(100):
        try:
            redis.Redis.from_url(url + "/0").ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    workers: list[Worker] = []
    results: dict[str, list[tuple[float, ...]]] = {}
    try:
        for i, (name, tree) in enumerate(trees):
            workers.append(Worker(name, tree, f"{url}/{i}", "graftbench", tmp, args.secret,
                                  args.concurrency))
        for w in workers:
            w.run(100)  # waits for the worker to come up, and warms its runners
        spy = None
        if args.profile:
            spy = subprocess.Popen(["py-spy", "record", "-p", str(workers[0].popen.pid),
                                    "--subprocesses", "-r", "200", "-f", "raw", "-o",
                                    args.profile], stdout=subprocess.DEVNULL)
            time.sleep(1.0)
        for r in range(args.rounds):
            order = workers if r % 2 == 0 else workers[::-1]
            for w in order:
                wall, cpu, rcpu, by_role = w.run(args.attempts)
                results.setdefault(w.name, []).append(
                    (wall, cpu, rcpu, by_role["main"], by_role["pool"], by_role["runner"]))
                us = 1e6 / args.attempts
                print(f"round {r + 1} {w.name:>8}: wall {wall * us:7.0f} µs/attempt, worker "
                      f"CPU {cpu * us:6.0f} µs (main {by_role['main'] * us:.0f}, pool "
                      f"{by_role['pool'] * us:.0f}, runner {by_role['runner'] * us:.0f}), "
                      f"redis CPU {rcpu * us:5.0f} µs", flush=True)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    finally:
        for w in workers:
            w.stop()
        redis.Redis.from_url(url + "/0").shutdown(nosave=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nmedians of {args.rounds} rounds of {args.attempts} attempts, µs per attempt")
    base = None
    for name, runs in results.items():
        med = [statistics.median(r[k] for r in runs) / args.attempts * 1e6 for k in range(6)]
        base = base or med
        ratios = " ".join(f"{m / b:.2f}" for m, b in zip(med, base))
        print(f"  {name:>8}: wall {med[0]:6.0f}  worker CPU {med[1]:5.0f}  redis CPU "
              f"{med[2]:4.0f}  main {med[3]:4.0f}  pool {med[4]:4.0f}  runner {med[5]:4.0f}"
              f"   (ratios to {trees[0][0]}: {ratios})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
