"""Decks on a cluster: a worker keeps each attempt's deck page in the store, and
`Execution.deck` and `graft deck` read it back (a failed attempt's too)."""

from __future__ import annotations

import re

import pytest
from workflows import decks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def tabs(html: str) -> list[str]:
    return re.findall(r'<li data-deck="([^"]*)">', html)


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_workers_decks_are_kept_and_read_back(cluster, tmp_path):
    execution = cluster.client().submit(decks.deck_wf, n=3)
    assert execution.wait(timeout=90) == "## done <7>"
    html = execution.deck("report")
    assert tabs(html) == ["Timeline", "default", "squares", "Source Code", "Dependencies",
                          "Input", "Output"]
    assert "<h1>Report of 3</h1>" in html and "<em>second part</em>" in html
    # the source, read on the worker from the code bundle (coloured: text between tags)
    assert "def report(n: int)" in re.sub(r"<[^>]+>", "", html)
    assert execution.deck("report", attempt=1) == html
    assert execution.deck("plain") is None  # no enable_deck
    assert tabs(execution.deck("fields")) == ["Input", "Output"]

    shown = cluster.run_cli("deck", execution.id, "report")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == html
    out = tmp_path / "report.html"
    written = cluster.run_cli("deck", execution.id, "fields", "-o", str(out))
    assert written.returncode == 0, written.stderr
    assert f"deck of fields (attempt 1) written to {out}" in written.stdout
    assert out.read_text() == execution.deck("fields")

    none = cluster.run_cli("deck", execution.id, "plain")
    assert none.returncode == 1
    assert (f"node 'plain' of execution {execution.id} has no deck for attempt 1: its task "
            f"needs @task(enable_deck=True)") in none.stderr
    unknown = cluster.run_cli("deck", execution.id, "nope")
    assert unknown.returncode == 1
    assert f"execution {execution.id} has no node 'nope'" in unknown.stderr


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_each_attempt_has_its_own_deck_a_failed_one_too(cluster):
    execution = cluster.client().submit(decks.flaky_wf, n=5)
    assert execution.wait(timeout=90) == 5
    first, last = execution.deck("flaky", attempt=1), execution.deck("flaky")
    assert tabs(first) == ["Timeline", "attempt"] and "<p>attempt 1</p>" in first
    assert "<p>attempt 2</p>" in last and tabs(last)[-2:] == ["Input", "Output"]
    shown = cluster.run_cli("deck", execution.id, "flaky", "--attempt", "1")
    assert shown.returncode == 0 and shown.stdout == first


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_dynamic_and_the_nodes_it_made_have_decks(cluster):
    execution = cluster.client().submit(decks.fan, n=2)
    assert execution.wait(timeout=90) == [2, 4]
    assert "<p>2 reports</p>" in execution.deck("fan")
    assert "Report of 2" in execution.deck("fan/report-1")
