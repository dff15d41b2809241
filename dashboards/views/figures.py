"""The chart endpoint: one figure (Plotly JSON) or its data (CSV) for a view state.

Every chart on every dashboard page is an element with `data-figure-url` pointing here; static/js/dashboards.js
fetches it on its own (its own loading indicator and error), so a slow or failing panel never holds up the page.
`GET /dashboards/figure/?metric=…&group=…&range=…[&chart=share|multiples][&format=csv]`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboards import analytics, charts, selectors
from dashboards.state import STATE_PARAMETERS, ViewState
from dashboards.views.common import agent_url, metric_info, view_state
from metrics.selectors import group_columns
from novaops.decorators import person_required, reads_from_replica
from novaops.errors import InvalidInput

FIGURE_PARAMETERS = STATE_PARAMETERS | {"chart", "format"}
CHARTS = ("timeseries", "share", "multiples")


@require_safe
@person_required
@reads_from_replica
def figure(request: HttpRequest) -> HttpResponse:
    state = view_state(request, allowed=FIGURE_PARAMETERS)
    chart = request.GET.get("chart", "share" if state.view == "share" else "timeseries")
    output = request.GET.get("format", "json")
    _check(state, chart=chart, output=output)
    scope = selectors.scope_resolve(state)
    frame = selectors.metric_frame(
        metric_keys=state.metrics, start=state.start, end=state.end, group=state.group, agg=state.agg, scope=scope
    )
    if output == "csv":
        return _csv(frame, state)
    fig, marks = _draw(chart, frame, state=state, info=metric_info(scope.metrics[0]))
    meta = {
        "resolution_seconds": frame.attrs["resolution_seconds"],
        "anomalies": len(marks),
        "empty": _empty_reason(frame, state, scope),
        "generated_at": timezone.now().isoformat(),
    }
    return HttpResponse(charts.figure_json(fig, meta=meta), content_type="application/json")


def _check(state: ViewState, *, chart: str, output: str) -> None:
    """A figure is one metric, a known chart kind and format; small multiples are per agent."""
    errors = []
    if len(state.metrics) != 1:
        errors.append({"field": "metric", "message": "exactly one metric."})
    if chart not in CHARTS:
        errors.append({"field": "chart", "message": f"must be one of {', '.join(CHARTS)}."})
    elif chart == "multiples" and state.group != "agent":
        errors.append({"field": "group", "message": "small multiples are one per agent: group=agent."})
    if output not in ("json", "csv"):
        errors.append({"field": "format", "message": "must be json or csv."})
    if errors:
        summary = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
        raise InvalidInput(f"This figure cannot be drawn: {summary}", errors=errors)


def _draw(chart: str, frame, *, state: ViewState, info) -> tuple:
    """The figure of `chart` kind and the anomaly marks drawn on it (none on shares and small multiples, nor on
    charts of more lines than anyone can tell apart)."""
    none = frame.iloc[0:0]
    if chart == "share":
        return charts.share_figure(frame, metric=info, group=state.group, tz=state.tz), none
    if chart == "multiples":
        handles = frame["agent"].dropna().unique() if len(frame) else []
        links = {str(handle): agent_url(str(handle), state) for handle in handles}
        return charts.multiples_figure(frame, metric=info, tz=state.tz, links=links), none
    lines = frame[group_columns(state.group)[0]].nunique(dropna=False)
    marks = analytics.anomaly_marks(frame) if lines <= analytics.ANOMALY_MAX_LINES else none
    wall = charts.local_times(pd.Series([state.start, state.end]), state.tz).to_numpy()
    x_range = tuple(str(moment) for moment in np.datetime_as_string(wall, unit="s"))
    fig = charts.timeseries_figure(frame, metric=info, group=state.group, tz=state.tz, anomalies=marks, x_range=x_range)
    return fig, marks


def _empty_reason(frame, state: ViewState, scope: selectors.Scope) -> dict | None:
    """Why there is nothing to draw: nothing in this range, or the series stopped reporting at a known moment."""
    if len(frame):
        return None
    seen = selectors.last_seen(metric_keys=list(state.metrics), scope=scope)
    if seen is None:
        return {"reason": "never", "message": "Nothing has been reported for this metric here yet."}
    if seen < state.start:
        local = timezone.localtime(seen, state.tz)
        return {
            "reason": "stopped",
            "last_seen": seen.isoformat(),
            "message": f"No data in this range: reporting stopped at {local:%Y-%m-%d %H:%M} ({state.tz.key}).",
        }
    return {"reason": "range", "message": "No data in this range."}


def _csv(frame, state: ViewState) -> HttpResponse:
    """Exactly the chart's data: one row per point, the time in the chart's zone with its offset."""
    out = frame.assign(bucket=frame["bucket"].dt.tz_convert(state.tz).map(lambda t: t.isoformat())).rename(
        columns={"bucket": "ts"}
    )
    response = HttpResponse(out.to_csv(index=False, lineterminator="\n"), content_type="text/csv; charset=utf-8")
    name = f"{state.metrics[0]}-by-{state.group}-{state.start:%Y%m%dT%H%M}-{state.end:%Y%m%dT%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
