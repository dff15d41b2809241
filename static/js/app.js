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

  // --- API tokens ---------------------------------------------------------------------------------------------------

  // "Copy" buttons (hidden until this script runs): the clipboard where allowed (a secure context), otherwise the
  // text is selected so that Ctrl+C / ⌘C copies it. #copy-status announces which of the two happened.
  function selectText(source) {
    if (source.tagName === "INPUT" || source.tagName === "TEXTAREA") {
      source.focus();
      source.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function copyStatus(button, text, label) {
    var status = document.getElementById("copy-status");
    if (status) status.textContent = text;
    if (!label) return;
    var original = button.getAttribute("data-label") || button.innerHTML;
    button.setAttribute("data-label", original);
    button.textContent = label;
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () { button.innerHTML = original; }, 2500);
  }
  function initCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = "value" in source && source.tagName !== "PRE" ? source.value : source.textContent;
        var fallback = function () {
          selectText(source);
          copyStatus(button, "Selected: press Ctrl+C (⌘C on a Mac) to copy.", "Selected");
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () {
            copyStatus(button, "Copied to the clipboard.", "Copied ✓");
          }, fallback);
        } else {
          fallback();
        }
      });
    });
    // A click in the read-only token field selects all of it, ready to copy.
    root.querySelectorAll("input[readonly][id='new-token-secret']").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  }

  // Revoke confirmations: the link opens its <dialog> (Escape or Cancel closes it; focus starts on Cancel, the safe
  // choice, and returns to the link afterwards). Without this script the link opens the confirmation page.
  function initDialogs(root) {
    root.querySelectorAll("a[data-open-dialog]").forEach(function (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      opener.setAttribute("role", "button");
      opener.setAttribute("aria-haspopup", "dialog");
      var open = function (event) {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("[data-dialog-initial-focus]");
        if (first) first.focus();
      };
      opener.addEventListener("click", open);
      // role=button: Space activates it too, as it would a real button.
      opener.addEventListener("keydown", function (event) {
        if (event.key === " ") open(event);
      });
      dialog.addEventListener("close", function () { opener.focus(); });
      // A click on the backdrop (outside the dialog box) cancels too.
      dialog.addEventListener("click", function (event) {
        if (event.target === dialog) dialog.close();
      });
    });
  }

  // New token form: the date field matters only with "On a date…"; show it then, hide and clear it otherwise.
  function initTokenForm(root) {
    root.querySelectorAll("form[data-token-form]").forEach(function (form) {
      var preset = form.querySelector("select[name='expires']");
      var date = form.querySelector("input[name='expires_on']");
      if (!preset || !date) return;
      var wrapper = date.closest(".app-field");
      // On load, a date already given (or refused) stays visible with its error, whatever the preset says.
      wrapper.hidden = preset.value !== "date" && !date.value && !date.classList.contains("is-invalid");
      preset.addEventListener("change", function () {
        var onDate = preset.value === "date";
        wrapper.hidden = !onDate;
        if (!onDate) date.value = "";
      });
    });
  }

  function init() {
    initCopyButtons(document);
    initDialogs(document);
    initTokenForm(document);
    var focus = document.querySelector("[data-focus-on-load]");
    if (focus) focus.focus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
