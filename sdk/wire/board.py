"""The status board: a Redis view of executions that clients read without the database.

The scheduler writes an execution's status, counts, outputs and failures, and one record
per node, after each committed change; `Client` and `graft status` read them. The database
stays the source of truth: when Redis loses the board, the scheduler rewrites it from the
database (at once after an empty restart, or when a client asks with a `refresh` message).
Records expire `GRAFT_BOARD_TTL_S` (default 7 days) after their last write, which for an
ended execution is its end. A sorted set indexes executions by submission time, for `graft
ls`; `graft gc` removes the records of the executions it prunes and the index entries of
records that expired (`forget`, `trim_index`).

With `GRAFT_SECRET` set, the scheduler signs the result of a finished execution (status,
outputs, failures, spec) and clients refuse a result whose signature does not match.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis

from sdk.model.config import Settings, with_sentinel_options
from sdk.model.errors import BrokerUnavailable, ConfigError
from sdk.wire.connections import REDIS_SCHEMES, explain, redact, redis_client
from sdk.wire.keys import Keys
from sdk.wire.results import FINAL, RESULT_FIELDS, result_mac
from sdk.wire.signing import Unauthenticated

# How long the scheduler's "no such execution" answer to a client's refresh stays readable.
UNKNOWN_TTL_S = 30


class Board:
    def __init__(self, settings: Settings):
        url = with_sentinel_options(os.environ.get("GRAFT_BOARD_URL") or settings.broker_url)
        if not url.startswith(REDIS_SCHEMES):
            raise ConfigError(f"the status board needs Redis, but {redact(url)} is not a Redis "
                              "URL; set GRAFT_BOARD_URL to one")
        self.url = url
        self.redis = redis_client(url, timeout_s=30)
        self.names = Keys(settings.key_prefix)
        self.secret = settings.secret
        self.ttl_s = int(os.environ.get("GRAFT_BOARD_TTL_S") or 7 * 24 * 3600)

    def _key(self, execution_id: str) -> str:
        return self.names.execution(execution_id)

    def _index(self) -> str:
        return self.names.executions

    def _unavailable(self, exc: BaseException) -> BrokerUnavailable:
        return BrokerUnavailable(f"the status board: {explain(exc, self.url)}")

    def write(self, execution_id: str, fields: dict[str, Any],
              nodes: dict[str, dict[str, Any]] | None = None) -> None:
        """Set execution fields (JSON-encoded) and node records in one round trip; a final
        status is signed with the other result fields when GRAFT_SECRET is set."""
        self.write_many({execution_id: (fields, nodes or {})})

    def write_many(self, records: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]]
                   ) -> None:
        """`write` for several executions (id -> (fields, node records)), in one round
        trip."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for execution_id, (fields, nodes) in records.items():
                    self._queue_write(pipe, execution_id, fields, nodes)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    def _queue_write(self, pipe: Any, execution_id: str, fields: dict[str, Any],
                     nodes: dict[str, dict[str, Any]]) -> None:
        key = self._key(execution_id)
        if fields.get("status") in FINAL:
            # A result is written whole, so that no field of an earlier write lingers in it.
            fields = {**{k: None for k in RESULT_FIELDS}, **fields}
            if self.secret:
                fields["sig"] = result_mac(self.secret, execution_id, fields)
        if fields:
            pipe.hset(key, mapping={k: json.dumps(v) for k, v in fields.items()})
            pipe.expire(key, self.ttl_s)
        if "workflow" in fields:  # a first write, or one rebuilt from the state
            pipe.zadd(self._index(), {execution_id: float(
                fields.get("submitted_at") or time.time())}, nx=True)
        if nodes:
            nodes_key = self.names.execution_nodes(execution_id)
            pipe.hset(nodes_key, mapping={k: json.dumps(v) for k, v in nodes.items()})
            pipe.expire(nodes_key, self.ttl_s)

    def execution(self, execution_id: str) -> dict[str, Any] | None:
        """The execution's record, or None when the board does not hold it. Unauthenticated
        when a secret is set and a final result is unsigned or its signature is wrong."""
        try:
            raw = self.redis.hgetall(self._key(execution_id))
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        if not raw:
            return None
        record = {k.decode(): json.loads(v) for k, v in raw.items()}
        if self.secret and record.get("status") in FINAL:
            sig = record.get("sig")
            if not isinstance(sig, str) or sig != result_mac(self.secret, execution_id, record):
                raise Unauthenticated(f"the status board's result for execution {execution_id} "
                                      f"is not signed with this GRAFT_SECRET (altered in "
                                      f"Redis, or written by another installation)")
        return record

    def executions(self, limit: int = 20, status: str | None = None
                   ) -> list[tuple[str, dict[str, Any]]]:
        """The newest `limit` executions the board holds (with `status` only, when given),
        newest first, as (id, record). Ids whose record expired leave the index."""
        found: list[tuple[str, dict[str, Any]]] = []
        start, chunk = 0, max(50, limit)
        try:
            while len(found) < limit:
                ids = [i.decode() for i in
                       self.redis.zrevrange(self._index(), start, start + chunk - 1)]
                if not ids:
                    break
                start += chunk
                with self.redis.pipeline(transaction=False) as pipe:
                    for eid in ids:
                        pipe.hgetall(self._key(eid))
                    raws = pipe.execute()
                gone = [eid for eid, raw in zip(ids, raws) if not raw]
                if gone:
                    self.redis.zrem(self._index(), *gone)
                    start -= len(gone)
                for eid, raw in zip(ids, raws):
                    if not raw:
                        continue
                    record = {k.decode(): json.loads(v) for k, v in raw.items()}
                    if status is None or record.get("status") == status:
                        found.append((eid, record))
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return found[:limit]

    def forget(self, execution_ids: list[str]) -> int:
        """Delete the records of executions (pruned from the database) and their index
        entries; how many keys and entries went."""
        if not execution_ids:
            return 0
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for eid in execution_ids:
                    pipe.delete(self._key(eid), self.names.execution_nodes(eid))
                pipe.zrem(self._index(), *execution_ids)
                return sum(int(n) for n in pipe.execute())
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    def trim_index(self, chunk: int = 1000) -> int:
        """Remove from the index the executions whose record expired; how many went."""
        removed, start = 0, 0
        try:
            while ids := self.redis.zrange(self._index(), start, start + chunk - 1):
                with self.redis.pipeline(transaction=False) as pipe:
                    for eid in ids:
                        pipe.exists(self._key(eid.decode()))
                    there = pipe.execute()
                gone = [eid for eid, n in zip(ids, there) if not n]
                if gone:
                    removed += int(self.redis.zrem(self._index(), *gone))
                start += len(ids) - len(gone)
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return removed

    def nodes(self, execution_id: str) -> dict[str, dict[str, Any]]:
        try:
            raw = self.redis.hgetall(self.names.execution_nodes(execution_id))
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def mark_unknown(self, execution_ids: list[str]) -> None:
        """Say, for `UNKNOWN_TTL_S` seconds, that the scheduler holds none of these ids (a
        client that asked for one stops waiting at once)."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for eid in execution_ids:
                    pipe.set(self.names.unknown(eid), b"1", ex=UNKNOWN_TTL_S)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    def is_unknown(self, execution_id: str) -> bool:
        """Whether the scheduler said lately that it holds no execution `execution_id`."""
        try:
            return bool(self.redis.exists(self.names.unknown(execution_id)))
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    def ids_starting(self, prefix: str, limit: int = 10) -> list[str]:
        """Up to `limit` ids of executions on the board that start with `prefix`."""
        pattern = "".join(f"[{c}]" if c in "*?[]\\^" else c for c in prefix) + "*"
        found: list[str] = []
        try:
            for member, _ in self.redis.zscan_iter(self._index(), match=pattern, count=500):
                found.append(member.decode())
                if len(found) >= limit:
                    break
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return found

    def field(self, execution_id: str, name: str) -> Any:
        """One field of an execution's record (None when absent), such as the answer to a
        signal (`signal:<request>`), without reading or checking the whole record."""
        try:
            raw = self.redis.hget(self._key(execution_id), name)
        except (redis.RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return None if raw is None else json.loads(raw)
