"""`graft logs`: what a node wrote on its worker (stdout and stderr at the file descriptors,
children included, and its log records), after the fact and followed while it runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from workflows import faults, log_flows

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


HEADER = re.compile(r"^==> (\S+) \(attempt (\d+)\) (stdout|stderr) <==$")


def test_logs_follow_keeps_each_chunk_under_its_own_header_and_every_attempt(cluster, tmp_path):
    execution = cluster.client().submit(log_flows.talkers_wf, marker_dir=str(tmp_path),
                                        pause=0.6)
    follow = subprocess.Popen([sys.executable, "-m", "sdk.cli", "logs", execution.id,
                               "--follow"], cwd=cluster.cwd, env=cluster.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = follow.communicate(timeout=90)
    assert follow.returncode == 0, err
    assert execution.wait(timeout=30) == 10
    under: dict[tuple[str, str, str], list[str]] = {}
    header = None
    for line in out.splitlines():
        found = HEADER.match(line)
        if found:
            header = found.groups()
            continue
        assert header is not None, f"{line!r} before any header:\n{out}"
        under.setdefault(header, []).append(line)
        speaker = line.split(" ", 1)[0]
        if speaker in ("alpha", "beta"):  # a talker's words under its own node's header
            assert header[0] == {"alpha": "talk", "beta": "talk-1"}[speaker], out
    for node, name in (("talk", "alpha"), ("talk-1", "beta")):
        said = [w for w in under[(node, "1", "stdout")] if w.startswith(name)]
        assert [w.split()[1] for w in said] == ["0", "1", "2", "3"], out
    # the retried node: its first attempt's output to the end, then the second's
    assert under[("flaky_talk", "1", "stdout")] == ["first try begins", "first try ends"], out
    assert under[("flaky_talk", "2", "stdout")] == ["second try"], out
    quiet = cluster.run_cli("logs", execution.id, "silent")
    assert quiet.returncode == 0
    assert quiet.stdout.strip() == (f"no output captured for node 'silent' (its last attempt) "
                                    f"of execution {execution.id}")
    first = cluster.run_cli("logs", execution.id, "flaky_talk", "--attempt", "1").stdout
    assert first.startswith("==> flaky_talk (attempt 1) stdout <==") and "first try" in first
    beyond = cluster.run_cli("logs", execution.id, "flaky_talk", "--attempt", "3")
    assert beyond.returncode == 1 and "has had 2 attempt(s), not 3" in beyond.stderr
