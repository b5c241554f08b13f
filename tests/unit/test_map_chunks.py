"""Map items and sibling nodes in chunks: how many go together (scheduler/chunks.py,
ReadyQueue.take_units), what a chunk message and a `reports` message hold
(sdk/wire/chunks.py), and that the scheduler applies a chunk's outcomes item by item, as if
each had come alone."""

from __future__ import annotations

import pytest
from workflows import control_flow as cf

from scheduler.chunks import CHUNK_S, Chunks
from scheduler.dispatch import RecordingDispatcher
from scheduler.fair import ReadyQueue
from scheduler.service import Scheduler
from scheduler.state import MemoryState
from sdk.model.config import Settings
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.store import MemoryStore, put_blob
from sdk.wire.chunks import (
    check_chunk,
    item_keys,
    item_payload,
    reports_message,
    split_reports,
)
from sdk.wire.messages import MessageError, check_task
from sdk.wire.signing import Unauthenticated
from worker.attempt import run_attempt

Q = "mem-256Mi"


# ---- the ready queue -------------------------------------------------------------------------

def by_map(queue, key):
    """Items `m/<i>` go together, 3 at most; other nodes alone."""
    return ("m", 3) if key[1].startswith("m/") else None


def test_consecutive_items_of_one_map_leave_as_one_unit_counted_once():
    ready = ReadyQueue(min_depth=2, clock=lambda: 100.0)
    for i in range(7):
        ready.push(Q, 0, ("e", f"m/{i}", 1))
    ready.push(Q, 0, ("e", "other", 1))
    units = ready.take_units({Q: 0}, by_map)
    # Room for 2 messages: 2 chunks of 3 items, not 2 items.
    assert [[k[1] for k in keys] for _, _, keys in units] == [["m/0", "m/1", "m/2"],
                                                            ["m/3", "m/4", "m/5"]]
    assert len(ready) == 2
    units = ready.take_units(None, by_map)
    assert [[k[1] for k in keys] for _, _, keys in units] == [["m/6"], ["other"]]


def test_chunks_keep_round_robin_between_executions():
    ready = ReadyQueue(min_depth=4, clock=lambda: 100.0)
    for i in range(6):
        ready.push(Q, 0, ("big", f"m/{i}", 1))
    ready.push(Q, 0, ("small", "m/0", 1))
    units = ready.take_units({Q: 0}, by_map)
    assert [keys[0][0] for _, _, keys in units] == ["big", "small", "big"]
    assert ready.take_placed(None) == []


def test_without_a_chunk_function_every_attempt_is_a_unit():
    ready = ReadyQueue(min_depth=2, clock=lambda: 100.0)
    for i in range(3):
        ready.push(Q, 0, ("e", f"m/{i}", 1))
    assert [len(keys) for _, _, keys in ready.take_units({Q: 0})] == [1, 1]


# ---- the chunk limit -------------------------------------------------------------------------

def test_the_limit_follows_the_measured_duration_the_spread_and_the_bound():
    chunks = Chunks(max_items=64)
    assert chunks.limit("t", 10_000, 4) == 1  # not measured: one item a message
    chunks.observe("t", 0.001)
    assert chunks.limit("t", 10_000, 4) == 64  # bounded
    assert chunks.limit("t", 40, 4) == 5  # the end of the map spreads over the queue
    chunks.observe("slow", 0.05)
    assert chunks.limit("slow", 10_000, 4) == int(CHUNK_S / 0.05)
    chunks.observe("long", 3.0)
    assert chunks.limit("long", 10_000, 4) == 1
    assert Chunks(max_items=1).limit("t", 10_000, 4) == 1


# ---- the messages ----------------------------------------------------------------------------

def chunk_args(secret=None):
    from scheduler.dispatch import make_chunk

    items = [{"node": f"m/{i}", "attempt": 1 + i % 2, "token": f"t{i}",
              "retries_left": {"USER": 0, "SYSTEM": 3}, "inputs": {"x": {"val": {"v": i}}}}
             for i in range(3)]
    spec = {"id": "m", "kind": "task"}
    d = make_chunk(Settings(secret=secret), "e1", "m", spec, Q, "mod.fn", items, "{x: 0}")
    return d


def test_a_chunk_message_is_checked_signed_and_split_into_single_payloads():
    d = chunk_args(secret=b"s")
    assert d.task == "graft.run_items" and len(d.args) == 3
    assert d.attempts == [("e1", "m/0", 1), ("e1", "m/1", 2), ("e1", "m/2", 1)]
    assert d.header == ("graft_attempts", [["e1", "m/0", 1], ["e1", "m/1", 2],
                                           ["e1", "m/2", 1]])
    eid, _map, payload = check_chunk(d.args, b"s")
    assert item_keys(eid, payload) == d.attempts
    one = item_payload(payload, payload["items"][1])
    assert one == {"spec": {"id": "m", "kind": "task"}, "token": "t1",
                   "retries_left": {"USER": 0, "SYSTEM": 3}, "inputs": {"x": {"val": {"v": 1}}}}
    # What a single message would carry, item by item (InlineDispatcher runs these).
    singles = d.singles(b"s")
    assert [check_task(s.args, b"s")[:3] for s in singles] == \
        [("e1", "m/0", 1), ("e1", "m/1", 2), ("e1", "m/2", 1)]
    tampered = [d.args[0], d.args[1], {**d.payload, "items": d.payload["items"][:1]}]
    with pytest.raises(Unauthenticated):
        check_chunk(tampered, b"s")


