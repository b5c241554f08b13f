// The Timeline tab: a Gantt chart of the execution's nodes (sdk/ui/timeline.py), one row per
// node from its release to its end: queued time hatched yellow, each attempt a bar coloured
// by its outcome (a failed one red, with its error on hover and under the row), and a node
// still going drawn up to now in its state. Plain HTML: a bar is a positioned <span>.
"use strict";

(function () {
  const {FINAL, COLOURS, el, clock, when, span, getJson, banner} = window.graftUi;
  const graft = window.graft;
  const eid = encodeURIComponent(graft.executionId);
  const box = document.getElementById("timeline");
  const tabs = {graph: document.getElementById("tab-graph"),
                timeline: document.getElementById("tab-timeline")};
  let timer = null;

  function show(which) {
    const timeline = which === "timeline";
    tabs.graph.setAttribute("aria-pressed", String(!timeline));
    tabs.timeline.setAttribute("aria-pressed", String(timeline));
    document.getElementById("cy").hidden = timeline;
    document.getElementById("fit").hidden = timeline;
    box.hidden = !timeline;
    clearTimeout(timer);
    if (timeline) refresh();
    else graft.cy.resize();
    history.replaceState(null, "", timeline ? "#timeline" : location.pathname);
  }
  tabs.graph.addEventListener("click", () => show("graph"));
  tabs.timeline.addEventListener("click", () => show("timeline"));

  async function refresh() {
    clearTimeout(timer);
    try {
      draw(await getJson(`/api/executions/${eid}/timeline`));
      banner("");
    } catch (e) {
      banner(e.message);
    }
    if (!box.hidden && !FINAL.has(graft.state.status)) timer = setTimeout(refresh, 2000);
  }

  function bar(cls, from, to, t0, width, title, colour) {
    const left = (100 * (from - t0)) / width;
    const size = Math.max(0.15, (100 * (to - from)) / width);
    return el("span", {class: `seg ${cls}`, title,
                       style: `left: ${left}%; width: ${size}%` +
                              (colour ? `; background: ${colour}` : "")});
  }

  function draw(t) {
    if (!t.rows.length) {
      box.replaceChildren(el("p", {class: "muted", id: "timeline-empty",
                                   text: "No node has been released yet."}));
      return;
    }
    const t0 = t.start;
    const width = Math.max(0.001, (t.end || t.now) - t0);
    const ticks = [];
    for (let i = 0; i <= 4; i += 1) {
      ticks.push(el("span", {class: "tick", style: `left: ${25 * i}%`,
                             text: clock(t0 + (width * i) / 4, width < 20)}));
    }
    const rows = t.rows.map((r) => {
      const end = r.ended ?? t.now;
      const segs = [bar("queued", r.released, end, t0, width,
                        `${r.id}: released ${when(r.released)}` +
                        (r.ended ? `, ended ${when(r.ended)}` : ", not ended"))];
      for (const a of r.attempts) {
        const failed = Boolean(a.error);
        segs.push(bar(failed ? "attempt failed" : "attempt", a.start, a.end, t0, width,
          `attempt ${a.attempt}: ${a.outcome}, ran ${span(a.end - a.start)} ` +
          `(${clock(a.start)} to ${clock(a.end)})` + (failed ? `\n${a.error}` : ""),
          failed ? COLOURS.FAILED : COLOURS.SUCCEEDED));
      }
      if (r.ended == null) {
        const last = r.attempts.length ? r.attempts[r.attempts.length - 1].end : r.released;
        segs.push(bar("live", last, t.now, t0, width, `${r.state} since ${clock(last)}`,
                      COLOURS[r.state] || COLOURS.PENDING));
      }
      const errors = r.attempts.filter((a) => a.error);
      return el("div", {class: "row", "data-id": r.id, "data-state": r.state},
        el("a", {class: "name mono", href: "#", title: r.id, text: r.id,
                 onclick: (e) => { e.preventDefault(); graft.showPanel(r.id); }}),
        el("div", {class: "lane"}, ...segs),
        el("span", {class: "times muted",
                    text: r.kind === "dynamic" && r.running_s != null
                      ? `body ran ${span(r.running_s)}, total ${span(r.total_s)}`
                      : r.queued_s != null
                        ? `queued ${span(r.queued_s)}, ran ${span(r.running_s)}`
                        : `total ${span(r.total_s)}`}),
        errors.length ? el("ul", {class: "attempt-errors"}, ...errors.map((a) =>
          el("li", {class: "error", text: `attempt ${a.attempt}: ${a.error}`}))) : null);
    });
    box.replaceChildren(
      el("div", {class: "axis"}, el("span", {class: "name muted",
        text: `${t.rows.length} of ${t.total} nodes, from ${when(t0)}`}),
        el("div", {class: "lane"}, ...ticks), el("span", {class: "times"})),
      el("div", {class: "legend timeline-legend"},
        el("span", {class: "key"}, el("i", {class: "seg queued"}), "queued"),
        el("span", {class: "key"}, el("i", {style: `background: ${COLOURS.SUCCEEDED}`}),
           "attempt"),
        el("span", {class: "key"}, el("i", {style: `background: ${COLOURS.FAILED}`}),
           "failed attempt"),
        el("span", {class: "key"}, el("i", {style: `background: ${COLOURS.RUNNING}`}),
           "going now")),
      ...rows);
  }

  window.graftTimeline = {show, refresh};
  if (location.hash === "#timeline") show("timeline");
})();
