"""graft on PostgreSQL against graft on SQLite: the cluster bench's three shapes on two stacks
in one run, taking turns.

Both stacks run at once on a private redis-server (databases 9 and 10, flushed before and
after), each a scheduler and one 256Mi worker of `--concurrency` processes with its own
GRAFT_HOME and store. One keeps its state in SQLite (a file in its GRAFT_HOME, as a default
install does), the other in a PostgreSQL database made for the run and dropped after: on the
server of `--postgres` (default the machine's own, 127.0.0.1:5432, user postgres) or, with
`--private-postgres`, on a throwaway server of its own (tests/servers.py), whose durability is
off (fsync, synchronous_commit) and so tells the round trips apart from the disk's flushes.
After a warm-up run on each, the stacks take turns (who goes first alternates), `--repeats`
times per shape:

* chain: `bench_workflows.chain_wf`, 200 no-op tasks in sequence;
* fan-out: the dynamic `fan(n)` of `bench_workflows.fan_wf`, `--fanout` nodes;
* map: `map_task(noop)` of `bench_workflows.map_wf`, `--map-items` items.

A run's wall time goes from submit to the outputs in hand (status board polled every 5 ms);
every result is checked. It prints the medians, the ratio PostgreSQL / SQLite per shape, and
each scheduler's CPU seconds per shape (summed over the runs), which the machine's load moves
less than wall time.

    python bench/backends.py                        # repeats 3, fan-out 1,000, map 10,000
    python bench/backends.py --repeats 5 --only chain
    python bench/backends.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/backends.py --reference /tmp/graft-old   # and another checkout's scheduler

With `--reference DIR` a third stack runs on PostgreSQL (a database of its own) with the
scheduler of the checkout in DIR (`git worktree add /tmp/graft-old <commit>`), its worker this
checkout's: before and after a change to the scheduler's state, in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import uuid
from pathlib import Path

from harness import (
    BENCH,
    ROOT,
    BenchError,
    Session,
    cpu_s,
    flush,
    redis_db,
    run_session,
    stack_runners,
    start_graft_worker,
    start_scheduler,
    timed,
)
from s3_store import client_for

REFERENCE = "pg-reference"  # --reference: a third stack, PostgreSQL, another checkout's scheduler
SHAPES = ("chain", "fan", "map")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class Database:
    """A database made on the server of `admin_url` (any database of it) and dropped after."""

    def __init__(self, admin_url: str):
        from sqlalchemy.engine import make_url

        self.admin = make_url(admin_url)
        self.name = f"graft_bench_pg_{uuid.uuid4().hex[:8]}"
        self.url = self.admin.set(database=self.name).render_as_string(hide_password=False)

    def _run(self, statement: str) -> None:
        import psycopg

        url = self.admin.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)

    def create(self) -> Database:
        self._run(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def stack_env(session: Session, stack: str, database_url: str, db: int) -> dict[str, str]:
    """A stack's environment: its own Redis database, key prefix, home, store and state."""
    env = dict(session.env)
    home = session.tmp / f"home-{stack}"
    env.update({
        "GRAFT_BROKER_URL": redis_db(session.broker_url, db),
        "GRAFT_HOME": str(home),
        "GRAFT_STORE": str(home / "store"),
        "GRAFT_CACHE_DIR": str(session.tmp / f"cache-{stack}"),
        "GRAFT_KEY_PREFIX": f"graftbench-{stack}",
        "GRAFT_DATABASE_URL": database_url,
    })
    return env


def measure(args: argparse.Namespace, session: Session, envs: dict[str, dict[str, str]]
            ) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, float]]]:
    """Seconds per run (shape -> stack -> runs) and each scheduler's CPU seconds per shape
    (shape -> stack -> seconds over all its runs)."""
    import bench_workflows as wf

    stacks = tuple(envs)
    clients = {stack: client_for(env) for stack, env in envs.items()}
    pids = {stack: session.procs.find(f"{stack}-scheduler").popen.pid for stack in stacks}

    runner = stack_runners(clients, session.procs, args.timeout)
    fan_n, map_n = args.fanout, args.map_items
    shapes = {
        "chain": (f"chain x{wf.CHAIN_NODES}", {s: runner(s, wf.chain_wf) for s in stacks},
                  wf.CHAIN_NODES),
        "fan": (f"dynamic fan-out x{fan_n}", {s: runner(s, wf.fan_wf, n=fan_n) for s in stacks},
                list(range(1, fan_n + 1))),
        "map": (f"map_task x{map_n}", {s: runner(s, wf.map_wf, xs=list(range(map_n)))
                                       for s in stacks}, list(range(1, map_n + 1))),
    }
    chosen = {k: shapes[k] for k in args.only}
    times: dict[str, dict[str, list[float]]] = {name: {s: [] for s in stacks}
                                                 for name, _, _ in chosen.values()}
    cpu = {name: {s: 0.0 for s in stacks} for name, _, _ in chosen.values()}
    for rep in range(args.repeats):
        order = stacks[rep % len(stacks):] + stacks[:rep % len(stacks)]  # who goes first rotates
        for name, runners, expected in chosen.values():
            for stack in order:
                before = cpu_s(pids[stack])
                t = timed(f"{stack} {name} run {rep + 1}", runners[stack], expected)
                cpu[name][stack] += cpu_s(pids[stack]) - before
                times[name][stack].append(t)
                print(f"  run {rep + 1}/{args.repeats} {name:<24} {stack:<10} "
                      f"{t * 1000:8.0f} ms", flush=True)
    session.procs.check_alive()
    return times, cpu


