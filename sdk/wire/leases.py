"""Attempt leases: how the scheduler learns that the worker holding an attempt is gone.

A worker takes a lease on every attempt it receives and renews it every `ttl / 3` seconds
for as long as it holds the attempt (waiting for a slot, then running it). The leases of a
prefix are one sorted set: member `[execution, node, attempt]` (JSON), score the time it
expires, in Redis's own clock (`TIME`), so no two machines' clocks are compared. A lease
whose time has passed belongs to a worker that stopped renewing it: killed, out of memory,
its machine lost, or cut off from Redis for longer than the TTL. The scheduler then fails
that attempt as SYSTEM (`WorkerLost`), supersedes it, and the engine releases a new one.

Two more keys per attempt keep a node from running twice for nothing:

- `claim`: set when a worker starts running the attempt (to its name), and set to `reported`
  in the same transaction that appends its report to the control stream; a second copy of
  the same message (the broker redelivered it, or the scheduler re-sent it after a restart)
  is dropped. An attempt that was claimed, not reported, and whose lease is gone was lost
  with its worker;
- `superseded`: set when the scheduler gave up on the attempt; a copy that arrives later
  (Redis restores unacknowledged messages after its visibility timeout) is dropped unrun.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from sdk.wire.keys import AttemptKey, Keys

REPORTED = "reported"

# KEYS[1] = leases zset; ARGV[1] = ttl in ms; ARGV[2] = how many of the members to create;
# ARGV[3..] = members. Extend each lease to now + ttl, never shortening one (GT), creating the
# first ARGV[2] of them where they are missing; the others only where they exist (the links
# of a chain, whose claim takes their lease).
_RENEW = """
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local create = tonumber(ARGV[2])
for i = 3, #ARGV do
    if i - 2 <= create then
        redis.call('ZADD', KEYS[1], 'GT', expires, ARGV[i])
    else
        redis.call('ZADD', KEYS[1], 'XX', 'GT', expires, ARGV[i])
    end
end
return expires
"""

# KEYS[1] = leases zset. Members whose expiry is before Redis's now, and now (ms).
_EXPIRED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {now, redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0,
                        tonumber(ARGV[1]))}
"""

# KEYS[1] = claim key, KEYS[2] = superseded key, KEYS[3] = leases zset;
# ARGV[1] = holder, ARGV[2] = claim ttl (s), ARGV[3] = lease ttl (ms), ARGV[4] = member.
_START = """
if redis.call('EXISTS', KEYS[2]) == 1 then
    return {'superseded', ''}
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
    return {'claimed', redis.call('GET', KEYS[1]) or ''}
end
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], 'GT', expires, ARGV[4])
return {'ok', ''}
"""

# KEYS[1] = control stream, KEYS[2] = claim key; ARGV[1] = the reported mark, ARGV[2..] = the
# entry's field, value pairs.
# Append the report and mark the claim reported, in one script (one command and one reply,
# where MULTI, XADD, SET, EXEC were four of each); a script runs atomically, as a
# transaction did.
_REPORT = """
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[2], ARGV[1], 'XX', 'KEEPTTL')
return id
"""

# Several attempts at once (the items of a chunk): KEYS = claim, superseded key pairs, then
# the leases zset last; ARGV[1] = holder, ARGV[2] = claim ttl (s), ARGV[3] = lease ttl (ms),
# ARGV[4..] = members. One reply per attempt, as _START's.
_START_MANY = """
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local zset = KEYS[#KEYS]
local out = {}
for i = 4, #ARGV do
    local claim, superseded = KEYS[2 * (i - 3) - 1], KEYS[2 * (i - 3)]
    if redis.call('EXISTS', superseded) == 1 then
        out[#out + 1] = {'superseded', ''}
    elseif not redis.call('SET', claim, ARGV[1], 'NX', 'EX', ARGV[2]) then
        out[#out + 1] = {'claimed', redis.call('GET', claim) or ''}
    else
        redis.call('ZADD', zset, 'GT', expires, ARGV[i])
        out[#out + 1] = {'ok', ''}
    end
end
return out
"""

# KEYS[1] = control stream, KEYS[2..] = claim keys; ARGV as _REPORT's. One entry reporting
# several attempts, their claims all marked reported with it.
_REPORT_MANY = """
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
for i = 2, #KEYS do
    redis.call('SET', KEYS[i], ARGV[1], 'XX', 'KEEPTTL')
end
return id
"""


