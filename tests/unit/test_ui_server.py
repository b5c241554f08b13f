"""graft ui's HTTP layer (sdk/ui/server.py) over a stub reader: status codes, error bodies,
the `unchanged` answer and the static files. The real reader runs in
tests/integration/test_ui.py."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from sdk.model.errors import BrokerUnavailable
from sdk.ui.reader import NotFound
from sdk.ui.server import READER, make_app


class StubReader:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def executions(self, limit: int, status: str | None) -> list[dict[str, Any]]:
        self.calls.append(("executions", limit, status))
        return [{"id": "e1", "status": "RUNNING"}]

    def execution(self, execution_id: str) -> None:
        if execution_id == "down":
            raise BrokerUnavailable("no Redis answers at redis://x")
        if execution_id != "e1":
            raise NotFound(f"no execution {execution_id!r} on the board")

    def graph(self, execution_id: str, expand: list[str], collapse: list[str]) -> dict:
        self.execution(execution_id)
        self.calls.append(("graph", expand, collapse))
        return {"id": execution_id, "version": "v1", "nodes": [], "edges": []}

    def node(self, execution_id: str, node_id: str, attempt: int | None) -> dict:
        self.execution(execution_id)
        if node_id != "a/b":
            raise NotFound(f"execution {execution_id} has no node {node_id!r}")
        return {"id": node_id, "attempt": attempt}


def run(check: Any) -> Any:
    async def main() -> Any:
        app = make_app(client=object())  # type: ignore[arg-type]
        stub = StubReader()
        app[READER] = stub  # type: ignore[misc]
        async with TestClient(TestServer(app)) as http:
            return await check(http, stub)

    return asyncio.run(main())


def test_answers_and_errors():
    async def check(http: TestClient, stub: StubReader) -> None:
        r = await http.get("/api/executions?limit=5&status=FAILED")
        assert r.status == 200 and await r.json() == [{"id": "e1", "status": "RUNNING"}]
        assert stub.calls[-1] == ("executions", 5, "FAILED")
        for bad, message in [("limit=x", "limit must be a number"),
                             ("limit=0", "between 1 and 10000"),
                             ("status=DONE", "status must be one of")]:
            r = await http.get("/api/executions?" + bad)
            assert r.status == 400 and message in (await r.json())["error"]

        r = await http.get("/api/executions/e1?expand=a,b&collapse=c")
        assert r.status == 200 and (await r.json())["version"] == "v1"
        assert stub.calls[-1] == ("graph", ["a", "b"], ["c"])
        r = await http.get("/api/executions/e1?v=v1")
        assert await r.json() == {"version": "v1", "unchanged": True}

        r = await http.get("/api/executions/nope")
        assert r.status == 404
        assert await r.json() == {"error": "no execution 'nope' on the board"}
        r = await http.get("/api/executions/down")
        assert r.status == 503 and "no Redis answers" in (await r.json())["error"]

        r = await http.get("/api/executions/e1/node", params={"id": "a/b", "attempt": "2"})
        assert r.status == 200 and await r.json() == {"id": "a/b", "attempt": 2}
        r = await http.get("/api/executions/e1/node", params={"id": "a/c"})
        assert r.status == 404 and "has no node 'a/c'" in (await r.json())["error"]
        r = await http.get("/api/executions/e1/node")
        assert r.status == 400
        r = await http.get("/api/executions/e1/node", params={"id": "a/b", "attempt": "0"})
        assert r.status == 400
        for odd in ("²", "1.5", "-1", "x"):
            r = await http.get("/api/executions/e1/node", params={"id": "a/b", "attempt": odd})
            assert r.status == 400, odd

    run(check)


def test_pages_and_static_files():
    async def check(http: TestClient, stub: StubReader) -> None:
        r = await http.get("/")
        assert r.status == 200 and "executions.js" in await r.text()
        r = await http.get("/executions/e1")
        assert r.status == 200 and "graph.js" in await r.text()
        r = await http.get("/executions/%3Cb%3Ex")
        text = await r.text()
        assert r.status == 404 and "no execution &#x27;&lt;b&gt;x&#x27;" in text
        r = await http.get("/executions/down")  # served: the page says Redis is away
        assert r.status == 200
        for path in ("/static/vendor/cytoscape.min.js", "/static/vendor/cytoscape-dagre.min.js",
                     "/static/graph.js", "/static/app.css"):
            r = await http.get(path)
            assert r.status == 200, path

    run(check)


def test_the_reader_asks_the_scheduler_about_an_unknown_id_once_in_a_while():
    """An id the board lacks costs one refresh request, then is answered from memory; a
    malformed one costs none."""
    from sdk.model.errors import GraftError
    from sdk.ui.reader import Reader

    class Client:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def get(self, execution_id: str, timeout: float) -> None:
            self.asked.append(execution_id)
            raise GraftError(f"no execution {execution_id!r}")

    client = Client()
    reader = Reader(client)  # type: ignore[arg-type]
    for _ in range(5):
        try:
            reader.execution("e404")
        except NotFound as exc:
            assert "no execution 'e404'" in str(exc)
    assert client.asked == ["e404"]
