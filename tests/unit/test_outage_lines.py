"""An outage is one line when lost and one when back: named, without a password, and "back"
only once the server answered."""

from __future__ import annotations

import logging

import pytest
import redis

import worker.leases as leases_mod
import worker.outage as outage_mod
from scheduler.db import explain
from sdk.model.config import Settings
from sdk.wire.connections import Outage


@pytest.fixture
def outage(monkeypatch, caplog):
    """A fresh worker OUTAGE, its lines captured."""
    fresh = Outage(logging.getLogger("graft.worker"))
    monkeypatch.setattr(outage_mod, "OUTAGE", fresh)
    monkeypatch.setattr(leases_mod, "OUTAGE", fresh)
    caplog.set_level(logging.INFO)
    return fresh


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_an_outage_names_what_it_lost_once_and_its_return_once(caplog):
    caplog.set_level(logging.INFO)
    db = Outage(logging.getLogger("graft.scheduler.database"), "database", "retrying")
    db.back()  # never lost: nothing to say
    db.lost("a")
    db.lost("b")
    assert db.down
    db.back()
    db.back()
    assert _lines(caplog)[0] == "database lost: a; retrying"
    assert _lines(caplog)[1].startswith("database is back after ")
    assert len(caplog.records) == 2 and [r.levelname for r in caplog.records] == \
        ["ERROR", "WARNING"]


def test_a_database_error_is_one_line_naming_the_database_without_its_password():
    from sqlalchemy.exc import OperationalError

    exc = OperationalError("BEGIN; UPDATE graft_shards SET owner = owner",
                           None, RuntimeError("terminating connection\nDETAIL: more"))
    line = explain(exc, "postgresql+psycopg://graft:hunter2@db:5432/graft")
    assert line == ("postgresql+psycopg://graft:***@db:5432/graft does not answer "
                    "(RuntimeError: terminating connection)")


class Leases:
    """Stands in for the Redis leases: counts the commands a pass sends."""

    def __init__(self):
        self.sent = 0

    def renew(self, keys, existing=None):
        self.sent += bool(keys or existing)

    def release(self, keys, if_reported=None):
        self.sent += bool(keys or if_reported)

    def superseded(self, keys):
        self.sent += bool(keys)
        return set()


def _keeper() -> leases_mod.LeaseKeeper:
    k = leases_mod.LeaseKeeper(Settings(broker_url="redis://127.0.0.1:1/0"))
    k.leases = Leases()
    k._start = lambda: None  # no lease thread: the test runs its passes
    return k


def test_a_lease_pass_that_sends_nothing_does_not_say_the_broker_is_back(outage, caplog):
    k = _keeper()
    outage.lost("Redis went away")
    assert k._pass(tick=True) and k.leases.sent == 0
    assert outage.down  # nothing was sent: nothing says Redis answers
    k.hold(("e1", "n", 1))
    assert k._pass(tick=True) and k.leases.sent == 1  # renewed
    assert not outage.down
    assert [m.split(" after")[0] for m in _lines(caplog)] == [
        "broker lost: Redis went away; reconnecting", "broker is back"]


def test_a_failed_lease_pass_keeps_what_it_had_to_release(outage):
    k = _keeper()

    def down(keys, if_reported=None):
        raise redis.ConnectionError("Connection refused")

    k.hold(("e1", "n", 1))
    k.drop(("e1", "n", 1))
    k.leases.release = down
    assert not k._pass(tick=True)
    assert outage.down and k._released == [("e1", "n", 1)]


def _record(name: str, msg: str, args: tuple, exc: BaseException | None = None,
            level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args,
                             (type(exc), exc, None) if exc is not None else None)


def test_celerys_lost_and_connected_lines_become_the_one_pair(outage, caplog):
    lines = outage_mod.CeleryBrokerLines("redis://:pw@127.0.0.1:6390/0")
    refused = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection "
                                    "refused.")
    # Celery's words are in the arguments: '%s (%r)', (CONNECTION_RETRY, exc)
    assert not lines.filter(_record("celery.worker.consumer.consumer", "%s (%r)", (
        "consumer: Connection to broker lost. Trying to re-establish the connection...",
        refused)))
    assert not lines.filter(_record(
        "celery.worker.consumer.consumer", "consumer: Cannot connect to %s: %s.\n%s\n",
        ("redis://:**@127.0.0.1:6390/0", refused, "Trying to reconnect..."), level=40))
    assert outage.down
    connected = _record("celery.worker.consumer.connection", "Connected to %s",
                        ("redis://:**@127.0.0.1:6390/0",), level=logging.INFO)
    assert not lines.filter(connected) and not outage.down
    assert lines.filter(connected)  # when nothing was lost, Celery's line stays
    said = _lines(caplog)
    assert len(said) == 2 and said[0].startswith(
        "broker lost: no Redis answers at redis://:***@127.0.0.1:6390/0 (ConnectionError: "
        "Error 111")


def test_celerys_loss_warning_and_its_step_restart_traceback_are_dropped():
    warning = _record("py.warnings", "%s", (
        "/x/consumer.py:427: CPendingDeprecationWarning: \nIn Celery 5.1 we introduced an "
        "optional breaking change which\non connection loss cancels all currently executed "
        "tasks with late acknowledgement enabled.",))
    assert not outage_mod.LossWarning().filter(warning)
    assert outage_mod.LossWarning().filter(_record("py.warnings", "another warning", ()))
    steps = outage_mod.ClosedStepChannels()
    none_conn = AttributeError("'NoneType' object has no attribute 'connection_errors'")
    assert not steps.filter(_record("celery.bootsteps", "Error on %s %s: %r",
                                    ("restarting", "Gossip", none_conn), none_conn, 40))
    other = AttributeError("'Gossip' object has no attribute 'x'")
    assert steps.filter(_record("celery.bootsteps", "Error on %s %s: %r",
                                ("restarting", "Gossip", other), other, 40))
