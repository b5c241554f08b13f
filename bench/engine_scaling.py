"""Engine scaling: the pure engine's cost per event does not grow with the graph.

What it measures (no Celery, no database, no I/O: only `sdk.model.engine.Engine`):

* fan-out: a root graph holding one dynamic node; the dynamic reports a generated sub-graph
  of N no-op task nodes (literal input `{"val": {"v": i}}`, one int output "o0") whose output
  is a list binding of all N refs. We time the graft (`apply` of the SUBGRAPH report:
  validation + insertion, reported per node) and then every
  `apply(Report.values(child, 1, {"o0": {"val": {"v": i}}}))` call on its own (the report is
  built outside the timing).
* chain: the same dynamic grafts N task nodes in sequence, each bound to the previous one's
  output; each completion releases the next node.

Per-event figures are the median and 90th percentile of single `apply` calls over the middle
of the run (events 10%..90%), so the first events and the final completion are left out. The
final completion is reported on its own: in the fan-out it resolves the N-element output list
and is expected to cost O(N). Between events the driver's `drain_changes()` is called (untimed),
as the local runner and the scheduler do. Timing uses `time.perf_counter_ns` with the garbage
collector disabled; each shape and size runs 5 times (after one
warm-up run, sizes interleaved) and the medians of the runs are reported.
"ratio" is the median per-event cost divided by the N=1,000 figure: flat means ratio ~ 1.
"/10k" divides by the N=10,000 figure instead. At N=1,000 the engine's working set (~1 MB)
still fits the CPU's L2 cache, from a few thousand nodes on it does not, so on most machines
events get a step (~1.5x) dearer between 1,000 and ~5,000 nodes and then stay flat: an O(N)
cost per event would show as /10k ~ 10 at N=100,000.

    python bench/engine_scaling.py            # N = 1,000 / 10,000 / 100,000 (~30 s)
    python bench/engine_scaling.py --quick    # N = 1,000 / 10,000
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sdk.model.engine import Engine
from sdk.model.report import Report
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.states import ExecutionState

INT = {"t": "int"}
LIST_INT = {"t": "list", "of": INT}
NOOP = TaskRef("bench.engine_scaling", "noop", "noop")
GEN = TaskRef("bench.engine_scaling", "generate", "generate")
REPEATS = 5


def _task(node_id: str, binding: dict) -> NodeSpec:
    return NodeSpec(id=node_id, kind="task", task=NOOP, inputs_types={"x": INT},
                    outputs_types={"o0": INT}, inputs={"x": binding})


def root_graph(out_type: dict) -> GraphSpec:
    """A workflow holding one dynamic node `d`, whose output is the workflow's output."""
    dyn = NodeSpec(id="d", kind="dynamic", task=GEN, inputs_types={},
                   outputs_types={"o0": out_type}, inputs={})
    return GraphSpec(name="root", inputs={}, nodes=[dyn],
                     outputs=[OutputSpec("o0", out_type, {"ref": ["d", "o0"]})])


def fanout_subgraph(n: int) -> GraphSpec:
    nodes = [_task(f"n{i}", {"val": {"v": i}}) for i in range(n)]
    out = {"list": [{"ref": [f"n{i}", "o0"]} for i in range(n)]}
    return GraphSpec(name=f"fanout{n}", inputs={}, nodes=nodes,
                     outputs=[OutputSpec("o0", LIST_INT, out)])


def chain_subgraph(n: int) -> GraphSpec:
    nodes = [_task("n0", {"val": {"v": 0}})]
    nodes += [_task(f"n{i}", {"ref": [f"n{i - 1}", "o0"]}) for i in range(1, n)]
    return GraphSpec(name=f"chain{n}", inputs={}, nodes=nodes,
                     outputs=[OutputSpec("o0", INT, {"ref": [f"n{n - 1}", "o0"]})])


SHAPES = {
    "fan-out": (lambda: root_graph(LIST_INT), fanout_subgraph),
    "chain": (lambda: root_graph(INT), chain_subgraph),
}


