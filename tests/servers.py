"""Throwaway Redis and PostgreSQL servers for the tests: no test touches a server it did not start.

`RedisServer` runs `redis-server` (from PATH) and `PostgresServer` runs a fresh PostgreSQL
cluster (`initdb` + `postgres`, from PATH or /usr/lib/postgresql/*/bin), each on a free
127.0.0.1 port, in its own temporary folder, keeping nothing on disk worth keeping. Both run as
child processes of this Python process, tracked by pid:

- `stop()` / `kill()` signal that pid only (never a name), wait for it, and wait for the port to
  close; every wait is bounded and raises `ServerError` with a one-line message (the log tail is
  in `.details`);
- an atexit hook stops whatever is still running, and on Linux each server also gets SIGKILL
  from the kernel when the thread that started it dies (PR_SET_PDEATHSIG), so none outlives a
  pytest that was itself killed. Start servers from the main thread (fixtures do).

PostgreSQL refuses to run as root: as root, `initdb` and `postgres` run as the `postgres` system
user, which owns the server's folder; otherwise they run as the current user. The superuser is
always `postgres` (initdb -U postgres), with trust authentication, reachable only on 127.0.0.1
and on a unix socket inside the server's folder.

`why_unavailable("redis" | "postgres")` says in one line why a server cannot be started here,
or returns None.

`ExternalRedis` / `ExternalPostgres` wrap servers that someone else runs, with the same `url`,
`url_for`, `create_database`, `drop_database`; the integration conftest uses them only when
GRAFT_IT_REDIS / GRAFT_IT_POSTGRES ask for it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

_BASE_TMP = os.environ.get("TMPDIR") or "/tmp"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
INSTALL_HINT = {"redis": "Debian: apt-get install redis-server",
                "postgres": "Debian: apt-get install postgresql"}
_AVOID_PORTS = {5432, 6379}  # the usual system servers' ports: never ours, even by chance


class ServerError(RuntimeError):
    """A server could not be started or stopped. `str()` is one line; `details` holds the end of
    the server's log when there is one."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


# ---- helpers ----------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _AVOID_PORTS:
            return port
    raise ServerError("could not find a free TCP port on 127.0.0.1")


def port_open(port: int, timeout_s: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _wait_port_closed(port: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while port_open(port):
        if time.monotonic() > deadline:
            raise ServerError(f"{what}: port {port} still open {timeout_s:.0f} s after its "
                              f"process exited")
        time.sleep(0.02)


def _tail(path: Path, lines: int = 30, start: int = 0) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        _prctl = None
else:  # pragma: no cover
    _prctl = None
try:
    _shmctl = ctypes.CDLL(None, use_errno=True).shmctl
except (OSError, AttributeError):  # pragma: no cover
    _shmctl = None


def _die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGKILL to the server when the thread that started it dies.
    Runs after the child switched user (so the setting survives the switch)."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


_LIVE: list[Any] = []


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.close()


class _Child:
    """The part both servers share: one child process, in its own session, logging to a file."""

    name = "server"

    def __init__(self, prefix: str):
        # Not under tempfile.tempdir: tests point that at their own tmp_path, which another
        # user (PostgreSQL's) cannot enter, and a session server outlives the test.
        self.dir = Path(tempfile.mkdtemp(prefix=prefix, dir=_BASE_TMP))
        self.log = self.dir / f"{self.name}.log"
        self.port: int | None = None
        self.popen: subprocess.Popen[bytes] | None = None
        self._log_start = 0
        self._closed = False
        _LIVE.append(self)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def running(self) -> bool:
        """Our process exists and has not exited (says nothing about answering)."""
        return self.popen is not None and self.popen.poll() is None

    def _spawn(self, argv: list[str], **kwargs: Any) -> None:
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        try:
            with open(self.log, "ab") as out:
                self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True,
                                              preexec_fn=_die_with_parent, **kwargs)
        except OSError as exc:
            raise ServerError(f"cannot run {argv[0]}: {exc}") from exc

    def _start_failure(self, port: int, timeout_s: float, in_use: bool) -> ServerError:
        """Kill the failed start and say in one line what went wrong (the log in `details`)."""
        assert self.popen is not None
        code = self.popen.poll()
        log = self.log_tail()
        self._kill_now()
        if in_use:
            what = f"port 127.0.0.1:{port} is in use by another process"
        elif code is not None:
            what = f"exited at start (code {code}): {_last_line(log)}"
        else:
            what = f"did not answer on 127.0.0.1:{port} within {timeout_s:.0f} s"
        return ServerError(f"{self.name} {what}", log)

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.log, lines, self._log_start)

    def _signal(self, sig: int) -> None:
        # Only while unreaped: after that the pid may belong to someone else.
        if self.running():
            assert self.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, sig)

    def _stop(self, first: int, timeout_s: float) -> None:
        if self.popen is None:
            return
        if self.running():
            self._signal(first)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout_s)
        if self.running():
            self._kill_now()
        self._after_exit(timeout_s)

    def _kill_now(self) -> None:
        assert self.popen is not None
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # its whole session: no orphans
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ServerError(f"{self.name} (pid {self.popen.pid}) survived SIGKILL for "
                              f"{STOP_TIMEOUT_S:.0f} s") from exc

    def _after_exit(self, timeout_s: float) -> None:
        if self.port is not None:
            _wait_port_closed(self.port, timeout_s, f"{self.name} on port {self.port}")

    def kill(self) -> None:
        """SIGKILL (the server's whole process group), then wait for its port to close."""
        if self.popen is not None:
            self._kill_now()
            self._after_exit(STOP_TIMEOUT_S)

    def close(self) -> None:
        """Stop the server and remove its folder. Idempotent; run at exit for the forgotten."""
        if self._closed:
            return
        try:
            self.stop()
        except Exception:
            if self.popen is not None and self.running():
                self._kill_now()
        finally:
            self._closed = True
            shutil.rmtree(self.dir, ignore_errors=True)
            with contextlib.suppress(ValueError):
                _LIVE.remove(self)

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- Redis ------------------------------------------------------------------------------------

