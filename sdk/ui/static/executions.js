// The start page: executions on the board, newest first, polled every 2 s.
"use strict";

(function () {
  const {el, badge, when, getJson, banner} = window.graftUi;
  const filter = document.getElementById("status-filter");
  const body = document.querySelector("#executions tbody");
  const empty = document.getElementById("empty");
  filter.value = new URLSearchParams(location.search).get("status") || "";
  filter.addEventListener("change", () => {
    const q = filter.value ? "?status=" + encodeURIComponent(filter.value) : "";
    history.replaceState(null, "", "/" + q);
    refresh();
  });

  function row(r) {
    const total = r.total || 0;
    const done = r.done || 0;
    const share = total ? Math.round((100 * done) / total) : 0;
    return el("tr", {"data-id": r.id, "data-status": r.status},
      el("td", {}, el("a", {href: "/executions/" + encodeURIComponent(r.id), class: "mono",
                            text: r.id})),
      el("td", {text: r.workflow || "?"}),
      el("td", {}, badge(r.status)),
      el("td", {},
        el("span", {class: "bar"}, el("span", {style: `width: ${share}%`})),
        el("span", {class: "muted", text: ` ${done}/${total}`})),
      el("td", {class: "muted", text: when(r.submitted_at)}));
  }

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    const q = new URLSearchParams({limit: "200"});
    if (filter.value) q.set("status", filter.value);
    try {
      const rows = await getJson("/api/executions?" + q);
      body.replaceChildren(...rows.map(row));
      empty.hidden = rows.length > 0;
      banner("");
    } catch (e) {
      banner(e.message);
    }
    timer = setTimeout(refresh, 2000);
  }
  refresh();
})();
