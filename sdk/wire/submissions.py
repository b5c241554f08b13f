"""Submissions kept in the store until the scheduler has committed them.

The control stream lives in Redis, which may be restarted empty. A client therefore writes
each submission to the store (`submissions/<execution id>`) before it appends it to the
stream, and the scheduler deletes it once the execution is in its database. A scheduler that
starts, or finds Redis emptied, applies whatever submissions are still there: a submission
whose call returned an execution id is never lost.
"""

from __future__ import annotations

import logging

from sdk.model.errors import StoreError
from sdk.model.store import Store

log = logging.getLogger("graft.submissions")

PREFIX = "submissions"


class Submissions:
    def __init__(self, store: Store):
        self.store = store

    def put(self, execution_id: str, body: bytes) -> None:
        self.store.put(f"{PREFIX}/{execution_id}", body)

    def pending(self) -> list[tuple[str, bytes]]:
        """`(key, message bytes)` of every submission not yet committed."""
        out = []
        for key in self.store.keys(PREFIX):
            try:
                out.append((key, self.store.get(key)))
            except StoreError as exc:
                log.warning("submission %s could not be read: %s", key, exc)
        return out

    def remove(self, key: str) -> None:
        try:
            self.store.delete(key)
        except StoreError as exc:
            log.warning("submission %s could not be removed (it is applied again, harmlessly, "
                        "at the next start): %s", key, exc)

    def remove_execution(self, execution_id: str) -> None:
        if execution_id:
            self.remove(f"{PREFIX}/{execution_id}")
