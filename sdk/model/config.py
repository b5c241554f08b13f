"""Settings read from `GRAFT_*` environment variables, in one place."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import pytimeparse2

from sdk.model.errors import ConfigError
from sdk.model.resources import format_memory, parse_memory

DEFAULT_BROKER_URL = "redis://localhost:6379/0"
# what deploy/example.env puts in every secret, to be replaced (refused as a real value)
PLACEHOLDER = "change-me"
DEFAULT_TIERS = "256Mi,1Gi,4Gi,16Gi"


def data_dir() -> Path:
    return Path(os.environ.get("GRAFT_HOME") or platformdirs.user_data_dir("graft"))


def cache_dir() -> Path:
    return Path(os.environ.get("GRAFT_CACHE_DIR") or platformdirs.user_cache_dir("graft"))


def parse_tiers(text: str) -> list[int]:
    """Parse `GRAFT_TIERS` ("256Mi,1Gi,4Gi") into ascending byte sizes."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError("GRAFT_TIERS is empty; give memory tiers like '256Mi,1Gi,4Gi,16Gi'")
    sizes = sorted({parse_memory(p, what=f"GRAFT_TIERS entry {p!r}") for p in parts})
    if sizes[0] <= 0:
        raise ConfigError("GRAFT_TIERS: a tier must be larger than 0 bytes")
    return sizes


def with_sentinel_options(url: str, master: str | None = None,
                          sentinel_password: str | None = None) -> str:
    """A `sentinel://` URL with the master's name and the sentinels' password (by default
    `GRAFT_SENTINEL_MASTER` and `GRAFT_SENTINEL_PASSWORD`) added as the query parameters
    `master_name` and `sentinel_password` of its last part, unless it carries them already;
    any other URL unchanged. Every process and runner handed the URL then has it all."""
    if not url.startswith("sentinel://"):
        return url
    master = master if master is not None else os.environ.get("GRAFT_SENTINEL_MASTER")
    if sentinel_password is None:
        sentinel_password = os.environ.get("GRAFT_SENTINEL_PASSWORD")
    parts = [p.strip() for p in url.split(";") if p.strip()]
    given = set(re.findall(r"[?&]([a-z_]+)=", url))
    extra = [f"{k}={_percent(v)}" for k, v in (("master_name", master),
                                                ("sentinel_password", sentinel_password))
             if v and k not in given]
    if not extra or not parts:
        return url
    parts[-1] += ("&" if "?" in parts[-1] else "?") + "&".join(extra)
    return ";".join(parts)


def _percent(text: str) -> str:
    """`text` percent-encoded for a URL's query (urllib stays out of the scheduler's core)."""
    return "".join(chr(b) if chr(b).isalnum() or chr(b) in "-._~" else f"%{b:02X}"
                   for b in text.encode())


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected true/false (1/0, yes/no, on/off)")


def env_number(name: str, default: Any, kind: type, minimum: float,
               maximum: float | None = None) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum:g}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={raw!r}: must be at most {maximum:g}")
    return value


def parse_duration(text: str, what: str) -> float:
    """Seconds in a duration such as "30d", "1h30m", "90s" or "3600" (pytimeparse2's forms).
    ConfigError naming `what` when `text` is not one, or is negative."""
    seconds = pytimeparse2.parse(str(text).strip())
    if seconds is None or seconds < 0:
        raise ConfigError(f"{what}={text!r}: expected a duration such as 30d, 12h, 90m or "
                          f"3600 (seconds)")
    return float(seconds)


