"""Serialized cache runs on the session's Redis: the lock's name, and the name graft gave it
before `sdk.wire.keys` (`<prefix>cache-lock:<key>`, no separator), held and honoured too so
that workers of both versions wait for each other during an upgrade."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import redis

from sdk.wire.cache_lock import CacheLocks

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def where(redis_server: Any) -> Any:
    url = redis_server.url + "/10"
    prefix = f"graftlock-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    yield url, prefix, client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def lock_names(client: redis.Redis, prefix: str) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(f"{prefix}*cache-lock:*"))


def test_a_run_holds_the_lock_under_its_name_and_the_legacy_one(where: Any) -> None:
    url, prefix, client = where
    locks = CacheLocks(url, prefix)
    held: list[list[str]] = []

    def run() -> int:
        held.append(lock_names(client, prefix))
        return 42

    assert locks.run_once("k1", lambda: None, run, holder="w1") == (42, False)
    assert held == [[f"{prefix}:cache-lock:k1", f"{prefix}cache-lock:k1"]]
    assert lock_names(client, prefix) == []  # both released


def test_a_run_of_the_previous_version_holds_this_one_back(where: Any) -> None:
    url, prefix, client = where
    locks = CacheLocks(url, prefix, poll_s=0.05)
    client.set(f"{prefix}cache-lock:k2", "old-worker", px=30_000)  # as graft before did
    cache: dict[str, int] = {}
    ran: list[bool] = []
    result: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: result.update(
        got=locks.run_once("k2", lambda: cache.get("k2"), lambda: ran.append(True) or 1)))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive() and not ran  # waits for the old worker's run
    assert locks.holder("k2") == "old-worker"
    cache["k2"] = 7  # the old worker's result lands, then it lets go
    client.delete(f"{prefix}cache-lock:k2")
    waiter.join(10)
    assert result["got"] == (7, True) and not ran
