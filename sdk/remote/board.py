"""The status board: a Redis view of executions that clients read without the database.

The scheduler writes an execution's status, counts, outputs and failures, and one record
per node, after each committed change; `Client` and `graft status` read them. The database
stays the source of truth; the board expires after `GRAFT_BOARD_TTL_S` (default 7 days).
"""

from __future__ import annotations

import json
import os
from typing import Any

import redis

from sdk.model.config import Settings
from sdk.model.errors import BrokerUnavailable, ConfigError
from sdk.remote.broker import redact


class Board:
    def __init__(self, settings: Settings):
        url = os.environ.get("GRAFT_BOARD_URL") or settings.broker_url
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"the status board needs Redis, but {redact(url)} is not a Redis "
                              "URL; set GRAFT_BOARD_URL to one")
        self.url = url
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)
        self.prefix = settings.key_prefix
        self.ttl_s = int(os.environ.get("GRAFT_BOARD_TTL_S") or 7 * 24 * 3600)

    def _key(self, execution_id: str) -> str:
        return f"{self.prefix}:ex:{execution_id}"

    def write(self, execution_id: str, fields: dict[str, Any],
              nodes: dict[str, dict[str, Any]] | None = None) -> None:
        """Set execution fields (JSON-encoded) and node records in one round trip."""
        key = self._key(execution_id)
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                if fields:
                    pipe.hset(key, mapping={k: json.dumps(v) for k, v in fields.items()})
                    pipe.expire(key, self.ttl_s)
                if nodes:
                    pipe.hset(key + ":nodes",
                              mapping={k: json.dumps(v) for k, v in nodes.items()})
                    pipe.expire(key + ":nodes", self.ttl_s)
                pipe.execute()
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"the status board at {redact(self.url)} does not answer: "
                                    f"{exc}") from exc

    def execution(self, execution_id: str) -> dict[str, Any] | None:
        try:
            raw = self.redis.hgetall(self._key(execution_id))
        except redis.RedisError as exc:
            raise BrokerUnavailable(f"the status board at {redact(self.url)} does not answer: "
                                    f"{exc}") from exc
        if not raw:
            return None
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def nodes(self, execution_id: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(self._key(execution_id) + ":nodes")
        return {k.decode(): json.loads(v) for k, v in raw.items()}
