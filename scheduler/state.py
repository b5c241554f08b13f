"""The scheduler's state behind one narrow interface, with an in-memory implementation.

`StateStore.transaction()` opens a unit of work; everything the scheduler records about a
batch of control messages (executions, node rows, the event log) goes through the `StateTx`
it yields and commits together, or not at all. `StateTx.savepoint()` scopes one message, so
a message that fails rolls back alone. `scheduler.state_sql.SqlState` keeps the state in
SQLAlchemy tables (SQLite, PostgreSQL); `MemoryState` keeps it in this process, for tests and
for runs that need no durability. One contract test suite runs against all of them.

Launch plans registered for a schedule (`LaunchPlanRecord`) and the ticks fired for them
(`TickRecord`, unique per launch plan and tick time) live in the same state, so that a tick
and the execution it starts commit together (`scheduler/cron.py`).

Notifications an execution's end fired (`NotificationRecord`) are written in the transaction
that records the end, and marked sent once they were (`scheduler/notices.py`).

Node rows are plain dicts with the keys of `NODE_FIELDS`, so that thousands of them can be
written in one statement.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

from sdk.model.errors import GraftError

NODE_FIELDS = ("execution_id", "node_id", "parent", "task", "kind", "state", "attempt",
               "queue", "error", "token", "history", "cached", "started_at", "ended_at", "image",
               "inputs", "outputs")
NodeRow = dict[str, Any]


class Fenced(GraftError):
    """This scheduler's lease on a shard was taken over: its transaction is refused
    (scheduler/shards.py)."""


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution as the state keeps it. Times are unix seconds."""

    id: str
    workflow: str
    status: str
    spec_key: str
    inputs: Any
    outputs: Any = None
    error: Any = None
    submitted_at: float | None = None
    priority: int = 0
    # The launch plan's notifications (the submit message's `notify`), or None.
    notify: Any = None
    # The newest snapshot of its engine (scheduler/snapshots.py): its store key, and the
    # number of the last event it holds.
    snapshot_key: str | None = None
    snapshot_seq: int | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class EventRecord:
    """One accepted report of an execution, in order; replaying them rebuilds its engine."""

    execution_id: str
    seq: int
    node_id: str
    attempt: int
    outcome: str
    body: Any


class NodeMark(NamedTuple):
    """What rebuilding an execution reads of a node row: its state, its attempt's token and
    its times."""

    node_id: str
    state: str
    token: str | None
    started_at: float | None
    ended_at: float | None


@dataclass(frozen=True)
class LaunchPlanRecord:
    """A launch plan registered for its schedule. Times are unix seconds.

    `schedule` is the schedule's JSON (`sdk.authoring.schedule`); `inputs` the bindings of
    every input but the tick time; `anchor_s` what a fixed rate counts from (its activation);
    `cursor_s` the newest tick handled (fired, or skipped by the catch-up limit)."""

    name: str
    workflow: str
    spec_key: str
    inputs: Any
    schedule: Any
    active: bool
    anchor_s: int
    cursor_s: int
    skipped: int = 0
    notifications: Any = None  # their JSON (`sdk.authoring.notification`), or None
    updated_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class TickRecord:
    """A tick fired: the execution it started."""

    launch_plan: str
    tick_s: int
    execution_id: str
    fired_at: float = field(default_factory=time.time)


NOTIFICATION_STATES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class NotificationRecord:
    """One notification to deliver through one channel ("smtp", "webhook"), fired by an
    execution's end: `body` is what it says (`scheduler/notices.py`); `state` is pending
    until it was sent, or failed when it was given up (`error` says why)."""

    execution_id: str
    seq: int
    channel: str
    phase: str
    body: Any
    state: str = "pending"
    error: str | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def key(self) -> tuple[str, int]:
        return (self.execution_id, self.seq)


