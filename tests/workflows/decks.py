"""Workflows for the deck tests, written as a Flyte user writes them (`flytekit` renamed
`sdk`): tasks with `enable_deck=True` that add decks of their own, one without, and one whose
first attempt fails after adding a deck."""

import time
import typing
from typing import Annotated

import pandas as pd

import sdk
from sdk import Deck, current_context, dynamic, task, workflow
from sdk.deck import DeckField, MarkdownRenderer, TopFrameRenderer
from sdk.deck.renderer import BoxRenderer

# A deck's script that tries what a page of graft's origin could do, and says what it got.
PROBE = """<p id="probe">not run</p><script>
(async () => {
  const found = [];
  found.push("origin=" + window.origin);
  try { window.top.document.title; found.push("top=read"); }
  catch (e) { found.push("top=blocked"); }
  try { document.cookie; found.push("cookie=read"); }
  catch (e) { found.push("cookie=blocked"); }
  try { await fetch("/api/executions"); found.push("api=read"); }
  catch (e) { found.push("api=blocked"); }
  document.getElementById("probe").textContent = found.join(" ");
})();
</script>"""


@task(enable_deck=True)
def report(n: int) -> int:
    """Markdown in the default deck (twice: both kept), a table in a deck of its own."""
    current_context().default_deck.append(MarkdownRenderer().to_html(f"# Report of {n}"))
    current_context().default_deck.append(MarkdownRenderer().to_html("*second part*"))
    frame = pd.DataFrame({"square": [i * i for i in range(n)]})
    sdk.Deck("squares", TopFrameRenderer(3).to_html(frame))
    return n * 2


@task
def plain(n: int) -> int:
    Deck("ignored", "<p>no deck: enable_deck is not set</p>")
    return n + 1


@task(enable_deck=True, deck_fields=(DeckField.INPUT, DeckField.OUTPUT))
def fields(n: int, text: str) -> Annotated[str, MarkdownRenderer()]:
    return f"## {text} <{n}>"


@workflow
def deck_wf(n: int = 4) -> str:
    return fields(n=plain(n=report(n=n)), text="done")


@task(enable_deck=True, retries=1)
def flaky(n: int) -> int:
    """Attempt 1 adds a deck, then fails; attempt 2 succeeds."""
    attempt = current_context().attempt
    Deck("attempt", f"<p>attempt {attempt}</p>")
    if attempt == 1:
        raise RuntimeError("first attempt fails")
    return n


@workflow
def flaky_wf(n: int = 1) -> int:
    return flaky(n=n)


@task(enable_deck=True, deck_fields=())
def boxed(n: int) -> int:
    frame = pd.DataFrame({"length": [float(i % 7) for i in range(n)] + [30.0]})
    Deck("box", BoxRenderer("length").to_html(frame))
    return n


@task(enable_deck=True, deck_fields=())
def probe() -> str:
    Deck("probe", PROBE)
    return "probed"


@task(enable_deck=True, deck_fields=())
def publishing(seconds: float) -> int:
    """Publishes a first deck, runs on, then adds to it."""
    Deck("progress", "<p>half way</p>")
    Deck.publish()
    time.sleep(seconds)
    current_context().default_deck.append("<p>all done</p>")
    return 1


@dynamic(enable_deck=True)
def fan(n: int) -> typing.List[int]:
    Deck("plan", f"<p>{n} reports</p>")
    return [report(n=i) for i in range(1, n + 1)]


@workflow
def ui_wf(n: int = 3) -> str:
    boxed(n=n)
    plain(n=report(n=n))
    return probe()
