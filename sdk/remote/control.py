"""The control channel: submissions and reports travel to the scheduler on a Redis stream.

Clients and workers append (`XADD`) one entry per message, its JSON in field `m`. Schedulers
read through one consumer group (`XREADGROUP`), apply a batch in one database transaction,
and only after it commits acknowledge and delete the entries (`XACK`, `XDEL`). An entry a
scheduler read but did not acknowledge stays pending in the group: a scheduler that starts
after another died claims all of them (`XAUTOCLAIM`) and reads them again, so a kill at any
instant loses nothing and applies nothing twice (applying is idempotent).

kombu's Redis transport, which graft used before, pops a message before it records it as
unacknowledged; a scheduler killed in between lost it. A stream entry is never popped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from sdk.model.config import Settings
from sdk.remote.signing import sign

GROUP = "graft-schedulers"
FIELD = b"m"


def control_key(settings: Settings) -> str:
    return f"{settings.key_prefix}:control"


@dataclass(frozen=True)
class Entry:
    """One stream entry as read: its id and raw fields (not yet decoded or trusted)."""

    id: bytes
    fields: dict[bytes, bytes]

    def body(self) -> bytes | None:
        """The message bytes, or None when the entry does not have the one field graft
        writes."""
        if set(self.fields) != {FIELD}:
            return None
        return self.fields[FIELD]


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=True).encode()


class ControlChannel:
    """The control stream of one key prefix."""

    def __init__(self, client: redis.Redis, settings: Settings):
        self.redis = client
        self.settings = settings
        self.key = control_key(settings)

    # ---- producers (clients, workers) ------------------------------------------------------

    def publish(self, body: dict[str, Any]) -> str:
        """Append one message (signed when GRAFT_SECRET is set); return its entry id."""
        entry_id = self.redis.xadd(self.key, self.fields(body))
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def fields(self, body: dict[str, Any]) -> dict[bytes, bytes]:
        """The stream entry of a message (signed when GRAFT_SECRET is set)."""
        return {FIELD: encode(sign(body, self.settings.secret))}

    # ---- the consumer (the scheduler) ------------------------------------------------------

    def ensure_group(self) -> bool:
        """Create the stream and its consumer group if they are missing (Redis was emptied,
        or this is a new installation). True when it had to create them."""
        try:
            self.redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" in str(exc):
                return False
            if "WRONGTYPE" in str(exc):
                self._set_aside()
                self.redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
                return True
            raise
        return True

    def _set_aside(self) -> None:
        """The key holds something other than a stream (written by someone else): rename
        it aside so the channel can work, keeping it for inspection."""
        aside = f"{self.key}:not-a-stream"
        self.redis.rename(self.key, aside)

    def claim_all(self, consumer: str) -> int:
        """Take over every pending entry of the group (those a dead scheduler read but did not
        acknowledge); return how many. Only the lock holder consumes, so none is live."""
        claimed = 0
        start: Any = "0-0"
        while True:
            reply = self.redis.xautoclaim(self.key, GROUP, consumer, min_idle_time=0,
                                          start_id=start, count=1000)
            start, entries = reply[0], reply[1]
            claimed += len(entries)
            if start in (b"0-0", "0-0"):
                return claimed

    def read(self, consumer: str, count: int, block_ms: int | None,
             pending: bool = False) -> list[Entry]:
        """Up to `count` entries: new ones (waiting up to `block_ms`), or with `pending` the
        ones this consumer holds unacknowledged."""
        try:
            reply = self.redis.xreadgroup(GROUP, consumer, {self.key: "0" if pending else ">"},
                                          count=count, block=None if pending else block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()  # Redis lost the stream: what it held is recovered elsewhere
            return []
        entries: list[Entry] = []
        for _stream, items in reply or []:
            for entry_id, fields in items:
                if fields is None:  # pending entry deleted meanwhile
                    self.redis.xack(self.key, GROUP, entry_id)
                    continue
                entries.append(Entry(entry_id, dict(fields)))
        return entries

    def ack(self, ids: list[bytes]) -> None:
        """Acknowledge and delete entries whose effects are committed."""
        if not ids:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.key, GROUP, *ids)
            pipe.xdel(self.key, *ids)
            pipe.execute()
