"""graft ui's deck pages (sdk/ui/server.py, sdk/ui/decks.py) over a stub reader: the deck is
served with a sandboxing Content-Security-Policy and a safe content type, framed by a page of
graft's in a sandboxed iframe; unknown nodes and missing decks are 404s. The real reader and
a real browser: tests/integration/test_ui_decks.py."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from sdk.ui.reader import NotFound
from sdk.ui.server import READER, make_app

DECK = "<p>hello</p><script>document.title = 'x'</script>"


class StubReader:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def deck(self, execution_id: str, node_id: str, attempt: int | None) -> tuple[int, str]:
        self.calls.append((execution_id, node_id, attempt))
        if execution_id != "e1":
            raise NotFound(f"no execution {execution_id!r} on the board")
        if node_id != "a/b<i>":
            raise NotFound(f"node {node_id!r} of execution e1 has no deck for attempt 1")
        return attempt or 2, DECK


def run(check: Any) -> Any:
    async def main() -> Any:
        app = make_app(client=object())  # type: ignore[arg-type]
        stub = StubReader()
        app[READER] = stub  # type: ignore[misc]
        async with TestClient(TestServer(app)) as http:
            return await check(http, stub)

    return asyncio.run(main())


def test_the_deck_is_served_sandboxed():
    async def check(http: TestClient, stub: StubReader) -> None:
        r = await http.get("/api/executions/e1/deck", params={"node": "a/b<i>", "attempt": "1"})
        assert r.status == 200 and await r.text() == DECK
        assert stub.calls[-1] == ("e1", "a/b<i>", 1)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = [d.strip() for d in r.headers["Content-Security-Policy"].split(";")]
        assert csp[0] == "sandbox allow-scripts"  # no allow-same-origin: an opaque origin
        assert "connect-src 'none'" in csp and "form-action 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"

    run(check)


def test_the_deck_page_frames_it_in_a_sandboxed_iframe():
    async def check(http: TestClient, stub: StubReader) -> None:
        r = await http.get("/executions/e1/deck", params={"node": "a/b<i>"})
        assert r.status == 200 and r.content_type == "text/html"
        text = await r.text()
        assert stub.calls[-1] == ("e1", "a/b<i>", None)
        assert ("<iframe id='deck' title='deck of a/b&lt;i&gt;' sandbox='allow-scripts' "
                "referrerpolicy='no-referrer' "
                "src='/api/executions/e1/deck?node=a%2Fb%3Ci%3E&amp;attempt=2'>") in text
        assert "attempt 2" in text and "<i>" not in text and DECK not in text
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]

    run(check)


def test_no_deck_unknown_ids_and_bad_parameters():
    async def check(http: TestClient, stub: StubReader) -> None:
        r = await http.get("/api/executions/e1/deck", params={"node": "other"})
        assert r.status == 404
        assert await r.json() == {"error": "node 'other' of execution e1 has no deck for "
                                           "attempt 1"}
        r = await http.get("/executions/e9/deck", params={"node": "a/b<i>"})
        assert r.status == 404 and "no execution &#x27;e9&#x27; on the board" in await r.text()
        for url in ("/api/executions/e1/deck", "/executions/e1/deck"):
            r = await http.get(url)
            assert r.status == 400 and (await r.json())["error"] == \
                "give the node as ?node=NODE_ID"
            r = await http.get(url, params={"node": "a/b<i>", "attempt": "0"})
            assert r.status == 400 and "attempt must be a number from 1" in await r.text()

    run(check)
