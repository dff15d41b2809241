"""What every dashboard view shares: the viewer's time zone, the view state from the URL, metric descriptions."""

from __future__ import annotations

import zoneinfo
from urllib.parse import unquote, urlencode

from django.http import HttpRequest
from django.urls import reverse

from dashboards.charts import MetricInfo
from dashboards.state import STATE_PARAMETERS, ViewState, state_parse, zone_or_none
from metrics.models import Metric

# A division or agent page is scoped by its path; the URL carries the range, aggregation and tag filters only.
SCOPED_PARAMETERS = frozenset({"range", "from", "to", "tz", "agg", "refresh", "tag"})
# Set by static/js/dashboards.js from the browser (Intl.DateTimeFormat), read on the next request.
TZ_COOKIE = "novaops_tz"
UTC = zoneinfo.ZoneInfo("UTC")


def viewer_zone(request: HttpRequest) -> zoneinfo.ZoneInfo:
    """The zone to show times in when the URL names none: the viewer's own choice, else their browser's, else UTC."""
    preference = getattr(request.user, "viewer_preference", None) if request.user.is_authenticated else None
    chosen = zone_or_none(preference.time_zone) if preference is not None else None
    # The script writes the cookie with encodeURIComponent ("Europe%2FBerlin"); Django hands it over as written.
    return chosen or zone_or_none(unquote(request.COOKIES.get(TZ_COOKIE, ""))) or UTC


def view_state(
    request: HttpRequest, *, defaults: dict[str, str] | None = None, allowed: frozenset[str] = STATE_PARAMETERS
) -> ViewState:
    return state_parse(request.GET, tz=viewer_zone(request), defaults=defaults, allowed=allowed)


def scoped_query(state: ViewState) -> str:
    """The part of `state` a division or agent page takes (range, zone, aggregation, tags): what drill-down keeps."""
    return urlencode([(name, value) for name, value in state.pairs() if name in SCOPED_PARAMETERS])


def agent_url(handle: str, state: ViewState) -> str:
    query = scoped_query(state)
    return reverse("dashboards:agent", args=[handle]) + (f"?{query}" if query else "")


def division_url(slug: str, state: ViewState) -> str:
    query = scoped_query(state)
    return reverse("dashboards:division", args=[slug]) + (f"?{query}" if query else "")


def metric_info(metric: Metric) -> MetricInfo:
    return MetricInfo(key=metric.key, name=metric.name, unit=metric.unit, better=metric.better, kind=metric.kind)


def figure_url(state: ViewState, **changes: object) -> str:
    """The chart endpoint's URL for `state` with `changes` (a figure is always one metric). Written without the
    page's defaults: the endpoint has none of its own, so a page default (explore groups by division) must be
    spelled out."""
    return f"{reverse('dashboards:figure')}?{state.query(defaults={}, **changes)}"


def chart_spec(state: ViewState, *, metric: Metric, chart_id: str, title: str | None = None, **changes: object) -> dict:
    """What templates/dashboards/_chart.html needs for one chart: its figure and CSV URLs, title and ids."""
    url = figure_url(state, metrics=(metric.key,), **changes)
    return {
        "id": chart_id,
        "title": title or metric.name,
        "unit": metric.unit,
        "description": metric.description,
        "url": url,
        "csv_url": f"{url}&format=csv",
    }


def toolbar(state: ViewState, *, extra: list[tuple[str, str]] | None = None) -> dict:
    """The range controls every dashboard shows: presets, shift back / forward, zoom out, the absolute range form
    (its fields in the view's zone) and the hidden fields that keep the rest of the state when it is submitted.
    `extra` are a page's own parameters outside the view state (the division's rank=), kept by every control."""
    from dashboards.constants import RANGE_PRESETS, REFRESH_CHOICES

    tail = f"&{urlencode(extra)}" if extra else ""
    keep = [(name, value) for name, value in state.pairs() if name not in ("range", "from", "to", "tz", "refresh")]
    return {
        "presets": [(label, f"?{state.with_range(label)}{tail}", state.range == label) for label in RANGE_PRESETS],
        "back": f"?{state.shifted(-1)}{tail}",
        "forward": f"?{state.shifted(+1)}{tail}",
        "zoom_out": f"?{state.zoomed_out()}{tail}",
        "from_value": state.start.astimezone(state.tz).strftime("%Y-%m-%dT%H:%M"),
        "to_value": state.end.astimezone(state.tz).strftime("%Y-%m-%dT%H:%M"),
        "keep": keep + list(extra or []),
        "refresh_choices": list(REFRESH_CHOICES),
        "refresh": state.refresh,
        "refresh_seconds": REFRESH_CHOICES[state.refresh],
        "tz": state.tz.key,
        "range_label": state.range,
    }
