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

  function when(ts) {
    if (!ts) return "-";
    const d = new Date(ts * 1000);
    return d.toLocaleString();
  }

  function seconds(a, b) {
    if (a == null || b == null) return "-";
    const s = Math.max(0, b - a);
    return s < 60 ? s.toFixed(2) + " s" : (s / 60).toFixed(1) + " min";
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

  function banner(message) {
    const node = document.getElementById("banner");
    if (!node) return;
    node.hidden = !message;
    node.textContent = message || "";
  }

  return {FINAL, COLOURS, el, badge, when, seconds, getJson, banner};
})();