def env_duration(name: str, default: float | None) -> float | None:
    """The duration in seconds environment variable `name` holds (`parse_duration`), or
    `default` when it is unset or empty."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return parse_duration(raw, name)


def _chunk_items_name() -> str:
    """GRAFT_CHUNK_ITEMS, or its older name GRAFT_MAP_CHUNK_ITEMS when only that is set."""
    if os.environ.get("GRAFT_CHUNK_ITEMS") or not os.environ.get("GRAFT_MAP_CHUNK_ITEMS"):
        return "GRAFT_CHUNK_ITEMS"
    return "GRAFT_MAP_CHUNK_ITEMS"


def parse_store_options(text: str) -> dict[str, Any]:
    """`GRAFT_STORE_OPTIONS`: a JSON object of fsspec storage options for the store's
    filesystem (`{"endpoint_url": "http://minio:9000", "key": "...", "secret": "..."}` for
    s3fs); {} for "". ConfigError when it is not a JSON object."""
    if not text.strip():
        return {}
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"GRAFT_STORE_OPTIONS is not JSON ({exc}); give an object of "
                          f"fsspec storage options, e.g. {{\"endpoint_url\": \"http://...\"}}"
                          ) from None
    if not isinstance(options, dict):
        raise ConfigError(f"GRAFT_STORE_OPTIONS must be a JSON object of fsspec storage "
                          f"options, not {type(options).__name__}")
    return options


# Most links of a chain one task message may carry (a worker refuses a message with more).
MAX_CONTINUE_LINKS = 64


@dataclass(frozen=True)
class Settings:
    """A snapshot of graft's configuration. `Settings.from_env()` reads the environment."""

    broker_url: str = DEFAULT_BROKER_URL
    store_url: str = ""
    # fsspec storage options for the store's filesystem (GRAFT_STORE_OPTIONS).
    store_options: dict[str, Any] = field(default_factory=dict, repr=False)
    database_url: str = ""
    tiers: list[int] = field(default_factory=lambda: parse_tiers(DEFAULT_TIERS))
    key_prefix: str = "graft"
    local_cache: bool = True
    secret: bytes | None = field(default=None, repr=False)
    system_retries: int = 3
    lease_ttl_s: float = 10.0
    # Seconds of work the scheduler keeps waiting in each tier's queue (scheduler/fair.py).
    queue_ahead_s: float = 0.5
    # How long a scheduler's lease on its shards lasts without renewal (scheduler/shards.py).
    scheduler_lease_s: float = 5.0
    # Most attempts one task message carries (scheduler/chunks.py); 1: one each.
    chunk_items: int = 64
    # A graph's or map's output list of more items than this is written to the store as one
    # value, gathered a slice at a time, rather than built in the scheduler (scheduler/
    # gathering.py).
    gather_above: int = 10_000
    # How many links of a chain a worker may run after a node without going back to the
    # scheduler (scheduler/continuation.py); 0: every node is sent by the scheduler.
    continue_links: int = 16
    # Events of an execution between two snapshots of its engine, from which a rebuild
    # replays only the events after the newest (scheduler/snapshots.py); 0: none taken.
    snapshot_events: int = 50_000

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of this process's environment; ConfigError on a malformed value, or
        on a secret still holding deploy/example.env's placeholder."""
        for name in ("GRAFT_SECRET", "GRAFT_BROKER_URL", "GRAFT_DATABASE_URL",
                     "GRAFT_SENTINEL_PASSWORD"):
            refuse_placeholder(name, os.environ.get(name))
        return cls(
            broker_url=with_sentinel_options(os.environ.get("GRAFT_BROKER_URL")
                                             or DEFAULT_BROKER_URL),
            store_url=os.environ.get("GRAFT_STORE") or str(data_dir() / "store"),
            store_options=parse_store_options(os.environ.get("GRAFT_STORE_OPTIONS") or ""),
            database_url=os.environ.get("GRAFT_DATABASE_URL")
            or f"sqlite:///{data_dir() / 'graft.db'}",
            tiers=parse_tiers(os.environ.get("GRAFT_TIERS") or DEFAULT_TIERS),
            key_prefix=os.environ.get("GRAFT_KEY_PREFIX") or "graft",
            local_cache=_env_bool("GRAFT_LOCAL_CACHE", True),
            secret=(os.environ.get("GRAFT_SECRET") or "").encode() or None,
            system_retries=env_number("GRAFT_SYSTEM_RETRIES", 3, int, minimum=0),
            lease_ttl_s=env_number("GRAFT_LEASE_TTL_S", 10.0, float, minimum=1.0),
            queue_ahead_s=env_number("GRAFT_QUEUE_AHEAD_S", 0.5, float, minimum=0.0),
            scheduler_lease_s=env_number("GRAFT_SCHEDULER_LEASE_S", 5.0, float, minimum=1.0),
            chunk_items=env_number(_chunk_items_name(), 64, int, minimum=1),
            gather_above=env_number("GRAFT_GATHER_ABOVE", 10_000, int, minimum=0),
            continue_links=env_number("GRAFT_CONTINUE_LINKS", 16, int, minimum=0,
                                      maximum=MAX_CONTINUE_LINKS),
            snapshot_events=env_number("GRAFT_SNAPSHOT_EVENTS", 50_000, int, minimum=0),
        )


    def tier_for(self, memory_bytes: int | None) -> int | None:
        """The smallest tier >= `memory_bytes`; the smallest tier for None; None if too big."""
        if memory_bytes is None:
            return self.tiers[0]
        return next((t for t in self.tiers if t >= memory_bytes), None)

    def tier_names(self) -> str:
        return ", ".join(format_memory(t) for t in self.tiers)


def refuse_placeholder(name: str, value: str | None) -> None:
    """ConfigError when `value` (of setting `name`) still holds deploy/example.env's
    `change-me` placeholder: a stack copied from the example must not run on known secrets."""
    if value and PLACEHOLDER in value:
        raise ConfigError(f"{name} still holds the placeholder {PLACEHOLDER!r} of "
                          f"deploy/example.env: set a secret of your own (openssl rand -hex 32)")
