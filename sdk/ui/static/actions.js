// The execution's own panel and actions: its inputs and outputs, why it ended, and for a
// user who may act (role operator, or no login configured) Cancel with a reason and Relaunch
// with edited inputs (sdk/ui/actions.py). The buttons are hidden from read-only users.
"use strict";

(function () {
  const {FINAL, el, badge, getJson, postJson} = window.graftUi;
  const {section, values, facts} = window.graftPanel;
  const graft = window.graft;
  const eid = encodeURIComponent(graft.executionId);
  const buttons = {details: document.getElementById("show-details"),
                   relaunch: document.getElementById("relaunch"),
                   cancel: document.getElementById("cancel")};

  async function who() {
    try {
      const me = await getJson("/api/me");
      graft.state.mayAct = me.may_act;
      document.getElementById("user").textContent = me.login ? `${me.user} (${me.role})` : "";
    } catch (e) {
      graft.state.mayAct = false;
    }
    showButtons();
  }

  function showButtons() {
    const status = graft.state.status;
    buttons.relaunch.hidden = !graft.state.mayAct;
    buttons.cancel.hidden = !graft.state.mayAct || !status || FINAL.has(status);
  }
  new MutationObserver(showButtons).observe(document.body,
                                            {attributes: true, attributeFilter: ["data-status"]});

  function result(id) {
    return el("p", {class: "action-result", id});
  }

  function said(node, text, error) {
    node.textContent = text;
    node.className = "action-result" + (error ? " error" : "");
  }

  async function details() {
    const d = await getJson(`/api/executions/${eid}/details`);
    const parts = [el("h2", {text: "Execution"}),
      facts([["id", el("span", {class: "mono", text: d.id})], ["status", badge(d.status)],
             ["priority", d.priority ?? 0]])];
    if (d.error) {
      parts.push(section(d.status === "ABORTED" ? "Cancelled" : "Error", "details-error",
                         el("p", {class: "error", id: "details-reason", text: d.error})));
    }
    parts.push(values("Inputs", "details-inputs", d.inputs, "not recorded"));
    parts.push(values("Outputs", "details-outputs", d.outputs,
                      d.status === "SUCCEEDED" ? "not recorded" : `none yet: ${d.status}`));
    return {d, parts};
  }

  buttons.details.addEventListener("click", async () => {
    try {
      graft.openPanel((await details()).parts, "details");
    } catch (e) {
      graft.openPanel([el("p", {class: "error", text: e.message})], "details");
    }
  });

  buttons.cancel.addEventListener("click", () => {
    const reason = el("input", {type: "text", id: "cancel-reason", "aria-label": "reason",
                                placeholder: "why (kept with the execution)"});
    const out = result("cancel-result");
    const form = el("form", {class: "actions", id: "cancel-form", onsubmit: async (e) => {
      e.preventDefault();
      said(out, "sending…");
      try {
        await postJson(`/api/executions/${eid}/cancel`, {reason: reason.value});
        said(out, "cancel sent: queued nodes will not start, running ones are stopped");
        graft.poll();
      } catch (err) {
        said(out, err.message, true);
      }
    }}, reason, el("button", {type: "submit", class: "danger", id: "cancel-confirm",
                              text: "Cancel the execution"}), out);
    graft.openPanel([el("h2", {text: "Cancel"}),
      el("p", {text: "Queued nodes never start and running attempts are stopped."}), form],
    "cancel");
    reason.focus();
  });

  buttons.relaunch.addEventListener("click", async () => {
    let d;
    try {
      d = (await details()).d;
    } catch (e) {
      graft.openPanel([el("p", {class: "error", text: e.message})], "relaunch");
      return;
    }
    const names = Object.keys(d.form);
    const fields = new Map(names.map((n) => [n, el("textarea", {
      name: n, id: `relaunch-${n}`, rows: d.form[n].text.length > 60 ? 4 : 1,
      text: d.form[n].text})]));
    const priority = el("input", {type: "number", id: "relaunch-priority", min: -1000,
                                  max: 1000, value: d.priority ?? 0});
    const out = result("relaunch-result");
    const form = el("form", {class: "actions stacked", id: "relaunch-form",
      onsubmit: async (e) => {
        e.preventDefault();
        const inputs = {};
        for (const [n, field] of fields) {
          if (field.value !== d.form[n].text) inputs[n] = field.value;  // only what changed
        }
        said(out, "submitting…");
        try {
          const answer = await postJson(`/api/executions/${eid}/relaunch`,
            {inputs, priority: Number(priority.value)});
          out.replaceChildren("relaunched as ",
            el("a", {id: "relaunched", class: "mono", text: answer.id,
                     href: "/executions/" + encodeURIComponent(answer.id)}));
          out.className = "action-result";
        } catch (err) {
          said(out, err.message, true);
        }
      }},
      ...names.map((n) => el("label", {}, el("b", {text: n}), " ",
                             el("span", {class: "muted", text: d.form[n].type}), fields.get(n))),
      el("label", {}, el("b", {text: "priority"}), priority),
      el("button", {type: "submit", class: "primary", id: "relaunch-submit",
                    text: "Relaunch"}), out);
    graft.openPanel([el("h2", {text: "Relaunch"}),
      el("p", {class: "muted", text: "The same workflow as it was submitted; values are read " +
        "by their type as on the command line (JSON for lists, dicts and dataclasses)."}),
      names.length ? form : el("p", {text: "It has no inputs."}),
      names.length ? null : form], "relaunch");
  });

  who();
})();
