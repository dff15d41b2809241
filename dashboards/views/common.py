"""What every dashboard view shares: the viewer's time zone, the view state from the URL, metric descriptions."""

from __future__ import annotations

import zoneinfo

from django.http import HttpRequest
from django.urls import reverse

from dashboards.charts import MetricInfo
from dashboards.state import STATE_PARAMETERS, ViewState, state_parse, zone_or_none
from metrics.models import Metric

# Set by static/js/dashboards.js from the browser (Intl.DateTimeFormat), read on the next request.
TZ_COOKIE = "novaops_tz"
UTC = zoneinfo.ZoneInfo("UTC")


def viewer_zone(request: HttpRequest) -> zoneinfo.ZoneInfo:
    """The zone to show times in when the URL names none: the viewer's own choice, else their browser's, else UTC."""
    preference = getattr(request.user, "viewer_preference", None) if request.user.is_authenticated else None
    chosen = zone_or_none(preference.time_zone) if preference is not None else None
    return chosen or zone_or_none(request.COOKIES.get(TZ_COOKIE)) or UTC


def view_state(
    request: HttpRequest, *, defaults: dict[str, str] | None = None, allowed: frozenset[str] = STATE_PARAMETERS
) -> ViewState:
    return state_parse(request.GET, tz=viewer_zone(request), defaults=defaults, allowed=allowed)


def metric_info(metric: Metric) -> MetricInfo:
    return MetricInfo(key=metric.key, name=metric.name, unit=metric.unit, better=metric.better, kind=metric.kind)


def figure_url(state: ViewState, **changes: object) -> str:
    """The chart endpoint's URL for `state` with `changes` (a figure is always one metric)."""
    return f"{reverse('dashboards:figure')}?{state.query(**changes)}"


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


def toolbar(state: ViewState) -> dict:
    """The range controls every dashboard shows: presets, shift back / forward, zoom out, the absolute range form
    (its fields in the view's zone) and the hidden fields that keep the rest of the state when it is submitted."""
    from dashboards.constants import RANGE_PRESETS, REFRESH_CHOICES

    keep = [(name, value) for name, value in state.pairs() if name not in ("range", "from", "to", "tz", "refresh")]
    return {
        "presets": [(label, f"?{state.with_range(label)}", state.range == label) for label in RANGE_PRESETS],
        "back": f"?{state.shifted(-1)}",
        "forward": f"?{state.shifted(+1)}",
        "zoom_out": f"?{state.zoomed_out()}",
        "from_value": state.start.astimezone(state.tz).strftime("%Y-%m-%dT%H:%M"),
        "to_value": state.end.astimezone(state.tz).strftime("%Y-%m-%dT%H:%M"),
        "keep": keep,
        "refresh_choices": list(REFRESH_CHOICES),
        "refresh": state.refresh,
        "refresh_seconds": REFRESH_CHOICES[state.refresh],
        "tz": state.tz.key,
        "range_label": state.range,
    }
