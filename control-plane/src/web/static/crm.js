// Zapini dashboard, CRM: drag-and-drop on the Kanban board (HTML5), and colours of columns
// and appointments. A dropped lead goes through the move route (its column and 0-based
// position); a dropped column sends the board's complete column order to the reorder route.
// Every card and column also has buttons and a select, for keyboards. No inline script or
// style attribute: colours are set through the CSSOM from data-color.
(function () {
  "use strict";

  function paint(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("[data-color]").forEach(function (el) {
      const c = el.dataset.color;
      if (!/^#[0-9a-fA-F]{6}$/.test(c)) return;
      if (el.classList.contains("swatch")) el.style.backgroundColor = c;
      else el.style.borderInlineStartColor = c;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { paint(document); });
  document.addEventListener("htmx:afterSettle", function (e) { paint(e.target); });

  let drag = null;
  let marker = null;

  function board() { return document.getElementById("kanban"); }

  function post(url, values) {
    const k = board();
    if (!k || !window.htmx) return;
    values.status = k.dataset.status || "open";
    htmx.ajax("POST", url, { source: k, target: "#board-live", swap: "innerHTML", values: values });
  }

  function clearMarker() {
    if (marker && marker.parentNode) marker.parentNode.removeChild(marker);
    marker = null;
    document.querySelectorAll(".drop-before, .drop-after").forEach(function (el) {
      el.classList.remove("drop-before", "drop-after");
    });
  }

  document.addEventListener("dragstart", function (e) {
    const card = e.target.closest && e.target.closest("[data-lead]");
    const head = e.target.closest && e.target.closest("[data-drag-column]");
    if (card) drag = { kind: "lead", id: card.dataset.lead, el: card };
    else if (head) drag = { kind: "column", id: head.dataset.dragColumn, el: head.closest(".kcol") };
    else return;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", drag.id);
    drag.el.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (drag) drag.el.classList.remove("dragging");
    drag = null;
    clearMarker();
  });

  // Where a lead would land in a list: before the first card whose middle is below the pointer.
  function leadSlot(list, y) {
    const cards = Array.prototype.filter.call(list.querySelectorAll("[data-lead]"), function (c) {
      return c !== drag.el;
    });
    for (let i = 0; i < cards.length; i++) {
      const r = cards[i].getBoundingClientRect();
      if (y < r.top + r.height / 2) return { index: i, before: cards[i] };
    }
    return { index: cards.length, before: null };
  }

  document.addEventListener("dragover", function (e) {
    if (!drag) return;
    if (drag.kind === "lead") {
      const col = e.target.closest && e.target.closest(".kcol");
      const list = col && col.querySelector(".kleads");
      if (!list) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      const slot = leadSlot(list, e.clientY);
      if (!marker) { marker = document.createElement("li"); marker.className = "drop-marker"; marker.setAttribute("aria-hidden", "true"); }
      if (slot.before) list.insertBefore(marker, slot.before); else list.appendChild(marker);
    } else {
      const col = e.target.closest && e.target.closest(".kcol");
      if (!col || col === drag.el) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      clearMarker();
      const r = col.getBoundingClientRect();
      const rtl = getComputedStyle(col).direction === "rtl";
      const firstHalf = e.clientX < r.left + r.width / 2;
      col.classList.add(firstHalf !== rtl ? "drop-before" : "drop-after");
    }
  });

  document.addEventListener("drop", function (e) {
    if (!drag) return;
    const col = e.target.closest && e.target.closest(".kcol");
    if (!col) return;
    e.preventDefault();
    if (drag.kind === "lead") {
      const list = col.querySelector(".kleads");
      const slot = leadSlot(list, e.clientY);
      post("/dashboard/crm/kanban/leads/" + drag.id + "/move", {
        column_uuid: col.dataset.column,
        position: String(slot.index)
      });
    } else if (col !== drag.el) {
      const ids = Array.prototype.map.call(board().querySelectorAll(".kcol"), function (c) { return c.dataset.column; })
        .filter(function (id) { return id !== drag.id; });
      const at = ids.indexOf(col.dataset.column) + (col.classList.contains("drop-after") ? 1 : 0);
      ids.splice(at, 0, drag.id);
      post("/dashboard/crm/kanban/boards/" + board().dataset.board + "/reorder", { order: ids.join(",") });
    }
    clearMarker();
  });
})();
