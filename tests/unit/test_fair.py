"""The ready queue: fair turns between executions, priorities, backoff, and the depth each
tier queue is topped up to."""

from __future__ import annotations

from scheduler.fair import MAX_DEPTH, ReadyQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def keys(eid: str, n: int, start: int = 0) -> list[tuple[str, str, int]]:
    return [(eid, f"n{i}", 1) for i in range(start, start + n)]


def test_executions_of_one_priority_take_turns():
    ready = ReadyQueue()
    for key in keys("big", 1000):
        ready.push("mem-1Gi", 0, key)
    for key in keys("small", 2):
        ready.push("mem-1Gi", 0, key)
    taken = ready.take(None)
    # Everything at once without depths, still interleaved: the small one's two attempts
    # are among the first four.
    assert [k[0] for k in taken[:4]] == ["big", "small", "big", "small"]
    assert len(taken) == 1002 and len(ready) == 0 and ready.queues() == []


def test_a_small_execution_is_sent_after_at_most_one_queue_depth_of_a_large_one():
    clock = Clock()
    ready = ReadyQueue(min_depth=4, clock=clock)
    for key in keys("big", 10_000):
        ready.push("q", 0, key)
    first = ready.take({"q": 0})
    assert len(first) == 4  # the starting depth, not the backlog
    ready.push("q", 0, ("small", "only", 1))
    clock.now += 0.01
    second = ready.take({"q": 2})  # workers took two
    assert ("small", "only", 1) in second and len(second) == 2
    assert len(ready) == 10_000 - 4 - 1


def test_higher_priority_goes_first_and_equal_priorities_share():
    ready = ReadyQueue()
    for key in keys("low", 3):
        ready.push("q", -5, key)
    for key in keys("a", 3):
        ready.push("q", 10, key)
    for key in keys("b", 2):
        ready.push("q", 10, key)
    taken = [k[0] for k in ready.take(None)]
    assert taken == ["a", "b", "a", "b", "a", "low", "low", "low"]


def test_queues_are_filled_separately():
    ready = ReadyQueue(min_depth=2, clock=Clock())
    for key in keys("e", 5):
        ready.push("small-tier", 0, key)
    for key in keys("e", 5, start=5):
        ready.push("big-tier", 0, key)
    taken = ready.take({"small-tier": 0, "big-tier": 1})
    assert sorted(k[1] for k in taken) == ["n0", "n1", "n5"]


def test_depth_follows_the_rate_workers_drain_a_queue():
    clock = Clock()
    ready = ReadyQueue(ahead_s=0.5, min_depth=4, clock=clock)
    for key in keys("e", 100_000):
        ready.push("q", 0, key)
    depth = 0
    # Workers take 400 messages a second (40 every 0.1 s), never emptying the queue.
    for _ in range(40):
        depth += len(ready.take({"q": depth}))
        clock.now += 0.1
        depth = max(1, depth - 40)
    assert 150 <= ready.depth_target("q") <= 260  # about 0.5 s of 400/s
    # The workers stop: the target stays, nothing more is sent past it.
    clock.now += 1.0
    assert len(ready.take({"q": ready.depth_target("q")})) == 0


def test_an_emptied_queue_grows_its_depth_and_never_past_the_maximum():
    clock = Clock()
    ready = ReadyQueue(min_depth=4, clock=clock)
    for key in keys("e", 200_000):
        ready.push("q", 0, key)
    for _ in range(60):
        ready.take({"q": 0})  # workers take everything at once, every time
        clock.now += 0.3
    assert ready.depth_target("q") == MAX_DEPTH


def test_backoff_holds_an_attempt_until_its_time():
    clock = Clock()
    ready = ReadyQueue(clock=clock)
    ready.push("q", 0, ("e", "n", 2), delay_s=10.0)
    assert ("e", "n", 2) in ready and ready.take(None) == []
    assert 4.9 <= ready.next_due_s() <= 10.0
    clock.now += 10.0
    ready.release_due()
    assert ready.take(None) == [("e", "n", 2)] and ("e", "n", 2) not in ready


