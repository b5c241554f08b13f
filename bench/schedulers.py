"""Throughput with one scheduler and with two, on one PostgreSQL and one Redis.

A wave is E executions of `fan_wf(n)` (a `@dynamic` fan-out of n no-op nodes), submitted at
once by this process; its time runs from the first submit to the last execution's outputs
in hand (checked). The same stack serves every wave: one graft worker of `-c` processes, the
first scheduler, and for the two-scheduler waves a second one, started before the wave and
given its half of the shards (scheduler/shards.py) before the clock starts, then stopped
after it (SIGTERM: it gives its shards back, and the first takes them again). One and two
alternate, `--repeats` times each. The report gives the medians, nodes per second, the ratio
two / one, and the schedulers' CPU seconds per node (both added up).

    python bench/schedulers.py                       # 20 executions x 50 nodes, repeats 3
    python bench/schedulers.py --executions 40 --nodes 100 -c 4
    python bench/schedulers.py --database-url postgresql+psycopg://user@host/db

Without `--database-url` it starts a throwaway PostgreSQL of its own (tests/servers.py), and
without `--redis-url` a throwaway redis-server. A 2-core machine runs the worker pool, both
schedulers, Redis and PostgreSQL on the same two cores: the figure says how much a second
scheduler gains or costs there, not on a cluster with a core per scheduler.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    BenchError,
    Processes,
    Session,
    cpu_s,
    run_session,
    start_graft_worker,
    start_scheduler,
)

ROOT = Path(__file__).resolve().parents[1]
SHARDS = 16


@dataclass
class Waves:
    seconds: dict[int, list[float]] = field(default_factory=lambda: {1: [], 2: []})
    cpu: dict[int, list[float]] = field(default_factory=lambda: {1: [], 2: []})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", "-e", type=int, default=20)
    parser.add_argument("--nodes", "-n", type=int, default=50, help="nodes per execution")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", "-c", type=int, default=2)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL (default: a throwaway server of its own)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per wave")
    parser.add_argument("--keep-logs", action="store_true")
    return parser.parse_args()


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """`url`, or a database on a throwaway PostgreSQL stopped afterwards."""
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import PostgresServer

    server = PostgresServer().start()
    try:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        server.create_database(name)
        yield server.url_for(name)
    finally:
        server.stop()


def holders(database_url: str) -> dict[str, int]:
    """Scheduler -> how many shards it holds (nothing before the first one migrated)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT owner, count(*) FROM graft_shards WHERE owner "
                                     "IS NOT NULL GROUP BY owner")).all()
    except ProgrammingError:
        return {}
    finally:
        engine.dispose()
    return {owner.split("/")[0]: count for owner, count in rows}


def wait_for_shards(database_url: str, schedulers: int, procs: Processes) -> None:
    deadline = time.monotonic() + 60
    while True:
        held = holders(database_url)
        if len(held) == schedulers and sum(held.values()) == SHARDS \
                and max(held.values()) <= -(-SHARDS // schedulers):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"shards not split among {schedulers} schedulers: {held}")
        procs.check_alive()
        time.sleep(0.2)


def wave(args: argparse.Namespace, procs: Processes) -> float:
    """Submit the executions, wait for every one; seconds from the first submit."""
    import bench_workflows as wf

    from sdk.remote.client import FINAL, Client

    client = Client()
    expected = list(range(1, args.nodes + 1))
    started = time.perf_counter()
    runs = [client.submit(wf.fan_wf, n=args.nodes) for _ in range(args.executions)]
    deadline = time.monotonic() + args.timeout
    waiting = list(runs)
    while waiting:
        info = client.board.execution(waiting[0].id)
        if info is not None and info["status"] in FINAL:
            if waiting[0].outputs() != expected:
                raise BenchError(f"execution {waiting[0].id}: wrong outputs")
            waiting.pop(0)
            continue
        if time.monotonic() > deadline:
            raise BenchError(f"{len(waiting)} executions not done after {args.timeout} s")
        procs.check_alive()
        time.sleep(0.01)
    return time.perf_counter() - started


def body(args: argparse.Namespace, database_url: str, session: Session) -> Waves:
    procs, env = session.procs, dict(session.env, GRAFT_DATABASE_URL=database_url)
    first = start_scheduler(procs, env)
    start_graft_worker(procs, env, args.concurrency)
    wait_for_shards(database_url, 1, procs)
    os.environ["GRAFT_DATABASE_URL"] = database_url
    args_warm = argparse.Namespace(**{**vars(args), "executions": 2, "nodes": 5})
    wave(args_warm, procs)
    waves = Waves()
    order = [1, 2] * args.repeats
    for i, count in enumerate(order):
        second = None
        if count == 2:
            second = start_scheduler(procs, env, name=f"graft-scheduler-2-{i}")
            wait_for_shards(database_url, 2, procs)
        pids = [first.popen.pid] + ([second.popen.pid] if second else [])
        cpu_before = sum(cpu_s(pid) for pid in pids)
        seconds = wave(args, procs)
        cpu = sum(cpu_s(pid) for pid in pids) - cpu_before
        waves.seconds[count].append(seconds)
        waves.cpu[count].append(cpu)
        print(f"  {count} scheduler(s): {seconds:6.2f} s, scheduler CPU {cpu:6.2f} s",
              flush=True)
        if second is not None:
            procs.stop_one(second.name)
            wait_for_shards(database_url, 1, procs)
    return waves


def report(args: argparse.Namespace, waves: Waves) -> None:
    nodes = args.executions * (args.nodes + 1)
    one, two = (statistics.median(waves.seconds[k]) for k in (1, 2))
    print(f"\n{args.executions} executions x {args.nodes} nodes (+1 dynamic each), worker "
          f"-c {args.concurrency}, {platform.node()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; medians of {args.repeats}")
    for k, median in ((1, one), (2, two)):
        cpu = statistics.median(waves.cpu[k])
        print(f"  {k} scheduler(s): {median:6.2f} s, {nodes / median:7.1f} nodes/s, "
              f"scheduler CPU {1000 * cpu / nodes:.2f} ms/node")
    print(f"  two / one: time {two / one:.2f}x, throughput {one / two:.2f}x")


def main() -> int:
    args = parse_args()
    with postgres(args.database_url) as database_url:
        result: list[Waves] = []
        code = run_session(lambda session: result.append(body(args, database_url, session)),
                           redis_url=args.redis_url, redis_db_no=args.redis_db,
                           database_url=database_url, keep_logs=args.keep_logs)
        if code == 0:
            report(args, result[0])
        return code


if __name__ == "__main__":
    sys.exit(main())
