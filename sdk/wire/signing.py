"""Message authentication: with `GRAFT_SECRET` set, every message between clients, the
scheduler and workers carries an HMAC-SHA256 of its body, and one without a valid one is
refused.

The MAC covers the canonical JSON of the message without its `sig` field, so it survives any
re-encoding that keeps the values. Without a secret, messages are neither signed nor checked:
then whoever can write to the broker is trusted (see docs/guarantees.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sdk.model.errors import GraftError

SIG_FIELD = "sig"


UNSET_WARNING = ("GRAFT_SECRET is not set: messages, results and cache entries are not "
                 "authenticated, so whoever can write to Redis or the store can make the "
                 "workers run code (see docs/guarantees.md)")


class Unauthenticated(GraftError):
    """A message that must be signed is not, or its signature does not match."""


def _canonical(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True).encode()


def mac(secret: bytes, body: Any) -> str:
    """The hex HMAC-SHA256 of `body`'s canonical JSON."""
    return hmac.new(secret, _canonical(body), hashlib.sha256).hexdigest()


def sign(body: dict[str, Any], secret: bytes | None) -> dict[str, Any]:
    """`body` with its signature added (unchanged without a secret)."""
    if not secret:
        return body
    unsigned = {k: v for k, v in body.items() if k != SIG_FIELD}
    return {**unsigned, SIG_FIELD: mac(secret, unsigned)}


def verify(body: dict[str, Any], secret: bytes | None, what: str) -> dict[str, Any]:
    """`body` without its signature; Unauthenticated naming `what` when a secret is set and
    the signature is missing or wrong."""
    unsigned = {k: v for k, v in body.items() if k != SIG_FIELD}
    if not secret:
        return unsigned
    sig = body.get(SIG_FIELD)
    if not isinstance(sig, str):
        raise Unauthenticated(f"{what} is not signed, and GRAFT_SECRET requires a signature")
    if not hmac.compare_digest(sig, mac(secret, unsigned)):
        raise Unauthenticated(f"{what} has a wrong signature (forged, altered, or signed "
                              f"with another GRAFT_SECRET)")
    return unsigned
