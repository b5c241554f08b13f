"""`graft logs`: what nodes wrote on their workers (standard output, standard error, log
records), once or followed while the execution runs.

Every chunk is printed under the header of its node, attempt and stream: a header comes
again whenever the output switches to another one, and a line left open is closed first. A
node retried while it is followed has each attempt's output printed, the earlier one's tail
included. Nothing to show is said in a line, not left as silence.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from sdk.cli_client import cluster_client
from sdk.cli_format import echo_json, timestamp
from sdk.model.errors import ConfigError, GraftError

if TYPE_CHECKING:
    from sdk.remote.client import Execution

FINAL = ("SUCCEEDED", "FAILED", "ABORTED")
POLL_S = 1.0


def attempt_logs(execution: Execution, node: str, attempt: int) -> dict[str, Any]:
    """One attempt's output: {node, attempt, stdout, stderr, records}."""
    out = execution.output(node, attempt)
    return {"node": node, "attempt": attempt, "stdout": out["stdout"], "stderr": out["stderr"],
            "records": execution.log_records(node, attempt)}


class LogPrinter:
    """Prints what is new in each attempt's output since the last call."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, int, str], int] = {}  # (node, attempt, stream) -> printed
        self.header: tuple[str, int, str] | None = None
        self.line_open = False
        self.printed = False

    def _switch(self, mark: tuple[str, int, str], header: bool) -> None:
        if mark == self.header:
            return
        if self.line_open:  # the last chunk ended mid-line: close it before a header
            click.echo()
            self.line_open = False
        if header:
            click.echo(f"==> {mark[0]} (attempt {mark[1]}) {mark[2]} <==")
        self.header = mark

    def show(self, entry: dict[str, Any]) -> None:
        node, attempt = entry["node"], entry["attempt"]
        for stream in ("stdout", "stderr"):
            mark = (node, attempt, stream)
            text = entry[stream]
            new = text[self.seen.get(mark, 0):]
            if new:
                self._switch(mark, header=True)
                click.echo(new, nl=False)
                self.line_open = not new.endswith("\n")
                self.seen[mark] = len(text)
                self.printed = True
        mark = (node, attempt, "records")
        records = entry["records"]
        for r in records[self.seen.get(mark, 0):]:
            self._switch(mark, header=False)  # each line names its node and attempt
            click.echo(f"{node} (attempt {attempt}): {timestamp(r.get('at'))} "
                       f"{r.get('level')} {r.get('message')}")
            self.printed = True
        self.seen[mark] = len(records)

    def close(self) -> None:
        if self.line_open:
            click.echo()
            self.line_open = False


@click.command()
@click.argument("execution_id")
@click.argument("node", required=False)
@click.option("--attempt", type=click.IntRange(1), default=None,
              help="This attempt of NODE (default: its last).")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing what running nodes write until the execution ends.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def logs(execution_id: str, node: str | None, attempt: int | None, follow: bool,
         as_json: bool) -> None:
    """Show what nodes wrote on their workers: standard output, standard error and log
    records (current_context().logging). Without NODE: every node's last attempt; followed,
    every attempt from the one running when it started."""
    if attempt is not None and node is None:
        raise ConfigError("--attempt needs a NODE")
    if follow and as_json:
        raise ConfigError("--follow prints as it goes; it does not go with --json")
    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    first: dict[str, int] = {}  # followed: each node's first attempt shown

    def entries() -> list[dict[str, Any]]:
        records = {n.id: n for n in execution.nodes()}
        if node is not None and node not in records:
            raise GraftError(f"execution {execution_id} has no node {node!r}")
        if attempt is not None and attempt > max(1, records[node].attempts):
            raise GraftError(f"node {node!r} of execution {execution_id} has had "
                             f"{records[node].attempts} attempt(s), not {attempt}")
        chosen = [node] if node is not None else [
            nid for nid, n in records.items() if n.kind in ("task", "dynamic")]
        out = []
        for nid in chosen:
            last = attempt or max(1, records[nid].attempts)
            start = first.setdefault(nid, last) if follow else last
            out += [attempt_logs(execution, nid, a) for a in range(start, last + 1)]
        return out

    if as_json:
        echo_json(entries())
        return
    printer = LogPrinter()
    while True:
        ended = execution.status() in FINAL
        for entry in entries():
            printer.show(entry)
        if not follow or ended:
            break
        time.sleep(POLL_S)
    printer.close()
    if not printer.printed:
        which = (f"node {node!r}" + (f" attempt {attempt}" if attempt else " (its last attempt)")
                 if node is not None else "any node")
        click.echo(f"no output captured for {which} of execution {execution_id}")
