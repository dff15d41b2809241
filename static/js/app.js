/* NovaOps pages: small progressive enhancements on top of htmx. Everything works without this file. */
(function () {
  "use strict";

  // Keep pushed URLs short: drop the empty filters ("?q=core" rather than "?q=core&domain=&division=…").
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.hasAttribute("data-drop-empty")) return;
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (key) {
      if (params[key] === "") delete params[key];
    });
  });

  // Tell assistive technology that the results are being replaced.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target) target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target) target.removeAttribute("aria-busy");
  });

  // A failed live search (server error, lost connection) says so instead of leaving stale results in place.
  function showFailure(event, text) {
    var target = event.detail.target;
    if (!target || target.id !== "agent-results") return;
    var alert = document.createElement("div");
    alert.className = "alert alert-warning";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    target.replaceChildren(alert);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    showFailure(event, status === 404
      ? "That page of results does not exist. Change the search or clear the filters."
      : "The search failed (" + status + "). Press Apply to try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    showFailure(event, "The server could not be reached. Check the connection and press Apply to try again.");
  });
})();
