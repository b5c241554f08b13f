"""A node's inputs and outputs, read back from the status board.

The scheduler keeps each node's input bindings and, once it succeeded, its outputs on the
node's board record. Bindings name other nodes' outputs; this module resolves them against
those nodes' records and reads stored values, giving literals (the JSON form of values: a
file is its store key, a dataclass a dict of its fields). Literals need no type information
and no user code, so any client can show any node.
"""

from __future__ import annotations

from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import GraftError
from sdk.model.store import Store
from sdk.values.literals import materialize


class Unresolved(GraftError):
    """A binding reads an output that does not exist (yet)."""


def _resolver(records: dict[str, dict[str, Any]]) -> Any:
    def leaf(kind: str, body: Any) -> Binding:
        if kind != "ref":
            return {kind: body}
        src, out = body
        outputs = (records.get(src) or {}).get("outputs")
        if not isinstance(outputs, dict) or out not in outputs:
            raise Unresolved(f"output {out!r} of node {src!r} does not exist yet")
        return outputs[out]

    return leaf


def node_values(records: dict[str, dict[str, Any]], node_id: str, which: str,
                store: Store) -> dict[str, Any] | None:
    """Literals of node `node_id`'s `which` ("inputs" or "outputs") by name; None when the
    board does not have them (outputs before the node succeeded, or records written by a
    graft that kept neither). An input whose producer has not succeeded is shown as a
    string saying so."""
    found = (records.get(node_id) or {}).get(which)
    if not isinstance(found, dict):
        return None
    leaf = _resolver(records)
    values: dict[str, Any] = {}
    for name, binding in found.items():
        try:
            values[name] = materialize(bindings.transform(binding, leaf), store)
        except Unresolved as exc:
            values[name] = f"<not available: {exc}>"
    return values
