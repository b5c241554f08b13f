"""`Annotated[List[T], BatchSize(n)]` of a T graft pickles: the items are pickled n to a store
object, and every consumer of the list (a List[T], an Iterator[T], a map task, an index) reads
them as the items of any list."""

from __future__ import annotations

import pickle
import typing
from typing import Annotated, Any, List

import pytest
from workflows import iterators as it

from sdk import BatchSize, TypeConversionError
from sdk.values import pickled
from sdk.values.handlers import decode, describe, encode
from sdk.values.store import MemoryStore, default_store

NAMES = ["thor", "hulk", "loki", "odin", "sif", "frigga", "heimdall"]


def _batches(store: Any, lit: list[Any]) -> list[list[Any]]:
    """The pickled lists the items of `lit` name, in order of first use."""
    keys = list(dict.fromkeys(item["pickle"] for item in lit if pickled.is_pickled(item)))
    return [pickle.loads(store.get(k)) for k in keys]


def test_items_are_pickled_n_to_a_store_object():
    store = MemoryStore()
    desc = describe(Annotated[List[it.Hero], BatchSize(3)])
    assert desc == {"t": "list", "of": {"t": "pickle", "ref": "workflows.iterators:Hero"},
                    "batch": 3}
    heroes = [it.Hero(n, n.upper()) for n in NAMES]
    lit = encode(heroes, desc, store, "heroes")
    assert [item["at"] for item in lit] == [0, 1, 2, 0, 1, 2, 0]
    batches = _batches(store, lit)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sorted(store.keys("blobs/")) == sorted({item["pickle"] for item in lit})
    assert [h for b in batches for h in b] == heroes
    # read back as a list declared without the annotation
    assert decode(lit, describe(List[it.Hero]), store, "in") == heroes


def test_each_batch_is_unpickled_once_per_list(monkeypatch):
    store = MemoryStore()
    desc = describe(Annotated[List[it.Hero], BatchSize(4)])
    lit = encode([it.Hero(n, "p") for n in NAMES], desc, store, "heroes")
    loads = []
    real = pickle.loads
    monkeypatch.setattr(pickled.pickle, "loads", lambda data: loads.append(1) or real(data))
    decode(lit, describe(List[it.Hero]), store, "in")
    assert len(loads) == 2
    decode(lit[5], describe(it.Hero), store, "one item")  # alone: its batch, once
    assert len(loads) == 3


def test_any_items_json_holds_stay_json_and_the_others_are_batched():
    store = MemoryStore()
    desc = describe(Annotated[List[Any], BatchSize(2)])
    values = [1, "a", {1, 2}, (3, 4), None, it.Hero("x", "y"), {"k": [1]}]
    lit = encode(values, desc, store, "mixed")
    assert lit[0:2] == [1, "a"] and lit[4] is None and lit[6] == {"k": [1]}
    assert [len(b) for b in _batches(store, lit)] == [2, 1]
    assert decode(lit, describe(List[Any]), store, "in") == values


def test_a_list_that_is_not_pickled_is_left_as_it_is():
    assert describe(Annotated[List[int], BatchSize(2)]) == {"t": "list", "of": {"t": "int"}}


def test_a_batch_size_must_be_a_positive_int():
    with pytest.raises(TypeConversionError, match="BatchSize takes a positive int, got 0"):
        describe(Annotated[List[it.Hero], BatchSize(0)])


def test_an_item_that_cannot_be_pickled_is_named():
    import threading

    desc = describe(Annotated[List[Any], BatchSize(2)])
    with pytest.raises(TypeConversionError, match=r"out, item 2: cannot pickle lock"):
        encode([1, {2}, threading.Lock()], desc, MemoryStore(), "out")


def test_downstream_tasks_read_a_batched_list_as_any_list():
    names = NAMES[:5]
    heroes, greetings, powers, fourth = it.heroes_wf(names=names)
    assert heroes == [it.Hero(n, n.upper()) for n in names]
    assert list(greetings) == [f"{n}:{n.upper()}" for n in names]
    assert powers == [n.upper() for n in names]  # a map task over the batched list
    assert fourth == "ODIN"  # hs[3]: an item of the second batch
    store = default_store()
    stored = [pickle.loads(store.get(k)) for k in store.keys("blobs/")]
    hero_batches = [b for b in stored if isinstance(b, list) and b
                    and all(isinstance(h, it.Hero) for h in b)]
    assert sorted(len(b) for b in hero_batches) == [2, 3]


def test_items_of_one_batch_keep_what_they_shared():
    assert it.shared_wf() is True


def test_mixed_any_lists_round_trip_through_tasks():
    items, kinds = it.mixed_wf()
    assert items == [1, "a", {1, 2}, (3, 4), None, it.Hero("x", "y"), {"k": [1]}]
    assert kinds == ["int", "str", "set", "tuple", "NoneType", "Hero", "dict"]


def test_a_pickled_batch_item_literal_is_never_taken_for_json():
    store = MemoryStore()
    shaped = {"pickle": "blobs/" + "0" * 64, "at": 0}
    lit = encode(shaped, {"t": "any"}, store, "x")
    assert lit != shaped and decode(lit, {"t": "any"}, store, "y") == shaped
    assert typing.get_args(Annotated[List[Any], BatchSize(2)])[1].val == 2
