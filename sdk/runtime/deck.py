"""Decks: the HTML pages a task makes of its run, as flytekit's, kept per attempt in the store.

    @task(enable_deck=True)                                # deck_fields=(DeckField.INPUT, ...)
    def t(df: pd.DataFrame) -> int:
        current_context().default_deck.append(MarkdownRenderer().to_html("# hi"))
        Deck("summary", TopFrameRenderer(5).to_html(df))   # a tab of its own
        return len(df)

Each attempt of a task with `enable_deck=True` writes one page, `decks/<execution>/<node>/
<attempt>.html` in the store, once it ends: one tab per deck, in the order flytekit gives
them (Timeline, the task's own, then Source Code, Dependencies, Input, Output, as
`deck_fields` asks; the last four only when the task succeeded, the page of a failed attempt
holds what it made before failing, as flytekit's on a cluster). `Deck.publish()` writes it
at once, so a running task's deck can be looked at. `graft deck`, `Execution.deck` and the
graph page read it. In-process the store is the local one, and the page's location is
logged (INFO, logger `graft.deck`), as flytekit logs its file's.

Unlike flytekit's, `current_context().default_deck` is one deck per attempt (flytekit's
makes a new one at each access, so only the last append is shown), and a local run's decks
do not leak from one task into the next.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import inspect
import logging
import sys
import time
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sdk.model.decks import DEFAULT_DECK_FIELDS, DeckField, deck_key
from sdk.model.errors import StoreError
from sdk.model.store import Store
from sdk.runtime.context import ExecutionParameters, current_context
from sdk.runtime.deck_page import page
from sdk.values.renderers import PythonDependencyRenderer, SourceCodeRenderer, value_html

__all__ = ["DEFAULT_DECK_FIELDS", "Deck", "DeckField", "TimeLineDeck", "attempt_deck",
           "deck_attempts", "deck_key"]

log = logging.getLogger("graft.deck")


def deck_attempts(store: Store, execution_id: str, node_id: str) -> list[int]:
    """The attempts of a node that have a deck in the store, in order."""
    found = []
    for key in store.keys(f"decks/{execution_id}/{node_id}"):
        name = key.rpartition("/")[2]
        if name.endswith(".html") and name[:-5].isdecimal():
            found.append(int(name[:-5]))
    return sorted(found)


class Deck:
    """A tab of the running task's deck: a name and HTML, added to
    `current_context().decks` when made (unless `auto_add_to_deck=False`)."""

    def __init__(self, name: str, html: str | None = "", auto_add_to_deck: bool = True):
        self._name = name
        self._html = html or ""
        if auto_add_to_deck:
            current_context().decks.append(self)

    def append(self, html: str) -> Deck:
        assert isinstance(html, str)
        self._html = self._html + "\n" + html
        return self

    @property
    def name(self) -> str:
        return self._name

    @property
    def html(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return f"Deck({self._name!r}, {len(self.html)} characters)"

    @staticmethod
    def publish() -> None:
        """Write the running task's deck now, as it stands (the page is written again when
        the attempt ends). Only a warning outside a task with `enable_deck=True`."""
        params = current_context()
        writer = _writer.get()
        if not params.enable_deck or writer is None:
            log.warning("Deck.publish() in node %r: no deck is made, as the task does not "
                        "have enable_deck=True", params.node_id)
            return
        writer.write()


class TimeLineDeck(Deck):
    """The Timeline deck: how long each part of the attempt took, made into a table when the
    page is written."""

    def __init__(self, name: str, html: str | None = "", auto_add_to_deck: bool = True):
        super().__init__(name, html, auto_add_to_deck)
        self.time_info: list[dict[str, Any]] = []

    def append_time_info(self, info: dict[str, Any]) -> None:
        assert isinstance(info, dict)
        self.time_info.append(info)

    @property
    def html(self) -> str:
        if not self.time_info:
            return ""
        rows = "".join(f"<tr><td>{html.escape(str(r['Name']))}</td>"
                       f"<td>{r['WallTime']:.6f}</td><td>{r['ProcessTime']:.6f}</td></tr>"
                       for r in self.time_info)
        return ('<table border="1" cellpadding="5" cellspacing="0" style="border-collapse: '
                'collapse; width: 100%;"><thead><tr><th>Name</th><th>Wall Time(s)</th>'
                f"<th>Process Time(s)</th></tr></thead><tbody>{rows}</tbody></table>"
                "<p><strong>Note:</strong> wall time is elapsed time; process time is CPU "
                "time of this process.</p>")


def default_deck(params: ExecutionParameters) -> Deck:
    """The attempt's deck named "default" (made on first use)."""
    for deck in params.decks:
        if deck.name == "default":
            return deck
    deck = Deck("default", auto_add_to_deck=False)
    params.decks.append(deck)
    return deck


