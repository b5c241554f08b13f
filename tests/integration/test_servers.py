"""The throwaway servers of tests/servers.py: private, on their own ports, and gone after."""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest
import redis
import servers
from servers import PostgresServer, RedisServer, ServerError, port_open


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_private_redis_answers_on_its_own_port_and_restarts_empty(private_redis):
    server = private_redis()
    assert server.port not in (6379, None)
    assert server.url == f"redis://127.0.0.1:{server.port}"
    client = redis.Redis.from_url(f"{server.url}/3", socket_timeout=5)
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"
    port, pid = server.port, server.pid

    server.restart_empty()
    assert server.port == port and server.pid != pid and server.alive()
    assert redis.Redis.from_url(f"{server.url}/3", socket_timeout=5).get("k") is None
    assert _gone(pid)


def test_stop_kill_and_start_again_on_the_same_port(private_redis):
    server = private_redis()
    port, pid = server.port, server.pid
    server.stop()
    assert not server.alive() and not port_open(port) and _gone(pid)
    server.start()
    assert server.port == port and server.alive()
    pid = server.pid
    server.kill()
    assert not server.alive() and not port_open(port) and _gone(pid)
    server.start()
    assert redis.Redis.from_url(server.url, socket_timeout=5).ping()


def test_password_in_the_url_works_and_a_wrong_one_fails(private_redis):
    server = private_redis(password="s3cret/with:odd@chars")
    assert server.url == f"redis://:s3cret%2Fwith%3Aodd%40chars@127.0.0.1:{server.port}"
    assert redis.Redis.from_url(server.url, socket_timeout=5).ping()
    # retry=None: redis-py retries authentication errors with a backoff otherwise
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=server.port, password="wrong", socket_timeout=5, retry=None).ping()
    with pytest.raises(redis.AuthenticationError):  # NOAUTH
        redis.Redis(port=server.port, socket_timeout=5, retry=None).ping()
    assert server.alive()


def test_close_leaves_no_process_and_no_folder():
    if servers.why_unavailable("redis"):
        pytest.skip(servers.why_unavailable("redis"))
    server = RedisServer().start()
    pid, folder = server.pid, server.dir
    server.close()
    assert _gone(pid) and not folder.exists()
    server.close()  # idempotent
    with pytest.raises(ServerError, match="closed"):
        server.start()


def test_session_servers_are_private(redis_server):
    if os.environ.get("GRAFT_IT_REDIS"):
        pytest.skip("GRAFT_IT_REDIS is set: the session uses that Redis on purpose")
    assert isinstance(redis_server, RedisServer) and redis_server.alive()
    assert redis_server.port != 6379


def test_missing_binary_is_one_line_and_start_says_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = servers.why_unavailable("redis")
    assert reason and "\n" not in reason
    assert "redis-server" in reason and "apt-get install redis-server" in reason
    server = RedisServer()
    try:
        with pytest.raises(ServerError, match="redis-server is not on PATH"):
            server.start()
    finally:
        server.close()

    monkeypatch.setattr(servers, "find_postgres_bin", lambda: None)
    reason = servers.why_unavailable("postgres")
    assert reason and "\n" not in reason and "apt-get install postgresql" in reason


def test_postgres_creates_and_drops_a_database(postgres_server):
    from sqlalchemy import create_engine, text

    name = f"graft_srv_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    assert url == postgres_server.url_for(name)
    if isinstance(postgres_server, PostgresServer):
        assert postgres_server.port != 5432 and postgres_server.alive()
        assert url == f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/{name}"
    engine = create_engine(url)
    conn = engine.connect()
    try:
        user, database = conn.execute(text("select current_user, current_database()")).one()
        assert (user, database) == ("postgres", name)
        postgres_server.drop_database(name)  # with `conn` still open: it is disconnected
    finally:
        with contextlib.suppress(Exception):
            conn.close()
        engine.dispose()
    admin = create_engine(postgres_server.url_for("postgres"))
    try:
        with admin.connect() as conn:
            assert conn.execute(text("select count(*) from pg_database where datname = :d"),
                                {"d": name}).scalar() == 0
    finally:
        admin.dispose()
    postgres_server.drop_database(name)  # a missing database is no error
