"""Cache entries signed with a key derived from GRAFT_SECRET: an entry that is unsigned,
altered, moved to another key or signed with another secret is a miss, named in one line."""

from __future__ import annotations

import json
import logging

import pytest
from workflows import cached

from sdk.runtime.cache import CacheIndex, entry_key
from sdk.values.store import MemoryStore

KEY, OTHER = "a" * 64, "b" * 64
OUTPUTS = {"o0": {"val": {"v": 8}}}


@pytest.fixture
def spec():
    return cached.cached_cube.node_spec("n", {})


def signed_index(store: MemoryStore, secret: bytes = b"s3cret") -> CacheIndex:
    return CacheIndex(store, "cache", signing_key=entry_key(secret))


def rewrite(store: MemoryStore, key: str, change) -> None:
    data = json.loads(store.get(f"cache/{key}.json"))
    change(data)
    store.put(f"cache/{key}.json", json.dumps(data).encode())


def test_the_derived_key_is_not_the_secret_and_depends_on_it():
    assert entry_key(None) is None and entry_key(b"") is None
    assert entry_key(b"s3cret") not in (b"s3cret", entry_key(b"other"))
    assert len(entry_key(b"s3cret")) == 32


def test_a_signed_entry_hits(spec):
    store = MemoryStore()
    index = signed_index(store)
    index.save(KEY, spec, OUTPUTS, execution="e1", node="n1")
    assert "sig" in json.loads(store.get(f"cache/{KEY}.json"))
    assert index.lookup(KEY, spec) == OUTPUTS
    assert index.refusals == []


@pytest.mark.parametrize("tamper, why", [
    (lambda d: d.pop("sig"), "not signed"),
    (lambda d: d.update(outputs={"o0": {"val": {"v": {"pickle": "values/" + "0" * 64}}}}),
     "signature is wrong"),
    (lambda d: d.update(version="2.0"), "signature is wrong"),
])
def test_an_unsigned_or_altered_entry_is_a_miss_in_one_line(spec, tamper, why, caplog):
    store = MemoryStore()
    index = signed_index(store)
    index.save(KEY, spec, OUTPUTS)
    rewrite(store, KEY, tamper)
    with caplog.at_level(logging.WARNING, logger="graft.cache"):
        assert index.lookup(KEY, spec) is None
    [line] = [r.getMessage() for r in caplog.records]
    assert f"cache entry cache/{KEY}.json refused, treated as a miss" in line and why in line
    assert index.refusals == [line]


def test_an_entry_moved_to_another_key_or_signed_with_another_secret_is_a_miss(spec):
    store = MemoryStore()
    signed_index(store).save(KEY, spec, OUTPUTS)
    store.put(f"cache/{OTHER}.json", store.get(f"cache/{KEY}.json"))
    assert signed_index(store).lookup(OTHER, spec) is None
    assert signed_index(store, b"another secret").lookup(KEY, spec) is None
    assert signed_index(store).lookup(KEY, spec) == OUTPUTS


def test_without_a_secret_entries_are_unsigned_and_any_entry_is_used(spec):
    store = MemoryStore()
    CacheIndex(store, "cache").save(KEY, spec, OUTPUTS)
    assert "sig" not in json.loads(store.get(f"cache/{KEY}.json"))
    assert CacheIndex(store, "cache").lookup(KEY, spec) == OUTPUTS
    signed_index(store).save(OTHER, spec, OUTPUTS)
    assert CacheIndex(store, "cache").lookup(OTHER, spec) == OUTPUTS


def test_listing_shows_refused_entries_and_clear_deletes_them(spec):
    store = MemoryStore()
    index = signed_index(store)
    index.save(KEY, spec, OUTPUTS)
    index.save(OTHER, spec, OUTPUTS)
    rewrite(store, OTHER, lambda d: d.pop("sig"))
    assert [bool(e.refused) for e in index.entries() if e.key in (KEY, OTHER)] in (
        [False, True], [True, False])
    assert index.clear() == 2
    assert index.entries() == []
