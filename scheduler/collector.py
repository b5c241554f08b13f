"""Keep Python's cyclic garbage collector off the large graphs a scheduler holds.

A full collection walks every container object that survived the younger ones. A held graph
of 1,000,000 nodes is some 15 million such objects (node records, their bindings, the spec
being grafted), and one full pass over them took 2 to 5 s on this project's 2-core machines:
the loop turned no more while it ran. Those objects hold no reference cycles: they are freed
by reference counting when their execution ends, so the collector has nothing to find in
them.

So while the scheduler holds at least `FREEZE_ABOVE` nodes, each turn ends by collecting the
young generations (what that turn allocated and still holds, a cost in proportion to the
turn's work) and moving whatever survives into the permanent generation with `gc.freeze()`,
which splices lists in constant time and which collections never walk. Once the scheduler
holds fewer than half that, `gc.unfreeze()` hands everything back to the collector: cyclic
garbage made of objects frozen meanwhile is found then.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FREEZE_ABOVE = 50_000  # nodes held: about 0.75 million objects, a full pass of ~0.25 s
CHECK_S = 0.2  # how often the size held is looked at (summing it walks the executions)


class GraphCollector:
    """Freezes the objects that survive each turn while the scheduler holds large graphs."""

    def __init__(self, held: Callable[[], int], freeze_above: int = FREEZE_ABOVE,
                 check_s: float = CHECK_S, clock: Callable[[], float] = time.monotonic):
        self._held = held
        self.freeze_above = freeze_above
        self._check_s = check_s
        self._clock = clock
        self._next_check = 0.0
        self.frozen = False

    def after_turn(self) -> None:
        """Call at the end of each loop turn."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._check_s
            held = self._held()
            if not self.frozen and held >= self.freeze_above:
                self.frozen = True
            elif self.frozen and held < self.freeze_above // 2:
                self.frozen = False
                gc.unfreeze()
        if self.frozen:
            gc.collect(1)
            gc.freeze()

    def release(self) -> None:
        """Hand every frozen object back to the collector (the scheduler stops serving)."""
        if self.frozen:
            self.frozen = False
            gc.unfreeze()