# A report that claims the next link of a chain (`scheduler.continuation`): KEYS[1] = control
# stream, KEYS[2] = the claim key of the attempt reported, KEYS[3] = its superseded key,
# KEYS[4], KEYS[5] = the link's claim and superseded keys, KEYS[6] = leases zset; ARGV[1] =
# the reported mark, ARGV[2] = holder, ARGV[3] = claim ttl (s), ARGV[4] = lease ttl (ms),
# ARGV[5] = the link's member, ARGV[6] = the entry's field, ARGV[7] = the report naming the
# link, ARGV[8] = the report without it. The link is claimed (and its lease taken) unless
# either attempt was given up or the link was claimed before; the report appended says which.
# Returns 1 when it claimed the link. Run again (its reply was lost), it appends nothing and
# says whether the first run claimed it.
_REPORT_AND_CLAIM = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
    return redis.call('GET', KEYS[4]) == ARGV[2] and 1 or 0
end
local claimed = 0
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[5]) == 0
        and redis.call('SET', KEYS[4], ARGV[2], 'NX', 'EX', ARGV[3]) then
    claimed = 1
    local t = redis.call('TIME')
    local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        + tonumber(ARGV[4])
    redis.call('ZADD', KEYS[6], 'GT', expires, ARGV[5])
end
redis.call('XADD', KEYS[1], '*', ARGV[6], claimed == 1 and ARGV[7] or ARGV[8])
redis.call('SET', KEYS[2], ARGV[1], 'XX', 'KEEPTTL')
return claimed
"""


# KEYS[1] = leases zset, KEYS[2..] = claim keys; ARGV[1] = the reported mark, ARGV[2..] =
# members. Drop each lease whose attempt reported (or was never claimed): the leases of the
# links of a chain a worker held, one of which another worker may have claimed and still run.
_RELEASE_REPORTED = """
for i = 2, #KEYS do
    local claim = redis.call('GET', KEYS[i])
    if not claim or claim == ARGV[1] then
        redis.call('ZREM', KEYS[1], ARGV[i])
    end
