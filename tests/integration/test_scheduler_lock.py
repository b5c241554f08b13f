"""`SchedulerLock` on a private Redis: one scheduler serves at a time, a standby takes over,
and a restart on the same host takes a dead holder's lock at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import pytest
import redis

from scheduler.lock import SchedulerLock, holder_gone, holder_id

TTL_S = 0.9  # renewed every 0.3 s


class Board:
    """What the tests read the lock's key through."""

    def __init__(self, url: str):
        self.url = url
        self.redis = redis.Redis.from_url(url)
        self.prefix = f"graftlock-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def board(redis_server: Any) -> Any:
    board = Board(redis_server.url + "/10")
    yield board
    for key in board.redis.scan_iter(f"{board.prefix}:*"):
        board.redis.delete(key)


@pytest.fixture
def locks(board: Board) -> Any:
    """`make(owner)` -> a SchedulerLock on the board's key; all released at the end."""
    made: list[SchedulerLock] = []

    def make(owner: str, ttl_s: float = TTL_S) -> SchedulerLock:
        lock = SchedulerLock(board.url, board.prefix, owner, ttl_s=ttl_s)
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


def test_a_dead_holder_on_this_host_is_proven_gone():
    assert not holder_gone(holder_id())  # this process
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host, _, _ = holder_id().partition(":")
    assert holder_gone(f"{host}:{dead}:123")
    # a later process that reuses the pid is not the holder
    me = holder_id().split(":")
    assert holder_gone(f"{me[0]}:{me[1]}:{int(me[2]) + 1}")
    assert not holder_gone(f"another-host:{dead}:123")  # cannot be proven from here


def test_a_restart_takes_a_dead_holders_lock_at_once(board, locks):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = holder_id().partition(":")[0]
    key = f"{board.prefix}:scheduler:lock"
    board.redis.set(key, f"{host}:{dead}:1", px=60_000)  # a holder SIGKILLed a moment ago
    lock = locks(holder_id(), ttl_s=5.0)
    started = time.monotonic()
    assert lock.acquire()
    assert time.monotonic() - started < 2.0
    assert board.redis.get(key).decode() == lock.owner
