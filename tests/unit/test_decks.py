"""Decks in-process: `@task(enable_deck=True)`, `Deck`, `current_context().default_deck`,
what each attempt's page holds and where it is kept (the local store), and the renderers."""

import base64
import datetime
import logging
import re
import sys
import types

import pandas as pd
import pytest
from workflows import decks

import sdk
from sdk import ConfigError, current_context, task
from sdk.deck import (
    BoxRenderer,
    Deck,
    DeckField,
    FrameProfilingRenderer,
    GanttChartRenderer,
    ImageRenderer,
    MarkdownRenderer,
    SourceCodeRenderer,
    TableRenderer,
    TopFrameRenderer,
)
from sdk.extend import Interface, PythonTask
from sdk.runtime.deck import deck_attempts
from sdk.types import File
from sdk.values.store import default_store


def run_ids(store):
    return [k.rpartition("/")[2] for k in store.keys("decks")]


def page(store, execution, node, attempt=1):
    return store.get(f"decks/{execution}/{node}/{attempt}.html").decode()


def tabs(html):
    return re.findall(r'<li data-deck="([^"]*)">', html)


def tab(html, name):
    """The HTML of one tab of a deck page."""
    names = tabs(html)
    bodies = re.search(r'<div id="flyte-frame-container">(.*)</div>\n<script>', html,
                       re.S).group(1)
    parts = re.findall(r"<div>(.*?)</div>(?=<div>|$)", bodies, re.S)
    assert len(parts) == len(names), (names, parts)
    return parts[names.index(name)]


def test_an_enable_deck_task_keeps_each_attempts_page_in_the_local_store(caplog):
    caplog.set_level(logging.INFO, logger="graft.deck")
    assert decks.deck_wf(n=3) == "## done <7>"
    store = default_store()
    [run] = run_ids(store)
    assert run.startswith("local-")
    assert deck_attempts(store, run, "report") == [1]
    assert deck_attempts(store, run, "plain") == []  # no enable_deck: no page
    html = page(store, run, "report")
    # flytekit's order: Timeline, the task's own, then Source Code, Dependencies, Input, Output
    assert tabs(html) == ["Timeline", "default", "squares", "Source Code", "Dependencies",
                          "Input", "Output"]
    assert "<h1>Report of 3</h1>" in tab(html, "default")
    assert "<em>second part</em>" in tab(html, "default")  # one default deck, both kept
    assert "<td>4</td>" in tab(html, "squares") and "class=\"dataframe\"" in html
    assert "Execute user level code" in tab(html, "Timeline")
    assert "Report of" in tab(html, "Source Code")  # the function's own source
    assert "graft==" in tab(html, "Dependencies")
    assert tab(html, "Input").strip() == "3" and tab(html, "Output").strip() == "6"
    # deck_fields=(INPUT, OUTPUT); the output through its Annotated MarkdownRenderer
    html = page(store, run, "fields")
    assert tabs(html) == ["Input", "Output"]
    assert tab(html, "Input").split() == ["7", "done"]
    assert "<h2>done &lt;7&gt;</h2>" in tab(html, "Output")
    # As flytekit logs its deck file's path: where the page is, as a file:// URL
    logged = [r.getMessage() for r in caplog.records if r.name == "graft.deck"]
    where = f"decks/{run}/report/1.html"
    assert any(m.startswith("report task creates deck html to file://") and m.endswith(where)
               for m in logged), logged


def test_a_failed_attempt_keeps_what_it_made_before_failing():
    """(In-process nothing is retried, as in flytekit: the second attempt's deck is
    tests/integration/test_decks_cluster.py's.)"""
    with pytest.raises(RuntimeError, match="first attempt fails"):
        decks.flaky_wf(n=5)
    store = default_store()
    [run] = run_ids(store)
    assert deck_attempts(store, run, "flaky") == [1]
    first = page(store, run, "flaky", 1)
    assert tabs(first) == ["Timeline", "attempt"] and "attempt 1" in first
    assert "Output" not in tabs(first)  # it returned nothing


def test_a_task_that_fails_for_good_still_leaves_its_deck():
    @task(enable_deck=True)
    def broken(x: int) -> int:
        current_context().default_deck.append("<p>got this far</p>")
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        broken(x=1)
    store = default_store()
    [run] = run_ids(store)
    assert "got this far" in page(store, run, "broken")


def test_a_dynamic_has_a_deck_and_so_do_the_nodes_it_made():
    assert decks.fan(n=2) == [2, 4]
    store = default_store()
    [run] = run_ids(store)
    html = page(store, run, "fan")
    assert tabs(html) == ["Timeline", "plan"] and "<p>2 reports</p>" in html
    assert "Execute user level code" in tab(html, "Timeline")  # the body's time
    assert deck_attempts(store, run, "fan/report") == [1]
    assert "Report of 2" in page(store, run, "fan/report-1")


