"""A chain of plain tasks on the cluster runs as links on one worker (scheduler/
continuation.py, worker/chain.py): outputs equal the in-process run, each node ends once in
the events, each is a task of its own in the task events monitors read, and the scheduler
stays the authority: a link failing once is retried, a cancel stops the link running, and a
worker or scheduler SIGKILLed mid-chain loses nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import _wait_for as _wait
from workflows import chains

from sdk import ExecutionAborted
from sdk.wire.celery_app import make_app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

LINKS = chains.LINKS


class TaskEvents:
    """The Celery task events published on a cluster's broker while it is open."""

    def __init__(self, settings: Any) -> None:
        self.app = make_app(settings)
        self.events: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TaskEvents:
        self._thread.start()
        assert self._ready.wait(10), "the event receiver did not start"
        return self

    def __exit__(self, *_: Any) -> None:
        self._receiver.should_stop = True
        self._thread.join(10)

    def _run(self) -> None:
        with self.app.connection() as conn:
            self._receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            self._receiver.on_iteration = self._ready.set  # subscribed by then
            for _ in self._receiver.consume(limit=None, timeout=None, safety_interval=0.5,
                                            wakeup=False):
                pass

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


def _ran_once(folder: Path) -> None:
    ends = chains.runs(str(folder))
    assert sorted(ends) == list(range(LINKS))
    twice = sorted(x for x, c in ends.items() if c > 1)
    assert not twice, f"links run to the end more than once: {twice}"


def _one_success_per_node(cluster: Any, eid: str) -> list[str]:
    """Asserts each node's success is in the events once; returns the nodes with failed
    attempts in them."""
    rows = cluster.query("SELECT node_id, outcome FROM graft_events WHERE execution_id = :e",
                         e=eid)
    succeeded = [node for node, outcome in rows if outcome == "values"]
    assert len(succeeded) == LINKS and len(set(succeeded)) == LINKS, rows
    return [node for node, outcome in rows if outcome != "values"]


def test_a_chain_runs_as_links_with_its_outputs_events_and_retries(cluster: Any,
                                                                    tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    expected = chains.chain_wf(folder=str(local))  # in-process (which, as flytekit's, retries not)
    assert expected == LINKS
    folder = tmp_path / "ran"
    folder.mkdir()
    with TaskEvents(cluster.settings) as events:
        execution = cluster.client().submit(chains.chain_wf, folder=str(folder), fail_at=7)
        assert execution.wait(timeout=120) == expected
        _wait(lambda: len(events.of("task-succeeded")) >= LINKS, 10,
              "a task-succeeded event for each node")
    _ran_once(folder)
    assert chains.runs(str(folder), "start")[7] == 2  # failed once, then retried
    assert _one_success_per_node(cluster, execution.id) == ["link-7"]
    (seven,) = [n for n in execution.nodes() if n.attempts == 2]
    assert seven.state == "SUCCEEDED"
    # Links came after another node in one message, and monitors saw each as a task.
    received = events.of("task-received")
    links = [e for e in received if e.get("parent_id") and "after task" in str(e.get("args"))]
    assert len(links) >= LINKS // 2, f"{len(links)} of {len(received)} tasks ran as links"
    assert {e["name"] for e in links} == {"workflows.chains.link"}
    failed = events.of("task-retried") + events.of("task-failed")
    assert failed, "the link that failed once shows as failed or retried"


def test_a_cancel_stops_the_link_running(cluster: Any, tmp_path: Path) -> None:
    folder = tmp_path / "ran"
    folder.mkdir()
    execution = cluster.client().submit(chains.chain_wf, folder=str(folder), delay=1.0)
    _wait(lambda: len(chains.runs(str(folder), "start")) >= 4, 60, "four links to start")
    assert execution.cancel("enough")
    with pytest.raises(ExecutionAborted):
        execution.wait(timeout=60)
    time.sleep(3.0)  # a link left running would start the next one meanwhile
    started = chains.runs(str(folder), "start")
    ended = chains.runs(str(folder))
    assert len(started) < 10, f"links went on after the cancel: {sorted(started)}"
    assert len(started) - len(ended) <= 1  # at most the one running was stopped
    time.sleep(2.0)
    assert chains.runs(str(folder), "start") == started


@pytest.mark.parametrize("kill", ["worker", "scheduler"])
def test_a_process_killed_mid_chain_loses_no_link(make_cluster: Any, tmp_path: Path,
                                                  kill: str) -> None:
    cluster = make_cluster()
    folder = tmp_path / "ran"
    folder.mkdir()
    # Past a tick of the worker's lease thread (GRAFT_LEASE_TTL_S / 3), with links of the
    # first message still to run: their leases must not be taken before their claims, or
    # they would be found lost and given up with the worker.
    execution = cluster.client().submit(chains.chain_wf, folder=str(folder), delay=0.5)
    _wait(lambda: len(chains.runs(str(folder))) >= 9, 60, "nine links to end")
    if kill == "worker":
        cluster.workers[0].kill()  # SIGKILL its process group: the link running is lost
        cluster.start_worker("256Mi", 2)
    else:
        cluster.kill_scheduler()  # the worker goes on with the links it claimed meanwhile
        time.sleep(2.0)
        cluster.start_scheduler()
    assert execution.wait(timeout=120) == LINKS
    ends = chains.runs(str(folder))
    assert sorted(ends) == list(range(LINKS))
    failed = _one_success_per_node(cluster, execution.id)
    if kill == "scheduler":
        _ran_once(folder)
        assert not failed
    else:
        assert len(failed) <= 1  # the link the worker ran when it was killed, lost
