"""State writes: what the scheduler's SQL state costs per node, this tree's
`scheduler/state_sql.py` against another commit's (main by default), in the same run.

It drives `scheduler.state_sql.SqlState` directly: no broker, no worker, no scheduler loop.
The transactions are the ones `Scheduler` makes (scheduler/service.py): a real
`sdk.model.engine.Engine` takes the reports, and each message's writes are built as
`Recorder.changed` (scheduler/recorder.py) builds them (node rows by `BoardView.row`, split
into `insert_nodes` for new rows and `update_nodes` for known ones, an `append_event` per
accepted report with `sdk.wire.reports.encode`), inside one `savepoint()` per message. The
writes are built before the clock starts; only the state's calls and the commit are timed.
Shapes (a workflow holding one dynamic node `d` that grafts the sub-graph, as in
bench/engine_scaling.py):

* chain: `d` grafts --chain task nodes in sequence; every report is its own transaction (one
  message per batch, as on a chain in the cluster): an event, the finished node's row and the
  released node's row.
* fan reports: `d` grafts --fan independent nodes; their reports come --batch messages per
  transaction, each in its own savepoint (an event and one row update each).
* fan graft: the transaction of `d`'s report: --fan new rows in one `insert_nodes` call.
* fan cancel: a cancel of the running fan-out: --fan row updates in one `update_nodes` call.

Per node: a transaction's time divided by the nodes it wrote (1 for a chain report, --batch
for fan reports, --fan for the graft and the cancel); wall time (with the database's own work
and, on PostgreSQL, its commit flush) and this process's CPU time (what the scheduler pays).
Old and new alternate, run after run (the first of each pair alternating too), each run on
a fresh execution in one database; the figures are medians over all transactions of all runs,
and new/old their ratio. The old module is the other commit's file loaded as it is, with this
tree's `scheduler.db` (so both open the database the same way).

    python bench/state_writes.py                          # SQLite (a temporary file)
    python bench/state_writes.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/DB
    python bench/state_writes.py --old-ref HEAD~3 --runs 9 --chain 300 --fan 2000

--postgres takes a database made for the run (`createdb -h 127.0.0.1 -U postgres DB`): the
tables are created in it and written to, never cleaned; drop it afterwards.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import sqlalchemy  # noqa: E402

from scheduler import state_sql  # noqa: E402
from scheduler.board_view import BoardView  # noqa: E402
from scheduler.db import open_database  # noqa: E402
from scheduler.state import EventRecord, ExecutionRecord  # noqa: E402
from sdk.model.config import Settings  # noqa: E402
from sdk.model.engine import Engine  # noqa: E402
from sdk.model.report import Report  # noqa: E402
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef  # noqa: E402
from sdk.model.states import TERMINAL_NODE_STATES  # noqa: E402
from sdk.wire import reports  # noqa: E402

INT = {"t": "int"}
LIST_INT = {"t": "list", "of": INT}
NOOP = TaskRef("bench.bench_workflows", "noop", "noop")
GEN = TaskRef("bench.bench_workflows", "fan", "fan")
WORKER = "celery@graft-worker-7f9c4d-1.ForkPoolWorker-2"

Op = tuple[str, Any]  # a StateTx method and its one argument
Message = list[Op]  # what one message does, in its savepoint
Transaction = list[Message]


# ---- the writes, as the scheduler makes them ----------------------------------------------

def _task(node_id: str, binding: dict) -> NodeSpec:
    return NodeSpec(id=node_id, kind="task", task=NOOP, inputs_types={"x": INT},
                    outputs_types={"o0": INT}, inputs={"x": binding})


def _root(out_type: dict) -> GraphSpec:
    dyn = NodeSpec(id="d", kind="dynamic", task=GEN, inputs_types={},
                   outputs_types={"o0": out_type}, inputs={})
    return GraphSpec(name="bench.bench_workflows.fan_wf", inputs={}, nodes=[dyn],
                     outputs=[OutputSpec("o0", out_type, {"ref": ["d", "o0"]})])


def _chain(n: int) -> GraphSpec:
    nodes = [_task("noop-0", {"val": {"v": 0}})]
    nodes += [_task(f"noop-{i}", {"ref": [f"noop-{i - 1}", "o0"]}) for i in range(1, n)]
    return GraphSpec(name="chain", inputs={}, nodes=nodes,
                     outputs=[OutputSpec("o0", INT, {"ref": [f"noop-{n - 1}", "o0"]})])


def _fan(n: int) -> GraphSpec:
    nodes = [_task(f"noop-{i}", {"val": {"v": i}}) for i in range(n)]
    return GraphSpec(name="fan", inputs={}, nodes=nodes, outputs=[OutputSpec(
        "o0", LIST_INT, {"list": [{"ref": [f"noop-{i}", "o0"]} for i in range(n)]})])


class Writer:
    """One execution's engine and what `Scheduler` keeps beside it (`scheduler.batch.Live`):
    the rows it knows, the tokens and times; turns reports into the writes `Recorder.changed`
    makes."""

    def __init__(self, eid: str, sub: GraphSpec, out_type: dict):
        self.eid, self.sub = eid, sub
        self.engine = Engine(_root(out_type), {})
        self.view = BoardView(Settings())
        self.known: set[str] = set()
        self.tokens: dict[str, str] = {}
        self.times: dict[str, list[float | None]] = {}
        self.seq = 0
        self.clock = 1_700_000_000.0

    def submit(self) -> Transaction:
        record = ExecutionRecord(id=self.eid, workflow="bench.bench_workflows.fan_wf",
                                 status="RUNNING", spec_key="specs/" + "ab" * 32, inputs={})
        return [[("add_execution", record), *self.changed(self.engine.start())]]

    def report(self, report: Report) -> Message:
        released = self.engine.apply(report)
        assert released is not None, f"report for {report.node} not taken"
        self.seq += 1
        event = EventRecord(self.eid, self.seq, report.node, report.attempt,
                            report.outcome.value, reports.encode(report))
        return [("append_event", event), *self.changed(released)]

    def graft(self) -> Message:
        return self.report(Report.grafted("d", 1, self.sub, extra={"key": "subgraphs/" + "cd" * 32},
                                          worker=WORKER, duration_s=0.012))

    def done(self, node_id: str, value: int) -> Message:
        return self.report(Report.values(node_id, 1, {"o0": {"val": {"v": value}}},
                                         worker=WORKER, duration_s=0.004,
                                         peak_memory_bytes=48_000_000))

    def cancel(self) -> Message:
        assert self.engine.cancel()
        return self.changed([])

    def changed(self, released: list[str]) -> list[Op]:
        self.clock += 0.01
        for nid in released:
            self.tokens[nid] = secrets.token_hex(8)
            times = self.times.setdefault(nid, [None, None])
            times[0] = times[0] or self.clock
        new, old = [], []
        for nid in self.engine.drain_changes():
            run = self.engine.nodes[nid]
            times = self.times.setdefault(nid, [None, None])
            if run.state in TERMINAL_NODE_STATES:
                times[1] = times[1] or self.clock
            row = self.view.row(self.eid, run, self.tokens.get(nid), times)
            (old if nid in self.known else new).append(row)
        self.known.update(r["node_id"] for r in new)
        return [("insert_nodes", new), ("update_nodes", old)]


# ---- one run ------------------------------------------------------------------------------

@dataclass
class Figures:
    """Per-node times (ns) of every timed transaction, by phase: (wall, cpu) pairs."""

    phases: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, phase: str, wall_ns: int, cpu_ns: int, nodes: int) -> None:
        self.phases.setdefault(phase, []).append((wall_ns / nodes, cpu_ns / nodes))


def apply(state: Any, txn: Transaction) -> tuple[int, int]:
    wall, cpu = time.perf_counter_ns, time.process_time_ns
    w0, c0 = wall(), cpu()
    with state.transaction() as tx:
        for message in txn:
            with tx.savepoint():
                for method, arg in message:
                    getattr(tx, method)(arg)
    return wall() - w0, cpu() - c0


def run_chain(state: Any, eid: str, n: int, figures: Figures) -> None:
    writer = Writer(eid, _chain(n), INT)
    apply(state, writer.submit())
    apply(state, [writer.graft()])
    for i in range(n):
        txn = [writer.done(f"d/noop-{i}", i)]
        figures.add("chain report", *apply(state, txn), 1)


def run_fan(state: Any, eid: str, n: int, batch: int, figures: Figures) -> None:
    writer = Writer(eid, _fan(n), LIST_INT)
    apply(state, writer.submit())
    figures.add("fan graft", *apply(state, [writer.graft()]), n)
    for start in range(0, n, batch):
        txn = [writer.done(f"d/noop-{i}", i) for i in range(start, min(n, start + batch))]
        figures.add("fan reports", *apply(state, txn), len(txn))


def run_cancel(state: Any, eid: str, n: int, figures: Figures) -> None:
    writer = Writer(eid, _fan(n), LIST_INT)
    apply(state, writer.submit())
    apply(state, [writer.graft()])
    txn = [writer.cancel()]
    updated = sum(len(arg) for method, arg in txn[0] if method == "update_nodes")
    assert updated >= n, f"the cancel updated {updated} rows"
    figures.add("fan cancel", *apply(state, txn), updated)


# ---- old against new ----------------------------------------------------------------------

def load_old(ref: str) -> ModuleType:
    """`scheduler/state_sql.py` as it is at `ref`, as module `state_sql_old`, with the modules
    it imports its transaction from (`state_tx`, `state_pg`) as they are at `ref` too, where
    `ref` has them (before state_tx.py, state_sql.py held the transaction itself)."""
    def show(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", REPO, "show", f"{ref}:scheduler/{name}.py"],
                              capture_output=True, text=True)

    split = show("state_tx").returncode == 0
    names = ("state_tx", "state_pg", "state_sql") if split else ("state_sql",)
    saved = {name: sys.modules.get(f"scheduler.{name}") for name in names}
    try:
        for name in names:
            source = show(name)
            source.check_returncode()
            spec = importlib.util.spec_from_loader(f"{name}_old", loader=None)
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[f"{name}_old"] = module
            exec(compile(source.stdout, f"{ref}:scheduler/{name}.py", "exec"), module.__dict__)
            sys.modules[f"scheduler.{name}"] = module  # what the next one imports
        return sys.modules["state_sql_old"]
    finally:
        for name, module in saved.items():
            if module is not None:
                sys.modules[f"scheduler.{name}"] = module
            else:
                sys.modules.pop(f"scheduler.{name}", None)


def measure(url: str, old: ModuleType, args: argparse.Namespace) -> dict[str, Figures]:
    engine = open_database(url)
    states = {"old": old.SqlState(url, engine=engine),
              "new": state_sql.SqlState(url, engine=engine)}
    tag = secrets.token_hex(3)
    shapes: list[Callable[[Any, str, Figures], None]] = [
        lambda s, eid, f: run_chain(s, eid, args.chain, f),
        lambda s, eid, f: run_fan(s, eid, args.fan, args.batch, f),
        lambda s, eid, f: run_cancel(s, eid, args.fan, f),
    ]
    figures = {"old": Figures(), "new": Figures()}
    try:
        for shape in shapes:  # one warm-up run a side
            for name, state in states.items():
                shape(state, f"warm-{tag}-{name}-{id(shape)}", Figures())
        for r in range(args.runs):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for shape in shapes:
                for name in order:
                    gc.collect()
                    shape(states[name], f"{tag}-{name}-{r}-{id(shape)}", figures[name])
    finally:
        engine.dispose()
    return figures


def report(backend: str, figures: dict[str, Figures]) -> None:
    print(f"\n{backend}: µs per node, medians")
    print(f"{'phase':<14} {'txns':>5} {'old wall':>9} {'new wall':>9} {'new/old':>8} "
          f"{'old cpu':>9} {'new cpu':>9} {'new/old':>8}")
    for phase, old_xs in figures["old"].phases.items():
        new_xs = figures["new"].phases[phase]
        ow = statistics.median(x[0] for x in old_xs) / 1000
        nw = statistics.median(x[0] for x in new_xs) / 1000
        oc = statistics.median(x[1] for x in old_xs) / 1000
        nc = statistics.median(x[1] for x in new_xs) / 1000
        print(f"{phase:<14} {len(new_xs):>5} {ow:>9.1f} {nw:>9.1f} {nw / ow:>8.2f} "
              f"{oc:>9.1f} {nc:>9.1f} {nc / oc:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-ref", default="main", help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=5, help="runs per side and shape")
    parser.add_argument("--chain", type=int, default=200, help="chain length")
    parser.add_argument("--fan", type=int, default=1000, help="fan-out width")
    parser.add_argument("--batch", type=int, default=100, help="fan reports per transaction")
    parser.add_argument("--postgres", metavar="URL", help="also on this PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args(argv)

    old = load_old(args.old_ref)
    print(f"graft state writes  python {platform.python_version()}  "
          f"SQLAlchemy {sqlalchemy.__version__}  {os.cpu_count()} cpus  runs={args.runs}  "
          f"chain={args.chain}  fan={args.fan}  batch={args.batch}  old={args.old_ref}")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            report("SQLite (WAL, synchronous=NORMAL)",
                   measure(f"sqlite:///{tmp}/state.db", old, args))
    if args.postgres:
        report("PostgreSQL", measure(args.postgres, old, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
