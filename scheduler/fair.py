"""Ready attempts the scheduler holds back, and how many it lets wait in each tier's queue.

The scheduler does not hand every ready attempt to the broker at once. It keeps them here and
tops each tier's queue up to a *depth* at a time: about `ahead_s` seconds of the work that
tier's workers take (its drain rate, measured), at least `min_depth` messages, and twice as
deep each time the workers are found to have emptied it. What waits in
the broker is therefore bounded whatever the size of the executions, and an execution
submitted behind a large one has its attempts sent after at most a queue's depth of the
other's, not after its whole backlog.

Which held attempt goes next: higher execution priority first; among executions of one
priority, one attempt of each in turn (round robin), so a small execution never waits behind a
large one; within an execution, in the order its attempts became ready. An attempt waiting out
a retry's backoff is held here too, and joins the others when its time comes.

Nothing here touches the broker: `take` is given the depth of each queue and returns what to
send; the scheduler builds and sends the messages.

Depths count messages, not attempts. With `take_units` and a `chunk_of` function, consecutive
held attempts of one execution that `chunk_of` puts in the same group (items of one map) leave
together, up to the group's limit, as one unit: one message (a chunk, `scheduler/chunks.py`),
counted once against the depth. The drain rate is then measured in messages too, so the depth
still holds about `ahead_s` seconds of work whatever the chunks' sizes; keeping each chunk's
work short (the chunk limit) is what keeps a small execution's wait short.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from sdk.wire.keys import AttemptKey

# What may travel together: (queue, attempt) -> (group, most attempts per message), or None.
ChunkOf = Callable[[str, AttemptKey], "tuple[Hashable, int] | None"]

MIN_DEPTH = 4
MAX_DEPTH = 5_000
RATE_WINDOW_S = 0.25  # the drain rate is sampled over at least this long
IDLE_S = 1.0  # a queue not topped up for this long starts over from `min_depth`


@dataclass
class _Level:
    """The held attempts of one priority in one queue, by execution, in turn order."""

    turns: deque[str] = field(default_factory=deque)
    items: dict[str, deque[AttemptKey]] = field(default_factory=dict)


@dataclass
class _Window:
    """How deep one queue may get: its drain rate, measured from the depths seen."""

    target: int
    last_depth: int = 0  # what waited after the last top-up
    since: float = 0.0
    taken: int = 0  # taken by workers since `since`
    dry: bool = False  # found empty since `since`
    topped_at: float = 0.0  # when it was last topped up
    rate: float | None = None  # messages a second, smoothed


class ReadyQueue:
    """Attempts ready to send, held per tier queue, priority and execution."""

    def __init__(self, ahead_s: float = 0.5, min_depth: int = MIN_DEPTH,
                 max_depth: int = MAX_DEPTH, clock: Callable[[], float] = time.monotonic):
        self.ahead_s = ahead_s
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.clock = clock
        self._queues: dict[str, dict[int, _Level]] = {}
        self._where: dict[str, set[tuple[str, int]]] = {}  # execution -> (queue, priority)
        self._held: set[AttemptKey] = set()
        self._delayed: list[tuple[float, int, str, int, AttemptKey]] = []
        self._seq = 0
        self._windows: dict[str, _Window] = {}

    # ---- holding ---------------------------------------------------------------------------

    def push(self, queue: str, priority: int, key: AttemptKey, delay_s: float = 0.0) -> None:
        """Hold `key` for `queue`; with `delay_s`, only from between half and all of that many
        seconds on (a retry's backoff, with jitter)."""
        if key in self._held:
            return
        self._held.add(key)
        if delay_s > 0:
            due = self.clock() + delay_s * random.uniform(0.5, 1.0)
            self._seq += 1
            heapq.heappush(self._delayed, (due, self._seq, queue, priority, key))
            return
        self._add(queue, priority, key)

    def _add(self, queue: str, priority: int, key: AttemptKey) -> None:
        eid = key[0]
        level = self._queues.setdefault(queue, {}).setdefault(priority, _Level())
        items = level.items.get(eid)
        if items is None:
            items = level.items[eid] = deque()
            level.turns.append(eid)
            self._where.setdefault(eid, set()).add((queue, priority))
        items.append(key)

    def release_due(self) -> None:
        """Move the attempts whose backoff ended to the ready ones."""
        now = self.clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, queue, priority, key = heapq.heappop(self._delayed)
            if key in self._held:
                self._add(queue, priority, key)

    def next_due_s(self) -> float | None:
        """Seconds until the next backoff ends (negative when overdue), if any."""
        return self._delayed[0][0] - self.clock() if self._delayed else None

    def drop(self, execution_id: str) -> set[AttemptKey]:
        """Forget every attempt held for an execution (it ended); return them."""
        dropped = {key for key in self._held if key[0] == execution_id} \
            if self._delayed else set()
        for queue, priority in self._where.pop(execution_id, ()):
            levels = self._queues[queue]
            level = levels[priority]
            dropped.update(level.items.pop(execution_id, ()))
            level.turns.remove(execution_id)
            if not level.items:
                del levels[priority]
            if not levels:
                del self._queues[queue]
        self._held -= dropped
        return dropped

    def __contains__(self, key: object) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)

    def held(self) -> set[AttemptKey]:
        """Every attempt held, ready or waiting out its backoff."""
        return set(self._held)

    def queues(self) -> list[str]:
        """The queues that have attempts ready to send."""
        return list(self._queues)

    def clear(self) -> None:
        self._queues.clear()
        self._where.clear()
        self._held.clear()
        self._delayed.clear()
        self._windows.clear()

    # ---- sending ---------------------------------------------------------------------------

    def take(self, depths: dict[str, int] | None) -> list[AttemptKey]:
        """What to send now: for each queue with ready attempts, as many as it has room for
        given its current depth (`depths[queue]`, messages waiting in the broker), chosen
        fairly. `depths=None` takes everything (no broker to fill: tests, inline runs)."""
        return [key for _, _, key in self.take_placed(depths)]

    def take_placed(self, depths: dict[str, int] | None) -> list[tuple[str, int, AttemptKey]]:
        """`take`, each attempt with its queue and priority (to `push` it back)."""
        return [(queue, priority, key) for queue, priority, keys in self.take_units(depths)
                for key in keys]

    def take_units(self, depths: dict[str, int] | None,
                   chunk_of: ChunkOf | None = None, most: int | None = None
                   ) -> list[tuple[str, int, tuple[AttemptKey, ...]]]:
        """`take_placed` by message: each unit is one attempt, or with `chunk_of` several
        consecutive attempts of one execution in one group (`chunk_of(queue, key)`: the
        group and its most attempts per message, or None for an attempt that goes alone);
        the room in a queue is counted in units. With `most`, about that many attempts in
        all, shared among the queues (the rest wait for the next call)."""
        out: list[tuple[str, int, tuple[AttemptKey, ...]]] = []
        share = None if most is None else -(-most // max(1, len(self._queues)))
        for queue in list(self._queues):
            if depths is None:
                out.extend(self._take(queue, None, chunk_of, share))
                continue
            depth = depths.get(queue, 0)
            taken = self._take(queue, self._room(queue, depth), chunk_of, share)
            self._windows[queue].last_depth = depth + len(taken)
            out.extend(taken)
        return out

    def _take(self, queue: str, room: int | None, chunk_of: ChunkOf | None,
              most: int | None = None) -> list[tuple[str, int, tuple[AttemptKey, ...]]]:
        levels = self._queues[queue]
        out: list[tuple[str, int, tuple[AttemptKey, ...]]] = []
        attempts = 0
        for priority in sorted(levels, reverse=True):
            level = levels[priority]
            while level.turns and (room is None or len(out) < room) \
                    and (most is None or attempts < most):
                eid = level.turns.popleft()
                items = level.items[eid]
                first = items.popleft()
                unit = [first]
                chunk = chunk_of(queue, first) if chunk_of is not None else None
                if chunk is not None:
                    group, limit = chunk
                    while items and len(unit) < limit:
                        following = chunk_of(queue, items[0])  # type: ignore[misc]
                        if following is None or following[0] != group:
                            break
                        unit.append(items.popleft())
                out.append((queue, priority, tuple(unit)))
                attempts += len(unit)
                if items:
                    level.turns.append(eid)
                else:
                    del level.items[eid]
                    self._where[eid].discard((queue, priority))
                    if not self._where[eid]:
                        del self._where[eid]
            if not level.turns:
                del levels[priority]
            if (room is not None and len(out) >= room) or (most is not None and attempts >= most):
                break
        if not levels:
            del self._queues[queue]
        self._held.difference_update(key for _, _, keys in out for key in keys)
        return out

    def bounds(self, queues: list[str]) -> dict[str, int] | None:
        """The depths of `queues` as known without asking the broker, when that is enough:
        what each held after its last top-up (its workers have only taken from it since).
        None when any must be asked: it was not topped up lately, its drain rate is due for
        a sample (which needs a true depth), or its held attempts may not all fit under its
        depth. So a trickle of single attempts (a chain) costs no depth read a turn."""
        now = self.clock()
        known: dict[str, int] = {}
        for queue in queues:
            window = self._windows.get(queue)
            if window is None or now - window.topped_at > IDLE_S \
                    or now - window.since >= RATE_WINDOW_S:
                return None
            held = sum(len(items) for level in self._queues.get(queue, {}).values()
                       for items in level.items.values())
            if window.last_depth + held > window.target:
                return None
            known[queue] = window.last_depth
        return known

    def _room(self, queue: str, depth: int) -> int:
        """How many more messages `queue` may get now that `depth` wait in it."""
        now = self.clock()
        window = self._windows.get(queue)
        if window is None or now - window.topped_at > IDLE_S:
            # New, or idle for a while: what its workers took then says nothing of now.
            window = self._windows[queue] = _Window(target=self.min_depth, last_depth=depth,
                                                    since=now)
        window.topped_at = now
        window.taken += max(0, window.last_depth - depth)
        if depth == 0 and window.last_depth >= window.target:
            # The workers took all of a full queue: they could have taken more. Grow at once
            # (the rate, measured over a window, only follows). A queue topped up short of
            # its depth (fewer attempts were held) and emptied says nothing of that.
            window.dry = True
            window.target = min(self.max_depth, window.target * 2)
        elapsed = now - window.since
        if elapsed >= RATE_WINDOW_S:
            sample = window.taken / elapsed
            window.rate = sample if window.rate is None else 0.5 * window.rate + 0.5 * sample
            window.taken, window.since = 0, now
            target = int(window.rate * self.ahead_s) + 1
            if window.dry:
                target = max(target, window.target)
            window.dry = False
            window.target = max(self.min_depth, min(self.max_depth, target))
        return max(0, window.target - depth)

    def depth_target(self, queue: str) -> int:
        """The depth `queue` is topped up to now."""
        window = self._windows.get(queue)
        return window.target if window is not None else self.min_depth
