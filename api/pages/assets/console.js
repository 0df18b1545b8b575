// The staff console's script: small conveniences on top of pages that work without it.
"use strict";

// Copy buttons: each copies the text of the field it names.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      var done = button.dataset.copied;
      var label = button.textContent;
      button.textContent = done;
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });
});

// Live pages: the server says when an invite the page shows changed; the page fetches itself
// once the change is in (?after=) and swaps the parts marked data-live-part, leaving alone a part
// the person is typing in. Without a script, a reload shows the same.
(function () {
  var source = document.body.dataset.live;
  if (!source || !window.EventSource || !window.fetch) return;
  var latest = 0;
  var busy = false;
  function refresh() {
    if (busy) return;
    busy = true;
    var target = latest;
    var url = new URL(window.location.href);
    url.searchParams.set("after", String(target));
    fetch(url.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live-part]").forEach(function (part) {
          var replacement = fresh.getElementById(part.id);
          if (!replacement || part.contains(document.activeElement)) return;
          if (part.innerHTML !== replacement.innerHTML) part.innerHTML = replacement.innerHTML;
        });
      })
      .finally(function () {
        busy = false;
        if (latest > target) refresh();
      });
  }
  var events = new EventSource(source);
  events.addEventListener("changed", function (event) {
    latest = Math.max(latest, Number(event.data) || 0);
    refresh();
  });
  // Told it fell behind: fetch the page as it is now.
  events.addEventListener("reload", refresh);
})();

// The review queue from the keyboard: j and k move between documents, a accepts the one in focus,
// r goes to its reason. Keys typed into a field are the field's.
(function () {
  if (!document.querySelector("[data-queue-item]")) return;
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-queue-item]")); }
  function current() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("[data-queue-item]") : null;
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    var list = items();
    if (!list.length) return;
    var at = list.indexOf(current());
    var item;
    if (event.key === "j" || event.key === "k") {
      item = list[Math.min(list.length - 1, Math.max(0, at + (event.key === "j" ? 1 : -1)))];
      if (at === -1) item = list[0];
      item.focus();
      item.scrollIntoView({ block: "nearest" });
    } else if (event.key === "a" && at !== -1) {
      var accept = list[at].querySelector("form[data-accept]");
      if (accept) accept.submit();
    } else if (event.key === "r" && at !== -1) {
      var reason = list[at].querySelector("input[name=reason]");
      if (reason) reason.focus();
    } else {
      return;
    }
    event.preventDefault();
  });
})();
