"""Control messages: what clients and workers put on the scheduler's control stream.

    {"type": "submit", "execution": id, "spec": store key, "inputs": {name: binding},
     "workflow": name, "submitted_at": unix seconds, "priority": integer (optional, 0),
     "notify": {"launch_plan": name, "workflow": name, "notifications": [...]} (optional:
               a launch plan's notifications, `sdk.authoring.notification`)}
    {"type": "report", "execution": id, "node": node id, "attempt": n, "token": t,
     "outcome": "values" | "cached", "outputs": {name: binding}, "worker": name,
     "duration_s": seconds}
    {"type": "report", ..., "outcome": "subgraph", "subgraph": store key}
    {"type": "report", ..., "outcome": "error",
     "error": {"kind": "USER" | "SYSTEM" | "DATA", "type", "message", "traceback"}}
    {"type": "reports", "execution": id, "reports": [...]}   a map chunk's items' reports,
                                              split into `report`s (`sdk.wire.chunks`)
    {"type": "refresh", "execution": id}      rewrite the execution's status board record
    {"type": "cancel", "execution": id, "reason": text}   abort the execution
    {"type": "signal", "execution": id, "name": gate name or node id, "value": binding,
     "request": id (optional)}     answer the gates waiting for a signal of that name (an
                                   approval's value is true or false); the outcome is
                                   written to the board's `signal:<request>` field
    {"type": "activate", "launch_plan": name, "workflow": name, "spec": store key,
     "inputs": {name: binding}, "schedule": {"cron": expr | "rate_s": n, "kickoff_arg": name},
     "notifications": [...] (optional)}
    {"type": "deactivate", "launch_plan": name}     stop a launch plan's schedule

`token` is the random value the scheduler issued with the attempt's dispatch; a report that
does not echo the current one is refused. With GRAFT_SECRET set, each message also carries
`sig` (see `sdk.wire.signing`). Each is checked on arrival; a malformed one is refused with
a reason naming what is wrong, and the scheduler goes on.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sdk.authoring import notification
from sdk.model import bindings
from sdk.model.config import MAX_CONTINUE_LINKS
from sdk.model.errors import GraftError, SpecError
from sdk.model.report import Failure, Outcome, Report
from sdk.values.literals import dumps
from sdk.wire import reports

MAX_ID_CHARS = 64
MAX_NAME_CHARS = 255
MAX_PRIORITY = 1000  # an execution's priority is an integer in [-MAX_PRIORITY, MAX_PRIORITY]
MAX_NODE_ID_CHARS = 4096
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_CACHE_KEY = re.compile(r"^[0-9a-f]{64}$")


class MessageError(GraftError):
    """A control message does not have the shape this module documents."""


def _require(body: dict[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(field)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:80] + "..."
        raise MessageError(f"{body.get('type', 'message')} message: field {field!r} must be "
                           f"{getattr(kind, '__name__', kind)}, got {shown}")
    return value


def check_execution_id(execution: Any) -> str:
    if not isinstance(execution, str) or len(execution) > MAX_ID_CHARS \
            or not _ID.match(execution):
        raise MessageError(f"execution id {str(execution)[:80]!r} must be 1 to {MAX_ID_CHARS} "
                           f"letters, digits, '.', '_' or '-'")
    return execution


def _check_values(values: dict[str, Any], what: str) -> None:
    for name, binding in values.items():
        try:
            bindings.check_resolved(binding, f"{what} {name!r}")
        except SpecError as exc:
            raise MessageError(str(exc)) from None


LAUNCH_PLAN_MESSAGES = ("activate", "deactivate")


def check_launch_plan(body: dict[str, Any]) -> dict[str, Any]:
    """Validate an `activate` or `deactivate` message (they name a launch plan, no
    execution)."""
    from sdk.authoring.schedule import check_json

    name = body.get("launch_plan")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not name:
        raise MessageError(f"{body['type']}: launch_plan must be a name of 1 to "
                           f"{MAX_NAME_CHARS} characters")
    if body["type"] == "activate":
        _require(body, "spec", str)
        _check_values(_require(body, "inputs", dict), f"activate {name}: input")
        workflow = _require(body, "workflow", str)
        if len(workflow) > MAX_NAME_CHARS:
            raise MessageError(f"activate {name}: workflow name longer than {MAX_NAME_CHARS}")
        reason = check_json(body.get("schedule"))
        if reason:
            raise MessageError(f"activate {name}: {reason}")
        if body.get("notifications") is not None:
            reason = notification.check_json(body["notifications"])
            if reason:
                raise MessageError(f"activate {name}: {reason}")
    return body


def check_notify(body: dict[str, Any]) -> None:
    """A submit message's optional `notify`: the launch plan and workflow it names, and its
    notifications."""
    notify = body.get("notify")
    if notify is None:
        return
    where = f"submit {body['execution']}: notify"
    if not isinstance(notify, dict) or set(notify) != {"launch_plan", "workflow",
                                                       "notifications"}:
        raise MessageError(f"{where} must have exactly launch_plan, workflow and "
                           f"notifications")
    for field in ("launch_plan", "workflow"):
        if not isinstance(notify[field], str) or not 0 < len(notify[field]) <= MAX_NAME_CHARS:
            raise MessageError(f"{where}: {field} must be a name of 1 to {MAX_NAME_CHARS} "
                               f"characters")
    reason = notification.check_json(notify["notifications"])
    if reason:
        raise MessageError(f"{where}: {reason}")


def inputs_digest(inputs: Any) -> str:
    """A short digest of an `activate` message's inputs: the launch plan board shows it, so
    that a client that re-activated a plan with other inputs knows when the scheduler has
    them."""
    return hashlib.sha256(dumps(inputs)).hexdigest()[:16]


def is_priority(value: Any) -> bool:
    """Whether `value` is a valid execution priority."""
    return isinstance(value, int) and not isinstance(value, bool) \
        and -MAX_PRIORITY <= value <= MAX_PRIORITY


def check(body: Any) -> dict[str, Any]:
    """Validate a control message; MessageError says what is wrong."""
    if not isinstance(body, dict):
        raise MessageError(f"a control message is a JSON object, got {type(body).__name__}")
    kind = body.get("type")
    if kind in LAUNCH_PLAN_MESSAGES:
        return check_launch_plan(body)
    check_execution_id(body.get("execution"))
    if kind == "submit":
        _require(body, "spec", str)
        _require(body, "inputs", dict)
        workflow = body.get("workflow", "")
        if not isinstance(workflow, str) or len(workflow) > MAX_NAME_CHARS:
            raise MessageError(f"submit {body['execution']}: workflow name must be a string of "
                               f"at most {MAX_NAME_CHARS} characters")
        priority = body.get("priority", 0)
        if not is_priority(priority):
            raise MessageError(f"submit {body['execution']}: priority must be an integer from "
                               f"{-MAX_PRIORITY} to {MAX_PRIORITY}, got {str(priority)[:40]!r}")
        check_notify(body)
    elif kind == "report":
        node = _require(body, "node", str)
        if not node or len(node) > MAX_NODE_ID_CHARS:
            raise MessageError(f"report: node id must be 1 to {MAX_NODE_ID_CHARS} characters")
        if _require(body, "attempt", int) < 1:
            raise MessageError(f"report for node {node!r}: attempt must be >= 1")
        _require(body, "token", str)
        outcome = body.get("outcome")
        if outcome in (Outcome.VALUES.value, Outcome.CACHED.value):
            _check_values(_require(body, "outputs", dict), f"output of node {node!r}:")
            continued = body.get("continued")
            if continued is not None and not _is_link(continued):
                raise MessageError(f"report for node {node!r}: continued must be [node id, "
                                   f"attempt], got {str(continued)[:80]}")
        elif outcome == Outcome.SUBGRAPH.value:
            _require(body, "subgraph", str)
            key = body.get("cache_key")
            if key is not None and not (isinstance(key, str) and _CACHE_KEY.match(key)):
                raise MessageError(f"report for node {node!r}: cache_key must be 64 hex "
                                   f"digits, got {str(key)[:80]!r}")
        elif outcome == Outcome.ERROR.value:
            try:
                Failure.from_json(_require(body, "error", dict))
            except SpecError as exc:
                raise MessageError(f"report for node {node!r}: {exc}") from None
        else:
            raise MessageError(f"report for node {node!r}: unknown outcome {outcome!r}")
    elif kind == "signal":
        name = _require(body, "name", str)
        if not name or len(name) > MAX_NODE_ID_CHARS:
            raise MessageError(f"signal for execution {body['execution']}: name must be 1 to "
                               f"{MAX_NODE_ID_CHARS} characters")
        value = _require(body, "value", dict)
        if set(value) != {"val"}:
            raise MessageError(f"signal {name[:80]!r}: value must be a value binding "
                               f"({{\"val\": ...}}), got {str(value)[:80]}")
        _check_values({"value": value}, f"signal {name[:80]!r}:")
        request = body.get("request")
        if request is not None and (not isinstance(request, str) or len(request) > MAX_ID_CHARS
                                    or not _ID.match(request)):
            raise MessageError(f"signal {name[:80]!r}: request must be 1 to {MAX_ID_CHARS} "
                               f"letters, digits, '.', '_' or '-'")
    elif kind == "cancel":
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > MAX_NAME_CHARS * 4:
            raise MessageError(f"cancel {body['execution']}: reason must be a string of at most "
                               f"{MAX_NAME_CHARS * 4} characters")
    elif kind != "refresh":
        raise MessageError(f"unknown control message type {str(kind)[:80]!r}")
    return body


def _is_link(value: Any) -> bool:
    """Whether `value` is `[node id, attempt]` (what a report that continued names)."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) \
        and 0 < len(value[0]) <= MAX_NODE_ID_CHARS and isinstance(value[1], int) \
        and not isinstance(value[1], bool) and value[1] >= 1


