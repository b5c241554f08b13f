"""Redis under Sentinel: Celery's `sentinel://` broker URL, and clients that follow the master.

The URL is Celery's (kombu's Sentinel transport), sentinels separated by `;`:

    sentinel://[[user]:password@]host1:26379[/db];sentinel://host2:26380;sentinel://host3:26381

As in kombu, the password, user and database number are read from the first sentinel's part
and belong to the Redis master (and replicas); the sentinels themselves take none unless
`sentinel_password` says so. Celery takes the master's name from
`broker_transport_options={"master_name": ...}` and the sentinels' password from
`{"sentinel_kwargs": {"password": ...}}`; graft takes them from `GRAFT_SENTINEL_MASTER` and
`GRAFT_SENTINEL_PASSWORD`, which `Settings.from_env` folds into the URL
(`sdk.model.config.with_sentinel_options`) as the query
parameters `master_name` and `sentinel_password` (also accepted written there), so that the
one URL every graft process and runner is handed says everything. `celery_broker` turns it
back into Celery's URL and transport options.

A client made here asks the sentinels for the master's address on each new connection, so
after a failover its next connection goes to the promoted replica (redis-py's
`Sentinel.master_for`).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import redis
from redis.sentinel import MasterNotFoundError, Sentinel

from sdk.model.errors import BrokerUnavailable, ConfigError

SCHEME = "sentinel://"
DEFAULT_PORT = 26379
_OPTIONS = ("master_name", "sentinel_password")


def is_sentinel(url: str) -> bool:
    """Whether `url` is Celery's Sentinel form (`sentinel://...`)."""
    return url.startswith(SCHEME)


@dataclass(frozen=True)
class SentinelURL:
    """A parsed `sentinel://` URL: where the sentinels are, the master's name, and the
    credentials and database of the master."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def hosts(self) -> str:
        """The sentinels, for messages: `a:26379, b:26380`."""
        return ", ".join(f"{h}:{p}" for h, p in self.sentinels)

    @property
    def where(self) -> str:
        """The sentinels and master name, for messages: `sentinels a:1, b:2 (master 'm')`."""
        return f"sentinels {self.hosts} (master {self.master!r})"

    def sentinel_kwargs(self, timeout_s: float) -> dict[str, Any]:
        """Connection options for the sentinels themselves (not the master)."""
        kwargs: dict[str, Any] = {"socket_timeout": timeout_s,
                                  "socket_connect_timeout": min(timeout_s, 5.0)}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def _parts(url: str) -> list[str]:
    return [p.strip() for p in url.split(";") if p.strip()]


def parse(url: str) -> SentinelURL:
    """Parse Celery's `sentinel://h1:26379;sentinel://h2:26380` form, with `master_name` and
    `sentinel_password` as query parameters of any part; the master's credentials and
    database come from the first part that gives them. Raises ConfigError when a part is not
    a sentinel URL or has no host, or no master name is given."""
    sentinels: list[tuple[str, int]] = []
    options: dict[str, str] = {}
    credentials, path = None, ""
    for part in _parts(url):
        if not is_sentinel(part):
            raise ConfigError(f"GRAFT_BROKER_URL: {_hide(part)!r} among the sentinels is not a "
                              "sentinel:// URL; separate sentinels with ';' as in "
                              "sentinel://host1:26379;sentinel://host2:26379")
        split = urlsplit(part)
        try:
            port = split.port or DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"GRAFT_BROKER_URL: {_hide(part)!r} has a bad port") from None
        if not split.hostname:
            raise ConfigError(f"GRAFT_BROKER_URL: {_hide(part)!r} names no sentinel host")
        sentinels.append((split.hostname, port))
        for key, value in parse_qsl(split.query):
            if key not in _OPTIONS:
                raise ConfigError(f"GRAFT_BROKER_URL: unknown option {key!r} in a sentinel URL "
                                  f"(graft reads {', '.join(_OPTIONS)})")
            options[key] = value
        if credentials is None and (split.username or split.password is not None):
            credentials = split
        path = path or split.path.strip("/")
    if not sentinels:
        raise ConfigError("GRAFT_BROKER_URL names no sentinel")
    if not options.get("master_name"):
        raise ConfigError("GRAFT_BROKER_URL is a sentinel:// URL but no master name is given: "
                          "set GRAFT_SENTINEL_MASTER to the name the sentinels monitor "
                          "(`sentinel monitor <name> ...`, Celery's `master_name`)")
    if path and not path.isdigit():
        raise ConfigError(f"GRAFT_BROKER_URL: the database {path!r} is not a number")
    username = credentials.username if credentials else None
    password = credentials.password if credentials else None
    return SentinelURL(tuple(sentinels), options["master_name"],
                       unquote(username) if username else None,
                       unquote(password) if password is not None else None,
                       int(path or 0), options.get("sentinel_password") or None)


def celery_broker(url: str) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and the transport options that carry graft's query options
    (`master_name`, `sentinel_kwargs`). Every sentinel's part gets the master's credentials
    and database: kombu reads them from the part it connects through, and moves on to the
    next part when a connection fails."""
    parsed = parse(url)
    userinfo = ""
    if parsed.username or parsed.password is not None:
        userinfo = (quote(parsed.username or "", safe="") + ":"
                    + quote(parsed.password or "", safe="") + "@")
    plain = ";".join(f"{SCHEME}{userinfo}{_host(h)}:{p}/{parsed.db}"
                     for h, p in parsed.sentinels)
    options: dict[str, Any] = {"master_name": parsed.master}
    if parsed.sentinel_password:
        options["sentinel_kwargs"] = {"password": parsed.sentinel_password}
    return plain, options


