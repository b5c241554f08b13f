"""The dead-letter list: every message graft refuses, with the queue it came from and why.

A refused message never stops a process and is never silently dropped: it is logged in one
line and kept here, newest first, for an operator to read and purge (`graft dead`). The list
is capped at `MAX_DEAD` entries; each keeps the first `MAX_BODY_BYTES` of the message.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import redis

from sdk.wire.keys import Keys

log = logging.getLogger("graft.dead")

MAX_DEAD = 10_000
MAX_BODY_BYTES = 64 * 1024


def dead_key(prefix: str) -> str:
    return Keys(prefix).dead


def _body_text(raw: Any) -> dict[str, str]:
    if isinstance(raw, (dict, list)):
        raw = json.dumps(raw, default=repr)
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="replace")
    if not isinstance(raw, bytes):
        raw = repr(raw).encode()
    clipped = raw[:MAX_BODY_BYTES]
    try:
        return {"body": clipped.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(clipped).decode()}


class DeadLetters:
    """Dead letters of one key prefix, in Redis."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.redis = client
        self.key = dead_key(prefix)

    def add(self, queue: str, reason: str, raw: Any) -> None:
        """Keep a refused message and log one line naming the queue and the reason. A Redis
        failure here is logged, never raised: refusing must not stop the caller."""
        log.warning("refused a message on %s: %s", queue, reason)
        entry = {"at": time.time(), "queue": queue, "reason": reason, **_body_text(raw)}
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                pipe.lpush(self.key, json.dumps(entry))
                pipe.ltrim(self.key, 0, MAX_DEAD - 1)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not keep the refused message in %s: %s", self.key, exc)

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest `limit` dead letters."""
        out = []
        for raw in self.redis.lrange(self.key, 0, max(0, limit - 1)):
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"queue": "?", "reason": "unreadable dead letter",
                            **_body_text(raw)})
        return out

    def count(self) -> int:
        return int(self.redis.llen(self.key))

    def purge(self, limit: int | None = None) -> int:
        """Delete the newest `limit` dead letters (every one when None), exactly those a
        `list(limit)` just before returned, not ones added since; return how many went."""
        if limit is None:
            with self.redis.pipeline() as pipe:
                pipe.llen(self.key)
                pipe.delete(self.key)
                count, _ = pipe.execute()
            return int(count)
        newest = self.redis.lrange(self.key, 0, max(0, limit - 1))
        with self.redis.pipeline() as pipe:
            for raw in newest:
                pipe.lrem(self.key, 1, raw)
            return sum(int(n) for n in pipe.execute())
