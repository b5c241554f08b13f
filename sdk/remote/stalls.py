"""Why an execution may not be moving: what a client says instead of waiting in silence.

Read from the heartbeats schedulers and workers keep in Redis (`sdk.wire.presence`): no
scheduler serving the broker and key prefix (nothing starts a submitted execution or
dispatches its nodes), or nodes queued on a tier whose queue no worker consumes.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sdk.wire.keys import queue_tier
from sdk.wire.presence import SCHEDULER, Presence, worker_role

if TYPE_CHECKING:
    from sdk.remote.client import Execution

FINAL = ("SUCCEEDED", "FAILED", "ABORTED")


def stall_hints(execution: Execution, info: dict[str, Any] | None = None,
                nodes: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """One line for each thing missing that the execution waits for (none once it ended);
    `info` and `nodes` (its board record and `node_records()`) are read when not given."""
    info = info if info is not None else execution.info()
    if info.get("status") in FINAL:
        return []
    client = execution.client
    presence = Presence(client.board.redis, client.settings.key_prefix)
    hints = []
    if not presence.alive(SCHEDULER):
        hints.append("no scheduler is serving this broker and key prefix "
                     f"({client.settings.key_prefix}): start one with `graft scheduler` (or "
                     "`graft up`); the execution starts when one does")
    nodes = nodes if nodes is not None else execution.node_records()
    waiting = Counter(r.get("queue") for r in nodes.values()
                      if r.get("state") == "QUEUED" and r.get("queue"))
    for queue, count in sorted(waiting.items()):
        if not presence.alive(worker_role(queue)):
            tier = queue_tier(queue)
            hints.append(f"{count} node(s) wait in tier {tier} (queue {queue}), which no "
                         f"worker serves: start one with `graft worker --tier {tier}`")
    return hints
