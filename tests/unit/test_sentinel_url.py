"""Celery's `sentinel://` broker URL: parsing, the settings folded into it, what Celery is
handed, redaction, one-line errors; and how the scheduler tells a failover from an emptied
Redis (scheduler/epoch.py)."""

from __future__ import annotations

import pytest
from redis.sentinel import MasterNotFoundError

from scheduler.epoch import Change, Epoch
from sdk.model.config import Settings, with_sentinel_options
from sdk.model.errors import ConfigError
from sdk.wire import sentinel
from sdk.wire.connections import explain, redact

URL = "sentinel://:p%40ss@h1:26379/3;sentinel://h2:26380;sentinel://h3"


def test_a_celery_url_with_the_master_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRAFT_BROKER_URL", URL)
    monkeypatch.setenv("GRAFT_SENTINEL_MASTER", "mymaster")
    monkeypatch.setenv("GRAFT_SENTINEL_PASSWORD", "s&p")
    url = Settings.from_env().broker_url
    assert url == URL + "?master_name=mymaster&sentinel_password=s%26p"
    parsed = sentinel.parse(url)
    assert parsed.sentinels == (("h1", 26379), ("h2", 26380), ("h3", 26379))
    assert (parsed.master, parsed.password, parsed.db, parsed.sentinel_password) == (
        "mymaster", "p@ss", 3, "s&p")
    assert "p@ss" not in repr(parsed) and "s&p" not in repr(parsed)


def test_options_written_in_the_url_win_and_other_urls_are_untouched():
    written = "sentinel://h1;sentinel://h2?master_name=inurl"
    assert with_sentinel_options(written, "fromenv", "") == written
    assert with_sentinel_options("redis://h:6379/0", "m", "p") == "redis://h:6379/0"


def test_celery_gets_its_url_and_transport_options():
    url = with_sentinel_options(URL, "mymaster", "sp")
    broker, options = sentinel.celery_broker(url)
    # every part carries the master's password and database: kombu moves on to the next
    # sentinel's part when a connection fails, and reads them from that part
    assert broker == ("sentinel://:p%40ss@h1:26379/3;sentinel://:p%40ss@h2:26380/3;"
                      "sentinel://:p%40ss@h3:26379/3")
    assert options == {"master_name": "mymaster", "sentinel_kwargs": {"password": "sp"}}


def test_passwords_are_hidden():
    url = with_sentinel_options(URL, "mymaster", "sp")
    hidden = redact(url)
    assert "p%40ss" not in hidden and "sp&" not in hidden and not hidden.endswith("=sp")
    assert hidden.startswith("sentinel://:***@h1:26379/3;") and "master_name=mymaster" in hidden


@pytest.mark.parametrize("url, words", [
    ("sentinel://h1;sentinel://h2", "GRAFT_SENTINEL_MASTER"),
    ("sentinel://h1;redis://h2?master_name=m", "not a sentinel:// URL"),
    ("sentinel://h1/x?master_name=m", "not a number"),
    ("sentinel://h1?master_name=m&socket_timeout=1", "unknown option 'socket_timeout'"),
])
def test_bad_urls_are_one_line(url, words):
    with pytest.raises(ConfigError) as info:
        sentinel.parse(url)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_errors_name_the_sentinels_and_the_master():
    url = with_sentinel_options("sentinel://a:1;sentinel://b:2", "mymaster")
    repr_heavy = ("No master found for 'mymaster' : <redis.client.Redis(...)> - ConnectionError: "
                  "Error 111 connecting to a:1. Connection refused., <redis.client.Redis(...)> "
                  "- ConnectionError: Error 111 connecting to b:2. Connection refused.")
    line = explain(MasterNotFoundError(repr_heavy), url)
    assert line.startswith("the sentinels a:1, b:2 (master 'mymaster') name no master "
                           "(no answer from a:1, b:2)")
    assert "redis.client" not in line
    down = explain(ConnectionError("Connection refused"), url)
    assert "sentinels a:1, b:2 (master 'mymaster')" in down


class FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.run_id = "one"

    def info(self, section: str) -> dict[str, str]:
        return {"run_id": self.run_id}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: str, nx: bool = False) -> None:
        self.data.setdefault(key, value.encode())


def test_an_epoch_tells_a_failover_from_an_emptied_redis():
    client = FakeRedis()
    epoch = Epoch(client, "graft:epoch", follow_server=True)  # type: ignore[arg-type]
    assert epoch.check() is Change.NONE  # the first look only records
    assert epoch.check() is Change.NONE
    client.run_id = "two"  # a replica promoted: same data up to a point, another server
    assert epoch.check() is Change.FAILED_OVER
    assert epoch.check() is Change.NONE
    client.data.clear()
    assert epoch.check() is Change.EMPTIED
    plain = Epoch(client, "graft:epoch")  # type: ignore[arg-type]
    plain.check()
    client.run_id = "three"  # a redis:// URL names one server: a restart with its data is
    assert plain.check() is Change.NONE  # no loss to recover from, as before