def report_message(execution_id: str, token: str, report: Report,
                   subgraph_key: str | None = None, **info: Any) -> dict[str, Any]:
    """The control message for `report` (`sdk.wire.reports`: a dynamic's sub-graph travels
    by its store key; `info`, where and how long it ran, when the report does not say)."""
    return {"type": "report", "execution": execution_id, "node": report.node,
            "attempt": report.attempt, "token": token, "outcome": report.outcome.value,
            **reports.encode(report, subgraph_key, **info)}


# ---- task messages (scheduler -> workers) ------------------------------------------------

def task_body(execution_id: str, node_id: str, attempt: int, payload: dict[str, Any],
              secret: bytes | None) -> dict[str, Any]:
    """The payload of a node's Celery task message, signed (with a secret) together with the
    execution, node and attempt that travel beside it as arguments."""
    from sdk.wire.signing import sign

    signed = sign({"execution": execution_id, "node": node_id, "attempt": attempt,
                   **payload}, secret)
    return {k: v for k, v in signed.items() if k not in ("execution", "node", "attempt")}


def check_task(args: Any, secret: bytes | None) -> tuple[str, str, int, dict[str, Any]]:
    """`(execution, node, attempt, payload)` of a task message's arguments; MessageError (or
    Unauthenticated) naming what is wrong with a malformed, unsigned or forged one."""
    from sdk.wire.signing import verify

    if not isinstance(args, (list, tuple)) or len(args) != 4:
        raise MessageError(f"a node's task message has 4 arguments (execution, node, "
                           f"attempt, payload), got {str(args)[:200]}")
    eid, node, attempt, payload = args
    check_execution_id(eid)
    if not isinstance(node, str) or not node or len(node) > MAX_NODE_ID_CHARS:
        raise MessageError(f"task message: malformed node id {str(node)[:80]!r}")
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise MessageError(f"task message: malformed attempt {attempt!r}")
    if not isinstance(payload, dict):
        raise MessageError(f"task message: the payload is a JSON object, got "
                           f"{type(payload).__name__}")
    unsigned = verify({"execution": eid, "node": node, "attempt": attempt, **payload}, secret,
                      f"task message for node {node!r} of execution {eid}")
    payload = {k: v for k, v in unsigned.items() if k not in ("execution", "node", "attempt")}
    if not isinstance(payload.get("token"), str) or not isinstance(payload.get("spec"), dict):
        raise MessageError(f"task message for node {node!r} of execution {eid}: the payload "
                           f"needs a token and a node spec")
    if "inputs" in payload:
        _check_values(_require(payload, "inputs", dict), f"task message for node {node!r}: "
                      f"input")
    elif not isinstance(payload.get("inputs_key"), str):
        raise MessageError(f"task message for node {node!r} of execution {eid}: no inputs")
    if "next" in payload:
        try:
            _check_links(payload["next"], f"task message for node {node!r} of execution {eid}")
        except SpecError as exc:
            raise MessageError(str(exc)) from None
    return eid, node, attempt, payload


