"""The control channel: submissions and reports travel to the schedulers on Redis streams.

Executions fall into `SHARDS` shards by their id, and each shard has a stream of its own.
Clients and workers append (`XADD`) one entry per message to the stream of its execution's
shard (messages about no execution, such as launch plans, to shard 0's), its JSON in field
`m`. A scheduler reads the streams of the shards it holds (`scheduler/shards.py`) through
one consumer group (`XREADGROUP`), applies a batch in one database transaction,
and only after it commits acknowledge and delete the entries (`XACK`, `XDEL`). An entry a
scheduler read but did not acknowledge stays pending in the group: a scheduler that starts
after another died claims all of them (`XAUTOCLAIM`) and reads them again, so a kill at any
instant loses nothing and applies nothing twice (applying is idempotent).

kombu's Redis transport, which graft used before, pops a message before it records it as
unacknowledged; a scheduler killed in between lost it. A stream entry is never popped.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from sdk.model.config import Settings
from sdk.wire.keys import GROUP, Keys
from sdk.wire.signing import sign

FIELD = b"m"
# Part of the contract between clients, workers and schedulers: all must agree on it, and the
# database has one lease row per shard (migration 0006).
SHARDS = 16
ALL_SHARDS = frozenset(range(SHARDS))
MIN_PER_STREAM = 64


def shard_of(execution_id: str) -> int:
    """The shard of an execution: its scheduler is the one holding this shard's lease."""
    return zlib.crc32(execution_id.encode()) % SHARDS


def shard_of_message(body: Any) -> int:
    """The shard whose stream carries `body`: its execution's, or 0 when it names none."""
    eid = body.get("execution") if isinstance(body, dict) else None
    return shard_of(eid) if isinstance(eid, str) else 0


def control_key(settings: Settings) -> str:
    """Shard 0's stream."""
    return Keys(settings.key_prefix).control(0)


def control_keys(settings: Settings) -> list[str]:
    """Every shard's stream."""
    keys = Keys(settings.key_prefix)
    return [keys.control(shard) for shard in range(SHARDS)]


@dataclass(frozen=True)
class Entry:
    """One stream entry as read: its stream, id and raw fields (not yet decoded or
    trusted)."""

    id: bytes
    fields: dict[bytes, bytes]
    stream: str = ""

    def body(self) -> bytes | None:
        """The message bytes, or None when the entry does not have the one field graft
        writes."""
        if set(self.fields) != {FIELD}:
            return None
        return self.fields[FIELD]


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=True).encode()