def timeline_deck(params: ExecutionParameters) -> TimeLineDeck:
    """The attempt's Timeline deck (on its page only with DeckField.TIMELINE)."""
    for deck in params.decks:
        if isinstance(deck, TimeLineDeck):
            return deck
    writer = _writer.get()
    if writer is not None and writer.params is params:
        return writer.timeline
    return TimeLineDeck(DeckField.TIMELINE.value, auto_add_to_deck=False)


class AttemptDeck:
    """The deck of one attempt: times its parts, and writes its page to the store."""

    def __init__(self, params: ExecutionParameters, store: Store, entity: Any, local: bool):
        self.params = params
        self.store = store
        self.entity = entity
        self.local = local
        self.fields: tuple[DeckField, ...] = tuple(getattr(entity, "deck_fields", ()) or ())
        self.key = deck_key(params.execution_id.name, params.node_id, params.attempt)
        self.ran: tuple[dict[str, Any], Any] | None = None
        self.timeline = TimeLineDeck(DeckField.TIMELINE.value, auto_add_to_deck=False)
        if DeckField.TIMELINE in self.fields:
            params.decks.append(self.timeline)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.timeline.append_time_info(
                {"Name": name, "WallTime": time.perf_counter() - wall,
                 "ProcessTime": time.process_time() - cpu})

    def succeeded(self, inputs: dict[str, Any], result: Any) -> None:
        """The task returned `result` from `inputs`: its page gets the decks of its run."""
        self.ran = (inputs, result)

    def finish(self) -> None:
        """Write the page once the attempt ended: never raises, since a deck that cannot be
        made or kept must not change the attempt's outcome (a warning says why)."""
        if self.ran is not None:
            try:
                self._run_decks(*self.ran)
            except Exception as exc:  # a defect of graft's own: the page goes without them
                log.warning("deck of node %s attempt %d lacks the decks of its run: %s: %s",
                            self.params.node_id, self.params.attempt, type(exc).__name__, exc)
        if self.write() and self.local:
            log.info("%s task creates deck html to %s", self.params.node_id,
                     location(self.store, self.key))

    def write(self) -> bool:
        """Put the page as the decks stand in the store; whether it was kept."""
        try:
            html = page(self.params.decks,
                        f"{self.params.node_id} (attempt {self.params.attempt})")
        except Exception as exc:  # a deck of the user's whose `html` raised
            log.warning("deck of node %s attempt %d not made: %s: %s", self.params.node_id,
                        self.params.attempt, type(exc).__name__, exc)
            return False
        try:
            self.store.put(self.key, html.encode())
        except StoreError as exc:
            log.warning("deck of node %s attempt %d not kept: %s", self.params.node_id,
                        self.params.attempt, exc)
            return False
        return True

    def _run_decks(self, inputs: dict[str, Any], result: Any) -> None:
        """Source Code, Dependencies, Input and Output, as `deck_fields` asks."""
        fn = getattr(self.entity, "fn", None)
        decks = self.params.decks
        source = _source(fn)
        if DeckField.SOURCE_CODE in self.fields and source is not None:
            decks.append(Deck(DeckField.SOURCE_CODE.value, _rendered(
                lambda: SourceCodeRenderer().to_html(source)), auto_add_to_deck=False))
        if DeckField.DEPENDENCIES in self.fields:
            decks.append(Deck(DeckField.DEPENDENCIES.value, _rendered(
                PythonDependencyRenderer().to_html), auto_add_to_deck=False))
        if DeckField.INPUT in self.fields:
            hints = _hints(fn)
            deck = Deck(DeckField.INPUT.value, auto_add_to_deck=False)
            decks.append(deck)
            for name, value in inputs.items():
                deck.append(_rendered(lambda v=value, n=name: value_html(v, hints.get(n))))
        if DeckField.OUTPUT in self.fields:
            iface = self.entity.interface
            deck = Deck(DeckField.OUTPUT.value, auto_add_to_deck=False)
            decks.append(deck)
            try:
                values = iface.output_values(result, f"node {self.params.node_id!r}")
            except Exception as exc:
                values = [f"{type(exc).__name__}: {exc}"]
            types = _output_types(fn, len(values))
            for value, tp in zip(values, types):
                deck.append(_rendered(lambda v=value, t=tp: value_html(v, t)))


