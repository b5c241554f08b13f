"""What the page's JSON endpoints answer, read through `sdk.remote`'s Client only (the status
board and the store, as `graft status` and `graft logs` read them). Every method blocks: the
server calls them in a thread."""

from __future__ import annotations

import hashlib
import json
import reprlib
import threading
from collections import OrderedDict
from typing import Any

from sdk.model.errors import BrokerUnavailable, GraftError
from sdk.model.spec import GraphSpec
from sdk.remote.client import Client, Execution
from sdk.remote.graph_text import edges
from sdk.ui.graph import Limits, children_summary, elements
from sdk.values.store import get_verified

TEXT_LIMIT = 64 * 1024  # characters of a stream shown in a node's panel (its end)
VALUE_LIMIT = 4000  # characters of a value's repr


class NotFound(GraftError):
    """No such execution or node (HTTP 404)."""


class Reader:
    def __init__(self, client: Client, limits: Limits = Limits()):
        self.client = client
        self.limits = limits
        self._links: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()  # spec key ->
        self._lock = threading.Lock()

    def executions(self, limit: int, status: str | None) -> list[dict[str, Any]]:
        return self.client.executions(limit, status)

    def execution(self, execution_id: str) -> Execution:
        """The execution, NotFound when neither the board nor the scheduler knows it."""
        try:
            return self.client.get(execution_id, timeout=1.0)
        except BrokerUnavailable:
            raise
        except GraftError as exc:
            raise NotFound(str(exc)) from None

    def graph(self, execution_id: str, expand: list[str], collapse: list[str]
              ) -> dict[str, Any]:
        """The execution's summary and the elements of its graph, with a `version` that
        changes when anything drawn does."""
        execution = self.execution(execution_id)
        info = execution.info()
        nodes = {n.id: {"task": n.task, "state": n.state, "kind": n.kind, "parent": n.parent}
                 for n in execution.nodes()}
        links = self._spec_links(info.get("spec"))
        if not nodes and isinstance(info.get("spec"), str):
            # Not started yet: the spec's top-level nodes, waiting.
            spec = self._spec(info["spec"])
            nodes = {nid: {"task": node.task.name, "state": "PENDING", "kind": node.kind,
                           "parent": None} for nid, node in spec.node_map().items()}
        drawn = elements(nodes, links, expand, collapse, self.limits)
        body = {"id": execution_id, "workflow": info.get("workflow"),
                "status": info.get("status"), "done": info.get("done", 0),
                "total": info.get("total", 0), "error": info.get("error"),
                "failures": info.get("failures") or [],
                "submitted_at": info.get("submitted_at"), **drawn}
        body["version"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str)
                                         .encode()).hexdigest()[:16]
        return body

    def node(self, execution_id: str, node_id: str, attempt: int | None) -> dict[str, Any]:
        """A node's panel: its record, error, attempts, what it wrote, its values, and for a
        group its children."""
        execution = self.execution(execution_id)
        records = {n.id: n for n in execution.nodes()}
        record = records.get(node_id)
        if record is None:
            raise NotFound(f"execution {execution_id} has no node {node_id!r}")
        shown: dict[str, Any] = {**record.__dict__, "execution": execution_id}
        plain = {n.id: {"task": n.task, "state": n.state, "kind": n.kind, "parent": n.parent}
                 for n in records.values()}
        if any(n.parent == node_id for n in records.values()):
            shown["group"] = children_summary(plain, node_id)
        if record.kind in ("task", "dynamic") and record.attempts > 0:
            chosen = attempt or record.attempts
            out = execution.output(node_id, chosen)
            shown["attempt"] = chosen
            shown["stdout"] = _tail(out["stdout"])
            shown["stderr"] = _tail(out["stderr"])
            shown["log_records"] = execution.log_records(node_id, chosen)[-500:]
        shown["values"] = self._values(execution, node_id, record.state)
        return shown

    def _values(self, execution: Execution, node_id: str, state: str) -> dict[str, Any]:
        """The node's inputs and outputs as reprs; `scope` says whose they are."""
        values: dict[str, Any] = {"scope": "execution"}
        node_inputs = getattr(execution, "node_inputs", None)
        node_outputs = getattr(execution, "node_outputs", None)
        if node_inputs is not None and node_outputs is not None:
            values["scope"] = "node"
            values["inputs"] = _reprs(lambda: node_inputs(node_id))
            if state == "SUCCEEDED":
                values["outputs"] = _reprs(lambda: node_outputs(node_id))
            return values
        values["inputs"] = _reprs(execution.inputs)
        if execution.status() == "SUCCEEDED":
            values["outputs"] = _reprs(lambda: {"result": execution.outputs()})
        return values

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


_repr = reprlib.Repr()
_repr.maxstring = VALUE_LIMIT
_repr.maxother = VALUE_LIMIT
_repr.maxlist = _repr.maxdict = _repr.maxtuple = _repr.maxset = 50
_repr.maxlevel = 4


def _reprs(read: Any) -> dict[str, str] | str:
    """`{name: repr}` of what `read()` returns, or one line saying why it could not be read
    (a value whose class this server cannot import, an execution that failed, ...)."""
    try:
        values = read()
    except Exception as exc:  # shown in the panel, not raised: the rest of it is still useful
        return f"{type(exc).__name__}: {exc}"
    if not isinstance(values, dict):
        values = {"value": values}
    return {str(k): _repr.repr(v)[:VALUE_LIMIT] for k, v in values.items()}
