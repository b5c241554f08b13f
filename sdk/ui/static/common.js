// Helpers shared by graft's two pages. DOM is built with textContent only: node ids, task
// names, values and logs come from user code and are never parsed as HTML.
"use strict";

window.graftUi = (function () {
  const FINAL = new Set(["SUCCEEDED", "FAILED", "ABORTED"]);
  const COLOURS = {
    SUCCEEDED: "#7fd68a", FAILED: "#ef7b7b", RUNNING: "#6fa8f0", QUEUED: "#f3d36b",
    WAITING: "#f5a962", PENDING: "#e4e4e4", SKIPPED: "#c9c9c9", CANCELLED: "#c6a5ef", ABORTED: "#c6a5ef",
    MORE: "#ffffff",
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function badge(state) {
    return el("span", {class: "badge state-" + String(state || "").toLowerCase(),
                       text: state || "?"});
  }

  // Every time on the pages: the browser's locale and time zone, with the zone named. The
  // JSON endpoints give unix seconds (docs/ui.md).
  const DATE_TIME = {year: "numeric", month: "short", day: "numeric", hour: "2-digit",
                     minute: "2-digit", second: "2-digit", timeZoneName: "short"};
  const TIME = {hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"};

  function when(ts) {
    if (!ts) return "-";
    return new Date(ts * 1000).toLocaleString(undefined, DATE_TIME);
  }

  function clock(ts, tenths) {
    if (!ts) return "-";
    return new Date(ts * 1000).toLocaleTimeString(undefined,
      tenths ? {...TIME, fractionalSecondDigits: 1} : TIME);
  }

  function span(s) {
    if (s == null) return "-";
    s = Math.max(0, s);
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  }

  // A byte count in binary units with one decimal, as graft status writes it: "323.6 MiB".
  function bytes(n) {
    if (n == null) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let size = Number(n), unit = 0;
    while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
    return unit === 0 ? `${size} B` : `${size.toFixed(1)} ${units[unit]}`;
  }

  function seconds(a, b) {
    if (a == null || b == null) return "-";
    return span(b - a);
  }

  async function getJson(url) {
    const response = await fetch(url, {cache: "no-store"});
    let body;
    try {
      body = await response.json();
    } catch (e) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  // Actions are POSTs with the header the server asks of them (it refuses other sites' forms).
  async function postJson(url, body) {
    const response = await fetch(url, {method: "POST", cache: "no-store",
      headers: {"Content-Type": "application/json", "X-Graft-Request": "1"},
      body: JSON.stringify(body || {})});
    let answer;
    try {
      answer = await response.json();
    } catch (e) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
    return answer;
  }

  function banner(message) {
    const node = document.getElementById("banner");
    if (!node) return;
    node.hidden = !message;
    node.textContent = message || "";
  }

  return {FINAL, COLOURS, el, badge, when, clock, span, bytes, seconds, getJson, postJson,
          banner};
})();
