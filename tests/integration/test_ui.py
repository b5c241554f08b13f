"""`graft ui` as a real process against a real cluster, looked at in a real headless browser
(Debian's chromium, driven by Playwright; no browser download).

The browser test saves screenshots under $GRAFT_TEST_ARTIFACTS (default tests/artifacts/,
which ignores itself in git). Without chromium or Playwright it skips saying why, and fails
under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from workflows import gates, ui_flows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRAFT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def artifacts() -> Path:
    folder = Path(os.environ.get("GRAFT_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return folder


def _browser_or_skip():
    """Playwright's sync API, or skip (fail under CI=true) saying what is missing."""
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            from playwright import sync_api
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"cannot run the browser test: {reason}", pytrace=False)
        pytest.skip(f"cannot run the browser test: {reason}")
    return sync_api


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ui(cluster, wait_for):
    """`graft ui` serving `cluster`'s executions; its base URL."""
    port = free_port()
    proc = cluster._spawn("ui", ["ui", "--host", "127.0.0.1", "--port", str(port)],
                          "graft ui serving on")
    try:
        wait_for(lambda: proc.is_ready() or not proc.alive(), 30, "graft ui to listen")
        assert proc.alive(), proc.log.read_text(errors="replace")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def drawn(page) -> dict[str, str]:
    """Node id -> state of every node the page draws, read from cytoscape's elements; the
    page's node list (for screen readers and these tests) must say the same."""
    listed, graph = page.evaluate("""() => [
        Object.fromEntries([...document.querySelectorAll('#node-list li')].map(
            i => [i.dataset.id, i.dataset.state])),
        Object.fromEntries(window.graft.cy.nodes().map(n => [n.id(), n.data('state')]))]""")
    assert listed == graph
    return graph


def panel_values(page, section: str) -> dict[str, str]:
    """The names and values a panel section (inputs or outputs) lists."""
    return page.evaluate("""id => {
        const dts = [...document.querySelectorAll(`#${id} dt`)];
        return Object.fromEntries(dts.map(dt => [dt.textContent,
                                                 dt.nextElementSibling.textContent]));
    }""", section)


