"""Large outputs written to the store as one value, a slice of items at a time
(`sdk.model.gather`): the list's canonical JSON text built from its items' literals
(`ListText`), for the scheduler's loop a slice a turn (scheduler/gathering.py) and for an
in-process run at once (`gather_outputs`).

The value is what `to_ref` would store for the whole list (`values/<sha256>` of its
canonical JSON), so a reader cannot tell it from a list a task returned: the client, the
workers, the cache and the status board read it as any other stored value. An item's own
reference is read and its literal written into the list; a HashMethod hash an item carried
(`{"v": ..., "h": ...}`) is not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.errors import GraftError
from sdk.model.gather import Gather
from sdk.model.store import Store
from sdk.values.literals import dumps, materialize
from sdk.values.store import put_blob

__all__ = ["SLICE", "ListText", "gather_outputs", "literal"]

SLICE = 2_000  # items resolved at once


class ListText:
    """The canonical JSON text of a list (`sdk.values.literals.dumps`), built a slice of
    items at a time."""

    def __init__(self) -> None:
        self._parts: list[bytes] = [b"["]
        self.items = 0

    def add(self, literals: list[Any]) -> None:
        """Append these items' literals."""
        if not literals:
            return
        text = dumps(literals)[1:-1]  # the items, as the whole list's text has them
        self._parts.append(b"," + text if self.items else text)
        self.items += len(literals)

    def put(self, store: Store) -> Binding:
        """Write the list to `store` as one content-addressed value; its binding."""
        self._parts.append(b"]")
        data = b"".join(self._parts)
        self._parts = []
        return {"val": {"u": put_blob(store, data, prefix="values")}}


def literal(binding: Binding, store: Store) -> Any:
    """The literal a resolved binding stands for (an inline value, the common case, without
    `materialize`'s checks)."""
    ref = binding.get("val")
    if ref is not None and len(ref) == 1 and "v" in ref:
        return ref["v"]
    return materialize(binding, store)


def check_count(gather: Gather, name: str, text: ListText) -> None:
    """GraftError unless `text` has the items output `name` of `gather` was counted with."""
    expected = gather.sizes[name]
    if text.items != expected:
        raise GraftError(f"output {name!r} of {gather.node or 'the execution'} has "
                         f"{text.items} items, not {expected}")


def gather_outputs(gather: Gather, resolve: Callable[[list[Binding]], list[Binding]],
                   store: Store, slice_items: int = SLICE) -> dict[str, Binding]:
    """Every output of `gather`, written to `store` (`resolve`: `Engine.resolve_items`)."""
    outputs = {}
    for name in gather.sizes:
        items, text = gather.items(name), ListText()
        while chunk := list(islice(items, slice_items)):
            text.add([literal(b, store) for b in resolve(chunk)])
        check_count(gather, name, text)
        outputs[name] = text.put(store)
    return outputs
