"""Control messages: what clients and workers put on the scheduler's queue.

    {"type": "submit", "execution": id, "spec": store key, "inputs": {name: binding},
     "workflow": name, "submitted_at": unix seconds}
    {"type": "report", "execution": id, "node": node id, "attempt": n, "outcome": "values",
     "outputs": {name: binding}}
    {"type": "report", ..., "outcome": "subgraph", "subgraph": store key}
    {"type": "report", ..., "outcome": "error", "error": {"type", "message", "traceback"},
     "retriable": bool}

Each is checked on arrival; a malformed one is refused with a message saying what is wrong,
and the scheduler goes on.
"""

from __future__ import annotations

import re
from typing import Any

from sdk.model.errors import GraftError

OUTCOMES = ("values", "subgraph", "error")


class MessageError(GraftError):
    """A control message does not have the shape this module documents."""


def _require(body: dict[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(field)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MessageError(f"{body.get('type', 'message')} message: field {field!r} must be "
                           f"{getattr(kind, '__name__', kind)}, got {value!r}")
    return value


MAX_ID_CHARS = 64
MAX_NAME_CHARS = 255
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def check(body: Any) -> dict[str, Any]:
    """Validate a control message; MessageError says what is wrong."""
    if not isinstance(body, dict):
        raise MessageError(f"a control message is a JSON object, got {type(body).__name__}")
    kind = body.get("type")
    execution = _require(body, "execution", str)
    if len(execution) > MAX_ID_CHARS or not _ID.match(execution):
        raise MessageError(f"execution id {execution[:80]!r} must be 1 to {MAX_ID_CHARS} "
                           f"letters, digits, '.', '_' or '-'")
    if kind == "submit":
        _require(body, "spec", str)
        _require(body, "inputs", dict)
        workflow = body.get("workflow", "")
        if not isinstance(workflow, str) or len(workflow) > MAX_NAME_CHARS:
            raise MessageError(f"submit {execution}: workflow name must be a string of at most "
                               f"{MAX_NAME_CHARS} characters")
    elif kind == "report":
        _require(body, "node", str)
        _require(body, "attempt", int)
        outcome = body.get("outcome")
        if outcome not in OUTCOMES:
            raise MessageError(f"report for node {body['node']!r}: unknown outcome {outcome!r}")
        if outcome == "values":
            _require(body, "outputs", dict)
        elif outcome == "subgraph":
            _require(body, "subgraph", str)
        else:
            _require(body, "error", dict)
    else:
        raise MessageError(f"unknown control message type {kind!r}")
    return body


def report(execution_id: str, node_id: str, attempt: int, **fields: Any) -> dict[str, Any]:
    return {"type": "report", "execution": execution_id, "node": node_id, "attempt": attempt,
            **fields}
