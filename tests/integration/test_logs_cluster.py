"""`graft logs`: what a node wrote on its worker (stdout and stderr at the file descriptors,
children included, and its log records), after the fact and followed while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from workflows import faults

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_logs_show_stdout_stderr_child_output_and_records(cluster):
    execution = cluster.client().submit(faults.chatty_wf, n=3, pause=0.0)
    assert execution.wait(timeout=60) == 3
    out = execution.output("chatty")
    assert out["stdout"] == "line 0\nline 1\nline 2\nfrom a child process\n"
    assert out["stderr"] == "to stderr\n"
    proc = cluster.run_cli("logs", execution.id, "chatty", "--json")
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)
    assert entry["attempt"] == 1 and entry["stdout"] == out["stdout"]
    assert [r["message"] for r in entry["records"]] == ["counted 3"]
    text = cluster.run_cli("logs", execution.id).stdout
    assert "==> chatty (attempt 1) stdout <==" in text and "from a child process" in text
    assert "INFO counted 3" in text


def test_logs_follow_a_running_node(cluster):
    execution = cluster.client().submit(faults.chatty_wf, n=6, pause=1.0)
    follow = subprocess.Popen([sys.executable, "-m", "sdk.cli", "logs", execution.id, "chatty",
                               "--follow"], cwd=cluster.cwd, env=cluster.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    first = follow.stdout.readline()  # a header, while the node still runs
    assert execution.status() == "RUNNING" and time.monotonic() - started < 10
    assert first.startswith("==> chatty")
    rest, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    assert "line 5" in rest and "INFO counted 6" in rest


def test_logs_of_an_unknown_node_or_attempt_alone_are_one_line(cluster):
    execution = cluster.client().submit(faults.chatty_wf, n=1, pause=0.0)
    execution.wait(timeout=60)
    bad = cluster.run_cli("logs", execution.id, "nope")
    assert bad.returncode == 1 and f"execution {execution.id} has no node 'nope'" in bad.stderr
    lone = cluster.run_cli("logs", execution.id, "--attempt", "2")
    assert lone.returncode == 1 and "--attempt needs a NODE" in lone.stderr
