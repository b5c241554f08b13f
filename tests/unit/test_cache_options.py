"""Cache options as flytekit spells them (`Cache(...)` and the keywords), cache keys
(ignored inputs, HashMethod identities) and the cache index, in-process."""

from __future__ import annotations

import typing
from typing import Annotated

import pytest
from workflows import cached
from workflows.failing import bump, count

from sdk import Cache, ConfigError, HashMethod, task, workflow
from sdk.core.cache import Cache as CoreCache
from sdk.core.hash import HashMethod as CoreHashMethod
from sdk.runtime.cache import CacheIndex, key_for
from sdk.values.store import MemoryStore


def test_faces_hand_on_the_same_objects():
    assert CoreCache is Cache and CoreHashMethod is HashMethod


def test_the_cache_object_and_the_keywords_give_the_same_node():
    @task(cache=Cache(version="2", serialize=True, ignored_inputs="b"))
    def with_object(a: int, b: int) -> int:
        return a

    @task(cache=True, cache_version="2", cache_serialize=True, cache_ignore_input_vars=("b",))
    def with_keywords(a: int, b: int) -> int:
        return a

    one, two = with_object.node_spec("n", {}), with_keywords.node_spec("n", {})
    for field in ("cache", "cache_version", "cache_serialize", "cache_ignored"):
        assert getattr(one, field) == getattr(two, field)
    assert (one.cache, one.cache_version, one.cache_serialize, one.cache_ignored) == \
        (True, "2", True, ("b",))


@pytest.mark.parametrize(("options", "message"), [
    ({"cache": Cache(version="1"), "cache_version": "2"}, "not both"),
    ({"cache": Cache(version="1", ignored_inputs=("nope",))}, "ignores input 'nope'"),
    ({"cache_serialize": True}, "cache_serialize=True needs cache=True"),
    ({"cache": True, "cache_version": "1", "cache_serialize": "yes"},
     "cache_serialize must be True or False"),
])
def test_bad_cache_options_are_named(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.")):
        @task(**options)
        def f(a: int) -> int:
            return a


def test_a_salt_goes_to_the_policies_only():
    @task(cache=Cache(version="1", salt="s"))
    def salted(a: int) -> int:
        return a

    assert salted.node_spec("n", {}).cache_version == "1"  # as flytekit's: the version given


def test_overrides_take_a_cache_object():
    @task
    def plain(a: int) -> int:
        return a

    @workflow
    def wf(a: int) -> int:
        return plain(a=a).with_overrides(cache=Cache(version="3", serialize=True))

    [node] = wf.graph().nodes
    assert (node.cache, node.cache_version, node.cache_serialize) == (True, "3", True)


def test_ignored_inputs_are_left_out_of_the_key():
    store = MemoryStore()
    spec = cached.serialized_square.node_spec("n", {})
    base = {"x": {"val": {"v": 3}}, "counter_dir": {"val": {"v": "/c"}},
            "seconds": {"val": {"v": 0.1}}, "pid_dir": {"val": {"v": "/p"}}}
    same = key_for(spec, base, store)
    assert key_for(spec, {**base, "pid_dir": {"val": {"v": "/elsewhere"}}}, store) == same
    assert key_for(spec, {**base, "x": {"val": {"v": 4}}}, store) != same


def test_a_hash_replaces_the_content_in_the_key():
    store = MemoryStore()
    spec = cached.frame_rows.node_spec("n", {})
    one = {"df": {"val": {"v": {"some": "content"}, "h": "rows=3"}},
           "counter_dir": {"val": {"v": "/c"}}}
    other = {"df": {"val": {"v": {"other": "content"}, "h": "rows=3"}},
             "counter_dir": {"val": {"v": "/c"}}}
    assert key_for(spec, one, store) == key_for(spec, other, store)
    third = {**one, "df": {"val": {"v": {"some": "content"}, "h": "rows=4"}}}
    assert key_for(spec, third, store) != key_for(spec, one, store)


class Pair(typing.NamedTuple):
    n: Annotated[int, HashMethod(lambda v: "same")]
    m: int


def test_hash_methods_travel_in_lists_and_named_tuples(tmp_path):
    @task
    def pair(x: int) -> Pair:
        return Pair(x, x)

    @task(cache=True, cache_version="1")
    def counted(xs: list[int], counter_dir: str) -> int:
        bump(counter_dir, "counted")
        return len(xs)

    @workflow
    def wf(x: int, counter_dir: str) -> int:
        p = pair(x=x)
        return counted(xs=[p.n, p.n], counter_dir=counter_dir)

    assert pair.output_hashers.keys() == {"n"}
    assert wf(x=1, counter_dir=str(tmp_path)) == wf(x=2, counter_dir=str(tmp_path)) == 2
    assert count(str(tmp_path), "counted") == 1


def broken(value: int) -> str:
    raise KeyError("no")


def test_a_hash_method_that_raises_names_the_output():
    @task
    def produce(x: int) -> Annotated[int, HashMethod(broken)]:
        return x

    with pytest.raises(Exception, match=r"output 'o0' of task 'produce'.*HashMethod raised"):
        produce(x=1)


def test_the_index_lists_clears_and_misses_on_a_bad_entry():
    store = MemoryStore()
    index = CacheIndex(store, "cache")
    spec = cached.cached_cube.node_spec("n", {})
    index.save("a" * 64, spec, {"o0": {"val": {"v": 8}}}, execution="e1", node="n1")
    index.save("b" * 64, cached.slow_square.node_spec("n", {}), {"o0": {"val": {"v": 4}}})
    assert [e.task for e in index.entries()] == ["cached_cube", "slow_square"]
    assert index.lookup("a" * 64, spec) == {"o0": {"val": {"v": 8}}}
    store.put("cache/" + "c" * 64 + ".json", b"not json")
    assert index.lookup("c" * 64, spec) is None  # unreadable: a miss, not an error
    assert index.lookup("b" * 64, spec) == {"o0": {"val": {"v": 4}}}
    index.save("d" * 64, spec, {"o0": {"val": {"u": "values/" + "0" * 64}}})
    assert index.lookup("d" * 64, spec) is None  # its stored value is gone
    assert index.clear("cached_cube") == 2
    assert [e.task for e in index.entries()] == ["slow_square"]