class ControlChannel:
    """The control streams of one key prefix. Producers write to any; a consumer reads the
    streams of `shards` (all of them until told otherwise)."""

    def __init__(self, client: redis.Redis, settings: Settings,
                 shards: Collection[int] = ALL_SHARDS):
        self.redis = client
        self.settings = settings
        self.names = Keys(settings.key_prefix)
        self.shards = frozenset(shards)
        self._acks: list[Entry] = []  # committed, acknowledged with the next read

    def serve(self, shards: Collection[int]) -> None:
        """Read the streams of `shards` from now on."""
        self.shards = frozenset(shards)

    @property
    def keys(self) -> list[str]:
        """The streams this consumer reads."""
        return [self.names.control(s) for s in sorted(self.shards)]

    def key_for(self, body: dict[str, Any]) -> str:
        """The stream `body` goes to."""
        return self.names.control(shard_of_message(body))

    # ---- producers (clients, workers) ------------------------------------------------------

    def publish(self, body: dict[str, Any]) -> str:
        """Append one message (signed when GRAFT_SECRET is set) to its shard's stream; return
        its entry id."""
        entry_id = self.redis.xadd(self.key_for(body), self.fields(body))
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def forward(self, entries: Iterable[tuple[Entry, str]]) -> None:
        """Move entries to the streams named with them (as read, signature and all), and
        acknowledge them where they were: one transaction."""
        with self.redis.pipeline(transaction=True) as pipe:
            for entry, key in entries:
                pipe.xadd(key, entry.fields)
                pipe.xack(entry.stream, GROUP, entry.id)
                pipe.xdel(entry.stream, entry.id)
            pipe.execute()

    def fields(self, body: dict[str, Any]) -> dict[bytes, bytes]:
        """The stream entry of a message (signed when GRAFT_SECRET is set)."""
        return {FIELD: encode(sign(body, self.settings.secret))}

    # ---- the consumer (the scheduler) ------------------------------------------------------

    def ensure_group(self) -> bool:
        """Create the streams and their consumer group where they are missing (Redis was
        emptied, or this is a new installation). True when it had to create any."""
        created = False
        for key in self.keys:
            created = self._ensure_group(key) or created
        return created

    def _ensure_group(self, key: str) -> bool:
        try:
            self.redis.xgroup_create(key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            if "WRONGTYPE" in str(exc):
                # Written by someone else: set it aside (kept for inspection) and go on.
                self.redis.rename(key, f"{key}:not-a-stream")
                self.redis.xgroup_create(key, GROUP, id="0", mkstream=True)
                return True
            raise
        return True

    def claim_all(self, consumer: str, min_idle_ms: int = 0) -> int:
        """Take over the pending entries of the group idle for `min_idle_ms` or more (those a
        dead scheduler, or one that held these shards before, read but did not acknowledge);
        return how many. One owner at a time holds a shard, so none is being applied."""
        claimed = 0
        for key in self.keys:
            start: Any = "0-0"
            while True:
                try:
                    reply = self.redis.xautoclaim(key, GROUP, consumer,
                                                  min_idle_time=min_idle_ms, start_id=start,
                                                  count=1000)
                except redis.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    self._ensure_group(key)
                    break
                start, claimed_now = reply[0], reply[1]
                claimed += len(claimed_now)
                if start in (b"0-0", "0-0"):
                    break
        return claimed

    def read(self, consumer: str, count: int, block_ms: int | None,
             pending: bool = False) -> list[Entry]:
        """About `count` entries of this consumer's streams: new ones (waiting up to
        `block_ms`), or with `pending` the ones this consumer holds unacknowledged. Redis
        counts per stream: each gives up to `count / streams`, but at least `MIN_PER_STREAM`
        (or `count`, when less), so one busy shard still fills a batch. The entries given to
        `ack_later` are acknowledged first, in the same round trip."""
        keys = self.keys
        if not keys:
            return []
        per_stream = max(min(count, MIN_PER_STREAM), -(-count // len(keys)))
        acks, self._acks = self._acks, []
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                self._queue_acks(pipe, acks)
                pipe.xreadgroup(GROUP, consumer, {key: "0" if pending else ">" for key in keys},
                                count=per_stream, block=None if pending else block_ms)
                reply = pipe.execute()[-1]
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()  # Redis lost a stream: what it held is recovered elsewhere
            return []
        except BaseException:
            self._acks = acks + self._acks  # not known to be acknowledged: again next time
            raise
        entries: list[Entry] = []
        for stream, items in reply or []:
            key = stream.decode() if isinstance(stream, bytes) else str(stream)
            for entry_id, fields in items:
                if fields is None:  # pending entry deleted meanwhile
                    self.redis.xack(key, GROUP, entry_id)
                    continue
                entries.append(Entry(entry_id, dict(fields), key))
        return entries

    def ack_later(self, entries: list[Entry]) -> None:
        """Acknowledge and delete entries whose effects are committed, with the next `read`
        (a round trip less per batch; an entry read again after a crash meanwhile is applied
        again, as one read before a crash between commit and `ack` always was)."""
        self._acks.extend(entries)

    @property
    def acks_held(self) -> int:
        """How many committed entries wait for the next read to be acknowledged."""
        return len(self._acks)

    def flush_acks(self) -> None:
        """Acknowledge now what `ack_later` holds."""
        acks, self._acks = self._acks, []
        try:
            self.ack(acks)
        except BaseException:
            self._acks = acks + self._acks
            raise

    def ack(self, entries: list[Entry]) -> None:
        """Acknowledge and delete entries whose effects are committed."""
        if not entries:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            self._queue_acks(pipe, entries)
            pipe.execute()

    @staticmethod
    def _queue_acks(pipe: Any, entries: list[Entry]) -> None:
        by_stream: dict[str, list[bytes]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
        for key, ids in by_stream.items():
            pipe.xack(key, GROUP, *ids)
            pipe.xdel(key, *ids)
