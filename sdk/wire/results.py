"""A finished execution's result on the status board: the fields it is made of, written
whole (no field of an earlier write lingers in it) and, with `GRAFT_SECRET`, signed."""

from __future__ import annotations

from typing import Any

from sdk.wire.signing import mac

FINAL = ("SUCCEEDED", "FAILED", "ABORTED")  # the statuses of an execution that ended
RESULT_FIELDS = ("status", "outputs", "failures", "error", "spec")


def result_mac(secret: bytes, execution_id: str, fields: dict[str, Any]) -> str:
    """The signature of a finished execution's result fields."""
    return mac(secret, {"execution": execution_id,
                        **{k: fields.get(k) for k in RESULT_FIELDS}})
