/* Dashboards: every [data-figure-url] element is a chart that loads on its own (loading state, its own error or
   empty message), follows the light/dark theme, offers a table of its numbers, and sets the page's range when a
   range is dragged on it. Auto-refresh, "updated hh:mm:ss" and "copy link" live here too. The state is the URL:
   everything that changes the view navigates to a new URL, so back / forward and shared links just work. */
(function () {
  "use strict";

  var TZ_COOKIE = "novaops_tz";
  var browserZone = (Intl.DateTimeFormat().resolvedOptions() || {}).timeZone || "UTC";
  // Before the first cookie the server could not know the zone: only then do chart requests name it themselves
  // (afterwards the server's choice, the viewer's preference or this cookie, must win, or CSV and chart differ).
  var zoneKnown = document.cookie.split("; ").some(function (c) { return c.indexOf(TZ_COOKIE + "=") === 0; });
  // The server shows times in the browser's zone unless the viewer chose one: tell it (read on the next request).
  document.cookie = TZ_COOKIE + "=" + encodeURIComponent(browserZone) + "; path=/; max-age=31536000; samesite=lax";

  var charts = [];
  var dark = window.matchMedia("(prefers-color-scheme: dark)");

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function themeLayout() {
    var ink = cssVar("--dash-ink", "#111827");
    var grid = cssVar("--dash-grid", "#e5e7eb");
    var axis = { color: ink, gridcolor: grid, zerolinecolor: grid, linecolor: grid };
    return {
      font: { color: ink, family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" },
      xaxis: axis,
      yaxis: axis,
      hoverlabel: { bgcolor: cssVar("--dash-hover-bg", "#ffffff"), font: { color: ink } },
      legend: { font: { color: ink } }
    };
  }

  function merge(target, source) {
    Object.keys(source).forEach(function (key) {
      var value = source[key];
      if (value && typeof value === "object" && !Array.isArray(value)) {
        target[key] = merge(target[key] && typeof target[key] === "object" ? target[key] : {}, value);
      } else if (!(key in target)) {
        target[key] = value;
      }
    });
    return target;
  }

  function withZone(url) {
    var parsed = new URL(url, window.location.href);
    if (!zoneKnown && !parsed.searchParams.has("tz")) parsed.searchParams.set("tz", browserZone);
    return parsed.pathname + parsed.search;
  }

  function status(element, text, kind) {
    var box = document.createElement("div");
    box.className = "dash-chart__status" + (kind ? " dash-chart__status--" + kind : "");
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.textContent = text;
    element.replaceChildren(box);
  }

  function problemText(response, body) {
    if (body && body.detail) return body.detail;
    if (response.status === 503) return "The database is unreachable; the chart will load again shortly.";
    return "This chart could not be loaded (" + response.status + ").";
  }

  function render(chart, payload) {
    var element = chart.element;
    var figure = payload.figure;
    var empty = payload.meta && payload.meta.empty;
    chart.figure = figure;
    if (empty) {
      if (window.Plotly && chart.drawn) window.Plotly.purge(element);
      chart.drawn = false;
      status(element, empty.message, "empty");
      element.setAttribute("data-empty", empty.reason);
      return;
    }
    element.removeAttribute("data-empty");
    var theme = themeLayout();
    var layout = merge(JSON.parse(JSON.stringify(figure.layout || {})), theme);
    // Subplots (the division's small multiples) have axes xaxis2, yaxis2, …: the same colours for each.
    Object.keys(layout).forEach(function (key) {
      if (/^[xy]axis[0-9]+$/.test(key)) layout[key] = merge(layout[key], theme.xaxis);
    });
    var config = {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      toImageButtonOptions: { filename: element.id }
    };
    if (chart.marks) {
      layout.shapes = (layout.shapes || []).concat(chart.marks.shapes);
      layout.annotations = (layout.annotations || []).concat(chart.marks.annotations);
    }
    if (!chart.drawn) element.replaceChildren();
    return window.Plotly.react(element, figure.data, layout, config).then(function () {
      if (!chart.drawn) {
        chart.drawn = true;
        element.on("plotly_relayout", function (event) { onRelayout(event); });
        element.on("plotly_clickannotation", function (event) { openTicket(chart, event); });
      }
      if (chart.table && !chart.table.hidden) fillTable(chart);
    });
  }

  function load(chart) {
    var element = chart.element;
    element.setAttribute("aria-busy", "true");
    if (!chart.drawn) status(element, "Loading " + (element.getAttribute("data-title") || "chart").toLowerCase() + "…");
    return fetch(withZone(element.getAttribute("data-figure-url")), {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok || !body || !body.figure) throw new Error(problemText(response, body));
          var drawn = render(chart, body);
          if (drawn) drawn.then(function () { annotate(chart); });
        });
      })
      .catch(function (error) {
        chart.drawn = false;
        status(element, error.message || "The server could not be reached.", "error");
      })
      .finally(function () { element.setAttribute("aria-busy", "false"); });
  }

  // --- escalations as annotations: tickets raised in the chart's range about its division, agent or metric ----------
  // Fetched by URL after the figure is drawn (the dashboards never import the escalations app): a dotted line at
  // each ticket's raising time, its key on top (hover for more, click to open), and the same tickets as links under
  // the chart for the keyboard. A failed fetch, or no escalations app at all, leaves the chart as it is.

  var ANNOTATIONS_URL = "/escalations/annotations/";

  function annotationUrl(figureUrl) {
    var source = new URL(figureUrl, window.location.href).searchParams;
    var query = new URLSearchParams();
    ["range", "from", "to", "tz"].forEach(function (name) {
      if (source.has(name)) query.set(name, source.get(name));
    });
    // A division's or an agent's chart shows that division's or agent's tickets; the comparison, a metric's.
    var scope = ["division", "agent"].filter(function (name) { return source.has(name); });
    if (!scope.length && window.location.pathname.indexOf("/dashboards/compare/") === 0) scope = ["metric"];
    if (!scope.length) return null;
    scope.forEach(function (name) {
      source.getAll(name).forEach(function (value) { query.append(name, value); });
    });
    return ANNOTATIONS_URL + "?" + query.toString();
  }

  function escapeText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function marksFor(chart, tickets) {
    var layout = chart.figure.layout || {};
    var axes = Object.keys(layout).filter(function (key) { return /^xaxis[0-9]*$/.test(key); });
    if (!axes.length) axes = ["xaxis"];
    var shapes = [], annotations = [];
    tickets.forEach(function (ticket) {
      var x = ticket.at.slice(0, 19);  // the wall-clock time in the chart's zone, as its x axis is drawn
      var colour = ticket.breached ? cssVar("--app-bad", "#b91c1c") : cssVar("--dash-ink", "#1f2937");
      axes.forEach(function (axis) {
        var n = axis.slice(5);
        shapes.push({
          type: "line", xref: "x" + n, yref: "y" + n + " domain", x0: x, x1: x, y0: 0, y1: 1,
          line: { color: colour, width: 1, dash: "dot" }
        });
      });
      annotations.push({
        xref: "x", yref: "y domain", x: x, y: 1, yanchor: "bottom", showarrow: false, captureevents: true,
        text: ticket.key, font: { size: 10, color: colour },
        hovertext: escapeText(ticket.key + " · " + ticket.priority + " · " + ticket.state.replace(/_/g, " ") +
          (ticket.breached ? " · breached" : "")) + "<br>" + escapeText(ticket.title)
      });
    });
    return { shapes: shapes, annotations: annotations, tickets: tickets };
  }

  function listTickets(chart, tickets) {
    var id = chart.element.id + "-escalations";
    var list = document.getElementById(id);
    if (!tickets.length) {
      if (list) list.remove();
      return;
    }
    if (!list) {
      list = document.createElement("p");
      list.id = id;
      list.className = "dash-panel__desc mt-1 mb-0";
      list.setAttribute("data-escalations", "");
      chart.element.insertAdjacentElement("afterend", list);
    }
    list.replaceChildren(document.createTextNode("Escalations raised here: "));
    tickets.forEach(function (ticket, i) {
      var link = document.createElement("a");
      link.href = ticket.url;
      link.textContent = ticket.key;
      link.title = ticket.title;
      if (i) list.appendChild(document.createTextNode(", "));
      list.appendChild(link);
    });
  }

  function annotate(chart) {
    var url = annotationUrl(chart.element.getAttribute("data-figure-url"));
    if (!url) return;
    fetch(withZone(url), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : []; })
      .catch(function () { return []; })
      .then(function (tickets) {
        if (!Array.isArray(tickets) || !chart.drawn) return;
        var had = Boolean(chart.marks && chart.marks.tickets.length);
        chart.marks = tickets.length ? marksFor(chart, tickets) : null;
        listTickets(chart, tickets);
        if (tickets.length || had) render(chart, { figure: chart.figure, meta: {} });
      });
  }

  function openTicket(chart, event) {
    var ticket = chart.marks && event && chart.marks.tickets[event.index - figureAnnotations(chart)];
    if (ticket) window.location.assign(ticket.url);
  }

  function figureAnnotations(chart) {
    return ((chart.figure && chart.figure.layout && chart.figure.layout.annotations) || []).length;
  }

  // --- drag-to-zoom: the dragged range becomes the page's range (an absolute one, in the charts' zone) ---------------

  function onRelayout(event) {
    var from = event["xaxis.range[0]"], to = event["xaxis.range[1]"];
    if (!from || !to) return;
    var url = new URL(window.location.href);
    url.searchParams.delete("range");
    url.searchParams.set("from", String(from).replace(" ", "T").slice(0, 19));
    url.searchParams.set("to", String(to).replace(" ", "T").slice(0, 19));
    // The dragged times are in the zone the charts were drawn in: the page's (the toolbar says which).
    var toolbar = document.querySelector("[data-zone]");
    var zone = toolbar ? toolbar.getAttribute("data-zone") : browserZone;
    if (!url.searchParams.has("tz")) url.searchParams.set("tz", zoneKnown ? zone : browserZone);
    window.location.assign(url.toString());
  }

  // --- the table toggle: each chart's numbers as a table (screen readers, and leads who want the figures) -----------

  function fillTable(chart) {
    var traces = (chart.figure && chart.figure.data) || [];
    var table = document.createElement("table");
    table.className = "table table-sm dash-table__table";
    var caption = document.createElement("caption");
    caption.textContent = (chart.element.getAttribute("data-title") || "Chart") + ": the numbers drawn";
    table.appendChild(caption);
    var head = table.createTHead().insertRow();
    ["Series", "Time", "Value"].forEach(function (label) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = label;
      head.appendChild(th);
    });
    var body = table.createTBody();
    traces.forEach(function (trace) {
      var xs = trace.x || [], ys = trace.y || [];
      for (var i = 0; i < xs.length; i++) {
        var row = body.insertRow();
        row.insertCell().textContent = trace.name || "";
        row.insertCell().textContent = String(xs[i]).replace("T", " ");
        row.insertCell().textContent = ys[i] === null || ys[i] === undefined ? "" : String(ys[i]);
      }
    });
    chart.table.replaceChildren(table);
  }

  function initTable(chart) {
    var button = document.querySelector('[data-table-toggle="' + chart.element.id + '"]');
    chart.table = document.getElementById(chart.element.id + "-table");
    if (!button || !chart.table) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var show = chart.table.hidden;
      chart.table.hidden = !show;
      button.setAttribute("aria-pressed", show ? "true" : "false");
      if (show) fillTable(chart);
    });
  }

  // --- auto-refresh (paused while the tab is hidden), "updated hh:mm:ss", copy link ----------------------------------

  var refreshTimer = null;
  var shownState = window.location.pathname + window.location.search;
  function stamp() {
    var label = document.querySelector("[data-updated]");
    if (label) label.textContent = "Updated " + new Date().toLocaleTimeString([], { hour12: false });
  }
  function refreshAll() {
    return Promise.all(charts.map(load)).then(stamp);
  }
  function schedule(seconds) {
    window.clearInterval(refreshTimer);
    refreshTimer = null;
    if (seconds > 0) {
      refreshTimer = window.setInterval(function () {
        if (!document.hidden) refreshAll();
      }, seconds * 1000);
    }
  }
  var SECONDS = { off: 0, "10s": 10, "1m": 60, "5m": 300 };
  function initRefresh() {
    var select = document.querySelector("[data-refresh]");
    if (!select) return;
    schedule(SECONDS[select.value] || 0);
    select.addEventListener("change", function () {
      var url = new URL(window.location.href);
      if (select.value === "off") url.searchParams.delete("refresh");
      else url.searchParams.set("refresh", select.value);
      window.history.pushState({}, "", url.toString());
      shownState = url.pathname + url.search;
      schedule(SECONDS[select.value] || 0);
    });
    // Back from a tab left in the background: catch up at once rather than at the next tick.
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && refreshTimer !== null) refreshAll();
    });
    // Back / forward to another state: show it. A fragment change (the skip link's #main) also fires popstate and
    // must not reload the page (it would throw away the focus the skip link just moved).
    window.addEventListener("popstate", function () {
      if (window.location.pathname + window.location.search !== shownState) window.location.reload();
    });
  }

  function initCopyLink() {
    var button = document.querySelector("[data-copy-link]");
    var announce = document.getElementById("copy-link-status");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function (text) {
        if (announce) announce.textContent = text;
        button.textContent = text;
        window.setTimeout(function () { button.textContent = "Copy link"; }, 2500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(window.location.href).then(function () { done("Copied"); }, function () {
          window.prompt("Copy this link:", window.location.href);
        });
      } else {
        window.prompt("Copy this link:", window.location.href);
      }
    });
  }

  function init() {
    document.querySelectorAll("[data-figure-url]").forEach(function (element) {
      var chart = { element: element, drawn: false, figure: null, table: null };
      charts.push(chart);
      initTable(chart);
    });
    refreshAll();
    initRefresh();
    initCopyLink();
    // The OS switched between light and dark: redraw with the other colours.
    dark.addEventListener("change", function () {
      window.setTimeout(function () {
        charts.forEach(function (chart) {
          if (chart.drawn && chart.figure) render(chart, { figure: chart.figure, meta: {} });
        });
      }, 0);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
