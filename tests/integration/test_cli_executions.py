"""`graft ls`, `status`, `outputs`, `relaunch` and `cancel` against a real cluster."""

from __future__ import annotations

import json

import pytest
from workflows import cached, dynamics, faults
from workflows.basic import chain

from sdk.cli_format import natural_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def cli_json(cluster, *args: str):
    proc = cluster.run_cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_ls_lists_executions_newest_first_and_filters_by_status(cluster, tmp_path):
    client = cluster.client()
    first = client.submit(chain, n=2)
    first.wait(timeout=60)
    failed = client.submit(faults.hanging, path=str(tmp_path / "m"))  # times out in 2 s
    with pytest.raises(Exception):  # noqa: B017 (ExecutionFailed, tested elsewhere)
        failed.wait(timeout=60)
    listed = cli_json(cluster, "ls", "--limit", "500")
    ids = [r["id"] for r in listed]
    assert ids.index(failed.id) < ids.index(first.id)  # newest first
    row = next(r for r in listed if r["id"] == first.id)
    assert row["workflow"] == "chain" and row["status"] == "SUCCEEDED"
    assert row["done"] == row["total"] > 0
    only_failed = cli_json(cluster, "ls", "--status", "FAILED", "--limit", "500")
    assert failed.id in {r["id"] for r in only_failed}
    assert all(r["status"] == "FAILED" for r in only_failed)
    assert len(cli_json(cluster, "ls", "--limit", "1")) == 1
    table = cluster.run_cli("ls", "--limit", "500").stdout
    assert first.id in table and "SUCCEEDED" in table
    assert "ENDED" in table.splitlines()[0] and "ELAPSED" in table.splitlines()[0]
    assert row["ended_at"] >= row["submitted_at"]  # both ISO 8601 in one zone


def test_status_shows_tier_attempts_worker_peak_memory_and_cache_hits(cluster, tmp_path):
    client = cluster.client()
    counter = str(tmp_path)
    client.submit(cached.stored_range_wf, n=10, counter_dir=counter).wait(timeout=60)
    again = client.submit(cached.stored_range_wf, n=10, counter_dir=counter)
    again.wait(timeout=60)
    shown = cli_json(cluster, "status", again.id)
    assert shown["status"] == "SUCCEEDED"
    nodes = {n["id"]: n for n in shown["nodes"]}
    assert nodes["cached_range"]["cached"] is True
    summed = nodes["uncached_sum"]
    assert summed["cached"] is False and summed["tier"] == "256Mi" and summed["attempts"] == 1
    assert summed["worker"].startswith("mem-256Mi-")
    assert summed["peak_memory_bytes"] > 10 * 2**20 and summed["running_s"] >= 0
    table = cluster.run_cli("status", again.id).stdout
    assert "PEAK" in table and "hit" in table and "mem-256Mi-" in table
    assert " MiB" in table and "Ki " not in table  # human units


def test_status_splits_queue_time_from_run_time_and_filters_by_state(cluster):
    from workflows import ui_flows

    # four naps of 1.5 s on the 256Mi worker's two slots: two of them wait for a slot
    done = cluster.client().submit(ui_flows.napping_wf, n=4, seconds=1.5)
    assert done.wait(timeout=90) == 72
    shown = cli_json(cluster, "status", done.id)
    naps = [n for n in shown["nodes"] if n["task"].split(".")[-1] == "nap"]
    assert len(naps) == 4
    for n in naps:
        assert 1.5 <= n["running_s"] < 10, n
        assert n["queued_s"] + n["running_s"] == pytest.approx(n["total_s"], abs=1e-6)
        [span] = [h for h in n["history"] if h["outcome"] == "values"]
        assert span["ended_at"] <= n["ended_at"]  # the attempt's end, on the scheduler's clock
    assert max(n["queued_s"] for n in naps) >= 1.0, naps  # waited behind the first two
    assert shown["started_at"] <= shown["ended_at"]  # ISO 8601, one zone: compare as text
    assert shown["started_at"][:4].isdigit() and shown["started_at"][-6] in "+-"
    assert shown["elapsed_s"] >= 3.0
    ids = [n["id"] for n in shown["nodes"]]
    assert ids == sorted(ids, key=natural_key)
    only = cli_json(cluster, "status", done.id, "--state", "succeeded")["nodes"]
    assert {n["state"] for n in only} == {"SUCCEEDED"} and len(only) == len(ids)
    assert cli_json(cluster, "status", done.id, "--state", "FAILED")["nodes"] == []
    table = cluster.run_cli("status", done.id, "--state", "FAILED").stdout
    assert "no node is FAILED" in table and "elapsed" in table
    table = cluster.run_cli("status", done.id).stdout
    assert "QUEUED" in table and "RAN" in table and "TOTAL" in table


