"""An outage is one line when lost and one when back: named, without a password, and "back"
only once the server answered."""

from __future__ import annotations

import logging

from scheduler.db import explain
from sdk.wire.connections import Outage


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
