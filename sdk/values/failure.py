"""`FlyteError`: what a workflow's failure handler receives about the failure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FlyteError:
    """The failure a workflow's `on_failure` handler receives as `err`: the first failed
    node's message, and that node's id. (flytekit puts the handler's own id in
    `failed_node_id`; graft names the node that failed.)"""

    message: str
    failed_node_id: str
