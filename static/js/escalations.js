/* Escalation pages: the raise form shows the resource and claim fields only for a resource conflict. Without this
   script every field shows, and the server ignores the resource fields of the other kinds. */
(function () {
  "use strict";

  function initRaiseForm(form) {
    var kind = form.querySelector("select[name='kind']");
    if (!kind) return;
    var sections = form.querySelectorAll("[data-kind-section]");
    function sync() {
      sections.forEach(function (section) {
        section.hidden = section.getAttribute("data-kind-section") !== kind.value;
      });
    }
    kind.addEventListener("change", sync);
    sync();
  }

  function init() {
    document.querySelectorAll("form[data-raise-form]").forEach(initRaiseForm);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
