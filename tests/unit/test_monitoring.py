"""What Celery monitors (Flower) see of graft's messages and attempts: argsrepr, the sent
event's name, FAILURE versus RETRY, and the `graft flower` command line."""

from __future__ import annotations

import pickle

import pytest
from celery.exceptions import Retry

from scheduler.dispatch import RecordingDispatcher, inputs_preview, items_preview
from scheduler.service import Scheduler
from scheduler.state import MemoryState
from sdk import map_task, task, workflow
from sdk.cli_flower import flower_argv
from sdk.model.config import Settings
from sdk.model.errors import ConfigError
from sdk.values.shapes import encode_inputs
from sdk.values.store import MemoryStore, put_blob
from sdk.wire.celery_app import make_app, tier_queues
from sdk.wire.keys import TASK_NAME
from worker.attempt import run_attempt
from worker.monitor import NodeFailed, failure_for_monitors, will_retry


@task(retries=1)
def refuse_odd(x: int) -> int:
    if x % 2:
        raise ValueError(f"odd input {x}")
    return x


@workflow
def refuse_wf(x: int) -> int:
    return refuse_odd(x=x)


def test_failed_attempt_is_a_retry_while_retries_are_left_then_a_failure():
    store = MemoryStore()
    state = MemoryState()
    dispatcher = RecordingDispatcher()
    scheduler = Scheduler(Settings(database_url=state.url), state, dispatcher, store)
    spec = put_blob(store, refuse_wf.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": "e1", "spec": spec, "workflow": "wf",
                       "inputs": encode_inputs(refuse_wf, {"x": 3}, store)}])
    [first] = dispatcher.sent
    assert first.payload["retries_left"] == {"USER": 1, "SYSTEM": 3}
    assert first.argsrepr == "execution=e1 node=refuse_odd attempt=1 inputs={x: 3}"
    assert first.payload["token"] not in first.argsrepr

    dispatcher.sent = []
    report = run_attempt(store, *first.args)
    assert report["outcome"] == "error"
    shown = failure_for_monitors(report, first.payload)
    assert isinstance(shown, Retry) and repr(shown.exc) == "ValueError('odd input 3')"
    assert "attempt 1 failed" in str(shown)

    scheduler.handle([report])
    [second] = dispatcher.sent
    assert second.attempt == 2 and second.payload["retries_left"]["USER"] == 0
    shown = failure_for_monitors(run_attempt(store, *second.args), second.payload)
    assert isinstance(shown, NodeFailed)
    assert repr(shown) == "ValueError('odd input 3')" and "raise ValueError" in shown.traceback


def test_node_failed_survives_the_pool_pipe():
    """Celery pickles a pool process's exception to the worker's main process."""
    failed = NodeFailed("KeyError", "'k'", "Traceback ...", "USER")
    again = pickle.loads(pickle.dumps(failed))
    assert repr(again) == repr(failed) == "KeyError(\"'k'\")"
    assert again.traceback == "Traceback ..."
    retry = pickle.loads(pickle.dumps(Retry("again", exc=failed)))
    assert repr(retry.exc) == repr(failed)


@pytest.mark.parametrize("kind, left, expected", [
    ("USER", {"USER": 2, "SYSTEM": 0}, True),
    ("USER", {"USER": 0, "SYSTEM": 3}, False),
    ("SYSTEM", {"USER": 0, "SYSTEM": 1}, True),
    ("DATA", {"USER": 5, "SYSTEM": 5}, False),
    ("USER", None, False),  # a message from a scheduler that did not say
])
def test_will_retry_by_the_attempts_left_for_the_failure_kind(kind, left, expected):
    payload = {} if left is None else {"retries_left": left}
    assert will_retry({"kind": kind}, payload) is expected


def test_inputs_preview_is_short_and_shows_stored_values_by_name():
    inputs = {"n": {"val": {"v": 3}}, "big": {"val": {"u": "values/abc"}},
              "xs": {"val": {"v": list(range(100))}}}
    text = inputs_preview(inputs)
    assert text.startswith("{n: 3, big: <stored>, xs: [0,1,2")
    assert len(text) == 100 and text.endswith("…")
    assert inputs_preview({}) == "{}"


@task
def tens(n: int) -> list[int]:
    return list(range(10, 10 + n))


@task
def double(x: int) -> int:
    return 2 * x


@workflow
def map_wf(n: int) -> list[int]:
    return map_task(double)(x=tens(n=n))


