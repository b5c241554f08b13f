"""The page an attempt's decks make: one tab per deck, as flytekit's template lays them out
(tab names escaped, each deck's HTML as its renderer made it). Unlike flytekit's, it loads
no web font: a deck opens without internet access."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

_STYLE = """
  body { font-family: "Open Sans", Helvetica, Arial, sans-serif; margin: 0; }
  ol, ul { list-style: none; }
  table { border-collapse: collapse; border-spacing: 0; }
  #flyte-frame-nav { display: flex; width: 100%; }
  #flyte-frame-tabs { display: flex; flex-wrap: wrap; width: 100%; justify-content: center;
                      margin-block: 0; padding-inline-start: 0; }
  #flyte-frame-tabs li { cursor: pointer; padding: 8px; margin: 0 12px 0 0; font-size: 14px;
                         line-height: 20px; font-weight: 700; color: #666666; min-width: 126px;
                         text-align: center; }
  #flyte-frame-tabs li.active { border-bottom: 4px solid rgb(163, 26, 255); color: #333333; }
  #flyte-frame-container > div { display: none; }
  #flyte-frame-container > div.active { display: block; padding: 2rem 2rem; }
"""

_SCRIPT = """(function () {
  const tabs = document.getElementById('flyte-frame-tabs').children;
  const bodies = document.getElementById('flyte-frame-container').children;
  function show(index) {
    for (let i = 0; i < tabs.length; i++) {
      tabs[i].classList.toggle('active', i === index);
      bodies[i].classList.toggle('active', i === index);
    }
  }
  for (let i = 0; i < tabs.length; i++) tabs[i].addEventListener('click', () => show(i));
  if (tabs.length) show(0);
})();
"""


def page(decks: Iterable[Any], title: str = "") -> str:
    """The HTML page of `decks` (objects with `name` and `html`); decks of the same name are
    one tab, in the place of the first, holding the last one's HTML (as flytekit's)."""
    shown: dict[str, str] = {}
    for deck in decks:
        shown[deck.name] = deck.html
    nav = "".join(f'<li data-deck="{html.escape(name)}">{html.escape(name)}</li>'
                  for name in shown)
    body = "".join(f"<div>{content}</div>" for content in shown.values())
    return (f'<!doctype html>\n<html lang="">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title or 'deck')}</title>\n"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n"
            f'<nav id="flyte-frame-nav"><ul id="flyte-frame-tabs">{nav}</ul></nav>\n'
            f'<div id="flyte-frame-container">{body}</div>\n'
            f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")