end
return 1
"""


def member(key: AttemptKey) -> str:
    return json.dumps([key[0], key[1], key[2]], separators=(",", ":"))


def parse_member(raw: bytes | str) -> AttemptKey | None:
    try:
        eid, node, attempt = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if not (isinstance(eid, str) and isinstance(node, str) and isinstance(attempt, int)):
        return None
    return eid, node, attempt


class Leases:
    """The leases, claims and superseded marks of one key prefix."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: float,
                 claim_ttl_s: int = 7 * 24 * 3600):
        self.redis = client
        self.names = Keys(prefix)
        self.key = self.names.leases
        self.ttl_ms = int(ttl_s * 1000)
        self.claim_ttl_s = claim_ttl_s
        self._renew = client.register_script(_RENEW)
        self._expired = client.register_script(_EXPIRED)
        self._start = client.register_script(_START)
        self._report = client.register_script(_REPORT)
        self._start_many = client.register_script(_START_MANY)
        self._report_many = client.register_script(_REPORT_MANY)
        self._report_and_claim = client.register_script(_REPORT_AND_CLAIM)
        self._release_reported = client.register_script(_RELEASE_REPORTED)

    def _attempt_key(self, kind: str, key: AttemptKey) -> str:
        return self.names.attempt(kind, key[0], key[1], key[2])

    # ---- workers ---------------------------------------------------------------------------

    def renew(self, keys: list[AttemptKey], existing: list[AttemptKey] | None = None) -> None:
        """Take or extend the leases of `keys`, and extend those of `existing` where they are
        taken (one round trip)."""
        existing = existing or []
        if keys or existing:
            self._renew(keys=[self.key], args=[self.ttl_ms, len(keys),
                                               *(member(k) for k in [*keys, *existing])])

    def report(self, key: AttemptKey, stream: str, fields: dict[bytes, bytes]) -> None:
        """Append an attempt's report to the control stream and mark its claim reported, in
        one transaction: a claimed attempt without a report was lost, one with a report was
        not."""
        args: list[bytes | str] = [REPORTED]
        for name, value in fields.items():
            args += (name, value)
        self._report(keys=[stream, self._attempt_key("claim", key)], args=args)

    def report_many(self, keys: list[AttemptKey], stream: str,
                    fields: dict[bytes, bytes]) -> None:
        """`report` for several attempts whose outcomes one stream entry carries (a chunk's
        `reports` message): one round trip, one transaction."""
        args: list[bytes | str] = [REPORTED]
        for name, value in fields.items():
            args += (name, value)
        self._report_many(keys=[stream, *(self._attempt_key("claim", k) for k in keys)],
                          args=args)

    def report_and_claim(self, key: AttemptKey, link: AttemptKey, holder: str, stream: str,
                         claiming: dict[bytes, bytes], not_claiming: dict[bytes, bytes]
                         ) -> bool:
        """`report` the attempt `key` and, in the same transaction, claim `link` (the next
        link of its chain) for `holder` as `start` would, unless `key` or `link` was given up
        or `link` was claimed before. The report appended is `claiming` (the entry naming the
        link) when it claimed it, `not_claiming` otherwise; True when it claimed it."""
        (field, with_link), = claiming.items()
        (_, without_link), = not_claiming.items()
        return bool(self._report_and_claim(
            keys=[stream, self._attempt_key("claim", key), self._attempt_key("superseded", key),
                  self._attempt_key("claim", link), self._attempt_key("superseded", link),
                  self.key],
            args=[REPORTED, holder, self.claim_ttl_s, self.ttl_ms, member(link), field,
                  with_link, without_link]))

    def claims(self, keys: list[AttemptKey]) -> dict[AttemptKey, str | None]:
        """Who claimed each attempt (`REPORTED` once it reported), None for unclaimed ones."""
        if not keys:
            return {}
        values = self.redis.mget([self._attempt_key("claim", k) for k in keys])
        return {k: (_text(v) if v is not None else None) for k, v in zip(keys, values)}

    def superseded(self, keys: list[AttemptKey]) -> set[AttemptKey]:
        """Which of `keys` the scheduler gave up on (cancelled, or found lost)."""
        if not keys:
            return set()
        values = self.redis.mget([self._attempt_key("superseded", k) for k in keys])
        return {k for k, v in zip(keys, values) if v is not None}

    def release(self, keys: list[AttemptKey], if_reported: list[AttemptKey] | None = None
                ) -> None:
        """Drop leases: their attempts reported, or were dropped unrun; and those of
        `if_reported` whose attempts reported (or were never claimed)."""
        if keys:
            self.redis.zrem(self.key, *(member(k) for k in keys))
        if if_reported:
            self._release_reported(
                keys=[self.key, *(self._attempt_key("claim", k) for k in if_reported)],
                args=[REPORTED, *(member(k) for k in if_reported)])

    def start(self, key: AttemptKey, holder: str) -> tuple[str, str]:
        """Claim an attempt before running it: ("ok", ""), ("claimed", holder) when a copy of
        it started before, or ("superseded", "") when the scheduler gave up on it."""
        status, who = self._start(
            keys=[self._attempt_key("claim", key), self._attempt_key("superseded", key),
                  self.key],
            args=[holder, self.claim_ttl_s, self.ttl_ms, member(key)])
        return _text(status), _text(who)

    def start_many(self, keys: list[AttemptKey], holder: str) -> list[tuple[str, str]]:
        """`start` for several attempts in one round trip (the items of a chunk): one
        (status, holder) per attempt, in order."""
        if not keys:
            return []
        redis_keys = []
        for key in keys:
            redis_keys += (self._attempt_key("claim", key), self._attempt_key("superseded", key))
        replies = self._start_many(
            keys=[*redis_keys, self.key],
            args=[holder, self.claim_ttl_s, self.ttl_ms, *(member(k) for k in keys)])
        return [(_text(status), _text(who)) for status, who in replies]

    # ---- the scheduler ---------------------------------------------------------------------

    def expired(self, limit: int = 1000) -> list[AttemptKey]:
        """Attempts whose lease ran out (their holder stopped renewing it)."""
        _now, members = self._expired(keys=[self.key], args=[limit])
        found = []
        for raw in members:
            key = parse_member(raw)
            if key is None:
                self.redis.zrem(self.key, raw)
            else:
                found.append(key)
        return found

    def held(self) -> set[AttemptKey]:
        """Every attempt a worker holds a lease on, expired or not."""
        return {k for k in (parse_member(m) for m in self.redis.zrange(self.key, 0, -1)) if k}

    @property
    def given_up_channel(self) -> str:
        """The pub/sub channel that tells workers at once that attempts were given up (a
        worker that misses it learns on its next lease tick)."""
        return self.names.given_up

    def supersede(self, keys: list[AttemptKey]) -> None:
        """Give up on attempts: drop their leases, mark them so no copy ever runs, and tell
        the workers running them."""
        if not keys:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self.key, *(member(k) for k in keys))
            for key in keys:
                pipe.set(self._attempt_key("superseded", key), "1", ex=self.claim_ttl_s)
            pipe.publish(self.given_up_channel, str(len(keys)))
            pipe.execute()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
