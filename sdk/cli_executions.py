"""`graft ls`, `status`, `outputs`, `logs` (`sdk.cli_logs`), `deck`, `graph`, `relaunch` and
`cancel`: executions on a cluster, read from its status board (`graft status` says what each waiting
gate waits for). Most take `--json`; an unknown id or an unreachable Redis is one line on
stderr and a non-zero exit (`sdk.cli.main`)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sdk.cli_client import cluster_client
from sdk.cli_format import (
    cut,
    echo_json,
    human_bytes,
    natural_key,
    say_where_to_look,
    seconds,
    timestamp,
)
from sdk.cli_logs import logs
from sdk.model.errors import ConfigError, GraftError
from sdk.model.spec import GraphSpec
from sdk.model.states import NodeState
from sdk.remote.stalls import stall_hints
from sdk.remote.timing import execution_times, node_times
from sdk.values.handlers import parse_text
from sdk.values.shapes import shown as shown_outputs
from sdk.values.store import get_verified
from sdk.wire.keys import queue_tier

if TYPE_CHECKING:
    from sdk.remote.client import Client, Execution, NodeRecord

STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED")
NODE_STATES = tuple(state.value for state in NodeState)
FINAL = ("SUCCEEDED", "FAILED", "ABORTED")


def node_summary(node: NodeRecord, now: float) -> dict[str, Any]:
    """What `graft status` shows of a node: where its time went (queued, running, total), its
    last attempt's worker and the highest peak memory of its attempts."""
    last = node.history[-1] if node.history else {}
    peaks = [h["peak_memory_bytes"] for h in node.history
             if isinstance(h.get("peak_memory_bytes"), int)]
    return {"id": node.id, "task": node.task, "state": node.state,
            "tier": queue_tier(node.queue or "") or None, "attempts": node.attempts,
            **node_times(node.__dict__, now),
            "worker": node.worker or last.get("worker") or None,
            "peak_memory_bytes": max(peaks, default=None), "cached": node.cached}


def never_started(node: NodeRecord) -> dict[str, Any]:
    """The items a map never created (its error's `never_started`: the first one's index, how
    many, of how many, why) as `graft status` lists them: `<map>/<first>..<last>`."""
    never = (node.error or {})["never_started"]
    first, count = int(never["first"]), int(never["count"])
    return {"id": f"{node.id}/{first}" + (f"..{first + count - 1}" if count > 1 else ""),
            "map": node.id, "task": node.task, "state": NodeState.CANCELLED.value,
            "first": first, "count": count, "items": int(never["items"]),
            "reason": str(never["reason"])}