def _rendered(render: Callable[[], str]) -> str:
    """What `render()` gives; a renderer that fails shows its error in the deck rather than
    failing the attempt that ran."""
    try:
        return render()
    except Exception as exc:
        return f"<pre>{html.escape(f'{type(exc).__name__}: {exc}')}</pre>"


def _source(fn: Callable[..., Any] | None) -> str | None:
    """The source of a task's function. Only when it was written in the module it belongs
    to: a task class's generated function (`sdk.authoring.python_task`) has no source of the
    user's, and flytekit shows none for task classes either."""
    if fn is None:
        return None
    with contextlib.suppress(OSError, TypeError):
        module = sys.modules.get(getattr(fn, "__module__", ""))
        where = getattr(module, "__file__", None)
        found = inspect.getsourcefile(fn)
        if where and found and Path(where).resolve() == Path(found).resolve():
            return inspect.getsource(fn)
    return None


def _hints(fn: Callable[..., Any] | None) -> dict[str, Any]:
    if fn is None:
        return {}
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # annotations that do not evaluate here: values shown by their type
        return dict(getattr(fn, "__annotations__", {}) or {})


def _output_types(fn: Callable[..., Any] | None, count: int) -> list[Any]:
    ret = _hints(fn).get("return")
    if count == 1:
        if isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields"):
            return list(_hints_of_class(ret).values())[:1] or [None]
        return [ret]
    if isinstance(ret, type) and issubclass(ret, tuple) and hasattr(ret, "_fields"):
        return list(_hints_of_class(ret).values())
    args = typing.get_args(ret) if typing.get_origin(ret) is tuple else ()
    return list(args) if len(args) == count else [None] * count


def _hints_of_class(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception:
        return {}


def location(store: Store, key: str) -> str:
    """A URL of a store object: `file://...` in a local folder."""
    root = getattr(store, "root", None)
    if getattr(store, "local", False) and root:
        return Path(root, key).resolve().as_uri()
    return f"{store.url.rstrip('/')}/{key}"


_writer: contextvars.ContextVar[AttemptDeck | None] = contextvars.ContextVar(
    "graft_deck", default=None)


class NoDeck:
    """The deck of an attempt whose task has no deck: it times nothing and writes nothing."""

    def timed(self, name: str) -> contextlib.AbstractContextManager[None]:
        return _UNTIMED

    def succeeded(self, inputs: dict[str, Any], result: Any) -> None:
        pass


_UNTIMED = contextlib.nullcontext()
OFF = NoDeck()


@contextlib.contextmanager
def attempt_deck(params: ExecutionParameters, store: Store, entity: Any,
                 local: bool) -> Iterator[AttemptDeck | NoDeck]:
    """The attempt's deck while it runs; its page is written when it ends, whatever the
    outcome. A task without `enable_deck=True` gets `OFF`."""
    if not params.enable_deck:
        yield OFF
        return
    deck = AttemptDeck(params, store, entity, local)
    token = _writer.set(deck)
    try:
        yield deck
    finally:
        _writer.reset(token)
        deck.finish()


def deck_enabled(entity: Any) -> bool:
    return bool(getattr(entity, "enable_deck", False))
