/* The case page's chat: Ctrl+Enter sends, «Вставить слова шага» puts the step's words at the
   cursor, and the polled conversation keeps what the person had open (a delivery log) and
   stays scrolled to the newest line. Delegated handlers: they survive htmx swaps. */
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("textarea[data-submit-on-ctrl-enter]")) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (box.value.trim()) box.form.requestSubmit();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-insert-into]");
    if (!button) return;
    var box = document.getElementById(button.dataset.insertInto);
    if (!box) return;
    var text = button.dataset.insertText;
    var start = box.selectionStart, end = box.selectionEnd;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.setSelectionRange(start + text.length, start + text.length);
  });

  var openLogs = [];
  var atBottom = true;

  function scrollDown() {
    var log = document.querySelector("#chat-log .chat-log");
    if (log && atBottom) log.scrollTop = log.scrollHeight;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target.id !== "chat-log" && event.detail.target.id !== "chat") return;
    openLogs = Array.from(document.querySelectorAll("#chat-log details[open]")).map(function (d) { return d.id; });
    var log = document.querySelector("#chat-log .chat-log");
    atBottom = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "chat-log" && event.detail.target.id !== "chat") return;
    openLogs.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    if (event.detail.target.id === "chat") {
      atBottom = true;
      var box = document.getElementById("chat-text");
      if (box) box.focus();
    }
    scrollDown();
  });

  document.addEventListener("DOMContentLoaded", scrollDown);
})();