@click.command("ls")
@click.option("--status", "status_", type=click.Choice(STATES), default=None,
              help="Only executions in this state.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(status_: str | None, limit: int, as_json: bool) -> None:
    """List executions, newest first."""
    rows = cluster_client().executions(limit, status_)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no executions" + (f" {status_}" if status_ else ""))
        return
    click.echo(f"{'ID':<22}{'WORKFLOW':<28}{'STATUS':<11}{'NODES':>11}  {'SUBMITTED':<27}"
               f"{'ENDED':<27}ELAPSED")
    now = time.time()
    for r in rows:
        nodes = f"{r['done']}/{r['total']}"
        ended = r.get("ended_at") if r["status"] in FINAL else None
        elapsed = None if not r["submitted_at"] else (ended or now) - r["submitted_at"]
        click.echo(f"{r['id']:<22}{cut(str(r['workflow']), 26):<28}{r['status']:<11}"
                   f"{nodes:>11}  {timestamp(r['submitted_at']):<27}{timestamp(ended):<27}"
                   f"{seconds(elapsed)} s")


@click.command()
@click.argument("execution_id")
@click.option("--state", "states", multiple=True, metavar="STATE",
              type=click.Choice(NODE_STATES, case_sensitive=False),
              help="Only nodes in this state (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(execution_id: str, states: tuple[str, ...], as_json: bool) -> None:
    """Show an execution's status and a table of its nodes: how long each waited in a queue
    (QUEUED), ran (RAN) and took in all (TOTAL), in seconds. The items a map never created
    (it failed or was stopped first) are one CANCELLED row, `never started`, with why."""
    from sdk.cli_signals import gate_line

    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    info = execution.info()
    now = time.time()
    records_by_id = execution.node_records()
    every = sorted(execution.records_as_nodes(records_by_id), key=lambda n: natural_key(n.id))
    hints = stall_hints(execution, info, records_by_id)
    times = execution_times(info, [n.__dict__ for n in every], now)
    wanted = {s.upper() for s in states}
    records = [n for n in every if not wanted or n.state in wanted]
    nodes = [node_summary(n, now) for n in records]
    never = [never_started(n) for n in every if (n.error or {}).get("never_started")] \
        if not wanted or NodeState.CANCELLED.value in wanted else []
    waiting = [g for g in execution.signals() if g.waiting] \
        if any(n.state == "WAITING" for n in every) else []
    if as_json:  # each node: its whole record (queue, error, history, ...) and the summary
        echo_json({
            "id": execution_id, "workflow": info.get("workflow"), "status": info["status"],
            "done": info.get("done", 0), "total": info.get("total", 0), **times,
            "error": info.get("error"), "failures": info.get("failures") or [],
            "stalled": hints,
            "nodes": [{**r.__dict__, **n} for r, n in zip(records, nodes)],
            "never_started": never,
            "waiting": [{**g.__dict__, "due_at": g.due_at} for g in waiting]})
        return
    click.echo(f"{execution_id}  {info.get('workflow', '?')}  {info['status']}  "
               f"{info.get('done', 0)}/{info.get('total', 0)} nodes done")
    click.echo(f"started {timestamp(times['started_at'])}  ended {timestamp(times['ended_at'])}"
               f"  elapsed {seconds(times['elapsed_s'])} s")
    if info.get("error"):
        click.echo(f"error: {info['error']}")
    if nodes or never:
        width = min(48, max(len(n["id"]) for n in [*nodes, *never]) + 2)
        click.echo(f"{'NODE':<{width}}{'TASK':<22}{'STATE':<11}{'TIER':<7}{'TRIES':>5}"
                   f"{'QUEUED':>9}{'RAN':>9}{'TOTAL':>9}  {'PEAK':>10}  {'CACHE':<6}WORKER")
    elif wanted:
        click.echo(f"no node is {' or '.join(sorted(wanted))}")
    for n in nodes:
        peak = "-" if n["peak_memory_bytes"] is None else human_bytes(n["peak_memory_bytes"])
        click.echo(f"{cut(n['id'], width - 2):<{width}}{cut(n['task'], 20):<22}{n['state']:<11}"
                   f"{n['tier'] or '-':<7}{n['attempts']:>5}{seconds(n['queued_s']):>9}"
                   f"{seconds(n['running_s']):>9}{seconds(n['total_s']):>9}  {peak:>10}  "
                   f"{'hit' if n['cached'] else '':<6}{n['worker'] or '-'}")
    for n in never:  # a map's items it never created: one row for them all
        click.echo(f"{cut(n['id'], width - 2):<{width}}{cut(n['task'], 20):<22}"
                   f"{NodeState.CANCELLED.value:<11}{'-':<7}{0:>5}{'-':>9}{'-':>9}{'-':>9}  "
                   f"{'-':>10}  {'':<6}never started")
    for n in never:
        click.echo(f"never started: {n['count']:,} of the {n['items']:,} items of map "
                   f"{n['map']} ({n['id']}): {n['reason']}")
    for gate in waiting:
        click.echo(gate_line(execution_id, gate))
    for hint in hints:
        click.echo(f"waiting: {hint}")
    for f in info.get("failures") or []:
        who = f"node {f['node_id']} ({f['task']})" if f["node_id"] else "the execution"
        click.echo(f"\n{who}: {f['error_type']}: {f['message']}")
        if f.get("traceback"):
            click.echo(f["traceback"].rstrip())


@click.command()
@click.argument("execution_id")
@click.argument("node", required=False)
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON (an execution's values as their repr, a node's as literals).")
def outputs(execution_id: str, node: str | None, as_json: bool) -> None:
    """Show an execution's inputs and, once it succeeded, its outputs; with NODE, that
    node's inputs and outputs (as literals: the JSON form of each value)."""
    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    if node is not None:
        _node_outputs(execution, node, as_json)
        return
    info = execution.info()
    shown: dict[str, Any] = {"id": execution_id, "status": info["status"],
                             "inputs": {k: repr(v) for k, v in execution.inputs().items()}}
    if info["status"] == "SUCCEEDED":
        shown["outputs"] = shown_outputs(execution.outputs())
    elif info["status"] in FINAL:
        shown["error"] = info.get("error")
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    click.echo(f"{execution_id}  {info['status']}")
    click.echo("inputs:")
    for name, value in shown["inputs"].items():
        click.echo(f"  {name} = {value}")
    if "outputs" in shown:
        click.echo(f"outputs: {shown['outputs']}")
    elif "error" in shown:
        click.echo(f"no outputs: {shown['error']}")
    else:
        click.echo(f"no outputs yet: it is {info['status']}")


def _node_outputs(execution: Execution, node: str, as_json: bool) -> None:
    from sdk.remote.node_io import node_values

    records = execution.node_records()
    record = records.get(node)
    if record is None:
        raise GraftError(f"execution {execution.id} has no node {node!r} "
                         f"(`graft status {execution.id}` lists them)")
    store = execution.client.store
    error = record.get("error")
    shown: dict[str, Any] = {"id": execution.id, "node": node, "task": record.get("task", ""),
                             "state": record.get("state", ""),
                             "inputs": node_values(records, node, "inputs", store) or {},
                             "outputs": node_values(records, node, "outputs", store)}
    if error:
        shown["error"] = error
    if as_json:
        click.echo(json.dumps(shown, indent=2, default=repr))
        return
    click.echo(f"{execution.id} {node} ({shown['task']})  {shown['state']}")
    click.echo("inputs:")
    for name, value in shown["inputs"].items():
        click.echo(f"  {name} = {json.dumps(value, default=repr)}")
    if shown["outputs"] is not None:
        click.echo("outputs:")
        for name, value in shown["outputs"].items():
            click.echo(f"  {name} = {json.dumps(value, default=repr)}")
    elif error:
        click.echo(f"no outputs: {error.get('type', 'Error')}: {error.get('message', '')}")
    else:
        click.echo(f"no outputs yet: it is {shown['state']}")


def _overrides(client: Client, execution: Execution, given: tuple[str, ...]) -> dict[str, Any]:
    """`--input name=value` pairs parsed by the types of the execution's workflow inputs."""
    if not given:
        return {}
    spec = GraphSpec.loads(get_verified(client.store, execution.info()["spec"]))
    values: dict[str, Any] = {}
    for pair in given:
        name, eq, raw = pair.partition("=")
        if not eq:
            raise ConfigError(f"--input {pair!r}: give it as NAME=VALUE")
        if name not in spec.inputs:
            raise ConfigError(f"workflow {spec.name!r} has no input {name!r}; its inputs are: "
                              f"{', '.join(spec.inputs) or 'none'}")
        try:
            values[name] = parse_text(raw, spec.inputs[name])
        except (ValueError, GraftError) as exc:
            raise ConfigError(f"--input {name}: cannot read {raw!r} ({exc})") from exc
    return values


@click.command()
@click.argument("execution_id")
@click.option("--input", "inputs", multiple=True, metavar="NAME=VALUE",
              help="Change one input (repeatable); the others stay as they were.")
@click.option("--priority", type=click.IntRange(-1000, 1000), default=None,
              help="Its priority (default: the one it had).")
@click.option("--wait", is_flag=True, help="Wait and print the outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def relaunch(execution_id: str, inputs: tuple[str, ...], priority: int | None, wait: bool,
             as_json: bool) -> None:
    """Run an execution again: the same workflow as it was submitted, the same inputs unless
    --input changes some, at the same priority unless --priority changes it."""
    client = cluster_client()
    old = client.get(execution_id)
    execution_id = old.id  # a prefix given: the whole id
    new = client.relaunch(execution_id, _overrides(client, old, inputs), priority=priority)
    result = shown_outputs(new.wait()) if wait else None
    if as_json:
        click.echo(json.dumps({"id": new.id, "relaunch_of": execution_id,
                               **({"outputs": result} if wait else {})}))
        return
    click.echo(new.id)
    say_where_to_look(new.id)
    if wait:
        click.echo(result)


@click.command()
@click.argument("execution_id")
@click.option("--wait", is_flag=True, help="Wait until the execution has ended.")
@click.option("--reason", default="", help="Why, kept with the execution.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cancel(execution_id: str, wait: bool, reason: str, as_json: bool) -> None:
    """Abort an execution: queued nodes never start, running ones are stopped."""
    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    sent = execution.cancel(reason)
    if sent and wait:
        deadline = time.monotonic() + 60
        while execution.status() not in FINAL:
            if time.monotonic() > deadline:
                raise GraftError(f"execution {execution_id} is still {execution.status()} 60 s "
                                 f"after the cancel: is a scheduler running?")
            time.sleep(0.2)
    if as_json:
        click.echo(json.dumps({"id": execution_id, "cancelled": sent,
                               "status": execution.status()}))
    elif not sent:
        click.echo(f"execution {execution_id} is {execution.status()} already; nothing to "
                   f"cancel")
    else:
        click.echo(f"execution {execution_id}: cancel sent")
        if wait:
            click.echo(f"execution {execution_id} is {execution.status()}")


@click.command()
@click.argument("execution_id")
@click.argument("node")
@click.option("--attempt", type=click.IntRange(1), default=None,
              help="This attempt of NODE (default: its last).")
@click.option("--open", "open_", is_flag=True,
              help="Open the page in a web browser (from FILE, or a temporary file).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the page to FILE instead of printing it.")
def deck(execution_id: str, node: str, attempt: int | None, open_: bool,
         output: str | None) -> None:
    """Print the HTML deck a node's attempt made (@task(enable_deck=True)). An in-process
    run's id (local-...) is read from the local store (GRAFT_STORE)."""
    if execution_id.startswith("local-"):
        page, attempt = _local_deck(execution_id, node, attempt)
    else:
        execution = cluster_client().get(execution_id)
        execution_id = execution.id  # a prefix given: the whole id
        attempt = execution._attempt(node, attempt)
        page = execution.deck(node, attempt)
    if page is None:
        raise GraftError(f"node {node!r} of execution {execution_id} has no deck"
                         + (f" for attempt {attempt}" if attempt else "")
                         + ": its task needs @task(enable_deck=True), and a node taken from "
                           "the cache or still running without Deck.publish() has none")
    if output is None and not open_:
        click.echo(page, nl=False)
        return
    if output is None:
        import tempfile

        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{execution_id}-{node}")
        output = os.path.join(tempfile.gettempdir(), f"graft-deck-{safe}-{attempt}.html")
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(page)
    click.echo(f"deck of {node} (attempt {attempt}) written to {output}")
    if open_:
        import webbrowser

        webbrowser.open(Path(output).resolve().as_uri())


def _local_deck(execution_id: str, node: str, attempt: int | None
                ) -> tuple[str | None, int | None]:
    """The page of an in-process run's node, from the local store: (page, attempt)."""
    from sdk.model.decks import deck_key
    from sdk.model.errors import StoreObjectMissing
    from sdk.runtime.deck import deck_attempts
    from sdk.values.store import default_store

    store = default_store()
    if attempt is None:
        found = deck_attempts(store, execution_id, node)
        if not found:
            return None, None
        attempt = found[-1]
    try:
        return store.get(deck_key(execution_id, node, attempt)).decode(errors="replace"), attempt
    except StoreObjectMissing:
        return None, attempt


@click.command()
@click.argument("execution_id")
@click.option("--format", "fmt", type=click.Choice(("mermaid", "dot")), default="mermaid",
              show_default=True, help="Mermaid flowchart or Graphviz dot.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the nodes (state, task, parent) and edges as JSON instead.")
def graph(execution_id: str, fmt: str, as_json: bool) -> None:
    """Print an execution's graph, nodes coloured by state (render it with mermaid-cli or
    `dot -Tsvg`)."""
    from sdk.remote.graph_text import graph_edges, render

    client = cluster_client()
    execution = client.get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    spec = GraphSpec.loads(get_verified(client.store, execution.info()["spec"]))
    nodes = execution.node_records()
    if as_json:
        echo_json({"id": execution_id,
                   "nodes": [{"id": nid, "task": n.get("task"), "kind": n.get("kind"),
                              "state": n.get("state"), "parent": n.get("parent")}
                             for nid, n in sorted(nodes.items(),
                                                  key=lambda kv: natural_key(kv[0]))],
                   "edges": [list(edge) for edge in graph_edges(spec, nodes)]})
        return
    click.echo(render(spec, nodes, fmt), nl=False)


COMMANDS = (ls, status, outputs, logs, deck, graph, relaunch, cancel)
