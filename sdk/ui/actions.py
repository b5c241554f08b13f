"""What the page does besides drawing: an execution's details (its inputs and outputs, the
form that relaunches it, its timeline) and its actions (cancel, relaunch with edited inputs,
answer a gate), through `sdk.remote`'s Client as `graft cancel`, `graft relaunch`,
`graft signal` and `graft approve` do.

    GET  /api/me                                  who is logged in and whether they may act
    GET  /api/executions/{id}/details             inputs, outputs, why it ended, relaunch form
    GET  /api/executions/{id}/timeline            the timeline's rows (`sdk.ui.timeline`)
    POST /api/executions/{id}/cancel              {"reason": text}
    POST /api/executions/{id}/relaunch            {"inputs": {name: text}, "priority": n|null}
    POST /api/executions/{id}/signal              {"name": gate, "value": text} or
                                                  {"name": gate, "approve": true|false}

POSTs need the role `operator` and the header `X-Graft-Request: 1` (`sdk.ui.auth`). Values are
typed as on the command line (`graft relaunch --input n=5`, `graft signal ID NAME VALUE`):
read by the type of the workflow's input or the gate's, JSON for lists, dicts and
dataclasses. A value that does not fit is a 400; a gate that waits no more, or an execution
that ended, a 409.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sdk.model.errors import GraftError
from sdk.model.gates import SignalRefused
from sdk.model.spec import GraphSpec
from sdk.model.typesys import type_name
from sdk.remote.client import Execution
from sdk.ui import auth, timeline
from sdk.ui.reader import Reader, literals
from sdk.values.handlers import parse_text
from sdk.values.literals import materialize
from sdk.values.store import get_verified

SIGNAL_WAIT_S = 5.0  # how long an answer to a gate waits for the scheduler to apply it
READER = web.AppKey("actions_reader", Reader)


async def _blocking(request: web.Request, fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _bad(status: int, message: str) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 409: web.HTTPConflict}[status]
    return cls(text=json.dumps({"error": message}), content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _bad(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _bad(400, "the body must be a JSON object")
    return body


def _execution(request: web.Request) -> Execution:
    return request.app[READER].execution(request.match_info["execution_id"])


def details(reader: Reader, execution_id: str) -> dict[str, Any]:
    """An execution's inputs and outputs (literals, as a node's panel shows them), `error`
    (why it failed, or the reason it was cancelled with), and `form`: each workflow input's
    type and its value as text to edit for a relaunch."""
    execution = reader.execution(execution_id)
    info = execution.info()
    store = reader.client.store

    def values(which: str) -> dict[str, Any] | None:
        found = info.get(which)
        if not isinstance(found, dict):
            return None
        return {name: materialize(b, store) for name, b in found.items()}

    form: dict[str, dict[str, str]] = {}
    inputs = values("inputs") if isinstance(info.get("inputs"), dict) else None
    if isinstance(info.get("spec"), str) and inputs is not None:
        spec = GraphSpec.loads(get_verified(store, info["spec"]))
        for name, desc in spec.inputs.items():
            value = inputs.get(name)
            form[name] = {"type": type_name(desc),
                          "text": value if isinstance(value, str) else
                          json.dumps(value, default=str, ensure_ascii=False)}
    return {"id": execution.id, "status": info.get("status"), "error": info.get("error"),
            "inputs": literals(lambda: values("inputs")),
            "outputs": literals(lambda: values("outputs")),
            "priority": info.get("priority"), "form": form}


async def api_me(request: web.Request) -> web.StreamResponse:
    user = request.get(auth.USER, auth.ANONYMOUS)
    return web.json_response({"user": user.name, "role": user.role, "may_act": user.may_act,
                              "login": user is not auth.ANONYMOUS})


async def api_details(request: web.Request) -> web.StreamResponse:
    body = await _blocking(request, details, request.app[READER],
                           request.match_info["execution_id"])
    return web.json_response(body, dumps=_dumps)


def _timeline(reader: Reader, execution_id: str) -> dict[str, Any]:
    execution = reader.execution(execution_id)
    now = time.time()
    return {"id": execution.id, "now": now, **timeline.rows(execution.node_records(), now)}


async def api_timeline(request: web.Request) -> web.StreamResponse:
    return web.json_response(await _blocking(request, _timeline, request.app[READER],
                                             request.match_info["execution_id"]))


async def cancel(request: web.Request) -> web.StreamResponse:
    auth.require_operator(request)
    reason = (await _body(request)).get("reason") or ""
    if not isinstance(reason, str):
        raise _bad(400, "reason must be text")
    user = request[auth.USER]
    if user is not auth.ANONYMOUS:
        reason = f"{reason} (by {user.name} on the graph page)".lstrip()

    def run() -> dict[str, Any]:
        execution = _execution(request)
        if not execution.cancel(reason):
            raise _bad(409, f"execution {execution.id} is {execution.status()} already; "
                            f"nothing to cancel")
        return {"id": execution.id, "cancelled": True}

    return web.json_response(await _blocking(request, run))


async def relaunch(request: web.Request) -> web.StreamResponse:
    auth.require_operator(request)
    body = await _body(request)
    given, priority = body.get("inputs") or {}, body.get("priority")
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise _bad(400, "inputs must map input names to text")
    if priority is not None and not isinstance(priority, int):
        raise _bad(400, "priority must be a whole number")

    def run() -> dict[str, Any]:
        reader = request.app[READER]
        old = _execution(request)
        spec = GraphSpec.loads(get_verified(reader.client.store, old.info()["spec"]))
        overrides = {}
        for name, raw in given.items():
            if name not in spec.inputs:
                raise _bad(400, f"workflow {spec.name!r} has no input {name!r}; its inputs "
                                f"are: {', '.join(spec.inputs) or 'none'}")
            try:
                overrides[name] = parse_text(raw, spec.inputs[name])
            except (ValueError, GraftError) as exc:
                raise _bad(400, f"input {name}: cannot read {raw!r} as "
                                f"{type_name(spec.inputs[name])} ({exc})") from None
        try:
            new = reader.client.relaunch(old.id, overrides, priority=priority)
        except (ValueError, GraftError) as exc:
            raise _bad(400, str(exc)) from None
        return {"id": new.id, "relaunch_of": old.id}

    return web.json_response(await _blocking(request, run))


async def signal(request: web.Request) -> web.StreamResponse:
    from sdk.remote.signals import parse_value

    auth.require_operator(request)
    body = await _body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(400, "give the gate's name as {\"name\": ...}")
    if "approve" in body and not isinstance(body["approve"], bool):
        raise _bad(400, "approve must be true or false")
    if "approve" not in body and not isinstance(body.get("value"), str):
        raise _bad(400, "give the value as text, {\"value\": ...}, or {\"approve\": true}")

    def run() -> dict[str, Any]:
        execution = _execution(request)
        try:
            if "approve" in body:
                kinds = {g.kind for g in execution.signals()
                         if name in (g.name, g.node) and g.waiting}
                if kinds and kinds != {"approve"}:
                    raise _bad(400, f"gate {name!r} is not an approval: give it a value")
                applied = (execution.approve if body["approve"] else execution.reject)(
                    name, SIGNAL_WAIT_S)
            else:
                try:
                    value = parse_value(execution, name, body["value"])
                except ValueError as exc:
                    raise _bad(400, f"signal {name!r}: {body['value']!r} does not fit the "
                                    f"gate's type: {exc}") from None
                applied = execution.set_signal(name, value, SIGNAL_WAIT_S)
        except SignalRefused as exc:
            raise _bad(409, str(exc)) from None
        except GraftError as exc:
            raise _bad(400, str(exc)) from None
        return {"id": execution.id, "gate": name, "applied": applied}

    return web.json_response(await _blocking(request, run))


def add_routes(app: web.Application, reader: Reader) -> None:
    """The details, timeline and action endpoints, reading through `reader`."""
    app[READER] = reader
    app.router.add_get("/api/me", api_me)
    app.router.add_get("/api/executions/{execution_id}/details", api_details)
    app.router.add_get("/api/executions/{execution_id}/timeline", api_timeline)
    app.router.add_post("/api/executions/{execution_id}/cancel", cancel)
    app.router.add_post("/api/executions/{execution_id}/relaunch", relaunch)
    app.router.add_post("/api/executions/{execution_id}/signal", signal)