def test_outputs_and_relaunch_with_an_input_changed(cluster):
    client = cluster.client()
    ran = client.submit(chain, n=3)
    assert ran.wait(timeout=60) == "squares=14"
    shown = cli_json(cluster, "outputs", ran.id)
    assert shown["inputs"] == {"n": "3"} and shown["outputs"] == "'squares=14'"
    again = cli_json(cluster, "relaunch", ran.id, "--input", "n=4", "--wait")
    assert again["relaunch_of"] == ran.id and again["outputs"] == "'squares=30'"
    same = cluster.run_cli("relaunch", ran.id, "--wait")
    assert same.returncode == 0, same.stderr
    new_id, result = same.stdout.split()
    assert result == "'squares=14'" and new_id != ran.id
    assert client.get(new_id).inputs() == {"n": 3}


def test_outputs_of_one_node_inside_a_dynamic_and_of_a_dataclass(cluster):
    client = cluster.client()
    ran = client.submit(dynamics.fan_out_wf, n=3)
    assert ran.wait(timeout=60) == 5
    nodes = {n["id"]: n for n in cli_json(cluster, "status", ran.id)["nodes"]}
    squares = sorted(nid for nid, n in nodes.items() if n["task"].endswith("square"))
    assert len(squares) == 3 and all(nodes[nid]["parent"] for nid in squares)
    shown = [cli_json(cluster, "outputs", ran.id, nid) for nid in squares]
    assert sorted((s["inputs"]["x"], s["outputs"]["o0"]) for s in shown) == [
        (0, 0), (1, 1), (2, 4)]
    total = next(nid for nid, n in nodes.items() if n["task"].endswith("total"))
    summed = cli_json(cluster, "outputs", ran.id, total)
    assert summed["inputs"] == {"xs": [0, 1, 4]} and summed["outputs"] == {"o0": 5}
    text = cluster.run_cli("outputs", ran.id, squares[2]).stdout
    assert "x = 2" in text and "o0 = 4" in text

    stats = client.submit(chain, n=2)
    stats.wait(timeout=60)
    nodes = {n["task"].rsplit(".", 1)[-1]: n["id"]
             for n in cli_json(cluster, "status", stats.id)["nodes"]}
    summary = cli_json(cluster, "outputs", stats.id, nodes["summarize"])
    assert summary["inputs"] == {"xs": [1, 4], "label": "squares"}
    described = cli_json(cluster, "outputs", stats.id, nodes["describe"])
    assert described["inputs"] == {"total": 5, "label": "squares"}  # fields of the dataclass
    missing = cluster.run_cli("outputs", stats.id, "n99")
    assert missing.returncode != 0 and "has no node 'n99'" in missing.stderr


def test_a_node_a_worker_runs_shows_as_running_with_its_worker(cluster):
    import time

    from workflows import ui_flows

    execution = cluster.client().submit(ui_flows.napping_wf, n=1, seconds=4.0)
    deadline, running = time.monotonic() + 60, None
    while running is None and time.monotonic() < deadline:
        nodes = cli_json(cluster, "status", execution.id)["nodes"]
        running = next((n for n in nodes if n["task"].endswith("nap")
                        and n["state"] == "RUNNING"), None)
        time.sleep(0.3)
    assert running is not None, nodes
    assert running["worker"].startswith("mem-256Mi-")
    assert "RUNNING" in cluster.run_cli("status", execution.id).stdout
    assert execution.wait(timeout=60) == 0
    done = {n.id: n for n in execution.nodes()}[running["id"]]
    assert done.state == "SUCCEEDED" and done.worker is None


@pytest.mark.parametrize("args, expected", [
    (["status", "nosuchexecution"], "no execution 'nosuchexecution'"),
    (["outputs", "nosuchexecution"], "no execution 'nosuchexecution'"),
    (["relaunch", "nosuchexecution"], "no execution 'nosuchexecution'"),
    (["ls", "--status", "DONE"], "Invalid value for '--status'"),
    (["status", "../x y"], "no execution '../x y': execution id"),
], ids=["status", "outputs", "relaunch", "ls-status", "malformed-id"])
def test_bad_ids_and_values_are_one_clear_line(cluster, args, expected):
    proc = cluster.run_cli(*args)
    assert proc.returncode != 0
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_relaunch_refuses_an_unknown_input(cluster):
    ran = cluster.client().submit(chain, n=2)
    ran.wait(timeout=60)
    proc = cluster.run_cli("relaunch", ran.id, "--input", "m=4")
    assert proc.returncode == 1
    assert "workflow 'chain' has no input 'm'; its inputs are: n" in proc.stderr


