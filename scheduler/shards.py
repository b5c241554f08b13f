"""Several schedulers on one database: each holds some of the shards through leases in SQL.

An execution belongs to one of `SHARDS` shards (by its id, `sdk.wire.control.shard_of`),
and a shard to the scheduler whose token its row in `graft_shards` names. A token is unique
to one scheduler's one spell of serving. The lease on the shards a token holds lasts while
that token's row in `graft_schedulers` is fresh: a background thread renews it every
`ttl_s / 3`, in a transaction of its own that no batch of the scheduler holds up. Counting
the fresh rows, each scheduler knows how many share the shards and aims at an even part of
them (`SHARDS / n`, rounded up).

- **Taking a shard.** A shard is free when its row names no token, or a token whose row is
  missing or older than `ttl_s`, or one of a scheduler that ran on this machine and provably
  died. It is taken with one conditional UPDATE, which counts its fence up: two schedulers
  racing for it cannot both win.
- **Fencing.** Each of the scheduler's transactions first updates the rows it holds, on
  condition that they still name its token (`fence`). A scheduler that stalled past its
  lease while another adopted its shards finds fewer rows than it serves: its transaction is
  refused before it wrote anything, and it stops serving. On PostgreSQL that UPDATE also
  locks the rows until the commit, so an adoption waits for a batch in progress and never
  overlaps it (a scheduler stopped inside a batch is ended by the server after
  `scheduler.db.IDLE_IN_TRANSACTION_S`, which frees them). Safety rests on this check
  alone; a long batch does not cost the lease.
- **Balance.** When a scheduler joins, the others find that they hold more than their part
  and stop serving to give the excess back; when one dies, the others find free shards and
  take them (after `ttl_s`, at once for a holder that died on the same machine). Stopping
  serving rebuilds what the scheduler holds from the database.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Collection

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import SQLAlchemyError

from scheduler.db import SchedulerRow, ShardRow, explain
from scheduler.lock import holder_gone, holder_id
from scheduler.state import Fenced, StateTx
from sdk.wire.connections import Outage
from sdk.wire.control import SHARDS

log = logging.getLogger("graft.scheduler")

LEASE_TTL_S = 5.0
FORGET_AFTER_S = 3600.0
GIVE_BACK_TRIES = 5  # rows of schedulers not seen for this long are deleted


class ShardLeases:
    """The shards this scheduler holds, their leases and the fencing of its transactions.

    Used by the loop like a lock: `acquire` waits for at least one shard; `lost` turns true
    when another scheduler took one over, and `changed` when this one should hold another
    set (one joined or died); either way the loop stops serving, calls `release`, and
    acquires again.

    While the database does not answer, it tells `outage` (the loop's, which logs one line
    for the whole scheduler) and keeps trying. An acquisition that commits says the database
    is back; a renewal that succeeds says nothing (the loop says so once a turn of its own
    has had an answer).
    """

    def __init__(self, engine: SqlEngine, url: str = "", owner: str | None = None,
                 ttl_s: float = LEASE_TTL_S, shards: int = SHARDS,
                 outage: Outage | None = None):
        self.engine = engine
        self.url = url
        self.outage = outage or Outage(log, "database", "retrying")
        self.owner = owner or holder_id()
        self.ttl_s = ttl_s
        self.interval_s = ttl_s / 3
        self.count = shards
        self.token = ""
        self.shards: frozenset[int] = frozenset()
        self._lost = threading.Event()
        self._changed = threading.Event()
        self._reason = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the loop's side -------------------------------------------------------------------

    @property
    def lost(self) -> bool:
        """True once another scheduler took a shard of this one over."""
        return self._lost.is_set()

    @property
    def changed(self) -> bool:
        """True when this scheduler should hold another set of shards."""
        return self._changed.is_set()

    @property
    def lost_reason(self) -> str:
        return self._reason

    def acquire(self, stopping: threading.Event | None = None) -> bool:
        """Wait until this scheduler holds at least one shard, and start renewing. Shards it
        held before (kept by `release`) are held again under a new token. False when
        `stopping` was set first. Survives the database being away meanwhile."""
        old, self.token = self.token, f"{self.owner}/{uuid.uuid4().hex[:8]}"
        warned = False
        while stopping is None or not stopping.is_set():
            try:
                held = self._take(old)
            except SQLAlchemyError as exc:
                self.outage.lost(explain(exc, self.url))
                (stopping or threading.Event()).wait(min(1.0, self.interval_s))
                continue
            self.outage.back()  # it answered: `_take` committed
            if held:
                break
            if not warned:
                log.warning("every shard is held by another scheduler; standing by to take "
                            "some over")
                warned = True
            (stopping or threading.Event()).wait(min(1.0, self.interval_s))
        else:
            return False
        self.shards = held
        self._lost.clear()
        self._changed.clear()
        self._reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_forever, args=(self._stop,),
                                        name="graft-scheduler-leases", daemon=True)
        self._thread.start()
        log.info("holding %d of %d shards: %s", len(held), self.count,
                 ", ".join(map(str, sorted(held))))
        return True

    def release(self, final: bool = True) -> None:
        """Stop renewing. `final` (the scheduler stops) gives every shard back; otherwise
        only those above this scheduler's part (or all, when a lease was lost), and the
        next `acquire` holds the rest again."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
            self._thread = None
        for attempt in range(GIVE_BACK_TRIES):  # SQLite: a joining scheduler may hold the lock
            try:
                self._give_back(final)
                break
            except SQLAlchemyError as exc:
                if attempt + 1 == GIVE_BACK_TRIES:
                    log.warning("scheduler leases not given back (%s); they lapse within "
                                "%g s", type(exc).__name__, self.ttl_s)
                time.sleep(0.2)
        if final:
            self.token = ""
        self.shards = frozenset()

    def _give_back(self, final: bool) -> None:
        with self.engine.begin() as conn:
            give: Collection[int] = self.shards
            if not final and not self._lost.is_set():
                give = sorted(self.shards)[self._part(conn, _now(conn)):]
            if give:
                conn.execute(update(ShardRow).where(
                    ShardRow.owner == self.token, ShardRow.shard.in_(give)).values(owner=None))
            if final:
                conn.execute(delete(SchedulerRow).where(SchedulerRow.owner == self.token))

    def fence(self, tx: StateTx) -> None:
        """Refuse the transaction `tx` unless this scheduler still holds every shard it
        serves (and lock their rows until it ends)."""
        held = tx.hold_shards(self.token)
        if held != len(self.shards):
            self._lose(f"another scheduler took over {len(self.shards) - held} of its "
                       "shards")
            raise Fenced(f"scheduler {self.token} no longer holds all of shards "
                         f"{sorted(self.shards)}: the transaction is refused")

    # ---- leases ----------------------------------------------------------------------------

    def _take(self, old: str) -> frozenset[int]:
        """Hold again what `old` held, and take free shards up to this scheduler's part."""
        with self.engine.begin() as conn:
            now = _now(conn)
            self._seen(conn, now, 0)
            if old:
                conn.execute(update(ShardRow).where(ShardRow.owner == old).values(
                    owner=self.token, fence=ShardRow.fence + 1))
                conn.execute(delete(SchedulerRow).where(SchedulerRow.owner == old))
            alive = self._alive(conn, now)
            part = math.ceil(self.count / len(alive))
            held = set(conn.scalars(select(ShardRow.shard).where(
                ShardRow.owner == self.token)))
            free = self._free(conn, alive)
            random.shuffle(free)
            for shard, owner in free:
                if len(held) >= part:
                    break
                taken = conn.execute(update(ShardRow).where(
                    ShardRow.shard == shard,
                    ShardRow.owner.is_(None) if owner is None else ShardRow.owner == owner,
                ).values(owner=self.token, fence=ShardRow.fence + 1)).rowcount
                if taken:
                    held.add(shard)
                    if owner is not None:
                        log.warning("took over shard %d from %s", shard, owner)
            self._seen(conn, now, len(held))
        return frozenset(held)

    def _alive(self, conn: Connection, now: float) -> set[str]:
        """The tokens of the schedulers alive: renewed within a TTL, not provably dead."""
        tokens = conn.scalars(select(SchedulerRow.owner).where(
            SchedulerRow.seen_at > now - self.ttl_s))
        return {t for t in tokens if not holder_gone(t.split("/")[0])} | {self.token}

    def _free(self, conn: Connection, alive: set[str]) -> list[tuple[int, str | None]]:
        """Shards no live scheduler holds."""
        rows = conn.execute(select(ShardRow.shard, ShardRow.owner)
                            .order_by(ShardRow.shard)).all()
        return [(shard, owner) for shard, owner in rows
                if shard < self.count and owner not in alive]

    def _part(self, conn: Connection, now: float) -> int:
        """How many shards this scheduler should hold: an even part, rounded up."""
        return math.ceil(self.count / len(self._alive(conn, now)))

    def _seen(self, conn: Connection, now: float, held: int) -> None:
        """Say this scheduler is alive (and forget those long gone)."""
        if not conn.execute(update(SchedulerRow).where(
                SchedulerRow.owner == self.token).values(seen_at=now, shards=held)).rowcount:
            conn.execute(insert(SchedulerRow).values(owner=self.token, seen_at=now,
                                                     shards=held))
        conn.execute(delete(SchedulerRow).where(SchedulerRow.seen_at < now - FORGET_AFTER_S))

    def renew(self) -> bool:
        """Say this scheduler is alive, and look whether it still holds its shards and
        should hold another set; False when a shard was taken over (then it stays lost)."""
        if self.lost:
            return False
        try:
            with self.engine.begin() as conn:
                now = _now(conn)
                self._seen(conn, now, len(self.shards))
            with self.engine.connect() as conn:
                held = len(conn.scalars(select(ShardRow.shard).where(
                    ShardRow.owner == self.token)).all())
                alive = self._alive(conn, now)
                free = len(self._free(conn, alive))
        except SQLAlchemyError as exc:
            self.outage.lost(explain(exc, self.url))
            return True
        if held < len(self.shards):
            self._lose(f"another scheduler took over {len(self.shards) - held} of its shards")
            return False
        part = math.ceil(self.count / len(alive))
        if held > part or (free and held < part):
            log.info("holding %d shards where its part is %d (%d free): serving again with "
                     "its part", held, part, free)
            self._changed.set()
        return True

    def _renew_forever(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                if not self.renew():
                    return
            except Exception:  # never let the thread die silently while the loop serves
                log.exception("unexpected error renewing the scheduler leases")

    def _lose(self, reason: str) -> None:
        if self._lost.is_set():
            return
        self._reason = reason
        self._lost.set()
        log.error("scheduler leases lost: %s; this scheduler stops serving and serves again "
                  "with the shards it can hold", reason)


def _now(conn: Connection) -> float:
    """The database's clock in unix seconds (PostgreSQL), or this host's (SQLite, which
    serves one host): every scheduler judges liveness by the same clock, whatever the skew
    between their hosts."""
    if conn.dialect.name == "postgresql":
        return float(conn.execute(text("SELECT extract(epoch FROM clock_timestamp())"))
                     .scalar_one())
    return time.time()
