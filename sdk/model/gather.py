"""Large outputs, gathered by the driver into one stored value (`Gathers`, `Gather`).

A fan-out of 1,000,000 nodes returns a list of 1,000,000 outputs. Built by the engine, that
list is a binding per item (some 300 bytes each in memory), written whole as JSON to the
node's row, the execution's row and the status board: at that size the batch that completed
it held the scheduler's loop for seconds and set its peak memory. So, given `gather_above`,
when a graph (one with nodes) or a map completes in `Engine.apply` and one of its outputs is
bound to a list of more items than that, the engine builds no list: its node stays RUNNING
and the engine lists a `Gather`. The driver reads the items a slice at a time
(`Gather.items`, resolved by `Engine.resolve_items`), writes the list's literal to its store
as one value and reports `Report.gathered(node, attempt, {name: {"val": {"u": key}}})`: the
node (or, for `ROOT`, the execution) then succeeds with those outputs, beside the others,
resolved when the gather began (`Gather.ready`). Rows, board and events hold the reference.

A replay takes the decisions the run took, whatever the threshold is now: the event of the
report that began a gather records which outputs of which nodes it gathers (the driver puts
`drain_started()` in the report's `extra["gathers"]`), and a replay gathers those and only
those. Only a report can begin one (an empty graph completes when it opens, inline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.report import Failure, Report, data_failure

ROOT = ""  # the node id a gather of the execution's own outputs goes by
ItemsOf = Callable[[str], Iterator[Binding]]


@dataclass(eq=False)
class Gather:
    """Outputs of node `node` (attempt `attempt`) for the driver to gather: `sizes`, their
    item counts by name; `items(name)`, the items' bindings in order (node references, not
    resolved); `ready`, the node's other outputs, resolved."""

    node: str
    attempt: int
    sizes: dict[str, int]
    ready: dict[str, Binding]
    items: ItemsOf


class Gathers:
    """The gathers of one engine: which completions to leave to the driver (more than
    `above` items; None: none, live), those pending, and those begun since the last
    `drain_started`."""

    def __init__(self, above: int | None) -> None:
        self.above = above
        self.pending: dict[str, Gather] = {}
        self._started: dict[str, list[str]] = {}
        # Set by the engine around each report it applies (plain attributes, not a context
        # manager: a report costs the engine a handful of calls, and this is on its path).
        self.open = False  # a report applies: a completion it makes may be gathered
        self.decided: dict[str, list[str]] | None = None  # replaying: what its event says

    def names(self, node: str, sizes: Callable[[], dict[str, int]]) -> dict[str, int]:
        """The outputs of `node` to gather, with their item counts (`sizes()` gives every
        list output's); none outside a report's application."""
        if not self.open or (self.decided is None and self.above is None):
            return {}
        found = sizes()
        if self.decided is not None:
            return {n: found[n] for n in self.decided.get(node, ()) if n in found}
        above = self.above
        assert above is not None
        return {n: count for n, count in sorted(found.items()) if count > above}

    def begin(self, gather: Gather) -> None:
        self.pending[gather.node] = gather
        self._started[gather.node] = list(gather.sizes)

    def take(self, report: Report) -> tuple[dict[str, Binding], Failure | None] | None:
        """The gather `report` (GATHERED) ends, taken off the pending ones: the outputs its
        node completes with (those gathered beside the `ready` ones), and a DATA failure when
        the report names other outputs. None when no gather waits for that node and
        attempt."""
        gather = self.pending.get(report.node)
        if gather is None or gather.attempt != report.attempt:
            return None
        del self.pending[report.node]
        gathered = report.outputs or {}
        if set(gathered) != set(gather.sizes):
            return {}, data_failure("OutputMismatch", f"the gathered outputs {sorted(gathered)}"
                                    f" of {report.node or 'the execution'} are not "
                                    f"{sorted(gather.sizes)}")
        return {**gather.ready, **gathered}, None

    def drain_started(self) -> dict[str, list[str]]:
        """The gathers begun since the last call: {node: output names}."""
        started, self._started = self._started, {}
        return started

    def clear(self) -> None:
        """Give every pending gather up (the execution was stopped)."""
        self.pending.clear()


def decided(recorded: Any) -> dict[str, list[str]]:
    """An event's record of the gathers its report began, `{node: [output, ...]}`, with
    anything malformed left out."""
    if not isinstance(recorded, dict):
        return {}
    return {node: [n for n in names if isinstance(n, str)]
            for node, names in recorded.items()
            if isinstance(node, str) and isinstance(names, list)}
