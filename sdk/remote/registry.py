"""The registry: tasks, workflows and launch plans recorded in the store by kind, name and
version (`graft register FILE`, `sdk.remote.register`); what reference entities resolve to
when a client submits (`sdk.remote.references`).

One JSON object per entry, under `registry/<sha256 of kind, name and version>.json`:

    {"kind": "task", "name": "pkg.tasks.add", "version": "v1", "spec": "specs/<sha256>",
     "ref": "pkg.tasks:add", "defaults": {"y": {"val": {"v": 1}}}, "fixed": [],
     "registered_at": 1767225600.0, "source": "/src/pkg/tasks.py", "sig": "<hmac>"}

`spec` names the registered graph by the hash of its bytes (a task's is one node running
it), and through it the code bundles its nodes run, all verified on read; `defaults` are the
bindings of the inputs a reference may leave out; `fixed`, a launch plan's fixed inputs.

With GRAFT_SECRET set, every entry is signed with a key derived from it (`registry_key`),
over its store key and its content, and one unsigned or signed wrongly is refused: whoever
can write to the store but does not hold the secret cannot point a reference at other code.
The key is not the cache entries' one, which every task's process holds (task code can sign
cache entries, not registry entries). Without a secret entries are neither signed nor
checked, as cache entries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.config import Settings
from sdk.model.errors import FailureKind, GraftError, StoreError
from sdk.model.reference import KINDS, Reference
from sdk.model.store import Store
from sdk.values.store import open_store, sha256
from sdk.wire.signing import SIG_FIELD, mac

FOLDER = "registry"
_KEY_CONTEXT = b"graft registry entries v1"


class RegistryError(GraftError):
    """A registration was refused, or a reference names nothing registered (or an entry
    that is refused, or whose interface does not fit the stub)."""

    kind = FailureKind.DATA


def registry_key(secret: bytes | None) -> bytes | None:
    """The key registry entries are signed with, derived from `secret` (GRAFT_SECRET); None
    without one. Only clients hold it: it is never handed to a task's process."""
    if not secret:
        return None
    return hmac.new(secret, _KEY_CONTEXT, hashlib.sha256).digest()


def store_key(kind: str, name: str, version: str) -> str:
    """Where the entry of `kind` `name` at `version` is kept."""
    ident = json.dumps([kind, name, version], separators=(",", ":")).encode()
    return f"{FOLDER}/{sha256(ident)}.json"


@dataclass(frozen=True)
class Entry:
    """One registered entity: `kind` ("task", "workflow" or "launch_plan"), `name`,
    `version`; the key of its spec, its `module:qualname`, the bindings of its defaults and
    its fixed inputs; when and from which file it was registered. `refused` says why a
    reference may not use it ("" when it may)."""

    kind: str
    name: str
    version: str
    spec: str
    ref: str
    defaults: dict[str, Binding] = field(default_factory=dict)
    fixed: tuple[str, ...] = ()
    registered_at: float = 0.0
    source: str = ""
    refused: str = ""

    @property
    def what(self) -> str:
        return Reference(self.kind, "", "", self.name, self.version).what

    def describe(self) -> str:
        """`task 'pkg.tasks.add' version 'v1'`."""
        return f"{self.what} {self.name!r} version {self.version!r}"

    def same(self, other: Entry) -> bool:
        """Whether `other` records the same code, defaults and fixed inputs."""
        return self._content() == other._content()

    def _content(self) -> tuple[Any, ...]:
        return (self.kind, self.name, self.version, self.spec, self.ref,
                json.dumps(self.defaults, sort_keys=True), tuple(self.fixed))

    def body(self) -> dict[str, Any]:
        """The entry's JSON object, unsigned."""
        return {"kind": self.kind, "name": self.name, "version": self.version,
                "spec": self.spec, "ref": self.ref, "defaults": self.defaults,
                "fixed": list(self.fixed), "registered_at": self.registered_at,
                "source": self.source}


def _parse(data: Any) -> Entry | None:
    try:
        fixed = data.get("fixed") or []
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict) or not isinstance(fixed, list):
            return None
        entry = Entry(str(data["kind"]), str(data["name"]), str(data["version"]),
                      str(data["spec"]), str(data.get("ref") or ""), defaults,
                      tuple(str(f) for f in fixed), float(data.get("registered_at") or 0.0),
                      str(data.get("source") or ""))
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return entry if entry.kind in KINDS else None


