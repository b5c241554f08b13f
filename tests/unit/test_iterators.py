"""`Iterator[T]` and `Iterator[JSON]` outputs and inputs, in-process, as flytekit 1.16 gives
them: an Iterator[T] is a list of T (a downstream List[T] gets a list, an Iterator[T] a
re-iterable FlyteIterator with a length); an Iterator[JSON] is one JSON-lines object read once."""

from __future__ import annotations

import typing

import pytest
from workflows import iterators as it

from sdk import CompileError, TaskTimeout, TypeConversionError, task, workflow
from sdk.types.iterator import JSON, FlyteIterator, JSONIterator
from sdk.values.handlers import describe
from sdk.values.literals import value_binding
from sdk.values.store import MemoryStore


def test_an_iterator_output_is_a_list_downstream_and_an_iterator_to_the_caller():
    out, total, described, from_list = it.iterator_wf(n=4)
    assert isinstance(out, FlyteIterator) and len(out) == 4
    assert list(out) == [0, 1, 4, 9] and list(out) == [0, 1, 4, 9]  # iterated again
    assert total == 14
    assert described == "FlyteIterator len=4 [0, 1, 4, 9] [0, 1, 4, 9]"
    assert from_list == "FlyteIterator len=2 [4, 5] [4, 5]"  # a List output feeds an Iterator
    assert it.iterator_as_list_wf(n=3) == [0, 1, 4]  # declared List: a list


def test_a_task_called_alone_gives_an_iterator():
    got = it.squares(n=3)
    assert isinstance(got, FlyteIterator) and list(got) == [0, 1, 4]


def test_the_descriptor_is_a_list_that_binds_both_ways():
    desc = describe(typing.Iterator[int])
    assert desc == {"t": "list", "of": {"t": "int"}, "iter": True}
    assert describe(typing.Iterator) == {"t": "list", "of": {"t": "any"}, "iter": True}
    from sdk.model.typesys import is_assignable, type_name

    assert type_name(desc) == "Iterator[int]"
    assert is_assignable(desc, describe(typing.List[int]))
    assert is_assignable(describe(typing.List[int]), desc)
    assert not is_assignable(desc, describe(typing.List[str]))


def test_wrong_items_and_a_value_that_is_no_iterable_are_named():
    with pytest.raises(TypeConversionError, match=r"output 'o0' of task 'wrong_items'.*item 1: "
                                                  r"expected int, got str"):
        it.wrong_items()
    with pytest.raises(TypeConversionError, match=r"expected Iterator\[int\], got int"):
        it.not_iterable()


def test_a_generator_that_raises_fails_as_the_tasks_own_error():
    with pytest.raises(RuntimeError, match="the generator broke after one item") as info:
        it.broken_generator()
    assert not isinstance(info.value, TypeConversionError)  # the task's error, not a conversion's


def test_a_generator_runs_within_the_tasks_timeout():
    import time

    @task(timeout=1)
    def slow() -> typing.Iterator[int]:
        yield 1
        time.sleep(5)
        yield 2

    started = time.monotonic()
    with pytest.raises(TaskTimeout, match="timeout"):
        slow()
    assert time.monotonic() - started < 4


def test_json_iterator_outputs_are_json_lines_read_once():
    rows, counted = it.json_wf(n=2)
    assert isinstance(rows, JSONIterator)
    assert list(rows) == [{"i": 0, "tags": []}, {"i": 1, "tags": ["a"]}, [1, "x", None], 2.5]
    assert list(rows) == []  # read once, as flytekit's
    assert counted == "JSONIterator 4 {'i': 0, 'tags': []} 2.5 again=[]"


def test_a_json_iterator_is_one_store_object():
    store = MemoryStore()
    binding = value_binding(iter([{"a": 1}, [2]]), describe(typing.Iterator[JSON]), store, "x")
    [key] = store.keys("blobs/")
    assert binding == {"val": {"v": {"jsonl": key}}}
    assert store.get(key) == b'{"a":1}\n[2]\n'


def test_an_empty_or_unwritable_json_iterator_is_refused():
    with pytest.raises(TypeConversionError, match="the iterator is empty"):
        it.no_records()

    @task
    def sets() -> typing.Iterator[JSON]:
        yield {1, 2}

    with pytest.raises(TypeConversionError, match=r"item 0: a set is not JSON"):
        sets()


def test_a_json_iterator_does_not_bind_to_a_list():
    @workflow
    def wf() -> int:
        return it.total(xs=it.records(n=1))

    with pytest.raises(CompileError, match=r"is Iterator\[JSON\], which does not fit "
                                           r"List\[int\]"):
        wf()