def test_publish_writes_the_deck_while_the_task_runs(monkeypatch):
    store = default_store()
    written = []
    put = store.put
    monkeypatch.setattr(store, "put", lambda key, data: (
        written.append((key, data.decode())) if key.startswith("decks/") else None,
        put(key, data))[1])
    assert decks.publishing(seconds=0.0) == 1
    pages = [html for key, html in written if key.endswith("/publishing/1.html")]
    assert len(pages) == 2
    assert "half way" in pages[0] and "all done" not in pages[0]
    assert "half way" in pages[1] and "all done" in pages[1]


def test_without_enable_deck_decks_are_collected_but_never_written(caplog):
    @task
    def quiet() -> int:
        Deck("mine", "<b>x</b>")
        assert [d.name for d in current_context().decks] == ["mine"]
        assert current_context().enable_deck is False
        Deck.publish()
        return 1

    assert quiet() == 1
    assert default_store().keys("decks") == []
    assert any("Deck.publish()" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)


def test_a_task_sees_its_own_decks_only():
    seen = {}

    @task(enable_deck=True, deck_fields=[])
    def first() -> int:
        Deck("one", "1")
        seen["first"] = [d.name for d in current_context().decks]
        return 1

    @task(enable_deck=True, deck_fields=[DeckField.TIMELINE])
    def second(x: int) -> int:
        Deck("two", "2")
        seen["second"] = [d.name for d in sdk.current_context().decks]
        return x

    @sdk.workflow
    def both() -> int:
        return second(x=first())

    assert both() == 1
    assert seen == {"first": ["one"], "second": ["Timeline", "two"]}


def test_deck_options_are_flytekits():
    assert decks.plain.enable_deck is False and decks.plain.deck_fields == ()
    assert decks.report.enable_deck is True
    assert decks.report.deck_fields == (DeckField.SOURCE_CODE, DeckField.DEPENDENCIES,
                                        DeckField.TIMELINE, DeckField.INPUT, DeckField.OUTPUT)
    assert decks.fields.deck_fields == (DeckField.INPUT, DeckField.OUTPUT)

    def f(x: int) -> int:
        return x

    assert task(disable_deck=False)(f).enable_deck is True
    assert task(enable_deck=False, deck_fields=("Input",))(f).deck_fields == ()
    assert task(enable_deck=True, deck_fields=("Input",))(f).deck_fields == (DeckField.INPUT,)
    with pytest.raises(ConfigError, match=r"only one of \[disable_deck, enable_deck\]"):
        task(enable_deck=True, disable_deck=False)(f)
    with pytest.raises(ConfigError, match="'Graphs' in deck_fields is not a deck field"):
        task(enable_deck=True, deck_fields=("Graphs",))(f)
    with pytest.raises(ConfigError, match="deck_fields must be a tuple"):
        task(enable_deck=True, deck_fields="Input")(f)


def test_a_task_class_takes_the_deck_options_and_shows_no_source():
    class Doubler(PythonTask):
        def __init__(self, name, **kwargs):
            super().__init__(task_type="python-task", name=name,
                             interface=Interface(inputs={"x": int}, outputs={"o0": int}),
                             **kwargs)

        def execute(self, **kwargs):
            Deck("class", "<p>from execute</p>")
            return kwargs["x"] * 2

    assert Doubler(name="off").enable_deck is False
    assert Doubler(name="on", disable_deck=False).enable_deck is True
    doubler = Doubler(name="doubler", enable_deck=True)
    assert doubler(x=4) == 8
    store = default_store()
    [run] = run_ids(store)
    html = page(store, run, "doubler")
    assert tabs(html) == ["Timeline", "class", "Dependencies", "Input", "Output"]
    assert tab(html, "Output").strip() == "8"


def test_deck_outside_a_task_goes_nowhere():
    deck = current_context().default_deck
    assert deck.name == "default"
    assert Deck("loose", "<p>x</p>").append("<p>y</p>").html == "<p>x</p>\n<p>y</p>"


def test_deck_names_and_values_are_escaped_where_they_are_text():
    @task(enable_deck=True, deck_fields=(DeckField.INPUT,))
    def shout(text: str) -> int:
        Deck("<b>name</b>", "<i>html kept</i>")
        return 1

    shout(text="a < b & <script>")
    store = default_store()
    [run] = run_ids(store)
    html = page(store, run, "shout")
    assert '<li data-deck="&lt;b&gt;name&lt;/b&gt;">&lt;b&gt;name&lt;/b&gt;</li>' in html
    assert "<i>html kept</i>" in html
    assert "a &lt; b &amp; &lt;script&gt;" in html


# ---- renderers -----------------------------------------------------------------------------

def test_markdown_and_source_code_renderers():
    assert MarkdownRenderer().to_html("# Title\n\n*em*") == "<h1>Title</h1>\n<p><em>em</em></p>\n"
    coloured = SourceCodeRenderer().to_html("def f():\n    return 1\n")
    assert coloured.startswith("<style>") and 'class="highlight"' in coloured


