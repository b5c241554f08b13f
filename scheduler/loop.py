"""`graft scheduler`: serve the control stream, keep attempts alive, survive Redis.

Each turn the loop reads a batch of control messages, has the `Scheduler` apply it in one
transaction, sends what became ready, and only then acknowledges the entries (in the round
trip of the next read); it also fails attempts whose lease ran out, sends delayed retries when
due, and once a minute sends again any attempt it cannot prove in flight. So that no turn
holds it long: a large graph is grafted a slice a turn, a read takes fewer entries after
entries that carried many reports (`read_count`), and nothing is sent while reports back up
in its streams (`scheduler/serving.py`); and while it holds large graphs, what each turn
leaves is frozen out of the garbage collector's full passes (scheduler/collector.py).

It never exits on a Redis, database or store failure: it logs one line when the broker (the
database, the store) is lost and one when it is back, and retries with backoff meanwhile. The
database is said to be back only once it answered a query (an idle turn does not use it).

On a SQL database several schedulers share the executions: each serves the shards it holds
leases on (scheduler/shards.py), reads only their streams, and passes on to its shard a
message that arrived on another's stream. When a lease is lost, or the scheduler should hold
another set of shards (one joined or died), it forgets what it held in memory and serves
again with the shards it then holds, rebuilt from the database. On a `memory://` state one
scheduler serves at a time, holding a lock in Redis (scheduler/lock.py).

When Redis comes back empty (restarted without persistence, or flushed) it recreates the
stream's group, rewrites the status board from the database, takes in submissions the stream
lost from the store, and sends again every attempt no worker claims within a lease's time.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import threading
import time
import uuid
from typing import Any

import redis

from scheduler.batch import CONTROL, Refusal
from scheduler.celery_dispatch import CeleryDispatcher
from scheduler.collector import GraphCollector
from scheduler.cron import Ticker
from scheduler.dispatch import Dispatcher
from scheduler.epoch import Change, Epoch
from scheduler.inflight import in_flight
from scheduler.lock import SchedulerLock
from scheduler.notify import Notifier, NotifyConfig
from scheduler.observer import Observer
from scheduler.retention.daily import DailyGc, GcSettings
from scheduler.service import Scheduler
from scheduler.serving import Depths, Shards
from scheduler.state import Fenced, MemoryState, StateStore
from sdk.model.config import Settings
from sdk.values.store import open_store
from sdk.wire.board import Board
from sdk.wire.connections import Outage, explain, redact, redis_client
from sdk.wire.control import ControlChannel, Entry, shard_of_message
from sdk.wire.dead import DeadLetters
from sdk.wire.keys import AttemptKey, Keys
from sdk.wire.launch_plans import LaunchPlanBoard
from sdk.wire.leases import REPORTED, Leases
from sdk.wire.notifiers import NotifierBoard
from sdk.wire.presence import SCHEDULER, Presence
from sdk.wire.sentinel import is_sentinel
from sdk.wire.signing import UNSET_WARNING, Unauthenticated, verify
from sdk.wire.submissions import Submissions

log = logging.getLogger("graft.scheduler")

BATCH_SIZE = 500
# About how many reports a batch applies: a worker's `reports` entry (a chunk's) carries up to
# 64, and 500 such entries held the loop for seconds. The next read takes fewer entries when
# the last ones carried many.
BATCH_REPORTS = 500
GC_YOUNG = 50_000
TIMER_S = 2.0  # lease scan and epoch check
RECONCILE_S = 60.0
# Entries pending this long are taken over from whoever read them: a scheduler that held
# their shard before and read them after this one started serving it.
ORPHANED_MS = 10_000
SUBGRAPH_POLL_S = 0.05  # how often the loop looks for loaded sub-graphs while one loads


def open_state(url: str) -> StateStore:
    """The state store `GRAFT_DATABASE_URL` names (`memory://` keeps it in this process)."""
    if url == "memory://":
        return MemoryState()
    from scheduler.state_sql import SqlState

    return SqlState(url)


class Loop:
    def __init__(self, settings: Settings, state: StateStore | None = None,
                 dispatcher: Dispatcher | None = None, metrics: Observer | None = None):
        self.settings = settings
        self.metrics = metrics or Observer()
        self.stopping = threading.Event()
        self.redis = redis_client(settings.broker_url, timeout_s=10.0)
        self.control = ControlChannel(self.redis, settings)
        self.leases = Leases(self.redis, settings.key_prefix, settings.lease_ttl_s)
        self.dead = DeadLetters(self.redis, settings.key_prefix)
        self.presence = Presence(self.redis, settings.key_prefix)  # clients see it serving
        self.store = open_store(settings.store_url, settings.store_options)
        self.submissions = Submissions(self.store)
        self.state = state or open_state(settings.database_url)
        self.outage = Outage(log)
        self.state_outage = Outage(logging.getLogger("graft.scheduler.database"), "database",
                                   "retrying")
        self.store_outage = Outage(logging.getLogger("graft.scheduler.store"), "value store",
                                   "retrying")
        self.lock: Any = self._ownership()
        self.tenure = Shards(self.lock)
        self.depths = Depths(self.redis, self.control)
        board = Board(settings)
        # Launch plan notifications: sent by mail and webhook on a thread of their own
        # (scheduler/notify.py); what the scheduler can send is published for clients.
        self.notifier = Notifier(NotifyConfig.from_env(secret=settings.secret))
        self.notifiers = NotifierBoard(board.redis, settings.key_prefix)
        self.scheduler = Scheduler(settings, self.state, dispatcher or CeleryDispatcher(settings),
                                   self.store, board, metrics=self.metrics, tenure=self.tenure,
                                   depths=self.depths, notifier=self.notifier)
        self.collector = GraphCollector(self._nodes_held)
        self.ticker = Ticker(self.scheduler, LaunchPlanBoard(board.redis, settings.key_prefix))
        self.consumer = f"{self.lock.owner}:{uuid.uuid4().hex[:6]}"
        self.retention = self._retention(board)
        self.epoch = Epoch(self.redis, Keys(settings.key_prefix).epoch,
                           follow_server=is_sentinel(settings.broker_url))
        self._retry_pending = True
        self._suspects: dict[Any, float] = {}
        self._judge_leases_after = 0.0
        self._read_count = BATCH_SIZE
        self._next_timer = 0.0
        self._reconcile_at = 0.0

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    def _nodes_held(self) -> int:
        """How many nodes the executions served keep in memory, told to the metrics too."""
        held = self.scheduler.nodes_held()
        self.metrics.nodes_held(held)
        return held

    def _ownership(self) -> Any:
        """Shard leases in the database when the state is SQL; else the Redis lock."""
        engine = getattr(self.state, "engine", None)
        if engine is None:
            return SchedulerLock(self.settings.broker_url, self.settings.key_prefix,
                                 outage=self.outage)
        from scheduler.shards import ShardLeases

        return ShardLeases(engine, self.state.url, ttl_s=self.settings.scheduler_lease_s,
                           outage=self.state_outage)

    def _retention(self, board: Board) -> DailyGc | None:
        """The periodic gc (`GRAFT_GC_OLDER_THAN`; scheduler/retention/daily.py), or None."""
        gc_settings = GcSettings.from_env()
        engine = getattr(self.state, "engine", None)
        if gc_settings.older_than_s is None:
            return None
        if engine is None:
            log.warning("GRAFT_GC_OLDER_THAN is set, but gc needs a SQL database: no gc runs")
            return None
        return DailyGc(gc_settings, self.redis, self.settings.key_prefix, engine, self.store,
                       board, self.metrics, self.lock.owner)

    def _serve(self, shards: frozenset[int]) -> None:
        """Read the streams of `shards`, and serve their executions only."""
        self.control.serve(shards)
        self.tenure.serve(shards)
        self.metrics.shards(len(shards))

    # ---- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT, standing by whenever another scheduler holds the lock."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if not self.settings.secret:
            log.warning("%s", UNSET_WARNING)
        log.info("notifications: %s", self.notifier.config.describe())
        while not self.stopping.is_set():
            if not self.lock.acquire(self.stopping):
                return
            self._serve(self.lock.shards)
            try:
                if self._until_up(self._start):
                    self.metrics.serving(True)
                    while not self.stopping.is_set() and self._until_up(self._turn):
                        pass
                if not self.lock.lost:
                    self._write_boards()
                    self._mark_notified()
                self._flush_acks()
            finally:
                self.metrics.serving(False)
                self.lock.release(final=self.stopping.is_set())
            if not self.stopping.is_set():
                self.scheduler.forget()
                self.collector.release()
                self._retry_pending = True
                self.epoch.forget()

    def _flush_acks(self) -> None:
        """Acknowledge the committed entries still held for the next read (best effort: an
        entry left unacknowledged is applied again by the next owner, and refused as stale)."""
        try:
            self.control.flush_acks()
        except (redis.RedisError, OSError) as exc:
            log.warning("%d applied control entries not acknowledged before stopping: %s",
                        self.control.acks_held, exc)

    def _mark_notified(self) -> None:
        """Mark the notifications sent since the last turn, before stopping serving (best
        effort: one left unmarked is sent again by the next scheduler)."""
        try:
            self.scheduler.mark_notified()
        except Exception as exc:
            log.warning("notifications sent but not marked sent before stopping (they will "
                        "be sent again): %s", exc)

    def _write_boards(self) -> None:
        """Write the board records still waiting, before stopping serving (best effort: the
        next scheduler rewrites them from the state anyway)."""
        try:
            self.scheduler.boards.write_now()
        except Exception as exc:
            log.warning("status board records not written before stopping: %s", exc)

    def _until_up(self, step: Any) -> bool:
        """Run `step`; while the broker, the database or the value store is away, log once
        and retry with backoff. False when the lock was lost (serving must stop)."""
        delay = 0.5
        while not self.stopping.is_set():
            if self.lock.lost or self.lock.changed:
                return False
            try:
                step()
            except Fenced:
                return False
            except (redis.RedisError, OSError) as exc:
                self.outage.lost(explain(exc, self.settings.broker_url))
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception as exc:
                if self.state.is_transient(exc):
                    self.state_outage.lost(self.state.explain(exc))
                elif self.scheduler.is_transient(exc):
                    self.store_outage.lost(f"{type(exc).__name__}: {exc}")
                else:
                    raise
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.store_outage.back()
            if self.state_outage.down and self._database_answers():
                self.state_outage.back()
            if self.outage.down:
                self.outage.back()
                self._after_outage()
            return True
        return True

    def _database_answers(self) -> bool:
        """Whether the database answers now: a turn that succeeded may not have used it (an
        idle one), and only an answer proves it back."""
        try:
            self.state.ping()
        except Exception as exc:
            if not self.state.is_transient(exc):
                raise
            return False
        return True

    # ---- start and recovery ----------------------------------------------------------------

    def _start(self) -> None:
        self.control.ensure_group()
        self.notifiers.write(self.notifier.channels)
        self.epoch.check()
        self.metrics.started(self.redis, self.state)
        claimed = self.control.claim_all(self.consumer)
        self._drain_pending()
        taken = self._take_submissions()
        queued = self.scheduler.recover()
        settled = self.scheduler.settle_boards()
        self._judge_leases_after = time.monotonic() + self.settings.lease_ttl_s
        resent = self._reconcile(queued, grace_s=0.0)
        log.info("scheduler serving %s (database %s); %d unacknowledged messages taken over, "
                 "%d submissions taken from the store, %d queued attempts sent again, %d "
                 "status board records of ended executions rewritten",
                 redact(self.settings.broker_url), redact(self.state.url), claimed,
                 taken, resent, settled)

    def _after_outage(self) -> None:
        """Redis answers again: give workers a lease's time to renew before judging leases,
        and if Redis came back empty, rebuild what it held."""
        self._judge_leases_after = time.monotonic() + self.settings.lease_ttl_s
        self._retry_pending = True  # a read the outage cut short may have left entries pending
        self._recover_wiped(self.epoch.check())

    def _recover_wiped(self, change: Change) -> None:
        """Rebuild from the database what Redis lost (`change`: emptied, or failed over to a
        replica that may lack the last writes the master acknowledged)."""
        if change is Change.NONE:
            return
        what = ("Redis came back empty" if change is Change.EMPTIED else
                "Redis failed over to another server, which may lack the last writes")
        log.warning("%s: recreating the control stream, rewriting the "
                    "status board from the database, and sending again every attempt no "
                    "worker holds", what)
        self.control.ensure_group()
        self.notifiers.write(self.notifier.channels)
        taken = self._take_submissions()
        boards = self.scheduler.refresh_boards()
        # Workers that survived renew their leases within a lease's time; after that, every
        # queued attempt without a lease or a message is sent again.
        self._reconcile_at = time.monotonic() + self.settings.lease_ttl_s * 1.5
        log.info("after the %s: %d submissions taken from the store, %d board "
                 "records rewritten",
                 "empty restart" if change is Change.EMPTIED else "failover", taken, boards)

    def _take_submissions(self) -> int:
        """Apply submissions whose stream entry may be gone (the store keeps each until the
        scheduler has committed it)."""
        bodies = []
        for key, raw in self.submissions.pending():
            body = self._decode(raw, "store " + key)
            if body is None:
                self.submissions.remove(key)
            elif shard_of_message(body) in self.control.shards:
                bodies.append(body)
        if bodies:
            self._apply(bodies, [])
        return len(bodies)

    def _reconcile(self, candidates: list[Any] | None = None, grace_s: float | None = None
                   ) -> int:
        """Send again the queued attempts (all of the live executions', by default) that no
        lease, queue or recent delivery proves in flight."""
        self._reconcile_at = time.monotonic() + RECONCILE_S
        if candidates is None:
            candidates = self.scheduler.queued_attempts()
        if not candidates:
            return 0
        grace = self.settings.lease_ttl_s if grace_s is None else grace_s
        flying = in_flight(self.redis, self.settings, self.leases, grace)
        missing = [key for key in candidates if key not in flying]
        claims = self.leases.claims(missing)
        unsent = [key for key in missing if claims[key] is None]
        # Started, not reported, held by no one: lost with its worker, if it stays so for a
        # lease's time (a worker between receiving a copy and renewing may look like that).
        now = time.monotonic()
        suspects = {key for key in missing if claims[key] not in (None, REPORTED)}
        lost = [key for key in suspects
                if now - self._suspects.get(key, now) >= self.settings.lease_ttl_s]
        self._suspects = {key: self._suspects.get(key, now) for key in suspects}
        if suspects - set(lost):
            self._reconcile_at = min(self._reconcile_at,
                                     now + self.settings.lease_ttl_s * 1.5)
        if lost:
            fail_lost(self.leases, self.scheduler, lost, "started it, then neither reported "
                      "nor kept its lease: the worker is gone")
        sent = self.scheduler.resend(unsent)
        if sent:
            log.warning("sent again %d queued attempts that no worker holds and no queue "
                        "carries", sent)
        return sent

    def _lost(self, expired: list[AttemptKey]) -> None:
        fail_lost(self.leases, self.scheduler, expired, "stopped renewing its lease: the "
                  "worker was killed, ran out of memory, or lost its machine or its connection")

    # ---- each turn -------------------------------------------------------------------------

    def _turn(self) -> None:
        now = time.monotonic()
        if now >= self._next_timer:
            self._next_timer = now + TIMER_S
            self.metrics.sync_clock(self.redis)
            self.presence.beat(SCHEDULER, self.lock.owner)
            self._recover_wiped(self.epoch.check())
            if self.control.claim_all(self.consumer, ORPHANED_MS):
                self._retry_pending = True
            # Leases run out while Redis is away, renewed by no one: they are judged only a
            # lease's time after it is back (`_after_outage`), never in the turn that finds
            # it back.
            if now >= self._judge_leases_after and not self.outage.down:
                expired = [key for key in self.leases.expired()
                           if self.tenure.owns(key[0])]
                if expired:
                    self._lost(expired)
            if now >= self._reconcile_at:
                self._reconcile()
            if self.retention is not None:  # on a thread of its own when due
                self.retention.poll()
        self.scheduler.flush()
        if self.scheduler.grafting:  # a slice of each large graph, between batches
            self.scheduler.graft_more()
        if self.scheduler.gathering:  # a large output to the store, a slice a turn
            self.scheduler.gather_more()
        if 0 in self.control.shards:  # launch plan schedules (scheduler/cron.py)
            self.ticker.tick()
        timed_out = self.scheduler.expire()
        if timed_out.superseded:
            self.leases.supersede(timed_out.superseded)
        if self.scheduler.subgraphs.finished.is_set():
            self.scheduler.subgraphs.finished.clear()
            self._retry_pending = True  # the reports put off for their sub-graphs
        if self._retry_pending:
            self._drain_pending()
        block_s = min(TIMER_S, max(0.0, self._next_timer - time.monotonic()))
        due = self.scheduler.next_due_s()
        if due is not None:
            block_s = min(block_s, due)
        if 0 in self.control.shards:
            block_s = min(block_s, self.ticker.next_due_s())
        if self.scheduler.subgraphs.loading():
            block_s = min(block_s, SUBGRAPH_POLL_S)
        entries = self.control.read(self.consumer, self._read_count,
                                    max(1, int(block_s * 1000)))
        if entries:
            self._handle(entries)
        self.collector.after_turn()

    def _drain_pending(self) -> None:
        """Apply the entries this consumer holds unacknowledged (taken over from a dead
        scheduler, or handed back by a batch that failed)."""
        while True:
            entries = self.control.read(self.consumer, self._read_count, None, pending=True)
            if not entries:
                self._retry_pending = False
                return
            if self._handle(entries) == 0:
                # All put off until their sub-graphs are loaded: `Subgraphs.finished` brings
                # them back, rather than every turn reading them again.
                self._retry_pending = False
                return
            if self._retry_pending:
                return

    def _handle(self, entries: list[Entry]) -> int:
        """Apply a batch of entries; return how many were handled (the others, sub-graph
        reports still loading and what follows them in their execution, stay pending), or -1
        when the batch was rolled back (all stay pending and are read again)."""
        started = time.perf_counter()
        bodies, body_ids, refused, elsewhere = [], [], [], []
        for entry in entries:
            raw = entry.body()
            body = self._decode(raw, CONTROL) if raw is not None else None
            if raw is None:
                refused.append(Refusal(CONTROL, "a stream entry without graft's message "
                                       "field", {k.decode(errors="replace"): v.decode(
                                           errors="replace") for k, v in entry.fields.items()}))
            if body is not None and shard_of_message(body) not in self.control.shards:
                elsewhere.append((entry, self.control.names.control(shard_of_message(body))))
            elif body is not None:
                bodies.append(body)
                body_ids.append(entry.id)
        self._dead(refused)
        self._read_count = read_count(bodies)
        if bodies:
            self.depths.observe(reports_in(bodies), len(bodies))
        if elsewhere:  # put there by an older client, or before the shards moved
            self.control.forward(elsewhere)
            moved = {(f.stream, f.id) for f, _ in elsewhere}
            entries = [e for e in entries if (e.stream, e.id) not in moved]
        later = self.scheduler.subgraphs.start(bodies)
        put_off = {body_ids[i] for i in later}
        now = [b for i, b in enumerate(bodies) if i not in later]
        if not self._apply(now, [e for e in entries if e.id not in put_off]):
            self._retry_pending = True
            self.stopping.wait(1.0)
            return -1
        self.scheduler.subgraphs.discard(now)
        self.metrics.reports_applied([body_ids[i] for i, b in enumerate(bodies)
                                      if i not in later
                                      and b.get("type") in ("report", "reports")])
        self.metrics.batch_applied(len(entries) - len(put_off), time.perf_counter() - started)
        return len(entries) - len(put_off)

    def _apply(self, bodies: list[dict[str, Any]], entries: list[Entry]) -> bool:
        """Apply decoded messages; acknowledge their entries once committed. False when the
        batch was rolled back: the entries stay pending. The broker, the database or the
        store away raises (the entries stay pending too)."""
        try:
            batch = self.scheduler.handle(bodies)
        except (redis.RedisError, OSError, Fenced):
            raise
        except Exception as exc:
            if self.scheduler.is_transient(exc):
                # The database or the store is away: the entries stay pending, and `_until_up`
                # says so once and retries, rather than a line for each batch tried meanwhile.
                self._retry_pending = True
                raise
            log.error("batch of %d messages not applied (%s: %s); it will be retried",
                      len(bodies), type(exc).__name__, exc)
            return False
        self._dead(batch.refused)
        self.leases.supersede(batch.superseded)
        self.control.ack_later(entries)
        for body in bodies:
            if body.get("type") == "submit":
                self.submissions.remove_execution(body.get("execution", ""))
        return True

    def _decode(self, raw: bytes, queue: str) -> dict[str, Any] | None:
        """A message's JSON object, authenticated when GRAFT_SECRET is set; None (and a dead
        letter) for anything else."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self.dead.add(queue, "not JSON", raw)
            return None
        if not isinstance(body, dict):
            self.dead.add(queue, f"a control message is a JSON object, not a "
                                 f"{type(body).__name__}", raw)
            return None
        try:
            return verify(body, self.settings.secret, "control message")
        except Unauthenticated as exc:
            self.dead.add(queue, str(exc), raw)
            return None

    def _dead(self, refused: list[Refusal]) -> None:
        for r in refused:
            self.dead.add(r.queue, r.reason, r.body)


