// Lodge portal: uploads with a progress bar, cancel and retry per file (and a few retries by
// itself when the network drops), and drag and drop.
// Without JavaScript the same form posts the files in one go.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form.upload").forEach(setUpUploads);
});

function setUpUploads(form) {
  var url = form.dataset.uploadUrl;
  var queue = form.querySelector(".queue");
  var zone = form.querySelector(".dropzone");
  var text = form.dataset;
  var items = [];
  // One file at a time: a phone on a weak network does better with one stream than several.
  var busy = false;
  var lastPosition = null;

  function add(files) {
    Array.prototype.forEach.call(files, function (file) {
      var item = { file: file, state: "waiting", xhr: null, el: document.createElement("li") };
      item.el.innerHTML = '<span class="name"></span><span class="state"></span><progress max="100" value="0"></progress><span class="buttons"></span>';
      item.el.querySelector(".name").textContent = file.name;
      queue.appendChild(item.el);
      items.push(item);
      render(item);
    });
    next();
  }

  function render(item) {
    var state = item.el.querySelector(".state");
    var buttons = item.el.querySelector(".buttons");
    item.el.className = item.state;
    buttons.textContent = "";
    if (item.state === "waiting") state.textContent = text.textWaiting;
    if (item.state === "done") state.textContent = text.textDone;
    if (item.state === "cancelled") state.textContent = text.textCancelled;
    if (item.state === "failed") state.textContent = text.textFailed + (item.error ? ": " + item.error : "");
    if (item.state === "sending" || item.state === "waiting") {
      buttons.appendChild(button(text.textCancel, function () { cancel(item); }));
    }
    if (item.state === "failed" || item.state === "cancelled") {
      buttons.appendChild(button(text.textRetry, function () { item.state = "waiting"; item.error = null; item.tries = 0; render(item); next(); }));
    }
  }

  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function cancel(item) {
    var xhr = item.xhr;
    item.state = "cancelled";
    render(item);
    if (xhr) xhr.abort(); else next();
  }

  function next() {
    if (busy) return;
    var item = items.find(function (i) { return i.state === "waiting"; });
    if (!item) {
      finished();
      return;
    }
    busy = true;
    item.state = "sending";
    render(item);
    var body = new FormData();
    body.append("file", item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) item.el.querySelector("progress").value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      busy = false;
      item.xhr = null;
      if (xhr.status === 201) {
        item.state = "done";
        item.el.querySelector("progress").value = 100;
        try { lastPosition = JSON.parse(xhr.responseText).position; } catch (e) { /* the page reloads anyway */ }
      } else {
        item.state = "failed";
        try { item.error = JSON.parse(xhr.responseText).detail; } catch (e) { item.error = String(xhr.status); }
      }
      render(item);
      next();
    });
    // The network dropped: try again by itself a few times (a phone between cells), then ask.
    xhr.addEventListener("error", function () {
      busy = false;
      item.xhr = null;
      item.tries = (item.tries || 0) + 1;
      if (item.tries <= 3 && item.state === "sending") {
        item.state = "waiting";
        render(item);
        setTimeout(next, 1000 * Math.pow(2, item.tries - 1));
        return;
      }
      item.state = "failed";
      item.error = null;
      render(item);
      next();
    });
    xhr.addEventListener("abort", function () { busy = false; item.xhr = null; next(); });
    xhr.send(body);
  }

  // When nothing is left to send and something arrived, show the request as it now stands.
  function finished() {
    var pending = items.some(function (i) { return i.state === "waiting" || i.state === "sending" || i.state === "failed"; });
    var sent = items.some(function (i) { return i.state === "done"; });
    if (!pending && sent) {
      var here = window.location.pathname + (lastPosition != null ? "?after=" + lastPosition : "");
      window.location.assign(here);
    }
  }

  form.querySelectorAll("input[type=file]").forEach(function (input) {
    input.addEventListener("change", function () {
      add(input.files);
      input.value = "";
    });
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
  });
}