def _check_links(links: Any, where: str) -> list[dict[str, Any]]:
    """The links of a chain a task message carries (`sdk.wire.links`), well formed;
    SpecError naming what is wrong."""
    if not isinstance(links, list) or len(links) > MAX_CONTINUE_LINKS:
        raise SpecError(f"{where}: 'next' must be a list of at most {MAX_CONTINUE_LINKS} links")
    for i, link in enumerate(links):
        at = f"{where}: link {i}"
        if not isinstance(link, dict):
            raise SpecError(f"{at} is not an object")
        node, attempt = link.get("node"), link.get("attempt")
        if not isinstance(node, str) or not node or len(node) > MAX_NODE_ID_CHARS:
            raise SpecError(f"{at}: malformed node id {str(node)[:80]!r}")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise SpecError(f"{at} (node {node!r}): malformed attempt {attempt!r}")
        if not isinstance(link.get("token"), str) or not isinstance(link.get("spec"), dict):
            raise SpecError(f"{at} (node {node!r}): needs a token and a node spec")
        inputs = link.get("inputs")
        if not isinstance(inputs, dict):
            raise SpecError(f"{at} (node {node!r}): inputs must be an object")
        for name, b in inputs.items():
            bindings.split(b, f"{at} (node {node!r}) input {name!r}")
    return links