def test_map_items_show_their_values_not_grafts_bindings():
    """A map item's input is a path into the mapped list: Flower's row shows the item."""
    store, state, dispatcher = MemoryStore(), MemoryState(), RecordingDispatcher()
    scheduler = Scheduler(Settings(database_url=state.url, chunk_items=1), state, dispatcher,
                          store)
    spec = put_blob(store, map_wf.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": "e2", "spec": spec, "workflow": "wf",
                       "inputs": encode_inputs(map_wf, {"n": 3}, store)}])
    [first] = dispatcher.sent
    dispatcher.sent = []
    scheduler.handle([run_attempt(store, *first.args)])
    assert [d.argsrepr for d in dispatcher.sent] == [
        f"execution=e2 node=map_double/{i} attempt=1 inputs={{x: {10 + i}}}" for i in range(3)]


def test_a_chunk_previews_each_items_inputs_and_stored_lists_by_place():
    item = {"path": {"of": {"val": {"v": [10, 11, 12]}}, "steps": [["index", 1]],
                     "from": "tens.o0"}}
    stored = {"path": {"of": {"val": {"u": "values/abc"}}, "steps": [["index", 2]],
                       "from": "tens.o0"}}
    assert inputs_preview({"x": item, "y": stored}) == "{x: 11, y: <stored: tens.o0[2]>}"
    text = "{x: 0}"
    for i in range(1, 40):
        text = items_preview(text, f"{{x: {i}}}")
    assert text.startswith("{x: 0} {x: 1} {x: 2} ") and len(text) == 100
    assert text.endswith("…")


def test_sent_event_carries_the_users_task_name(monkeypatch):
    monkeypatch.setenv("GRAFT_TASK_SENT_EVENTS", "1")
    app = make_app(Settings(broker_url="memory://"))
    assert app.conf.task_send_sent_event is True
    message = app.amqp.create_task_message("id-1", TASK_NAME, ["e", "n", 1, {}], {},
                                           create_sent_event=True, shadow="mod.user_task",
                                           argsrepr="execution=e node=n attempt=1")
    assert message.headers["task"] == TASK_NAME  # the worker still runs graft.run_node
    assert message.sent_event["name"] == "mod.user_task"
    assert message.sent_event["args"] == "execution=e node=n attempt=1"
    plain = app.amqp.create_task_message("id-2", TASK_NAME, [], {}, create_sent_event=True)
    assert plain.sent_event["name"] == TASK_NAME


def test_the_app_knows_every_tier_queue():
    settings = Settings(broker_url="memory://")
    names = [q.name for q in make_app(settings).conf.task_queues]
    assert names == [q.name for q in tier_queues(settings)]
    assert names[0] == "mem-256Mi" and len(names) == len(settings.tiers)


def test_flower_argv():
    assert flower_argv(5566, "0.0.0.0", "a:b,c:d", ("--max_tasks=10",)) == [
        "flower", "--port=5566", "--address=0.0.0.0", "--basic_auth=a:b,c:d", "--max_tasks=10"]
    assert flower_argv(5555, "127.0.0.1", None, ()) == [
        "flower", "--port=5555", "--address=127.0.0.1"]
    with pytest.raises(ConfigError, match="user:password"):
        flower_argv(5555, "127.0.0.1", "justauser", ())


def test_graft_flower_reads_flowers_port_and_address_variables(monkeypatch):
    """docker-compose sets FLOWER_ADDRESS=0.0.0.0: graft's own defaults must not hide it."""
    from click.testing import CliRunner

    import sdk.cli_flower
    import sdk.wire.celery_app
    import sdk.wire.connections

    started = []
    app = type("App", (), {"start": lambda self, argv: started.append(argv)})()
    monkeypatch.setattr(sdk.wire.connections, "check_redis", lambda url: None)
    monkeypatch.setattr(sdk.wire.celery_app, "make_app", lambda settings: app)
    monkeypatch.setattr(sdk.cli_flower, "list_every_queue", lambda names: None)
    monkeypatch.setenv("FLOWER_PORT", "6001")
    monkeypatch.setenv("FLOWER_ADDRESS", "0.0.0.0")
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "u:p")
    result = CliRunner().invoke(sdk.cli_flower.flower, ["--persistent=True"])
    assert result.exit_code == 0, result.output
    assert started == [["flower", "--port=6001", "--address=0.0.0.0", "--persistent=True"]]
    assert "no authentication" not in result.output
