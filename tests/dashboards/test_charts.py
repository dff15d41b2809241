"""dashboards.charts: figures from frames. Each is validated by plotly.py from fig.to_dict() (the charts build
figures unvalidated, for speed) and read back as the JSON the endpoint sends."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards import charts
from dashboards.charts import MetricInfo

TZ = zoneinfo.ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
ERRORS = MetricInfo(key="error_rate_pct", name="Error rate", unit="%", better="lower")
WORK = MetricInfo(key="workflow_completions", name="Workflow completions", unit="workflows", kind="counter")


def drawn(fig: go.Figure) -> dict:
    """The figure as the browser gets it, after plotly.py has validated every property."""
    go.Figure(fig.to_dict())  # raises on a property plotly.js does not know
    return orjson.loads(charts.figure_json(fig))["figure"]


def agent_frame(metric: str = "error_rate_pct", agents=("ta_00001", "ta_00002"), points: int = 3) -> pd.DataFrame:
    rows = [
        {"metric": metric, "agent": handle, "callsign": f"Agent {n}", "division": "core",
         "bucket": pd.Timestamp(T0 + timedelta(minutes=5 * i)), "value": float(n + i)}
        for n, handle in enumerate(agents, start=1) for i in range(points)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_line_per_agent_in_the_charts_zone():
    fig = drawn(charts.timeseries_figure(agent_frame(), metric=ERRORS, group="agent", tz=TZ))

    assert [t["name"] for t in fig["data"]] == ["ta_00001 · Agent 1", "ta_00002 · Agent 2"]
    assert {t["type"] for t in fig["data"]} == {"scatter"}
    assert fig["data"][0]["x"] == ["2026-07-01T12:00:00", "2026-07-01T12:05:00", "2026-07-01T12:10:00"]
    assert fig["data"][0]["y"] == [1.0, 2.0, 3.0]
    assert fig["layout"]["xaxis"]["title"]["text"] == "Time (Europe/Berlin)"
    assert fig["layout"]["yaxis"]["title"]["text"] == "Error rate (%)"
    assert fig["layout"]["showlegend"] is True


def test_the_x_range_pins_the_axis():
    fig = drawn(
        charts.timeseries_figure(
            agent_frame(), metric=ERRORS, group="agent", tz=TZ, x_range=("2026-07-01T11:00:00", "2026-07-01T13:00:00")
        )
    )
    assert fig["layout"]["xaxis"]["range"] == ["2026-07-01T11:00:00", "2026-07-01T13:00:00"]


def test_anomalies_are_one_marker_trace_with_their_size():
    frame = agent_frame()
    marks = frame.iloc[[1]].assign(score=7.25)
    fig = drawn(charts.timeseries_figure(frame, metric=ERRORS, group="agent", tz=TZ, anomalies=marks))

    anomaly = fig["data"][-1]
    assert (anomaly["name"], anomaly["mode"], anomaly["type"]) == ("Anomalies", "markers", "scatter")
    assert anomaly["y"] == [2.0] and anomaly["text"] == ["ta_00001 · Agent 1: +7.2 deviations"]


def test_group_labels_name_divisions_domains_tags_and_division_level_series():
    division = pd.DataFrame({"metric": ["m"], "division": ["core"], "name": ["NovaCore"], "bucket": [T0], "value": [1]})
    assert charts.group_labels(division, "division").tolist() == ["NovaCore"]
    tag = pd.DataFrame({"metric": ["m"], "tag": ["eu"], "name": ["eu"], "bucket": [T0], "value": [1.0]})
    assert charts.group_labels(tag, "tag:region").tolist() == ["eu"]
    assert charts.group_keys(tag, "tag:region").tolist() == ["eu"]
    level = agent_frame(agents=(None,), points=1)
    assert charts.group_labels(level, "agent").tolist() == ["core (division)"]


def test_share_stacks_each_group_to_100_percent():
    fig = drawn(charts.share_figure(agent_frame("workflow_completions"), metric=WORK, group="agent", tz=TZ))

    assert {(t["type"], t["stackgroup"], t["groupnorm"]) for t in fig["data"]} == {("scatter", "share", "percent")}
    assert fig["layout"]["yaxis"]["range"] == [0, 100]


def test_small_multiples_one_subplot_per_agent_on_a_shared_y_scale_titled_with_links():
    frame = agent_frame(agents=tuple(f"ta_0000{n}" for n in range(1, 6)))
    links = {"ta_00001": "/dashboards/agents/ta_00001/?range=7d"}
    fig = drawn(charts.multiples_figure(frame, metric=ERRORS, tz=TZ, links=links))

    assert len(fig["data"]) == 5 and {t["type"] for t in fig["data"]} == {"scatter"}
    assert [t["xaxis"] for t in fig["data"]] == ["x", "x2", "x3", "x4", "x5"]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[0] == '<a href="/dashboards/agents/ta_00001/?range=7d">ta_00001 · Agent 1</a>'
    assert titles[1] == "ta_00002 · Agent 2"
    # One y scale for all: every y axis but one matches the same axis.
    matched = {fig["layout"][f"yaxis{n}"].get("matches") for n in ("", 2, 3, 4, 5)}
    assert len(matched - {None}) == 1
    assert fig["layout"]["showlegend"] is False


def test_no_trace_is_ever_webgl():
    big = agent_frame(points=2000)
    for fig in (
        charts.timeseries_figure(big, metric=ERRORS, group="agent", tz=TZ),
        charts.share_figure(big, metric=ERRORS, group="agent", tz=TZ),
        charts.multiples_figure(big, metric=ERRORS, tz=TZ),
    ):
        assert {t["type"] for t in drawn(fig)["data"]} == {"scatter"}


@pytest.mark.parametrize(("values", "expected"), [([], ""), ([1.0], ""), ([0.0, 1.0], "0.0,26.0 120.0,2.0")])
def test_sparkline_points(values, expected):
    assert charts.sparkline_path(values) == expected
