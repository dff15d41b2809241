"""DataFrames in, Plotly figures out: pure functions, no ORM and no request, tested as `fig.to_dict()`.

Only SVG traces (`go.Scatter`): WebGL ones (`scattergl`, which plotly.express switches to past 1,000 points) need
'unsafe-eval' under our Content-Security-Policy. Colours of text and grid are left to the page (static/js/
dashboards.js applies the light or dark theme), so one figure serves both themes; the backgrounds are transparent.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import numpy as np
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
    """UTC bucket starts as wall-clock times in `tz` without an offset, as ISO strings: plotly.js draws dates as
    written. (numpy formats them in C; strftime per row would cost more than the query.)"""
    wall = buckets.dt.tz_convert(tz).dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    return pd.Series(np.datetime_as_string(wall, unit="s"), index=buckets.index, dtype=object)


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


def _base_layout(*, tz: zoneinfo.ZoneInfo, y_title: str, traces: int, height: int = 320) -> dict:
    return {
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 8, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "closest",
        "showlegend": 1 < traces <= LEGEND_MAX_TRACES,
        "legend": {"orientation": "h", "y": -0.25},
        "xaxis": {"type": "date", "title": {"text": f"Time ({tz.key})"}},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        # Keeps the viewer's legend clicks and hover across auto-refreshes.
        "uirevision": "keep",
    }


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
    rows = frame[frame["metric"] == metric.key]
    labels = group_labels(rows, group)
    x = local_times(rows["bucket"], tz)
    traces = []
    for label, index in labels.groupby(labels, sort=False).groups.items():
        traces.append(
            go.Scatter(
                x=x.loc[index].tolist(),
                y=rows.loc[index, "value"].tolist(),
                name=str(label),
                mode="lines",
                line={"width": 1.5},
                hovertemplate=f"%{{y:.4~g}} {metric.unit}<extra>{label}</extra>",
            )
        )
    if anomalies is not None and not anomalies.empty:
        traces.append(anomaly_trace(anomalies, metric=metric, group=group, tz=tz))
    layout = _base_layout(tz=tz, y_title=metric.title, traces=len(traces))
    if x_range is not None:
        layout["xaxis"]["range"] = list(x_range)
    return go.Figure(data=traces, layout=layout)


def anomaly_trace(anomalies: pd.DataFrame, *, metric: MetricInfo, group: str, tz: zoneinfo.ZoneInfo) -> go.Scatter:
    """Open red circles on the points that broke from their own recent behaviour, with their size in deviations."""
    labels = group_labels(anomalies, group)
    return go.Scatter(
        x=local_times(anomalies["bucket"], tz).tolist(),
        y=anomalies["value"].tolist(),
        name="Anomalies",
        mode="markers",
        marker={"symbol": "circle-open", "size": 11, "color": ANOMALY_COLOUR, "line": {"width": 2}},
        text=[f"{label}: {score:+.1f} deviations" for label, score in zip(labels, anomalies["score"], strict=True)],
        hovertemplate=f"%{{text}}<br>%{{y:.4~g}} {metric.unit}<extra>anomaly</extra>",
    )


def share_figure(frame: pd.DataFrame, *, metric: MetricInfo, group: str, tz: zoneinfo.ZoneInfo) -> go.Figure:
    """Each group's share of the total per bucket, stacked to 100 % (for counters: who did the work)."""
    rows = frame[frame["metric"] == metric.key]
    labels = group_labels(rows, group)
    x = local_times(rows["bucket"], tz)
    traces = [
        go.Scatter(
            x=x.loc[index].tolist(),
            y=rows.loc[index, "value"].tolist(),
            name=str(label),
            mode="lines",
            line={"width": 0.5},
            stackgroup="share",
            groupnorm="percent",
            hovertemplate=f"%{{y:.1f}} %<extra>{label}</extra>",
        )
        for label, index in labels.groupby(labels, sort=False).groups.items()
    ]
    layout = _base_layout(tz=tz, y_title=f"Share of {metric.name} (%)", traces=len(traces))
    layout["yaxis"]["range"] = [0, 100]
    return go.Figure(data=traces, layout=layout)


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
    rows = frame[(frame["metric"] == metric.key) & frame["agent"].notna()]
    labels = group_labels(rows, "agent")
    keys = group_keys(rows, "agent")
    groups = list(labels.groupby(labels, sort=False).groups.items())
    count = max(len(groups), 1)
    grid_rows = -(-count // columns)
    titles = []
    for label, index in groups:
        handle = str(keys.loc[index[0]])
        url = (links or {}).get(handle)
        titles.append(f'<a href="{url}">{label}</a>' if url else str(label))
    fig = make_subplots(
        rows=grid_rows,
        cols=columns,
        shared_xaxes=True,
        shared_yaxes="all",
        subplot_titles=titles or None,
        vertical_spacing=min(0.12, 0.6 / grid_rows),
        horizontal_spacing=0.04,
    )
    x = local_times(rows["bucket"], tz)
    for position, (label, index) in enumerate(groups):
        fig.add_trace(
            go.Scatter(
                x=x.loc[index].tolist(),
                y=rows.loc[index, "value"].tolist(),
                name=str(label),
                mode="lines",
                line={"width": 1.25},
                hovertemplate=f"%{{y:.4~g}} {metric.unit}<extra>{label}</extra>",
            ),
            row=position // columns + 1,
            col=position % columns + 1,
        )
    fig.update_layout(
        height=max(200, 150 * grid_rows + 40),
        margin={"l": 48, "r": 8, "t": 32, "b": 32},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        uirevision="keep",
    )
    fig.update_annotations(font={"size": 12})
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(type="date", showticklabels=True, nticks=3)
    fig.update_xaxes(title={"text": f"Time ({tz.key})"}, row=grid_rows, col=1)
    return fig
