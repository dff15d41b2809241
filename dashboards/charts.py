"""DataFrames in, Plotly figures out: pure functions, no ORM and no request, tested as `fig.to_dict()`.

Only SVG traces (`go.Scatter`): WebGL ones (`scattergl`, which plotly.express switches to past 1,000 points) need
'unsafe-eval' under our Content-Security-Policy. Colours of text and grid are left to the page (static/js/
dashboards.js applies the light or dark theme), so one figure serves both themes; the backgrounds are transparent.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from metrics.selectors import group_columns

# Past this many lines a legend hides the chart; hovering names each line instead.
LEGEND_MAX_TRACES = 12
ANOMALY_COLOUR = "#d63939"


@dataclass(frozen=True)
class MetricInfo:
    """What a chart needs to know about a catalogue metric (kept apart from the model: charts never see the ORM)."""

    key: str
    name: str
    unit: str = ""
    better: str = "neutral"
    kind: str = "gauge"

    @property
    def title(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


def local_times(buckets: pd.Series, tz: zoneinfo.ZoneInfo) -> pd.Series:
    """UTC bucket starts as wall-clock times in `tz` without an offset (plotly.js draws dates as written), as
    numpy datetime64[s]: figure_json writes them as ISO strings in C, strftime per row would cost more than the
    query."""
    wall = buckets.dt.tz_convert(tz).dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    return pd.Series(wall, index=buckets.index)


def figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure built without plotly.py's per-property validation, which costs about 1 ms per trace (150 ms for a
    150-agent chart, more than the query). The tests validate every chart kind instead, by building a validated
    go.Figure from the same dict (tests/dashboards/test_charts.py)."""
    return go.Figure(data=data, layout=layout, _validate=False)


def figure_json(fig: go.Figure, **extra: object) -> bytes:
    """The figure (and `extra` members) as JSON. Figure.to_json and to_dict deep-copy the figure first (50 ms for
    150 traces); its data and layout are plain dicts and numpy arrays already, written here as they are."""
    body = {"figure": {"data": fig._data, "layout": fig._layout}, **extra}
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=_json_default)


def _json_default(value: object) -> object:
    # What OPT_SERIALIZE_NUMPY leaves: numpy scalars, and arrays of a dtype it does not write (object).
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(type(value).__name__)


def group_labels(frame: pd.DataFrame, group: str) -> pd.Series:
    """One display label per row: "ta_00008 · Nova" for agents (the division for division-level series), the
    division's or domain's name otherwise."""
    if group == "agent":
        agent = frame["agent"].astype(object)
        named = agent.where(frame["callsign"].isna(), agent + " · " + frame["callsign"].astype(object))
        return named.where(agent.notna(), frame["division"] + " (division)")
    return frame["name"].astype(object)


def group_keys(frame: pd.DataFrame, group: str) -> pd.Series:
    """The identifier of each row's group (handle, slug), the value filters and links use."""
    key = frame[group_columns(group)[0]].astype(object)
    if group == "agent":
        return key.where(key.notna(), frame["division"])
    return key


