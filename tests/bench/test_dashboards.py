"""The dashboards benchmark's pure helpers: figure URLs found in a page, request kinds, the URL → raw-SQL mapping,
percentiles and the agents it picks. The benchmark itself runs with `python -m bench dashboards`, never here."""

from datetime import UTC, datetime, timedelta

import pytest

from bench import dashraw, dashreport, dashweb
from bench.dashboards import agents_pick

NAMES = {"novacore-runtime": "<division>", "ta_00002": "<agent>"}


def test_figure_urls_are_unescaped_same_origin_paths():
    page = (
        b'<div data-figure-url="/dashboards/figure/?metric=error_rate_pct&amp;division=novacore-runtime&amp;range=7d">'
        b"</div><div data-figure-url='figure/?metric=uptime_pct'></div><p data-title=\"x\">"
    )
    assert dashweb.figure_urls(page, page_path="/dashboards/agents/ta_00002/?range=7d") == [
        "/dashboards/figure/?metric=error_rate_pct&division=novacore-runtime&range=7d",
        "/dashboards/agents/ta_00002/figure/?metric=uptime_pct",
    ]


def test_figure_urls_refuse_another_origin():
    with pytest.raises(dashweb.BenchFailed):
        dashweb.figure_urls(b'<div data-figure-url="https://example.com/f/"></div>', page_path="/")


def test_figure_kind_keeps_the_parameters_that_shape_the_work():
    kind = dashweb.figure_kind(
        "/dashboards/figure/?range=24h&metric=error_rate_pct&division=novacore-runtime&group=agent&tz=UTC", NAMES
    )
    assert kind == "/dashboards/figure/ division=<division> group=agent"
    assert dashweb.path_pattern("/dashboards/agents/ta_00002/7/", NAMES) == "/dashboards/agents/<agent>/<n>/"


def test_raw_query_of_a_division_figure():
    query = dashraw.raw_query_for(
        "/dashboards/figure/?range=7d&metric=error_rate_pct&division=novacore-runtime&chart=share", page_range="24h"
    )
    assert query == dashraw.RawQuery(
        metrics=("error_rate_pct",), range=timedelta(days=7), group="agent", agg="avg", divisions=("novacore-runtime",)
    )


def test_raw_query_scope_from_the_path_and_range_from_the_page():
    url = "/dashboards/agents/ta_00002/figure?metric=a,b&group=division&agg=max"
    query = dashraw.raw_query_for(url, page_range="14d")
    assert (query.metrics, query.agents, query.group, query.agg, query.range) == (
        ("a", "b"),
        ("ta_00002",),
        "division",
        "max",
        timedelta(days=14),
    )


@pytest.mark.parametrize(
    "url",
    [
        "/dashboards/figure/?metric=a&from=2026-11-01T00:00&to=2026-11-02T00:00",  # absolute range: not mapped
        "/dashboards/figure/?metric=a&window=3",  # a parameter the mapping does not know
        "/dashboards/figure/?range=7d",  # no metric
        "/dashboards/figure/?metric=a&agg=median",
        "/dashboards/figure/?metric=a&range=soon",
    ],
)
def test_raw_query_is_none_when_the_url_is_not_understood(url):
    assert dashraw.raw_query_for(url, page_range="24h") is None


def test_raw_sql_buckets_from_the_bucket_holding_start():
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    start = datetime(2026, 12, 1, 10, 7, tzinfo=UTC)
    query = dashraw.RawQuery(metrics=("a",), range=timedelta(hours=1), agg="last", agents=("ta_00002",))
    sql, params = dashraw.raw_sql(query, start=start, end=start + timedelta(hours=1), width=300, origin=origin)
    assert params["low"] == datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    assert params["agents"] == ["ta_00002"]
    assert "FROM metrics_point p" in sql and "array_agg(p.value ORDER BY p.ts DESC" in sql
    assert "GROUP BY 1, 2, 3, 4, 5" in sql  # metric, three agent labels, bucket


def test_percentile_interpolates_between_ranks():
    values = [0.01 * n for n in range(1, 101)]
    assert dashweb.percentile(values, 0.5) == pytest.approx(0.505)
    assert dashweb.percentile(values, 0.95) == pytest.approx(0.9505)
    assert dashweb.percentile([3.0], 0.95) == 3.0


def test_summary_ratio_is_the_worst_url_and_unmapped_is_none():
    timings = dashweb.Timings()
    for seconds in (0.010, 0.012, 0.011):
        timings.add("fig", "/f?metric=a", seconds)
        timings.add("fig", "/f?metric=b", seconds * 2)
        timings.add("page HTML", "/", seconds)
    summary = dashreport.summarise(timings, {"/f?metric=a": 1.1, "/f?metric=b": 0.44, "/": None})
    assert summary["fig"]["ratio_vs_raw"] == pytest.approx(0.44 / 0.022)
    assert summary["fig"]["n"] == 6 and summary["fig"]["urls"] == 2
    assert summary["page HTML"]["ratio_vs_raw"] is None and summary["page HTML"]["raw_p50_ms"] is None


def test_agents_are_picked_round_robin_over_divisions():
    divisions = [
        {"division": "a", "handles": ["a1", "a2", "a3"]},
        {"division": "b", "handles": ["b1"]},
        {"division": "c", "handles": ["c1", "c2"]},
    ]
    assert agents_pick(divisions, 5) == [
        {"division": "a", "handles": ["a1", "a2"]},
        {"division": "b", "handles": ["b1"]},
        {"division": "c", "handles": ["c1", "c2"]},
    ]
    with pytest.raises(dashweb.BenchFailed):
        agents_pick(divisions, 7)


def test_fragments_loaded_on_load_count_and_others_do_not():
    page = (
        b'<div class="x" hx-get="/dashboards/overview/cards/?range=7d&amp;tz=UTC" hx-trigger="load"></div>'
        b'<div hx-get="/later/" hx-trigger="revealed"></div><form hx-get="/search/" hx-trigger="keyup changed">'
        b'<div hx-get="/both/" hx-trigger="load, every 60s"></div>'
    )
    assert dashweb.figure_urls(page, page_path="/?range=7d") == [
        "/dashboards/overview/cards/?range=7d&tz=UTC",
        "/both/",
    ]