@dataclass
class Run:
    graft_ns_per_node: float
    median_ns: float
    p90_ns: float
    final_ns: int
    calls: int  # Python function calls made by one mid-run complete (deterministic)


def percentile(sorted_xs: list[int], q: float) -> float:
    return float(sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))])


def run_once(shape: str, n: int) -> Run:
    make_root, make_sub = SHAPES[shape]
    root, sub = make_root(), make_sub(n)
    engine = Engine(root, {})
    gc.collect()
    gc.disable()
    try:
        assert engine.start() == ["d"]
        engine.drain_changes()
        t0 = time.perf_counter_ns()
        ready = engine.apply(Report.grafted("d", 1, sub))
        graft_ns = time.perf_counter_ns() - t0
        engine.drain_changes()
        assert ready, "graft released nothing"

        clock = time.perf_counter_ns
        apply = engine.apply
        drain = engine.drain_changes
        times: list[int] = []
        append = times.append
        pending = deque(ready)
        i = 0
        calls = 0
        while pending:
            node_id = pending.popleft()
            outputs = {"o0": {"val": {"v": i}}}
            if i == n // 2:
                released, calls = count_calls(apply, Report.values(node_id, 1, outputs))
            else:
                report = Report.values(node_id, 1, outputs)
                t0 = clock()
                released = apply(report)
                append(clock() - t0)
            drain()
            if released:
                pending.extend(released)
            i += 1
    finally:
        gc.enable()
    assert i == n, f"{shape}: completed {i} of {n} nodes"
    assert engine.state == ExecutionState.SUCCEEDED, engine.state
    if shape == "fan-out":
        assert len(engine.outputs["o0"]["list"]) == n
    middle = sorted(times[n // 10: n - n // 10])
    return Run(graft_ns / n, statistics.median(middle), percentile(middle, 0.9), times[-1],
               calls)


def count_calls(fn, *args):
    """Call fn(*args) counting the Python and C function calls it makes: a measure of work
    per event that, unlike time, does not depend on caches or on the machine's load."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        result = fn(*args)
    finally:
        sys.setprofile(None)
    return result, count


def measure(shape: str, sizes: list[int]) -> dict[int, Run]:
    """REPEATS runs per size, sizes interleaved so that machine noise spreads over all of them;
    one untimed warm-up run first (the interpreter specialises its bytecode on first use)."""
    run_once(shape, sizes[0])
    runs: dict[int, list[Run]] = {n: [] for n in sizes}
    for _ in range(REPEATS):
        for n in sizes:
            runs[n].append(run_once(shape, n))
            gc.collect()
    return {n: Run(
        statistics.median(r.graft_ns_per_node for r in rs),
        statistics.median(r.median_ns for r in rs),
        statistics.median(r.p90_ns for r in rs),
        int(statistics.median(r.final_ns for r in rs)),
        rs[0].calls,
    ) for n, rs in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000 and 10,000 only")
    args = parser.parse_args(argv)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]

    print(f"graft engine scaling  python {platform.python_version()}  "
          f"{platform.machine()}  {os.cpu_count()} cpus  repeats={REPEATS} (medians)")
    print("per-event = one Engine.apply call of a VALUES report, events 10%..90% of the run; "
          "final = the last complete\n")
    header = (f"{'shape':<8} {'N':>8} {'median µs/event':>16} {'p90 µs':>8} {'ratio':>6} "
              f"{'/10k':>5} {'calls/event':>11} {'graft µs/node':>14} {'final µs':>10}")
    started = time.perf_counter()
    for shape in SHAPES:
        print(header)
        results = measure(shape, sizes)
        base = results[sizes[0]].median_ns
        base10k = results[10_000].median_ns
        for n in sizes:
            r = results[n]
            print(f"{shape:<8} {n:>8,} {r.median_ns / 1e3:>16.2f} {r.p90_ns / 1e3:>8.2f} "
                  f"{r.median_ns / base:>6.2f} {r.median_ns / base10k:>5.2f} {r.calls:>11} "
                  f"{r.graft_ns_per_node / 1e3:>14.2f} "
                  f"{r.final_ns / 1e3:>10.1f}", flush=True)
        print()
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