def _resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def redis_ping(port: int, password: str | None = None, timeout_s: float = 0.5) -> bytes | None:
    """The server's reply to PING (after AUTH when a password is given), or None when nothing
    answers on the port. Plain socket: works without the redis package."""
    request = (_resp("AUTH", password) if password else b"") + _resp("PING")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(request)
            reply = b""
            deadline = time.monotonic() + timeout_s
            while b"PONG" not in reply and reply.count(b"\r\n") < (2 if password else 1):
                if time.monotonic() > deadline:
                    break
                chunk = s.recv(256)
                if not chunk:
                    break
                reply += chunk
            return reply or None
    except OSError:
        return None


class RedisServer(_Child):
    """A private `redis-server` on 127.0.0.1:`port`, with no persistence unless `persistent`
    (then an append-only file, fsynced on every write, so `stop()` then `start()` is a restart
    that keeps the data, as an operator's restart of a persistent Redis).

    `RedisServer(password=None).start()`; `url` is redis://[:password@]127.0.0.1:PORT (append
    `/N` for a database). `restart_empty()` stops it and starts it again on the same port,
    empty. `stop()` is SIGTERM then SIGKILL; `kill()` is SIGKILL. `args` are more
    redis-server options (`["--replicaof", "127.0.0.1", "6380"]`).
    """

    name = "redis-server"

    def __init__(self, password: str | None = None, binary: str | None = None,
                 persistent: bool = False, args: list[str] | None = None):
        super().__init__("graft-redis-")
        self.password = password
        self.persistent = persistent
        self.args = list(args or [])
        self.binary = binary or shutil.which("redis-server")

    @property
    def url(self) -> str:
        if self.port is None:
            raise ServerError("redis-server has not been started: no URL yet")
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped"
        return f"<RedisServer 127.0.0.1:{self.port} pid={self.pid} {state}>"

    def alive(self) -> bool:
        """Our process runs and answers PING (with the password when there is one)."""
        return (self.running() and self.port is not None
                and b"+PONG" in (redis_ping(self.port, self.password) or b""))

    def start(self, timeout_s: float = START_TIMEOUT_S) -> RedisServer:
        """Start on a free port (or on the port it had before); return once it answers PING."""
        if self._closed:
            raise ServerError("this RedisServer was closed; make a new one")
        if self.running():
            raise ServerError(f"redis-server already running (pid {self.pid})")
        reason = why_unavailable("redis") if self.binary is None else None
        if reason:
            raise ServerError(reason)
        assert self.binary is not None
        keep_port = self.port is not None
        deadline = time.monotonic() + timeout_s
        seen_in_use = False
        while True:
            port = self.port if keep_port else free_port()
            assert port is not None
            argv = [self.binary, "--port", str(port), "--bind", "127.0.0.1",
                    "--dir", str(self.dir), "--save", "",
                    "--appendonly", "yes" if self.persistent else "no",
                    "--appendfsync", "always", "--daemonize", "no", "--loglevel", "warning"]
            if self.password:
                argv += ["--requirepass", self.password]
            self._spawn(argv + self.args, cwd=self.dir)
            self.port = port
            if self._wait_ready(deadline):
                return self
            in_use = "Address already in use" in self.log_tail()
            seen_in_use |= in_use
            error = self._start_failure(port, timeout_s, seen_in_use)
            if not keep_port:
                self.port = None
            if in_use and time.monotonic() < deadline - 0.5:
                time.sleep(0 if not keep_port else 0.2)  # same port: wait for it to be free
                continue
            raise error

    def _wait_ready(self, deadline: float) -> bool:
        assert self.popen is not None and self.port is not None
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                return False
            if b"+PONG" in (redis_ping(self.port, self.password) or b""):
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`; returns once the port is closed."""
        self._stop(signal.SIGTERM, timeout_s)

    def restart_empty(self, timeout_s: float = START_TIMEOUT_S) -> RedisServer:
        """Stop, drop whatever is on disk, start again on the same port: an empty server."""
        self.stop()
        for leftover in ("dump.rdb", "appendonly.aof", "appendonlydir"):
            path = self.dir / leftover
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return self.start(timeout_s)


# ---- PostgreSQL -------------------------------------------------------------------------------

def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_postgres_bin() -> Path | None:
    """The folder holding `initdb` and `postgres` of one installation: the one on PATH first,
    then the newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH) or /usr/pgsql-*/bin."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
        candidates.append(Path(on_path).parent)
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"):
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=_version_key,
                                               reverse=True)]
    for folder in candidates:
        if all(os.access(folder / exe, os.X_OK) for exe in ("initdb", "postgres")):
            return folder
    return None


def _postgres_user() -> Any:
    import pwd

    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def why_unavailable(kind: str) -> str | None:
    """One line saying why a private server of `kind` ("redis" or "postgres") cannot be started
    on this machine, or None when nothing is missing."""
    if kind == "redis":
        if shutil.which("redis-server") is None:
            return f"redis-server is not on PATH ({INSTALL_HINT['redis']})"
        return None
    if kind == "postgres":
        reason = _postgres_server_reason()
        if reason:
            return reason
        try:  # create_database / drop_database and the tests connect with it
            import psycopg  # noqa: F401
        except ImportError:
            return "the psycopg package is missing (pip install -e '.[dev]')"
        return None
    raise ValueError(f"unknown server kind {kind!r}: 'redis' or 'postgres'")


def _postgres_server_reason() -> str | None:
    if find_postgres_bin() is None:
        return (f"PostgreSQL server binaries (initdb, postgres) are not on PATH nor in "
                f"/usr/lib/postgresql/*/bin ({INSTALL_HINT['postgres']})")
    if os.geteuid() == 0 and _postgres_user() is None:
        return ("running as root and there is no `postgres` system user to run PostgreSQL "
                "as (it refuses root; the postgresql package creates that user)")
    return None


class PostgresServer(_Child):
    """A private PostgreSQL cluster on 127.0.0.1:`port`, superuser `postgres`, trust auth.

    `PostgresServer().start()`; `url_for(db)` is postgresql+psycopg://postgres@127.0.0.1:PORT/db;
    `create_database(name)` / `drop_database(name)`. `stop()` is a fast shutdown (SIGINT), then
    SIGKILL; `kill()` is SIGKILL of the server's process group. Durability is off (fsync,
    synchronous_commit, full_page_writes), which is what a throwaway test server wants.
    """

    name = "postgres"
    superuser = "postgres"

    def __init__(self, bin_dir: str | Path | None = None):
        super().__init__("graft-pg-")
        found = Path(bin_dir) if bin_dir else find_postgres_bin()
        self.bin_dir = found
        self.data = self.dir / "data"
        self.timings: dict[str, float] = {}  # initdb_s, start_s of the last start
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = _postgres_user()
            if user is not None:
                self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
                os.chown(self.dir, user.pw_uid, user.pw_gid)
                os.chmod(self.dir, 0o700)

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped"
        return f"<PostgresServer 127.0.0.1:{self.port} pid={self.pid} {state}>"

    def url_for(self, database: str) -> str:
        if self.port is None:
            raise ServerError("PostgreSQL has not been started: no URL yet")
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The maintenance database `postgres`."""
        return self.url_for("postgres")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        if self._as:
            env.update(HOME=str(self.dir), USER="postgres", LOGNAME="postgres")
        return env

    def _initdb(self, deadline: float) -> None:
        assert self.bin_dir is not None
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", self.superuser,
                "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        try:
            done = subprocess.run(argv, cwd=self.dir, env=self._env(), capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL,
                                  timeout=max(1.0, deadline - time.monotonic()), **self._as)
        except subprocess.TimeoutExpired as exc:
            raise ServerError(f"initdb did not finish in time ({self.data})") from exc
        except OSError as exc:
            raise ServerError(f"cannot run {argv[0]}: {exc}") from exc
        if done.returncode != 0:
            out = done.stdout + done.stderr
            raise ServerError(f"initdb failed (exit {done.returncode}): {_last_line(out)}", out)

    def alive(self) -> bool:
        """Our postmaster runs and accepts TCP connections on its port."""
        return self.running() and self.port is not None and port_open(self.port)

    def start(self, timeout_s: float = START_TIMEOUT_S * 2) -> PostgresServer:
        """initdb (first time only), then start on a free port; return once it accepts
        connections."""
        if self._closed:
            raise ServerError("this PostgresServer was closed; make a new one")
        if self.running():
            raise ServerError(f"PostgreSQL already running (pid {self.pid})")
        reason = _postgres_server_reason()
        if reason:
            raise ServerError(reason)
        if self.bin_dir is None or not all(os.access(self.bin_dir / exe, os.X_OK)
                                           for exe in ("initdb", "postgres")):
            raise ServerError(f"no executable initdb and postgres in {self.bin_dir}")
        deadline = time.monotonic() + timeout_s
        began = time.monotonic()
        if not (self.data / "PG_VERSION").exists():
            self._initdb(deadline)
        self.timings["initdb_s"] = time.monotonic() - began
        keep_port = self.port is not None
        while True:
            began = time.monotonic()
            port = self.port if keep_port else free_port()
            assert port is not None
            argv = [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(port),
                    "-c", "listen_addresses=127.0.0.1",
                    "-c", f"unix_socket_directories={self.dir}",
                    "-c", "fsync=off", "-c", "synchronous_commit=off",
                    "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
                    "-c", "max_connections=100", "-c", "max_wal_size=256MB",
                    "-c", "logging_collector=off", "-c", "log_min_messages=warning"]
            self._spawn(argv, cwd=self.dir, env=self._env(), **self._as)
            self.port = port
            if self._wait_ready(deadline):
                self.timings["start_s"] = time.monotonic() - began
                return self
            log = self.log_tail()
            in_use = "could not bind" in log or "Address already in use" in log
            error = self._start_failure(port, timeout_s, in_use)
            if not keep_port:
                self.port = None
            if in_use and not keep_port and time.monotonic() < deadline - 0.5:
                continue
            raise error

    def _wait_ready(self, deadline: float) -> bool:
        assert self.popen is not None and self.port is not None
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                return False
            if ("ready to accept connections" in self.log_tail(200)
                    and port_open(self.port)):
                return True
            time.sleep(0.02)
        return False

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Fast shutdown (SIGINT: clients disconnected), SIGKILL after `timeout_s`; returns
        once the port is closed."""
        shmid = self._shmid()
        self._stop(signal.SIGINT, timeout_s)
        self._remove_shm(shmid)

    def restart(self, down_s: float = 0.0) -> PostgresServer:
        """Stop (fast shutdown), stay down `down_s`, start again on the same port with the
        same data: an operator's restart."""
        self.stop()
        time.sleep(down_s)
        return self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends (its process group), and free the shared
        memory segment a killed postmaster leaves behind."""
        shmid = self._shmid()
        super().kill()
        self._remove_shm(shmid)

    def _shmid(self) -> int | None:
        """The SysV segment id in postmaster.pid (line 7: key and id) while ours runs."""
        if not self.running():
            return None
        try:
            fields = (self.data / "postmaster.pid").read_text().splitlines()[6].split()
            return int(fields[1])
        except (OSError, IndexError, ValueError):
            return None

    @staticmethod
    def _remove_shm(shmid: int | None) -> None:
        # A clean shutdown removes it already; after SIGKILL it stays until removed. Stale
        # only once our postmaster and its backends are gone, so this runs after the wait.
        if shmid is not None and _shmctl is not None:
            _shmctl(shmid, 0, None)  # IPC_RMID; fails harmlessly when already gone

    # -- databases --

    def create_database(self, name: str) -> str:
        """Create database `name`; return its URL."""
        _admin_sql(self.url, f'CREATE DATABASE "{_ident(name)}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name` (disconnecting its clients); no error if it does not exist."""
        _drop(self.url, name)


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def _admin_sql(admin_url: str, *statements: str, params: dict[str, Any] | None = None) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            for sql in statements:
                conn.execute(text(sql), params or {})
    finally:
        engine.dispose()


def _drop(admin_url: str, name: str) -> None:
    _admin_sql(admin_url,
               "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
               "WHERE datname = :d AND pid <> pg_backend_pid()",
               f'DROP DATABASE IF EXISTS "{_ident(name)}"', params={"d": name})


# ---- servers run by someone else (opt-in only) ------------------------------------------------

class ExternalRedis:
    """A Redis the user pointed GRAFT_IT_REDIS at. Never started, stopped or emptied here
    (the tests still FLUSHDB the databases they use on it)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def __repr__(self) -> str:
        return f"<ExternalRedis {self.url}>"

    def alive(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=2).ping())
        except Exception:
            return False

    def check(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.url, socket_connect_timeout=2).ping()
        except Exception as exc:
            shown = re.sub(r"://([^@/]*):[^@/]*@", r"://\1:***@", self.url)
            raise ServerError(f"Redis not reachable at GRAFT_IT_REDIS={shown} "
                              f"({type(exc).__name__})") from exc


