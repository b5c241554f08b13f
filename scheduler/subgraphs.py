"""Sub-graphs reported by dynamic nodes, read and parsed off the scheduler's loop.

A dynamic's sub-graph can hold 100,000 nodes: reading, verifying and parsing its spec takes
seconds, during which a loop that did it inline would serve no other execution. The loop
hands each sub-graph report to `Subgraphs.start` before applying a batch; a few background
threads load the specs, and the loop waits for them only briefly (`WAIT_S`). A report whose
sub-graph is still loading is put off, with the messages of its execution that follow it,
and applied on a later turn (its stream entry stays unacknowledged until then, so a restart
loses nothing). What the thread produced, spec or error, is taken by `take` when the report
is applied; a report nobody preloaded (tests, `Scheduler.handle` called directly) is loaded
there and then. The threads load with the garbage collector paused (scheduler/collector.py).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from scheduler.collector import FREEZE_ABOVE, collection_paused
from scheduler.snapshots import stored_graph
from sdk.model.config import Settings
from sdk.model.report import Outcome
from sdk.model.spec import GraphSpec
from sdk.model.store import Store
from sdk.model.validate import validate
from sdk.wire.tiers import tier_check

WAIT_S = 0.05  # how long a batch waits for its sub-graphs before putting them off
THREADS = 4  # a large sub-graph loading does not hold up the small ones of others


class Subgraphs:
    """Loads sub-graph specs in background threads with `load(key, node_id)`."""

    def __init__(self, load: Callable[[str, str], GraphSpec]):
        self._load = load
        self._pool: ThreadPoolExecutor | None = None
        self._loading: dict[str, Future[GraphSpec]] = {}
        self.finished = threading.Event()  # set when a load put off by `start` ended

    def start(self, bodies: list[Any]) -> set[int]:
        """Start loading the sub-graphs of the report messages among `bodies`; return the
        positions of the messages to put off: each report whose sub-graph is not loaded
        within `WAIT_S`, and every later message of the same execution."""
        started: list[tuple[int, Future[GraphSpec]]] = []
        for i, body in enumerate(bodies):
            key = _subgraph_key(body)
            if key is None:
                continue
            future = self._loading.get(key)
            if future is None:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="graft-subgraphs")
                future = self._loading[key] = self._pool.submit(self._load_quietly, key,
                                                                str(body.get("node")))
            started.append((i, future))
        if not started:
            return set()
        wait([f for _, f in started], timeout=WAIT_S)
        first: dict[str, int] = {}  # execution -> position of its first report put off
        for i, future in started:
            if not future.done():
                future.add_done_callback(lambda _: self.finished.set())
                first.setdefault(bodies[i].get("execution"), i)
        return {i for i, body in enumerate(bodies)
                if isinstance(body, dict) and i >= first.get(body.get("execution"), len(bodies))}

    def _load_quietly(self, key: str, node_id: str) -> GraphSpec:
        """Load a sub-graph with the garbage collector paused, and freeze it when it is large
        (scheduler/collector.py): what the loop waits for while a thread parses."""
        with collection_paused():
            spec = self._load(key, node_id)
            if len(spec.nodes) >= FREEZE_ABOVE:
                gc.freeze()
        return spec

    def discard(self, bodies: list[Any]) -> None:
        """Forget what was loaded for these messages once they were applied (a report that
        was refused, or came late, never took its sub-graph)."""
        for body in bodies:
            key = _subgraph_key(body)
            if key is not None:
                self._loading.pop(key, None)

    def take(self, key: str, node_id: str) -> GraphSpec:
        """The sub-graph stored under `key` (raising what loading it raised): the one loaded
        in the background when there is one, else loaded now."""
        future = self._loading.pop(key, None)
        if future is not None:
            return future.result()
        return self._load(key, node_id)

    def loading(self) -> bool:
        """Whether a sub-graph is being loaded."""
        return any(not f.done() for f in self._loading.values())

    def clear(self) -> None:
        """Forget what was loaded (this scheduler stops serving)."""
        self._loading.clear()


def load_subgraph(store: Store, settings: Settings, key: str, node_id: str) -> GraphSpec:
    """A dynamic node's reported sub-graph, read, verified, validated and checked against
    the tiers (in a thread of `Subgraphs`, or inline)."""
    sub = stored_graph(store, key)
    # the engine's check, early; and the tiers, in the same read of the nodes
    validate(sub, f"sub-graph of dynamic node {node_id!r}",
             visit=tier_check(settings, f"{node_id}/"))
    return sub


def _subgraph_key(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("type") == "report" \
            and body.get("outcome") == Outcome.SUBGRAPH.value:
        key = body.get("subgraph")
        return key if isinstance(key, str) else None
    return None
