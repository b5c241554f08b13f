"""Which node attempts are provably in flight: a message for them waits in a tier queue, a
worker took one recently, or a worker holds a lease on them.

The scheduler calls this after a restart, after Redis was emptied, and once a minute, and sends
again every attempt it calls queued that is not in flight. Copies are harmless (a worker drops
a copy of an attempt that started), so the probe errs towards sending again.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from sdk.model.config import Settings
from sdk.wire.keys import UNACKED, UNACKED_INDEX, AttemptKey, tier_queue
from sdk.wire.leases import Leases


def attempt_of(envelope: Any) -> AttemptKey | None:
    """The attempt a kombu message envelope (JSON text or dict) carries in its headers."""
    found = attempts_of(envelope)
    return found[0] if len(found) == 1 else None


def attempts_of(envelope: Any) -> list[AttemptKey]:
    """The attempts a kombu message envelope carries in its headers: one (`graft_attempt`),
    or the items of a chunk (`graft_attempts`)."""
    try:
        if isinstance(envelope, (bytes, str)):
            envelope = json.loads(envelope)
        headers = envelope["headers"]
        listed = headers["graft_attempts"] if "graft_attempts" in headers \
            else [headers["graft_attempt"]]
        found = []
        for eid, node, attempt in listed:
            if isinstance(eid, str) and isinstance(node, str) and isinstance(attempt, int):
                found.append((eid, node, attempt))
        return found
    except (ValueError, TypeError, KeyError):
        return []


def in_flight(client: redis.Redis, settings: Settings, leases: Leases,
              grace_s: float) -> set[AttemptKey]:
    """Attempts that have a lease, a message in a tier queue, or a message a worker took less
    than `grace_s` seconds ago (it takes a lease as soon as it receives one)."""
    found = set(leases.held())
    for tier in settings.tiers:
        for raw in client.lrange(tier_queue(tier), 0, -1):
            found.update(attempts_of(raw))
    recent = time.time() - grace_s
    delivered = {tag: score for tag, score in client.zrange(UNACKED_INDEX, 0, -1,
                                                              withscores=True)}
    for tag, raw in client.hgetall(UNACKED).items():
        if delivered.get(tag, 0.0) < recent:
            continue
        try:
            envelope = json.loads(raw)[0]
        except (ValueError, TypeError, IndexError, KeyError):
            continue
        found.update(attempts_of(envelope))
    return found