class ExternalPostgres:
    """A PostgreSQL the user pointed GRAFT_IT_POSTGRES at: the URL of a database to connect to
    in order to create and drop the tests' own databases."""

    def __init__(self, url: str):
        self.url = url

    def __repr__(self) -> str:
        return f"<ExternalPostgres {self.url}>"

    def url_for(self, database: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + database

    def check(self) -> None:
        try:
            _admin_sql(self.url, "select 1")
        except Exception as exc:
            raise ServerError(f"PostgreSQL not reachable at GRAFT_IT_POSTGRES={self.url} "
                              f"({type(exc).__name__})") from exc

    def create_database(self, name: str) -> str:
        _admin_sql(self.url, f'CREATE DATABASE "{_ident(name)}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        _drop(self.url, name)


# ---- a mail server and a webhook, in this process -------------------------------------------

class MailServer:
    """An SMTP server (aiosmtpd) on a free 127.0.0.1 port, in a thread of this process, that
    keeps what it receives: `.messages` (each an `email.message.EmailMessage` with its
    envelope's `mail_from` and `rcpt_tos` as attributes). `refuse` ({address: "550 ..."})
    refuses those recipients; `tls` ((certfile, keyfile)) offers STARTTLS. `start()` may be
    called again after `stop()` (same port): a server that was down comes back."""

    def __init__(self, refuse: dict[str, str] | None = None,
                 tls: tuple[str, str] | None = None, login: tuple[str, str] | None = None):
        self.port = free_port()
        self.refuse = dict(refuse or {})
        self.tls = tls
        self.login = login  # (user, password) that AUTH must give; None: no AUTH
        self.messages: list[Any] = []
        self._controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailServer:
        import email
        import email.policy
        import ssl

        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_RCPT(self, srv: Any, session: Any, envelope: Any, address: str,
                                  options: Any) -> str:
                if address in server.refuse:
                    return server.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
                msg.mail_from, msg.rcpt_tos = envelope.mail_from, list(envelope.rcpt_tos)
                msg.tls = session.ssl is not None
                server.messages.append(msg)
                return "250 OK: queued"

        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        auth: dict[str, Any] = {}
        if self.login:
            from aiosmtpd.smtp import AuthResult

            def check(srv: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> Any:
                given = (data.login.decode(), data.password.decode())
                return AuthResult(success=given == server.login)

            auth = {"authenticator": check, "auth_require_tls": False, "auth_required": True}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                      tls_context=context, ready_timeout=START_TIMEOUT_S,
                                      **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    close = stop

    def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Any]:
        """The messages, once at least `count` arrived; ServerError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise ServerError(f"{len(self.messages)} of {count} mails arrived within "
                                  f"{timeout_s} s")
            time.sleep(0.05)
        return list(self.messages)


def self_signed_cert(folder: Path, host: str = "localhost") -> tuple[str, str]:
    """A certificate for `host` and its key (openssl from PATH), in `folder`: for a STARTTLS
    server that a client trusting that certificate (SSL_CERT_FILE) accepts."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


class WebhookServer:
    """An HTTP server on a free 127.0.0.1 port, in a thread of this process, that keeps each
    POST: `.requests` (dicts of path, headers and the parsed JSON body). It answers
    `.status` (200 by default)."""

    def __init__(self, status: int = 200):
        self.port = free_port()
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookServer:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if hook.status < 300:
                    hook.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "raw": raw, "body": json.loads(raw)})
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    close = stop