class StateTx(Protocol):
    """One unit of work on the scheduler's state."""

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """The execution, or None when the state does not know it."""

    def add_execution(self, record: ExecutionRecord) -> None:
        """Record a new execution (its id must be new)."""

    def update_execution(self, execution_id: str, **fields: Any) -> None:
        """Change fields of an execution (`updated_at` is set too)."""

    def executions(self, status: str | None = None, limit: int | None = None
                   ) -> list[ExecutionRecord]:
        """Executions, newest first; only those in `status` when given."""

    def count_by_status(self) -> dict[str, int]:
        """How many executions there are in each status (statuses with none left out)."""

    def node_ids(self, execution_id: str) -> set[str]:
        """The ids of the nodes that have a row."""

    def nodes(self, execution_id: str, ids: Collection[str] | None = None) -> list[NodeRow]:
        """The node rows of an execution (those of `ids` only, when given), in id order."""

    def node_marks(self, execution_id: str, after: str, limit: int) -> list[NodeMark]:
        """At most `limit` of an execution's node rows whose ids sort after `after`, in id
        order, as a rebuild reads them."""

    def node_outputs(self, execution_id: str, node_ids: list[str]
                     ) -> dict[str, dict[str, Any]]:
        """The outputs of those of `node_ids` whose rows hold outputs: {node id: outputs}."""

    def insert_nodes(self, rows: list[NodeRow]) -> None:
        """Add node rows (their ids must be new)."""

    def update_nodes(self, rows: list[NodeRow]) -> None:
        """Replace node rows that exist."""

    def append_event(self, event: EventRecord) -> None:
        """Add an event (its `(execution_id, seq)` must be new)."""

    def events(self, execution_id: str, after: int = 0,
               limit: int | None = None) -> list[EventRecord]:
        """An execution's events in `seq` order: those after `seq` `after`, at most
        `limit` of them."""

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested scope: an exception inside it rolls back what it did, and propagates."""

    def hold_shards(self, token: str) -> int:
        """How many shard leases name `token` (scheduler/shards.py), locking their rows until
        the transaction ends."""

    def get_launch_plan(self, name: str) -> LaunchPlanRecord | None:
        """The registered launch plan `name`, or None."""

    def put_launch_plan(self, record: LaunchPlanRecord) -> None:
        """Register a launch plan, or replace the one of that name."""

    def launch_plans(self, active: bool | None = None) -> list[LaunchPlanRecord]:
        """Registered launch plans by name; only active (or inactive) ones when given."""

    def add_tick(self, tick: TickRecord) -> None:
        """Record a fired tick; raises when `(launch_plan, tick_s)` was recorded already (the
        guard that makes each tick fire once, whoever fires it)."""

    def ticks(self, launch_plan: str, limit: int | None = None) -> list[TickRecord]:
        """A launch plan's fired ticks, newest first."""

    def add_notifications(self, records: list[NotificationRecord]) -> None:
        """Record notifications to deliver (their `(execution_id, seq)` must be new)."""

    def notifications(self, execution_id: str | None = None, state: str | None = None
                      ) -> list[NotificationRecord]:
        """Notifications, oldest first: of one execution, in one state, when given."""

    def mark_notifications(self, marks: list[tuple[str, int, str, str | None]]) -> None:
        """Set `(execution_id, seq, state, error)` of notifications that exist."""


class StateStore(Protocol):
    url: str

    def transaction(self) -> AbstractContextManager[StateTx]:
        """A unit of work, committed when the block ends, rolled back when it raises."""

    def is_transient(self, exc: BaseException) -> bool:
        """Whether `exc` (raised by this store) may not recur on another try: the database
        unreachable or locked, as opposed to data it refuses."""

    def explain(self, exc: BaseException) -> str:
        """Why this store failed with `exc` (transient), in one line naming the store
        without its password: what the scheduler logs when it loses the database."""

    def ping(self) -> None:
        """Return once the store answers a request; raise (transient) when it does not."""