def report(times: dict[str, dict[str, list[float]]], cpu: dict[str, dict[str, float]],
           args: argparse.Namespace, postgres: str) -> None:
    stacks = list(next(iter(times.values())))
    print()
    print(f"graft on PostgreSQL ({postgres}) vs on SQLite: concurrency {args.concurrency}, "
          f"{args.repeats} repeats, Python {platform.python_version()}, {os.cpu_count()} CPUs"
          + (f"; {REFERENCE}: PostgreSQL, the scheduler of {args.reference}"
             if args.reference else ""))
    others = stacks[1:]
    header = (f"{'shape':<24} " + " ".join(f"{s + ' ms':>15}" for s in stacks) + " "
              + " ".join(f"{s + '/sqlite':>19}" for s in others)
              + "   sched CPU s " + " ".join(f"{s:>12}" for s in stacks))
    print(header)
    print("-" * len(header))
    for name, runs in times.items():
        ms = {s: statistics.median(runs[s]) * 1000 for s in stacks}
        print(f"{name:<24} " + " ".join(f"{ms[s]:>15.0f}" for s in stacks) + " "
              + " ".join(f"{ms[s] / ms['sqlite']:>18.2f}x" for s in others)
              + "   sched CPU s " + " ".join(f"{cpu[name][s]:>12.2f}" for s in stacks))
    print()
    print("runs (ms), in order:")
    for name, runs in times.items():
        for stack in stacks:
            print(f"  {name:<24} {stack:<12} "
                  + " ".join(f"{t * 1000:.0f}" for t in runs[stack]))
    print("medians are the figures; the machine is shared and noisy, so read the ratios.")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=2,
                        help="worker processes of each stack (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per shape (default 3)")
    parser.add_argument("--fanout", type=int, default=1000, help="fan-out nodes (default 1000)")
    parser.add_argument("--map-items", type=int, default=10_000,
                        help="map items (default 10000)")
    parser.add_argument("--only", default=",".join(SHAPES),
                        help="shapes to run, comma-separated among chain, fan, map (default all)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="a URL of any database on the PostgreSQL server to make the run's "
                             f"database on (default {DEFAULT_POSTGRES})")
    parser.add_argument("--private-postgres", action="store_true",
                        help="a throwaway PostgreSQL server of its own instead (durability off)")
    parser.add_argument("--reference", default=None,
                        help="another checkout (a folder): a third stack on PostgreSQL, its "
                             "scheduler run from that checkout's code, to compare in one run")
    parser.add_argument("--redis-db", type=int, default=9,
                        help="Redis database of the SQLite stack; the PostgreSQL stacks' are the "
                             "next ones (default 9, 10 and 11)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--keep-logs", action="store_true", help="keep the log folder")
    args = parser.parse_args()
    if min(args.concurrency, args.repeats, args.fanout, args.map_items) < 1:
        parser.error("--concurrency, --repeats, --fanout and --map-items must be at least 1")
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    if not args.only or set(args.only) - set(SHAPES):
        parser.error(f"--only: one or more of {', '.join(SHAPES)}, comma-separated")
    return args


def main() -> int:
    args = parse_args()
    server = None
    admin = args.postgres
    if args.private_postgres:
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import PostgresServer

        server = PostgresServer().start()
        admin = server.url
    database = Database(admin).create()
    reference = Database(admin).create() if args.reference else None
    label = "private server, durability off" if server else database.admin.render_as_string()

    def body(session: Session) -> None:
        envs = {"sqlite": stack_env(session, "sqlite", f"sqlite:///{session.tmp}/state.db",
                                    args.redis_db),
                "postgresql": stack_env(session, "postgresql", database.url, args.redis_db + 1)}
        if reference is not None:
            envs[REFERENCE] = stack_env(session, REFERENCE, reference.url, args.redis_db + 2)
        for env in list(envs.values())[1:]:
            flush(env["GRAFT_BROKER_URL"])
        try:
            for stack, env in envs.items():
                if stack == REFERENCE:  # `-m` runs the code of the folder it starts in
                    session.procs.start(f"{stack}-scheduler", [sys.executable, "-m", "sdk.cli",
                                                               "scheduler"],
                                        dict(env, PYTHONPATH=os.pathsep.join(
                                            (str(BENCH), args.reference))), Path(args.reference))
                else:
                    start_scheduler(session.procs, env, name=f"{stack}-scheduler")
                start_graft_worker(session.procs, env, args.concurrency,
                                   name=f"{stack}-worker")
            times, cpu = measure(args, session, envs)
        finally:
            session.procs.stop()
            for env in list(envs.values())[1:]:
                flush(env["GRAFT_BROKER_URL"])
        report(times, cpu, args, label)

    try:
        return run_session(body, redis_url=None, redis_db_no=args.redis_db,
                           database_url=None, keep_logs=args.keep_logs)
    except BenchError as exc:
        print(f"bench/backends.py: {exc}", file=sys.stderr)
        return 1
    finally:
        database.drop()
        if reference is not None:
            reference.drop()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