def lines(rows: pd.DataFrame, group: str, tz: zoneinfo.ZoneInfo) -> list[tuple[str, object, object]]:
    """(label, x, y) per line of one metric's rows. series_aggregate orders rows by group then bucket, so each line
    is a contiguous slice: cut at the positions where the group changes, no per-group lookups."""
    if rows.empty:
        return []
    identity = pd.factorize(group_keys(rows, group).fillna(""), sort=False)[0]
    starts = np.flatnonzero(np.r_[True, identity[1:] != identity[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    labels = group_labels(rows.iloc[starts], group).tolist()
    x = local_times(rows["bucket"], tz).to_numpy()
    y = rows["value"].to_numpy(dtype="float64")
    return [(str(label), x[a:b], y[a:b]) for label, a, b in zip(labels, starts, ends, strict=True)]


def _base_layout(*, tz: zoneinfo.ZoneInfo, y_title: str, traces: int, height: int = 320) -> dict:
    return {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 8, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "closest",
        "showlegend": 1 < traces <= LEGEND_MAX_TRACES,
        # Above the plot: below it, a two-row legend would cover the time axis' title.
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"type": "date", "title": {"text": f"Time ({tz.key})"}},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        # Keeps the viewer's legend clicks and hover across auto-refreshes.
        "uirevision": "keep",
    }


def _line_traces(
    frame: pd.DataFrame, *, metric: MetricInfo, group: str, tz: zoneinfo.ZoneInfo, hover: str, **style: object
) -> list[dict]:
    """A line trace per group of one metric's rows, named by the group, `style` added to each."""
    return [
        {
            "type": "scatter",
            "x": x,
            "y": y,
            "name": label,
            "mode": "lines",
            "hovertemplate": f"{hover}<extra>{label}</extra>",
            **style,
        }
        for label, x, y in lines(frame[frame["metric"] == metric.key], group, tz)
    ]


def timeseries_figure(
    frame: pd.DataFrame,
    *,
    metric: MetricInfo,
    group: str,
    tz: zoneinfo.ZoneInfo,
    anomalies: pd.DataFrame | None = None,
    x_range: tuple[str, str] | None = None,
) -> go.Figure:
    """One line per group of `frame` (series_aggregate's shape, one metric), anomaly marks on top. `x_range` (local
    wall-clock ISO strings) pins the time axis to the view's range, so stacked charts share one axis exactly."""
    traces = _line_traces(
        frame, metric=metric, group=group, tz=tz, hover=f"%{{y:.4~g}} {metric.unit}", line={"width": 1.5}
    )
    if anomalies is not None and not anomalies.empty:
        traces.append(anomaly_trace(anomalies, metric=metric, group=group, tz=tz))
    layout = _base_layout(tz=tz, y_title=metric.title, traces=len(traces))
    if x_range is not None:
        layout["xaxis"]["range"] = list(x_range)
    return figure(traces, layout)


def anomaly_trace(anomalies: pd.DataFrame, *, metric: MetricInfo, group: str, tz: zoneinfo.ZoneInfo) -> dict:
    """Open red circles on the points that broke from their own recent behaviour, with their size in deviations."""
    labels = group_labels(anomalies, group)
    return {
        "type": "scatter",
        "x": local_times(anomalies["bucket"], tz).to_numpy(),
        "y": anomalies["value"].to_numpy(dtype="float64"),
        "name": "Anomalies",
        "mode": "markers",
        "marker": {"symbol": "circle-open", "size": 11, "color": ANOMALY_COLOUR, "line": {"width": 2}},
        "text": [f"{label}: {score:+.1f} deviations" for label, score in zip(labels, anomalies["score"], strict=True)],
        "hovertemplate": f"%{{text}}<br>%{{y:.4~g}} {metric.unit}<extra>anomaly</extra>",
    }


def share_figure(frame: pd.DataFrame, *, metric: MetricInfo, group: str, tz: zoneinfo.ZoneInfo) -> go.Figure:
    """Each group's share of the total per bucket, stacked to 100 % (for counters: who did the work)."""
    traces = _line_traces(
        frame,
        metric=metric,
        group=group,
        tz=tz,
        hover="%{y:.1f} %",
        line={"width": 0.5},
        stackgroup="share",
        groupnorm="percent",
    )
    layout = _base_layout(tz=tz, y_title=f"Share of {metric.name} (%)", traces=len(traces))
    layout["yaxis"]["range"] = [0, 100]
    return figure(traces, layout)


def sparkline_path(values: list[float] | pd.Series, *, width: int = 120, height: int = 28) -> str:
    """The `points` of an SVG polyline drawing `values` left to right in a width × height box (server-rendered
    sparklines: no script, no request of their own). Empty for fewer than two values."""
    numbers = [float(v) for v in values if pd.notna(v)]
    if len(numbers) < 2:
        return ""
    low, high = min(numbers), max(numbers)
    span = (high - low) or 1.0
    step = width / (len(numbers) - 1)
    pad = 2
    return " ".join(
        f"{i * step:.1f},{pad + (height - 2 * pad) * (1 - (v - low) / span):.1f}" for i, v in enumerate(numbers)
    )


MULTIPLES_COLUMNS = 4


def _multiples_grid(titles: list[str], *, columns: int, tz: zoneinfo.ZoneInfo) -> dict:
    """The layout of a grid of small multiples: make_subplots' axes and titles, one shared y scale."""
    count = max(len(titles), 1)
    rows = -(-count // columns)
    grid = make_subplots(
        rows=rows,
        cols=columns,
        shared_yaxes="all",
        subplot_titles=titles or None,
        vertical_spacing=min(0.12, 0.6 / rows),
        horizontal_spacing=0.04,
    )
    grid.update_layout(
        height=max(320, 150 * rows + 60),  # one row fills a panel as tall as the other charts
        margin={"l": 48, "r": 8, "t": 32, "b": 32},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        uirevision="keep",
    )
    grid.update_annotations(font={"size": 12})
    grid.update_yaxes(rangemode="tozero")
    grid.update_xaxes(type="date", nticks=3)
    grid.update_xaxes(title={"text": f"Time ({tz.key})"}, row=rows, col=1)
    return grid.to_dict()["layout"]


def multiples_figure(
    frame: pd.DataFrame,
    *,
    metric: MetricInfo,
    tz: zoneinfo.ZoneInfo,
    links: dict[str, str] | None = None,
    columns: int = MULTIPLES_COLUMNS,
) -> go.Figure:
    """A small multiple per agent of `frame` (grouped by agent, one metric): one subplot each, titled by the agent
    (a link to its dashboard when `links` maps its handle to one), on one shared y scale so heights compare."""
    rows = frame[(frame["metric"] == metric.key) & frame["agent"].notna()].reset_index(drop=True)
    drawn = lines(rows, "agent", tz)
    handles = group_keys(rows, "agent").drop_duplicates().tolist()
    titles = []
    for (label, _, _), handle in zip(drawn, handles, strict=True):
        url = (links or {}).get(str(handle))
        titles.append(f'<a href="{url}">{label}</a>' if url else label)
    traces = [
        {
            "type": "scatter",
            "x": x,
            "y": y,
            "name": label,
            "mode": "lines",
            "line": {"width": 1.25},
            "xaxis": f"x{n if n > 1 else ''}",
            "yaxis": f"y{n if n > 1 else ''}",
            "hovertemplate": f"%{{y:.4~g}} {metric.unit}<extra>{label}</extra>",
        }
        for n, (label, x, y) in enumerate(drawn, start=1)
    ]
    return figure(traces, _multiples_grid(titles, columns=columns, tz=tz))
