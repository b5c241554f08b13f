"""The scheduler's cost of sending a batch of ready nodes: `CeleryDispatcher.send` against the
`app.send_task` loop it replaced, on the same Redis, in the same run.

    python bench/dispatch_send.py                      # a throwaway redis-server of its own
    python bench/dispatch_send.py --redis-url redis://127.0.0.1:6397/0 --nodes 3000

Each round sends one batch of N dispatches (made by `scheduler.dispatch.make_dispatch` from a
real node spec, signed, with inline inputs) once each way, alternating which goes first, then
empties the database. It prints the median µs per dispatch of each way over the rounds and the
ratio. The garbage collector is off while timing; the Redis database is FLUSHed between rounds,
so point --redis-url only at a server and database of your own.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import redis  # noqa: E402

from scheduler.celery_dispatch import CeleryDispatcher  # noqa: E402
from scheduler.dispatch import Dispatch, make_dispatch  # noqa: E402
from sdk.model.config import Settings  # noqa: E402
from sdk.model.runs import NodeRun  # noqa: E402
from sdk.model.spec import node_from_json  # noqa: E402
from sdk.values.store import MemoryStore  # noqa: E402
from sdk.wire.celery_app import TASK_NAME, make_app  # noqa: E402

SPEC = ROOT / "tests" / "data" / "spec_v1_node_payload.json"


def dispatches(settings: Settings, n: int) -> list[Dispatch]:
    spec = node_from_json(json.loads(SPEC.read_text()))
    store = MemoryStore()
    return [make_dispatch(settings, store, "e" * 32, NodeRun(f"prep-{i}", spec, None, {}),
                          {"n": {"val": {"v": i}}}, "t" * 43) for i in range(n)]


def send_task_loop(settings: Settings) -> Callable[[list[Dispatch]], None]:
    """The dispatcher before: one `app.send_task` per node inside one acquired producer."""
    app = make_app(settings)

    def send(batch: list[Dispatch]) -> None:
        with app.producer_or_acquire() as producer:
            for d in batch:
                app.send_task(
                    TASK_NAME, args=d.args, queue=d.queue, routing_key=d.queue,
                    shadow=d.task_name, producer=producer, argsrepr=d.argsrepr,
                    kwargsrepr="{}",
                    headers={"graft_attempt": [d.execution_id, d.node_id, d.attempt]},
                )
    return send


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3000, help="dispatches per batch")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--redis-url", default=None,
                        help="redis://HOST:PORT/DB of your own (FLUSHed); default: a "
                             "throwaway redis-server")
    args = parser.parse_args()
    url = args.redis_url
    if url is None:
        from servers import RedisServer

        url = RedisServer().start().url + "/0"
    client = redis.Redis.from_url(url)
    client.flushdb()
    settings = Settings(broker_url=url, secret=b"bench-secret-" * 3)
    batch = dispatches(settings, args.nodes)
    ways = {"send_task": send_task_loop(settings), "new": CeleryDispatcher(settings).send}
    for send in ways.values():  # connect, declare, warm caches
        send(batch[:50])
    client.flushdb()
    times: dict[str, list[float]] = {name: [] for name in ways}
    gc.disable()
    for r in range(args.rounds):
        order = list(ways) if r % 2 == 0 else list(reversed(ways))
        for name in order:
            started = time.perf_counter()
            ways[name](batch)
            times[name].append((time.perf_counter() - started) / len(batch) * 1e6)
            queued = sum(client.llen(q) for q in {d.queue for d in batch})
            assert queued == len(batch), f"{name}: {queued} of {len(batch)} queued"
            client.flushdb()
    gc.enable()
    old, new = (statistics.median(times[name]) for name in ways)
    print(f"N={args.nodes}, {args.rounds} rounds; µs per dispatch, median and every round:")
    for name, label in (("send_task", "send_task loop"), ("new", "CeleryDispatcher")):
        rounds = " ".join(f"{t:.0f}" for t in times[name])
        print(f"  {label:17s} {statistics.median(times[name]):7.1f}   ({rounds})")
    print(f"  ratio             {old / new:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
