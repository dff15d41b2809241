/* The review session's pages (templates/meetings/occurrence.html and present.html): move between agenda items with
   j/k or the arrow keys, "?" for the keys, the presenter view's one-item-at-a-time slides and its timer, and a busy
   state on forms while they submit. No inline script (CSP script-src 'self'): everything hangs on data attributes. */
(function () {
  "use strict";

  var presenting = document.body.hasAttribute("data-present-view");
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-agenda] [data-item]"));
  var help = document.getElementById("keys-help");
  var position = document.querySelector("[data-position]");
  var current = 0;
  var returnFocus = null;

  function startIndex() {
    var hash = window.location.hash.slice(1);
    for (var i = 0; i < items.length; i++) {
      if (items[i].id === hash) return i;
    }
    return 0;
  }

  function show(index, focus) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, index));
    items.forEach(function (item, i) {
      var on = i === current;
      item.classList.toggle("is-current", on);
      if (presenting) item.hidden = !on;
      if (on) item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
    });
    if (position) position.textContent = current + 1 + " / " + items.length;
    if (focus) {
      items[current].focus({ preventScroll: presenting });
      if (!presenting) items[current].scrollIntoView({ block: "nearest" });
      if (window.history.replaceState) window.history.replaceState(null, "", "#" + items[current].id);
    }
  }

  function openHelp() {
    if (!help) return;
    returnFocus = document.activeElement;
    help.hidden = false;
    help.focus();
  }

  function closeHelp() {
    if (!help || help.hidden) return false;
    help.hidden = true;
    if (returnFocus && returnFocus.focus) returnFocus.focus();
    return true;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  var NEXT = { j: 1, ArrowDown: 1, ArrowRight: 1 };
  var PREVIOUS = { k: -1, ArrowUp: -1, ArrowLeft: -1 };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (closeHelp()) event.preventDefault();
      else if (presenting) {
        var back = document.querySelector(".mtg-present__back");
        if (back) window.location.assign(back.href);
      }
      return;
    }
    if (typing(event.target)) return;
    if (help && !help.hidden) {
      if (event.key === "?") closeHelp();
      return;
    }
    // On the meeting page the arrows move between items only while focus is on an item (or nowhere in particular),
    // so a focused button or link keeps its own keys.
    var onItem = !event.target || event.target === document.body || event.target.hasAttribute("data-item");
    var step = NEXT[event.key] || PREVIOUS[event.key] || (presenting && event.key === " " ? 1 : 0);
    if (step && (presenting || onItem || event.key === "j" || event.key === "k")) {
      event.preventDefault();
      show(current + step, true);
    } else if (event.key === "Home" && (presenting || onItem)) {
      event.preventDefault();
      show(0, true);
    } else if (event.key === "End" && (presenting || onItem)) {
      event.preventDefault();
      show(items.length - 1, true);
    } else if (event.key === "?") {
      event.preventDefault();
      openHelp();
    } else if (event.key === "p" && !presenting) {
      var present = document.querySelector("[data-present]");
      if (present) window.location.assign(present.href);
    }
  });

  if (help) {
    var close = help.querySelector("[data-help-close]");
    if (close) close.addEventListener("click", closeHelp);
  }

  // The timer: time since the meeting was started against the scheduled duration. Before "Start" it counts down to
  // the scheduled start (or shows the duration when that has passed); a closed meeting's timer stands still.
  var timer = document.querySelector("[data-timer]");
  function clock(seconds) {
    var s = Math.abs(Math.floor(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var mm = (m < 10 ? "0" : "") + m + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
    return h ? h + ":" + (m < 10 ? "0" : "") + mm : mm;
  }
  function tick() {
    var start = Date.parse(timer.getAttribute("data-start"));
    var duration = parseInt(timer.getAttribute("data-duration"), 10) || 0;
    var phase = timer.getAttribute("data-phase");
    if (isNaN(start)) return;
    var elapsed = (Date.now() - start) / 1000;
    if (phase === "running") {
      timer.textContent = clock(elapsed) + " / " + clock(duration);
      timer.classList.toggle("is-over", elapsed > duration);
    } else if (phase === "scheduled" && elapsed < 0) {
      // Days ahead read as days ("starts in 6 d 01:16:27"), not as 145 hours.
      var days = Math.floor(-elapsed / 86400);
      var rest = clock(-elapsed - days * 86400);
      if (days && rest.split(":").length < 3) rest = "0:" + rest;
      timer.textContent = "starts in " + (days ? days + " d " : "") + rest;
    } else {
      timer.textContent = (phase === "closed" ? "closed · " : "not started · ") + clock(duration);
    }
  }
  if (timer) {
    tick();
    window.setInterval(tick, 1000);
  }

  // Loading state: a submitted form is busy and its button disabled (no double submit of a slow close).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    form.setAttribute("aria-busy", "true");
    var button = form.querySelector("button[type=submit]");
    if (button) {
      window.setTimeout(function () {
        button.disabled = true;
      }, 0);
    }
  });

  show(startIndex(), presenting);
})();
