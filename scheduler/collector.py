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

Sub-graphs are parsed in background threads (scheduler/subgraphs.py), but `json.loads` holds
the interpreter lock for the whole text, and the collections its millions of new objects set
off ran inside it: a 1,000,000-node spec took 3.4 s to parse, 1.6 s with the collector
paused, and the loop waited that long. `collection_paused` pauses it around such a load (the
loading threads share one count), and a parsed graph of `FREEZE_ABOVE` nodes or more is frozen
at once, so the next young collection does not walk it either.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


class _Pause:
    """How many threads want the collector paused, and whether to turn it back on after."""

    lock = threading.Lock()
    count = 0
    restore = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """Turn automatic collection off while the block runs (in any thread; nested and
    concurrent blocks share one count, and the collector is turned back on after the last
    only if it was on before the first)."""
    with _Pause.lock:
        if _Pause.count == 0:
            _Pause.restore = gc.isenabled()
            gc.disable()
        _Pause.count += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.count -= 1
            if _Pause.count == 0 and _Pause.restore:
                gc.enable()
