// wxgate dev console: live updates over server-sent events and forms
// sent without leaving the page. Every page works without this script;
// it only saves reloads.
(function () {
  "use strict";

  var body = document.body;
  var page = body.dataset.page || "";
  var user = body.dataset.user || "";
  var t = {};
  try { t = JSON.parse(body.dataset.i18n || "{}"); } catch (e) { t = {}; }
  function tr(key) { return t[key] || key; }

  var log = document.getElementById("log");
  var typing = document.getElementById("typing");
  var typingTimer = 0;

  function scrollLog() {
    if (log) { log.scrollTop = log.scrollHeight; }
  }

  function fromHTML(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    return tpl.content;
  }

  // insertBubbles puts the lines of one transcript entry in time order.
  function insertBubbles(html) {
    var frag = fromHTML(html);
    var items = Array.prototype.slice.call(frag.querySelectorAll("li"));
    if (!items.length || log.querySelector('li[data-seq="' + items[0].dataset.seq + '"]')) {
      return;
    }
    var isUser = items.some(function (li) { return li.classList.contains("user") || li.classList.contains("k-event"); });
    if (isUser) {
      var pending = log.querySelector("li.pending");
      if (pending) { pending.remove(); }
    }
    items.forEach(function (li) {
      var sort = Number(li.dataset.sort);
      var next = null;
      var existing = log.querySelectorAll("li[data-sort]:not(.pending)");
      for (var i = 0; i < existing.length; i++) {
        if (Number(existing[i].dataset.sort) > sort) { next = existing[i]; break; }
      }
      log.insertBefore(li, next);
    });
    var empty = document.getElementById("empty");
    if (empty) { empty.remove(); }
    scrollLog();
  }

  function setTyping(on) {
    if (!typing) { return; }
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) { typingTimer = setTimeout(function () { typing.hidden = true; }, 15000); }
  }

  function markUnread(openid) {
    var link = document.querySelector('#users a[data-openid="' + CSS.escape(openid) + '"]');
    if (link && link.getAttribute("aria-current") !== "true") {
      var dot = link.querySelector(".dot");
      if (dot) { dot.hidden = false; }
    }
  }

  // refresh replaces the regions matching the selectors with those of a
  // fresh copy of the page, keeping the focus where it was. Requests made
  // while one runs are merged into the next.
  var wanted = new Set(), running = false;
  function refresh(selector) {
    wanted.add(selector);
    if (running) { return; }
    running = true;
    var selectors = Array.from(wanted).join(",");
    wanted.clear();
    fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var active = document.activeElement;
        var focusKey = active && (active.id || active.getAttribute("aria-label"));
        doc.querySelectorAll(selectors).forEach(function (fresh) {
          var key = fresh.getAttribute("data-live");
          var old = key ? document.querySelector('[data-live="' + key + '"]') : document.getElementById(fresh.id);
          if (old) { old.replaceWith(document.importNode(fresh, true)); }
        });
        if (focusKey && document.activeElement === document.body) {
          var back = document.getElementById(focusKey) ||
            document.querySelector('[aria-label="' + CSS.escape(focusKey) + '"]');
          if (back) { back.focus(); }
        }
      })
      .catch(function () {})
      .then(function () {
        running = false;
        if (wanted.size) { refresh(Array.from(wanted).join(",")); }
      });
  }

  // The event stream.
  if (window.EventSource) {
    var since = "";
    if (log) {
      var last = log.querySelector("li[data-seq]:last-of-type");
      var seqs = Array.prototype.map.call(log.querySelectorAll("li[data-seq]"), function (li) { return Number(li.dataset.seq); });
      if (seqs.length) { since = "&since=" + Math.max.apply(null, seqs); }
      if (last) { scrollLog(); }
    }
    var es = new EventSource("/events?user=" + encodeURIComponent(user) + since);
    var conn = document.getElementById("conn");
    es.addEventListener("open", function () { if (conn) { conn.hidden = true; } });
    es.addEventListener("error", function () { if (conn) { conn.hidden = false; } });
    es.addEventListener("entry", function (ev) {
      var d = JSON.parse(ev.data);
      if (d.openid !== user || !log) {
        if (!d.typing) { markUnread(d.openid); }
        return;
      }
      if (d.typing === "on") { setTyping(true); } else if (d.typing === "off") { setTyping(false); }
      if (d.html) {
        insertBubbles(d.html);
        refresh("#window"); // the user's send window moved
      }
    });
    es.addEventListener("wire", function (ev) {
      var d = JSON.parse(ev.data);
      if (page === "wire") {
        var rows = document.getElementById("wire-rows");
        var frag = fromHTML(d.html);
        var row = frag.querySelector("tr");
        var old = document.getElementById("w" + d.id);
        if (old) { old.replaceWith(row); } else if (rows && row) { rows.insertBefore(row, rows.firstChild); }
        var empty = document.getElementById("empty");
        if (empty) { empty.remove(); }
      } else if (page === "wire_detail") {
        var panel = document.querySelector("[data-wire][data-pending]");
        if (panel && panel.dataset.wire === String(d.id)) { location.reload(); }
      }
    });
    es.addEventListener("server", function () {
      if (page === "server" || page === "server_message") { refresh("[data-live]"); }
    });
    es.addEventListener("users", function () {
      if (page === "chat") { refresh("#users"); }
    });
  }

  // Forms that push: sent with fetch, the answer comes over the stream.
  var status = document.getElementById("form-status");
  document.querySelectorAll("form[data-live-form]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var data = new FormData(form);
      var input = form.querySelector("#text");
      var pending = null;
      if (input && log) {
        pending = document.createElement("li");
        pending.className = "b user k-text pending";
        var p = document.createElement("p");
        p.className = "msg";
        p.textContent = input.value;
        var meta = document.createElement("p");
        meta.className = "meta";
        meta.textContent = tr("js.sending");
        pending.appendChild(p);
        pending.appendChild(meta);
        log.appendChild(pending);
        scrollLog();
        input.value = "";
      }
      if (status) { status.textContent = ""; }
      fetch(form.action, { method: "POST", body: data, headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            if (!r.ok) { throw new Error(j.error || ("HTTP " + r.status)); }
            if (form.enctype === "multipart/form-data") { form.reset(); }
            if (pending) {
              // The stream brings the real line; drop ours if it lags.
              setTimeout(function () { if (pending.isConnected) { pending.remove(); } }, 4000);
            }
          });
        })
        .catch(function (err) {
          if (pending) { pending.remove(); }
          if (input && !input.value) { input.value = data.get("text") || ""; }
          if (status) { status.textContent = tr("js.failed") + err.message; }
        });
      if (input) { input.focus(); }
    });
  });

  // Copy buttons.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var label = btn.textContent;
    btn.addEventListener("click", function () {
      var src = document.getElementById(btn.dataset.copy);
      if (!src) { return; }
      var done = function (ok) {
        btn.textContent = ok ? tr("js.copied") : tr("js.copy_failed");
        setTimeout(function () { btn.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(src.textContent).then(function () { done(true); }, function () { done(false); });
      } else {
        var range = document.createRange();
        range.selectNodeContents(src);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        done(ok);
      }
    });
  });
})();
