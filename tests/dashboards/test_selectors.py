"""dashboards.selectors on known data put in through the real ingestion path (land): the period summary and its
decomposition into rollup pieces, lifecycle counts, reporting cadence and saved views."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from agents.models import Agent
from dashboards import selectors
from dashboards.models import SavedView
from metrics.models import RollupResolution
from tests.factories import AgentFactory, DivisionFactory, DomainFactory

# Midnight UTC 20 days ago: inside retention, and the periods below straddle day and hour boundaries.
DAY0 = (datetime.now(UTC) - timedelta(days=20)).replace(hour=0, minute=0, second=0, microsecond=0)
MINUTE = timedelta(minutes=1)


# --- the pieces a period is read from ---


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (DAY0 + timedelta(hours=22, minutes=35), DAY0 + timedelta(days=3, hours=1, minutes=10)),
        (DAY0 + timedelta(minutes=5), DAY0 + timedelta(minutes=50)),
        (DAY0, DAY0 + timedelta(days=14)),
        (DAY0 + timedelta(hours=3), DAY0 + timedelta(hours=9, minutes=25)),
    ],
)
def test_period_pieces_tile_the_period_exactly_with_the_coarsest_rollups(low, high):
    pieces = selectors.period_pieces(low, high)
    # Contiguous, in order, no overlap, no gap.
    assert pieces[0][1] == low and pieces[-1][2] == high
    assert all(a[2] == b[1] for a, b in zip(pieces, pieces[1:], strict=False))
    for width, start, end in pieces:
        step = timedelta(seconds=width)
        assert (start - DAY0) % step == timedelta(0) and (end - start) % step == timedelta(0)
        assert end > start
    # Nothing finer than needed: no run of 5-minute buckets makes up a whole hour, nor hours a whole day.
    for width, start, end in pieces:
        if width == RollupResolution.FIVE_MINUTES.value:
            assert end - start < timedelta(hours=1)
        if width == RollupResolution.HOUR.value:
            assert end - start < timedelta(days=1)


def test_a_long_period_is_a_handful_of_pieces():
    pieces = selectors.period_pieces(
        DAY0 + timedelta(hours=10, minutes=5), DAY0 + timedelta(days=13, hours=2, minutes=55)
    )
    assert [width for width, _, _ in pieces] == [300, 3600, 86400, 3600, 300]


def test_period_bounds_are_two_equal_periods_of_whole_buckets():
    previous, start, end = selectors.period_bounds(DAY0 + timedelta(minutes=7), DAY0 + timedelta(hours=1, minutes=9))
    assert start == DAY0 + timedelta(minutes=5)
    assert end == DAY0 + timedelta(hours=1, minutes=5)  # the bucket still filling at the end is left out
    assert start - previous == end - start


# --- the period summary ---


@pytest.fixture
def fleet(cast):
    """Two agents in the cast's division, one in another domain's division."""
    other_domain = DomainFactory(name="OrchOps", slug="orchops")
    workflow = DivisionFactory(domain=other_domain, name="Workflow Engineering", slug="workflow-engineering")
    return {
        "runtime": cast.division,
        "workflow": workflow,
        "ta_00001": AgentFactory(handle="ta_00001", callsign="Atlas", division=cast.division),
        "ta_00002": AgentFactory(handle="ta_00002", callsign="Beacon", division=cast.division),
        "ta_00151": AgentFactory(handle="ta_00151", callsign="Meridian", division=workflow),
    }


# The current period is [START, END): 1 day 3 h 15 min across a day boundary, so it is read from daily, hourly and
# 5-minute rollups; the previous one is the same length before it.
START = DAY0 + timedelta(days=2, hours=22, minutes=40)
END = DAY0 + timedelta(days=4, hours=1, minutes=55)
LENGTH = END - START


def points_every(metric, handle, start, end, step, value):
    """(metric, handle, ts, value(n)) every `step` from start (inclusive) to end (exclusive)."""
    out, ts, n = [], start, 0
    while ts < end:
        out.append((metric, handle, ts, value(n)))
        ts, n = ts + step, n + 1
    return out


def test_period_summary_matches_the_points_exactly(fleet, land, django_assert_max_num_queries):
    step = timedelta(minutes=7)
    cur_a = points_every("error_rate_pct", "ta_00001", START, END, step, lambda n: 1.0 + n % 3)
    prev_a = points_every("error_rate_pct", "ta_00001", START - LENGTH, START, step, lambda n: 2.0)
    cur_b = points_every("error_rate_pct", "ta_00002", START + timedelta(hours=5), END, step * 2, lambda n: 5.0)
    handoffs = points_every("handoff_count", "ta_00001", START - LENGTH, END, timedelta(minutes=13), lambda n: 2.0)
    # Outside both periods: must not count.
    outside = [
        ("error_rate_pct", "ta_00001", START - LENGTH - MINUTE, 100.0),
        ("error_rate_pct", "ta_00001", END, 100.0),
    ]
    land(fleet["runtime"], cur_a + prev_a + cur_b + handoffs + outside)

    with django_assert_max_num_queries(1):
        frame = selectors.period_summary(
            metric_keys=["error_rate_pct", "handoff_count"], start=START, end=END, group_by="agent"
        )
    rows = {(r.metric, r.agent, r.period): r for r in frame.itertuples(index=False)}
    a_now = rows[("error_rate_pct", "ta_00001", "current")]
    assert a_now.kind == "gauge" and a_now.count == len(cur_a)
    assert a_now.value == pytest.approx(sum(p[3] for p in cur_a) / len(cur_a))
    assert rows[("error_rate_pct", "ta_00001", "previous")].value == pytest.approx(2.0)
    assert rows[("error_rate_pct", "ta_00001", "previous")].count == len(prev_a)
    assert ("error_rate_pct", "ta_00002", "previous") not in rows  # no point then: no row
    counted = [p for p in handoffs if START <= p[2] < END]
    assert rows[("handoff_count", "ta_00001", "current")].value == pytest.approx(2.0 * len(counted))  # a counter adds
    assert selectors.period_bounds(START, END) == (START - LENGTH, START, END)


def test_period_summary_groups_by_division_and_domain_and_filters(fleet, land):
    ts = START + timedelta(hours=1)
    land(fleet["runtime"], [("error_rate_pct", "ta_00001", ts, 1.0), ("error_rate_pct", "ta_00002", ts, 4.0)])
    land(fleet["workflow"], [("error_rate_pct", "ta_00151", ts, 10.0), ("error_rate_pct", None, ts, 20.0)])
    by_division = selectors.period_summary(metric_keys=["error_rate_pct"], start=START, end=END, group_by="division")
    assert dict(zip(by_division["division"], by_division["value"], strict=True)) == {
        "novacore-runtime": 2.5,
        "workflow-engineering": 15.0,
    }
    by_domain = selectors.period_summary(metric_keys=["error_rate_pct"], start=START, end=END, group_by="domain")
    assert dict(zip(by_domain["domain"], by_domain["value"], strict=True)) == {"novaops": 2.5, "orchops": 15.0}
    one = selectors.period_summary(
        metric_keys=["error_rate_pct"], start=START, end=END, group_by="agent", agent_ids=[fleet["ta_00002"].pk]
    )
    assert list(one["agent"]) == ["ta_00002"] and list(one["value"]) == [4.0]


def test_period_summary_of_nothing_is_an_empty_frame(db):
    frame = selectors.period_summary(metric_keys=["error_rate_pct"], start=START, end=END)
    assert frame.empty
    assert list(frame.columns) == ["metric", "kind", "agent", "callsign", "division", "period", "sum", "count", "value"]


# --- lifecycle, cadence, saved views ---


def test_lifecycle_counts_per_division_in_one_query(fleet, django_assert_max_num_queries):
    AgentFactory(handle="ta_00003", division=fleet["runtime"], lifecycle_state=Agent.Lifecycle.PAUSED)
    with django_assert_max_num_queries(1):
        counts = selectors.lifecycle_counts()
    got = {(r.division, r.state): r.agents for r in counts.itertuples(index=False)}
    assert got == {
        ("novacore-runtime", "active"): 2,
        ("novacore-runtime", "paused"): 1,
        ("workflow-engineering", "active"): 1,
    }
    assert set(counts["domain"]) == {"novaops", "orchops"}


def test_reporting_cadence_gives_last_seen_and_the_usual_interval(fleet, land, django_assert_max_num_queries):
    last = DAY0 + timedelta(days=1, hours=6, minutes=3)
    minutely = points_every("error_rate_pct", "ta_00001", last - timedelta(hours=3), last + MINUTE, MINUTE, lambda n: 1)
    quarterly = points_every(
        "error_rate_pct", "ta_00002", last - timedelta(hours=6), last + MINUTE, timedelta(minutes=15), lambda n: 1
    )
    land(fleet["runtime"], minutely + quarterly + [("error_rate_pct", None, last, 1.0)])
    with django_assert_max_num_queries(1):
        cadence = selectors.reporting_cadence()
    rows = cadence.set_index("agent")
    assert list(rows.index) == ["ta_00001", "ta_00002"]  # division-level series are nobody's
    assert rows.loc["ta_00001", "last_seen"] == pd.Timestamp(last)
    # The window starts at the first hour bucket, a few minutes before the first point: close to the interval.
    assert 55 <= rows.loc["ta_00001", "interval_seconds"] <= 65
    assert 14 * 60 <= rows.loc["ta_00002", "interval_seconds"] <= 16 * 60
    assert rows.loc["ta_00001", "state"] == "active" and rows.loc["ta_00001", "division"] == "novacore-runtime"


def test_saved_view_list_is_by_name(db, django_assert_max_num_queries):
    SavedView.objects.create(name="zeta", page="explore", query="metric=error_rate_pct")
    SavedView.objects.create(name="Alpha", page="compare", query="metric=handoff_count")
    with django_assert_max_num_queries(1):
        names = [view.name for view in selectors.saved_view_list()]
    assert names == ["Alpha", "zeta"]


def test_division_buckets_give_the_same_lines_as_series_aggregate_by_division_and_domain(
    fleet, land, django_assert_max_num_queries
):
    from dashboards import analytics
    from metrics.selectors import series_aggregate

    hour = timedelta(hours=1)
    land(
        fleet["runtime"],
        points_every("error_rate_pct", "ta_00001", START, START + 6 * hour, 10 * MINUTE, lambda n: 1.0 + n)
        + points_every("error_rate_pct", "ta_00002", START, START + 6 * hour, 30 * MINUTE, lambda n: 7.0),
    )
    land(
        fleet["workflow"],
        points_every("error_rate_pct", "ta_00151", START, START + 6 * hour, 20 * MINUTE, lambda n: 3.0)
        + points_every("error_rate_pct", None, START, START + 6 * hour, 60 * MINUTE, lambda n: 5.0),
    )
    with django_assert_max_num_queries(1):
        buckets = selectors.division_buckets(metric_keys=["error_rate_pct"], start=START, end=END, width=3600)
    domain_of = {"novacore-runtime": "novaops", "workflow-engineering": "orchops"}
    for level, by in (("division", buckets["division"]), ("domain", buckets["division"].map(domain_of))):
        ours = analytics.line_averages(buckets, by, level)
        theirs = series_aggregate(
            metric_keys=["error_rate_pct"], start=START, end=END, group_by=level, resolution=3600, max_series=None
        )
        assert list(ours[level]) == list(theirs[level])
        assert list(ours["bucket"]) == list(theirs["bucket"])
        assert ours["value"].tolist() == pytest.approx(theirs["value"].tolist())
