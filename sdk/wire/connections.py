"""Redis connections, and one-line explanations of why one failed.

Every graft process talks to Redis (control stream, status board, leases, dead letters)
through clients made here, with short timeouts, so that an outage is noticed in seconds and
reported in one line naming the cause and the URL with its password hidden. A `sentinel://`
URL (sdk.wire.sentinel) gives a client of whichever server the sentinels name master.
"""

from __future__ import annotations

import logging
import re
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sdk.model.errors import BrokerUnavailable
from sdk.wire import sentinel


def redact(url: str) -> str:
    """The URL with any password hidden (a sentinel URL's `sentinel_password` too)."""
    url = re.sub(r"(sentinel_password=)[^&;]*", r"\1***", url)
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


REDIS_SCHEMES = ("redis://", "rediss://", "unix://", sentinel.SCHEME)


def redis_client(url: str, *, timeout_s: float = 10.0) -> redis.Redis:
    """A client for `url` (redis://, rediss://, unix://, or sentinel:// for the master its
    sentinels name) with bounded connect and read times, and no retries of its own: every
    caller has its own retry loop, and redis-py re-sending a timed-out XREADGROUP would leave
    entries pending that the caller never saw."""
    if sentinel.is_sentinel(url):
        return sentinel.master_client(url, socket_connect_timeout=min(timeout_s, 5.0),
                                      socket_timeout=timeout_s, health_check_interval=30,
                                      retry=Retry(NoBackoff(), 0))
    return redis.Redis.from_url(url, socket_connect_timeout=min(timeout_s, 5.0),
                                socket_timeout=timeout_s, health_check_interval=30,
                                retry=Retry(NoBackoff(), 0))


def explain(exc: BaseException, url: str) -> str:
    """Why talking to Redis at `url` failed, in one line an operator can act on."""
    if sentinel.is_sentinel(url):
        return sentinel.explain(exc, url)
    where = redact(url)
    text = str(exc)
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in text \
            or "invalid username-password" in text or "NOAUTH" in text:
        return (f"Redis at {where} refused the credentials ({text.strip()}); check the password "
                f"(and ACL user) in GRAFT_BROKER_URL")
    if "NOPERM" in text:
        return (f"Redis at {where} refused a command to this user ({text.strip()}); the ACL "
                f"user needs the commands and keys graft uses")
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        reason = text.strip() or "no reply"
        return (f"no Redis answers at {where} ({type(exc).__name__}: {reason}); start Redis "
                f"(`redis-server --daemonize yes`) or point GRAFT_BROKER_URL at a running one")
    return f"Redis at {where} failed: {type(exc).__name__}: {text.strip()}"


def check_redis(url: str, timeout_s: float = 3.0) -> None:
    """BrokerUnavailable with a one-line reason when Redis at `url` cannot be used."""
    if sentinel.is_sentinel(url):
        sentinel.check(url, timeout_s)
        return
    if not url.startswith(REDIS_SCHEMES):
        raise BrokerUnavailable(f"{redact(url)} is not a Redis URL; graft needs Redis "
                                f"(redis://, rediss:// or unix://) in GRAFT_BROKER_URL")
    client = redis_client(url, timeout_s=timeout_s)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise BrokerUnavailable(explain(exc, url)) from None
    finally:
        client.close()


class Outage:
    """One line when a server the process needs is lost and one when it is back, however many
    parts of the process notice (retry loops stay silent in between). `what` names it in
    those lines: "broker" (Redis), or "database" (the scheduler's state).

    Say `back` only once the server has answered a request: a retry loop that sent nothing
    (nothing to renew, an idle turn) has not seen it come back."""

    def __init__(self, logger: logging.Logger, what: str = "broker",
                 meanwhile: str = "reconnecting"):
        self.log = logger
        self.what = what
        self.meanwhile = meanwhile
        self.since: float | None = None
        self._lock = threading.Lock()

    def lost(self, reason: str) -> None:
        with self._lock:
            if self.since is not None:
                return
            self.since = time.monotonic()
        self.log.error("%s lost: %s; %s", self.what, reason, self.meanwhile)

    def back(self) -> None:
        with self._lock:
            if self.since is None:
                return
            took, self.since = time.monotonic() - self.since, None
        self.log.warning("%s is back after %.1f s", self.what, took)

    @property
    def down(self) -> bool:
        return self.since is not None
