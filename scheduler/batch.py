"""What the scheduler holds between messages: an execution in memory (`Live`), and what
applying a batch of messages produced (`Batch`), acted on only once the batch committed
(`scheduler.work.UnitOfWork`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scheduler.dispatch import Dispatch
from scheduler.observer import Observation
from scheduler.state import NotificationRecord
from sdk.model.engine import Engine
from sdk.model.spec import NodeSpec
from sdk.wire.keys import AttemptKey

CONTROL = "control stream"


@dataclass
class Live:
    """An execution the scheduler holds in memory."""

    engine: Engine
    spec_key: str
    seq: int = 0
    known: set[str] = field(default_factory=set)  # node ids that have a row
    done: set[str] = field(default_factory=set)  # node ids in a terminal state
    tokens: dict[str, str] = field(default_factory=dict)  # node id -> current attempt's token
    times: dict[str, list[float | None]] = field(default_factory=dict)  # [started, ended]
    cancel_reason: str = ""
    cache_keys: dict[str, str] = field(default_factory=dict)  # dynamic node id -> cache key
    ends_at: float | None = None  # wall-clock time its workflow timeout ends it
    priority: int = 0  # higher: its attempts are sent before those of lower ones
    # Attempts handed to the broker and not seen to end: node id -> attempt. A superset of
    # those still waited for (`Sender.queued_attempts` prunes it); a rebuild lists them again.
    sent: dict[str, int] = field(default_factory=dict)
    notify: Any = None  # its launch plan's notifications (`ExecutionRecord.notify`)
    ended_at: float | None = None  # when it ended (unix seconds), once it did
    snapshot_key: str | None = None  # its engine's newest snapshot (scheduler/snapshots.py)
    snapshot_seq: int = 0  # the last event that snapshot holds (0: none)

    @property
    def finished(self) -> int:
        """How many of its nodes ended, those dropped from memory included."""
        return len(self.done) + self.engine.evicted


@dataclass(frozen=True)
class Refusal:
    """A message refused: where it came from, why, and what it was."""

    queue: str
    reason: str
    body: Any


@dataclass
class Batch:
    """What applying some messages produced, to act on once it is committed."""

    # Attempts made ready: (tier queue, execution priority, attempt, backoff in seconds).
    ready: list[tuple[str, int, AttemptKey, float]] = field(default_factory=list)
    # Attempts taken from the ready queue to send once committed, and their messages.
    taken: list[tuple[str, int, AttemptKey]] = field(default_factory=list)
    outbox: list[Dispatch] = field(default_factory=list)
    touched: dict[str, set[str]] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)
    board: dict[str, dict[str, Any]] = field(default_factory=dict)
    board_nodes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    superseded: list[AttemptKey] = field(default_factory=list)
    cached: list[tuple[str, NodeSpec, dict[str, Any], str, str]] = field(default_factory=list)
    observed: list[Observation] = field(default_factory=list)  # for the metrics, once committed
    # Notifications written, to hand to the notifier once committed (scheduler/notices.py).
    notices: list[NotificationRecord] = field(default_factory=list)
    # What became of signals, for the clients that sent them: execution -> {request: answer}.
    answers: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Executions a client asked to refresh that the state does not hold: marked unknown on
    # the board once committed, so the client answers at once.
    unknown: list[str] = field(default_factory=list)
    # Store keys of engine snapshots a newer one replaced, deleted once committed.
    replaced: list[str] = field(default_factory=list)
