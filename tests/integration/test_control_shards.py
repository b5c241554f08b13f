"""The control streams on the session's Redis: a message goes to its execution's shard, a
consumer reads only the shards it holds, and entries move to their shard or to a new owner."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis

from sdk.model.config import Settings
from sdk.wire.control import SHARDS, ControlChannel, shard_of
from sdk.wire.keys import GROUP, Keys

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(redis_server: Any) -> Any:
    url = redis_server.url + "/10"
    prefix = f"graftctl-{uuid.uuid4().hex[:8]}"
    yield Settings(broker_url=url, key_prefix=prefix)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def ids_in(shard: int, count: int) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        eid = uuid.uuid4().hex[:20]
        if shard_of(eid) == shard:
            found.append(eid)
    return found


def test_shards_spread_execution_ids_and_stay_put() -> None:
    shards = [shard_of(uuid.uuid4().hex[:20]) for _ in range(3200)]
    assert set(shards) == set(range(SHARDS))
    assert max(shards.count(s) for s in range(SHARDS)) < 2 * 3200 / SHARDS
    assert shard_of("abc") == 2  # crc32: the same in every process, clients and schedulers


def test_messages_go_to_their_shard_and_a_consumer_reads_only_its_own(settings: Any) -> None:
    client = redis.Redis.from_url(settings.broker_url)
    producer = ControlChannel(client, settings)
    (mine,), (theirs,) = ids_in(3, 1), ids_in(5, 1)
    consumer = ControlChannel(client, settings, shards={0, 3})
    consumer.ensure_group()
    producer.publish({"type": "refresh", "execution": mine})
    producer.publish({"type": "refresh", "execution": theirs})
    producer.publish({"type": "deactivate", "launch_plan": "nightly"})  # no execution
    assert client.xlen(Keys(settings.key_prefix).control(3)) == 1
    assert client.xlen(Keys(settings.key_prefix).control(5)) == 1

    entries = consumer.read("c1", 100, 100)
    assert sorted(e.stream for e in entries) == [Keys(settings.key_prefix).control(0),
                                                 Keys(settings.key_prefix).control(3)]
    consumer.ack(entries)
    assert client.xlen(Keys(settings.key_prefix).control(3)) == 0
    assert consumer.read("c1", 100, None, pending=True) == []


def test_an_entry_on_the_wrong_stream_moves_to_its_shard(settings: Any) -> None:
    client = redis.Redis.from_url(settings.broker_url)
    (eid,) = ids_in(9, 1)
    zero = ControlChannel(client, settings, shards={0})
    nine = ControlChannel(client, settings, shards={9})
    zero.ensure_group()
    nine.ensure_group()
    fields = zero.fields({"type": "refresh", "execution": eid})
    client.xadd(Keys(settings.key_prefix).control(0), fields)  # as graft before shards did
    (entry,) = zero.read("c0", 10, 100)
    zero.forward([(entry, Keys(settings.key_prefix).control(9))])
    assert client.xpending(Keys(settings.key_prefix).control(0), GROUP)["pending"] == 0
    assert client.xlen(Keys(settings.key_prefix).control(0)) == 0
    (moved,) = nine.read("c9", 10, 100)
    assert moved.fields == fields


def test_a_new_owner_claims_what_the_last_one_read_and_left(settings: Any) -> None:
    client = redis.Redis.from_url(settings.broker_url)
    channel = ControlChannel(client, settings, shards={2})
    channel.ensure_group()
    for eid in ids_in(2, 3):
        channel.publish({"type": "refresh", "execution": eid})
    assert len(channel.read("old", 10, 100)) == 3  # read, never acknowledged
    assert channel.claim_all("new", min_idle_ms=60_000) == 0  # too fresh to be orphaned
    assert channel.claim_all("new") == 3
    assert len(channel.read("new", 10, None, pending=True)) == 3
    assert channel.read("old", 10, None, pending=True) == []


def test_a_read_of_fewer_entries_than_a_streams_minimum_takes_that_many(settings: Any) -> None:
    """After entries that carried many reports the loop asks for few (scheduler/loop.py,
    `read_count`): a busy shard then gives that many, not its usual minimum."""
    client = redis.Redis.from_url(settings.broker_url)
    channel = ControlChannel(client, settings)
    channel.ensure_group()
    (eid,) = ids_in(7, 1)
    for _ in range(100):
        channel.publish({"type": "refresh", "execution": eid})
    assert len(channel.read("c1", 5, None)) == 5
    assert len(channel.read("c1", 500, None)) == 64  # one stream's minimum share of 500


def test_acks_held_for_the_next_read_go_before_it(settings: Any) -> None:
    """The scheduler acknowledges a committed batch in the round trip of its next read: a
    read of pending entries then never returns that batch, and a stop flushes what is held."""
    client = redis.Redis.from_url(settings.broker_url)
    channel = ControlChannel(client, settings, shards={4})
    channel.ensure_group()
    key = Keys(settings.key_prefix).control(4)
    for eid in ids_in(4, 3):
        channel.publish({"type": "refresh", "execution": eid})
    first = channel.read("c1", 2, None)
    channel.ack_later(first)
    assert channel.acks_held == 2
    assert client.xpending(key, GROUP)["pending"] == 2  # not yet: no round trip of its own
    pending = channel.read("c1", 10, None, pending=True)
    assert pending == [] and channel.acks_held == 0  # acknowledged before that read
    assert client.xlen(key) == 1
    (last,) = channel.read("c1", 10, None)
    channel.ack_later([last])
    channel.flush_acks()
    assert client.xpending(key, GROUP)["pending"] == 0 and client.xlen(key) == 0


def test_acks_held_survive_a_read_that_failed(settings: Any) -> None:
    client = redis.Redis.from_url(settings.broker_url)
    channel = ControlChannel(client, settings, shards={6})
    channel.ensure_group()
    for eid in ids_in(6, 2):
        channel.publish({"type": "refresh", "execution": eid})
    entries = channel.read("c1", 10, None)
    broken = ControlChannel(redis.Redis(port=1, socket_connect_timeout=0.2), settings,
                            shards={6})
    broken.ack_later(entries)
    with pytest.raises(redis.ConnectionError):
        broken.read("c1", 10, None)
    assert broken.acks_held == 2  # kept for the next read, not lost
