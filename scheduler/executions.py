"""The live executions: the engines the scheduler holds in memory.

An execution's engine is built when it is submitted, and rebuilt from the state when a
message concerns one not in memory (after a restart, a takeover, or a batch that rolled back):
its events are replayed through a fresh engine, which then knows everything the state
recorded. One that cannot be rebuilt (its spec gone or altered) is failed, saying why.

An output list of more than `gather_above` items is gathered into the store a slice a turn
(`Engine.gathers`, scheduler/gathering.py): `gathering` notes the executions with one pending.

A large graph is held as its frontier: an engine inserts a graph of more than `graft_slice`
nodes a slice at a time, only while fewer than `window` of its nodes are active, and after
each committed batch drops from memory the nodes that succeeded and that no node held still
reads, reading their outputs back from their rows in the open transaction when a graph or a
map completes (`Engine`'s `spill`). Workflow timeouts are kept in a heap of deadlines; a
rebuilt execution's waiting gates are held again (`scheduler.gates`).
"""

from __future__ import annotations

import functools
import heapq
import logging
import pickle
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

from scheduler import snapshots
from scheduler.batch import CONTROL, Batch, Live, Refusal
from scheduler.board_view import BoardView
from scheduler.boards import BoardWriter
from scheduler.collector import collection_paused
from scheduler.gates import Gates
from scheduler.recorder import Recorder
from scheduler.snapshots import stored_graph
from scheduler.state import ExecutionRecord, NodeMark, StateTx
from scheduler.transactions import Transactions
from sdk.model.bindings import Binding
from sdk.model.engine import Engine
from sdk.model.errors import GraftError
from sdk.model.report import Report
from sdk.model.retry import RetryPolicy
from sdk.model.spec import GraphSpec
from sdk.model.states import TERMINAL_NODE_STATES, ExecutionState, NodeState
from sdk.model.store import Store
from sdk.values.store import get_verified, put_blob
from sdk.wire import reports

log = logging.getLogger("graft.scheduler")

# Nodes of a large graph inserted per execution and turn (`Engine`'s `graft_slice`): grafting
# a 100,000-node sub-graph at once held the loop, and every other execution, for over a second.
GRAFT_SLICE = 2_000
# Active nodes per execution past which no next slice is inserted: with nodes that succeeded
# and that nothing reads dropped from memory (`Engine.evict`), what a large graph holds is
# this window, not the graph.
GRAFT_WINDOW = 20_000
# A rebuild reads an execution's events and node rows this many at a time: what it holds of
# them is a page, not the history of a 1,000,000-node run.
EVENTS_PER_READ = 5_000
MARKS_PER_READ = 20_000
TERMINAL_STATE_NAMES = frozenset(state.value for state in TERMINAL_NODE_STATES)


