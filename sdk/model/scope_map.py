"""The scope of a map's items (`Map`): a released map is expanded by its driver, which reports
how many items it has (`MAPPED`); the engine creates its items (`<map>/<index>`, from the map's
template) in index order as their turn comes, never more at once than its concurrency (and the
engine's window) allows, so a map of a million items holds a window of them, not a million.
The map succeeds with lists of its items' outputs in index order (None for the failed items of
a tolerant map) and fails, naming its failed items, once too many failed: the items not
created by then never are, and the map's error says which and why (`never_started`), as it
does when a cancel or a stop ends it first.

Items are created only when an item ends or the map opens, so replaying the reports a run
took creates the same items in the same order; a replayed report naming an item not created
yet (the run had a wider window) creates the items up to it (`reach`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.machine import Machine, Scope
from sdk.model.report import Failure, FailureKind, Outcome, Report
from sdk.model.runs import MapProgress, NodeRun, is_handler
from sdk.model.states import NodeState

NONE: Binding = {"val": {"v": None}}  # a failed item's output in a tolerant map's lists


class Map(Scope):
    """A map whose items run: each item's end frees a slot for the next, created then. An
    item is read by no node, so one that fails skips nothing: the map absorbs it while it may
    still succeed. `window` bounds the items of one map created and not ended (None: its
    concurrency alone); `uncreated` counts the items of open maps not created yet."""

    kind = "map"
    opened_by = Outcome.MAPPED
    cuts_off = False

    def __init__(self, machine: Machine, window: int | None = None) -> None:
        super().__init__(machine)
        self.window = window
        self.uncreated = 0

    def open(self, run: NodeRun, report: Report | None) -> None:
        """Open a map of `report.items` items and create as many as it may run at once."""
        spec = run.spec.map
        if run.spec.kind != "map" or spec is None or report is None or report.items is None \
                or report.items < 0:
            raise SpecError(f"node {run.id!r} cannot be expanded as a map")
        run.record(report)
        m = self.machine
        count = report.items
        m.set_state(run, NodeState.RUNNING)
        run.map = MapProgress(count, spec.required(count), m.resolved_inputs(run.id))
        run.children_left = count
        self.uncreated += count
        if count == 0:
            self._finish(run)
        else:
            self._release_items(run)

    def succeeded(self, parent: NodeRun, child: NodeRun) -> None:
        self._item_done(parent, child, ok=True)

    def failed(self, parent: NodeRun, child: NodeRun, leaf: str, kind: str) -> None:
        self._item_done(parent, child, ok=False)

    def skipped(self, parent: NodeRun, child: NodeRun) -> None:
        """Nothing: items wait for no node, so none is cut off."""

    def halted(self, run: NodeRun, why: str) -> None:
        """A cancel or a stop aborted the map: the items it had not created never will be."""
        never = self._give_up(run, why)
        if never is not None:
            run.error = {"type": "MapStopped", "message": f"map {run.id!r} was stopped: "
                         f"{_never_text(never)}", "never_started": never}

    def reach(self, node_id: str) -> bool:
        """Create the items of a running map up to `node_id`, if it names one not created yet
        (a replay whose window is narrower than the run's was); whether it did."""
        parent, _, index = node_id.rpartition("/")
        run = self.machine.nodes.get(parent)
        progress = run.map if run is not None and run.state == NodeState.RUNNING else None
        if progress is None or not index.isdigit() \
                or not progress.created <= int(index) < progress.items:
            return False
        while progress.created <= int(index) and run.state == NodeState.RUNNING:
            self._create(run, progress)
        return True

    def _release_items(self, run: NodeRun) -> None:
        """Create and release a map's next items while it has free slots (none after a stop,
        unless the map is inside a failure handler). A released item may end at once (a
        sub-workflow with nothing to run) and end the map within this loop."""
        progress, spec = run.map, run.spec.map
        assert progress is not None and spec is not None
        m = self.machine
        limit = min(n for n in (spec.concurrency, self.window, progress.items) if n)
        while run.state == NodeState.RUNNING and progress.created < progress.items \
                and progress.running < limit and (not m.stopped or is_handler(run.id)):
            self._create(run, progress)

    def _create(self, run: NodeRun, progress: MapProgress) -> None:
        """Create and release a map's next item."""
        spec = run.spec.map
        assert spec is not None
        i = progress.created
        item = NodeRun(f"{run.id}/{i}", spec.template, run.id,
                       {name: _item_binding(progress.inputs[name], i, name in spec.mapped,
                                            f"{run.id}.{name}")
                        for name in spec.template.inputs_types})
        progress.created += 1
        self.uncreated -= 1
        self.machine.add(item)
        self.machine.release(item)

    def _item_done(self, run: NodeRun, item: NodeRun, ok: bool) -> None:
        progress = run.map
        assert progress is not None
        run.children_left -= 1
        if ok:
            progress.succeeded += 1
        else:
            progress.failed.append(item.id)
            if progress.items - len(progress.failed) < progress.required:
                self._fail(run)
                return
        if run.children_left == 0:
            self._finish(run)
        else:
            self._release_items(run)

    def _finish(self, run: NodeRun) -> None:
        """All items are done and enough succeeded: outputs are lists in item order, None for
        the items that failed (or, of many items, left for the driver to gather)."""
        progress = run.map
        assert progress is not None
        count, failed = progress.items, set(progress.failed)
        if self.machine.gather(run, lambda: dict.fromkeys(run.spec.outputs_types, count),
                               functools.partial(_items, run.id, count, failed)):
            return
        ids = [f"{run.id}/{i}" for i in range(progress.items)]
        kept = [nid for nid in ids if nid not in failed]
        read = dict(zip(kept, self.machine.read_outputs(kept)))
        items = [read.get(nid) for nid in ids]
        outputs: dict[str, Binding] = {}
        for name in run.spec.outputs_types:
            outputs[name] = {"list": [out[name] if out is not None else NONE for out in items]}
        self.machine.succeed(run, outputs)

    def _fail(self, run: NodeRun) -> None:
        """Too many items failed: the map fails, naming each failed item and its error; the
        items not yet done are given up, those not yet created never are."""
        progress = run.map
        assert progress is not None and run.spec.map is not None
        m = self.machine
        for i in range(progress.created):
            item = m.nodes.get(f"{run.id}/{i}")  # None: succeeded, evicted
            if item is not None and item.state in (NodeState.PENDING, NodeState.QUEUED):
                m.set_state(item, NodeState.SKIPPED if item.state == NodeState.PENDING
                            else NodeState.CANCELLED)
        failed = sorted(progress.failed, key=lambda item: int(item.rsplit("/", 1)[1]))
        lines = [f"{item}: {(m.nodes[item].error or {}).get('type', 'Error')}: "
                 f"{(m.nodes[item].error or {}).get('message', '')}"
                 for item in failed[:20]]
        more = len(progress.failed) - len(lines)
        first = m.nodes[failed[0]].error or {}
        kind = FailureKind(first.get("kind", FailureKind.USER.value))
        never = self._give_up(run, "the map failed first")
        failure = Failure(kind, "MapFailed", f"map {run.id!r}: {len(progress.failed)} of "
                          f"{progress.items} items failed, at most "
                          f"{progress.items - progress.required} may: " + "; ".join(lines)
                          + (f"; and {more} more" if more > 0 else "")
                          + (f" ({_never_text(never)})" if never is not None else ""))
        run.error = failure.to_json()
        if never is not None:
            run.error["never_started"] = never
        m.node_failed(run, failure)

    def _give_up(self, run: NodeRun, why: str) -> dict[str, Any] | None:
        """The items of an ending map it never created, as its error records them (None when
        it created them all): the first one's index, how many, of how many, and why."""
        progress = run.map
        if progress is None or not progress.never_started:
            return None
        self.uncreated -= progress.never_started
        return {"first": progress.created, "count": progress.never_started,
                "items": progress.items, "reason": why}


def _never_text(never: dict[str, Any]) -> str:
    first, count = never["first"], never["count"]
    which = f"item {first}" if count == 1 else f"items {first} to {first + count - 1}"
    return f"{which} ({count:,} of {never['items']:,}) never started: {never['reason']}"


def _items(map_id: str, count: int, failed: set[str], name: str) -> Iterator[Binding]:
    """Output `name` of each of a map's `count` items, in order (None for those `failed`)."""
    for i in range(count):
        item = f"{map_id}/{i}"
        yield NONE if item in failed else {"ref": [item, name]}


def _item_binding(binding: Binding, index: int, mapped: bool, source: str) -> Binding:
    """What a map item binds to: item `index` of a mapped list input, or the bound input."""
    if not mapped:
        return binding
    if "list" in binding:
        return binding["list"][index]
    return {"path": {"of": binding, "steps": [["index", index]], "from": source}}