def reports_in(bodies: list[dict[str, Any]]) -> int:
    """How many reports these control messages carry (a chunk's `reports`: one per item;
    any other message counts as one)."""
    return sum(len(b["reports"]) if b.get("type") == "reports"
               and isinstance(b.get("reports"), list) else 1 for b in bodies)


def read_count(bodies: list[dict[str, Any]]) -> int:
    """How many entries the next read takes: `BATCH_SIZE`, or fewer, so that entries like
    these carry about `BATCH_REPORTS` reports."""
    if not bodies:
        return BATCH_SIZE
    return max(1, min(BATCH_SIZE, BATCH_REPORTS * len(bodies) // max(1, reports_in(bodies))))


def serve(settings: Settings | None = None, *, state: StateStore | None = None,
          metrics: Observer | None = None) -> None:
    """Run a scheduler in this process until it is stopped (`graft scheduler`), with the
    garbage collector tuned for it (scheduler/collector.py)."""
    # Python collects its youngest generation every 700 allocations by default; grafting a
    # 100,000-node sub-graph allocates millions of objects, and the collections it set off
    # were half of that batch's CPU time (1.44 s of it; 0.78 s with this threshold). With
    # the default thresholds, a 1,000,000-item map ran a full collection every 2 to 3 s, each
    # holding the loop 0.3 to 0.9 s.
    gc.set_threshold(GC_YOUNG, 20, 100)
    loop = Loop(settings or Settings.from_env(), state=state, metrics=metrics)
    # What was imported and built so far (modules, classes, connections) lives as long as
    # the process: no full collection needs to walk it again.
    gc.collect()
    gc.freeze()
    try:
        loop.run()
    finally:
        loop.notifier.close()


def fail_lost(leases: Leases, scheduler: Scheduler, keys: list[AttemptKey], why: str) -> None:
    """Fail as lost (`why`: what the worker holding each did) the attempts `keys`, but those
    that reported: each is given up first, so that a report racing with it either came before
    (its claim says reported: the report is applied as it comes, and the link of a chain it
    claimed runs on) or claims nothing (`Leases.report_and_claim`)."""
    leases.supersede(keys)
    claims = leases.claims(keys)
    lost = [key for key in keys if claims.get(key) != REPORTED]
    if lost:
        batch = scheduler.lost(lost, why)
        leases.supersede(batch.superseded)
