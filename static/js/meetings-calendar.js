// The calendar's keys (templates/meetings/calendar.html): ← → previous / next period, t today, m / w / a the views.
// Links do the work; the keys only follow them, and never while typing in a field or with a modifier held.
(function () {
  "use strict";
  var KEYS = { ArrowLeft: "[data-cal-previous]", ArrowRight: "[data-cal-next]", t: "[data-cal-today]" };
  var VIEWS = { m: "month", w: "week", a: "agenda" };

  function follow(selector) {
    var link = document.querySelector(selector);
    if (link) window.location.assign(link.href);
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if (KEYS[event.key]) {
      event.preventDefault();
      follow(KEYS[event.key]);
    } else if (VIEWS[event.key]) {
      event.preventDefault();
      follow('.mtg-cal__views a[href^="?view=' + VIEWS[event.key] + '&"]');
    }
  });
})();
