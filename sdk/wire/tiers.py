"""Which tier queue a node goes to: the smallest memory tier that fits its limit (or its
request), and a clear error, naming the node, for one that fits none."""

from __future__ import annotations

from collections.abc import Callable

from sdk.model.config import Settings
from sdk.model.errors import TierError
from sdk.model.resources import format_memory
from sdk.model.spec import GraphSpec, NodeSpec, walk_node
from sdk.wire.keys import tier_queue


def queue_for(settings: Settings, memory_bytes: int | None, what: str) -> str:
    """The queue of the smallest tier that fits `memory_bytes`; TierError naming `what` when
    none does."""
    tier = settings.tier_for(memory_bytes)
    if tier is None:
        assert memory_bytes is not None
        raise TierError(
            f"{what} needs {format_memory(memory_bytes)} of memory, more than the largest "
            f"tier; the tiers are {settings.tier_names()} (set GRAFT_TIERS to add a larger one)"
        )
    return tier_queue(tier)


def check_tiers(spec: GraphSpec, settings: Settings, prefix: str = "") -> None:
    """TierError naming the first node that needs more memory than the largest tier (node
    ids under `prefix`, for a sub-graph)."""
    check = tier_check(settings, prefix)
    for node in spec.nodes:
        check(node)
    if spec.on_failure is not None:
        check(spec.on_failure)


def tier_check(settings: Settings, prefix: str = "") -> Callable[[NodeSpec], None]:
    """What `check_tiers` does to each node of a graph (and the nodes inside it), to run in
    a pass that reads the nodes anyway (`validate`'s `visit`). Each memory need is looked up
    once."""
    fits: set[int | None] = set()

    def check(top: NodeSpec) -> None:
        for node_id, node in walk_node(top, prefix):
            memory = node.memory_bytes
            if node.kind != "workflow" and memory not in fits:
                queue_for(settings, memory, f"node {node_id!r} (task {node.task.name})")
                fits.add(memory)

    return check


class TierQueues:
    """`queue_for`, each memory need looked up once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._queues: dict[int | None, str] = {}

    def of(self, memory_bytes: int | None, node_id: str) -> str:
        """The queue of the smallest tier that fits node `node_id`'s memory need; TierError
        naming the node when none does."""
        queue = self._queues.get(memory_bytes)
        if queue is None:
            queue = self._queues[memory_bytes] = queue_for(self.settings, memory_bytes,
                                                           f"node {node_id!r}")
        return queue
