"""The narrow interface graft's value store stands behind (implementations: `sdk.values`)."""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    """Bytes under keys. `get` raises StoreObjectMissing for a key it does not hold and
    StoreError when the store itself fails."""

    url: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove an object (no error when it is not there)."""

    def keys(self, prefix: str) -> list[str]:
        """The keys of the objects directly under folder `prefix` (e.g. "submissions")."""
