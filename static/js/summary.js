/* Summary fragments ([data-summary], loaded by htmx on load): a failed load says so in place of the spinner. */
(function () {
  "use strict";
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
