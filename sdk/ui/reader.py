"""What the page's JSON endpoints answer, read through `sdk.remote`'s Client only (the status
board and the store, as `graft status` and `graft logs` read them). Every method blocks: the
server calls them in a thread."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from sdk.model.decks import deck_key
from sdk.model.errors import BrokerUnavailable, GraftError, StoreObjectMissing
from sdk.model.spec import GraphSpec
from sdk.remote.client import Client, Execution
from sdk.remote.graph_text import board_edges, edges
from sdk.remote.node_io import node_values
from sdk.remote.stalls import stall_hints
from sdk.remote.timing import execution_times
from sdk.ui.graph import Limits, children_summary, elements
from sdk.values.store import get_verified

TEXT_LIMIT = 64 * 1024  # characters of a stream shown in a node's panel (its end)
VALUE_LIMIT = 4000  # characters of a value's JSON shown
MISSING_S = 10.0  # how long an unknown execution id is answered without asking again


class NotFound(GraftError):
    """No such execution or node (HTTP 404)."""


class Reader:
    def __init__(self, client: Client, limits: Limits = Limits()):
        self.client = client
        self.limits = limits
        self._links: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()  # spec key ->
        self._lock = threading.Lock()
        self._missing: OrderedDict[str, tuple[float, str]] = OrderedDict()  # id -> (when, why)

    def executions(self, limit: int, status: str | None) -> list[dict[str, Any]]:
        return self.client.executions(limit, status)

    def execution(self, execution_id: str) -> Execution:
        """The execution, NotFound when neither the board nor the scheduler knows it. An id
        the scheduler could not restore is answered from memory for `MISSING_S` seconds, so
        that requests for unknown ids cannot flood the control stream or hold threads."""
        with self._lock:
            missed = self._missing.get(execution_id)
        if missed is not None and time.monotonic() - missed[0] < MISSING_S:
            raise NotFound(missed[1])
        try:
            return self.client.get(execution_id, timeout=1.0)
        except BrokerUnavailable:
            raise
        except GraftError as exc:
            with self._lock:
                self._missing[execution_id] = (time.monotonic(), str(exc))
                while len(self._missing) > 1000:
                    self._missing.popitem(last=False)
            raise NotFound(str(exc)) from None

    def graph(self, execution_id: str, expand: list[str], collapse: list[str]
              ) -> dict[str, Any]:
        """The execution's summary and the elements of its graph, with a `version` that
        changes when anything drawn does."""
        execution = self.execution(execution_id)
        info = execution.info()
        records = execution.node_records()
        nodes = {nid: {"task": r.get("task", ""), "state": r.get("state", ""),
                       "kind": r.get("kind", "task"), "parent": r.get("parent"),
                       **({"gate": r["gate"]} if r.get("gate") else {})}
                 for nid, r in records.items()}
        links = [*self._spec_links(info.get("spec")), *board_edges(records)]
        if not nodes and isinstance(info.get("spec"), str):
            # Not started yet: the spec's top-level nodes, waiting.
            spec = self._spec(info["spec"])
            nodes = {nid: {"task": node.task.name, "state": "PENDING", "kind": node.kind,
                           "parent": None} for nid, node in spec.node_map().items()}
        drawn = elements(nodes, links, expand, collapse, self.limits)
        try:
            stalls = stall_hints(execution, info, records)
        except BrokerUnavailable:
            raise
        except GraftError as exc:  # a hint that cannot be read is not worth failing the page
            stalls = [f"cannot tell what it waits for: {exc}"]
        times = execution_times(info, list(records.values()), time.time())
        body = {"id": execution_id, "workflow": info.get("workflow"),
                "status": info.get("status"), "done": info.get("done", 0),
                "total": info.get("total", 0), "error": info.get("error"),
                "failures": info.get("failures") or [], "stalls": stalls,
                "submitted_at": info.get("submitted_at"), "ended_at": times["ended_at"],
                **drawn}
        body["version"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str)
                                         .encode()).hexdigest()[:16]
        return body

    def node(self, execution_id: str, node_id: str, attempt: int | None) -> dict[str, Any]:
        """A node's panel: its record, error, attempts, what it wrote, its inputs and outputs
        (literals: the JSON form of values), and for a group its children."""
        execution = self.execution(execution_id)
        records = execution.node_records()
        record = records.get(node_id)
        if record is None:
            raise NotFound(f"execution {execution_id} has no node {node_id!r}")
        shown: dict[str, Any] = {
            "id": node_id, "execution": execution_id,
            **{k: v for k, v in record.items() if k not in ("inputs", "outputs", "token")}}
        shown["attempts"] = attempts = int(record.get("attempts") or 0)
        plain = {nid: {"task": r.get("task", ""), "state": r.get("state", ""),
                       "kind": r.get("kind", "task"), "parent": r.get("parent")}
                 for nid, r in records.items()}
        if any(r["parent"] == node_id for r in plain.values()):
            shown["group"] = children_summary(plain, node_id)
        if record.get("kind", "task") in ("task", "dynamic") and attempts > 0:
            chosen = attempt or attempts
            out = execution.output(node_id, chosen)
            shown["attempt"] = chosen
            shown["stdout"] = _tail(out["stdout"])
            shown["stderr"] = _tail(out["stderr"])
            shown["log_records"] = execution.log_records(node_id, chosen)[-500:]
            shown["deck"] = self.client.store.exists(deck_key(execution_id, node_id, chosen))
        shown["values"] = {
            "inputs": literals(lambda: node_values(records, node_id, "inputs",
                                                    self.client.store)),
            "outputs": literals(lambda: node_values(records, node_id, "outputs",
                                                     self.client.store))}
        return shown

    def deck(self, execution_id: str, node_id: str, attempt: int | None
             ) -> tuple[int, str]:
        """(attempt, page) of the deck a node's attempt (default: its last) made; NotFound
        when it made none."""
        execution = self.execution(execution_id)
        record = execution.node_records().get(node_id)
        if record is None:
            raise NotFound(f"execution {execution_id} has no node {node_id!r}")
        chosen = attempt or max(1, int(record.get("attempts") or 1))
        try:
            data = self.client.store.get(deck_key(execution_id, node_id, chosen))
        except StoreObjectMissing:
            raise NotFound(f"node {node_id!r} of execution {execution_id} has no deck for "
                           f"attempt {chosen} (its task needs enable_deck=True)") from None
        return chosen, data.decode(errors="replace")

    def _spec(self, spec_key: str) -> GraphSpec:
        return GraphSpec.loads(get_verified(self.client.store, spec_key))

    def _spec_links(self, spec_key: Any) -> list[tuple[str, str]]:
        """The spec's edges, kept per spec key (a spec is stored by its content's hash)."""
        if not isinstance(spec_key, str):
            return []
        with self._lock:
            if spec_key in self._links:
                self._links.move_to_end(spec_key)
                return self._links[spec_key]
        links = list(edges(self._spec(spec_key)))
        with self._lock:
            self._links[spec_key] = links
            while len(self._links) > 64:
                self._links.popitem(last=False)
        return links


def _tail(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    return f"[... {len(text) - TEXT_LIMIT} characters before ...]\n" + text[-TEXT_LIMIT:]


def literals(read: Any) -> dict[str, str] | str | None:
    """`{name: JSON text}` of the literals `read()` returns (None: the board has none), or one
    line saying why they could not be read."""
    try:
        values = read()
    except Exception as exc:  # shown in the panel, not raised: the rest of it is still useful
        return f"{type(exc).__name__}: {exc}"
    if values is None:
        return None
    shown = {}
    for name, value in values.items():
        text = json.dumps(value, indent=1, default=str, ensure_ascii=False)
        shown[str(name)] = text if len(text) <= VALUE_LIMIT else \
            text[:VALUE_LIMIT] + f"\n[... {len(text) - VALUE_LIMIT} more characters]"
    return shown
