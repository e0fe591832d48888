// Zapini dashboard: the flow editor. Every input of a step card names its place in the
// definition (data-path="steps.3.next", data-kind says how to read it) and edits the JSON
// in #flow-json as you type; editing the JSON redraws the cards (the server renders them:
// the hidden #flow-rerender posts the JSON to …/editor). Structural buttons (add or remove
// a step, an option, a rule) are plain htmx posts. No inline script: everything hangs off
// data attributes.
(function () {
  "use strict";
  const BRANCH_KEYS = ["next", "else_next", "fallback_next", "timeout_next", "error_next", "target"];

  function area() { return document.getElementById("flow-json"); }

  function say(message, bad) {
    const s = document.getElementById("flow-json-state");
    if (!s) return;
    s.textContent = message;
    s.classList.toggle("bad", !!bad);
  }

  function read() {
    try { return JSON.parse(area().value || "null"); } catch (_) { return undefined; }
  }

  function write(def) { area().value = JSON.stringify(def, null, 2); }

  function setPath(root, path, value) {
    const keys = path.split(".");
    let o = root;
    for (let i = 0; i < keys.length - 1; i++) {
      const k = keys[i];
      if (o[k] === undefined || o[k] === null || typeof o[k] !== "object") {
        o[k] = /^\d+$/.test(keys[i + 1]) ? [] : {};
      }
      o = o[k];
    }
    const last = keys[keys.length - 1];
    if (value === undefined && !Array.isArray(o)) delete o[last];
    else o[last] = value === undefined ? null : value;
  }

  function number(text) {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }

  // The input's value as the definition holds it; {ok: false} when it cannot be read yet.
  function valueOf(el) {
    const raw = el.value;
    if (raw.trim() === "") return { ok: true, value: el.dataset.required === "true" ? "" : undefined };
    switch (el.dataset.kind) {
      case "number": return { ok: true, value: number(raw.trim()) };
      case "scalar": return { ok: true, value: /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw.trim()) : raw };
      case "json":
        try { return { ok: true, value: JSON.parse(raw) }; } catch (e) { return { ok: false, error: e.message }; }
      case "lines": return { ok: true, value: raw.split("\n").map(function (l) { return l.trim(); }).filter(Boolean) };
      case "numbers": return { ok: true, value: raw.split(/[\s,]+/).filter(Boolean).map(number) };
      case "step": case "select": return { ok: true, value: raw };
      default: return { ok: true, value: raw };
    }
  }

  // A step renamed: every branch that went to it follows.
  function rename(def, from, to) {
    if (!def || !Array.isArray(def.steps) || !from) return;
    if (def.start === from) def.start = to;
    def.steps.forEach(function (s) {
      if (!s || typeof s !== "object") return;
      BRANCH_KEYS.forEach(function (k) { if (s[k] === from) s[k] = to; });
      ["options", "rules"].forEach(function (list) {
        (Array.isArray(s[list]) ? s[list] : []).forEach(function (i) { if (i && i.next === from) i.next = to; });
      });
    });
  }

  function rerender() {
    const t = document.getElementById("flow-rerender");
    if (t && window.htmx) htmx.trigger(t, "rerender");
  }

  // A card's input changed: the JSON follows; `redraw` when the tree's shape changed.
  function apply(el, redraw) {
    const def = read();
    if (def === undefined) {
      say("The JSON has an error: fix it there first, or reload the page.", true);
      return;
    }
    const v = valueOf(el);
    el.setAttribute("aria-invalid", v.ok ? "false" : "true");
    if (!v.ok) { say("Not valid JSON yet in " + el.dataset.path + ": " + v.error, true); return; }
    const path = el.dataset.path;
    const root = def && typeof def === "object" ? def : {};
    // A new id (on change; the input's default is the id the cards were drawn with).
    if (redraw && /^steps\.\d+\.id$/.test(path)) rename(root, el.defaultValue, v.value || "");
    setPath(root, path, v.value);
    write(root);
    say("Changed: save to keep it.", false);
    if (redraw) rerender();
  }

  function inCards(el) { return el.closest && el.closest("#flow-cards") && el.dataset && el.dataset.path; }

  document.addEventListener("input", function (e) {
    const el = e.target;
    if (inCards(el) && el.tagName !== "SELECT") apply(el, false);
  });

  document.addEventListener("change", function (e) {
    const el = e.target;
    if (!inCards(el)) return;
    // Selects change where branches go (or the step's kind of answer); a new id renames
    // the branches that went to it: the tree is drawn again.
    const redraw = el.tagName === "SELECT" || /^steps\.\d+\.id$/.test(el.dataset.path);
    apply(el, redraw);
  });

  // Typing in the JSON: the cards follow once it parses.
  let timer = null;
  document.addEventListener("input", function (e) {
    if (e.target.id !== "flow-json") return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      try {
        JSON.parse(area().value);
        say("Cards updated from the JSON.", false);
        rerender();
      } catch (err) {
        say("Not valid JSON yet: " + err.message, true);
      }
    }, 500);
  });

  // Redrawing keeps open cards open and the focus where it was.
  let open = [];
  let focused = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "flow-cards") return;
    open = Array.prototype.map.call(
      document.querySelectorAll("#flow-cards details[open]"),
      function (d) { return d.closest("[data-step-id]").dataset.stepId; });
    focused = document.activeElement && document.activeElement.id;
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail.target || e.detail.target.id !== "flow-cards") return;
    open.forEach(function (id) {
      document.querySelectorAll("#flow-cards [data-step-id]").forEach(function (c) {
        if (c.dataset.stepId === id) { const d = c.querySelector("details"); if (d) d.open = true; }
      });
    });
    const bad = document.querySelector("#flow-cards .step-card.has-error");
    if (bad && e.detail.xhr && e.detail.xhr.status >= 400) {
      bad.scrollIntoView({ block: "center" });
      const field = bad.querySelector("[aria-invalid=true]") || bad.querySelector("summary");
      if (field) field.focus();
    } else if (focused) {
      const el = document.getElementById(focused);
      if (el) el.focus();
    }
  });
})();