class MemoryState:
    """The state in this process's memory: nothing survives the process."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._data = _Data()

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTx]:
        tx = _MemoryTx(self._data.copy())
        yield tx
        self._data = tx.data

    def is_transient(self, exc: BaseException) -> bool:
        return False

    def explain(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}"

    def ping(self) -> None:
        return None


@dataclass
class _Data:
    executions: dict[str, ExecutionRecord] = field(default_factory=dict)
    nodes: dict[str, dict[str, NodeRow]] = field(default_factory=dict)
    events: dict[str, list[EventRecord]] = field(default_factory=dict)
    launch_plans: dict[str, LaunchPlanRecord] = field(default_factory=dict)
    ticks: dict[tuple[str, int], TickRecord] = field(default_factory=dict)
    notifications: dict[tuple[str, int], NotificationRecord] = field(default_factory=dict)

    def copy(self) -> _Data:
        return _Data(dict(self.executions),
                     {eid: dict(rows) for eid, rows in self.nodes.items()},
                     {eid: list(evs) for eid, evs in self.events.items()},
                     dict(self.launch_plans), dict(self.ticks), dict(self.notifications))


class _MemoryTx:
    def __init__(self, data: _Data):
        self.data = data

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        return self.data.executions.get(execution_id)

    def add_execution(self, record: ExecutionRecord) -> None:
        if record.id in self.data.executions:
            raise KeyError(f"execution {record.id} exists already")
        self.data.executions[record.id] = record

    def update_execution(self, execution_id: str, **fields: Any) -> None:
        current = self.data.executions[execution_id]
        self.data.executions[execution_id] = replace(current, updated_at=time.time(), **fields)

    def executions(self, status: str | None = None, limit: int | None = None
                   ) -> list[ExecutionRecord]:
        found = [r for r in self.data.executions.values() if status is None or r.status == status]
        found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return found[:limit] if limit is not None else found

    def count_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.data.executions.values():
            counts[record.status] = counts.get(record.status, 0) + 1
        return counts

    def node_ids(self, execution_id: str) -> set[str]:
        return set(self.data.nodes.get(execution_id, {}))

    def nodes(self, execution_id: str, ids: Collection[str] | None = None) -> list[NodeRow]:
        rows = self.data.nodes.get(execution_id, {})
        return [copy.deepcopy(rows[nid]) for nid in sorted(rows) if ids is None or nid in ids]

    def node_outputs(self, execution_id: str, node_ids: list[str]
                     ) -> dict[str, dict[str, Any]]:
        rows = self.data.nodes.get(execution_id, {})
        return {nid: copy.deepcopy(rows[nid]["outputs"]) for nid in node_ids
                if nid in rows and rows[nid]["outputs"] is not None}

    def insert_nodes(self, rows: list[NodeRow]) -> None:
        for row in rows:
            table = self.data.nodes.setdefault(row["execution_id"], {})
            if row["node_id"] in table:
                raise KeyError(f"node {row['node_id']} of {row['execution_id']} exists already")
            table[row["node_id"]] = _node_row(row)

    def update_nodes(self, rows: list[NodeRow]) -> None:
        for row in rows:
            table = self.data.nodes[row["execution_id"]]
            if row["node_id"] not in table:
                raise KeyError(f"node {row['node_id']} of {row['execution_id']} has no row")
            table[row["node_id"]] = _node_row(row)

    def append_event(self, event: EventRecord) -> None:
        events = self.data.events.setdefault(event.execution_id, [])
        if any(e.seq == event.seq for e in events):
            raise KeyError(f"event {event.seq} of {event.execution_id} exists already")
        events.append(copy.deepcopy(event))

    def events(self, execution_id: str, after: int = 0,
               limit: int | None = None) -> list[EventRecord]:
        found = sorted((e for e in self.data.events.get(execution_id, []) if e.seq > after),
                       key=lambda e: e.seq)
        return found[:limit] if limit is not None else found

    def node_marks(self, execution_id: str, after: str, limit: int) -> list[NodeMark]:
        rows = self.data.nodes.get(execution_id, {})
        return [NodeMark(nid, rows[nid]["state"], rows[nid]["token"], rows[nid]["started_at"],
                         rows[nid]["ended_at"]) for nid in sorted(rows) if nid > after][:limit]

    def hold_shards(self, token: str) -> int:
        return 0  # one process holds a memory state: it has no shard leases

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        saved = self.data.copy()
        try:
            yield
        except BaseException:
            self.data = saved
            raise

    def get_launch_plan(self, name: str) -> LaunchPlanRecord | None:
        return self.data.launch_plans.get(name)

    def put_launch_plan(self, record: LaunchPlanRecord) -> None:
        self.data.launch_plans[record.name] = replace(record, updated_at=time.time())

    def launch_plans(self, active: bool | None = None) -> list[LaunchPlanRecord]:
        return [r for _, r in sorted(self.data.launch_plans.items())
                if active is None or r.active == active]

    def add_tick(self, tick: TickRecord) -> None:
        key = (tick.launch_plan, tick.tick_s)
        if key in self.data.ticks:
            raise KeyError(f"tick {tick.tick_s} of launch plan {tick.launch_plan} was fired "
                           f"already")
        self.data.ticks[key] = tick

    def ticks(self, launch_plan: str, limit: int | None = None) -> list[TickRecord]:
        found = sorted((t for (lp, _), t in self.data.ticks.items() if lp == launch_plan),
                       key=lambda t: t.tick_s, reverse=True)
        return found[:limit] if limit is not None else found


    def add_notifications(self, records: list[NotificationRecord]) -> None:
        for record in records:
            if record.key in self.data.notifications:
                raise KeyError(f"notification {record.seq} of {record.execution_id} exists "
                               f"already")
            self.data.notifications[record.key] = copy.deepcopy(record)

    def notifications(self, execution_id: str | None = None, state: str | None = None
                      ) -> list[NotificationRecord]:
        found = [r for r in self.data.notifications.values()
                 if (execution_id is None or r.execution_id == execution_id)
                 and (state is None or r.state == state)]
        return sorted(found, key=lambda r: (r.created_at, r.execution_id, r.seq))

    def mark_notifications(self, marks: list[tuple[str, int, str, str | None]]) -> None:
        for eid, seq, state, error in marks:
            record = self.data.notifications.get((eid, seq))
            if record is not None:
                self.data.notifications[(eid, seq)] = replace(record, state=state, error=error)


def _node_row(row: NodeRow) -> NodeRow:
    missing = set(NODE_FIELDS) - set(row)
    if missing:
        raise KeyError(f"node row lacks {', '.join(sorted(missing))}")
    return copy.deepcopy({k: row[k] for k in NODE_FIELDS})