@pytest.mark.parametrize("bad, why", [
    ({"node": "other/0", "attempt": 1, "token": "t", "inputs": {}}, "not a child of that node"),
    ({"node": "m/0", "attempt": 0, "token": "t", "inputs": {}}, "malformed attempt"),
    ({"node": "m/0", "attempt": 1, "inputs": {}}, "no token"),
    ({"node": "m/0", "attempt": 1, "token": "t"}, "no inputs"),
])
def test_a_malformed_chunk_is_refused_naming_the_item(bad, why):
    d = chunk_args()
    with pytest.raises(MessageError, match=why):
        check_chunk([d.args[0], d.args[1], {**d.payload, "items": [bad]}], None)


def test_a_reports_message_splits_into_the_reports_it_stands_for():
    reports = [{"type": "report", "execution": "e1", "node": f"m/{i}", "attempt": 1,
                "token": "t", "outcome": "values", "outputs": {}} for i in range(2)]
    body = reports_message("e1", reports)
    assert body["type"] == "reports" and "execution" not in body["reports"][0]
    other = {"type": "cancel", "execution": "e2"}
    assert list(split_reports([body, other])) == [*reports, other]
    broken = {"type": "reports", "execution": "e1", "reports": "nope"}
    assert list(split_reports([broken])) == [broken]  # for the check to refuse


# ---- the scheduler applies a chunk item by item ------------------------------------------------

class Depths:
    """Tier queue depths as a broker would report them: what was sent and not yet taken."""

    def __init__(self, dispatcher):
        self.dispatcher, self.taken = dispatcher, 0

    def read(self, queues):
        return {q: len(self.dispatcher.sent) - self.taken for q in queues}

    def backlogged(self):
        return False

    def take(self):
        got = self.dispatcher.sent[self.taken:]
        self.taken += len(got)
        return got


def paced(state, dispatcher, store):
    """A scheduler sending by the depths of broker-like queues (at their minimum: the ready
    queue's clock stands still), and those depths."""
    depths = Depths(dispatcher)
    scheduler = Scheduler(Settings(), state, dispatcher, store, depths=depths)
    scheduler.sender.ready.clock = lambda: 1000.0
    return scheduler, depths


def chunk_reports(store, d):
    """What a worker reports for a dispatch: one `reports` message for a chunk."""
    messages = [run_attempt(store, *one.args) for one in d.singles()]
    return [reports_message(d.execution_id, messages)] if d.items else messages


def test_a_chunk_s_outcomes_apply_as_if_each_item_reported_alone():
    store, dispatcher = MemoryStore(), RecordingDispatcher()
    state = MemoryState()
    scheduler, depths = paced(state, dispatcher, store)
    scheduler.sender.chunks.observe("workflows.control_flow:shaky", 0.001)  # measured: chunks
    n = 300
    spec_key = put_blob(store, cf.chunked_map.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
                       "workflow": "chunked_map",
                       "inputs": encode_inputs(cf.chunked_map, {"n": n}, store)}])
    chunked = retried_in_chunks = 0
    for _ in range(200):
        sent = depths.take()
        if not sent:
            break
        bodies = []
        for d in sent:
            chunked += bool(d.items)
            retried_in_chunks += sum(1 for k in d.items if k[2] == 2)
            bodies += chunk_reports(store, d)
        assert [r.reason for r in scheduler.handle(bodies).refused] == []
        scheduler.flush()
    with state.transaction() as tx:
        execution = tx.get_execution("e1")
        nodes = {r["node_id"]: r for r in tx.nodes("e1")}
    assert chunked > 0
    assert execution.status == "SUCCEEDED"
    outputs = shape_outputs(cf.chunked_map.compile(), execution.outputs, store)
    # (not compared with the in-process run, which retries nothing, as flytekit's)
    assert outputs == [None if x in (13, 113) else 3 * x for x in range(n)]
    # Each item keeps its own attempts: a failed one retried alone, the others ran once.
    item = next(nid for nid in nodes if nid.endswith("/7"))
    assert nodes[item]["attempt"] == 2 and nodes[item]["state"] == "SUCCEEDED"
    assert nodes[item.replace("/7", "/8")]["attempt"] == 1
    assert nodes[item.replace("/7", "/13")]["state"] == "FAILED"


