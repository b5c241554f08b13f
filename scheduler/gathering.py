"""Large outputs gathered into the store a slice a turn (the engines' `gathers`).

When a 1,000,000-node fan-out completed, the batch that did it read the outputs back from
their rows, built the list (a binding per item) and wrote it whole as JSON to the dynamic's
row, the execution's row and the status board: 5 to 10 s of the loop, and the scheduler's
peak memory (1.45 GiB, where it held about 280 MiB through the run). An engine now leaves an
output list of more than `GRAFT_GATHER_ABOVE` items to its driver (`sdk.model.gather`), and
the loop gathers it between batches (`Scheduler.gather_more`), in transactions of its own
(the items' outputs are read from their rows): `SLICE` items at a time, for about `TURN_S`
a turn at most, each slice resolved and turned into its literals, whose canonical JSON is
appended to the list's. With the last slice the list's text is written to the store as one
content-addressed value (`values/<sha256>`, as `to_ref` writes a large literal), and the
engine takes a `Report.gathered` naming it, in the same transaction: rows, board and events
hold the reference, some 80 bytes.

What a gather holds meanwhile is the list's text so far (about 8 bytes an item for small
integers), never the items' bindings. It is not durable on its own: a scheduler that stops,
or a batch that rolls back, starts it again from the first item (the event of the report
that began it says what to gather, so the successor gathers the same outputs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from itertools import islice

from scheduler.batch import Batch, Live
from scheduler.recorder import Recorder
from scheduler.state import StateTx
from sdk.model.bindings import Binding
from sdk.model.gather import Gather
from sdk.model.report import Report
from sdk.model.store import Store
from sdk.values.gathered import SLICE, ListText, check_count, literal

log = logging.getLogger("graft.scheduler")

TURN_S = 0.2  # of gathering per loop turn, about, at most


class Gatherer:
    """Gathers the pending large outputs of executions held in memory, writing them to
    `store` and having `recorder` apply the reports that complete them."""

    def __init__(self, store: Store, recorder: Recorder, *, slice_items: int = SLICE,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.store = store
        self.recorder = recorder
        self.slice_items = slice_items
        self.clock = clock
        self._jobs: dict[tuple[str, str], _Job] = {}

    def step(self, tx: StateTx, eid: str, live: Live, batch: Batch, until: float) -> None:
        """Gather the pending outputs of execution `eid` until the clock reads `until` (one
        slice at least); apply the report of each gather finished, in `tx`."""
        for gather in live.engine.gathers:
            key = (eid, gather.node)
            job = self._jobs.get(key)
            if job is None or job.gather is not gather:  # new, or its engine was rebuilt
                job = self._jobs[key] = _Job(gather)
            while not job.done:
                job.advance(live, self.store, self.slice_items)
                if not job.done and self.clock() >= until:
                    return
            del self._jobs[key]
            self.recorder.apply(tx, eid, live, Report.gathered(gather.node, gather.attempt,
                                                               job.outputs), batch)
            log.info("execution %s: gathered %s of %s into the store (%s items)", eid,
                     ", ".join(job.names), gather.node or "the execution",
                     ", ".join(f"{gather.sizes[n]:,}" for n in job.names))
            if self.clock() >= until:
                return

    def prune(self, live: dict[str, Live]) -> None:
        """Forget the gathers no execution held in `live` waits for any more."""
        for key, job in list(self._jobs.items()):
            held = live.get(key[0])
            if held is None or all(g is not job.gather for g in held.engine.gathers):
                del self._jobs[key]

    def clear(self) -> None:
        """Forget every gather under way (this scheduler stops serving)."""
        self._jobs.clear()


class _Job:
    """One gather under way: the outputs done, and the list being built for the next."""

    def __init__(self, gather: Gather) -> None:
        self.gather = gather
        self.names = list(gather.sizes)
        self.outputs: dict[str, Binding] = {}
        self._items: Iterator[Binding] | None = None
        self._text: ListText | None = None

    @property
    def done(self) -> bool:
        return len(self.outputs) == len(self.names)

    def advance(self, live: Live, store: Store, count: int) -> None:
        """Add the next `count` items of the output being gathered; store it when that was
        its last."""
        name = self.names[len(self.outputs)]
        if self._items is None or self._text is None:
            self._items, self._text = self.gather.items(name), ListText()
        chunk = list(islice(self._items, count))
        if chunk:
            self._text.add([literal(b, store) for b in live.engine.resolve_items(chunk)])
        if len(chunk) < count:
            check_count(self.gather, name, self._text)
            self.outputs[name] = self._text.put(store)
            self._items = self._text = None
