"""The store on S3 against the store in a local folder: the same chain, fan-out and map on two
graft stacks in one run, taking turns.

Both stacks run at once, each a scheduler and one 256Mi worker of `--concurrency` processes on
a private redis-server (databases 9 and 10, flushed before and after), SQLite state in their
own GRAFT_HOME. The local stack keeps its store in a folder; the S3 stack in a bucket of
moto's standalone S3 server (`moto[server]`, started on a free port by tests/s3_server.py and
stopped at the end), reached with GRAFT_STORE_OPTIONS. After a warm-up run on each, the
stacks take turns (who goes first alternates), `--repeats` times per shape:

* chain: `bench_workflows.short_chain_wf`, 50 no-op tasks in sequence;
* fan-out: the dynamic `fan(n)` of `bench_workflows.fan_wf`, `--fanout` nodes;
* map: `map_task(noop)` of `bench_workflows.map_wf`, `--map-items` items;
* the same three shapes with values of 4 KiB (`stored_chain_wf`, `stored_fan_wf`,
  `stored_map_wf`), over the 2 KiB inline limit: with small values (ints travel inline in
  the messages) the store holds only the spec, the inputs and the code bundle of each
  execution; with these, every node reads its input from the store and writes its output.

A run's wall time goes from submit to the outputs in hand (status board polled every 5 ms);
every result is checked. It prints the medians and the ratio S3 / local per shape.

    python bench/s3_store.py                      # repeats 3, fan-out 200, map 1,000
    python bench/s3_store.py --repeats 5 --fanout 1000 --map-items 10000

moto keeps objects in memory and answers on 127.0.0.1: the ratios are S3's protocol and
client (HTTP, signing, s3fs) against the local disk, without a real network's latency.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
from typing import Any

from harness import (
    ROOT,
    BenchError,
    Session,
    flush,
    redis_db,
    run_session,
    stack_runners,
    start_graft_worker,
    start_scheduler,
    timed,
)

STACKS = ("local", "s3")
BUCKET = "graft-bench"


def s3_stack_env(session: Session, server: Any, db: int) -> dict[str, str]:
    """The S3 stack's environment: its own Redis database, key prefix, home and store."""
    env = dict(session.env)
    home = session.tmp / "home-s3"
    env.update({
        "GRAFT_BROKER_URL": redis_db(session.broker_url, db),
        "GRAFT_HOME": str(home),
        "GRAFT_CACHE_DIR": str(session.tmp / "cache-s3"),
        "GRAFT_KEY_PREFIX": "graftbench-s3",
        "GRAFT_STORE": f"s3://{BUCKET}/store",
        "GRAFT_STORE_OPTIONS": json.dumps(server.options()),
    })
    return env


def client_for(env: dict[str, str]) -> Any:
    from sdk.model.config import Settings, parse_store_options
    from sdk.remote.client import Client

    return Client(dataclasses.replace(
        Settings.from_env(), broker_url=env["GRAFT_BROKER_URL"], store_url=env["GRAFT_STORE"],
        store_options=parse_store_options(env.get("GRAFT_STORE_OPTIONS", "")),
        key_prefix=env["GRAFT_KEY_PREFIX"]))