class Executions:
    """The executions held in memory, by id."""

    def __init__(self, store: Store, policy: RetryPolicy, view: BoardView, recorder: Recorder,
                 boards: BoardWriter, transactions: Transactions, gates: Gates, *,
                 graft_slice: int | None = GRAFT_SLICE, window: int | None = GRAFT_WINDOW,
                 gather_above: int | None = None,
                 snapshot_events: int = snapshots.SNAPSHOT_EVENTS):
        self.store = store
        self.gates = gates
        self.policy = policy
        self.view = view
        self.recorder = recorder
        self.boards = boards
        self.transactions = transactions
        self.graft_slice = graft_slice
        self.window = window
        self.gather_above = gather_above
        self.snapshot_events = snapshot_events  # 0: no snapshots taken, none used
        self.live: dict[str, Live] = {}
        # Executions with a graph partly inserted: `Scheduler.graft_more` inserts a slice a
        # turn.
        self.grafting: set[str] = set()
        # Executions with a large output to gather: `Scheduler.gather_more` goes on with it.
        self.gathering: set[str] = set()
        self._deadlines: list[tuple[float, str]] = []  # (ends at, execution id)

    def get(self, eid: str) -> Live | None:
        return self.live.get(eid)

    def engine(self, eid: str, spec: GraphSpec, inputs: dict[str, Binding]) -> Engine:
        """A new engine for execution `eid`, holding a large graph a window at a time."""
        return Engine(spec, inputs, self.policy, graft_slice=self.graft_slice,
                      window=self.window, spill=functools.partial(self._spilled, eid),
                      gather_above=self.gather_above)

    def add(self, eid: str, live: Live, started_at: float) -> None:
        """Hold a new execution, and its workflow timeout."""
        self.live[eid] = live
        self._track_deadline(live, eid, started_at)

    def load(self, tx: StateTx, eid: str, batch: Batch, *, quiet: bool = False,
             body: Any = None) -> Live | None:
        """Execution `eid` in memory, rebuilt from the state if it is not; None when it has
        ended (late messages change nothing) or cannot be rebuilt (then it is failed), or is
        unknown (then a message about it is refused, naming `body`, unless `quiet`). A batch
        that rolls back forgets it again (`batch.seen`)."""
        live = self.live.get(eid)
        if live is None:
            live = self._rebuild(tx, eid, batch, quiet, body)
        if live is not None:
            batch.seen.add(eid)
        return live

    def _rebuild(self, tx: StateTx, eid: str, batch: Batch, quiet: bool,
                 body: Any) -> Live | None:
        record = tx.get_execution(eid)
        if record is None:
            if not quiet:
                batch.refused.append(Refusal(CONTROL, f"report for unknown execution {eid}",
                                             body if body is not None else {"execution": eid}))
            return None
        if record.status != ExecutionState.RUNNING.value:
            return None  # finished: late reports change nothing
        try:
            engine, replay = self._replayed(tx, eid, record)
        except GraftError as exc:
            if self.transactions.is_transient(exc):
                raise
            self._unbuildable(tx, eid, record, exc, batch)
            return None
        marks = self._marks(tx, eid, engine)
        engine.drain_changes()
        live = Live(
            engine, record.spec_key, replay.seq, set(marks),
            {nid for nid, r in engine.nodes.items() if r.state in TERMINAL_NODE_STATES},
            {m.node_id: m.token for m in marks.values() if m.token},
            {m.node_id: [m.started_at, m.ended_at] for m in marks.values()},
            cache_keys=replay.cache_keys, priority=record.priority, notify=record.notify,
            snapshot_key=record.snapshot_key, snapshot_seq=replay.first)
        self.add(eid, live, record.created_at)
        self._evict(eid, live)  # every node that succeeded has its row
        if engine.gathers:  # begun before the restart: gathered again from the first item
            self.gathering.add(eid)
        if engine.grafting:
            self.grafting.add(eid)
        untokened = [run for nid, run in engine.nodes.items()
                     if run.state == NodeState.QUEUED and nid not in live.tokens]
        for run in untokened:  # queued by a version of graft that issued no tokens
            live.tokens[run.id] = secrets.token_hex(8)
        tx.update_nodes([self.view.row(eid, run, live.tokens[run.id], live.times.get(run.id))
                         for run in untokened if run.id in live.known])
        # Queued nodes without a row were never sent: held when the execution was dropped
        # from memory, or not yet inserted then (a graft in slices). Ready them again.
        unsent = [run.id for run in untokened if run.id not in live.known]
        if unsent:
            self.recorder.changed(tx, eid, live, unsent, batch)
        # Queued nodes with a row were sent (or wait for a retry's turn): look for them in
        # flight again (`Sender.queued_attempts`).
        live.sent.update((nid, run.attempt) for nid, run in engine.nodes.items()
                         if run.state == NodeState.QUEUED and nid in live.known)
        # Waiting gates: their deadlines from when their rows say they started waiting.
        for nid, run in engine.nodes.items():
            if run.state == NodeState.WAITING:
                self.gates.hold(eid, run, live.times.get(nid, [None])[0])
        return live

    def _replayed(self, tx: StateTx, eid: str, record: ExecutionRecord
                  ) -> tuple[Engine, _Replay]:
        """The engine of `record` once its events are replayed: those after its snapshot
        through the engine the snapshot holds, when there is one that can be used, else all
        of them through a fresh engine."""
        top = stored_graph(self.store, record.spec_key)
        restored = self._restored(eid, record, top)
        if restored is not None:
            replay = _Replay(tx, eid, self.store, restored.seq, restored.cache_keys)
            try:
                restored.engine.replay(replay)
            except Exception as exc:  # a snapshot is never needed: without it, as before
                if self.transactions.is_transient(exc):
                    raise
                log.warning("execution %s: the events after its snapshot did not replay "
                            "through it (%s: %s); replaying every event", eid,
                            type(exc).__name__, exc)
            else:
                log.info("execution %s rebuilt from its snapshot after event %d: %d events "
                         "replayed", eid, restored.seq, replay.seq - restored.seq)
                return restored.engine, replay
        replay = _Replay(tx, eid, self.store)
        engine = self.engine(eid, top, record.inputs)
        engine.replay(replay)
        return engine, replay

    def _restored(self, eid: str, record: ExecutionRecord, top: GraphSpec
                  ) -> snapshots.Restored | None:
        """The engine `record`'s snapshot holds, given back its driver's parts; None when
        there is none, snapshots are off, or it cannot be used (said in the log: every event
        is replayed)."""
        if record.snapshot_key is None or not self.snapshot_events:
            return None
        try:
            if not record.snapshot_key.startswith(snapshots.FOLDER + "/"):
                raise snapshots.SnapshotError("its key is not in the snapshots' folder")
            data = get_verified(self.store, record.snapshot_key)
            with collection_paused():
                restored = snapshots.load(data, eid, self._slicing(), top,
                                          functools.partial(stored_graph, self.store))
            if restored.seq != record.snapshot_seq:
                raise snapshots.SnapshotError(f"it follows event {restored.seq}, where the "
                                              f"row says {record.snapshot_seq}")
        except Exception as exc:  # anything wrong with it: replay every event
            if self.transactions.is_transient(exc):
                raise
            log.warning("execution %s: its snapshot %s cannot be used (%s: %s); replaying "
                        "every event", eid, record.snapshot_key, type(exc).__name__, exc)
            return None
        restored.engine.reattach(functools.partial(self._spilled, eid), self.policy)
        return restored

    def _slicing(self) -> dict[str, Any]:
        """The settings an engine is built with that its snapshot must have been made with."""
        return {"graft_slice": self.graft_slice, "window": self.window,
                "gather_above": self.gather_above}

    def snapshot(self, batch: Batch) -> list[tuple[str, int, str]]:
        """Once `batch` committed: snapshot the engine of each execution it touched that
        recorded `snapshot_events` events or more since its last snapshot, and store it
        (scheduler/snapshots.py); return `(execution, last event, store key)` of each, for
        `name_snapshots` to record. Done outside the batch's transaction: a slow store
        would otherwise hold it open. One that cannot be taken (a gather under way, the store
        failing) is tried again as many events later."""
        stored = []
        for eid in batch.touched:
            live = self.live.get(eid)
            if live is None or live.engine.done or not self.snapshot_events \
                    or live.seq - live.snapshot_seq < self.snapshot_events:
                continue
            live.snapshot_seq = live.seq
            try:
                data = snapshots.dump(live.engine, eid, live.seq, live.cache_keys,
                                      self._slicing())
            except pickle.PicklingError as exc:  # what an engine may hold for a while
                log.info("execution %s: no snapshot after event %d: %s", eid, live.seq, exc)
                continue
            except Exception as exc:  # a snapshot is never needed: the scheduler goes on
                log.warning("execution %s: no snapshot after event %d (%s: %s)", eid,
                            live.seq, type(exc).__name__, exc)
                continue
            try:
                stored.append((eid, live.seq, put_blob(self.store, data, snapshots.FOLDER)))
            except Exception as exc:
                log.warning("execution %s: its snapshot after event %d was not stored "
                            "(%s: %s)", eid, live.seq, type(exc).__name__, exc)
        return stored

    @staticmethod
    def name_snapshots(tx: StateTx, stored: list[tuple[str, int, str]]) -> None:
        """Name the snapshots `snapshot` stored in their executions' rows."""
        for eid, seq, key in stored:
            tx.update_execution(eid, snapshot_key=key, snapshot_seq=seq)

    def named(self, stored: list[tuple[str, int, str]], committed: bool) -> None:
        """After `name_snapshots`' transaction: when it `committed`, the snapshots they
        replaced are deleted; when not, the new ones are (what fails to be deleted is left
        to `graft gc`)."""
        gone = []
        for eid, _, key in stored:
            live = self.live.get(eid)
            if not committed:
                gone.append(key)
            elif live is not None:
                if live.snapshot_key not in (None, key):
                    gone.append(live.snapshot_key)
                live.snapshot_key = key
        self.drop_snapshots(gone)

    def drop_snapshots(self, keys: list[str]) -> None:
        """Delete these snapshots, which no row names any more."""
        for key in keys:
            try:
                self.store.delete(key)
            except Exception as exc:  # left to `graft gc`
                log.info("the snapshot %s no row names was not deleted: %s", key, exc)

    @staticmethod
    def _marks(tx: StateTx, eid: str, engine: Engine) -> dict[str, NodeMark]:
        """The rows of the nodes `engine` holds once replayed, a page at a time. A row of a
        node not ended that the replay did not insert was sent and never reported (the run
        had inserted more slices, or created more of a map's items): it is inserted now, and
        keeps its row and token."""
        marks: dict[str, NodeMark] = {}
        after = ""
        while page := tx.node_marks(eid, after, MARKS_PER_READ):
            marks.update((m.node_id, m) for m in page if m.node_id in engine.nodes
                         or m.state not in TERMINAL_STATE_NAMES)
            after = page[-1].node_id
        for nid in [nid for nid in marks if nid not in engine.nodes]:
            engine.reach(nid)
        return {nid: mark for nid, mark in marks.items() if nid in engine.nodes}

    def _unbuildable(self, tx: StateTx, eid: str, record: ExecutionRecord, exc: GraftError,
                     batch: Batch) -> None:
        log.error("execution %s cannot be rebuilt and is failed: %s", eid, exc)
        error = {"type": type(exc).__name__, "message": str(exc)}
        tx.update_execution(eid, status=ExecutionState.FAILED.value, error=error,
                            snapshot_key=None, snapshot_seq=None)
        if record.snapshot_key is not None:
            batch.replaced.append(record.snapshot_key)
        self.recorder.notices.ended(tx, eid, record.notify, ExecutionState.FAILED.value, error,
                                    batch)
        batch.board[eid] = self.view.refused(eid, record, f"cannot be rebuilt: {exc}")
        batch.observed.append(("execution", eid, record.status, ExecutionState.FAILED.value))

    def _spilled(self, eid: str, node_ids: list[str]) -> dict[str, dict[str, Binding]]:
        """The outputs of nodes of `eid` dropped from memory, from their rows (in the open
        transaction: what it wrote is read back too)."""
        tx = self.transactions.current
        if tx is None:
            raise GraftError(f"outputs of nodes of execution {eid} dropped from memory were "
                             "read outside a transaction")
        return tx.node_outputs(eid, node_ids)

    def _evict(self, eid: str, live: Live) -> None:
        """Drop from memory the nodes of a running execution that succeeded, are read by no
        node held and have their rows (`Engine.evict`), and what is kept beside them; not
        those whose board records are still to be written."""
        for nid in live.engine.evict(self.boards.waiting(eid)):
            live.known.discard(nid)
            live.done.discard(nid)
            live.tokens.pop(nid, None)
            live.times.pop(nid, None)

    # ---- after a batch --------------------------------------------------------------------

    def committed(self, batch: Batch) -> None:
        """Once `batch` committed: drop the executions it ended, and from the others what
        they no longer need; note those with a graph to insert further."""
        for eid in batch.touched:
            live = self.live.get(eid)
            if live is None:
                continue
            if live.engine.done:
                del self.live[eid]
                self.gathering.discard(eid)
                continue
            self._evict(eid, live)
            if live.engine.grafting:
                self.grafting.add(eid)
            if live.engine.gathers:
                self.gathering.add(eid)
            else:
                self.gathering.discard(eid)

    def forget(self, eids: Iterable[str]) -> None:
        """Drop these engines (a batch that touched them rolled back: they may hold what it
        did); they are rebuilt from the state when their next message comes."""
        for eid in eids:
            self.live.pop(eid, None)

    def clear(self) -> None:
        """Drop everything (this scheduler stops serving)."""
        self.live.clear()
        self.grafting.clear()
        self.gathering.clear()
        self._deadlines.clear()

    # ---- large graphs ---------------------------------------------------------------------

    def graftable(self) -> list[str]:
        """The executions with a next slice of a graph to insert now."""
        self.grafting = {eid for eid in self.grafting
                         if eid in self.live and self.live[eid].engine.grafting}
        return [eid for eid in self.grafting if self.live[eid].engine.can_graft]

    def can_graft(self) -> bool:
        """Whether an execution has a next slice to insert now."""
        return any(eid in self.live and self.live[eid].engine.can_graft
                   for eid in self.grafting)

    def gatherable(self) -> list[str]:
        """The executions with a large output to gather: those held that have one, and those
        dropped from memory meanwhile (a batch rolled back), which no message may rebuild:
        `Scheduler.gather_more` loads them again."""
        self.gathering = {eid for eid in self.gathering
                          if eid not in self.live or self.live[eid].engine.gathers}
        return sorted(self.gathering)

    def nodes_held(self) -> int:
        """How many nodes the executions held have in memory (see `Engine.size`)."""
        return sum(live.engine.size for live in self.live.values())

    # ---- workflow timeouts ----------------------------------------------------------------

    def _track_deadline(self, live: Live, eid: str, started_at: float) -> None:
        timeout_s = live.engine.spec.timeout_s
        if timeout_s is not None:
            live.ends_at = started_at + timeout_s
            heapq.heappush(self._deadlines, (live.ends_at, eid))

    def due(self, now: float) -> list[str]:
        """The executions whose workflow timeout ended by `now` (taken off the heap)."""
        due = []
        while self._deadlines and self._deadlines[0][0] <= now:
            due.append(heapq.heappop(self._deadlines)[1])
        return due

    def due_again(self, eids: list[str], now: float) -> None:
        """Judge these again on the next turn (the batch that judged them rolled back)."""
        for eid in eids:
            heapq.heappush(self._deadlines, (now, eid))

    def next_deadline(self) -> float | None:
        """When the next workflow timeout ends, if any (wall-clock seconds)."""
        return self._deadlines[0][0] if self._deadlines else None


class _Replay:
    """An execution's recorded reports, in order, as a replay reads them; what it passes
    keeps the last event's number and the cache keys its dynamics reported."""

    def __init__(self, tx: StateTx, eid: str, store: Store, after: int = 0,
                 cache_keys: dict[str, str] | None = None):
        self.tx, self.eid, self.store = tx, eid, store
        self.first = self.seq = after  # events up to `first` are in a snapshot
        self.cache_keys: dict[str, str] = dict(cache_keys or {})

    def __iter__(self) -> Iterator[Report]:
        while page := self.tx.events(self.eid, self.seq, EVENTS_PER_READ):
            for ev in page:
                self.seq = ev.seq
                report = reports.decode(ev.node_id, ev.attempt, ev.outcome, ev.body,
                                        self._subgraph)
                if report.extra.get("cache_key"):
                    self.cache_keys[report.node] = report.extra["cache_key"]
                yield report

    def _subgraph(self, key: str) -> GraphSpec:
        return stored_graph(self.store, key)
