"""How the graph page shows a node's deck, which is HTML the user's task wrote: never in a
page of graft's own origin.

`/executions/ID/deck?node=N&attempt=A` is a page of graft's that frames the deck in an
`<iframe sandbox="allow-scripts">`; the deck itself, `/api/executions/ID/deck?...`, is
served with `Content-Security-Policy: sandbox allow-scripts` too, so that even opened on its
own it runs in an opaque origin: its scripts (plotly's, the tabs') run, but cannot read the
UI's pages or API, its cookies or the framing page, and it may fetch nothing (`connect-src
'none'`), submit no form and navigate no other window. Scripts, styles, images and fonts
may still come inline, as data, or over https (plotly from its CDN).
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlencode

DECK_CSP = "; ".join([
    "sandbox allow-scripts",
    "default-src 'none'",
    "script-src 'unsafe-inline' 'unsafe-eval' data: blob: https:",
    "style-src 'unsafe-inline' data: https:",
    "img-src data: blob: https:",
    "font-src data: https:",
    "media-src data: blob:",
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
])

DECK_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": DECK_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

FRAME_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def frame(execution_id: str, node_id: str, attempt: int) -> str:
    """graft's page around a node's deck."""
    query = urlencode({"node": node_id, "attempt": attempt})
    eid = quote(execution_id, safe="")
    raw = f"/api/executions/{eid}/deck?{query}"
    e, n = html.escape(execution_id), html.escape(node_id)
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>graft: deck of {n}</title>\n"
        "<link rel='stylesheet' href='/static/app.css'>\n</head>\n<body class='deck'>\n"
        "<header class='top'><a class='brand' href='/'>graft</a>"
        f"<a class='mono' href='/executions/{eid}'>{e}</a>"
        f"<span class='title mono' id='deck-node'>{n}</span>"
        f"<span class='muted' id='deck-attempt'>attempt {attempt}</span>"
        f"<a class='muted' href='{html.escape(raw)}'>page alone</a></header>\n"
        f"<iframe id='deck' title='deck of {n}' sandbox='allow-scripts' "
        f"referrerpolicy='no-referrer' src='{html.escape(raw)}'></iframe>\n"
        "</body>\n</html>\n")


def not_found(message: str, execution_id: str) -> str:
    eid = quote(execution_id, safe="")
    return ("<!doctype html><meta charset='utf-8'><title>graft: no deck</title>"
            "<link rel='stylesheet' href='/static/app.css'><main class='notfound'>"
            f"<h1>No deck</h1><p id='error'>{html.escape(message)}</p>"
            f"<p><a href='/executions/{eid}'>The execution</a></p></main>")
