"""Submitting workflows to a graft cluster and following their executions.

The client talks only to Redis (control stream and status board) and the store, never to the
scheduler's database: an execution submitted while the scheduler is down waits and runs when
it starts. Waiting rides out Redis outages, and asks the scheduler to rewrite an execution's
board record when Redis lost it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdk.authoring.options import timeout_seconds
from sdk.model.config import Settings
from sdk.model.decks import deck_key
from sdk.model.entity import Runnable
from sdk.model.errors import (
    BrokerUnavailable,
    CompileError,
    ConfigError,
    ExecutionAborted,
    ExecutionFailed,
    GraftError,
    NodeFailure,
    StoreObjectMissing,
)
from sdk.model.spec import GraphSpec
from sdk.model.states import ExecutionState, NodeState
from sdk.model.store import Store
from sdk.remote import signals as gates
from sdk.remote.node_io import node_values
from sdk.remote.references import resolve_references
from sdk.remote.schedules import Schedules
from sdk.remote.specs import main_module_name, renamed_refs, upload_spec
from sdk.runtime.context import log_key, output_key
from sdk.values.literals import load, value_binding
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.store import check_store, get_verified, open_store
from sdk.wire import board as board_mod
from sdk.wire.connections import check_redis, redact, redis_client
from sdk.wire.control import ControlChannel, encode
from sdk.wire.leases import REPORTED, Leases
from sdk.wire.messages import MAX_PRIORITY, MessageError, check_execution_id, is_priority
from sdk.wire.notifiers import NotifierBoard, check_deliverable
from sdk.wire.signing import sign
from sdk.wire.submissions import Submissions
from sdk.wire.tiers import check_tiers

FINAL = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value,
         ExecutionState.ABORTED.value)

log = logging.getLogger("graft.client")


@dataclass(frozen=True)
class NodeRecord:
    """One node of an execution as `Execution.nodes()` reports it."""

    id: str
    task: str
    state: str
    queue: str | None
    attempts: int
    parent: str | None
    error: dict[str, Any] | None
    kind: str = "task"
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cached: bool = False
    started_at: float | None = None
    ended_at: float | None = None
    image: str | None = None
    worker: str | None = None


def check_priority(priority: object) -> None:
    """ConfigError unless `priority` is a valid execution priority."""
    if not is_priority(priority):
        raise ConfigError(f"priority must be an integer from {-MAX_PRIORITY} to "
                          f"{MAX_PRIORITY} (higher runs first), got {priority!r}")


# The fewest characters of an execution id taken as a prefix of one (`Client.get`).
MIN_PREFIX = 4


class Client:
    """Submit workflows and reattach to executions. Reads `GRAFT_*` unless given settings."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.store: Store = open_store(self.settings.store_url, self.settings.store_options)
        self._board: board_mod.Board | None = None
        self._control: ControlChannel | None = None
        self._leases: Leases | None = None
        self._store_checked = False

    def check_store(self) -> None:
        """StoreError in one line, naming the bucket and the cause, unless this process can
        write to the store and read back (checked once per client: at its first submit)."""
        if not self._store_checked:
            check_store(self.settings)
            self._store_checked = True

    @property
    def board(self) -> board_mod.Board:
        if self._board is None:
            self._board = board_mod.Board(self.settings)
        return self._board

    def submit(self, entity: Runnable, /, *, timeout: Any = None, priority: int = 0,
               inputs: dict[str, Any] | None = None, **kw_inputs: Any) -> Execution:
        """Compile, upload code and inputs, and queue an execution; return it at once.

        Inputs are keywords (`submit(wf, x=1)`), or a dict (`inputs={...}`) for inputs named
        like an option. `timeout` (seconds or a timedelta) ends the execution FAILED with a
        WorkflowTimeout when it runs longer; it replaces the workflow's own `timeout`.
        `priority` (an integer from -1000 to 1000, default 0): the scheduler sends the ready
        nodes of executions of higher priority first, and shares the workers equally among
        executions of the same priority.

        A launch plan with notifications (`Email`, `Slack`, `PagerDuty`) has the scheduler
        send them when the execution reaches a phase they name (docs/notifications.md).

        Raises CompileError/TypeConversionError on bad workflow or inputs, TierError when a
        node needs more memory than the largest tier, BrokerUnavailable without a broker,
        StoreError when the store cannot be written (a bucket that does not exist or refuses
        access), ConfigError on a malformed timeout or for notifications the scheduler said
        it cannot send (it has no SMTP server), RegistryError when a reference entity it
        calls is not registered or does not fit its stub (`sdk.remote.references`).
        """
        check_priority(priority)
        bound = entity.bind((), {**(inputs or {}), **kw_inputs})
        self.check_store()
        spec = resolve_references(entity.graph(), self.settings, self.store)
        if timeout is not None:
            spec = dataclasses.replace(spec, timeout_s=timeout_seconds(
                timeout, f"submit({entity.name})"))
        check_tiers(spec, self.settings)
        check_redis(self.settings.broker_url)
        notify = entity.notify_json() if hasattr(entity, "notify_json") else None
        check_deliverable(notify, NotifierBoard(self.board.redis, self.settings.key_prefix))
        spec_key = upload_spec(spec, self.store)
        return self._queue(spec.name, spec_key, encode_inputs(entity, bound, self.store),
                           priority, notify)

    def relaunch(self, execution_id: str, overrides: dict[str, Any] | None = None,
                 priority: int | None = None) -> Execution:
        """Submit again what execution `execution_id` ran (its spec, so its code as it was
        then), with the same inputs except `overrides` (native values by input name), at its
        priority unless `priority` is given."""
        check_redis(self.settings.broker_url)
        info = self.get(execution_id).info()
        spec_key, inputs = info.get("spec"), info.get("inputs")
        if not isinstance(spec_key, str) or not isinstance(inputs, dict):
            raise GraftError(f"execution {execution_id} was submitted by a version of graft "
                             f"that kept no inputs on the board; it cannot be relaunched")
        spec = GraphSpec.loads(get_verified(self.store, spec_key))
        unknown = set(overrides or {}) - set(spec.inputs)
        if unknown:
            raise CompileError(f"workflow {spec.name!r} has no input(s) "
                               f"{', '.join(sorted(unknown))} (inputs: "
                               f"{', '.join(spec.inputs) or 'none'})")
        inputs = dict(inputs)
        for name, value in (overrides or {}).items():
            inputs[name] = value_binding(value, spec.inputs[name], self.store,
                                         f"input {name!r} of workflow {spec.name!r}")
        if priority is None:
            priority = info.get("priority") if is_priority(info.get("priority")) else 0
        check_priority(priority)
        return self._queue(spec.name, spec_key, inputs, priority)

    def _queue(self, workflow: str, spec_key: str, inputs: dict[str, Any],
               priority: int = 0, notify: dict[str, Any] | None = None) -> Execution:
        """Queue an execution of a stored spec (the broker was checked by the caller), with
        its launch plan's notifications (`notify`) when it has some."""
        execution_id = uuid.uuid4().hex[:20]
        now = time.time()
        body = {"type": "submit", "execution": execution_id, "spec": spec_key,
                "inputs": inputs, "workflow": workflow, "submitted_at": now}
        if priority:
            body["priority"] = priority
        if notify:
            body["notify"] = notify
        # Kept in the store first: if Redis loses the stream entry, the scheduler still
        # finds the submission there.
        Submissions(self.store).put(execution_id, encode(sign(body, self.settings.secret)))
        self.board.write(execution_id, {"status": ExecutionState.QUEUED.value,
                                        "workflow": workflow, "spec": spec_key,
                                        "inputs": inputs, "done": 0, "total": 0,
                                        "submitted_at": now, "priority": priority})
        self.control.publish(body)
        return Execution(self, execution_id)

    def executions(self, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
        """The newest `limit` executions on the status board (only those in `status`, when
        given), newest first: id, workflow, status, done, total, submitted_at."""
        return [{"id": eid, "workflow": r.get("workflow"), "status": r.get("status"),
                 "done": r.get("done", 0), "total": r.get("total", 0),
                 "submitted_at": r.get("submitted_at"), "ended_at": r.get("ended_at")}
                for eid, r in self.board.executions(limit, status)]

    @property
    def leases(self) -> Leases:
        if self._leases is None:
            self._leases = Leases(redis_client(self.settings.broker_url),
                                  self.settings.key_prefix, self.settings.lease_ttl_s)
        return self._leases

    @property
    def control(self) -> ControlChannel:
        if self._control is None:
            self._control = ControlChannel(redis_client(self.settings.broker_url),
                                           self.settings)
        return self._control

    def get(self, execution_id: str, timeout: float = 5.0) -> Execution:
        """Reattach to an execution by its id, or by a unique prefix of it (at least
        `MIN_PREFIX` characters) among the executions on the board. When the board lacks the
        id (Redis was emptied, or the record expired), ask the scheduler to rewrite it from
        its database, for up to `timeout` seconds. GraftError at once when the scheduler
        answers that it has no such execution, when a prefix is ambiguous, or when the id is
        not one graft makes (then nothing is asked of the scheduler)."""
        try:
            check_execution_id(execution_id)
        except MessageError as exc:
            raise GraftError(f"no execution {str(execution_id)[:80]!r}: {exc}") from None
        if self.board.execution(execution_id) is not None:
            return Execution(self, execution_id)
        if len(execution_id) >= MIN_PREFIX:
            matches = self.board.ids_starting(execution_id, limit=6)
            if len(matches) == 1:
                return Execution(self, matches[0])
            if len(matches) > 1:
                shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
                raise GraftError(f"execution id prefix {execution_id!r} is ambiguous: it "
                                 f"starts {shown}; give more of the id")
        execution = Execution(self, execution_id)
        if execution.refreshed(timeout) is None:
            if self.board.is_unknown(execution_id):
                raise GraftError(f"no execution {execution_id!r}: the scheduler has none by "
                                 f"that id, and none on the board starts with it (graft ls "
                                 f"lists them)")
            raise GraftError(f"no execution {execution_id!r} on the board at "
                             f"{redact(self.board.url)}, and the scheduler did not restore it "
                             f"within {timeout:g} s (wrong GRAFT_BROKER_URL or key prefix, "
                             f"the scheduler is not running, or it is older than the board's "
                             f"TTL)")
        return execution

    # ---- scheduled launch plans (sdk.remote.schedules, docs/schedules.md) ---------------------

    @property
    def schedules(self) -> Schedules:
        return Schedules(self.settings, self.store, self.control, self.board.redis)

    def activate(self, plan: Any, wait_s: float = 15.0) -> dict[str, Any] | None:
        """Register a scheduled launch plan with the scheduler and start its schedule; its
        board record once a scheduler confirmed it within `wait_s` seconds, else None."""
        return self.schedules.activate(plan, wait_s)

    def deactivate(self, name: str, wait_s: float = 15.0) -> dict[str, Any] | None:
        """Stop launch plan `name`'s schedule; its record once confirmed, else None."""
        return self.schedules.deactivate(name, wait_s)

    def launch_plans(self) -> list[dict[str, Any]]:
        """The registered launch plans: schedule, active, next run, last tick."""
        return self.schedules.launch_plans()


def _left(deadline: float | None) -> float:
    return 3600.0 if deadline is None else max(0.0, deadline - time.monotonic())


class Execution:
    """A submitted execution. `wait()` returns outputs as a local run would."""

    def __init__(self, client: Client, execution_id: str):
        self.client = client
        self.id = execution_id

    def __repr__(self) -> str:
        return f"Execution({self.id!r})"

    def info(self) -> dict[str, Any]:
        """The execution's board record (status, done, total, outputs or failures). When
        Redis lost it, the scheduler is asked to rewrite it, and this waits a little."""
        info = self.client.board.execution(self.id)
        if info is None:
            info = self.refreshed(5.0)
        if info is None:
            raise GraftError(f"execution {self.id!r} is not on the status board, and the "
                             f"scheduler did not restore it (is it running?)")
        return info

    def refreshed(self, timeout: float) -> dict[str, Any] | None:
        """Ask the scheduler to rewrite this execution's board record from its database;
        the record once it is there, or None after `timeout` seconds."""
        self.client.control.publish({"type": "refresh", "execution": self.id})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.05)
            info = self.client.board.execution(self.id)
            if info is not None:
                return info
            if self.client.board.is_unknown(self.id):  # the scheduler answered: none
                return None
        return None

    def status(self) -> str:
        """One of QUEUED, RUNNING, SUCCEEDED, FAILED, ABORTED."""
        return str(self.info()["status"])

    def nodes(self) -> list[NodeRecord]:
        """Every node (grafted ones included) with its state and the record of each
        attempt."""
        return self.records_as_nodes(self.node_records())

    @staticmethod
    def records_as_nodes(records: dict[str, dict[str, Any]]) -> list[NodeRecord]:
        """`node_records()` as NodeRecords, by id."""
        return [NodeRecord(id=nid, task=r.get("task", ""), state=r.get("state", ""),
                           queue=r.get("queue"), attempts=int(r.get("attempts", 0)),
                           parent=r.get("parent"), error=r.get("error"),
                           kind=r.get("kind", "task"), history=r.get("history") or [],
                           cached=bool(r.get("cached")), started_at=r.get("started_at"),
                           ended_at=r.get("ended_at"), image=r.get("image"),
                           worker=r.get("worker"))
                for nid, r in sorted(records.items())]

    def node_records(self) -> dict[str, dict[str, Any]]:
        """The status board's record of each node, by id. The scheduler hears of an attempt
        only when it ends, so a queued node whose attempt a worker has claimed is shown
        RUNNING here, with that worker's name as `worker`."""
        records = self.client.board.nodes(self.id)
        queued = [(self.id, nid, max(1, int(r.get("attempts") or 1)))
                  for nid, r in records.items() if r.get("state") == NodeState.QUEUED.value]
        for (_, nid, _), holder in self.client.leases.claims(queued).items():
            if holder is not None:
                records[nid]["state"] = NodeState.RUNNING.value
                if holder != REPORTED:  # "<worker>|<pid>": the worker as history names it
                    records[nid]["worker"] = holder.split("|", 1)[0]
        return records

    def log_records(self, node_id: str, attempt: int | None = None) -> list[dict[str, Any]]:
        """The records a node's attempt (default: its last) logged through
        `current_context().logging`: `{"at", "level", "message"}` each."""
        attempt = self._attempt(node_id, attempt)
        try:
            data = self.client.store.get(log_key(self.id, node_id, attempt))
        except StoreObjectMissing:
            return []
        return list(json.loads(data).get("records", []))

    def output(self, node_id: str, attempt: int | None = None) -> dict[str, str]:
        """What a node's attempt (default: its last) wrote to its standard output and error on
        a worker, so far while it runs: `{"stdout": ..., "stderr": ...}` ("" for nothing)."""
        attempt = self._attempt(node_id, attempt)
        found = {}
        for stream in ("stdout", "stderr"):
            try:
                data = self.client.store.get(output_key(self.id, node_id, attempt, stream))
            except StoreObjectMissing:
                data = b""
            found[stream] = data.decode(errors="replace")
        return found

    def deck(self, node_id: str, attempt: int | None = None) -> str | None:
        """The HTML page of the deck a node's attempt (default: its last) made, as its task
        (`@task(enable_deck=True)`) wrote it; None when that attempt made none (its task has
        no deck, it came from the cache, or it has not ended or published one yet)."""
        attempt = self._attempt(node_id, attempt)
        try:
            data = self.client.store.get(deck_key(self.id, node_id, attempt))
        except StoreObjectMissing:
            return None
        return data.decode(errors="replace")

    def node_inputs(self, node_id: str) -> dict[str, Any]:
        """The inputs of node `node_id` by name, as literals (the JSON form of each value;
        files are store keys). An input whose producer has not succeeded says so."""
        return self._node_values(node_id, "inputs") or {}

    def node_outputs(self, node_id: str) -> dict[str, Any] | None:
        """The outputs of node `node_id` by name, as literals; None until it succeeded."""
        return self._node_values(node_id, "outputs")

    def _node_values(self, node_id: str, which: str) -> dict[str, Any] | None:
        records = self.client.board.nodes(self.id)
        if node_id not in records:
            raise GraftError(f"execution {self.id} has no node {node_id!r}")
        return node_values(records, node_id, which, self.client.store)

    def _attempt(self, node_id: str, attempt: int | None) -> int:
        if attempt is not None:
            return attempt
        found = self.client.board.nodes(self.id).get(node_id)
        if found is None:
            raise GraftError(f"execution {self.id} has no node {node_id!r}")
        return max(1, int(found.get("attempts", 1)))

    def wait(self, timeout: float | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """Block until the execution ends; return its outputs or raise ExecutionFailed.

        `timeout` is in seconds (TimeoutError when it passes); `progress` is called with the
        board's record (status, done, total) each time it is polled. A Redis outage does not
        end the wait: it logs one line when Redis is lost and one when it is back.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        lost_since: float | None = None
        info: dict[str, Any] = {"status": "UNKNOWN"}
        while True:
            try:
                found = self.client.board.execution(self.id)
                if found is None:
                    found = self.refreshed(min(5.0, _left(deadline)))
                if lost_since is not None:
                    log.warning("broker is back after %.1f s", time.monotonic() - lost_since)
                    lost_since = None
            except BrokerUnavailable as exc:
                found = None
                if lost_since is None:
                    lost_since = time.monotonic()
                    log.warning("waiting for execution %s: %s; still waiting", self.id, exc)
            if found is not None:
                info = found
                if progress is not None:
                    progress(info)
                if info["status"] in FINAL:
                    return self._result(info)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"execution {self.id} still {info['status']} after "
                                   f"{timeout} s ({info.get('done', 0)}/{info.get('total', 0)} "
                                   f"nodes done)")
            time.sleep(min(delay, _left(deadline)))
            delay = min(delay * 1.5, 0.5 if lost_since is None else 2.0)

    def outputs(self) -> Any:
        """The outputs of a finished execution (ExecutionFailed if it failed)."""
        return self._result(self.info())

    def inputs(self) -> dict[str, Any]:
        """The inputs it was submitted with, as native values by name."""
        info = self.info()
        if not isinstance(info.get("inputs"), dict):
            raise GraftError(f"execution {self.id} was submitted by a version of graft that "
                             f"kept no inputs on the board")
        spec = GraphSpec.loads(get_verified(self.client.store, info["spec"]))
        return {name: load(binding, spec.inputs[name], self.client.store,
                           f"input {name!r} of execution {self.id}")
                for name, binding in info["inputs"].items() if name in spec.inputs}

    def cancel(self, reason: str = "") -> bool:
        """Abort this execution: queued nodes never start, running attempts are stopped at
        their process within seconds, and `wait()` raises ExecutionAborted. False, changing
        nothing, when it has ended already (`status()` says how); cancelling twice is fine."""
        if self.status() in FINAL:
            return False
        self.client.control.publish({"type": "cancel", "execution": self.id,
                                     "reason": reason or "cancelled by a user"})
        return True

    # ---- gates (sdk.remote.signals) -----------------------------------------------------------

    def signals(self) -> list[gates.GateRecord]:
        """This execution's gates (`sleep`, `wait_for_input`, `approve` nodes) with their
        state, waiting ones first: what each takes and until when it waits."""
        return gates.gates(self)

    def set_signal(self, name: str, value: Any, wait_s: float = 10.0) -> bool:
        """Give the gates waiting for a signal `name` (a gate's name, or a node id for that
        gate alone) the value `value`: a `wait_for_input` gate passes it on, an `approve`
        gate takes True (approve) or False (reject). True once the scheduler applied it;
        False when none did within `wait_s` seconds (it applies when one reads it).

        Raises SignalRefused when no gate of that name waits (not reached yet, answered or
        ended already: nothing changes), TypeConversionError when `value` does not fit the
        gate's type."""
        return gates.send(self, name, value, wait_s)

    def approve(self, name: str, wait_s: float = 10.0) -> bool:
        """Approve the approval gate `name` (`set_signal(name, True)`)."""
        return gates.send(self, name, True, wait_s)

    def reject(self, name: str, wait_s: float = 10.0) -> bool:
        """Reject the approval gate `name`: it fails with FlyteDisapprovalException."""
        return gates.send(self, name, False, wait_s)

    def _result(self, info: dict[str, Any]) -> Any:
        if info["status"] == ExecutionState.ABORTED.value:
            raise ExecutionAborted(self.id, info.get("error") or "")
        if info["status"] == ExecutionState.FAILED.value:
            failures = [NodeFailure(**f) for f in info.get("failures") or []]
            raise ExecutionFailed(self.id, failures,
                                  info.get("error") or f"execution {self.id} failed")
        if info["status"] != ExecutionState.SUCCEEDED.value:
            raise GraftError(f"execution {self.id} is {info['status']}, not finished")
        spec = GraphSpec.loads(get_verified(self.client.store, info["spec"]))
        main = main_module_name()
        if main and main not in sys.modules:
            # Submitted from this script: give back its own classes, as a local run does.
            spec = renamed_refs(spec, main, "__main__")
        return shape_outputs(spec, info.get("outputs") or {}, self.client.store)
