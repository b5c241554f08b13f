"""The states of a node and of an execution, as the engine moves them and drivers show them."""

from __future__ import annotations

from enum import Enum


class NodeState(str, Enum):
    PENDING = "PENDING"  # waiting for upstream nodes (or, a map item, for a free slot)
    QUEUED = "QUEUED"  # released: to run, or running on a worker (a map or conditional: to
    # be expanded by the driver)
    RUNNING = "RUNNING"  # a dynamic, sub-workflow, map or conditional whose children run
    WAITING = "WAITING"  # released: a gate its driver holds, waiting for its signal or time
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # never ran: the execution failed first, or an untaken branch
    ABORTED = "ABORTED"  # a dynamic or sub-workflow whose sub-graph was cut off by a failure
    CANCELLED = "CANCELLED"  # released, then given up because the execution failed


class ExecutionState(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"  # cancelled by a user


TERMINAL_NODE_STATES = (NodeState.SUCCEEDED, NodeState.FAILED, NodeState.SKIPPED,
                        NodeState.ABORTED, NodeState.CANCELLED)
ACTIVE_STATES = (NodeState.PENDING, NodeState.QUEUED, NodeState.RUNNING, NodeState.WAITING)
RELEASED_STATES = (NodeState.QUEUED, NodeState.WAITING)  # waiting for their attempt's report
