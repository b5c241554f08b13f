"""The gates the scheduler holds itself: a gate node (`sdk.model.gates`) is sent to no
worker and holds no worker slot. Released, it waits (WAITING) in its execution's engine; its
node row, written then, keeps when it started waiting. This unit keeps the deadlines of the
waiting gates in a heap, by the scheduler's clock: a sleep's end, a signal gate's timeout.
The scheduler judges the due ones each turn (`Scheduler.expire`); a signal that names a
waiting gate completes it at once (`Inbox`, a `signal` message).

The heap is memory only: rebuilding an execution (a restart, a takeover) holds its waiting
gates again, with the start times their rows kept, so a sleep ends and a timeout passes when
they would have had the scheduler run throughout. An entry may outlive its gate (a signal
came first, the execution ended or was rebuilt): a due entry whose gate no longer waits for
that attempt changes nothing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from sdk.model.gates import deadline
from sdk.model.runs import NodeRun

GateKey = tuple[str, str, int]  # (execution, node id, attempt)


class Gates:
    """The deadlines of the gates waiting in the executions this scheduler serves."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._due: list[tuple[float, str, str, int]] = []  # (due at, execution, node, attempt)

    def hold(self, eid: str, run: NodeRun, started_at: float | None) -> None:
        """Keep the deadline of gate `run` of `eid`, waiting since `started_at` (now when
        unknown); a gate that waits without end has none."""
        at = deadline(run.spec, started_at if started_at is not None else self.clock())
        if at is not None:
            heapq.heappush(self._due, (at, eid, run.id, run.attempt))

    def due(self, now: float) -> list[GateKey]:
        """The gates whose deadline came by `now` (taken off the heap)."""
        found = []
        while self._due and self._due[0][0] <= now:
            _, eid, node, attempt = heapq.heappop(self._due)
            found.append((eid, node, attempt))
        return found

    def due_again(self, keys: list[GateKey], now: float) -> None:
        """Judge these again on the next turn (the batch that judged them rolled back)."""
        for eid, node, attempt in keys:
            heapq.heappush(self._due, (now, eid, node, attempt))

    def next_deadline(self) -> float | None:
        """When the next gate is due, if any (the scheduler's clock)."""
        return self._due[0][0] if self._due else None

    def clear(self) -> None:
        """Forget every deadline (this scheduler stops serving; rebuilds hold them again)."""
        self._due.clear()
