// Zapini dashboard: the chat screens (inbox and sandbox phone). Replying to a message fills
// the composer's hidden reply_to field; Enter sends (Shift+Enter for a new line).
(function () {
  "use strict";

  function composer() {
    return document.querySelector("form[data-composer]");
  }

  document.addEventListener("click", function (e) {
    const reply = e.target.closest("[data-reply]");
    if (reply) {
      const form = composer();
      if (!form) return;
      form.querySelector("[data-reply-field]").value = reply.dataset.reply;
      const box = form.querySelector("[data-replying]");
      box.querySelector("[data-reply-preview]").textContent = reply.dataset.replyText || "";
      box.hidden = false;
      const details = reply.closest("details");
      if (details) details.open = false;
      const text = form.querySelector("textarea, input[name=text]");
      if (text) text.focus();
      return;
    }
    const cancel = e.target.closest("[data-reply-cancel]");
    if (cancel) {
      const form = cancel.closest("form");
      form.querySelector("[data-reply-field]").value = "";
      form.querySelector("[data-replying]").hidden = true;
    }
  });

  document.addEventListener("keydown", function (e) {
    const el = e.target;
    if (!el.matches || !el.matches("[data-enter-sends]")) return;
    if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.isComposing) {
      e.preventDefault();
      if (el.value.trim() !== "" || el.form.querySelector("input[type=file]")?.files.length) {
        el.form.requestSubmit();
      }
    }
  });

  // After a send the new composer takes the focus back.
  document.addEventListener("htmx:afterSettle", function (e) {
    const elt = e.detail && e.detail.requestConfig && e.detail.requestConfig.elt;
    if (elt && elt.matches && elt.matches("form[data-composer]")) {
      const form = composer();
      const text = form && form.querySelector("[data-enter-sends]");
      if (text) text.focus();
    }
  });
})();
