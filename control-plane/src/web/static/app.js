// Zapini dashboard: live updates and small behaviours. No inline script anywhere (the
// Content-Security-Policy forbids it); everything hangs off data attributes.
//
// Live updates: one EventSource on /dashboard/events. An element with
// data-live="status message …" (topics, space-separated) gets the htmx event `live` when
// news of one of its topics arrives; data-live-instance / data-live-conversation narrow it
// to one instance or conversation. Elements reload themselves with
// hx-trigger="live delay:150ms".
(function () {
  "use strict";
  const state = document.getElementById("live-state");
  let source = null;
  let retry = 1000;

  function matches(el, news) {
    const inst = el.dataset.liveInstance;
    if (inst && news.instance && inst !== news.instance) return false;
    const conv = el.dataset.liveConversation;
    if (conv && news.conversation && String(news.conversation) !== conv) return false;
    return true;
  }

  function fire(topic, news) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      const topics = el.dataset.live.split(/\s+/);
      if ((topic === "reload" || topics.includes(topic)) && matches(el, news)) {
        window.htmx && htmx.trigger(el, "live", news);
      }
    });
  }

  function connect() {
    if (!state || !window.EventSource) return;
    source = new EventSource("/dashboard/events");
    source.addEventListener("ready", function () {
      retry = 1000;
      state.textContent = "live";
      state.classList.add("on");
      document.body.dataset.live = "ready";
      // Whatever changed while the stream was down.
      fire("reload", {});
    });
    ["status", "message", "contact", "delivery", "session", "crm", "reload"].forEach(function (t) {
      source.addEventListener(t, function (e) {
        let news = {};
        try { news = JSON.parse(e.data); } catch (_) { /* keep {} */ }
        fire(t, news);
      });
    });
    source.onerror = function () {
      state.textContent = "reconnecting";
      state.classList.remove("on");
      document.body.dataset.live = "down";
      source.close();
      source = null;
      setTimeout(function () { if (!away && !source) connect(); }, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  // A live element shows the answer to the newest request made for it: a reload started
  // before an action (or before the news of it) can answer after it, and must not put the
  // older state back. Requests are numbered as they start; a live element keeps the number
  // of the answer it shows and refuses an older one.
  let requests = 0;
  const shown = new Map();
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.xhr) e.detail.xhr.zapiniSeq = ++requests;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    const t = e.detail.target;
    const n = e.detail.xhr && e.detail.xhr.zapiniSeq;
    if (!e.detail.shouldSwap || !n || !t || !t.matches || !t.matches("[data-live]")) return;
    const key = t.id || t;
    if ((shown.get(key) || 0) > n) {
      e.detail.shouldSwap = false;
      return;
    }
    shown.set(key, n);
  });

  // A page left (or frozen in the back-forward cache) closes its stream at once. Over
  // HTTP/1.1 a browser opens at most six connections to a server, and streams still held by
  // pages gone would leave the next page waiting for one.
  let away = false;
  window.addEventListener("pagehide", function () {
    away = true;
    if (source) { source.close(); source = null; }
  });
  window.addEventListener("pageshow", function (e) {
    away = false;
    if (e.persisted && !source) connect();
  });

  // Copy buttons: data-copy="#id" copies that element's text.
  document.addEventListener("click", function (e) {
    const btn = e.target.closest("[data-copy]");
    if (!btn) return;
    const src = document.querySelector(btn.dataset.copy);
    if (src && navigator.clipboard) {
      navigator.clipboard.writeText(src.textContent.trim()).then(function () {
        btn.textContent = "Copied";
      });
    }
  });

  // Threads stay scrolled to the newest message after a reload.
  document.addEventListener("htmx:afterSettle", function (e) {
    const t = e.target.querySelector ? (e.target.matches("[data-scroll-end]") ? e.target : e.target.querySelector("[data-scroll-end]")) : null;
    if (t) t.scrollTop = t.scrollHeight;
    // A form that asked for it is cleared after a successful post.
    const form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form[data-reset-on-success]");
    if (form && e.detail.xhr && e.detail.xhr.status < 400) form.reset();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-scroll-end]").forEach(function (t) { t.scrollTop = t.scrollHeight; });
    connect();
  });
})();
