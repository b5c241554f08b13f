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

from sdk.model.config import Settings, queue_for_tier
from sdk.remote.leases import AttemptKey, Leases

# kombu's Redis transport keeps messages handed to a consumer, not yet acknowledged, here.
UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"


def attempt_of(envelope: Any) -> AttemptKey | None:
    """The attempt a kombu message envelope (JSON text or dict) carries in its headers."""
    try:
        if isinstance(envelope, (bytes, str)):
            envelope = json.loads(envelope)
        eid, node, attempt = envelope["headers"]["graft_attempt"]
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(eid, str) and isinstance(node, str) and isinstance(attempt, int):
        return eid, node, attempt
    return None


def in_flight(client: redis.Redis, settings: Settings, leases: Leases,
              grace_s: float) -> set[AttemptKey]:
    """Attempts that have a lease, a message in a tier queue, or a message a worker took less
    than `grace_s` seconds ago (it takes a lease as soon as it receives one)."""
    found = set(leases.held())
    for tier in settings.tiers:
        for raw in client.lrange(queue_for_tier(tier), 0, -1):
            key = attempt_of(raw)
            if key is not None:
                found.add(key)
    recent = time.time() - grace_s
    delivered = {tag: score for tag, score in client.zrange(UNACKED_INDEX_KEY, 0, -1,
                                                              withscores=True)}
    for tag, raw in client.hgetall(UNACKED_KEY).items():
        if delivered.get(tag, 0.0) < recent:
            continue
        try:
            envelope = json.loads(raw)[0]
        except (ValueError, TypeError, IndexError, KeyError):
            continue
        key = attempt_of(envelope)
        if key is not None:
            found.add(key)
    return found
