/* Follow the operating system's light or dark setting, now and whenever it changes (Bootstrap's data-bs-theme).
   Loaded in <head> without defer so the first paint already has the right theme. */
(function () {
  "use strict";
  var query = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    document.documentElement.setAttribute("data-bs-theme", query.matches ? "dark" : "light");
  }
  apply();
  query.addEventListener("change", apply);
})();
