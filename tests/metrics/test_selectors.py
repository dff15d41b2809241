"""metrics.selectors: resolution choice, aggregation of rollups into groups, and what the query reads."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from metrics.models import ROLLUP_ORIGIN, Metric, Point, Rollup
from metrics.selectors import (
    MAX_POINTS,
    DivisionCapUse,
    TooManySeries,
    bucket_count,
    bucket_floor,
    division_cap_use,
    metric_catalogue,
    metric_get,
    metric_list,
    resolution_for,
    series_aggregate,
)
from metrics.services.batches import batch_accept
from tests.factories import AgentFactory, DivisionFactory, DomainFactory

# Midnight UTC 40 days ago: inside the 90-day retention, and every bucket boundary below is a round number.
DAY0 = (datetime.now(UTC) - timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
T0 = DAY0 + timedelta(hours=10)


# --- resolution ---


@pytest.mark.parametrize(
    ("span", "resolution"),
    [
        (timedelta(hours=1), 300),
        (timedelta(hours=24), 300),
        (timedelta(days=3), 300),
        (timedelta(days=30), 3600),
        (timedelta(days=365), 86400),
        (timedelta(days=1000), 86400),
        (timedelta(days=1001), 2 * 86400),
        (timedelta(days=5 * 365), 2 * 86400),
        (timedelta(days=3001), 4 * 86400),
    ],
)
def test_resolution_is_the_finest_that_keeps_a_series_at_1000_points(span, resolution):
    assert resolution_for(DAY0 - span, DAY0) == resolution
    assert bucket_count(DAY0 - span, DAY0, resolution) <= MAX_POINTS


def test_an_unaligned_range_counts_the_partial_buckets_at_both_ends():
    start = DAY0 + timedelta(minutes=2)
    assert bucket_count(start, start + timedelta(minutes=5), 300) == 2
    assert bucket_count(DAY0, DAY0 + timedelta(minutes=5), 300) == 1
    # 3 days and a bit: 866 five-minute buckets still fit; 1,000 buckets and one more do not.
    assert resolution_for(start, start + timedelta(days=3)) == 300
    assert resolution_for(DAY0, DAY0 + timedelta(minutes=5 * 1001)) == 3600


@given(
    start=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    span=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=1830)),
)
def test_every_range_gets_at_most_1000_buckets_at_the_finest_width_that_allows_it(start, span):
    end = start + span
    resolution = resolution_for(start, end)
    assert bucket_count(start, end, resolution) <= MAX_POINTS
    finer = [300, 3600, 86400] + [days * 86400 for days in range(2, resolution // 86400)]
    assert all(bucket_count(start, end, width) > MAX_POINTS for width in finer if width < resolution)


# --- aggregation ---


@pytest.fixture
def teams(db):
    """An organisation of two domains: NovaOps has two divisions (A1, A2 | A3), OrchOps one (A4)."""
    novaops = DomainFactory(slug="novaops", name="NovaOps")
    orchops = DomainFactory(slug="orchops", name="OrchOps")
    runtime = DivisionFactory(domain=novaops, slug="novacore-runtime", name="NovaCore Runtime")
    tools = DivisionFactory(domain=novaops, slug="tool-ecosystem", name="Tool Ecosystem")
    scheduling = DivisionFactory(domain=orchops, slug="resource-scheduling", name="Resource Scheduling")
    return {
        "novaops": novaops,
        "orchops": orchops,
        "runtime": runtime,
        "tools": tools,
        "scheduling": scheduling,
        "a1": AgentFactory(handle="ta_00001", callsign="Atlas", division=runtime),
        "a2": AgentFactory(handle="ta_00002", callsign="Beacon", division=runtime),
        "a3": AgentFactory(handle="ta_00003", callsign="Cipher", division=tools),
        "a4": AgentFactory(handle="ta_00004", callsign="Delta", division=scheduling),
    }


@pytest.fixture
def landed(teams, land):
    """Points inside the five minutes from T0 (10:00), so they share a bucket at every resolution."""
    s = timedelta(seconds=1)
    land(teams["runtime"], [("latency_p95_ms", "ta_00001", T0, 10.0), ("latency_p95_ms", "ta_00001", T0 + 60 * s, 20.0),
                          ("latency_p95_ms", "ta_00002", T0 + 30 * s, 40.0)])  # fmt: skip
    land(teams["tools"], [("latency_p95_ms", "ta_00003", T0 + 120 * s, 1.0),
                        ("latency_p95_ms", "ta_00003", T0 + 240 * s, 3.0)])  # fmt: skip
    land(teams["scheduling"], [("latency_p95_ms", "ta_00004", T0 + 10 * s, 100.0)])
    return teams


def _values(frame: pd.DataFrame, label: str) -> dict:
    return {row[label]: row["value"] for row in frame.to_dict("records")}


EXPECTED = {
    # agg: ({division: value}, {domain: value})
    "avg": ({"novacore-runtime": 70 / 3, "tool-ecosystem": 2.0, "resource-scheduling": 100.0},
            {"novaops": 74 / 5, "orchops": 100.0}),
    "sum": ({"novacore-runtime": 70.0, "tool-ecosystem": 4.0, "resource-scheduling": 100.0},
            {"novaops": 74.0, "orchops": 100.0}),
    "min": ({"novacore-runtime": 10.0, "tool-ecosystem": 1.0, "resource-scheduling": 100.0},
            {"novaops": 1.0, "orchops": 100.0}),
    "max": ({"novacore-runtime": 40.0, "tool-ecosystem": 3.0, "resource-scheduling": 100.0},
            {"novaops": 40.0, "orchops": 100.0}),
    "count": ({"novacore-runtime": 3, "tool-ecosystem": 2, "resource-scheduling": 1},
              {"novaops": 5, "orchops": 1}),
    # The latest point of the group: ta_00001's 10:01 in the runtime division, ta_00003's 10:04 in NovaOps.
    "last": ({"novacore-runtime": 20.0, "tool-ecosystem": 3.0, "resource-scheduling": 100.0},
             {"novaops": 3.0, "orchops": 100.0}),
}  # fmt: skip


@pytest.mark.parametrize("resolution", [300, 3600, 86400, 2 * 86400])
@pytest.mark.parametrize("agg", list(EXPECTED))
def test_agents_aggregate_into_divisions_and_domains(landed, agg, resolution):
    window = {"start": T0, "end": T0 + timedelta(minutes=5), "resolution": resolution}

    by_division = series_aggregate(metric_keys=["latency_p95_ms"], group_by="division", agg=agg, **window)
    by_domain = series_aggregate(metric_keys=["latency_p95_ms"], group_by="domain", agg=agg, **window)

    divisions, domains = EXPECTED[agg]
    assert _values(by_division, "division") == pytest.approx(divisions)
    assert _values(by_domain, "domain") == pytest.approx(domains)
    # One bucket each, labelled with its origin-aligned start (a 2-day bucket may start the day before).
    buckets = set(by_division["bucket"]) | set(by_domain["bucket"])
    width = timedelta(seconds=resolution)
    assert buckets == {ROLLUP_ORIGIN + ((T0 - ROLLUP_ORIGIN) // width) * width}
    assert by_division.attrs["resolution_seconds"] == resolution
    if agg == "count":
        assert by_division["value"].dtype == "int64"


def test_group_by_agent_labels_each_agent_with_callsign_and_division(landed):
    frame = series_aggregate(
        metric_keys=["latency_p95_ms"], start=T0, end=T0 + timedelta(hours=1), group_by="agent", agg="avg"
    )

    assert list(frame.columns) == ["metric", "agent", "callsign", "division", "bucket", "value"]
    assert [tuple(row) for row in frame[["metric", "agent", "callsign", "division", "value"]].to_numpy()] == [
        ("latency_p95_ms", "ta_00001", "Atlas", "novacore-runtime", 15.0),
        ("latency_p95_ms", "ta_00002", "Beacon", "novacore-runtime", 40.0),
        ("latency_p95_ms", "ta_00003", "Cipher", "tool-ecosystem", 2.0),
        ("latency_p95_ms", "ta_00004", "Delta", "resource-scheduling", 100.0),
    ]
    assert frame.attrs["resolution_seconds"] == 300
    assert set(frame["bucket"]) == {pd.Timestamp(T0)}


def test_filters_choose_series_by_agent_division_and_domain(landed):
    def groups(**filters) -> list[str]:
        frame = series_aggregate(
            metric_keys=["latency_p95_ms"], start=T0, end=T0 + timedelta(hours=1), group_by="agent", **filters
        )
        return frame["agent"].tolist()

    assert groups(agent_ids=[landed["a2"].pk, landed["a4"].pk]) == ["ta_00002", "ta_00004"]
    assert groups(division_ids=[landed["tools"].pk]) == ["ta_00003"]
    assert groups(domain_ids=[landed["novaops"].pk]) == ["ta_00001", "ta_00002", "ta_00003"]
    assert groups(domain_ids=[landed["novaops"].pk], division_ids=[landed["scheduling"].pk]) == []
    assert groups(agent_ids=[]) == []


def test_metrics_are_separate_series_and_division_level_series_group_per_division(teams, land):
    land(teams["runtime"], [("latency_p95_ms", "ta_00001", T0, 5.0), ("queue_backlog", None, T0, 7.0),
                          ("queue_backlog", "ta_00002", T0, 2.0)])  # fmt: skip
    land(teams["tools"], [("queue_backlog", None, T0, 9.0)])

    frame = series_aggregate(
        metric_keys=["queue_backlog", "latency_p95_ms"], start=T0, end=T0 + timedelta(minutes=5), agg="sum"
    )

    assert frame[["metric", "agent", "callsign", "division", "value"]].to_dict("records") == [
        {"metric": "latency_p95_ms", "agent": "ta_00001", "callsign": "Atlas", "division": "novacore-runtime",
         "value": 5.0},
        {"metric": "queue_backlog", "agent": "ta_00002", "callsign": "Beacon", "division": "novacore-runtime",
         "value": 2.0},
        {"metric": "queue_backlog", "agent": None, "callsign": None, "division": "novacore-runtime", "value": 7.0},
        {"metric": "queue_backlog", "agent": None, "callsign": None, "division": "tool-ecosystem", "value": 9.0},
    ]  # fmt: skip


def test_past_max_series_pairs_nothing_is_read(teams, land, django_assert_num_queries):
    # Four (metric, group) pairs, two of them division-level (no agent) and told apart by their division.
    land(teams["runtime"], [("latency_p95_ms", "ta_00001", T0, 5.0), ("queue_backlog", None, T0, 7.0),
                          ("queue_backlog", "ta_00002", T0, 2.0)])  # fmt: skip
    land(teams["tools"], [("queue_backlog", None, T0, 9.0)])
    window = {"metric_keys": ["queue_backlog", "latency_p95_ms"], "start": T0, "end": T0 + timedelta(minutes=5)}

    assert len(series_aggregate(max_series=4, **window)) == 4
    with django_assert_num_queries(1), pytest.raises(TooManySeries) as raised:
        series_aggregate(max_series=3, **window)
    assert (raised.value.found, raised.value.limit) == (4, 3)
    assert len(series_aggregate(max_series=2, group_by="domain", **window)) == 2  # one domain, two metrics
    assert len(series_aggregate(max_series=None, **window)) == 4


def test_tags_of_one_agent_merge_into_its_group(teams, land, django_capture_on_commit_callbacks):
    body = {"points": [
        {"metric": "latency_p95_ms", "agent": "ta_00001", "ts": T0.isoformat(), "value": 4.0, "tags": {"r": "eu"}},
        {"metric": "latency_p95_ms", "agent": "ta_00001", "ts": T0.isoformat(), "value": 8.0, "tags": {"r": "us"}},
    ]}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        batch_accept(division=teams["runtime"], token=None, body=json.dumps(body).encode())

    frame = series_aggregate(metric_keys=["latency_p95_ms"], start=T0, end=T0 + timedelta(minutes=5), agg="avg")

    assert frame[["agent", "value"]].to_dict("records") == [{"agent": "ta_00001", "value": 6.0}]


def test_buckets_overlapping_the_range_are_included_whole_and_the_end_is_exclusive(teams, land):
    land(teams["runtime"], [("uptime_pct", "ta_00001", T0 + timedelta(minutes=m), float(m)) for m in range(0, 30)])

    frame = series_aggregate(
        metric_keys=["uptime_pct"], start=T0 + timedelta(minutes=7), end=T0 + timedelta(minutes=20), agg="count"
    )

    # 10:05 (holds 10:07), 10:10, 10:15; the 10:20 bucket starts at the end and is left out.
    assert frame["bucket"].dt.strftime("%H:%M").tolist() == ["10:05", "10:10", "10:15"]
    assert frame["value"].tolist() == [5, 5, 5]


def test_an_empty_answer_has_the_columns_and_types(teams):
    frame = series_aggregate(metric_keys=["uptime_pct"], start=T0, end=T0 + timedelta(hours=1), group_by="domain")

    assert list(frame.columns) == ["metric", "domain", "name", "bucket", "value"]
    assert frame.empty and str(frame["bucket"].dtype) == "datetime64[us, UTC]" and frame["value"].dtype == "float64"


def test_bad_arguments_are_programming_errors(teams):
    window = {"metric_keys": ["uptime_pct"], "start": T0, "end": T0 + timedelta(hours=1)}
    with pytest.raises(ValueError, match="group_by"):
        series_aggregate(group_by="team", **window)
    with pytest.raises(ValueError, match="agg"):
        series_aggregate(agg="median", **window)
    with pytest.raises(ValueError, match="resolution"):
        series_aggregate(resolution=600, **window)


# --- point counts, cost and what is read ---


@pytest.fixture
def dense(teams, land):
    """ta_00001: a point an hour for 27 days, then one every 5 minutes for 3 days; returns (end, timestamps)."""
    end = DAY0 + timedelta(days=30)
    hourly = [DAY0 + timedelta(hours=h) for h in range(27 * 24)]
    fine = [end - timedelta(days=3) + timedelta(minutes=5 * i) for i in range(3 * 288)]
    land(teams["runtime"], [("latency_p95_ms", "ta_00001", ts, float(n % 97)) for n, ts in enumerate(hourly + fine)])
    return end, hourly + fine


@pytest.mark.parametrize(
    ("span", "resolution", "points"),
    [
        (timedelta(hours=1), 300, 12),
        (timedelta(days=3), 300, 864),
        (timedelta(days=30), 3600, 720),
        (timedelta(days=365), 86400, 30),  # the data covers 30 days
        (timedelta(days=1500), 2 * 86400, None),  # 15 or 16, depending on where DAY0 falls in the 2-day grid
    ],
)
def test_a_series_never_has_more_than_about_1000_points(dense, span, resolution, points):
    end, stamps = dense
    start = end - span

    frame = series_aggregate(metric_keys=["latency_p95_ms"], start=start, end=end, agg="count")

    assert frame.attrs["resolution_seconds"] == resolution
    low = bucket_floor(start, resolution)
    inside = [ts for ts in stamps if low <= ts < end]
    assert len(frame) == len({bucket_floor(ts, resolution) for ts in inside}) <= MAX_POINTS
    if points is not None:
        assert len(frame) == points
    # Whatever the resolution, every point in the buckets is counted once.
    assert frame["value"].sum() == len(inside)


def test_the_answer_comes_from_rollups_alone(dense):
    end = dense[0]
    ranges = [(end - timedelta(days=d), end) for d in (1, 3, 30, 365, 1500)]

    def answers() -> list[pd.DataFrame]:
        return [
            series_aggregate(metric_keys=["latency_p95_ms"], start=start, end=end, group_by=group_by, agg=agg)
            for start, end in ranges
            for group_by in ("agent", "domain")
            for agg in ("avg", "last")
        ]

    with CaptureQueriesContext(connection) as queries:
        before = answers()
    assert not [q["sql"] for q in queries if "metrics_point" in q["sql"]]

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM metrics_point")
    assert Point.objects.count() == 0 and Rollup.objects.exists()

    for earlier, now in zip(before, answers(), strict=True):
        pd.testing.assert_frame_equal(earlier, now)
    assert all(not frame.empty for frame in before)


@pytest.mark.parametrize("agents", [2, 40])
def test_two_queries_whatever_the_number_of_series(teams, land, django_assert_num_queries, agents):
    handles = [f"ta_{100 + n:05d}" for n in range(agents)]
    for handle in handles:
        AgentFactory(handle=handle, division=teams["runtime"])
    land(teams["runtime"], [("uptime_pct", h, T0 + timedelta(hours=i), 99.0) for h in handles for i in range(24)])

    # the series count, then the aggregate
    with django_assert_num_queries(2):
        frame = series_aggregate(metric_keys=["uptime_pct"], start=T0, end=T0 + timedelta(days=1))

    assert frame["agent"].nunique() == agents and len(frame) == agents * 24


# --- catalogue ---


def test_catalogue_selectors(db):
    assert list(metric_list().values_list("key", flat=True)) == sorted(Metric.objects.values_list("key", flat=True))
    assert metric_get(key="latency_p95_ms").unit == "ms"
    with pytest.raises(Metric.DoesNotExist):
        metric_get(key="nope")


@pytest.fixture
def reported(cast, land):
    """The cast's division: three series of latency_p95_ms (two agents, one division-level) and one of a discovered
    metric; the other division: one series of latency_p95_ms and one of a second discovered metric."""
    for key in ("http_requests", "gc_pause_seconds"):
        Metric.objects.create(key=key, name=key, discovered_from="otlp", needs_review=True)
    agents = [AgentFactory(division=cast.division).handle for _ in range(2)]
    land(
        cast.division,
        [("latency_p95_ms", handle, T0, 1.0) for handle in [*agents, None]] + [("http_requests", None, T0, 2.0)],
    )
    land(cast.other_division, [("latency_p95_ms", None, T0, 1.0), ("gc_pause_seconds", None, T0, 1.0)])


def test_the_catalogue_lists_discovered_metrics_first_with_every_divisions_series_count(
    reported, django_assert_num_queries
):
    with django_assert_num_queries(1):
        rows = list(metric_catalogue())

    assert [metric.key for metric in rows[:2]] == ["gc_pause_seconds", "http_requests"]
    assert [metric.key for metric in rows[2:]] == sorted(metric.key for metric in rows[2:])
    counts = {metric.key: metric.series_count for metric in rows}
    assert counts["latency_p95_ms"] == 4 and counts["http_requests"] == 1 and counts["uptime_pct"] == 0


def test_the_catalogue_searches_and_narrows_to_the_review_queue_and_a_division(reported, cast):
    def keys(**filters) -> list[str]:
        return [metric.key for metric in metric_catalogue(**filters)]

    Metric.objects.filter(key="uptime_pct").update(description="Minutes the agent ANSWERED pings.")
    assert keys(search="answered") == ["uptime_pct"]
    assert keys(search="HTTP_") == ["http_requests"]
    assert keys(needs_review=True) == ["gc_pause_seconds", "http_requests"]
    assert keys(division_id=cast.division.pk) == ["http_requests", "latency_p95_ms"]
    assert keys(division_id=cast.other_division.pk, needs_review=True) == ["gc_pause_seconds"]


def test_cap_use_counts_the_divisions_metric_names_series_and_unreviewed_metrics(
    reported, cast, settings, django_assert_num_queries
):
    settings.METRICS_DIVISION_MAX_METRICS, settings.METRICS_DIVISION_MAX_SERIES = 5, 50

    with django_assert_num_queries(1):
        use = division_cap_use(division_id=cast.division.pk)

    assert use == DivisionCapUse(metrics=2, max_metrics=5, series=4, max_series=50, needs_review=1)
    assert division_cap_use(division_id=cast.other_division.pk)[::2] == (2, 2, 1)
    Metric.objects.filter(key="http_requests").update(needs_review=False)
    assert division_cap_use(division_id=cast.division.pk).needs_review == 0


def test_cap_use_of_a_division_without_series_is_zero(cast):
    use = division_cap_use(division_id=cast.division.pk)
    assert (use.metrics, use.series, use.needs_review) == (0, 0, 0)
    assert (use.max_metrics, use.max_series) == (200, 20_000)


# --- grouping by a tag ---


def test_group_by_a_tag_key_forms_one_group_per_value_and_one_for_series_without_it(
    teams, django_capture_on_commit_callbacks
):
    body = {"points": [
        {"metric": "latency_p95_ms", "agent": "ta_00001", "ts": T0.isoformat(), "value": 4.0, "tags": {"r": "eu"}},
        {"metric": "latency_p95_ms", "agent": "ta_00002", "ts": T0.isoformat(), "value": 8.0, "tags": {"r": "eu"}},
        {"metric": "latency_p95_ms", "agent": "ta_00001", "ts": T0.isoformat(), "value": 1.0, "tags": {"r": "us"}},
        {"metric": "latency_p95_ms", "agent": "ta_00002", "ts": T0.isoformat(), "value": 30.0},
    ]}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        batch_accept(division=teams["runtime"], token=None, body=json.dumps(body).encode())

    frame = series_aggregate(
        metric_keys=["latency_p95_ms"], start=T0, end=T0 + timedelta(minutes=5), group_by="tag:r", agg="avg"
    )

    assert list(frame.columns) == ["metric", "tag", "name", "bucket", "value"]
    assert _values(frame, "tag") == {"(none)": 30.0, "eu": 6.0, "us": 1.0}
    assert (frame["tag"] == frame["name"]).all()


def test_group_by_an_empty_tag_key_is_a_programming_error(teams):
    with pytest.raises(ValueError, match="group_by"):
        series_aggregate(metric_keys=["uptime_pct"], start=T0, end=T0 + timedelta(hours=1), group_by="tag:")