def test_source_code_without_pygments_is_plain(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygments", None)
    assert SourceCodeRenderer().to_html("a < b") == '<pre class="highlight">a &lt; b</pre>'


def test_top_frame_and_table_renderers():
    frame = pd.DataFrame({"a": range(20), "b": range(20)})
    top = TopFrameRenderer(max_rows=4).to_html(frame)
    assert top.count("<tr") == 6 and "..." in top  # header, 2 + 2 rows and the ellipsis row
    table = TableRenderer().to_html(frame.head(2), header_labels=["x", "y"], table_width=50)
    assert "width: 50px;" in table and "<th>x</th>" in table
    assert 'class="dataframe table-class"' in table


def test_box_renderer_without_plotly_draws_an_svg(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.express", None)
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0, 5.0, 100.0, None]})
    html = BoxRenderer("v").to_html(frame)
    assert html.startswith('<figure class="box-plot">') and "<svg" in html
    # quartiles as pandas computes them; 100 is beyond 1.5 IQR: one outlier point
    q1, median, q3 = frame["v"].quantile([0.25, 0.5, 0.75])
    assert f"median {median:g}, quartiles {q1:g} and {q3:g}" in html and "n=6" in html
    assert html.count("<circle") == 1
    assert "<script" not in html


def test_box_renderer_uses_plotly_when_it_is_installed(monkeypatch):
    calls = []

    class Figure:
        def to_html(self):
            return "<div>plotly box</div>"

    express = types.SimpleNamespace(box=lambda df, y: calls.append(y) or Figure())
    monkeypatch.setitem(sys.modules, "plotly", types.SimpleNamespace(express=express))
    monkeypatch.setitem(sys.modules, "plotly.express", express)
    assert BoxRenderer("v").to_html(pd.DataFrame({"v": [1]})) == "<div>plotly box</div>"
    assert calls == ["v"]


def test_gantt_and_profiling_renderers_without_their_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.express", None)
    monkeypatch.setitem(sys.modules, "ydata_profiling", None)
    t0 = datetime.datetime(2024, 1, 1)
    frame = pd.DataFrame({"Name": ["load", "fit"], "Start": [t0, t0 + datetime.timedelta(1)],
                          "Finish": [t0 + datetime.timedelta(1), t0 + datetime.timedelta(3)]})
    gantt = GanttChartRenderer().to_html(frame)
    assert gantt.count("<rect") == 2 and ">load<" in gantt
    profile = FrameProfilingRenderer("Mine").to_html(pd.DataFrame({"a": [1, 2, 3]}))
    assert "<h2>Mine</h2>" in profile and "mean" in profile


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
                       "hgGAWjR9awAAAABJRU5ErkJggg==")


def test_image_renderer_embeds_a_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    html = ImageRenderer().to_html(File(str(path)))
    assert html == (f'<img src="data:image/png;base64,{base64.b64encode(PNG).decode()}" '
                    f'alt="Rendered Image" />')
    with pytest.raises(ValueError, match="Unsupported image source type"):
        ImageRenderer().to_html(42)


def test_graft_deck_reads_an_in_process_runs_deck(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sdk.cli_executions import deck

    with pytest.raises(RuntimeError):  # its one attempt in-process fails
        decks.flaky_wf(n=1)
    store = default_store()
    [run] = run_ids(store)
    shown = CliRunner().invoke(deck, [run, "flaky"])
    assert shown.exit_code == 0 and shown.output == page(store, run, "flaky", 1)
    out = tmp_path / "first.html"
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    written = CliRunner().invoke(deck, [run, "flaky", "--attempt", "1", "-o", str(out),
                                        "--open"])
    assert written.exit_code == 0, written.output
    assert written.output == f"deck of flaky (attempt 1) written to {out}\n"
    assert out.read_text() == page(store, run, "flaky", 1) and opened == [out.as_uri()]
    missing = CliRunner().invoke(deck, [run, "nope"])
    assert isinstance(missing.exception, sdk.GraftError)
    assert str(missing.exception).startswith(f"node 'nope' of execution {run} has no deck: "
                                             f"its task needs @task(enable_deck=True)")


def test_a_deck_that_cannot_be_made_or_kept_changes_no_outcome(monkeypatch, caplog):
    class Broken(Deck):
        @property
        def html(self):
            raise RuntimeError("cannot draw")

    @task(enable_deck=True)
    def drawn() -> int:
        Broken("broken")
        return 1

    assert drawn() == 1  # the page could not be made: a warning, the task succeeded
    assert any("not made: RuntimeError: cannot draw" in r.getMessage() for r in caplog.records)
    store = default_store()
    put = store.put

    def refuse_decks(key, data):
        if key.startswith("decks/"):
            raise sdk.StoreError("store is read-only")
        put(key, data)

    monkeypatch.setattr(store, "put", refuse_decks)
    assert decks.report(n=2) == 4
    assert any("not kept: store is read-only" in r.getMessage() for r in caplog.records)