def master_client(url: str, **connection_kwargs: Any) -> redis.Redis:
    """A client of the master the sentinels of `url` name, asked again on every new
    connection; `connection_kwargs` apply to the master's connections."""
    parsed = parse(url)
    timeout_s = float(connection_kwargs.get("socket_timeout") or 10.0)
    sentinel = Sentinel(list(parsed.sentinels),
                        sentinel_kwargs=parsed.sentinel_kwargs(min(timeout_s, 5.0)),
                        **connection_kwargs)
    return sentinel.master_for(parsed.master, username=parsed.username,
                               password=parsed.password, db=parsed.db)


def check(url: str, timeout_s: float = 3.0) -> None:
    """BrokerUnavailable with one line naming the sentinels and the master when no sentinel
    answers, none knows the master's name, or the master they name does not answer."""
    parsed = parse(url)
    answered, known, errors = 0, 0, []
    for host, port in parsed.sentinels:
        client = redis.Redis(host=host, port=port, retry=None,
                             **parsed.sentinel_kwargs(timeout_s))
        try:
            address = client.sentinel_get_master_addr_by_name(parsed.master)
            answered += 1
            known += address is not None
        except (redis.RedisError, OSError) as exc:
            errors.append(f"{host}:{port}: {type(exc).__name__}: {str(exc).strip()}")
        finally:
            client.close()
    if not answered:
        raise BrokerUnavailable(f"no sentinel answers at {parsed.where} ({'; '.join(errors)}); "
                                "start them or fix GRAFT_BROKER_URL")
    if not known:
        raise BrokerUnavailable(f"the sentinels {parsed.hosts} know no master named "
                                f"{parsed.master!r}; "
                                "set GRAFT_SENTINEL_MASTER to the name in their `sentinel "
                                "monitor` line")
    client = master_client(url, socket_timeout=timeout_s,
                           socket_connect_timeout=min(timeout_s, 5.0))
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise BrokerUnavailable(explain(exc, url)) from None
    finally:
        with contextlib.suppress(Exception):
            client.close()


def explain(exc: BaseException, url: str) -> str:
    """Why talking to Redis through the sentinels of `url` failed, in one line."""
    try:
        where = parse(url).where
    except ConfigError as bad:
        return str(bad)
    text = str(exc).strip() or "no reply"
    if isinstance(exc, MasterNotFoundError):
        # redis-py lists each sentinel's error with its client's whole repr: name them only.
        silent = re.findall(r"connecting to ([^\s]+?)\.? ", text + " ")
        why = (f"no answer from {', '.join(silent)}" if silent
               else "none names a master that is up")
        return (f"the {where} name no master ({why}); check that the sentinels run and "
                "monitor it under that name (GRAFT_SENTINEL_MASTER)")
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return (f"the Redis master behind {where} refused the credentials ({text}); check the "
                "password in GRAFT_BROKER_URL")
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return (f"the Redis master behind {where} does not answer ({type(exc).__name__}: "
                f"{text}); the sentinels promote a replica if it stays down")
    return f"Redis behind {where} failed: {type(exc).__name__}: {text}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _hide(part: str) -> str:
    split = urlsplit(part)
    if split.password is None:
        return part.split("?", 1)[0]
    return part.split("?", 1)[0].replace(f":{split.password}@", ":***@", 1)