def test_dropping_an_execution_forgets_its_attempts_ready_or_delayed():
    ready = ReadyQueue(clock=Clock())
    for key in keys("gone", 3):
        ready.push("q", 0, key)
    ready.push("q", 0, ("gone", "later", 2), delay_s=5.0)
    ready.push("q", 0, ("kept", "n", 1))
    assert ready.drop("gone") == set(keys("gone", 3)) | {("gone", "later", 2)}
    assert ready.take(None) == [("kept", "n", 1)]
    assert ready.drop("unknown") == set()


def test_pushing_an_attempt_held_already_keeps_one_copy():
    ready = ReadyQueue()
    ready.push("q", 0, ("e", "n", 1))
    ready.push("q", 0, ("e", "n", 1))
    assert ready.take(None) == [("e", "n", 1)]


def test_workers_that_empty_the_queue_double_its_depth_at_once():
    ready = ReadyQueue(min_depth=4, clock=Clock())  # the clock stands still: no rate yet
    for key in keys("e", 1000):
        ready.push("q", 0, key)
    assert [len(ready.take({"q": 0})) for _ in range(4)] == [4, 8, 16, 32]
    assert len(ready.take({"q": 32})) == 0  # nothing taken: no deeper


def test_a_queue_left_alone_for_a_while_starts_over_from_its_minimum_depth():
    clock = Clock()
    ready = ReadyQueue(min_depth=4, clock=clock)
    for key in keys("first", 100):
        ready.push("q", 0, key)
    for _ in range(5):
        ready.take({"q": 0})  # emptied each time: the depth grows to 64
    assert ready.depth_target("q") == 64
    for key in keys("later", 1000):
        ready.push("q", 0, key)
    clock.now += 60  # a minute later, another large execution
    assert len(ready.take({"q": 0})) == 4


def test_one_take_is_bounded_in_attempts_shared_among_the_queues():
    """However deep the queues may be filled, one take holds the loop for at most about
    `most` attempts (their rows and messages): each queue gets its share, the rest wait."""
    ready = ReadyQueue(min_depth=MAX_DEPTH)
    for key in keys("a", 5000):
        ready.push("q1", 0, key)
    for key in keys("b", 5000):
        ready.push("q2", 0, key)
    units = ready.take_units({"q1": 0, "q2": 0}, lambda queue, key: ("g", 64), most=1000)
    per_queue = {q: sum(len(u) for qq, _, u in units if qq == q) for q in ("q1", "q2")}
    assert per_queue == {"q1": 512, "q2": 512}  # 500 each, in whole chunks of 64
    assert len(ready) == 10_000 - 1024
    assert sum(len(u) for u in (x[2] for x in ready.take_units(None))) == 10_000 - 1024


def test_depths_are_known_without_asking_while_a_trickle_fits():
    """A chain holds one attempt at a time: after a true depth read, what the queue held
    after its top-ups bounds its depth, until the rate is due for a sample, the queue went
    idle, or the held attempts might not fit."""
    clock = Clock()
    ready = ReadyQueue(min_depth=4, clock=clock)
    assert ready.bounds(["q"]) is None  # never topped up: ask the broker
    ready.push("q", 0, ("a", "n0", 1))
    assert len(ready.take({"q": 0})) == 1
    clock.now += 0.01
    ready.push("q", 0, ("a", "n1", 1))
    assert ready.bounds(["q"]) == {"q": 1}  # the one sent may still wait there
    ready.take({"q": 1})
    clock.now += 0.01
    ready.push("q", 0, ("a", "n2", 1))
    ready.push("q", 0, ("a", "n3", 1))
    assert ready.bounds(["q"]) == {"q": 2}  # 2 sent + 2 held fit under 4
    ready.push("q", 0, ("a", "n4", 1))
    assert ready.bounds(["q"]) is None  # 2 + 3 may not: ask
    assert ready.bounds(["q", "other"]) is None  # a queue never topped up: ask
    clock.now += 0.3
    assert ready.bounds(["q"]) is None  # a rate sample is due: it needs a true depth


def test_a_queue_idle_for_a_while_is_asked_again():
    clock = Clock()
    ready = ReadyQueue(min_depth=4, clock=clock)
    ready.push("q", 0, ("a", "n0", 1))
    ready.take({"q": 0})
    ready.push("q", 0, ("a", "n1", 1))
    clock.now += 2.0
    assert ready.bounds(["q"]) is None
