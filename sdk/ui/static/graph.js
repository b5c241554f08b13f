// An execution's page: its graph drawn by cytoscape.js and laid out by dagre, polled every
// second and updated in place (states change colour, grafted nodes are added), and a panel
// with the clicked node's values, error and logs. The server decides what is drawn (groups
// open or shut, see sdk/ui/graph.py); this page only remembers which groups the user opened
// or shut and sends them along.
"use strict";

(function () {
  const {FINAL, COLOURS, el, badge, when, seconds, getJson, banner} = window.graftUi;
  const executionId = decodeURIComponent(location.pathname.split("/").pop());
  const expand = new Set();
  const collapse = new Set();
  const state = {version: null, polls: 0, status: null, selected: null, laidOut: 0};
  const PIE_COLOURS = [COLOURS.SUCCEEDED, COLOURS.RUNNING, COLOURS.QUEUED, COLOURS.PENDING,
                       COLOURS.FAILED, COLOURS.SKIPPED];
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
      "text-halign": "center", "text-margin-y": -4, "padding": 14, "font-weight": "bold"}},
    {selector: "node[group = 'shut'], node[kind = 'more']", style: {
      "shape": "ellipse", "width": 46, "height": 46, "background-color": "#ffffff",
      "border-width": 3, "border-style": "double", "text-valign": "bottom",
      "text-margin-y": 5, "text-wrap": "wrap",
      "label": (n) => `${n.data("label")} (${n.data("more") || n.data("size")})\n` +
                      (n.data("count_text") || ""),
      "pie-size": "88%",
      ...Object.fromEntries(PIE_COLOURS.flatMap((c, i) => [
        [`pie-${i + 1}-background-color`, c],
        [`pie-${i + 1}-background-size`, `mapData(p${i + 1}, 0, 100, 0, 100)`]]))}},
    {selector: "node[kind = 'map'][group = 'shut']", style: {"shape": "round-rectangle",
                                                           "width": 58, "height": 46}},
    {selector: "node:selected", style: {"border-width": 4, "border-color": "#1f6feb",
                                        "border-style": "solid"}},
    {selector: "edge", style: {
      "width": 1.5, "line-color": "#9a9a9a", "target-arrow-color": "#9a9a9a",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.9}},
  ];

  const cy = cytoscape({container: document.getElementById("cy"), style, elements: [],
                        minZoom: 0.05, maxZoom: 3, wheelSensitivity: 0.4,
                        selectionType: "single", boxSelectionEnabled: false});
  window.graft = {cy, state, expand, collapse, poll: () => poll()};

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
    legend(body.counts || {});
    failures(body.failures || [], body.error);

    const nodes = new Map(body.nodes.map((n) => [n.id, n]));
    const edges = new Map(body.edges.map((e) => [e.id, e]));
    let changed = false;
    cy.batch(() => {
      cy.edges().forEach((e) => { if (!edges.has(e.id())) { cy.remove(e); changed = true; } });
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
        if (found.data("group") !== rest.group) changed = true;
        DATA_KEYS.forEach((k) => { if (!(k in rest)) found.removeData(k); });
        found.data(rest);
      }
      for (const data of body.edges) {
        if (cy.getElementById(data.id).empty()) { cy.add({group: "edges", data}); changed = true; }
      }
    });
    if (changed) layout();
    mirror();
  }

  // Each change of the drawn nodes lays the graph out again. The view follows it (fit) until
  // the user pans or zooms; after a click opened or shut a group, it shows that group.
  function layout() {
    cy.layout({name: "dagre", rankDir: "TB", nodeSep: 24, rankSep: 46, edgeSep: 8,
               animate: false, fit: false}).run();
    const focus = state.focus && cy.getElementById(state.focus);
    state.focus = null;
    if (focus && focus.nonempty()) {
      cy.fit(focus, 40);
      if (cy.zoom() < 0.7) { cy.zoom(0.7); cy.center(focus); }
    } else if (!state.userMoved) {
      fit();
    }
    state.laidOut += 1;
  }

  function fit() {
    cy.fit(undefined, 24);
    if (cy.zoom() > 1.4) { cy.zoom(1.4); cy.center(); }
  }

  const container = document.getElementById("cy");
  container.addEventListener("wheel", () => { state.userMoved = true; }, {passive: true});
  cy.on("tapstart", (event) => { if (event.target === cy) state.userMoved = true; });

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

  function failures(list, error) {
    const box = document.getElementById("failures");
    if (!list.length && !error) { box.replaceChildren(); return; }
    box.replaceChildren(el("h3", {text: error || "failures"}),
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

  function toggle(id, open) {
    state.focus = id;
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
    fit();
  });

  function closePanel() {
    state.selected = null;
    cy.nodes().unselect();
    document.getElementById("panel").hidden = true;
    cy.resize();
  }

  // ---- the node panel ---------------------------------------------------------------------

  let panelRequest = 0;
  async function showPanel(nodeId, attempt, quiet) {
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
      document.getElementById("panel-body").replaceChildren(...panelContent(node));
      panel.dataset.node = node.id;
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
      if (!state.userMoved && !state.focus) fit();
    }
    if (quiet || drawn.empty()) return;
    const at = drawn.renderedPosition();
    if (at.x < 0 || at.y < 0 || at.x > cy.width() || at.y > cy.height()) cy.center(drawn);
  }

  function section(title, id, ...content) {
    return el("section", {id}, el("h3", {text: title}), ...content);
  }

  function values(title, id, shown, missing) {
    if (shown === undefined || shown === null) {
      return section(title, id, el("p", {class: "muted", text: missing}));
    }
    if (typeof shown === "string") return section(title, id, el("p", {class: "muted", text: shown}));
    const names = Object.keys(shown);
    if (!names.length) return section(title, id, el("p", {class: "muted", text: "none"}));
    return section(title, id, el("dl", {class: "values"},
      ...names.flatMap((k) => [el("dt", {text: k}), el("dd", {}, el("pre", {text: shown[k]}))])));
  }

  function panelContent(node) {
    const parts = [];
    parts.push(el("h2", {class: "mono", text: node.id}));
    const facts = [["task", node.task], ["kind", node.kind], ["state", badge(node.state)],
                   ["tier", node.queue || "-"], ["attempts", node.attempts],
                   ["cached", node.cached ? "yes (cache hit)" : "no"],
                   ["started", when(node.started_at)],
                   ["duration", seconds(node.started_at, node.ended_at)]];
    if (node.parent) facts.push(["parent", el("a", {href: "#", class: "mono", text: node.parent,
      onclick: (e) => { e.preventDefault(); showPanel(node.parent); }})]);
    if (node.image) facts.push(["image", node.image]);
    parts.push(el("dl", {class: "facts"},
      ...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {}, v)])));

    if (node.gate) parts.push(gateSection(node));
    if (node.group) parts.push(groupSection(node));
    if (node.error) {
      const err = node.error;
      parts.push(section("Error", "panel-error",
        el("p", {class: "error"}, el("b", {text: err.type || err.kind || "error"}),
           ": " + (err.message || "")),
        err.traceback ? el("pre", {class: "traceback", text: err.traceback}) : null));
    }
    const v = node.values || {};
    parts.push(values("Inputs", "panel-inputs", v.inputs, "not recorded"));
    parts.push(values("Outputs", "panel-outputs", v.outputs,
                      node.state === "SUCCEEDED" ? "not recorded" : `none yet: ${node.state}`));
    if (node.history && node.history.length) parts.push(historySection(node));
    if (node.deck) parts.push(deckSection(node));
    if ("stdout" in node) {
      parts.push(section(`Log (attempt ${node.attempt})`, "panel-log",
        el("h4", {text: "stdout"}),
        el("pre", {class: "log", id: "panel-stdout", text: node.stdout || "(nothing)"}),
        el("h4", {text: "stderr"}),
        el("pre", {class: "log", id: "panel-stderr", text: node.stderr || "(nothing)"}),
        el("h4", {text: "log records"}),
        node.log_records.length
          ? el("ol", {class: "records", id: "panel-records"}, ...node.log_records.map((r) =>
              el("li", {}, el("span", {class: "muted", text: when(r.at) + " "}),
                 el("b", {text: r.level + " "}), r.message)))
          : el("p", {class: "muted", text: "(none)"})));
    }
    return parts;
  }

  // A deck is the user's HTML: it opens in a page of its own, sandboxed (sdk/ui/decks.py).
  function deckSection(node) {
    const q = new URLSearchParams({node: node.id, attempt: node.attempt});
    const href = `/executions/${encodeURIComponent(executionId)}/deck?${q}`;
    return section(`Deck (attempt ${node.attempt})`, "panel-deck",
      el("a", {href, target: "_blank", rel: "noopener noreferrer", id: "panel-deck-link",
               text: "Open the deck"}));
  }

  // What a gate waits for, until when, and the command that answers it.
  function gateSection(node) {
    const g = node.gate;
    const waiting = node.state === "WAITING";
    const span = g.kind === "sleep" ? g.duration_s : g.timeout_s;
    const until = node.started_at != null && span != null ? when(node.started_at + span) : "-";
    const facts = [["kind", g.kind === "signal" ? "wait_for_input" : g.kind]];
    if (g.kind === "sleep") {
      facts.push(["sleeps", seconds(0, g.duration_s)]);
      if (waiting) facts.push(["until", until]);
    } else {
      facts.push(["signal", g.name], ["type", g.type_name || "-"],
                 ["timeout", seconds(0, g.timeout_s)]);
      if (waiting) {
        const answer = g.kind === "approve"
          ? `graft approve ${executionId} ${g.name} [--reject]`
          : `graft signal ${executionId} ${g.name} VALUE`;
        facts.push(["until", until], ["answer", el("code", {text: answer})]);
      }
    }
    return section(waiting ? "Gate: waiting" : "Gate", "panel-gate", el("dl", {class: "facts"},
      ...facts.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {}, v)])));
  }

  function historySection(node) {
    return section("Attempts", "panel-attempts", el("table", {class: "attempts"},
      el("tr", {}, ...["#", "outcome", "worker", "seconds"].map((h) => el("th", {text: h}))),
      ...node.history.map((h, i) => el("tr", {},
        el("td", {}, el("a", {href: "#", text: String(i + 1),
          onclick: (e) => { e.preventDefault(); showPanel(node.id, i + 1); }})),
        el("td", {text: h.error ? `${h.kind || ""} ${h.error.type || ""}: ${h.error.message || ""}`
                                : (h.kind || "ok")}),
        el("td", {class: "mono", text: h.worker || "-"}),
        el("td", {text: h.duration_s != null ? Number(h.duration_s).toFixed(2) : "-"})))));
  }

  function groupSection(node) {
    const g = node.group;
    const drawn = cy.getElementById(node.id);
    const open = drawn.nonempty() && drawn.data("group") === "open";
    const button = open
      ? el("button", {type: "button", text: "Collapse", onclick: () => toggle(node.id, false)})
      : el("button", {type: "button", text: "Expand", onclick: () => toggle(node.id, true)});
    const counts = Object.entries(g.counts).sort((a, b) => b[1] - a[1]);
    return section(`Children (${g.total})`, "panel-children",
      el("p", {}, ...counts.map(([s, n]) => el("span", {class: "count"}, badge(s), ` ${n} `)),
         drawn.nonempty() ? button : null),
      el("ul", {class: "children"}, ...g.children.map((c) => el("li", {},
        badge(c.state), " ",
        el("a", {href: "#", class: "mono", text: c.id,
                 onclick: (e) => { e.preventDefault(); showPanel(c.id); }})))),
      g.total > g.children.length
        ? el("p", {class: "muted", text: `… and ${g.total - g.children.length} more`}) : null);
  }

  window.addEventListener("resize", () => cy.resize());
  poll();
})();
