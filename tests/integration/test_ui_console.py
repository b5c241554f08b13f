"""The graph page as a console (issue 25), in a real headless browser as test_ui.py: the
timeline with each attempt and its error, the execution's inputs and outputs, relaunch with
an edited input, cancel with a reason, what a stuck execution waits for, times in the
browser's zone, and a 300-child dynamic opened as a readable grid."""

from __future__ import annotations

import re

import pytest
from test_ui import (
    CHROMIUM,
    _browser_or_skip,
    artifacts,
    big_board,
    click_node,
    drawn,
    ui,  # noqa: F401
)
from workflows import cluster_wf, failing, ui_flows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


# The (edge, node) pairs where an edge's straight line from its source's endpoint to its
# target's passes through a node's label box (the label's own box, its node's body left out).
EDGES_THROUGH_LABELS = """() => {
  const cy = window.graft.cy, found = [];
  const crosses = (a, b, r) => {  // segment a-b against rectangle r (Liang-Barsky)
    let t0 = 0, t1 = 1;
    const dx = b.x - a.x, dy = b.y - a.y;
    for (const [p, q] of [[-dx, a.x - r.x1], [dx, r.x2 - a.x], [-dy, a.y - r.y1],
                          [dy, r.y2 - a.y]]) {
      if (p === 0) { if (q < 0) return false; continue; }
      const t = q / p;
      if (p < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
      else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    return true;
  };
  cy.nodes().forEach((n) => {
    if (!n.style("label")) return;
    const lab = n.boundingBox({includeNodes: false, includeEdges: false, includeLabels: true});
    if (!(lab.w > 0 && lab.h > 0)) return;
    cy.edges().filter((e) => !e.data("grid") && e.visible()).forEach((e) => {
      if (crosses(e.sourceEndpoint(), e.targetEndpoint(), lab)) found.push([e.id(), n.id()]);
    });
  });
  return found;
}"""


