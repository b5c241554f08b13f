"""Decks on the graph page, in a real headless browser (as tests/integration/test_ui.py): a
node with a deck links to it from its panel; the deck opens in a page of its own, in a
sandboxed iframe where its scripts run (its tabs switch) but reach nothing of graft's."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request

import pytest
from test_ui import CHROMIUM, _browser_or_skip, artifacts, click_node, drawn, ui  # noqa: F401
from workflows import decks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def open_deck_from_panel(page, node_id: str):
    """Click the node, then its panel's deck link; the page that opens."""
    click_node(page, node_id)
    page.wait_for_selector(f"#panel[data-node='{node_id}'] #panel-deck-link", timeout=10_000)
    with page.context.expect_page() as opened:
        page.click("#panel-deck-link")
    deck = opened.value
    deck.wait_for_load_state()
    return deck


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_nodes_deck_opens_sandboxed_from_its_panel(cluster, ui):  # noqa: F811
    sync_api = _browser_or_skip()
    execution = cluster.client().submit(decks.ui_wf, n=5)
    assert execution.wait(timeout=90) == "probed"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{ui}/executions/{execution.id}")
            page.wait_for_selector("#status .badge:has-text('SUCCEEDED')", timeout=20_000)
            deadline = time.monotonic() + 20
            while set(drawn(page)) != {"boxed", "report", "plain", "probe"}:
                assert time.monotonic() < deadline, drawn(page)
                time.sleep(0.2)

            # A node without a deck has no link.
            click_node(page, "plain")
            page.wait_for_selector("#panel[data-node='plain'] #panel-log", timeout=10_000)
            assert page.query_selector("#panel-deck") is None

            # The report's deck: graft's page around it, the deck in a sandboxed iframe whose
            # scripts run (its tabs switch).
            report = open_deck_from_panel(page, "report")
            assert report.url == (f"{ui}/executions/{execution.id}/deck?node=report&attempt=1")
            assert report.inner_text("#deck-node") == "report"
            assert report.get_attribute("#deck", "sandbox") == "allow-scripts"
            frame = report.frame_locator("#deck")
            tabs = frame.locator("#flyte-frame-tabs li")
            assert tabs.all_inner_texts() == ["Timeline", "default", "squares", "Source Code",
                                              "Dependencies", "Input", "Output"]
            bodies = frame.locator("#flyte-frame-container > div")
            assert bodies.nth(0).is_visible() and not bodies.nth(1).is_visible()
            tabs.nth(1).click()
            frame.locator("h1:has-text('Report of 5')").wait_for(timeout=10_000)
            assert bodies.nth(1).is_visible() and not bodies.nth(0).is_visible()
            report.screenshot(path=str(artifacts() / "ui-deck.png"))

            # The box plot, drawn without plotly.
            page.bring_to_front()
            box = open_deck_from_panel(page, "boxed")
            box.frame_locator("#deck").locator("figure.box-plot svg").wait_for(timeout=10_000)
            box.screenshot(path=str(artifacts() / "ui-deck-box.png"))

            # A deck's script gets an opaque origin: the page that frames it, the UI's API
            # and cookies are out of its reach.
            page.bring_to_front()
            probe = open_deck_from_panel(page, "probe")
            said = probe.frame_locator("#deck").locator("#probe")
            said.filter(has_text="api=").wait_for(timeout=10_000)
            assert said.inner_text().split() == ["origin=null", "top=blocked",
                                                 "cookie=blocked", "api=blocked"]

            # Opened alone, the deck is still sandboxed by its Content-Security-Policy.
            raw = (f"{ui}/api/executions/{execution.id}/deck?"
                   + urllib.parse.urlencode({"node": "probe"}))
            alone = context.new_page()
            alone.goto(raw)
            alone.wait_for_selector("#probe:has-text('api=')", timeout=10_000)
            found = alone.inner_text("#probe").split()
            assert "origin=null" in found and "api=blocked" in found
            assert not errors, errors
        finally:
            browser.close()

    with urllib.request.urlopen(raw, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers["Content-Security-Policy"].startswith("sandbox allow-scripts;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