class Registry:
    """The entries kept in `store`, signed with `signing_key` (`registry_key(GRAFT_SECRET)`;
    None: unsigned and unchecked)."""

    def __init__(self, store: Store, signing_key: bytes | None):
        self.store = store
        self.signing_key = signing_key

    @classmethod
    def open(cls, settings: Settings | None = None, store: Store | None = None) -> Registry:
        """The registry of the cluster `settings` (default: the environment's) names."""
        settings = settings or Settings.from_env()
        if store is None:
            store = open_store(settings.store_url, settings.store_options)
        return cls(store, registry_key(settings.secret))

    def _mac(self, key: str, body: dict[str, Any]) -> str:
        assert self.signing_key is not None
        return mac(self.signing_key, {"key": key, "entry": body})

    def put(self, entry: Entry) -> None:
        """Write `entry` (signed when there is a key), replacing what its key held."""
        key = store_key(entry.kind, entry.name, entry.version)
        body = entry.body()
        if self.signing_key:
            body[SIG_FIELD] = self._mac(key, body)
        self.store.put(key, json.dumps(body, sort_keys=True, separators=(",", ":")).encode())

    def get(self, kind: str, name: str, version: str) -> Entry | None:
        """The entry of `kind` `name` at `version` (its `refused` set when a reference may
        not use it), or None when there is none."""
        return self._read(store_key(kind, name, version), (kind, name, version))

    def _read(self, key: str, expected: tuple[str, str, str] | None = None) -> Entry | None:
        try:
            data = json.loads(self.store.get(key))
        except StoreError:
            return None
        except ValueError:
            data = None
        entry = _parse(data) if isinstance(data, dict) else None
        if entry is None:
            kind, name, version = expected or ("task", "?", "?")
            return Entry(kind, name, version, "", "", refused="it is not a readable registry "
                                                               "entry")
        refused = self._refusal(key, data)
        if not refused and expected and (entry.kind, entry.name, entry.version) != expected:
            refused = f"it records {entry.describe()} instead"
        return Entry(**{**entry.__dict__, "refused": refused}) if refused else entry

    def _refusal(self, key: str, data: dict[str, Any]) -> str:
        if not self.signing_key:
            return ""
        sig = data.get(SIG_FIELD)
        if not isinstance(sig, str):
            return "it is not signed, and GRAFT_SECRET is set"
        body = {k: v for k, v in data.items() if k != SIG_FIELD}
        if not hmac.compare_digest(sig, self._mac(key, body)):
            return ("its signature is wrong (altered in the store, written by hand, or signed "
                    "with another GRAFT_SECRET)")
        return ""

    def entries(self) -> list[Entry]:
        """Every entry (refused ones included, saying why), by kind, name and time."""
        try:
            keys = [k for k in self.store.keys(FOLDER) if k.endswith(".json")]
        except StoreError:
            return []
        found = [e for e in (self._read(k) for k in keys) if e is not None]
        return sorted(found, key=lambda e: (e.kind, e.name, e.registered_at, e.version))

    def require(self, reference: Reference) -> Entry:
        """The entry `reference` names; RegistryError naming it when there is none, or when
        it is refused."""
        entry = self.get(reference.kind, reference.name, reference.version)
        if entry is None:
            versions = sorted({e.version for e in self.entries()
                               if (e.kind, e.name) == (reference.kind, reference.name)
                               and not e.refused})
            known = (f"registered versions of it: {', '.join(versions)}" if versions else
                     f"no version of {reference.what} {reference.name!r} is registered")
            raise RegistryError(f"{reference.describe()} is not registered in the store at "
                                f"{self.store.url} ({known}); register it with `graft register "
                                f"FILE --version {reference.version}`, or fix the stub's name "
                                f"and version (`graft register --list` lists what is there)")
        if entry.refused:
            raise RegistryError(f"the registry entry of {reference.describe()} "
                                f"({store_key(reference.kind, reference.name, reference.version)})"
                                f" is refused: {entry.refused}. Register it again with "
                                f"`graft register FILE --version {reference.version}` and "
                                f"this cluster's GRAFT_SECRET")
        return entry


def new_entry(kind: str, name: str, version: str, spec: str, ref: str,
              defaults: dict[str, Binding], fixed: tuple[str, ...], source: str) -> Entry:
    """An entry registered now."""
    return Entry(kind, name, version, spec, ref, defaults, fixed, time.time(), source)
