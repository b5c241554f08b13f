"""Continuations: the links of a chain a worker runs after a node without going back to the
scheduler.

When node X's only dependent Y waits for X alone, the scheduler would send Y the moment X's
report arrives. Instead, X's message carries Y's run request (`next`: node, attempt, token,
spec, and inputs resolved but for the references to X's outputs), and Y's carries Z's, up to
`GRAFT_CONTINUE_LINKS` links. The worker, once X succeeded, reports X and claims Y in one
Redis script (`Leases.report_and_claim`: not when either attempt was given up, nor when Y was
claimed before), runs Y with X's outputs as its inputs, and so on; each report that continued
names the link it claimed (`continued: [node, attempt]`).

The scheduler stays the authority. Each link's token is derived from the one before it
(`link_token`), and the links a message carries get their rows when it is sent, so a
scheduler rebuilt from its state holds them and accepts their reports. Applying X's report it
records Y as sent under the derived token, instead of sending it, when Y is one of X's
dependents that fits (`claimed`: a slice inserted since may have given X others); a Y that it
does not release at that attempt is superseded, so the worker stops it. When X is cancelled
in flight, the links it may have carried are superseded with it (`given_up_with`).

A link is a plain task (not cached, not a map item, no failure handler) in X's scope, on X's
tier queue, whose inputs fit in the message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from scheduler.dispatch import INLINE_INPUTS_BYTES, bare_spec, retries_left
from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.config import MAX_CONTINUE_LINKS, Settings
from sdk.model.engine import Engine
from sdk.model.errors import GraftError
from sdk.model.runs import NodeRun, is_handler
from sdk.model.states import TERMINAL_NODE_STATES, NodeState
from sdk.values.literals import dumps

TOKEN_CHARS = 16  # as `secrets.token_hex(8)`


def link_token(token: str, node_id: str, attempt: int) -> str:
    """The token of attempt `attempt` of `node_id` run as the link after the attempt whose
    token is `token`."""
    text = f"{token}/{node_id}/{attempt}".encode()
    return hashlib.sha256(text).hexdigest()[:TOKEN_CHARS]


def _plain(engine: Engine, run: NodeRun) -> bool:
    """Whether a node may be one end of a link: a plain task outside any map."""
    spec = run.spec
    if spec.kind != "task" or spec.cache or is_handler(run.id):
        return False
    parent = engine.nodes.get(run.parent) if run.parent is not None else None
    return run.parent is None or (parent is not None and parent.map is None)


def _fits(engine: Engine, run: NodeRun, after: NodeRun,
          queue_of: Callable[[NodeRun], str]) -> bool:
    """Whether `after`, a dependent of `run`, may run as its link: it waits for `run` alone,
    in its scope and on its tier queue, and both are plain tasks."""
    if after.waiting != 1 or after.parent != run.parent or not _plain(engine, run) \
            or not _plain(engine, after):
        return False
    try:
        return queue_of(after) == queue_of(run)
    except Exception:  # no tier fits it: it goes the ordinary way, and fails there
        return False


def next_link(engine: Engine, run: NodeRun, queue_of: Callable[[NodeRun], str]
              ) -> NodeRun | None:
    """The node a message of `run` may carry as its next link: its only dependent, still
    waiting, that fits (`_fits`)."""
    if len(run.dependents) != 1:
        return None
    after = engine.nodes.get(run.dependents[0])
    if after is None or after.state != NodeState.PENDING or not _fits(engine, run, after,
                                                                       queue_of):
        return None
    return after


def claimed(engine: Engine, run: NodeRun, named: tuple[str, int],
            queue_of: Callable[[NodeRun], str]) -> NodeRun | None:
    """The link a report of `run` says its worker claimed, when a message of `run` may have
    carried it: one of its dependents, at that attempt, that fits. Not whether it is still
    its only dependent: slices of its graph inserted since its message left may have added
    others."""
    node, attempt = named
    after = engine.nodes.get(node) if node in run.dependents else None
    if after is None or after.attempt != attempt or not _fits(engine, run, after, queue_of):
        return None
    return after


def chain_after(engine: Engine, run: NodeRun, depth: int,
                queue_of: Callable[[NodeRun], str]) -> list[NodeRun]:
    """Up to `depth` links a message of `run` carries, in order."""
    out: list[NodeRun] = []
    while len(out) < depth:
        after = next_link(engine, run, queue_of)
        if after is None:
            break
        out.append(after)
        run = after
    return out


def given_up_with(engine: Engine, run: NodeRun, queue_of: Callable[[NodeRun], str]
                  ) -> list[NodeRun]:
    """The nodes a message of `run`, given up in flight, may have carried as links and that
    will not run now (ended: skipped or cancelled with it), up to `MAX_CONTINUE_LINKS` deep: their
    attempts are given up too, so that a worker that claimed one stops it."""
    out: list[NodeRun] = []
    level = [run]
    while level and len(out) < MAX_CONTINUE_LINKS:
        level = [after for r in level for d in r.dependents
                 if (after := engine.nodes.get(d)) is not None
                 and after.state in TERMINAL_NODE_STATES and _fits(engine, r, after, queue_of)]
        out.extend(level)
    return out[:MAX_CONTINUE_LINKS]


def partly_resolved(engine: Engine, run: NodeRun, before: str) -> dict[str, Binding]:
    """`run`'s inputs resolved, but for the references to node `before`'s outputs, which the
    worker replaces with them (`sdk.wire.links.with_outputs`)."""

    def leaf(kind: str, body: Any) -> Binding:
        if kind == "ref" and body[0] == before:
            return {kind: body}
        return engine.resolve({kind: body})

    return {name: bindings.transform(b, leaf) for name, b in run.bindings.items()}



def make_links(settings: Settings, engine: Engine, run: NodeRun, token: str,
               queue_of: Callable[[NodeRun], str]) -> list[dict[str, Any]]:
    """The links the message of `run`'s current attempt (its token `token`) carries: up to
    `settings.continue_links`, each a run request with its token derived from the one
    before. The chain stops before a link whose inputs cannot be resolved here or would not
    fit inline in the message."""
    out: list[dict[str, Any]] = []
    before, before_token = run.id, token
    depth = min(settings.continue_links, MAX_CONTINUE_LINKS)
    for after in chain_after(engine, run, depth, queue_of):
        try:
            inputs = partly_resolved(engine, after, before)
        except GraftError:
            break
        if len(dumps(inputs)) > INLINE_INPUTS_BYTES:
            break
        before_token = link_token(before_token, after.id, after.attempt)
        out.append({"node": after.id, "attempt": after.attempt, "token": before_token,
                    "spec": bare_spec(after), "inputs": inputs,
                    "retries_left": retries_left(settings, after)})
        before = after.id
    return out