def measure(args: argparse.Namespace, session: Session,
            envs: dict[str, dict[str, str]]) -> dict[str, dict[str, list[float]]]:
    """Seconds per run: shape -> stack -> runs."""
    import bench_workflows as wf

    clients = {stack: client_for(env) for stack, env in envs.items()}

    runner = stack_runners(clients, session.procs, args.timeout)
    chain_n, fan_n, map_n = wf.SHORT_CHAIN_NODES, args.fanout, args.map_items
    first = wf.stored_value(0)
    values = [wf.stored_value(i) for i in range(max(fan_n, map_n))]
    kib = wf.STORED_BYTES // 1024
    shapes = {
        f"chain x{chain_n}": ({s: runner(s, wf.short_chain_wf) for s in STACKS}, chain_n),
        f"dynamic fan-out x{fan_n}": ({s: runner(s, wf.fan_wf, n=fan_n) for s in STACKS},
                                      list(range(1, fan_n + 1))),
        f"map_task x{map_n}": ({s: runner(s, wf.map_wf, xs=list(range(map_n)))
                                for s in STACKS}, list(range(1, map_n + 1))),
        f"chain x{chain_n}, {kib} KiB": (
            {s: runner(s, wf.stored_chain_wf, s=first) for s in STACKS},
            wf.rotated(first, chain_n)),
        f"fan-out x{fan_n}, {kib} KiB": (
            {s: runner(s, wf.stored_fan_wf, n=fan_n) for s in STACKS},
            [wf.rotated(v) for v in values[:fan_n]]),
        f"map_task x{map_n}, {kib} KiB": (
            {s: runner(s, wf.stored_map_wf, xs=values[:map_n]) for s in STACKS},
            [wf.rotated(v) for v in values[:map_n]]),
    }
    times: dict[str, dict[str, list[float]]] = {name: {s: [] for s in STACKS}
                                                 for name in shapes}
    for rep in range(args.repeats):
        order = STACKS if rep % 2 == 0 else STACKS[::-1]
        for name, (runners, expected) in shapes.items():
            for stack in order:
                t = timed(f"{stack} {name} run {rep + 1}", runners[stack], expected)
                times[name][stack].append(t)
                print(f"  run {rep + 1}/{args.repeats} {name:<30} {stack:<6} {t * 1000:8.0f} ms",
                      flush=True)
    session.procs.check_alive()
    return times


def report(times: dict[str, dict[str, list[float]]], args: argparse.Namespace) -> None:
    print()
    print(f"store on S3 (moto server, 127.0.0.1) vs local folder: concurrency "
          f"{args.concurrency}, {args.repeats} repeats, SQLite, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs")
    header = f"{'shape':<30} {'local ms':>10} {'s3 ms':>10} {'s3/local':>9}"
    print(header)
    print("-" * len(header))
    for name, runs in times.items():
        local, s3 = (statistics.median(runs[s]) * 1000 for s in STACKS)
        print(f"{name:<30} {local:>10.0f} {s3:>10.0f} {s3 / local:>8.2f}x")
    print()
    print("runs (ms), in order:")
    for name, runs in times.items():
        for stack in STACKS:
            print(f"  {name:<30} {stack:<6} " + " ".join(f"{t * 1000:.0f}" for t in runs[stack]))
    print("medians are the figures; the machine is shared and noisy, so read the ratios.")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", "-c", type=int, default=2,
                        help="worker processes of each stack (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per shape (default 3)")
    parser.add_argument("--fanout", type=int, default=200, help="fan-out nodes (default 200)")
    parser.add_argument("--map-items", type=int, default=1000, help="map items (default 1000)")
    parser.add_argument("--redis-db", type=int, default=9,
                        help="Redis database of the local stack; the S3 stack's is the next "
                             "(default 9 and 10)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--keep-logs", action="store_true", help="keep the log folder")
    args = parser.parse_args()
    if min(args.concurrency, args.repeats, args.fanout, args.map_items) < 1:
        parser.error("--concurrency, --repeats, --fanout and --map-items must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from s3_server import S3Server, why_s3_unavailable

    reason = why_s3_unavailable()
    if reason:
        print(f"bench/s3_store.py: {reason}", file=sys.stderr)
        return 1
    server = S3Server()

    def body(session: Session) -> None:
        server.start()
        server.make_bucket(BUCKET)
        envs = {"local": session.env, "s3": s3_stack_env(session, server, args.redis_db + 1)}
        flush(envs["s3"]["GRAFT_BROKER_URL"])
        try:
            for stack, env in envs.items():
                start_scheduler(session.procs, env, name=f"{stack}-scheduler")
                start_graft_worker(session.procs, env, args.concurrency,
                                   name=f"{stack}-worker")
            times = measure(args, session, envs)
        finally:
            session.procs.stop()
            flush(envs["s3"]["GRAFT_BROKER_URL"])
        report(times, args)

    try:
        return run_session(body, redis_url=None, redis_db_no=args.redis_db,
                           database_url=None, keep_logs=args.keep_logs)
    except BenchError as exc:
        print(f"bench/s3_store.py: {exc}", file=sys.stderr)
        return 1
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
