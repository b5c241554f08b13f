"""The graph page's pure parts added for issue 25: `GRAFT_UI_AUTH` parsing and matching
(`sdk.ui.auth`), and the timeline's rows (`sdk.ui.timeline`)."""

from __future__ import annotations

import base64

import pytest

from sdk.model.errors import ConfigError
from sdk.ui.auth import OPERATOR, READ, identify, is_loopback, parse
from sdk.ui.timeline import rows


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_setting_reads_basic_and_bearer_entries_with_roles(tmp_path):
    creds = parse("basic:ada:pw:with:colons:operator, basic:rita:r\nbearer:tok:read")
    assert [(c.kind, c.name, c.secret, c.role) for c in creds] == [
        ("basic", "ada", b"pw:with:colons", OPERATOR), ("basic", "rita", b"r", READ),
        ("bearer", "token 3", b"tok", READ)]
    path = tmp_path / "auth"
    path.write_text("bearer:from-file:operator\n")
    assert parse(f"@{path}")[0].secret == b"from-file"
    assert parse("") == [] and parse(None) == []


@pytest.mark.parametrize("bad", ["basic:onlyname", "basic::pw", "bearer:", "digest:a:b",
                                 "basic:a:pw,bearer"])
def test_a_malformed_entry_is_named_by_number_not_repeated(bad):
    with pytest.raises(ConfigError, match="GRAFT_UI_AUTH entry") as caught:
        parse(bad)
    assert "pw" not in str(caught.value) and "onlyname" not in str(caught.value)


def test_credentials_match_exactly():
    creds = parse("basic:ada:pw:operator,bearer:tok-1:read")
    assert identify(creds, basic("ada", "pw")).role == OPERATOR
    assert identify(creds, basic("ada", "pw2")) is None
    assert identify(creds, basic("ad", "pw")) is None
    assert identify(creds, "Bearer tok-1").role == READ
    assert identify(creds, "Bearer tok-") is None
    assert identify(creds, "Basic !!!") is None and identify(creds, "") is None


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.org"]))


def test_timeline_rows_split_queued_time_from_each_attempt():
    records = {
        "b": {"kind": "task", "state": "SUCCEEDED", "started_at": 100.0, "ended_at": 110.0,
              "history": [{"attempt": 1, "outcome": "error", "type": "RuntimeError",
                           "message": "boom", "duration_s": 2.0, "ended_at": 104.0},
                          {"attempt": 2, "outcome": "values", "duration_s": 3.0,
                           "ended_at": 110.0}]},
        "a": {"kind": "task", "state": "RUNNING", "started_at": 100.0},
        "never": {"kind": "task", "state": "PENDING"},
    }
    shown = rows(records, now=120.0)
    assert [r["id"] for r in shown["rows"]] == ["a", "b"] and shown["total"] == 2
    assert (shown["start"], shown["end"]) == (100.0, 120.0)
    b = shown["rows"][1]
    assert b["attempts"] == [
        {"attempt": 1, "outcome": "error", "start": 102.0, "end": 104.0,
         "error": "RuntimeError: boom"},
        {"attempt": 2, "outcome": "values", "start": 107.0, "end": 110.0}]
    assert (b["queued_s"], b["running_s"], b["total_s"]) == (5.0, 5.0, 10.0)
    assert shown["rows"][0]["ended"] is None and shown["rows"][0]["total_s"] == 20.0
    assert len(rows(records, 120.0, limit=1)["rows"]) == 1
