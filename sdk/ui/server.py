"""`graft ui`'s web server (aiohttp): two pages and the JSON endpoints they poll.

    GET /                                   the executions
    GET /executions/{id}                    one execution's graph (404 for an unknown id)
    GET /api/executions?limit=&status=      [{id, workflow, status, done, total, submitted_at}]
    GET /api/executions/{id}?expand=&collapse=&v=
                                            summary and graph elements (`sdk.ui.graph`);
                                            {"version": v, "unchanged": true} when `v` is current
    GET /api/executions/{id}/node?id=&attempt=
                                            one node's panel
    GET /executions/{id}/deck?node=&attempt=
                                            a page framing a node's deck (`sdk.ui.decks`)
    GET /api/executions/{id}/deck?node=&attempt=
                                            the deck's own HTML, sandboxed
    GET /static/...                         the page's script, style and vendored libraries
    GET /healthz                            "ok", without a login (probes)
    ... and the details, timeline and actions of `sdk.ui.actions`.

With credentials (`GRAFT_UI_AUTH`, `sdk.ui.auth`) every other request needs a login.

Errors are JSON `{"error": message}`: 404 for an unknown execution or node, 400 for a bad
parameter, 503 when Redis cannot be reached. Reads block (Redis, the store), so they run in the
event loop's thread pool.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sdk.model.errors import BrokerUnavailable, GraftError
from sdk.remote.client import Client
from sdk.ui import actions, auth, decks
from sdk.ui.graph import Limits
from sdk.ui.reader import NotFound, Reader

STATIC = Path(__file__).parent / "static"
STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED")
READER = web.AppKey("reader", Reader)
log = logging.getLogger("graft.ui")


async def _blocking(request: web.Request, fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def _errors(request: web.Request,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """Errors of graft's own as JSON with a status code; anything else is logged as a 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except NotFound as exc:
        return _error(404, str(exc))
    except BrokerUnavailable as exc:
        return _error(503, str(exc))
    except GraftError as exc:
        return _error(500, str(exc))
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, f"{type(exc).__name__}: {exc}")


def _ids(request: web.Request, name: str) -> list[str]:
    return [part for part in request.query.get(name, "").split(",") if part]


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def execution_page(request: web.Request) -> web.StreamResponse:
    execution_id = request.match_info["execution_id"]
    try:
        await _blocking(request, request.app[READER].execution, execution_id)
    except BrokerUnavailable:
        pass  # the page shows why in its banner, and recovers once Redis is back
    except NotFound as exc:
        return web.Response(status=404, content_type="text/html", text=(
            "<!doctype html><meta charset='utf-8'><title>graft: not found</title>"
            "<link rel='stylesheet' href='/static/app.css'><main class='notfound'>"
            f"<h1>Not found</h1><p id='error'>{html.escape(str(exc))}</p>"
            "<p><a href='/'>All executions</a></p></main>"))
    return web.FileResponse(STATIC / "execution.html")


async def api_executions(request: web.Request) -> web.StreamResponse:
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        return _error(400, f"limit must be a number, not {request.query['limit']!r}")
    if not 1 <= limit <= 10_000:
        return _error(400, "limit must be between 1 and 10000")
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        return _error(400, f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    rows = await _blocking(request, request.app[READER].executions, limit, status)
    return web.json_response(rows)


async def api_execution(request: web.Request) -> web.StreamResponse:
    body = await _blocking(request, request.app[READER].graph,
                           request.match_info["execution_id"], _ids(request, "expand"),
                           _ids(request, "collapse"))
    if request.query.get("v") == body["version"]:
        return web.json_response({"version": body["version"], "unchanged": True})
    return web.json_response(body)


async def api_node(request: web.Request) -> web.StreamResponse:
    node_id = request.query.get("id")
    if not node_id:
        return _error(400, "give the node as ?id=NODE_ID")
    attempt = request.query.get("attempt")
    if attempt is not None and not (attempt.isdecimal() and attempt.isascii()
                                    and int(attempt) >= 1):
        return _error(400, f"attempt must be a number from 1, not {attempt!r}")
    body = await _blocking(request, request.app[READER].node,
                           request.match_info["execution_id"], node_id,
                           int(attempt) if attempt else None)
    return web.json_response(body, dumps=_dumps)


def _attempt(request: web.Request) -> int | None:
    """The `attempt` parameter; HTTPBadRequest when it is not a number from 1."""
    attempt = request.query.get("attempt")
    if attempt is not None and not (attempt.isdecimal() and attempt.isascii()
                                    and int(attempt) >= 1):
        raise web.HTTPBadRequest(text=json.dumps(
            {"error": f"attempt must be a number from 1, not {attempt!r}"}),
            content_type="application/json")
    return int(attempt) if attempt else None


async def deck_page(request: web.Request) -> web.StreamResponse:
    execution_id, node_id = request.match_info["execution_id"], request.query.get("node")
    if not node_id:
        return _error(400, "give the node as ?node=NODE_ID")
    try:
        attempt, _ = await _blocking(request, request.app[READER].deck, execution_id,
                                     node_id, _attempt(request))
    except NotFound as exc:
        return web.Response(status=404, content_type="text/html",
                            text=decks.not_found(str(exc), execution_id))
    return web.Response(content_type="text/html", headers=decks.FRAME_HEADERS,
                        text=decks.frame(execution_id, node_id, attempt))


async def api_deck(request: web.Request) -> web.StreamResponse:
    node_id = request.query.get("node")
    if not node_id:
        return _error(400, "give the node as ?node=NODE_ID")
    _, page = await _blocking(request, request.app[READER].deck,
                              request.match_info["execution_id"], node_id, _attempt(request))
    return web.Response(body=page.encode(), headers=decks.DECK_HEADERS)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok\n")


def make_app(client: Client | None = None, limits: Limits = Limits(),
             credentials: list[auth.Credential] | None = None) -> web.Application:
    """The web application, reading through `client` (default: `Client()` from GRAFT_*),
    asking for one of `credentials` (`auth.parse`; none: no login, anyone may act)."""
    app = web.Application(middlewares=[auth.middleware(credentials or []), _errors])
    app[READER] = Reader(client or Client(), limits)
    actions.add_routes(app, app[READER])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    app.router.add_get("/executions/{execution_id}", execution_page)
    app.router.add_get("/api/executions", api_executions)
    app.router.add_get("/api/executions/{execution_id}", api_execution)
    app.router.add_get("/api/executions/{execution_id}/node", api_node)
    app.router.add_get("/executions/{execution_id}/deck", deck_page)
    app.router.add_get("/api/executions/{execution_id}/deck", api_deck)
    app.router.add_static("/static/", STATIC)
    return app


def serve(host: str, port: int, client: Client | None = None,
          print_: Callable[[str], None] = print,
          credentials: list[auth.Credential] | None = None) -> None:
    """Serve until interrupted (SIGINT or SIGTERM); print one line once listening."""
    shown = f"[{host}]" if ":" in host else host
    web.run_app(make_app(client, credentials=credentials), host=host, port=port,
                access_log=None, shutdown_timeout=5.0,
                print=lambda _: print_(f"graft ui serving on http://{shown}:{port}/"))