def browser_page(pw, **context):
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                 args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_context(viewport={"width": 1400, "height": 900}, **context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return browser, page, errors


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_timeline_values_and_relaunch_with_an_edited_input(cluster, ui, tmp_path):  # noqa: F811
    sync_api = _browser_or_skip()
    client = cluster.client()
    execution = client.submit(failing.flaky_wf, counter_dir=str(tmp_path), fail_times=1)
    assert execution.wait(timeout=90) == 2
    with sync_api.sync_playwright() as pw:
        # Tokyo has no summer time: its zone reads the same whenever the test runs.
        browser, page, errors = browser_page(pw, timezone_id="Asia/Tokyo", locale="en-GB")
        try:
            page.goto(f"{ui}/executions/{execution.id}")
            page.wait_for_selector("#status .badge:has-text('SUCCEEDED')", timeout=20_000)
            # Times in the browser's locale, with its zone.
            assert re.search(r"GMT\+9|JST", page.inner_text("#submitted-at")), \
                page.inner_text("#times")
            assert page.inner_text("#ended-at") and page.inner_text("#elapsed")

            # The timeline: a row per node, the flaky node's failed attempt and its error.
            page.click("#tab-timeline")
            row = page.wait_for_selector("#timeline .row[data-id='flaky']", timeout=10_000)
            assert page.is_hidden("#cy")
            assert len(row.query_selector_all(".seg.attempt")) == 2
            assert len(row.query_selector_all(".seg.attempt.failed")) == 1
            assert "attempt 1: RuntimeError: flaky failure 1" in row.inner_text()
            assert "queued" in row.inner_text() and "ran" in row.inner_text()
            assert re.search(r"GMT\+9|JST", page.inner_text("#timeline .axis"))
            page.screenshot(path=str(artifacts() / "ui-timeline.png"))
            page.click("#timeline .row[data-id='flaky'] a.name")  # a row opens its node
            attempts = page.wait_for_selector("#panel[data-node='flaky'] #panel-attempts",
                                              timeout=10_000)
            assert "RuntimeError: flaky failure 1" in attempts.inner_text()
            peaks = [c.inner_text() for c in attempts.query_selector_all("td.peak")]
            assert len(peaks) == 2 and all(re.fullmatch(r"\d+\.\d (KiB|MiB)", p)
                                           for p in peaks), peaks  # human units, not Ki
            page.click("#tab-graph")
            assert page.is_visible("#cy") and page.is_hidden("#timeline")

            # The execution's own inputs and outputs.
            page.click("#show-details")
            page.wait_for_selector("#panel[data-view='details'] #details-outputs", timeout=10_000)
            assert "fail_times" in page.inner_text("#details-inputs")
            assert page.inner_text("#details-outputs dd") == "2"
            page.screenshot(path=str(artifacts() / "ui-execution-details.png"))

            # Relaunch with one input edited: the new execution has it, the others stay.
            page.click("#relaunch")
            page.wait_for_selector("#relaunch-form", timeout=10_000)
            assert page.input_value("#relaunch-fail_times") == "1"
            page.fill("#relaunch-fail_times", "zero")
            page.click("#relaunch-submit")
            page.wait_for_selector("#relaunch-result.error:has-text('fail_times')",
                                   timeout=10_000)
            page.fill("#relaunch-fail_times", "0")
            page.click("#relaunch-submit")
            link = page.wait_for_selector("#relaunched", timeout=15_000)
            new = client.get(link.inner_text())
            assert new.id != execution.id and new.wait(timeout=90) == 3
            assert new.inputs() == {"counter_dir": str(tmp_path), "fail_times": 0}
            assert not errors, errors
        finally:
            browser.close()


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_stuck_execution_says_what_it_waits_for_and_is_cancelled(cluster, ui):  # noqa: F811
    sync_api = _browser_or_skip()
    execution = cluster.client().submit(cluster_wf.big_wf, x=4)  # no worker serves 4Gi here
    with sync_api.sync_playwright() as pw:
        browser, page, errors = browser_page(pw)
        try:
            page.goto(f"{ui}/executions/{execution.id}")
            stalls = page.wait_for_selector("#stalls:has-text('4Gi')", timeout=30_000)
            assert "no worker serves" in stalls.inner_text()
            assert "graft worker --tier 4Gi" in stalls.inner_text()
            page.screenshot(path=str(artifacts() / "ui-stalled.png"))
            page.click("#cancel")
            page.fill("#cancel-reason", "wrong tier, sorry")
            page.click("#cancel-confirm")
            page.wait_for_selector("#status .badge:has-text('ABORTED')", timeout=30_000)
            assert "wrong tier, sorry" in page.inner_text("#failures-title")
            assert page.is_hidden("#cancel") and page.is_hidden("#stalls")
            page.click("#show-details")
            reason = page.wait_for_selector("#details-reason", timeout=10_000)
            assert "wrong tier, sorry" in reason.inner_text()
            assert execution.status() == "ABORTED"
            page.screenshot(path=str(artifacts() / "ui-cancelled.png"))
            assert not errors, errors
        finally:
            browser.close()


def boxes(page, ids: list[str]) -> dict[str, dict[str, float]]:
    """Each node's drawn box, its label included, in rendered pixels."""
    return page.evaluate("""ids => Object.fromEntries(ids.map(id => [id,
        window.graft.cy.getElementById(id).renderedBoundingBox({includeLabels: true})]))""",
                         ids)


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x1"] < b["x2"] and b["x1"] < a["x2"] and a["y1"] < b["y2"] and b["y1"] < a["y2"]


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_300_child_dynamic_opens_as_a_readable_grid(cluster, ui):  # noqa: F811
    sync_api = _browser_or_skip()
    ran = cluster.client().submit(ui_flows.napping_wf, n=1, seconds=0.0)
    assert ran.wait(timeout=60) == 0
    eid = big_board(cluster, ran.info()["spec"], width=300)
    with sync_api.sync_playwright() as pw:
        browser, page, errors = browser_page(pw)
        try:
            page.goto(f"{ui}/executions/{eid}")
            page.wait_for_selector("#node-list li[data-id='naps'][data-group='shut']",
                                   timeout=30_000)
            # The shut groups' labels (name, size, counts) do not run into each other.
            shut = boxes(page, ["naps", "map_double"])
            assert not overlap(shut["naps"], shut["map_double"]), shut
            # and no edge runs through a label
            crossed = page.evaluate(EDGES_THROUGH_LABELS)
            assert crossed == [], crossed
            page.screenshot(path=str(artifacts() / "ui-300-shut.png"))

            click_node(page, "naps")
            page.wait_for_selector("#node-list li[data-id='naps#more']", timeout=30_000)
            page.wait_for_function("window.graft.state.laidOut >= 2")
            kids = [i for i in drawn(page) if i.startswith("naps/")]
            assert len(kids) == 60
            # Its failed child is drawn first, its counts in the group's label.
            first = page.evaluate("window.graft.cy.getElementById('naps').children()"
                                  ".filter(n => n.data('kind') !== 'more')[0].id()")
            assert first == "naps/nap-3"
            label = page.evaluate("window.graft.cy.getElementById('naps').style('label')")
            assert "1 FAILED" in label and "(300)" in label
            # A grid focused on the group: rows of boxes at a readable zoom, not one row.
            inside = page.evaluate("""() => {
                const kids = window.graft.cy.getElementById('naps').children();
                const ys = new Set(kids.map(k => Math.round(k.position('y'))));
                const box = kids.renderedBoundingBox();
                return {rows: ys.size, zoom: window.graft.cy.zoom(), w: box.w, h: box.h,
                        x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2,
                        width: window.graft.cy.width(), height: window.graft.cy.height()};
            }""")
            assert inside["rows"] >= 5, inside
            assert inside["zoom"] >= 0.6, inside
            assert inside["h"] > 0.4 * inside["w"], inside
            assert inside["x1"] >= -5 and inside["y1"] >= -5, inside  # in sight
            assert inside["x2"] <= inside["width"] + 5 and inside["y2"] <= inside["height"] + 5
            page.screenshot(path=str(artifacts() / "ui-300-open.png"))
            assert not errors, errors
        finally:
            browser.close()
