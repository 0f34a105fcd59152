/* salesai inbox: the keyboard, rows that expand in place, and the undo countdown. No build step;
   htmx does the requests. j/k (or the arrows) move to the next/previous row and expand it, Enter opens
   or closes it, a approve, e edit, r reject (then 1–5 picks the reason), s snooze (then 1–3 picks the
   day), u undo. After an action the row collapses to one line and the next row opens. */
(function () {
  "use strict";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("article.rec")); }
  function current() {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest("article.rec") : null;
    return row || document.querySelector("article.rec.is-current");
  }
  function details(row) { return row && row.querySelector(":scope > details.row"); }
  function select(row, expand) {
    if (!row) return;
    rows().forEach(function (r) {
      r.classList.remove("is-current");
      var d = details(r);
      if (expand && r !== row && d && d.open && !r.querySelector("details[data-panel][open]")) d.open = false;
    });
    row.classList.add("is-current");
    var d = details(row);
    if (expand && d) d.open = true;
    var target = (d && d.querySelector(":scope > summary")) || row;
    target.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }
  /* The next (or previous) row still to decide; rows already done are stepped over. */
  function move(step) {
    var all = rows();
    var index = all.indexOf(current());
    var i = index < 0 ? (step > 0 ? -1 : all.length) : index;
    for (i += step; i >= 0 && i < all.length; i += step) {
      if (!all[i].classList.contains("done")) { select(all[i], true); return; }
    }
  }
  function nextAfter(row) {
    var all = rows(), index = all.indexOf(row);
    for (var i = index + 1; i < all.length; i++) if (!all[i].classList.contains("done")) return all[i];
    for (var j = index - 1; j >= 0; j--) if (!all[j].classList.contains("done")) return all[j];
    return null;
  }
  /* A row's detail (why, evidence, what will be sent, actions) is fetched the first time the row is
     opened; without JavaScript the row links to the recommendation's own page instead. load() answers
     a promise kept on the row, so a key pressed while it is on its way acts once it has arrived. */
  function load(row) {
    var d = details(row);
    var pending = d && d.querySelector(":scope > .row-body > [data-pending]");
    if (!pending || !window.htmx) return Promise.resolve();
    if (!row._body) {
      row._body = window.htmx.ajax("GET", d.getAttribute("data-body-url"),
        { source: row, target: pending.parentNode, swap: "outerHTML" });
    }
    return row._body;
  }
  function withBody(row, fn) {
    if (!row) return;
    var d = details(row);
    if (d && !d.open) d.open = true;
    load(row).then(function () {
      var fresh = document.getElementById(row.id) || row;
      if (window.htmx) window.htmx.process(fresh);  // the detail may not be wired yet: its links would navigate
      fn(fresh);
    });
  }
  document.addEventListener("toggle", function (event) {  // toggle does not bubble: listen while capturing
    var d = event.target;
    if (d.open && d.matches && d.matches("details.row")) load(d.closest("article.rec"));
  }, true);
  function focusField(panel) {
    var field = panel && panel.querySelector("button[data-key='1'], input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  }
  /* In the inbox a panel is a link that loads the row with its form open (htmx, or a page without JS);
     on a recommendation's own page it is a <details> already holding the form. */
  function openPanel(row, name) {
    var panel = row && row.querySelector('details[data-panel="' + name + '"]');
    if (panel) { var d = details(row); if (d) d.open = true; panel.open = true; focusField(panel); return; }
    var link = row && row.querySelector('a[data-key="' + name.charAt(0) + '"]');
    if (link) link.click();
  }
  function submit(button) {
    if (!button || button.disabled) return;
    var form = button.form;
    if (form && window.htmx) window.htmx.process(form);  // a row swapped in a moment ago: wire it first
    button.click();  // a click, not requestSubmit(): htmx takes the button's name=value from the click
  }
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var row = current();
    var key = event.key;
    if (/^[1-9]$/.test(key)) {
      var panel = row && row.querySelector("details[data-panel][open]");
      var quick = panel && panel.querySelector('button[data-key="' + key + '"]');
      if (!quick) return;
      submit(quick);
    } else {
      switch (key) {
        case "j": case "ArrowDown": if (event.target.closest && event.target.closest(".draft-body")) return; move(1); break;
        case "k": case "ArrowUp": if (event.target.closest && event.target.closest(".draft-body")) return; move(-1); break;
        case "a": withBody(row, function (r) { submit(r.querySelector('button[data-key="a"]')); }); break;
        case "u": case "c": withBody(row, function (r) { submit(r.querySelector('button[data-key="u"]')); }); break;
        case "e": withBody(row, function (r) { openPanel(r, "edit"); }); break;
        case "r": withBody(row, function (r) { openPanel(r, "reject"); }); break;
        case "s": withBody(row, function (r) { openPanel(r, "snooze"); }); break;
        case "Escape":
          if (row) row.querySelectorAll("details[data-panel][open]").forEach(function (d) { d.open = false; });
          if (row) select(row, false);
          break;
        default: return;
      }
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("article.rec");
    rows().forEach(function (r) { r.classList.remove("is-current"); });  // outside a row: j starts at the top
    if (row) row.classList.add("is-current");
  });

  /* After a row was swapped and settled (htmx keeps the old attributes on the new row until then): a
     finished one hands the keyboard to the next open row, expanded; one that came back (an undo, a
     panel, an error) keeps it. */
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.matches && target.matches("article.rec")) {
      var row = document.getElementById(target.id) || target;
      if (row.classList.contains("done")) {
        var next = nextAfter(row);
        if (next) select(next, true); else row.focus({ preventScroll: true });
      } else {
        select(row, false);
        focusField(row.querySelector("details[data-panel][open]"));
      }
    }
    tick();
  });

  /* The count badge's HX-Trigger: keep the tab title honest. */
  document.body.addEventListener("inbox-count", function (event) {
    var pending = event.detail && event.detail.pending;
    document.title = document.title.replace(/^(Inbox)( \(\d+\))?/, pending ? "$1 (" + pending + ")" : "$1");
  });

  /* Undo countdowns: "in 0:27" on full rows, "Sending to Ines in 27 s" on collapsed ones. */
  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) { el.textContent = "any moment now"; return; }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = "in " + m + ":" + (s < 10 ? "0" : "") + s;
    });
    document.querySelectorAll("[data-done-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-done-until")) - Date.now()) / 1000);
      if (isNaN(left)) return;
      el.textContent = left > 0 ? "in " + left + " s" : "now";
      if (left <= 0) {
        var undo = el.closest("article.rec") && el.closest("article.rec").querySelector('button[data-key="u"]');
        if (undo) undo.closest("form").remove();
      }
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