def test_a_duplicate_or_late_chunk_report_changes_nothing():
    store, dispatcher = MemoryStore(), RecordingDispatcher()
    state = MemoryState()
    scheduler, depths = paced(state, dispatcher, store)
    scheduler.sender.chunks.observe("workflows.control_flow:shaky", 0.001)
    spec_key = put_blob(store, cf.chunked_map.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
                       "workflow": "chunked_map",
                       "inputs": encode_inputs(cf.chunked_map, {"n": 200}, store)}])
    [ints] = depths.take()
    scheduler.handle(chunk_reports(store, ints))
    chunk = next(d for d in depths.take() if d.items)
    bodies = chunk_reports(store, chunk)
    scheduler.handle(bodies)
    with state.transaction() as tx:
        events = len(tx.events("e1"))
    assert scheduler.handle(bodies).refused == []  # delivered twice
    with state.transaction() as tx:
        assert len(tx.events("e1")) == events


# ---- sibling nodes of a dynamic ----------------------------------------------------------------

def run_fan(wf, n):
    """Run `wf(n=n)` through a scheduler whose `shaky` task is measured (so it chunks), a
    'worker' running each chunk item by item; the execution row, its node rows and the chunks
    sent."""
    store, dispatcher = MemoryStore(), RecordingDispatcher()
    state = MemoryState()
    scheduler, depths = paced(state, dispatcher, store)
    scheduler.sender.chunks.observe("workflows.control_flow:shaky", 0.001)
    spec_key = put_blob(store, wf.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
                       "workflow": wf.name, "inputs": encode_inputs(wf, {"n": n}, store)}])
    chunks = []
    for _ in range(300):
        sent = depths.take()
        if not sent:
            break
        bodies = []
        for d in sent:
            if d.items:
                chunks.append(d)
            bodies += chunk_reports(store, d)
        assert [r.reason for r in scheduler.handle(bodies).refused] == []
        scheduler.flush()
    with state.transaction() as tx:
        execution = tx.get_execution("e1")
        nodes = {r["node_id"]: r for r in tx.nodes("e1")}
    return store, execution, nodes, chunks


def test_siblings_of_one_template_travel_in_chunks_and_run_as_if_alone():
    n = 300
    store, execution, nodes, chunks = run_fan(cf.chunked_fan, n)
    assert execution.status == "SUCCEEDED"
    assert shape_outputs(cf.chunked_fan.compile(), execution.outputs, store) == \
        [3 * x for x in range(n) if x not in (13, 113)]
    assert chunks and sum(len(c.items) for c in chunks) > n // 2
    for chunk in chunks:
        payload = check_chunk(chunk.args, None)[2]
        xs = [item["inputs"]["x"]["val"]["v"] for item in payload["items"]]
        # One template a chunk: the nodes with an extra retry never ride with the others.
        assert len({x % 10 == 5 for x in xs}) == 1, xs
        assert payload["spec"]["retries"] == (2 if xs[0] % 10 == 5 else 1)
        # Each item runs under its own node id, not the first item's.
        for item in payload["items"]:
            assert item_payload(payload, item)["spec"]["id"] == item["node"].rsplit("/", 1)[1]
    # A node that failed once was retried on its own; its neighbours ran once.
    retried = [row for row in nodes.values() if row["attempt"] == 2]
    assert retried and all(row["state"] == "SUCCEEDED" for row in retried)
    assert sum(row["attempt"] for row in nodes.values() if "/" in row["node_id"]) \
        == len([r for r in nodes.values() if "/" in r["node_id"]]) + len(retried)


def test_a_sibling_that_fails_for_good_fails_the_execution():
    _, execution, nodes, chunks = run_fan(cf.chunked_fan_failing, 200)
    assert chunks and execution.status == "FAILED"
    failed = [row for row in nodes.values() if row["state"] == "FAILED" and "/" in row["node_id"]]
    assert failed and failed[0]["attempt"] == 2
    assert "13 always fails" in failed[0]["error"]["message"]
    # In-process nothing is retried, as in flytekit: the first failed attempt ends the call.
    with pytest.raises(RuntimeError, match="first try of 0"):
        cf.chunked_fan_failing(n=200)


def test_a_chunk_item_s_id_must_be_its_node_s_own():
    d = chunk_args()
    good = {**d.payload["items"][0], "id": "0"}
    payload = check_chunk([d.args[0], d.args[1], {**d.payload, "items": [good]}], None)[2]
    assert item_payload(payload, payload["items"][0])["spec"] == {"id": "0", "kind": "task"}
    forged = {**d.payload["items"][0], "id": "7"}
    with pytest.raises(MessageError, match="is not the node's own"):
        check_chunk([d.args[0], d.args[1], {**d.payload, "items": [forged]}], None)


def test_the_loop_reads_fewer_entries_after_entries_that_carried_many_reports():
    from scheduler.loop import BATCH_REPORTS, BATCH_SIZE, read_count

    assert read_count([]) == BATCH_SIZE
    assert read_count([{"type": "report"}] * 10) == BATCH_SIZE
    chunk = {"type": "reports", "reports": [{}] * 64}
    assert read_count([chunk] * 40) == BATCH_REPORTS // 64
    assert read_count([chunk, {"type": "submit"}]) == 2 * BATCH_REPORTS // 65
    assert read_count([{"type": "reports", "reports": [{}] * 5000}]) == 1
