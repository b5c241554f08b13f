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
