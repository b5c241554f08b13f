"""The links of a chain a task message carries (`next`, see `scheduler.continuation`): what
each holds, and how the worker gives it the outputs of the link before.

Each link is `{"node", "attempt", "token", "spec", "inputs", "retries_left"}`: a run request
as a single message's payload, with the references to the previous link's outputs left in its
inputs (`{"ref": [previous node, output]}`).
"""

from __future__ import annotations

from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.config import MAX_CONTINUE_LINKS
from sdk.model.errors import SpecError
from sdk.wire.keys import AttemptKey
from sdk.wire.messages import MAX_NODE_ID_CHARS

MAX_LINKS = MAX_CONTINUE_LINKS  # links one message may carry


def check_links(links: Any, where: str) -> list[dict[str, Any]]:
    """The links of a task message, well formed; SpecError naming what is wrong."""
    if not isinstance(links, list) or len(links) > MAX_LINKS:
        raise SpecError(f"{where}: 'next' must be a list of at most {MAX_LINKS} links")
    for i, link in enumerate(links):
        at = f"{where}: link {i}"
        if not isinstance(link, dict):
            raise SpecError(f"{at} is not an object")
        node, attempt = link.get("node"), link.get("attempt")
        if not isinstance(node, str) or not node or len(node) > MAX_NODE_ID_CHARS:
            raise SpecError(f"{at}: malformed node id {str(node)[:80]!r}")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise SpecError(f"{at} (node {node!r}): malformed attempt {attempt!r}")
        if not isinstance(link.get("token"), str) or not isinstance(link.get("spec"), dict):
            raise SpecError(f"{at} (node {node!r}): needs a token and a node spec")
        inputs = link.get("inputs")
        if not isinstance(inputs, dict):
            raise SpecError(f"{at} (node {node!r}): inputs must be an object")
        for name, b in inputs.items():
            bindings.split(b, f"{at} (node {node!r}) input {name!r}")
    return links


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
