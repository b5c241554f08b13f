"""The Dask distributed side of bench/cluster.py: one no-op task, nothing of graft's.

The cluster is what `LocalCluster(n_workers=C, threads_per_worker=1, processes=True)` builds,
started from Dask's own command line so that every piece is a process of the session:

    python -m distributed.cli.dask_scheduler --scheduler-file F --host 127.0.0.1 --port 0
    python -m distributed.cli.dask_worker --scheduler-file F --nworkers C --nthreads 1

Why C single-thread worker processes: graft's worker (`-c C`) and Celery's prefork pool both run
C tasks at once, each in a process of its own, under one supervising process. `dask worker
--nworkers C --nthreads 1` is the same: C worker processes that run one task each, under one
process of C nannies. One worker process with C threads would run C no-ops under one GIL and
skip the hops between processes that graft and Celery pay; it is what Dask does by default on
one machine, but not the same work. The scheduler runs in a process of its own, as graft's does
(a `LocalCluster` would run it in this process, next to the client that submits and times).
Dask's settings are its defaults (work stealing on, no dashboard: bokeh is not installed). Among
them, `distributed.scheduler.worker-saturation` 1.1 queues tasks without dependencies on the
scheduler, so that a one-thread worker holds at most two, much as Celery's and graft's prefetch
of 1; `DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=inf` in the environment (the processes
get it) turns that off, and the fan-out and map then run several times faster.

The shapes: A, `client.submit(noop, prev)` 200 times, the last future's result; B, a loop of
1,000 `client.submit(noop, i)` (what Celery's `group` and graft's `@dynamic` build node by node),
gathered; C, `client.map(noop, range(10000))`, gathered. Keys are not pure (`pure=False`), so
no run can pick up a result left in the cluster's memory by the one before.

Needs `dask[distributed]` (`python -m pip install -e '.[bench]'`); `require_dask()` says so.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import BenchError, Processes

MISSING = ("the Dask baseline needs dask[distributed]: python -m pip install -e '.[bench]' "
           "(or leave Dask out with --baselines celery)")


def noop(x: int) -> int:
    return x + 1


def require_dask() -> None:
    """Raise BenchError with what to install when dask.distributed cannot be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise BenchError(f"{MISSING} ({exc})") from None


def start_dask(procs: Processes, env: dict[str, str], concurrency: int, tmp: Path) -> Path:
    """A Dask scheduler and `concurrency` single-thread worker processes (see the module's
    docstring); returns the scheduler file the client connects with. bench/ must be on the
    workers' PYTHONPATH (it is in the session's env), so `noop` pickles by reference."""
    require_dask()
    scheduler_file = tmp / "dask-scheduler.json"
    workdir = tmp / "dask"
    workdir.mkdir(exist_ok=True)
    procs.start("dask-scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler",
                                   "--scheduler-file", str(scheduler_file), "--host",
                                   "127.0.0.1", "--port", "0", "--no-dashboard"], env, workdir)
    procs.start("dask-worker", [sys.executable, "-m", "distributed.cli.dask_worker",
                                "--scheduler-file", str(scheduler_file), "--nworkers",
                                str(concurrency), "--nthreads", "1", "--no-dashboard",
                                "--local-directory", str(workdir), "--name", "bench"],
                env, workdir)
    return scheduler_file


def connect(scheduler_file: Path, concurrency: int, procs: Processes,
            timeout_s: float = 120.0) -> Any:
    """A `distributed.Client` on the scheduler of `start_dask`, once all `concurrency` worker
    processes have joined it. Use it as a context manager, closed before the processes stop."""
    from distributed import Client

    deadline = time.monotonic() + timeout_s
    while not _scheduler_address(scheduler_file):
        procs.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"the Dask scheduler wrote no address to {scheduler_file} "
                             f"within {timeout_s} s")
        time.sleep(0.1)
    client = Client(scheduler_file=str(scheduler_file), timeout=timeout_s)
    try:
        client.wait_for_workers(concurrency, timeout=max(1.0, deadline - time.monotonic()))
    except Exception:
        client.close()
        raise
    return client


def _scheduler_address(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("address")
    except (OSError, ValueError):  # not written yet, or half written
        return None


def _results(client: Any, futures: list[Any], procs: Processes, timeout_s: float) -> list[Any]:
    from distributed import wait

    try:
        wait(futures, timeout=timeout_s)
    except TimeoutError:
        procs.check_alive()
        raise BenchError(f"Dask: {len(futures)} futures not done after {timeout_s} s") from None
    return client.gather(futures)


def chain_runner(client: Any, nodes: int, procs: Processes,
                 timeout_s: float) -> Callable[[], Any]:
    """`noop` applied `nodes` times to 0, each task given the previous one's future."""

    def run() -> Any:
        prev = client.submit(noop, 0, pure=False)
        for _ in range(nodes - 1):
            prev = client.submit(noop, prev, pure=False)
        return _results(client, [prev], procs, timeout_s)[0]

    return run


def fan_runner(client: Any, n: int, procs: Processes, timeout_s: float) -> Callable[[], Any]:
    """`n` futures submitted one by one, gathered: [1, ..., n]."""

    def run() -> Any:
        futures = [client.submit(noop, i, pure=False) for i in range(n)]
        return _results(client, futures, procs, timeout_s)

    return run


def map_runner(client: Any, n: int, procs: Processes, timeout_s: float) -> Callable[[], Any]:
    """`client.map(noop, range(n))`, gathered: [1, ..., n]."""

    def run() -> Any:
        return _results(client, client.map(noop, range(n), pure=False), procs, timeout_s)

    return run

