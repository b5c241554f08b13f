"""How many attempts go out in one task message (a chunk, `sdk.wire.chunks`).

Sending each of a 10,000-item map's items alone costs a Celery message, a claim and a report
round trip per item, which for short items is most of the work; so does each node of a dynamic
that fans out to a thousand calls of one task. Ready attempts that one message can carry
leave the ready queue together (`ReadyQueue.take_units`): items of one map, or sibling task
nodes (children of one dynamic or sub-workflow) made from one task template, so that they
share a spec (`template_key`). The limit is chosen per group each time:

- by time: the task's measured duration (the `duration_s` of its reports, a moving average)
  times the limit stays near `CHUNK_S`, so a chunk occupies a worker slot about as long as a
  short task, and the fair depth (counted in messages, measured in seconds) still bounds how
  long another execution waits. A task not measured yet goes one attempt a message until its
  first reports come back; attempts longer than `CHUNK_S` always do;
- by spread: at most the parent's unfinished children over twice the queue's depth, so the
  end of a map or fan-out spreads over every message the queue holds (and so over the
  workers) instead of sitting in one chunk;
- by size: `GRAFT_CHUNK_ITEMS` attempts (`Settings.chunk_items`, default 64; 1 turns chunks
  off), and a message's inline inputs up to `CHUNK_BYTES` (more make a second message).

Only nodes of kind `task` are chunked.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sdk.model.spec import NodeSpec

CHUNK_S = 0.2  # seconds of item work a chunk holds, at most about
CHUNK_BYTES = 256 * 1024  # of inline inputs in one chunk message
MIN_ITEM_S = 0.0002  # items measured faster count as this long
SMOOTHING = 0.2  # weight of a new duration in the moving average
MAX_TASKS = 10_000  # task references whose durations are kept (then it starts afresh)


class Chunks:
    """Measured item durations, and the chunk limit they give."""

    def __init__(self, max_items: int = 64) -> None:
        self.max_items = max_items
        self._item_s: dict[str, float] = {}  # task reference -> seconds per item

    def observe(self, task: str, duration_s: float) -> None:
        """A report of task `task` took `duration_s` seconds to run."""
        if self.max_items <= 1:
            return
        old = self._item_s.get(task)
        if old is None and len(self._item_s) >= MAX_TASKS:
            self._item_s.clear()
        self._item_s[task] = duration_s if old is None \
            else (1 - SMOOTHING) * old + SMOOTHING * duration_s

    def item_s(self, task: str) -> float | None:
        """The measured seconds per item of `task`, if any."""
        return self._item_s.get(task)

    def limit(self, task: str, items_left: int, depth: int) -> int:
        """Most attempts of `task` one message may carry, with `items_left` children of
        their parent unfinished and `depth` messages the queue is kept at."""
        if self.max_items <= 1:
            return 1
        item_s = self._item_s.get(task)
        if item_s is None:
            return 1
        by_time = int(CHUNK_S / max(item_s, MIN_ITEM_S))
        spread = -(-items_left // (2 * max(1, depth)))
        return max(1, min(self.max_items, by_time, spread))


def template_key(spec: NodeSpec) -> Hashable:
    """What sibling nodes must share to travel in one chunk: everything of the spec a worker
    reads but the node's id and inputs. Parsing gives the nodes of one template the same
    objects (`sdk.model.spec_json`), so the dicts are compared by identity: two equal dicts of
    different templates only keep their nodes in separate chunks."""
    return (spec.kind, spec.task, id(spec.inputs_types), id(spec.outputs_types),
            id(spec.requests), id(spec.limits), spec.cache, spec.cache_version,
            spec.cache_serialize, spec.cache_ignored, spec.retries, spec.timeout_s, spec.image)


def task_ref(spec: Any) -> str:
    """The key durations are kept under: the task's module and name."""
    return f"{spec.task.module}:{spec.task.qualname}"
