"""The scope of a map's items (`Map`): a released map is expanded by its driver, which reports
how many items it has (`MAPPED`); the engine inserts them (`<map>/<index>`, from the map's
template) and releases them up to the map's concurrency. The map succeeds with lists of its
items' outputs in index order (None for the failed items of a tolerant map) and fails, naming
its failed items, once too many failed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.machine import Scope
from sdk.model.report import Failure, FailureKind, Outcome, Report
from sdk.model.runs import MapProgress, NodeRun, is_handler
from sdk.model.states import NodeState

NONE: Binding = {"val": {"v": None}}  # a failed item's output in a tolerant map's lists


class Map(Scope):
    """A map whose items run: each item's end frees a slot for the next. An item is read by
    no node, so one that fails skips nothing: the map absorbs it while it may still succeed."""

    kind = "map"
    opened_by = Outcome.MAPPED
    cuts_off = False

    def open(self, run: NodeRun, report: Report | None) -> None:
        """Create a map's items (`<map>/<index>`) and release as many as its concurrency
        allows."""
        spec = run.spec.map
        if run.spec.kind != "map" or spec is None or report is None or report.items is None \
                or report.items < 0:
            raise SpecError(f"node {run.id!r} cannot be expanded as a map")
        run.record(report)
        m = self.machine
        count = report.items
        m.set_state(run, NodeState.RUNNING)
        run.map = MapProgress(count, spec.required(count))
        run.children_left = count
        resolved = m.resolved_inputs(run.id)
        template = spec.template
        for i in range(count):
            m.add(NodeRun(f"{run.id}/{i}", template, run.id,
                          {name: _item_binding(resolved[name], i, name in spec.mapped,
                                               f"{run.id}.{name}")
                           for name in template.inputs_types}))
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

    def _release_items(self, run: NodeRun) -> None:
        """Release a map's next items while it has free slots."""
        progress, spec = run.map, run.spec.map
        assert progress is not None and spec is not None
        m = self.machine
        limit = spec.concurrency or progress.items
        running = progress.next_item - (progress.items - run.children_left)
        may = not m.stopped or is_handler(run.id)
        while progress.next_item < progress.items and running < limit and may:
            m.release(m.nodes[f"{run.id}/{progress.next_item}"])
            progress.next_item += 1
            running += 1

    def _item_done(self, run: NodeRun, item: NodeRun, ok: bool) -> None:
        progress = run.map
        assert progress is not None
        run.children_left -= 1
        if not ok:
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
        items not yet done are given up."""
        progress = run.map
        assert progress is not None and run.spec.map is not None
        m = self.machine
        for i in range(progress.items):
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
        failure = Failure(kind, "MapFailed", f"map {run.id!r}: {len(progress.failed)} of "
                          f"{progress.items} items failed, at most "
                          f"{progress.items - progress.required} may: " + "; ".join(lines)
                          + (f"; and {more} more" if more > 0 else ""))
        run.error = failure.to_json()
        m.node_failed(run, failure)


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
