// What the panel shows for a clicked node: its facts, error, values, attempts (each failed
// one with its error), deck and logs; for a gate what it waits for and, for a user who may
// act, the buttons that answer it; for a group its children, failed ones first.
"use strict";

window.graftPanel = (function () {
  const {el, badge, when, seconds, span, postJson} = window.graftUi;

  function section(title, id, ...content) {
    return el("section", {id}, el("h3", {text: title}), ...content);
  }

  function facts(pairs) {
    return el("dl", {class: "facts"},
      ...pairs.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {}, v)]));
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

  // ctx: {executionId, showPanel(id, attempt), toggle(id, open), cy, mayAct()}
  function content(node, ctx) {
    const parts = [];
    parts.push(el("h2", {class: "mono", text: node.id}));
    const ran = node.history && node.history.length
      ? node.history.reduce((t, h) => t + (Number(h.duration_s) || 0), 0) : null;
    const list = [["task", node.task], ["kind", node.kind], ["state", badge(node.state)],
                  ["tier", node.queue || "-"], ["attempts", node.attempts],
                  ["cached", node.cached ? "yes (cache hit)" : "no"],
                  ["released", when(node.started_at)], ["ended", when(node.ended_at)],
                  ["total", seconds(node.started_at, node.ended_at)]];
    if (ran != null && node.ended_at != null && node.kind === "task") {
      const total = node.ended_at - node.started_at;
      list.push(["running", span(Math.min(total, ran))],
                ["queued", span(Math.max(0, total - ran))]);
    } else if (ran != null && node.kind === "dynamic") {
      list.push(["body ran", span(ran)]);  // its total spans its children too
    }
    if (node.parent) list.push(["parent", el("a", {href: "#", class: "mono", text: node.parent,
      onclick: (e) => { e.preventDefault(); ctx.showPanel(node.parent); }})]);
    if (node.image) list.push(["image", node.image]);
    parts.push(facts(list));

    if (node.gate) parts.push(gateSection(node, ctx));
    if (node.group) parts.push(groupSection(node, ctx));
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
    if (node.history && node.history.length) parts.push(historySection(node, ctx));
    if (node.deck) parts.push(deckSection(node, ctx));
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
  function deckSection(node, ctx) {
    const q = new URLSearchParams({node: node.id, attempt: node.attempt});
    const href = `/executions/${encodeURIComponent(ctx.executionId)}/deck?${q}`;
    return section(`Deck (attempt ${node.attempt})`, "panel-deck",
      el("a", {href, target: "_blank", rel: "noopener noreferrer", id: "panel-deck-link",
               text: "Open the deck"}));
  }

  // What a gate waits for, until when, the command that answers it, and (for an operator)
  // the buttons or the field that answer it here.
  function gateSection(node, ctx) {
    const g = node.gate;
    const waiting = node.state === "WAITING";
    const limit = g.kind === "sleep" ? g.duration_s : g.timeout_s;
    const until = node.started_at != null && limit != null ? when(node.started_at + limit) : "-";
    const list = [["kind", g.kind === "signal" ? "wait_for_input" : g.kind]];
    if (g.kind === "sleep") {
      list.push(["sleeps", span(g.duration_s)]);
      if (waiting) list.push(["until", until]);
    } else {
      list.push(["signal", g.name], ["type", g.type_name || "-"], ["timeout", span(g.timeout_s)]);
      if (waiting) {
        const answer = g.kind === "approve"
          ? `graft approve ${ctx.executionId} ${g.name} [--reject]`
          : `graft signal ${ctx.executionId} ${g.name} VALUE`;
        list.push(["until", until], ["answer", el("code", {text: answer})]);
      }
    }
    const answer = waiting && g.kind !== "sleep" && ctx.mayAct() ? gateForm(node, ctx) : null;
    return section(waiting ? "Gate: waiting" : "Gate", "panel-gate", facts(list), answer);
  }

  function gateForm(node, ctx) {
    const g = node.gate;
    // The answer's result lives outside the panel's body, which each poll redraws.
    const said = document.getElementById("gate-result");
    async function send(body) {
      said.textContent = "sending…";
      said.className = "action-result muted";
      try {
        const url = `/api/executions/${encodeURIComponent(ctx.executionId)}/signal`;
        const answer = await postJson(url, {name: g.name, ...body});
        said.textContent = (answer.applied ? `done: gate ${g.name} answered`
          : `sent: no scheduler applied the answer to gate ${g.name} yet (it will when one ` +
            "reads it)");
        said.className = "action-result";
        if (field) field.value = "";
      } catch (e) {
        said.textContent = e.message;
        said.className = "action-result error";
      }
    }
    const field = g.kind === "approve" ? null
      : el("input", {id: "gate-value", type: "text", "aria-label": "value",
                     placeholder: `a value of type ${g.type_name || "?"}`});
    if (!field) {
      return el("div", {class: "actions", id: "gate-answer"},
        el("button", {type: "button", id: "gate-approve", class: "primary", text: "Approve",
                      onclick: () => send({approve: true})}),
        el("button", {type: "button", id: "gate-reject", class: "danger", text: "Reject",
                      onclick: () => send({approve: false})}));
    }
    return el("form", {class: "actions", id: "gate-answer",
                       onsubmit: (e) => { e.preventDefault(); send({value: field.value}); }},
      field, el("button", {type: "submit", id: "gate-send", class: "primary", text: "Send"}));
  }

  function historySection(node, ctx) {
    return section("Attempts", "panel-attempts", el("table", {class: "attempts"},
      el("tr", {}, ...["#", "outcome", "worker", "ran", "peak memory", "ended"].map(
        (h) => el("th", {text: h}))),
      ...node.history.map((h, i) => el("tr", {class: h.type ? "failed" : undefined},
        el("td", {}, el("a", {href: "#", text: String(h.attempt || i + 1),
          onclick: (e) => { e.preventDefault(); ctx.showPanel(node.id, h.attempt || i + 1); }})),
        el("td", {class: h.type ? "error" : undefined,
                  text: h.type ? `${h.kind || ""} ${h.type}: ${h.message || ""}`.trim()
                               : (h.outcome || "ok")}),
        el("td", {class: "mono", text: h.worker || "-"}),
        el("td", {text: span(h.duration_s)}),
        el("td", {class: "peak", text: window.graftUi.bytes(h.peak_memory_bytes)}),
        el("td", {text: h.ended_at ? window.graftUi.clock(h.ended_at) : "-"})))));
  }

  function groupSection(node, ctx) {
    const g = node.group;
    const drawn = ctx.cy.getElementById(node.id);
    const open = drawn.nonempty() && drawn.data("group") === "open";
    const button = open
      ? el("button", {type: "button", text: "Collapse", onclick: () => ctx.toggle(node.id, false)})
      : el("button", {type: "button", text: "Expand", onclick: () => ctx.toggle(node.id, true)});
    const counts = Object.entries(g.counts).sort((a, b) => b[1] - a[1]);
    return section(`Children (${g.total})`, "panel-children",
      el("p", {}, ...counts.map(([s, n]) => el("span", {class: "count"}, badge(s), ` ${n} `)),
         drawn.nonempty() ? button : null),
      el("ul", {class: "children"}, ...g.children.map((c) => el("li", {},
        badge(c.state), " ",
        el("a", {href: "#", class: "mono", text: c.id,
                 onclick: (e) => { e.preventDefault(); ctx.showPanel(c.id); }})))),
      g.total > g.children.length
        ? el("p", {class: "muted", text: `… and ${g.total - g.children.length} more`}) : null);
  }

  return {content, section, values, facts};
})();