def test_graph_draws_dynamics_and_maps_as_boxes(cluster, tmp_path):
    import pydot

    execution = cluster.client().submit(cached.cached_all, n=2, xs=[1, 2],
                                        counter_dir=str(tmp_path))
    execution.wait(timeout=120)
    dot = cluster.run_cli("graph", execution.id, "--format", "dot")
    assert dot.returncode == 0, dot.stderr
    [graph] = pydot.graph_from_dot_data(dot.stdout)
    boxes = {sub.get_label().strip('"'): sub for sub in graph.get_subgraphs()}
    assert set(boxes) == {"cached_fan (SUCCEEDED)", "map_cached_cube (SUCCEEDED)"}
    items = [n.get_label().strip('"') for n in boxes["map_cached_cube (SUCCEEDED)"].get_nodes()]
    assert "0: cached_cube (SUCCEEDED)" in items and "1: cached_cube (SUCCEEDED)" in items
    assert len(graph.get_edges()) >= 2  # cached_fan -> cached_total, map -> uncached_sum
    mermaid = cluster.run_cli("graph", execution.id)
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart TD")
    assert mermaid.stdout.count("subgraph ") == 2


def test_graph_links_the_nodes_a_dynamic_grafted(cluster):
    import pydot

    execution = cluster.client().submit(dynamics.recursive_wf, n=3)
    assert execution.wait(timeout=120)[0] == 2
    [graph] = pydot.graph_from_dot_data(cluster.run_cli("graph", execution.id, "--format",
                                                        "dot").stdout)
    label = {}
    for sub in [graph, *graph.get_subgraphs()]:
        stack = [sub]
        while stack:
            g = stack.pop()
            stack.extend(g.get_subgraphs())
            label.update({n.get_name(): n.get_label().strip('"') for n in g.get_nodes()
                          if n.get_label()})
    linked = [(e.get_source(), e.get_destination()) for e in graph.get_edges()]
    # fib(3) grafts fib(2), fib(1) and add(fib(2), fib(1)): add reads both; so does fib(2)'s
    assert len(linked) == 4 and len({b for _, b in linked}) == 2
    assert all(label[b] == "add (SUCCEEDED)" for _, b in linked)
    assert sorted(label[a] for a, _ in linked) == ["fib (SUCCEEDED)", "fib (SUCCEEDED)",
                                                   "fib-1: fib (SUCCEEDED)",
                                                   "fib-1: fib (SUCCEEDED)"]


def test_run_wait_prints_each_failure_as_it_happens(cluster, tmp_path):
    from pathlib import Path

    from workflows import control_flow

    proc = cluster.run_cli("run", "--remote", "--wait", str(Path(control_flow.__file__)),
                           "fails_after_the_rest", "--path", str(tmp_path / "log"), "--x=-1")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    failure = "node fail_on (fail_on) failed: RuntimeError: negative: -1"
    assert failure in lines, proc.stderr
    before = lines[:lines.index(failure)]
    assert before and before[-1].startswith("[RUNNING]")  # while the others still ran
    assert any(line.startswith("[FAILED]") for line in lines[lines.index(failure):])


def test_run_wait_on_a_terminal_draws_a_progress_bar(cluster):
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios
    import threading
    from pathlib import Path

    from workflows import basic

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "sdk.cli", "run", "--remote", "--wait",
                             str(Path(basic.__file__)), "chain", "--n", "3"],
                            cwd=cluster.cwd, env=cluster.env, stdout=subprocess.PIPE,
                            stderr=follower, text=True)
    os.close(follower)
    chunks: list[bytes] = []

    def pump() -> None:  # read while it writes: a full terminal buffer would block it
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=pump)
    reader.start()
    out, _ = proc.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(leader)
    seen = b"".join(chunks)
    assert proc.returncode == 0 and out.strip().endswith("'squares=14'")
    drawn = seen.decode(errors="replace")
    assert "[SUCCEEDED]" in drawn and "nodes [" in drawn and "\r" in drawn  # redrawn in place


def test_a_mistyped_id_is_answered_at_once_and_a_unique_prefix_is_enough(cluster):
    import time

    from sdk.wire.keys import Keys

    ran = cluster.client().submit(chain, n=2)
    ran.wait(timeout=60)
    dead_before = len(cluster.dead_letters())
    typo = "0" * 20  # an id graft could have made, that no execution has
    started = time.monotonic()
    proc = cluster.run_cli("status", typo)
    took = time.monotonic() - started
    assert proc.returncode == 1 and "the scheduler has none by that id" in proc.stderr
    assert took < 4.0, took  # the CLI's start included; it waited 5 s before
    assert len(cluster.dead_letters()) == dead_before  # a typo is no dead letter
    for args in (["status", ran.id[:6]], ["outputs", ran.id[:8]], ["logs", ran.id[:6]]):
        shown = cluster.run_cli(*args, "--json")
        assert shown.returncode == 0, (args, shown.stderr)
    assert json.loads(cluster.run_cli("status", ran.id[:6], "--json").stdout)["id"] == ran.id
    # two executions on the board whose ids start alike: the prefix is refused, naming both
    index = Keys(cluster.key_prefix).executions
    cluster.redis().zadd(index, {"abcd1234aaaa": 1.0, "abcd1234bbbb": 2.0})
    proc = cluster.run_cli("status", "abcd1234")
    assert proc.returncode == 1 and "is ambiguous" in proc.stderr
    assert "abcd1234aaaa" in proc.stderr and "abcd1234bbbb" in proc.stderr
