"""Attempts in chunks: several task nodes that share a spec travel in one task message and
come back in one control message. They are children of one parent: the items of a map, or
sibling nodes of one task template inside a dynamic's sub-graph or a sub-workflow.

A chunk is the Celery task `graft.run_items(execution_id, parent_node_id, payload)`:

    payload = {"spec": the node spec they share (as in a single task message),
               "items": [{"node": "<parent>/<id>", "attempt": n, "token": t,
                          "id": the node's own id in its graph, when not the spec's,
                          "retries_left": {"USER": n, "SYSTEM": n},
                          "inputs": {name: binding} | "inputs_key": store key}, ...],
               "sig": ... (with GRAFT_SECRET, over execution, parent and the rest)}

Each item keeps its own attempt and token: it is claimed, leased, run, reported, retried and
cancelled as an attempt of its own, exactly as if it had come alone (`graft.run_node`); the
chunk only shares the message, the claim's round trip and the report's. `item_payload` gives
the payload a single task message would have carried for one item.

The worker reports the items' outcomes together, on the control stream, as

    {"type": "reports", "execution": id, "reports": [report without type and execution, ...]}

which the scheduler splits (`split_reports`) into the `report` messages it stands for before
applying them one by one (a bad one is refused alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sdk.wire.keys import AttemptKey
from sdk.wire.messages import (
    MAX_NODE_ID_CHARS,
    MessageError,
    _check_values,
    check_execution_id,
)

REPORTS = "reports"


def chunk_body(execution_id: str, parent_id: str, payload: dict[str, Any],
               secret: bytes | None) -> dict[str, Any]:
    """The payload of a chunk's task message, signed (with a secret) together with the
    execution and parent node that travel beside it as arguments (signed under the name
    "map", which chunks of map items had first)."""
    from sdk.wire.signing import sign

    signed = sign({"execution": execution_id, "map": parent_id, **payload}, secret)
    return {k: v for k, v in signed.items() if k not in ("execution", "map")}


def check_chunk(args: Any, secret: bytes | None) -> tuple[str, str, dict[str, Any]]:
    """`(execution, parent node, payload)` of a chunk message's arguments, every item checked;
    MessageError (or Unauthenticated) naming what is wrong."""
    from sdk.wire.signing import verify

    if not isinstance(args, (list, tuple)) or len(args) != 3:
        raise MessageError(f"a chunk's task message has 3 arguments (execution, parent node, "
                           f"payload), got {str(args)[:200]}")
    eid, parent_id, payload = args
    check_execution_id(eid)
    if not isinstance(parent_id, str) or not parent_id or len(parent_id) > MAX_NODE_ID_CHARS:
        raise MessageError(f"chunk message: malformed parent node id {str(parent_id)[:80]!r}")
    if not isinstance(payload, dict):
        raise MessageError(f"chunk message: the payload is a JSON object, got "
                           f"{type(payload).__name__}")
    unsigned = verify({"execution": eid, "map": parent_id, **payload}, secret,
                      f"chunk message for node {parent_id!r} of execution {eid}")
    payload = {k: v for k, v in unsigned.items() if k not in ("execution", "map")}
    items = payload.get("items")
    if not isinstance(payload.get("spec"), dict) or not isinstance(items, list) or not items:
        raise MessageError(f"chunk message for node {parent_id!r} of execution {eid}: the payload "
                           f"needs a node spec and a list of items")
    for item in items:
        _check_item(item, parent_id)
    return eid, parent_id, payload


def _check_item(item: Any, parent_id: str) -> None:
    where = f"chunk message for node {parent_id!r}: item"
    if not isinstance(item, dict):
        raise MessageError(f"{where} is a JSON object, got {type(item).__name__}")
    node, attempt = item.get("node"), item.get("attempt")
    if not isinstance(node, str) or not node.startswith(parent_id + "/") \
            or len(node) > MAX_NODE_ID_CHARS:
        raise MessageError(f"{where} {str(node)[:80]!r} is not a child of that node")
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise MessageError(f"{where} {node!r}: malformed attempt {attempt!r}")
    if not isinstance(item.get("token"), str):
        raise MessageError(f"{where} {node!r}: no token")
    if "id" in item and (not isinstance(item["id"], str) or not node.endswith("/" + item["id"])):
        raise MessageError(f"{where} {node!r}: its id {str(item['id'])[:80]!r} is not the "
                           f"node's own")
    if "inputs" in item:
        if not isinstance(item["inputs"], dict):
            raise MessageError(f"{where} {node!r}: inputs must be an object")
        _check_values(item["inputs"], f"{where} {node!r}: input")
    elif not isinstance(item.get("inputs_key"), str):
        raise MessageError(f"{where} {node!r}: no inputs")


def item_keys(eid: str, payload: dict[str, Any]) -> list[AttemptKey]:
    """The attempts a checked chunk payload carries, in order."""
    return [(eid, item["node"], item["attempt"]) for item in payload["items"]]


def item_payload(payload: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """What a single task message would carry for this item of a checked chunk payload."""
    spec = payload["spec"]
    if "id" in item:
        spec = {**spec, "id": item["id"]}
    out = {"spec": spec, "token": item["token"],
           "retries_left": item.get("retries_left") or {}}
    if "inputs" in item:
        out["inputs"] = item["inputs"]
    else:
        out["inputs_key"] = item["inputs_key"]
    return out


def attempts_in(args: Any) -> list[AttemptKey]:
    """The attempts a chunk message's arguments name, read without verifying them (what the
    worker's main process holds leases on); empty when they are malformed."""
    if not (isinstance(args, (list, tuple)) and len(args) == 3):
        return []
    eid, _parent_id, payload = args
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(eid, str) or not isinstance(items, list):
        return []
    keys = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("node"), str) \
                and isinstance(item.get("attempt"), int):
            keys.append((eid, item["node"], item["attempt"]))
    return keys


# ---- reports (workers -> the scheduler) ------------------------------------------------------

def reports_message(execution_id: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One control message for several report messages of one execution."""
    return {"type": REPORTS, "execution": execution_id,
            "reports": [{k: v for k, v in r.items() if k not in ("type", "execution")}
                        for r in reports]}


def split_reports(bodies: Iterable[Any]) -> Iterator[Any]:
    """The control messages `bodies` stand for, a `reports` message split into the `report`
    messages it carries (each then checked and applied alone); anything else unchanged. A
    malformed `reports` message is passed on whole, for the check to refuse."""
    for body in bodies:
        if isinstance(body, dict) and body.get("type") == REPORTS \
                and isinstance(body.get("reports"), list) \
                and all(isinstance(r, dict) for r in body["reports"]):
            eid = body.get("execution")
            for report in body["reports"]:
                yield {**report, "type": "report", "execution": eid}
        else:
            yield body
