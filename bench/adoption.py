"""Adoption at scale: how long a standby takes to serve a large running execution again after
the scheduler holding it is SIGKILLed, and how much memory it takes to do so.

    python bench/adoption.py                      # N = 100,000, killed half-way, ~5 min
    python bench/adoption.py --sizes 20k,100k --at 0.5
    python bench/adoption.py --sizes 1M           # hours: the run to the kill dominates
    python bench/adoption.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB

One stack per size (bench/harness.py): a private redis-server, SQLite state in a temporary
GRAFT_HOME (or `--database-url`), a 256Mi worker (`--concurrency`, default 2) for the N nodes,
a 4Gi worker for the dynamic's body, and two schedulers sharing the 16 shards, started before
the run. `bench_workflows.fan_4gi_wf(n=N)` runs until `--at` of its nodes are done (as its
board says); then the process group of the scheduler holding its shard is SIGKILLed, and the
other one, the standby here, takes the shard over once the lease ends (5 s).

Printed per N:

  before MiB    the killed scheduler's RSS just before the kill: what serving the execution
                cost it, the baseline the standby's figures are read against
  serving s     kill -> the standby logs holding the execution's shard
  adopted s     kill -> the execution's board shows a node done after the kill: the standby
                rebuilt the execution and applies its reports again
  peak MiB      the standby's peak RSS from the kill until `adopted` (sampled every 20 ms),
                and its ratio to `before`
  longest batch the bucket of `graft_scheduler_batch_duration_seconds` holding the standby's
                longest batch (the rebuild happens in the batch of the first report)
  end MiB       the standby's peak RSS from the kill to the end of the run

The run is then awaited and its outputs checked against [1, ..., N] (not with
`--until-adopted`, for N where the rest of the run would take too long).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH)]

from harness import (  # noqa: E402
    BenchError,
    MemorySampler,
    Proc,
    Session,
    _signal_group,
    rss_kib,
    run_session,
    start_graft_worker,
    start_scheduler,
)
from scale import BATCH_METRIC, parse_size  # noqa: E402
from watch import histogram_delta, scrape  # noqa: E402

from sdk.wire.control import shard_of  # noqa: E402


@dataclass
class Adoption:
    n: int
    before_kib: int
    serving_s: float
    adopted_s: float
    peak_kib: int
    end_kib: int
    batch: str


def free_port() -> int:
    sys.path.insert(0, str(BENCH.parent / "tests"))
    from servers import free_port as port

    return port()


def held(scheduler: Proc) -> set[int]:
    """The shards `scheduler` last logged holding."""
    lines = [line for line in scheduler.log.read_text(errors="replace").splitlines()
             if " of 16 shards: " in line]
    return {int(x) for x in lines[-1].rsplit(": ", 1)[1].split(", ")} if lines else set()


def wait_for(what: str, check: Any, timeout_s: float, every_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def measure(session: Session, n: int, at: float, concurrency: int,
            profile: str | None, until_adopted: bool) -> Adoption:
    import bench_workflows as wf

    from sdk.remote.client import Client

    procs, env = session.procs, session.env
    ports = free_port(), free_port()
    metrics = ("--metrics-host", "127.0.0.1", "--metrics-port")
    schedulers = []
    for i, port in enumerate(ports):  # one after the other: both would create the tables
        schedulers.append(start_scheduler(procs, env, f"scheduler-{n}-{i}",
                                          (*metrics, str(port))))
        wait_for("a scheduler to serve", lambda: held(schedulers[-1]), 60)
    start_graft_worker(procs, env, concurrency, name=f"worker-{n}")
    start_graft_worker(procs, env, 1, tier="4Gi", name=f"dynamic-worker-{n}")
    wait_for("the schedulers to share the shards",
             lambda: all(held(s) and len(held(s)) < 16 for s in schedulers), 120)

    execution = Client().submit(wf.fan_4gi_wf, n=n)
    shard = shard_of(execution.id)
    holder = next(i for i, s in enumerate(schedulers) if shard in held(s))
    first, standby = schedulers[holder], schedulers[1 - holder]
    timeout_s = 120 + n * 0.05

    def done() -> int:
        return int(execution.info().get("done", 0))

    wait_for(f"{at:.0%} of the nodes", lambda: done() >= at * n, timeout_s, every_s=0.5)
    before_kib = rss_kib(first.popen.pid)
    batches = scrape(ports[1 - holder])
    with MemorySampler(standby.popen.pid) as whole:
        with MemorySampler(standby.popen.pid) as adoption:
            _signal_group(first.popen.pid, 9)
            killed = time.monotonic()
            spy = profile and subprocess.Popen(
                ["py-spy", "record", "--pid", str(standby.popen.pid), "--rate", "200",
                 "--format", "raw", "--output", profile], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            count = done()
            wait_for("the standby to take the shard", lambda: shard in held(standby), 120)
            serving_s = time.monotonic() - killed
            wait_for("a node done after the kill", lambda: done() > count, timeout_s,
                     every_s=0.02)
            adopted_s = time.monotonic() - killed
            if spy:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
        batch = histogram_delta(batches, scrape(ports[1 - holder]), BATCH_METRIC)
        if not until_adopted:
            outputs = execution.wait(timeout=timeout_s)
            if outputs != list(range(1, n + 1)):
                raise BenchError(f"wrong outputs for N = {n}")
    for name in (standby.name, f"worker-{n}", f"dynamic-worker-{n}"):
        procs.stop_one(name)
    return Adoption(n, before_kib, serving_s, adopted_s, adoption.peak_kib, whole.peak_kib,
                    batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k", help="comma-separated N (default 100k)")
    parser.add_argument("--at", type=float, default=0.5,
                        help="the fraction of nodes done when the scheduler is killed")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--redis-db", type=int, default=0)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--until-adopted", action="store_true",
                        help="stop once adopted, without awaiting and checking the outputs "
                             "(end MiB is then the peak until the adoption)")
    parser.add_argument("--py-spy", metavar="PREFIX", default=None,
                        help="profile the standby from the kill to the adoption into "
                             "PREFIX-N.txt (py-spy's collapsed stacks)")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    results: list[Adoption] = []

    def body(session: Session) -> None:
        for n in sizes:
            a = measure(session, n, args.at, args.concurrency,
                        args.py_spy and f"{args.py_spy}-{n}.txt", args.until_adopted)
            results.append(a)
            print(f"N = {n:,}: serving {a.serving_s:.2f} s, adopted {a.adopted_s:.2f} s, "
                  f"peak {a.peak_kib / 1024:.0f} MiB ({a.peak_kib / a.before_kib:.2f}x before), "
                  f"longest batch {a.batch}", flush=True)

    code = run_session(body, redis_url=args.redis_url, redis_db_no=args.redis_db,
                       database_url=args.database_url, keep_logs=args.keep_logs)
    if results:
        print("\n| N | before MiB | serving s | adopted s | peak MiB | peak / before "
              "| longest batch | end MiB |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
        for a in results:
            print(f"| {a.n:,} | {a.before_kib / 1024:.0f} | {a.serving_s:.2f} | "
                  f"{a.adopted_s:.2f} | {a.peak_kib / 1024:.0f} | "
                  f"{a.peak_kib / a.before_kib:.2f}x | {a.batch} | {a.end_kib / 1024:.0f} |")
    return code


if __name__ == "__main__":
    sys.exit(main())
