/* salesai inbox: keyboard shortcuts and the autopilot undo countdown. No build step; htmx does the rest.
   j/k move between cards, a approve, e edit, r reject, s snooze, c cancel (autopilot). */
(function () {
  "use strict";

  function cards() { return Array.prototype.slice.call(document.querySelectorAll("article.rec")); }
  function current() {
    var active = document.activeElement;
    var card = active && active.closest ? active.closest("article.rec") : null;
    return card || document.querySelector("article.rec.is-current");
  }
  function select(card) {
    if (!card) return;
    cards().forEach(function (c) { c.classList.remove("is-current"); });
    card.classList.add("is-current");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
  function move(step) {
    var all = cards();
    if (!all.length) return;
    var index = all.indexOf(current());
    select(all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))]);
  }
  function focusField(panel) {
    var field = panel && panel.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  }
  /* In the inbox a panel is a link that loads the card with its form open (htmx, or a page without JS);
     on a card's own page it is a <details> already holding the form. */
  function openPanel(card, name) {
    var panel = card && card.querySelector('details[data-panel="' + name + '"]');
    if (panel) { panel.open = true; focusField(panel); return; }
    var link = card && card.querySelector('a[data-key="' + name.charAt(0) + '"]');
    if (link) link.click();
  }
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var card = current();
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": if (card) { var approve = card.querySelector('button[data-key="a"]'); if (approve) approve.click(); } break;
      case "c": if (card) { var cancel = card.querySelector('button[data-key="c"]'); if (cancel) cancel.click(); } break;
      case "e": openPanel(card, "edit"); break;
      case "r": openPanel(card, "reject"); break;
      case "s": openPanel(card, "snooze"); break;
      case "Escape":
        if (card) card.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
        break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var card = event.target.closest && event.target.closest("article.rec");
    if (card) { cards().forEach(function (c) { c.classList.remove("is-current"); }); card.classList.add("is-current"); }
  });

  /* After a card was swapped, keep the keyboard where it was. */
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var card = event.detail.target;
    if (card && card.matches && card.matches("article.rec")) {
      var fresh = document.getElementById(card.id) || card;
      select(fresh);
      focusField(fresh.querySelector("details[open]"));
    }
    tick();
  });

  /* The count badge's HX-Trigger: keep the tab title honest. */
  document.body.addEventListener("inbox-count", function (event) {
    var pending = event.detail && event.detail.pending;
    document.title = document.title.replace(/^(Inbox)( \(\d+\))?/, pending ? "$1 (" + pending + ")" : "$1");
  });

  /* Autopilot undo countdown. */
  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) { el.textContent = "any moment now"; return; }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = "in " + m + ":" + (s < 10 ? "0" : "") + s;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
