"""The scheduler's messages on the wire: `CeleryDispatcher` pushes a batch through one Redis
pipeline, and every message must be the one Celery's `send_task` would have published for the
same dispatch (what graft's worker, its transport's checks, Flower and the scheduler's in-flight
probe read). Each test reads the raw kombu envelopes off a throwaway redis-server."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import redis

from scheduler.celery_dispatch import CeleryDispatcher
from scheduler.dispatch import Dispatch
from scheduler.inflight import attempt_of
from sdk.model.config import Settings
from sdk.model.errors import BrokerUnavailable
from worker.transport import envelope_problem

pytestmark = pytest.mark.integration

# Unique to each message; everything else must be equal.
PER_MESSAGE = {"headers": ("id", "root_id"), "properties": ("correlation_id", "delivery_tag")}


def _dispatch(i: int, queue: str = "mem-256Mi") -> Dispatch:
    return Dispatch(queue, "pkg.tasks.Prep.prep", "e" * 32, f"n{i}", 1,
                    {"spec": {"id": f"n{i}", "retries": 2}, "token": "t" * 40,
                     "inputs": {"s": {"val": {"v": "héllo"}}}, "sig": "abc"},
                    "{s: \"héllo\"}")


def _envelopes(client: redis.Redis, key: str) -> list[dict[str, Any]]:
    """The messages on list `key`, in the order workers take them (kombu pops the tail)."""
    return [json.loads(raw) for raw in reversed(client.lrange(key, 0, -1))]


def _without_ids(envelope: dict[str, Any]) -> dict[str, Any]:
    envelope = json.loads(json.dumps(envelope))
    task_id = envelope["headers"]["id"]
    assert envelope["headers"]["root_id"] == task_id
    assert envelope["properties"]["correlation_id"] == task_id
    for part, keys in PER_MESSAGE.items():
        for key in keys:
            envelope[part].pop(key)
    return envelope


@pytest.fixture
def broker(private_redis) -> tuple[Settings, redis.Redis]:
    server = private_redis()
    return Settings(broker_url=f"{server.url}/0"), redis.Redis.from_url(f"{server.url}/0")


def test_a_batch_goes_out_as_send_task_would_send_it(broker):
    settings, client = broker
    dispatcher = CeleryDispatcher(settings)
    batch = [_dispatch(1), _dispatch(2, "mem-1Gi")]
    dispatcher.send(batch)
    fast = {d.queue: _envelopes(client, d.queue) for d in batch}
    client.delete(*fast)
    with dispatcher.app.producer_or_acquire() as producer:
        for d in batch:
            dispatcher._send_task(producer, d)
    for d in batch:
        [new], [old] = fast[d.queue], _envelopes(client, d.queue)
        assert _without_ids(new) == _without_ids(old)
        assert list(new["properties"]) == list(old["properties"])
        assert list(new["headers"]) == list(old["headers"])

        # What consumers rely on, spelled out (a change to both would pass the comparison).
        headers, props = new["headers"], new["properties"]
        assert headers["task"] == "graft.run_node" and headers["shadow"] == d.task_name
        assert headers["lang"] == "py" and headers["timelimit"] == [None, None]
        assert headers["argsrepr"] == props["argsrepr"] == d.argsrepr
        assert headers["kwargsrepr"] == props["kwargsrepr"] == "{}"
        assert headers["ignore_result"] is None  # the worker applies task_ignore_result
        assert headers["graft_attempt"] == [d.execution_id, d.node_id, d.attempt]
        assert attempt_of(new) == (d.execution_id, d.node_id, d.attempt)
        assert new["content-type"] == "application/json"
        assert new["content-encoding"] == "utf-8"
        assert props["body_encoding"] == "base64"
        assert props["delivery_mode"] == 2 and props["priority"] == 0
        assert props["delivery_info"] == {"exchange": "", "routing_key": d.queue}
        assert props["reply_to"]
        body = json.loads(base64.b64decode(new["body"]))
        assert body == [d.args, {}, {"callbacks": None, "errbacks": None, "chain": None,
                                     "chord": None}]
        assert envelope_problem(new, lambda b, enc: base64.b64decode(b)) is None


def test_a_large_batch_arrives_whole_and_in_order(broker):
    settings, client = broker
    dispatcher = CeleryDispatcher(settings)
    with dispatcher.app.producer_or_acquire() as producer:
        # Otherwise kombu publishes one message at a time: correct, but the gain is lost.
        assert producer.channel.supports_batch_publish
    batch = [_dispatch(i) for i in range(2500)]  # more than kombu's 1,000 per pipeline
    dispatcher.send(batch)
    assert [e["headers"]["graft_attempt"][1] for e in _envelopes(client, "mem-256Mi")] == [
        d.node_id for d in batch]
    assert len({e["headers"]["id"] for e in _envelopes(client, "mem-256Mi")}) == len(batch)


def test_with_sent_events_on_each_node_announces_itself_by_its_task_name(broker, monkeypatch):
    settings, client = broker
    monkeypatch.setenv("GRAFT_TASK_SENT_EVENTS", "1")
    dispatcher = CeleryDispatcher(settings)
    events = client.pubsub(ignore_subscribe_messages=True)
    events.psubscribe("*celeryev*")
    d = _dispatch(1)
    dispatcher.send([d])
    [envelope] = _envelopes(client, d.queue)
    assert envelope["headers"]["shadow"] == d.task_name
    assert envelope["headers"]["graft_attempt"] == [d.execution_id, d.node_id, d.attempt]
    deadline = time.monotonic() + 5
    sent = None
    while sent is None and time.monotonic() < deadline:
        message = events.get_message(timeout=0.5)
        if message is not None:
            event = json.loads(base64.b64decode(json.loads(message["data"])["body"]))
            if event.get("type") == "task-sent":
                sent = event
    events.close()
    assert sent is not None, "no task-sent event was published"
    assert sent["name"] == d.task_name and sent["uuid"] == envelope["headers"]["id"]
    assert sent["queue"] == d.queue and sent["args"] == d.argsrepr


def test_a_batch_redis_refuses_raises_with_the_cause_and_the_next_one_goes_out(private_redis):
    """The dispatcher's connection does not retry (so that kombu may pipeline): a batch sent
    while Redis is away raises, for the outbox to send again, and the next one reconnects."""
    server = private_redis()
    settings = Settings(broker_url=f"{server.url}/0")
    dispatcher = CeleryDispatcher(settings)
    dispatcher.send([_dispatch(1)])
    server.stop()
    with pytest.raises(BrokerUnavailable, match=r"batch of 2 node messages.*(refused|Error)"):
        dispatcher.send([_dispatch(2), _dispatch(3)])
    server.start()  # empty: nothing was saved
    dispatcher.send([_dispatch(4)])
    client = redis.Redis.from_url(f"{server.url}/0")
    assert [e["headers"]["graft_attempt"][1] for e in _envelopes(client, "mem-256Mi")] == ["n4"]
