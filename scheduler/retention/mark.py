"""The mark phase of garbage collection: which store objects something kept still names.

Every kind of key graft writes to its store, and what keeps each (docs/operations.md):

| key | written by | kept while |
| --- | --- | --- |
| `blobs/<sha256>` | files, folders, pickles, Parquet, JSON iterators (`put_blob`) | marked |
| `values/<sha256>` | literals over 2 KiB (`to_ref`), JSON or .npy; scanned for names | marked |
| `specs/<sha256>` | graph specs (`upload_spec`); JSON, read for what it names | marked |
| `bundles/<sha256>` | code bundles (a task reference names the bare digest) | marked |
| `snapshots/<sha256>` | engine snapshots of running executions (scheduler/snapshots.py) | marked |
| `logs/<execution>/...` | log records, stdout and stderr of attempts | its execution is kept |
| `decks/<execution>/...` | decks of attempts | its execution is kept |
| `checkpoints/<execution>/...` | checkpoints of nodes | its execution is kept |
| `cache/<key>.json` | cache entries of the cluster | always (a root) |
| `registry/<sha256>.json` | `graft register` entries | always (a root) |
| `submissions/<execution>` | submissions not yet in the database | always (a root) |
| `<folder>/.tmp-*`, `.gc-*` | a write, or a delete, cut short | younger than the grace |

Content-addressed objects are marked *conservatively*: any 64-hex-digit string found in a
root (a database row of a kept execution or launch plan, a cache or registry entry, a pending
submission) marks the objects of every content-addressed folder with that digest, and the
JSON objects it marks (`values/`, `specs/`) are read and scanned in turn. No type handler has
to be asked what a literal names, so a new value type cannot be forgotten; a string that only
looks like a digest keeps at worst one object too many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sdk.model.errors import StoreObjectMissing
from sdk.model.store import Store

__all__ = ["CONTENT", "PER_EXECUTION", "ROOTS", "SCANNED", "Marker", "digests", "kind_of"]

CONTENT = ("blobs", "values", "specs", "bundles", "snapshots")  # `<folder>/<sha256>`
SCANNED = ("values", "specs")  # content-addressed JSON that names other objects
PER_EXECUTION = ("logs", "decks", "checkpoints")  # `<folder>/<execution id>/...`
ROOTS = ("cache", "registry", "submissions")  # never swept: what they name is marked

_DIGEST = re.compile(rb"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def digests(text: str | bytes) -> set[str]:
    """Every 64-hex-digit string in `text` (lower case, not part of a longer one)."""
    data = text.encode() if isinstance(text, str) else text
    return {m.decode() for m in _DIGEST.findall(data)}


def kind_of(key: str) -> tuple[str, str]:
    """What a store key is, for the sweep: ("content", digest), ("execution", execution id),
    ("root", folder), ("temp", "") for a write or a delete cut short, or ("other", "")."""
    folder, _, rest = key.partition("/")
    if key.rpartition("/")[2].startswith((".tmp-", ".gc-")):
        return "temp", ""
    if folder in CONTENT and _HEX64.fullmatch(rest):
        return "content", rest
    if folder in PER_EXECUTION and "/" in rest:
        return "execution", rest.partition("/")[0]
    if folder in ROOTS:
        return "root", folder
    return "other", ""


class Marker:
    """The digests something kept names, grown from roots (`text`) and closed over the JSON
    objects they name (`expand`).

    `present`: the keys the sweep may delete (its listing). A digest present under `values/`
    or `specs/` is read from there; one present under no folder at all may be an object
    written after the listing, and is looked for under both (a miss costs one `get`); one
    present under another folder only (a blob, a bundle) is not read."""

    def __init__(self, store: Store, present: Iterable[str] = ()):
        self.store = store
        self.marked: set[str] = set()
        self.objects_read = 0
        # digest -> the SCANNED folders it is listed in, as bits (0: listed elsewhere only)
        self._present: dict[str, int] = {}
        for key in present:
            kind, digest = kind_of(key)
            if kind == "content":
                folder = key.partition("/")[0]
                bit = 1 << SCANNED.index(folder) if folder in SCANNED else 0
                self._present[digest] = self._present.get(digest, 0) | bit
        self._pending: list[str] = []

    def text(self, text: str | bytes | None) -> None:
        """Mark what a root names."""
        if text:
            for digest in digests(text):
                if digest not in self.marked:
                    self.marked.add(digest)
                    self._pending.append(digest)

    def expand(self) -> None:
        """Read the marked JSON objects and mark what they name, until nothing new is."""
        while self._pending:
            digest = self._pending.pop()
            folders = self._present.get(digest)
            for i, folder in enumerate(SCANNED):
                if folders is not None and not folders & (1 << i):
                    continue
                try:
                    data = self.store.get(f"{folder}/{digest}")
                except StoreObjectMissing:
                    continue
                self.objects_read += 1
                self.text(data)

    def keeps(self, key: str, kept_executions: set[str] | None = None) -> bool:
        """Whether the object under `key` is needed: marked, of a kept execution, a root,
        or of a folder gc does not know (left alone). `kept_executions` None: every
        execution's objects are kept. A write cut short is not needed (the grace period
        keeps one still being written)."""
        kind, what = kind_of(key)
        if kind == "content":
            return what in self.marked
        if kind == "execution":
            return kept_executions is None or what in kept_executions
        return kind != "temp"
