// An execution's page: its graph drawn by cytoscape.js and laid out by dagre, polled every
// second and updated in place (states change colour, grafted nodes are added), and a panel
// with the clicked node's values, error and logs. The server decides what is drawn (groups
// open or shut, see sdk/ui/graph.py); this page only remembers which groups the user opened
// or shut and sends them along.
"use strict";

(function () {
  const {FINAL, COLOURS, el, badge, when, span, getJson, banner} = window.graftUi;
  const executionId = decodeURIComponent(location.pathname.split("/").pop());
  const expand = new Set();
  const collapse = new Set();
  const state = {version: null, polls: 0, status: null, selected: null, laidOut: 0};
  const PIE_COLOURS = [COLOURS.SUCCEEDED, COLOURS.RUNNING, COLOURS.QUEUED, COLOURS.PENDING,
                       COLOURS.FAILED, COLOURS.SKIPPED];
  const GRID_FROM = 8;  // an open group of more children than this is drawn as a grid
  const DATA_KEYS = ["group", "size", "counts", "count_text", "more", "waiting",
                     "p1", "p2", "p3", "p4", "p5", "p6"];

  document.getElementById("execution-id").textContent = executionId;
  document.title = "graft: " + executionId;

  const style = [
    {selector: "node", style: {
      "shape": "round-rectangle", "label": "data(label)", "font-size": 12,
      "font-family": "system-ui, sans-serif", "text-valign": "center", "text-halign": "center",
      "width": (n) => Math.max(56, 7.2 * String(n.data("label")).length + 18), "height": 30,
      "background-color": (n) => COLOURS[n.data("state")] || COLOURS.PENDING,
      "border-width": 1, "border-color": "#6b6b6b", "color": "#1d1d1d"}},
    {selector: "node[state = 'RUNNING']", style: {"border-width": 2, "border-color": "#1f5fbf"}},
    {selector: "node[state = 'FAILED']", style: {"border-width": 2, "border-color": "#a32020"}},
    // A gate waiting for its signal or its time says so under its name.
    {selector: "node[waiting]", style: {
      "label": (n) => `${n.data("label")}\n${n.data("waiting")}`, "text-wrap": "wrap",
      "height": 42, "border-width": 2, "border-style": "dashed", "border-color": "#b5651d",
      "width": (n) => Math.max(56, 6.6 * Math.max(String(n.data("label")).length,
                                                   String(n.data("waiting")).length) + 18)}},
    {selector: "node[group = 'open']", style: {
      "background-opacity": 0.12, "border-style": "dashed", "text-valign": "top",
      "text-halign": "center", "text-margin-y": -4, "padding": 14, "font-weight": "bold",
      "label": (n) => `${n.data("label")} (${n.data("size")}): ${n.data("count_text") || ""}`}},
    // A shut group's label goes beside it: edges leave it downwards, so none runs through it.
    {selector: "node[group = 'shut'], node[kind = 'more']", style: {
      "shape": "ellipse", "width": 46, "height": 46, "background-color": "#ffffff",
      "border-width": 3, "border-style": "double", "text-valign": "center",
      "text-halign": "right", "text-margin-x": 6, "text-justification": "left",
      "text-wrap": "wrap", "text-max-width": 170,
      "text-background-color": "#ffffff", "text-background-opacity": 0.85,
      "text-background-padding": 2,
      "label": (n) => `${n.data("label")} (${n.data("more") || n.data("size")})\n` +
                      (n.data("count_text") || ""),
      "pie-size": "88%",
      ...Object.fromEntries(PIE_COLOURS.flatMap((c, i) => [
        [`pie-${i + 1}-background-color`, c],
        [`pie-${i + 1}-background-size`, `mapData(p${i + 1}, 0, 100, 0, 100)`]]))}},
    {selector: "node[kind = 'map'][group = 'shut']", style: {"shape": "round-rectangle",
                                                           "width": 58, "height": 46}},
    {selector: "edge[?grid]", style: {"opacity": 0, "events": "no"}},
    {selector: "node:selected", style: {"border-width": 4, "border-color": "#1f6feb",
                                        "border-style": "solid"}},
    {selector: "edge", style: {
      "width": 1.5, "line-color": "#9a9a9a", "target-arrow-color": "#9a9a9a",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.9}},
  ];

  const cy = cytoscape({container: document.getElementById("cy"), style, elements: [],
                        minZoom: 0.05, maxZoom: 3, wheelSensitivity: 0.4,
                        selectionType: "single", boxSelectionEnabled: false});
  const ctx = {executionId, cy, showPanel: (id, attempt) => showPanel(id, attempt),
               toggle: (id, open) => toggle(id, open), mayAct: () => state.mayAct};
  window.graft = {cy, state, expand, collapse, executionId, poll: () => poll(),
                  showPanel: (id, attempt) => showPanel(id, attempt),
                  openPanel: (parts, view) => openPanelWith(parts, view), closePanel: () => closePanel()};

  // ---- the legend -------------------------------------------------------------------------

  function legend(counts) {
    document.getElementById("legend").replaceChildren(...Object.keys(COLOURS)
      .filter((s) => counts[s])
      .map((s) => el("span", {class: "key", "data-state": s},
        el("i", {style: `background: ${COLOURS[s]}`}), `${s} ${counts[s]}`)));
  }

  // ---- applying a poll --------------------------------------------------------------------

  function apply(body) {
    state.version = body.version;
    state.status = body.status;
    document.getElementById("workflow").textContent = body.workflow || "?";
    document.getElementById("status").replaceChildren(badge(body.status));
    document.getElementById("progress").textContent =
      `${body.done}/${body.total} nodes done`;
    state.submittedAt = body.submitted_at;
    state.endedAt = body.ended_at;
    times();
    legend(body.counts || {});
    failures(body.failures || [], body.error, body.status);
    stalls(body.stalls || []);
    document.body.dataset.status = body.status;

    const nodes = new Map(body.nodes.map((n) => [n.id, n]));
    const edges = new Map(body.edges.map((e) => [e.id, e]));
    let changed = false;
    cy.batch(() => {
      cy.edges().forEach((e) => {
        if (!e.data("grid") && !edges.has(e.id())) { cy.remove(e); changed = true; }
      });
      // Children before parents: removing a compound node removes what it holds.
      cy.nodes().toArray().reverse().forEach((n) => {
        if (n.inside() && !nodes.has(n.id())) { cy.remove(n); changed = true; }
      });
      for (const data of body.nodes) {  // breadth first: a parent before its children
        const {parent, ...rest} = data;
        const found = cy.getElementById(data.id);
        if (found.empty()) {
          cy.add({group: "nodes", data});
          changed = true;
          continue;
        }
        const now = found.parent().nonempty() ? found.parent().id() : undefined;
        if (now !== parent) { found.move({parent: parent ?? null}); changed = true; }
        // A group opened or shut, or a gate's label grown by what it waits for: lay out again.
        if (found.data("group") !== rest.group || found.data("waiting") !== rest.waiting) {
          changed = true;
        }
        DATA_KEYS.forEach((k) => { if (!(k in rest)) found.removeData(k); });
        found.data(rest);
      }
      for (const data of body.edges) {
        if (cy.getElementById(data.id).empty()) { cy.add({group: "edges", data}); changed = true; }
      }
    });
    if (changed) { grid(); layout(); }
    mirror();
  }

  // A wide group is drawn as a grid, not as one row of tiny boxes: invisible edges from
  // each child to the one `columns` after it put its children on rows for dagre, in the
  // server's order (failed ones first).
  function grid() {
    cy.remove(cy.edges("[?grid]"));
    cy.nodes("[group = 'open']").forEach((group) => {
      const kids = group.children().toArray();
      if (kids.length <= GRID_FROM) return;
      const columns = Math.ceil(Math.sqrt(kids.length * 1.2));
      const more = (k) => k.data("kind") === "more";
      const ids = [...kids.filter((k) => !more(k)), ...kids.filter(more)].map((k) => k.id());
      for (let i = 0; i + columns < ids.length; i += 1) {
        cy.add({group: "edges", data: {id: `${ids[i]}~grid~${ids[i + columns]}`, grid: true,
                                       source: ids[i], target: ids[i + columns]}});
      }
    });
  }

  // Each change of the drawn nodes lays the graph out again. The view follows it (fit) until
  // the user pans or zooms; after a click opened or shut a group, it shows that group.
  function layout() {
    cy.layout({name: "dagre", rankDir: "TB", nodeSep: 24, rankSep: 46, edgeSep: 8,
               nodeDimensionsIncludeLabels: true, animate: false, fit: false}).run();
    const focus = state.focus && cy.getElementById(state.focus);
    state.focus = null;
    if (focus && focus.nonempty()) {
      state.viewing = focus.id();  // the view stays on the group the user opened
      state.userMoved = true;
    }
    const viewing = state.viewing && cy.getElementById(state.viewing);
    if (viewing && viewing.nonempty()) showGroup(viewing);
    else if (!state.userMoved) fit();
    state.laidOut += 1;
  }

  function showGroup(group) {
    cy.fit(group, 40);
    if (cy.zoom() > 1.4) { cy.zoom(1.4); cy.center(group); }
    if (cy.zoom() < 0.6) { cy.zoom(0.6); cy.center(group); }
  }

  function fit() {
    cy.fit(undefined, 24);
    if (cy.zoom() > 1.4) { cy.zoom(1.4); cy.center(); }
  }

  const container = document.getElementById("cy");
  function moved() { state.userMoved = true; state.viewing = null; }
  container.addEventListener("wheel", moved, {passive: true});
  cy.on("tapstart", (event) => { if (event.target === cy) moved(); });

  // The list is read from cytoscape's own elements, so it shows what is drawn.
  function mirror() {
    document.getElementById("node-list").replaceChildren(...cy.nodes().map((n) => {
      const counts = n.data("counts");
      return el("li", {"data-id": n.id(), "data-state": n.data("state"),
                       "data-kind": n.data("kind"), "data-group": n.data("group"),
                       "data-parent": n.parent().nonempty() ? n.parent().id() : undefined,
                       "data-counts": counts ? JSON.stringify(counts) : undefined,
                       "data-waiting": n.data("waiting")},
                `${n.id()}: ${n.data("state")}` +
                (n.data("count_text") ? ` (${n.data("count_text")})` : "") +
                (n.data("waiting") ? ` (${n.data("waiting")})` : ""));
    }));
  }

  // Submitted, ended and elapsed, in the browser's time zone; elapsed counts while it runs.
  function times() {
    const end = state.endedAt || (FINAL.has(state.status) ? null : Date.now() / 1000);
    document.getElementById("times").replaceChildren(el("span", {},
      el("span", {id: "submitted-at", title: "submitted", text: when(state.submittedAt)}),
      state.endedAt ? el("span", {id: "ended-at", title: "ended",
                                  text: " → " + when(state.endedAt)}) : null,
      el("span", {id: "elapsed", class: "muted",
                  text: end && state.submittedAt ? ` (${span(end - state.submittedAt)})` : ""})));
  }
  setInterval(() => { if (!FINAL.has(state.status)) times(); }, 1000);

  // What it waits for when nothing moves (sdk/remote/stalls.py): no scheduler, no worker.
  function stalls(hints) {
    const box = document.getElementById("stalls");
    box.hidden = !hints.length;
    box.replaceChildren(...hints.map((h) => el("p", {text: "Waiting: " + h})));
  }

  function failures(list, error, status) {
    const box = document.getElementById("failures");
    if (!list.length && !error) { box.replaceChildren(); return; }
    const title = status === "ABORTED" ? `Cancelled: ${error || "no reason given"}`
                                       : error || "failures";
    box.replaceChildren(el("h3", {id: "failures-title", text: title}),
      ...list.map((f) => el("details", {},
        el("summary", {}, el("b", {text: f.node_id || "execution"}),
           ` ${f.error_type}: ${f.message}`),
        f.traceback ? el("pre", {text: f.traceback}) : null)));
  }

  // ---- polling ----------------------------------------------------------------------------

  let timer = null;
  let busy = false;
  async function poll() {
    clearTimeout(timer);
    if (busy) { timer = setTimeout(poll, 200); return; }
    busy = true;
    const q = new URLSearchParams();
    if (expand.size) q.set("expand", [...expand].join(","));
    if (collapse.size) q.set("collapse", [...collapse].join(","));
    if (state.version) q.set("v", state.version);
    try {
      const body = await getJson(`/api/executions/${encodeURIComponent(executionId)}?${q}`);
      state.polls += 1;
      if (!body.unchanged) apply(body);
      banner("");
      // A running node's logs grow; a group's panel says whether it is open.
      if (state.selected && (!state.selectedFinal || !body.unchanged)) {
        showPanel(state.selected, state.selectedAttempt, true);
      }
    } catch (e) {
      banner(e.message);
    } finally {
      busy = false;
    }
    // A finished execution changes no more: poll again only when the user opens a group.
    if (!FINAL.has(state.status)) timer = setTimeout(poll, 1000);
  }

  // ---- clicks -----------------------------------------------------------------------------

  // Opening a group shows it; shutting one shows the whole graph again.
  function toggle(id, open) {
    state.focus = open ? id : null;
    if (!open) { state.viewing = null; state.userMoved = false; }
    (open ? expand : collapse).add(id);
    (open ? collapse : expand).delete(id);
    state.version = null;
    poll();
  }

  cy.on("tap", "node", (event) => {
    const node = event.target;
    if (node.data("kind") === "more") { showPanel(node.parent().id()); return; }
    if (node.data("group") === "shut" && node.data("kind") !== "map") toggle(node.id(), true);
    showPanel(node.id());
  });
  cy.on("tap", (event) => { if (event.target === cy) closePanel(); });
  document.getElementById("panel-close").addEventListener("click", closePanel);
  document.getElementById("fit").addEventListener("click", () => {
    state.userMoved = false;
    state.viewing = null;
    fit();
  });

  // The panel showing something else than a node (the execution's details, a form).
  function openPanelWith(parts, view) {
    panelRequest += 1;
    state.selected = null;
    cy.nodes().unselect();
    const panel = document.getElementById("panel");
    document.getElementById("panel-body").replaceChildren(...parts.filter(Boolean));
    panel.dataset.node = "";
    panel.dataset.view = view;
    openPanel(panel, cy.collection(), true);
  }

  function closePanel() {
    state.selected = null;
    cy.nodes().unselect();
    document.getElementById("panel").hidden = true;
    cy.resize();
  }

  // ---- the node panel ---------------------------------------------------------------------

  let panelRequest = 0;
  async function showPanel(nodeId, attempt, quiet) {
    // A poll does not redraw a panel whose field the user is filling in.
    const typing = [...document.querySelectorAll("#panel-body input, #panel-body textarea")]
      .some((f) => f.value || f === document.activeElement);
    if (quiet && typing) return;
    if (!quiet) document.getElementById("gate-result").textContent = "";
    const request = ++panelRequest;
    state.selected = nodeId;
    state.selectedAttempt = attempt || null;
    const drawn = cy.getElementById(nodeId);
    if (!quiet && drawn.nonempty()) { cy.nodes().unselect(); drawn.select(); }
    const panel = document.getElementById("panel");
    const q = new URLSearchParams({id: nodeId});
    if (attempt) q.set("attempt", attempt);
    try {
      const node = await getJson(
        `/api/executions/${encodeURIComponent(executionId)}/node?${q}`);
      if (request !== panelRequest) return;
      state.selectedFinal = FINAL.has(node.state) || ["SKIPPED", "CANCELLED"].includes(node.state);
      const scroll = panel.scrollTop;
      document.getElementById("panel-body").replaceChildren(...window.graftPanel.content(node, ctx));
      panel.dataset.node = node.id;
      panel.dataset.view = "node";
      panel.dataset.state = node.state;
      openPanel(panel, drawn, quiet);
      if (quiet) panel.scrollTop = scroll;
    } catch (e) {
      if (request !== panelRequest) return;
      document.getElementById("panel-body").replaceChildren(
        el("p", {class: "error", text: e.message}));
      panel.dataset.node = nodeId;
      openPanel(panel, drawn, quiet);
    }
  }

  // The panel narrows the graph: tell cytoscape, and keep the clicked node in sight.
  function openPanel(panel, drawn, quiet) {
    if (panel.hidden) {
      panel.hidden = false;
      cy.resize();
      const viewing = state.viewing && cy.getElementById(state.viewing);
      if (viewing && viewing.nonempty()) showGroup(viewing);
      else if (!state.userMoved && !state.focus) fit();
    }
    if (quiet || drawn.empty()) return;
    const at = drawn.renderedPosition();
    if (at.x < 0 || at.y < 0 || at.x > cy.width() || at.y > cy.height()) cy.center(drawn);
  }

  // The header and the banners change height as their text changes: cytoscape must know
  // where its box is, or clicks land beside the nodes.
  new ResizeObserver(() => cy.resize()).observe(container);
  poll();
})();
