"""Dispatchers: how the scheduler hands a ready node attempt to whatever runs it, and the
messages it hands (`Dispatch`).

The scheduler depends only on the `Dispatcher` protocol. `scheduler.celery_dispatch` sends
each attempt as the Celery task `graft.run_node` to its tier's queue; `InlineDispatcher` runs
it in this process and hands the report to a callback (tests, and anything that wants the
scheduler's logic without a cluster); `RecordingDispatcher` keeps what it was given.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.config import Settings
from sdk.model.errors import SpecError
from sdk.model.retry import RetryPolicy
from sdk.model.runs import NodeRun
from sdk.model.spec import node_to_json
from sdk.model.store import Store
from sdk.values.literals import dumps
from sdk.values.store import put_blob
from sdk.wire.chunks import chunk_body, item_payload
from sdk.wire.keys import CHUNK_TASK_NAME, TASK_NAME, AttemptKey
from sdk.wire.messages import task_body
from sdk.wire.tiers import queue_for

INLINE_INPUTS_BYTES = 64 * 1024
PREVIEW_CHARS = 100  # of a node's inputs, in what monitors show as its arguments


@dataclass(frozen=True)
class Dispatch:
    """One node attempt to send: its queue, the name monitors show, and its arguments. A
    chunk (`items` not empty) carries several children of node `node_id` (`sdk.wire.chunks`):
    `attempt` is 0 and `payload` holds the items."""

    queue: str
    task_name: str
    execution_id: str
    node_id: str
    attempt: int
    payload: dict[str, Any]
    inputs_preview: str = ""
    items: tuple[AttemptKey, ...] = ()

    @property
    def task(self) -> str:
        """The Celery task that runs it."""
        return CHUNK_TASK_NAME if self.items else TASK_NAME

    @property
    def args(self) -> list[Any]:
        if self.items:
            return [self.execution_id, self.node_id, self.payload]
        return [self.execution_id, self.node_id, self.attempt, self.payload]

    @property
    def attempts(self) -> list[AttemptKey]:
        """The attempts it carries."""
        return list(self.items) or [(self.execution_id, self.node_id, self.attempt)]

    @property
    def header(self) -> tuple[str, list[Any]]:
        """The message header naming its attempts (how the scheduler finds them in a queue
        after a restart, `scheduler.inflight`)."""
        if self.items:
            return "graft_attempts", [list(k) for k in self.items]
        return "graft_attempt", [self.execution_id, self.node_id, self.attempt]

    @property
    def argsrepr(self) -> str:
        """The arguments as monitors (Flower, worker logs) show them: execution, node,
        attempt and a preview of the inputs, never the token or the signature."""
        if self.items:
            first, last = self.items[0], self.items[-1]
            return (f"execution={self.execution_id} parent={self.node_id} items="
                    f"{len(self.items)} ({first[1]} .. {last[1]}) "
                    f"inputs={self.inputs_preview or '{}'}")  # each item's, in order
        return (f"execution={self.execution_id} node={self.node_id} attempt={self.attempt} "
                f"inputs={self.inputs_preview or '{}'}")

    def singles(self, secret: bytes | None = None) -> list[Dispatch]:
        """The single-attempt dispatches a chunk stands for (itself when it is one)."""
        if not self.items:
            return [self]
        return [Dispatch(self.queue, self.task_name, self.execution_id, item["node"],
                         item["attempt"],
                         task_body(self.execution_id, item["node"], item["attempt"],
                                   item_payload(self.payload, item), secret))
                for item in self.payload["items"]]


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def inputs_preview(inputs: dict[str, Binding], limit: int = PREVIEW_CHARS) -> str:
    """`{name: value, ...}` of a node's resolved inputs, cut to about `limit` characters:
    inline literals as compact JSON, values kept in the store as `<stored>`. Encoding stops
    once the preview is full: a dispatch pays for `limit` characters, not for its inputs."""
    parts, size = [], 0
    for name, binding in inputs.items():
        if size > limit:
            break
        value = _plain(binding)
        text = str(value) if isinstance(value, Stored) else "".join(_chunks(value, limit - size))
        parts.append(f"{name}: {text}")
        size += len(parts[-1]) + 2
    text = "{" + ", ".join(parts) + "}"
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Stored(str):
    """A value kept in the store, as a preview shows it: `<stored>`, or `<stored: numbers.o0[3]>`
    for part of one (a map item's input read from a stored list)."""


STORED = Stored("<stored>")


def _plain(binding: Any) -> Any:
    """The value a resolved binding stands for, as monitors show it: inline literals as they
    are, lists and dicts of bindings as lists and dicts, stored values as `STORED`, and a path
    (what a map item reads: item i of the mapped list) applied to its value, so that a map
    item's row shows its item, not graft's binding. Anything unexpected: the binding."""
    try:
        return bindings.fold(binding, _leaf, _step)
    except (SpecError, LookupError, TypeError, ValueError, AttributeError, StopIteration):
        return binding


def _leaf(kind: str, body: Any) -> Any:
    if kind == "val":
        return body.get("v", STORED)
    return {kind: body}  # not resolved: shown as it is


def _step(value: Any, steps: list[Any], source: str) -> Any:
    where = f"{source}{bindings.describe_steps(steps)}"
    if isinstance(value, Stored):
        return Stored(f"<stored: {where}>")
    for _, key in steps:
        value = value[key]  # a list's index, a dict's key, a dataclass literal's field
    return value


def items_preview(preview: str, more: str, limit: int = PREVIEW_CHARS) -> str:
    """A chunk's preview with one more item's inputs: `{x: 0} {x: 1} ...`, cut to about
    `limit` characters."""
    text = f"{preview} {more}"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _chunks(value: Any, limit: int) -> Any:
    """Compact JSON of `value`, up to about `limit` characters."""
    size = 0
    for chunk in _ENCODER.iterencode(value):
        yield chunk
        size += len(chunk)
        if size > limit:
            return


def make_dispatch(settings: Settings, store: Store, eid: str, run: NodeRun,
                  inputs: dict[str, Binding], token: str,
                  links: list[dict[str, Any]] | None = None) -> Dispatch:
    """The message for the current attempt of `run`: its node spec without bindings or
    sub-graph, its resolved inputs (in the store when large), its token, how many more
    attempts a failure of each kind would get (`retries_left`: what the worker tells
    monitors, a failure to retry showing as RETRY), and the `links` of a chain its worker
    may run after it (`scheduler.continuation`), signed."""
    node = bare_spec(run)
    payload: dict[str, Any] = {"spec": node, "token": token,
                               "retries_left": retries_left(settings, run)}
    if links:
        payload["next"] = links
    data = dumps(inputs)
    if len(data) > INLINE_INPUTS_BYTES:
        payload["inputs_key"] = put_blob(store, data, prefix="inputs")
    else:
        payload["inputs"] = inputs
    queue = queue_for(settings, run.spec.memory_bytes, f"node {run.id!r}")
    task = run.spec.task
    return Dispatch(queue, f"{task.module}.{task.qualname}", eid, run.id, run.attempt,
                    task_body(eid, run.id, run.attempt, payload, settings.secret),
                    inputs_preview(inputs))


def chunk_item(settings: Settings, store: Store, run: NodeRun, inputs: dict[str, Binding],
               token: str) -> tuple[dict[str, Any], int]:
    """One item of a chunk (`sdk.wire.chunks`) and its inputs' bytes in the message: the
    same fields a single message's payload holds, but for the spec."""
    item: dict[str, Any] = {"node": run.id, "attempt": run.attempt, "token": token,
                            "retries_left": retries_left(settings, run)}
    data = dumps(inputs)
    if len(data) > INLINE_INPUTS_BYTES:
        item["inputs_key"] = put_blob(store, data, prefix="inputs")
        return item, 80
    item["inputs"] = inputs
    return item, len(data)


def retries_left(settings: Settings, run: NodeRun) -> dict[str, int]:
    """`RetryPolicy.retries_left` under the scheduler's policy (`GRAFT_SYSTEM_RETRIES`)."""
    return RetryPolicy(system_retries=settings.system_retries).retries_left(run)


def bare_spec(run: NodeRun) -> dict[str, Any]:
    """A node's spec as a task message carries it: without bindings or sub-graph."""
    return node_to_json(dataclasses.replace(run.spec, inputs={}, subgraph=None))


def make_chunk(settings: Settings, eid: str, parent_id: str, spec: dict[str, Any],
               queue: str, task_name: str, items: list[dict[str, Any]],
               preview: str) -> Dispatch:
    """The chunk message of children of node `parent_id` (built by `chunk_item`), signed;
    `spec` is the node spec they share (`node_to_json`, as a single message's)."""
    payload = chunk_body(eid, parent_id, {"spec": spec, "items": items}, settings.secret)
    return Dispatch(queue, task_name, eid, parent_id, 0, payload, preview,
                    tuple((eid, item["node"], item["attempt"]) for item in items))


class Dispatcher(Protocol):
    def send(self, batch: list[Dispatch]) -> None: ...


class InlineDispatcher:
    """Runs each attempt in this process with `run(dispatch)`, which returns the report
    message; `deliver` receives it (typically: queue it for `Scheduler.handle`). A chunk runs
    item by item, each reported alone."""

    def __init__(self, run: Callable[[Dispatch], dict[str, Any]],
                 deliver: Callable[[dict[str, Any]], None]):
        self.run = run
        self.deliver = deliver

    def send(self, batch: list[Dispatch]) -> None:
        for chunk in batch:
            for d in chunk.singles():
                self.deliver(self.run(d))


class RecordingDispatcher:
    """Keeps what it was asked to send: for tests of the scheduler's logic."""

    def __init__(self) -> None:
        self.sent: list[Dispatch] = []

    def send(self, batch: list[Dispatch]) -> None:
        self.sent.extend(batch)