def click_node(page, node_id: str) -> None:
    """A real mouse click on the node where cytoscape drew it."""
    x, y = page.evaluate("""id => {
        const cy = window.graft.cy, node = cy.getElementById(id);
        const box = cy.container().getBoundingClientRect(), at = node.renderedPosition();
        return [box.left + at.x, box.top + at.y];
    }""", node_id)
    page.mouse.click(x, y)


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_the_page_draws_a_running_dynamic_live_and_shows_a_node(cluster, ui):
    sync_api = _browser_or_skip()
    children = ["naps/nap", "naps/nap-1", "naps/nap-2", "naps/nap-3"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            execution = cluster.client().submit(ui_flows.napping_wf, n=4, seconds=2.5)
            page.goto(f"{ui}/executions/{execution.id}")
            page.evaluate("window.loadedOnce = 'yes'")  # gone if the page ever reloads

            # While it runs: the dynamic is RUNNING and its grafted nodes are drawn in it.
            snapshots, shot = [], False
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                states = drawn(page)
                snapshots.append(states)
                if all(states.get(c) == "SUCCEEDED" for c in children) \
                        and states.get("add_up") == "SUCCEEDED":
                    break
                time.sleep(0.2)
                if not shot and states.get("naps") == "RUNNING" and children[0] in states:
                    page.screenshot(path=str(artifacts() / "ui-running.png"))
                    shot = True
            running = [s for s in snapshots if s.get("naps") == "RUNNING"
                       and all(c in s for c in children)
                       and any(s[c] != "SUCCEEDED" for c in children)]
            assert running, f"the page never showed the dynamic running: {snapshots[-3:]}"
            final = snapshots[-1]
            assert final == {"numbers": "SUCCEEDED", "map_double": "SUCCEEDED",
                             "naps": "SUCCEEDED", **dict.fromkeys(children, "SUCCEEDED"),
                             "add_up": "SUCCEEDED"}, final
            assert execution.wait(timeout=60) == 72
            page.wait_for_selector("#status .badge:has-text('SUCCEEDED')", timeout=10_000)
            assert page.evaluate("window.loadedOnce") == "yes"  # updated in place

            # The children sit inside the dynamic; the map is one node with its counts.
            items = page.eval_on_selector_all("#node-list li", "xs => xs.map(x => "
                                              "({...x.dataset}))")
            by_id = {i["id"]: i for i in items}
            assert {by_id[c].get("parent") for c in children} == {"naps"}
            assert by_id["map_double"]["group"] == "shut"
            assert json.loads(by_id["map_double"]["counts"]) == {"SUCCEEDED": 4}
            edges = set(page.evaluate(
                "window.graft.cy.edges().map(e => e.source().id() + '>' + e.target().id())"))
            assert {"numbers>map_double", "map_double>add_up", "naps>add_up"} <= edges

            # Clicking a node shows its panel: values, attempts and what it wrote.
            click_node(page, "naps/nap-2")
            page.wait_for_selector("#panel[data-node='naps/nap-2']", timeout=10_000)
            page.wait_for_selector("#panel-stdout:has-text('nap 2 starts')", timeout=10_000)
            assert "nap 2 sleeps 2.5 s" in page.inner_text("#panel-records")
            assert panel_values(page, "panel-inputs") == {"i": "2", "seconds": "2.5"}
            assert panel_values(page, "panel-outputs") == {"o0": "20"}
            assert "mem-256Mi-" in page.inner_text("#panel-attempts")
            page.screenshot(path=str(artifacts() / "ui-execution.png"))

            # The map's panel lists its items.
            page.click("#fit")  # the panel took half the width: bring every node in sight
            click_node(page, "map_double")
            page.wait_for_selector("#panel[data-node='map_double'] #panel-children", timeout=10_000)
            listed = page.inner_text("#panel-children")
            assert "map_double/0" in listed and "map_double/3" in listed

            # The start page lists it and links to it.
            page.goto(ui + "/")
            row = page.wait_for_selector(f"tr[data-id='{execution.id}'][data-status='SUCCEEDED']",
                                         timeout=10_000)
            page.screenshot(path=str(artifacts() / "ui-executions.png"))
            row.query_selector("a").click()
            page.wait_for_url(f"**/executions/{execution.id}")
            page.wait_for_selector("#node-list li[data-id='add_up'][data-state='SUCCEEDED']")
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_the_page_shows_a_waiting_gate_and_answers_it(cluster, ui):
    sync_api = _browser_or_skip()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            execution = cluster.client().submit(gates.gated, x=5)
            page.goto(f"{ui}/executions/{execution.id}")
            item = page.wait_for_selector("#node-list li[data-id='n'][data-state='WAITING']",
                                          timeout=60_000)
            assert item.get_attribute("data-waiting") == "waiting for signal 'n'"
            page.wait_for_selector("#node-list li[data-id='check'][data-state='WAITING']",
                                   timeout=30_000)
            assert page.evaluate("window.graft.cy.getElementById('check').data('waiting')") \
                == "waiting for approval 'check'"
            assert "WAITING" in page.inner_text("#legend")
            click_node(page, "n")
            gate = page.wait_for_selector("#panel[data-node='n'] #panel-gate", timeout=10_000)
            text = gate.inner_text()
            assert "Gate: waiting" in text and "int" in text
            assert f"graft signal {execution.id} n VALUE" in text
            page.screenshot(path=str(artifacts() / "ui-gate-waiting.png"))

            # Answered from the page: a value of the gate's type, then the approval.
            page.fill("#gate-value", "three")
            page.click("#gate-send")
            page.wait_for_selector("#gate-result.error:has-text('int')", timeout=15_000)
            page.fill("#gate-value", "3")
            page.click("#gate-send")
            page.wait_for_selector("#gate-result:has-text('done')", timeout=15_000)
            page.wait_for_selector("#node-list li[data-id='check'][data-state='WAITING']",
                                   timeout=30_000)
            click_node(page, "check")
            page.wait_for_selector("#panel[data-node='check'] #gate-approve", timeout=10_000)
            page.screenshot(path=str(artifacts() / "ui-gate-approve.png"))
            page.click("#gate-approve")
            page.wait_for_selector("#gate-result:has-text('done')", timeout=15_000)
            page.wait_for_selector("#node-list li[data-id='add'][data-state='SUCCEEDED']",
                                   timeout=60_000)
            assert page.get_attribute("#node-list li[data-id='n']", "data-waiting") is None
            assert execution.wait(timeout=30) == 13
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_unknown_ids_answer_404_with_a_message(cluster, ui):
    status, body = get(f"{ui}/api/executions/nosuchexecution")
    assert status == 404 and "no execution 'nosuchexecution'" in json.loads(body)["error"]
    status, body = get(f"{ui}/executions/nosuchexecution")
    assert status == 404 and "no execution &#x27;nosuchexecution&#x27;" in body

    ran = cluster.client().submit(ui_flows.napping_wf, n=1, seconds=0.0)
    assert ran.wait(timeout=60) == 0
    status, body = get(f"{ui}/api/executions/{ran.id}/node?id=nosuchnode")
    assert status == 404
    assert json.loads(body)["error"] == f"execution {ran.id} has no node 'nosuchnode'"
    status, body = get(f"{ui}/api/executions/{ran.id}/node?id=naps/nap&attempt=zero")
    assert status == 400 and "attempt" in json.loads(body)["error"]
    status, body = get(f"{ui}/api/executions?status=DONE")
    assert status == 400 and "status must be one of" in json.loads(body)["error"]

    status, body = get(f"{ui}/api/executions?limit=500")
    assert status == 200
    assert {"id": ran.id, "status": "SUCCEEDED"}.items() <= next(
        r for r in json.loads(body) if r["id"] == ran.id).items()
    status, body = get(f"{ui}/api/executions/{ran.id}")
    shown = json.loads(body)
    assert status == 200 and shown["status"] == "SUCCEEDED"
    assert {n["id"] for n in shown["nodes"]} >= {"naps", "naps/nap", "map_double", "add_up"}
    unchanged = json.loads(get(f"{ui}/api/executions/{ran.id}?v={shown['version']}")[1])
    assert unchanged == {"version": shown["version"], "unchanged": True}


def big_board(cluster, spec_key: str, width: int = 5000) -> str:
    """A running execution of napping_wf with a `width`-node dynamic and a `width`-item map,
    written straight onto the status board as the scheduler would write it: running 10,000
    tasks on two cores would take minutes, and the page reads only the board. Its id."""
    from sdk.wire.board import Board

    eid = "ui-big-" + uuid.uuid4().hex[:8]
    nodes = {"numbers": {"task": "numbers", "kind": "task", "state": "SUCCEEDED"},
             "naps": {"task": "naps", "kind": "dynamic", "state": "RUNNING"},
             "map_double": {"task": "double", "kind": "map", "state": "RUNNING"},
             "add_up": {"task": "add_up", "kind": "task", "state": "PENDING"}}
    for i in range(width):
        nodes[f"naps/nap-{i}" if i else "naps/nap"] = {
            "task": "nap", "kind": "task", "parent": "naps",
            "state": "FAILED" if i == 3 else "SUCCEEDED" if i < width // 2 else "QUEUED"}
        nodes[f"map_double/{i}"] = {"task": "double", "kind": "task", "parent": "map_double",
                                    "state": "SUCCEEDED" if i % 4 else "QUEUED"}
    nodes["naps/nap-3"]["error"] = {"kind": "USER", "type": "ValueError",
                                    "message": "nap 3 had a bad dream",
                                    "traceback": "Traceback (most recent call last):\n..."}
    Board(cluster.settings).write(eid, {"status": "RUNNING", "workflow": "napping_wf",
                                        "spec": spec_key, "inputs": {}, "done": width,
                                        "total": len(nodes), "submitted_at": time.time()},
                                  nodes)
    return eid


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_ten_thousand_nodes_stay_usable(cluster, ui):
    sync_api = _browser_or_skip()
    ran = cluster.client().submit(ui_flows.napping_wf, n=1, seconds=0.0)
    assert ran.wait(timeout=60) == 0
    eid = big_board(cluster, ran.info()["spec"])
    started = time.monotonic()
    status, body = get(f"{ui}/api/executions/{eid}")
    assert status == 200 and time.monotonic() - started < 10
    assert len(json.loads(body)["nodes"]) == 4
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{ui}/executions/{eid}")
            page.wait_for_selector("#node-list li[data-id='naps'][data-group='shut']",
                                   timeout=30_000)
            assert drawn(page) == {"numbers": "SUCCEEDED", "naps": "RUNNING",
                                   "map_double": "RUNNING", "add_up": "PENDING"}
            counts = page.eval_on_selector_all(
                "#node-list li[data-counts]",
                "xs => Object.fromEntries(xs.map(x => [x.dataset.id, "
                "JSON.parse(x.dataset.counts)]))")
            assert counts == {"naps": {"SUCCEEDED": 2499, "FAILED": 1, "QUEUED": 2500},
                              "map_double": {"SUCCEEDED": 3750, "QUEUED": 1250}}

            # A click opens the dynamic: its first 60 nodes and one for the other 4,940.
            click_node(page, "naps")
            page.wait_for_selector("#node-list li[data-id='naps#more']", timeout=30_000)
            shown = drawn(page)
            inside = [n for n in shown if n.startswith("naps/")]
            assert len(inside) == 60 and "naps/nap-59" in shown
            assert len(shown) == 4 + 60 + 1
            page.wait_for_selector("#panel[data-node='naps'] #panel-children", timeout=10_000)
            assert "naps/nap-3" in page.inner_text("#panel-children")  # failed ones first
            page.screenshot(path=str(artifacts() / "ui-10000-nodes.png"))

            # Any node is reachable from its group's panel; a failed one shows its error.
            page.click("#panel-children a:text-is('naps/nap-3')")
            error = page.wait_for_selector("#panel[data-node='naps/nap-3'] #panel-error",
                                           timeout=10_000)
            assert "ValueError: nap 3 had a bad dream" in error.inner_text()
            page.click("#panel-body a:text-is('naps')")  # back to the group, by its link
            page.wait_for_selector("#panel[data-node='naps'] #panel-children", timeout=10_000)

            # And a second click on its panel's button shuts it again.
            page.click("#panel-children button:has-text('Collapse')")
            page.wait_for_function(
                "document.querySelectorAll('#node-list li').length === 4", timeout=30_000)
            assert not errors, errors
        finally:
            browser.close()
