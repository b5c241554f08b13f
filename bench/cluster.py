"""Cluster benchmark: graft on a real stack against raw Celery canvas and Dask distributed.

Three shapes, run through every system in one session:

* A, chain: 200 no-op tasks in sequence. graft: the static workflow `bench_workflows.chain_wf`
  (a loop of `noop` calls in the body). Celery: `chain(noop.s(0), noop.s(), ...)`, 200 tasks,
  `.apply_async().get()`. Dask: `client.submit(noop, prev)` 200 times.
* B, fan-out: 1,000 no-op tasks side by side. graft: the dynamic `fan(n)` inside
  `bench_workflows.fan_wf`. Celery: `group(noop.s(i) for i in range(n)).apply_async().get()`.
  Dask: a loop of `client.submit(noop, i)`, gathered.
* C, map: 10,000 no-op items. graft: `map_task(noop)(x=xs)` in `bench_workflows.map_wf`, one
  node in the spec. Celery: the same `group` of 10,000. Dask: `client.map`, gathered. The
  report also gives the map spec's size per item (against the sub-graph a `@dynamic` generates
  for the same fan-out) and the graft scheduler's resident memory, sampled every 20 ms, before
  and at its peak during the map runs.

The stacks run at once. graft and Celery share one Redis database (default 9, flushed before
and after): the graft scheduler (`python -m sdk.cli scheduler`, SQLite state in a temporary
GRAFT_HOME unless `--database-url` is given) with one `python -m sdk.cli worker --tier 256Mi
-c C`, and one `celery -A celery_baseline worker -Q bench -c C -P prefork` with Redis as result
backend. Dask runs a scheduler of its own with C single-thread worker processes
(`bench/dask_baseline.py` says why that layout). `--baselines` chooses among Celery and Dask
(default both). After one small warm-up run on each, the systems take turns (who goes first
rotates; with two systems they alternate), `--repeats` times per shape. A run's wall time goes
from submit (canvas or graph building included) to the outputs in hand; every result is
checked. The graft side waits by polling the status board every `--poll-ms` (default 5 ms);
`--client-wait` uses `Execution.wait()` instead, whose back-off (up to 0.5 s between polls)
then shows in the figures.

    python bench/cluster.py                 # repeats 5, fan-out 1,000, map 10,000 (~15 min)
    python bench/cluster.py --quick         # repeats 2, fan-out 300, map 1,000: a smoke run
    python bench/cluster.py --only map --repeats 3
    python bench/cluster.py --baselines celery   # without Dask (which needs the bench extra)
    python bench/cluster.py --database-url postgresql+psycopg://user:pw@host/db
    python bench/cluster.py --only chain --redis-calls   # + Redis commands per node

All processes start in their own sessions and are killed by process group on exit, Ctrl-C or
error; their logs go to a temporary folder, printed (with their tails) when something fails.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import dask_baseline
from harness import (
    BenchError,
    MemorySampler,
    Processes,
    Session,
    celery_get,
    celery_group_runner,
    graft_runner,
    run_session,
    start_profilers,
    start_stacks,
    state_label,
    stop_profilers,
    timed,
)
from redis_calls import RedisCalls

CHAIN_NODES = 200
BASELINES = ("celery", "dask")
# Ratios printed per shape, each when both its systems ran.
RATIOS = (("graft", "celery"), ("graft", "dask"), ("dask", "celery"))


# ---- timing -----------------------------------------------------------------------------------

@dataclass
class Shape:
    name: str
    nodes: int
    runners: dict[str, Callable[[], Any]]  # system -> one timed run
    expected: Any
    times: dict[str, list[float]] = field(default_factory=dict)


def spec_sizes(items: int) -> tuple[int, int]:
    """Bytes of the map workflow's spec, and of the sub-graph a @dynamic generates for the
    same number of nodes (both as the client stores them: JSON)."""
    import bench_workflows as wf

    from sdk.values.store import MemoryStore

    sub = wf.fan.expand({"n": items}, MemoryStore(), None)
    return len(wf.map_wf.compile().dumps().encode()), len(sub.dumps().encode())


def celery_chain_runner(nodes: int, procs: Processes, timeout_s: float) -> Callable[[], Any]:
    from celery import chain
    from celery_baseline import noop

    def run() -> Any:
        canvas = chain(noop.s(0), *(noop.s() for _ in range(nodes - 1)))
        return celery_get(canvas.apply_async(), procs, timeout_s)

    return run


def median_ms(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def report(shapes: list[Shape], args: argparse.Namespace, db_label: str) -> None:
    systems = ["graft", *args.baselines]
    ratios = [(a, b) for a, b in RATIOS if a in systems and b in systems]
    print()
    print(f"graft vs {' and '.join(args.baselines)}: concurrency {args.concurrency}, "
          f"{args.repeats} repeats, state {db_label}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    header = (f"{'shape':<24} {'nodes':>6} "
              + " ".join(f"{s + ' ms':>10}" for s in systems) + " "
              + " ".join(f"{a + '/' + b:>13}" for a, b in ratios))
    if "celery" in systems:
        header += f" {'overhead ms/node':>17}"
    print(header)
    print("-" * len(header))
    for s in shapes:
        ms = {system: median_ms(s.times[system]) for system in systems}
        line = (f"{s.name:<24} {s.nodes:>6} "
                + " ".join(f"{ms[system]:>10.0f}" for system in systems) + " "
                + " ".join(f"{ms[a] / ms[b]:>12.2f}x" for a, b in ratios))
        if "celery" in systems:
            line += f" {(ms['graft'] - ms['celery']) / s.nodes:>17.2f}"
        print(line)
    print()
    print("runs (ms), in order:")
    for s in shapes:
        for system in systems:
            runs = " ".join(f"{t * 1000:.0f}" for t in s.times[system])
            print(f"  {s.name:<24} {system:<7} {runs}")
    print("medians are the figures; the machine is shared and noisy, so read the ratios.")


def report_map(items: int, memory: dict[str, int]) -> None:
    map_bytes, dynamic_bytes = spec_sizes(items)
    print(f"map spec: {map_bytes} bytes whatever the items ({map_bytes / items:.3f} bytes per "
          f"item at {items}); a @dynamic's sub-graph of {items} nodes: {dynamic_bytes} bytes "
          f"({dynamic_bytes / items:.0f} per node)")
    if "peak_kib" in memory:
        print(f"graft scheduler resident memory: {memory['before_kib'] / 1024:.0f} MiB before "
              f"the runs, {memory['peak_kib'] / 1024:.0f} MiB at its peak during the map runs")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=2,
                        help="worker processes, the same for graft, Celery and Dask (default 2)")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help="what graft runs against, comma-separated among celery and dask "
                             "(default celery,dask; dask needs the bench extra)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per shape (default 5)")
    parser.add_argument("--fanout", type=int, default=None,
                        help="nodes in the fan-out (default 1000)")
    parser.add_argument("--map-items", type=int, default=None,
                        help="items in the map (default 10000)")
    parser.add_argument("--quick", action="store_true", help="repeats 2, fan-out 300, map 1000")
    parser.add_argument("--only", choices=("chain", "fan", "map"), default=None,
                        help="run one shape only")
    parser.add_argument("--redis-url", default=None,
                        help="Redis server (default: a throwaway redis-server of its own; a "
                             "database number in it is replaced by --redis-db)")
    parser.add_argument("--redis-db", type=int, default=9,
                        help="Redis database for both stacks; flushed before and after (default 9)")
    parser.add_argument("--database-url", default=None,
                        help="graft scheduler state (default: SQLite in the temporary GRAFT_HOME)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--poll-ms", type=float, default=5.0,
                        help="graft: status-board poll interval while waiting (default 5 ms)")
    parser.add_argument("--client-wait", action="store_true",
                        help="graft: wait with Execution.wait() (its back-off included)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the log folder")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the graft scheduler and worker during the measured runs "
                             "(skews their times; the profiles stay in the log folder)")
    parser.add_argument("--redis-calls", action="store_true",
                        help="count the Redis commands per node of each system's runs "
                             "(bench/redis_calls.py)")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples/s")
    args = parser.parse_args()
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.fanout = args.fanout or (300 if args.quick else 1000)
    args.map_items = args.map_items or (1000 if args.quick else 10_000)
    if min(args.concurrency, args.repeats, args.fanout, args.map_items) < 1:
        parser.error("--concurrency, --repeats, --fanout and --map-items must be at least 1")
    chosen = [b.strip() for b in args.baselines.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BASELINES))
    if unknown or not chosen:
        parser.error(f"--baselines: one or more of {', '.join(BASELINES)}, comma-separated "
                     f"(got {args.baselines!r})")
    args.baselines = [b for b in BASELINES if b in chosen]
    if "dask" in args.baselines:
        try:
            dask_baseline.require_dask()
        except BenchError as exc:
            parser.error(str(exc))
    return args


def measure(args: argparse.Namespace, procs: Processes, logdir: Path, memory: dict[str, int],
            dask_client: Any = None) -> list[Shape]:
    """Warm every stack up, then let the systems take turns; return the shapes timed.
    `memory` gets the scheduler's resident KiB before the runs and at its peak during the
    map's graft runs. `dask_client` is needed when Dask is among the baselines."""
    import bench_workflows as wf

    if wf.CHAIN_NODES != CHAIN_NODES:
        raise BenchError(f"bench_workflows.CHAIN_NODES is {wf.CHAIN_NODES}, not {CHAIN_NODES}")

    def graft(entity: Any, **inputs: Any) -> Callable[[], Any]:
        return graft_runner(entity, inputs, procs, args.timeout, args.poll_ms / 1000,
                            args.client_wait)

    # Per system: (chain of n, fan-out of n, map of n) runners.
    def graft_shapes(kind: str, n: int) -> Callable[[], Any]:
        if kind == "chain":
            return graft(wf.chain_warmup_wf if n == wf.WARMUP_CHAIN_NODES else wf.chain_wf)
        if kind == "fan":
            return graft(wf.fan_wf, n=n)
        return graft(wf.map_wf, xs=list(range(n)))

    def celery_shapes(kind: str, n: int) -> Callable[[], Any]:
        if kind == "chain":
            return celery_chain_runner(n, procs, args.timeout)
        return celery_group_runner(n, procs, args.timeout)

    def dask_shapes(kind: str, n: int) -> Callable[[], Any]:
        make = {"chain": dask_baseline.chain_runner, "fan": dask_baseline.fan_runner,
                "map": dask_baseline.map_runner}[kind]
        return make(dask_client, n, procs, args.timeout)

    makers = {"graft": graft_shapes, "celery": celery_shapes, "dask": dask_shapes}
    systems = ["graft", *args.baselines]

    print("warming up (the first runs also wait for the workers to come up)...", flush=True)
    start = time.perf_counter()
    w, n = wf.WARMUP_CHAIN_NODES, 10
    for system in systems:
        timed(f"{system} warm-up chain", makers[system]("chain", w), w)
        timed(f"{system} warm-up fan-out", makers[system]("fan", n), list(range(1, n + 1)))
        if system == "dask":  # graft's and Celery's maps are their fan-outs' messages
            timed("dask warm-up map", makers[system]("map", n), list(range(1, n + 1)))
    print(f"  stacks ready after {time.perf_counter() - start:.1f} s", flush=True)

    fanout, items = args.fanout, args.map_items
    specs = {"chain": (f"A chain x{CHAIN_NODES}", CHAIN_NODES, CHAIN_NODES),
             "fan": (f"B dynamic fan-out x{fanout}", fanout, list(range(1, fanout + 1))),
             "map": (f"C map_task x{items}", items, list(range(1, items + 1)))}
    shapes = {kind: Shape(name, nodes, {system: makers[system](kind, nodes)
                                        for system in systems}, expected)
              for kind, (name, nodes, expected) in specs.items()}
    chosen = [shapes[args.only]] if args.only else list(shapes.values())
    sampler = MemorySampler(procs.find("graft-scheduler").popen.pid)
    memory["before_kib"] = sampler.rss_kib()
    spies = start_profilers(procs, logdir, args.profile_rate) if args.profile else []
    counts = redis_calls() if args.redis_calls else None
    for rep in range(args.repeats):
        # Who goes first rotates: with two systems, they alternate.
        order = systems[rep % len(systems):] + systems[:rep % len(systems)]
        for s in chosen:
            for system in order:
                sampling = system == "graft" and s is shapes["map"]
                run = s.runners[system]
                if counts is not None and system != "dask":
                    run = functools.partial(counts.around, system, s.nodes, run)
                with sampler if sampling else contextlib.nullcontext():
                    t = timed(f"{system} {s.name} run {rep + 1}", run, s.expected)
                if sampling:
                    memory["peak_kib"] = max(memory.get("peak_kib", 0), sampler.peak_kib)
                    sampler = MemorySampler(sampler.pid)
                s.times.setdefault(system, []).append(t)
                print(f"  run {rep + 1}/{args.repeats} {s.name:<24} {system:<7} "
                      f"{t * 1000:8.0f} ms", flush=True)
    procs.check_alive()
    if spies:
        stop_profilers(spies, args.profile_rate)
    if counts is not None:
        counts.report()
    return chosen


def redis_calls() -> RedisCalls:
    """A counter of the commands of the Redis both stacks use."""
    import redis

    return RedisCalls(redis.Redis.from_url(os.environ["GRAFT_BROKER_URL"]))


def main() -> int:
    args = parse_args()

    def body(session: Session) -> None:
        start_stacks(session.procs, session.env, args.concurrency,
                     celery="celery" in args.baselines)
        with contextlib.ExitStack() as stack:
            dask_client = None
            if "dask" in args.baselines:
                scheduler_file = dask_baseline.start_dask(session.procs, session.env,
                                                          args.concurrency, session.tmp)
                dask_client = stack.enter_context(
                    dask_baseline.connect(scheduler_file, args.concurrency, session.procs))
            memory: dict[str, int] = {}
            shapes = measure(args, session.procs, session.logdir, memory, dask_client)
        report(shapes, args, state_label(args.database_url))
        if args.only in (None, "map"):
            report_map(args.map_items, memory)

    return run_session(body, redis_url=args.redis_url, redis_db_no=args.redis_db,
                       database_url=args.database_url, keep_logs=args.keep_logs or args.profile)


if __name__ == "__main__":
    sys.exit(main())
