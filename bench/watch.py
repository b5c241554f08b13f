"""Watching a graft scheduler from outside while a run goes (bench/scale.py), without changing
its code:

* `StallSampler`: how long the scheduler's loop has gone without reading its control stream
  while a message waited there, sampled from Redis every few tens of milliseconds.
* `Probe`: a second client that submits a one-node execution every few seconds and times each
  from submit to done.
* `scrape` and `histogram_delta`: the scheduler's Prometheus histograms (`--metrics-port`)
  before and after a run, and what their difference bounds (the longest batch).
"""

from __future__ import annotations

import statistics
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from harness import BenchError

# One atomic look at the control streams (KEYS, one per shard) and their consumer group
# (ARGV[1]): Redis's time in ms, and the longest the loop has been away while work waited. Per
# stream: how long the oldest entry not yet delivered to the group has waited (none: skip it),
# and how long ago the consumer whose name contains ARGV[2] was last handed entries there. Redis
# 7.0 refreshes a consumer's idle time when XREADGROUP hands it entries, not when a read finds
# nothing, so the idle time alone would count waiting for work as busy; the smaller of the two
# is how long the loop has been away from that stream while work waited. -1: nothing waited.
_LOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local away = -1
for _, key in ipairs(KEYS) do
  local groups = redis.pcall('XINFO', 'GROUPS', key)
  local last = nil
  if type(groups) == 'table' and not groups.err then
    for _, g in ipairs(groups) do
      local name, delivered
      for i = 1, #g, 2 do
        if g[i] == 'name' then name = g[i + 1] end
        if g[i] == 'last-delivered-id' then delivered = g[i + 1] end
      end
      if name == ARGV[1] then last = delivered end
    end
  end
  if last ~= nil then
    local first = redis.call('XRANGE', key, '(' .. last, '+', 'COUNT', 1)
    if #first > 0 then
      local waiting = now - tonumber(string.match(first[1][1], '^(%d+)'))
      local idle = waiting
      for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', key, ARGV[1])) do
        local name, seen
        for i = 1, #c, 2 do
          if c[i] == 'name' then name = c[i + 1] end
          if c[i] == 'idle' then seen = c[i + 1] end
        end
        if string.find(name, ARGV[2], 1, true) then idle = seen end
      end
      away = math.max(away, math.min(waiting, idle))
    end
  end
end
return {now, away}
"""


@dataclass
class Stall:
    at_s: float  # when it ended (or was last seen), seconds into the run
    length_s: float


class StallSampler:
    """Samples, every `interval_s`, how long the scheduler process `pid` has been away from its
    control stream while an entry waited there, and keeps the stalls (episodes of that time
    growing) of at least `keep_s`. A stall shorter than `interval_s` may go unseen, and each
    is seen up to `interval_s` short. Use as a context manager around the run."""

    def __init__(self, broker_url: str, key_prefix: str, pid: int, interval_s: float = 0.02,
                 keep_s: float = 0.5):
        import redis

        from sdk.wire.control import SHARDS
        from sdk.wire.keys import GROUP, Keys

        self.redis = redis.Redis.from_url(broker_url, socket_timeout=10)
        self.look = self.redis.register_script(_LOOK)
        self.keys = [Keys(key_prefix).control(shard) for shard in range(SHARDS)]
        self.group, self.me = GROUP, f":{pid}:"
        self.interval_s, self.keep_s = interval_s, keep_s
        self.stalls: list[Stall] = []
        self.longest_s = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = 0.0

    def _run(self) -> None:
        current = 0.0
        while not self._stop.is_set():
            try:
                _now, away_ms = self.look(keys=self.keys, args=[self.group, self.me])
            except Exception:  # a missed sample is not worth stopping the run for
                self._stop.wait(self.interval_s)
                continue
            self.samples += 1
            away = away_ms / 1000 if away_ms >= 0 else 0.0
            if away < current:  # the loop read again: the stall that was growing is over
                self._keep(current)
            current = away
            self.longest_s = max(self.longest_s, away)
            self._stop.wait(self.interval_s)
        self._keep(current)

    def _keep(self, length_s: float) -> None:
        if length_s >= self.keep_s:
            self.stalls.append(Stall(time.monotonic() - self._start, length_s))

    def top(self, n: int = 3) -> list[Stall]:
        return sorted(self.stalls, key=lambda s: -s.length_s)[:n]

    def __enter__(self) -> StallSampler:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.redis.close()


@dataclass
class Probe:
    """A second client: every `every_s` (the first after `first_s`) it submits `entity`, a
    one-node workflow taking `x: int` and returning x + 1, waits for it, polling the status
    board every `poll_s`, and records the seconds from submit to done. One probe at a time:
    one that takes longer than `every_s` delays the next. Use as a context manager around
    the run; on exit it waits for the probe in flight."""

    entity: Any
    every_s: float = 2.0
    first_s: float = 1.0
    poll_s: float = 0.01
    timeout_s: float = 600.0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from sdk.remote.client import Client

        client = Client()
        next_at = time.monotonic() + self.first_s
        i = 0
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            started = time.monotonic()
            try:
                latency = once(client, self.entity, i, self.poll_s, self.timeout_s)
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            self.latencies_s.append(latency)
            i += 1
            next_at = max(started + self.every_s, time.monotonic())

    def median_s(self) -> float | None:
        return statistics.median(self.latencies_s) if self.latencies_s else None

    def max_s(self) -> float | None:
        return max(self.latencies_s) if self.latencies_s else None

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(self.timeout_s)


def once(client: Any, entity: Any, x: int, poll_s: float, timeout_s: float) -> float:
    """Submit `entity(x=x)`, wait for it, check it returned x + 1; the seconds it took."""
    from sdk.remote.client import FINAL

    started = time.perf_counter()
    execution = client.submit(entity, x=x)
    deadline = time.monotonic() + timeout_s
    board = client.board
    while True:
        info = board.execution(execution.id)
        if info is not None and info["status"] in FINAL:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"probe {execution.id} not done after {timeout_s} s ({info})")
        time.sleep(poll_s)
    latency = time.perf_counter() - started
    result = execution.outputs()
    if result != x + 1:
        raise BenchError(f"probe {execution.id}: {result!r}, not {x + 1}")
    return latency


# ---- Prometheus -------------------------------------------------------------------------------

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample the scheduler's /metrics serves, by name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


@dataclass
class HistogramDelta:
    """What a histogram gained between two scrapes: count, sum, and the bucket bounds of its
    largest new observation (`low_s` < largest <= `high_s`; `high_s` inf past the last bucket)."""

    count: int
    sum_s: float
    low_s: float
    high_s: float

    def bounds(self) -> str:
        if self.count == 0:
            return "-"
        if self.high_s == float("inf"):
            return f">{self.low_s:g}"
        return f"{self.low_s:g}-{self.high_s:g}"


def histogram_delta(before: Samples, after: Samples, name: str) -> HistogramDelta:
    def buckets(samples: Samples) -> dict[float, float]:
        return {float(dict(labels)["le"]): v for (n, labels), v in samples.items()
                if n == name + "_bucket"}

    def total(suffix: str) -> float:
        key = (name + suffix, ())
        return after.get(key, 0.0) - before.get(key, 0.0)

    count = int(total("_count"))
    old, new = buckets(before), buckets(after)
    low = 0.0
    for le in sorted(new):
        if new[le] - old.get(le, 0.0) >= count:
            return HistogramDelta(count, total("_sum"), low, le)
        low = le
    return HistogramDelta(count, total("_sum"), low, float("inf"))
