"""Cancelling 100 running nodes: graft's `Execution.cancel()` against Celery's
`GroupResult.revoke(terminate=True)`.

Each side gets its own throwaway redis-server and 100 worker slots (two workers of 50), and
runs 100 tasks side by side that each write their process id to a folder and then sleep for a
minute. Once all 100 run, the clock starts and each side cancels:

* graft: `execution.cancel()` (the cancel goes through the control stream; the scheduler marks
  the execution ABORTED and supersedes its attempts; each worker's lease thread sees that on
  its next tick and has the pool process kill the runner's process group). Measured: cancel ->
  status ABORTED, and cancel -> all 100 task processes gone.
* Celery: `result.revoke(terminate=True, signal="SIGKILL")` on the group (a broadcast the
  workers act on at once). Measured: revoke -> all 100 task processes gone.

    python bench/cancel.py                  # 3 rounds each side, about four minutes
    python bench/cancel.py --rounds 5 --nodes 60

Medians are printed with their ratio: graft's all-gone time over Celery's. Run it on an
otherwise idle machine: 200 worker slots start (about 10 GB of resident memory).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT / "tests"), str(ROOT)]

from faults import running_stack, wait_for  # noqa: E402
from servers import RedisServer  # noqa: E402


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def started_pids(folder: Path, n: int) -> list[int]:
    files = list(folder.iterdir())
    if len(files) < n:
        return []
    return [int(f.read_text() or 0) for f in files]


def graft_round(stack, n: int) -> tuple[float, float]:
    from bench_workflows import holds_wf

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        execution = stack.client().submit(holds_wf, n=n, folder=str(folder), seconds=60.0)
        pids = wait_for(lambda: started_pids(folder, n), 120, f"{n} graft nodes to run",
                        every_s=0.05)
        time.sleep(0.5)  # every file written: every process is in its sleep
        started = time.monotonic()
        assert execution.cancel("bench")
        wait_for(lambda: execution.status() == "ABORTED", 60, "ABORTED", every_s=0.005)
        aborted = time.monotonic() - started
        wait_for(lambda: not any(alive(p) for p in pids), 60, "graft's processes to end",
                 every_s=0.005)
        return aborted, time.monotonic() - started


def celery_round(app, n: int) -> float:
    from celery import group

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = group(app.signature("celery_baseline.hold", (i, str(folder), 60.0))
                       for i in range(n)).apply_async()
        pids = wait_for(lambda: started_pids(folder, n), 120, f"{n} Celery tasks to run",
                        every_s=0.05)
        time.sleep(0.5)
        started = time.monotonic()
        result.revoke(terminate=True, signal="SIGKILL")
        wait_for(lambda: not any(alive(p) for p in pids), 60, "Celery's processes to end",
                 every_s=0.005)
        return time.monotonic() - started


def celery_side(n: int, rounds: int, slots: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis:
        redis.start()
        url = redis.url + "/0"
        env = {**os.environ, "BENCH_BROKER_URL": url, "PYTHONPATH": str(BENCH)}
        workers = []
        for name in ("a", "b"):
            log = open(Path(tmp) / f"celery-{name}.log", "wb")  # noqa: SIM115
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "celery_baseline", "worker", "-Q",
                 "bench", "-c", str(slots), "-P", "prefork", "-n", f"{name}@%h"],
                cwd=BENCH, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        try:
            os.environ["BENCH_BROKER_URL"] = url
            import celery_baseline

            app = celery_baseline.app
            app.conf.broker_url = app.conf.result_backend = url
            wait_for(lambda: len(app.control.ping(timeout=0.5) or []) >= 2, 120,
                     "the Celery workers", every_s=0.5)
            times = []
            for i in range(rounds):
                times.append(celery_round(app, n))
                print(f"  celery round {i + 1}: all gone after {times[-1]:.2f} s", flush=True)
            return times
        finally:
            for proc in workers:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def graft_side(n: int, rounds: int, slots: int) -> tuple[list[float], list[float]]:
    aborted, gone = [], []
    with running_stack({"worker-a": slots, "worker-b": slots}) as (stack, _redis, _tmp):
        for i in range(rounds):
            a, g = graft_round(stack, n)
            aborted.append(a)
            gone.append(g)
            print(f"  graft round {i + 1}: ABORTED after {a:.2f} s, all gone after {g:.2f} s",
                  flush=True)
    return aborted, gone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    slots = (args.nodes + 1) // 2
    print(f"cancelling {args.nodes} running nodes, {args.rounds} rounds a side", flush=True)
    aborted, gone = graft_side(args.nodes, args.rounds, slots)
    celery = celery_side(args.nodes, args.rounds, slots)
    g, c = statistics.median(gone), statistics.median(celery)
    print(f"graft:  cancel -> ABORTED {statistics.median(aborted):.2f} s, cancel -> all "
          f"{args.nodes} processes gone {g:.2f} s (medians)")
    print(f"celery: revoke(terminate) -> all {args.nodes} processes gone {c:.2f} s (median)")
    print(f"graft / celery (all gone): {g / c:.2f}x")


if __name__ == "__main__":
    main()
