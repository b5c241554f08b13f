"""The scheduler's memory phase by phase, in one process: issue 26's shape (`fan_sum_wf`: a
dynamic of N noop children and a `total` of their outputs) driven through a `Scheduler` on
SQLite and a folder store, the workers' reports made up in this process (the dynamic's body
runs for real, as a worker runs it, to store its sub-graph).

    python bench/sched_phases.py --nodes 100000            # RSS figures
    python bench/sched_phases.py --nodes 100000 --trace    # and tracemalloc's, slower

For each phase (`submit`, `subgraph`: the batch applying the dynamic's report, `steady`: the
batches of noop reports and graft slices, `gather`: the turns gathering the output list,
`total`: the batch applying the sum's report) it prints the longest call of each kind (wall
and CPU seconds), the process's peak RSS above its RSS before the phase (the kernel's
high-water mark reset through /proc/self/clear_refs) and, with `--trace`, tracemalloc's peak
above what was traced before the phase; divided by N, the bytes a node. The `subgraph` phase
loads the sub-graph inline (the loop loads it in a thread, scheduler/subgraphs.py), so its
longest call includes that.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

BATCH = 500


def status(field: str) -> int:
    """A /proc/self/status figure, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Phase:
    def __init__(self, name: str, trace: bool):
        self.name, self.trace = name, trace
        self.longest_s: dict[str, float] = {}  # by call: handle, graft_more, gather_more
        self.longest_cpu_s: dict[str, float] = {}  # the same, in this process's CPU time
        self.calls = 0
        self.rss_before = status("VmRSS")
        reset_hwm()
        self.traced_before = 0
        if trace:
            self.traced_before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

    def timed(self, fn: Any, *args: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        took = time.perf_counter() - started
        used = round(time.process_time() - cpu, 3)
        self.longest_cpu_s[fn.__name__] = max(self.longest_cpu_s.get(fn.__name__, 0.0), used)
        self.longest_s[fn.__name__] = max(self.longest_s.get(fn.__name__, 0.0), round(took, 3))
        self.calls += 1
        return out

    def end(self, n: int) -> dict[str, Any]:
        peak = status("VmHWM") - self.rss_before
        out = {"phase": self.name, "calls": self.calls, "longest_s": self.longest_s,
               "longest_cpu_s": self.longest_cpu_s,
               "rss_before_mib": round(self.rss_before / 2**20, 1),
               "rss_peak_above_mib": round(peak / 2**20, 1), "rss_bytes_per_node": peak // n}
        if self.trace:
            traced = tracemalloc.get_traced_memory()[1] - self.traced_before
            out.update(traced_peak_above_mib=round(traced / 2**20, 1),
                       traced_bytes_per_node=traced // n)
        return out


def made_up(one: Any) -> dict[str, Any]:
    """A noop's report, as a worker would send it."""
    eid, node, attempt, payload = one.args
    x = payload["inputs"]["x"]["val"]["v"]  # noops only: --nodes above GRAFT_GATHER_ABOVE
    return {"type": "report", "execution": eid, "node": node, "attempt": attempt,
            "token": payload["token"], "outcome": "values",
            "outputs": {"o0": {"val": {"v": x + 1}}}, "worker": "", "duration_s": 0.001}


def run(n: int, trace: bool, folder: str, top: int, stop_after: str = "") -> list[dict[str, Any]]:
    import bench_workflows as wf

    from scheduler.dispatch import RecordingDispatcher
    from scheduler.service import Scheduler
    from scheduler.state_sql import SqlState
    from sdk.model.config import Settings
    from sdk.values.shapes import encode_inputs, shape_outputs
    from sdk.values.store import FsspecStore, put_blob
    from worker.attempt import run_attempt

    store = FsspecStore(f"{folder}/store")
    state = SqlState(f"sqlite:///{folder}/state.db")
    settings = Settings(database_url=state.url)
    sent = RecordingDispatcher()
    sched = Scheduler(settings, state, sent, store)
    results: list[dict[str, Any]] = []
    if trace:
        tracemalloc.start(10)
    gc.collect()

    def take() -> list[Any]:
        out = [one for d in sent.sent for one in d.singles()]
        sent.sent = []
        return out

    phase = Phase("submit", trace)
    spec_key = put_blob(store, wf.fan_sum_wf.compile().dumps().encode(), prefix="specs")
    body = {"type": "submit", "execution": "e1", "spec": spec_key,
            "inputs": encode_inputs(wf.fan_sum_wf, {"n": n}, store), "workflow": "fan_sum_wf"}
    phase.timed(sched.handle, [body])
    (fan,) = take()
    dynamic_report = run_attempt(store, *fan.args)  # the body, as the worker runs it
    results.append(phase.end(n))

    phase = Phase("subgraph", trace)
    phase.timed(sched.handle, [dynamic_report])
    results.append(phase.end(n))
    if stop_after == "subgraph":
        return results

    phase = Phase("steady", trace)
    pending = take()
    total = None
    while pending or sched.grafting:
        if sched.grafting:
            phase.timed(sched.graft_more)
            pending += take()
        chunk, pending = pending[:BATCH], pending[BATCH:]
        if chunk:
            phase.timed(sched.handle, [made_up(one) for one in chunk])
            pending += take()
        if not pending and not sched.grafting:
            break
    results.append(phase.end(n))
    snapshot = tracemalloc.take_snapshot() if trace else None

    phase = Phase("gather", trace)
    while sched.gathering:
        phase.timed(sched.gather_more)
    (total,) = take()
    results.append(phase.end(n))
    if trace and top:
        show(tracemalloc.take_snapshot(), snapshot, top)

    phase = Phase("total", trace)
    report = run_attempt(store, *total.args)
    phase.timed(sched.handle, [report])
    results.append(phase.end(n))
    with state.transaction() as tx:
        record = tx.get_execution("e1")
    got = shape_outputs(wf.fan_sum_wf.compile(), record.outputs, store)
    assert record.status == "SUCCEEDED" and got == n * (n + 1) // 2, (record.status, got)
    return results


def show(after: Any, before: Any, top: int) -> None:
    for stat in after.compare_to(before, "traceback")[:top]:
        print(f"{stat.size_diff / 2**20:+8.1f} MiB {stat.count_diff:+9d}", file=sys.stderr)
        for line in stat.traceback.format()[-8:]:
            print("      " + line, file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--top", type=int, default=0,
                        help="with --trace: the largest allocations the gather phase kept")
    parser.add_argument("--stop-after", choices=("subgraph",), default="",
                        help="end after this phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graft-phases-") as folder:
        for row in run(args.nodes, args.trace, folder, args.top, args.stop_after):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
