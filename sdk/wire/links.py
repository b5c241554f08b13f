"""The links of a chain a task message carries (`next`, see `scheduler.continuation`): what
each holds, and how the worker gives it the outputs of the link before.

Each link is `{"node", "attempt", "token", "spec", "inputs", "retries_left"}`: a run request
as a single message's payload, with the references to the previous link's outputs left in its
inputs (`{"ref": [previous node, output]}`). `sdk.wire.messages.check_task` checks them.
"""

from __future__ import annotations

from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.wire.keys import AttemptKey


def link_keys(execution_id: str, links: Any) -> list[AttemptKey]:
    """The attempts the links of a message name, those well formed."""
    if not isinstance(links, list):
        return []
    return [(execution_id, link["node"], link["attempt"]) for link in links
            if isinstance(link, dict) and isinstance(link.get("node"), str)
            and isinstance(link.get("attempt"), int)]


def with_outputs(inputs: dict[str, Binding], before: str,
                 outputs: dict[str, Binding]) -> dict[str, Binding]:
    """A link's inputs with the references to node `before` replaced by its `outputs`;
    KeyError naming an output it did not give."""

    def leaf(kind: str, body: Any) -> Binding:
        if kind == "ref" and body[0] == before:
            return outputs[body[1]]
        return {kind: body}

    return {name: bindings.transform(b, leaf) for name, b in inputs.items()}


def link_payload(link: dict[str, Any], inputs: dict[str, Binding]) -> dict[str, Any]:
    """The payload a link runs with, as a single message's, its inputs given."""
    return {"spec": link["spec"], "token": link["token"],
            "retries_left": link.get("retries_left") or {}, "inputs": inputs}
