"""`SchedulerLock` on a real Redis (database 10): one scheduler serves at a time.

Needs Redis at GRAFT_IT_REDIS (default redis://127.0.0.1:6379); without it the tests are
skipped, or fail under CI=true. Each test uses its own key prefix and deletes its keys.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

import pytest
import redis

from scheduler.loop import Loop, SchedulerLock, SchedulerLockLost
from sdk.model.config import Settings
from sdk.remote.board import Board

REDIS_URL = os.environ.get("GRAFT_IT_REDIS", "redis://127.0.0.1:6379").rstrip("/") + "/10"
TTL_S = 0.9  # renewed every 0.3 s


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def board(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("GRAFT_BOARD_URL", raising=False)
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:
        _unavailable(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}): start it with "
                     f"`redis-server --daemonize yes` (or set GRAFT_IT_REDIS)")
    board = Board(Settings(broker_url=REDIS_URL, key_prefix=f"graftlock-{uuid.uuid4().hex[:8]}"))
    yield board
    for key in client.scan_iter(f"{board.prefix}:*"):
        client.delete(key)


@pytest.fixture
def locks(board: Board) -> Any:
    """`make(owner)` -> a SchedulerLock on the board's key; all released at the end."""
    made: list[SchedulerLock] = []

    def make(owner: str, ttl_s: float = TTL_S) -> SchedulerLock:
        lock = SchedulerLock(board, owner, ttl_s=ttl_s)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        lock.release()


def _wait_until(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_second_waits_while_first_holds_then_takes_over_on_release(board, locks):
    first, second = locks("first"), locks("second")
    first.acquire()
    got = threading.Event()
    waiter = threading.Thread(target=lambda: (second.acquire(), got.set()), daemon=True)
    waiter.start()
    assert not got.wait(0.8), "the second lock was taken while the first held it"
    assert board.redis.get(first.key) == b"first"
    first.release()
    assert got.wait(2.0), "the second lock was not taken after the first was released"
    waiter.join(1)
    assert board.redis.get(first.key) == b"second"
    assert not first.lost and not second.lost


def test_renewal_keeps_the_key_past_its_ttl(board, locks):
    lock = locks("me")
    lock.acquire()
    time.sleep(TTL_S * 2.2)
    assert board.redis.get(lock.key) == b"me"
    assert 0 < board.redis.pttl(lock.key) <= TTL_S * 1000
    assert not lock.lost
    lock.release()
    assert board.redis.get(lock.key) is None


def test_overwritten_key_is_detected_and_never_renewed_or_released(board, locks):
    lock = locks("me")
    lock.acquire()
    board.redis.set(lock.key, "intruder", px=int(TTL_S * 1000 * 5))
    assert _wait_until(lambda: lock.lost, lock.interval_s + 0.3), "loss not detected"
    assert "intruder" in lock.lost_reason
    time.sleep(lock.interval_s * 1.5)  # the renew thread has stopped: nothing overwrites
    assert board.redis.get(lock.key) == b"intruder"
    lock.release()
    assert board.redis.get(lock.key) == b"intruder"


def test_release_after_expiry_leaves_the_successor_alone(board, locks, monkeypatch):
    """The first lock's key vanished while the first could not reach Redis, and a second
    scheduler took it: the first finds out, and its release does not delete the second's key."""
    first, second = locks("first"), locks("second")
    first.acquire()
    real = first._renew_script

    def unreachable(**kwargs: Any) -> Any:
        raise redis.ConnectionError("partitioned")

    monkeypatch.setattr(first, "_renew_script", unreachable)  # it must not take the key back
    board.redis.delete(first.key)
    second.acquire()
    monkeypatch.setattr(first, "_renew_script", real)
    assert _wait_until(lambda: first.lost, first.interval_s + 0.3)
    first.release()
    assert board.redis.get(second.key) == b"second"
    time.sleep(TTL_S * 1.5)  # and the second keeps renewing it
    assert board.redis.get(second.key) == b"second"
    assert not second.lost


def test_transient_errors_retry_until_the_ttl_has_passed(board, locks, monkeypatch):
    lock = locks("me")
    lock.acquire()
    real = lock._renew_script
    failures = {"left": 1}

    def flaky(**kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise redis.ConnectionError("Redis blinked")
        return real(**kwargs)

    monkeypatch.setattr(lock, "_renew_script", flaky)
    time.sleep(lock.interval_s * 3.5)  # one failure, then renewals again
    assert failures["left"] == 0
    assert not lock.lost
    assert board.redis.get(lock.key) == b"me"

    failures["left"] = 10**6  # Redis away for good: lost once a whole TTL has passed
    assert _wait_until(lambda: lock.lost, TTL_S + lock.interval_s + 0.3)
    assert "could not be renewed" in lock.lost_reason


def test_loop_hands_the_batch_back_and_stops_when_the_lock_is_lost():
    class Message:
        def __init__(self) -> None:
            self.done = ""

        def ack(self) -> None:
            self.done = "ack"

        def requeue(self) -> None:
            self.done = "requeue"

    class Scheduler:
        handled = 0

        def handle(self, bodies: list[Any]) -> list[str]:
            self.handled += 1
            return []

    class Lock:
        lost = False
        lost_reason = "the lock is held by other:1"
        key = "k:scheduler:lock"

    loop = Loop.__new__(Loop)
    loop.scheduler, loop.lock = Scheduler(), Lock()
    pending = [({"n": i}, Message()) for i in range(3)]
    loop._handle(pending)
    assert [m.done for _, m in pending] == ["ack"] * 3 and loop.scheduler.handled == 1

    loop.lock.lost = True
    pending = [({"n": i}, Message()) for i in range(3)]
    with pytest.raises(SchedulerLockLost, match="another scheduler took over"):
        loop._handle(pending)
    assert [m.done for _, m in pending] == ["requeue"] * 3 and loop.scheduler.handled == 1
