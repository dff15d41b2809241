/* Summary fragments ([data-summary], loaded by htmx on load): a failed load says so in place of the spinner.
   The overview ([data-overview]) is server-rendered numbers rather than charts: auto-refresh reloads it (dashboards.js
   keeps the interval in the URL), never while the tab is hidden. */
(function () {
  "use strict";
  var SECONDS = { off: 0, "10s": 10, "1m": 60, "5m": 300 };
  var refreshTimer = null;
  function scheduleReload() {
    var select = document.querySelector("[data-refresh]");
    window.clearInterval(refreshTimer);
    var seconds = select ? SECONDS[select.value] || 0 : 0;
    if (!seconds) return;
    refreshTimer = window.setInterval(function () {
      if (!document.hidden) window.location.reload();
    }, seconds * 1000);
  }
  function initOverview() {
    if (!document.querySelector("[data-overview]")) return;
    var select = document.querySelector("[data-refresh]");
    if (select) select.addEventListener("change", scheduleReload);
    scheduleReload();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initOverview);
  else initOverview();
  function fail(event, text) {
    var target = event.detail.target;
    if (!target || !target.hasAttribute("data-summary")) return;
    var alert = document.createElement("p");
    alert.className = "dash-fragment__error mb-0";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    target.replaceChildren(alert);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    fail(event, "These numbers could not be loaded (" + status + "). Reload the page to try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    fail(event, "The server could not be reached. Reload the page to try again.");
  });
})();
