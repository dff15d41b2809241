"""dashboards.analytics on known series: the anomaly detector, change and tone, regrouping, top movers, stopped
reporting and the overview's anomaly list."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboards import analytics

T0 = pd.Timestamp("2026-11-01T00:00:00Z")


def agent_frame(values_by_agent: dict[str, list[float]], metric: str = "error_rate_pct", step_minutes: int = 60):
    """A series_aggregate-shaped frame grouped by agent."""
    rows = []
    for handle, values in values_by_agent.items():
        for n, value in enumerate(values):
            rows.append(
                {
                    "metric": metric,
                    "agent": handle,
                    "callsign": handle.upper(),
                    "division": "runtime",
                    "bucket": T0 + pd.Timedelta(minutes=step_minutes * n),
                    "value": value,
                }
            )
    return pd.DataFrame(rows)


# --- anomaly marks ---


def test_a_flat_series_with_one_spike_gets_exactly_one_mark():
    values = [10.0] * 40
    values[30] = 25.0
    marks = analytics.anomaly_marks(agent_frame({"ta_00001": values}))
    assert len(marks) == 1
    assert marks.iloc[0]["bucket"] == T0 + pd.Timedelta(hours=30)
    assert marks.iloc[0]["score"] > 0


def test_noisy_series_marks_only_the_break_and_not_the_points_after_it():
    rng = np.random.default_rng(7)
    values = list(10 + rng.normal(0, 0.5, 60))
    values[45] = 30.0
    marks = analytics.anomaly_marks(agent_frame({"ta_00001": values}))
    assert list(marks["bucket"]) == [T0 + pd.Timedelta(hours=45)]
    # 20 above a median of about 10, in robust deviations of about 0.5: around 40.
    assert 20 < marks.iloc[0]["score"] < 80


def test_each_line_is_judged_against_its_own_behaviour():
    low, high = [1.0, 1.1] * 20, [100.0, 101.0] * 20
    marks = analytics.anomaly_marks(agent_frame({"ta_00001": low, "ta_00002": high}))
    assert marks.empty


# --- change and tone ---


def test_relative_change():
    change = analytics.relative_change(pd.Series([12.0, 5.0, 0.0, 3.0, 4.0]), pd.Series([10.0, 10.0, 0.0, 0.0, np.nan]))
    assert change.iloc[0] == pytest.approx(0.2)
    assert change.iloc[1] == pytest.approx(-0.5)
    assert change.iloc[2] == 0.0  # nothing to nothing
    assert np.isnan(change.iloc[3])  # from zero: no relative size
    assert np.isnan(change.iloc[4])  # no previous period


@pytest.mark.parametrize(
    ("change", "better", "tone"),
    [
        (0.2, "lower", "bad"),  # error rate up
        (-0.2, "lower", "good"),
        (0.2, "higher", "good"),  # throughput up
        (-0.2, "higher", "bad"),
        (0.2, "neutral", "neutral"),
        (0.005, "lower", "flat"),
        (np.nan, "higher", "flat"),
    ],
)
def test_tone_follows_the_metric_direction(change, better, tone):
    assert analytics.change_tone(change, better) == tone
    assert analytics.change_tones(pd.Series([change]), pd.Series([better])).iloc[0] == tone


def summary(rows):
    return pd.DataFrame(rows, columns=["metric", "kind", "agent", "division", "period", "sum", "count"]).assign(
        value=lambda f: (f["sum"] / f["count"]).where(f["kind"] == "gauge", f["sum"])
    )


def test_regroup_weighs_gauges_by_points_and_adds_counters():
    frame = summary(
        [
            ("error_rate_pct", "gauge", "ta_1", "runtime", "current", 10.0, 10),  # avg 1
            ("error_rate_pct", "gauge", "ta_2", "runtime", "current", 30.0, 5),  # avg 6
            ("handoff_count", "counter", "ta_1", "runtime", "current", 7.0, 3),
            ("handoff_count", "counter", "ta_2", "runtime", "current", 5.0, 2),
        ]
    )
    out = analytics.summary_regroup(frame, frame["division"], "division").set_index("metric")
    assert out.loc["error_rate_pct", "value"] == pytest.approx(40 / 15)  # not (1 + 6) / 2
    assert out.loc["handoff_count", "value"] == 12.0


def test_period_changes_pairs_the_periods_and_colours_them():
    frame = summary(
        [
            ("error_rate_pct", "gauge", "ta_1", "runtime", "current", 30.0, 10),
            ("error_rate_pct", "gauge", "ta_1", "runtime", "previous", 20.0, 10),
            ("error_rate_pct", "gauge", "ta_2", "runtime", "current", 10.0, 10),  # new: no previous period
        ]
    )
    changes = analytics.period_changes(frame, ["agent"], {"error_rate_pct": "lower"}).set_index("agent")
    assert changes.loc["ta_1", "current"] == 3.0 and changes.loc["ta_1", "previous"] == 2.0
    assert changes.loc["ta_1", "change"] == pytest.approx(0.5)
    assert changes.loc["ta_1", "tone"] == "bad"
    assert np.isnan(changes.loc["ta_2", "change"]) and changes.loc["ta_2", "tone"] == "flat"


# --- top movers ---


def movers_input(rows):
    frame = pd.DataFrame(rows, columns=["level", "key", "metric", "current", "previous"])
    frame["change"] = analytics.relative_change(frame["current"], frame["previous"])
    return frame


BETTER = {"error_rate_pct": "lower", "throughput_tasks_per_min": "higher", "handoff_count": "neutral"}


def test_top_movers_put_regressions_first_then_by_size():
    rows = [
        ("agent", "ta_1", "throughput_tasks_per_min", 30.0, 10.0),  # +200 %, good
        ("agent", "ta_2", "error_rate_pct", 1.2, 1.0),  # +20 %, bad
        ("agent", "ta_3", "error_rate_pct", 2.0, 1.0),  # +100 %, bad
        ("division", "runtime", "throughput_tasks_per_min", 9.0, 10.0),  # -10 %, bad
        ("agent", "ta_4", "handoff_count", 20.0, 10.0),  # +100 %, neutral
        ("agent", "ta_5", "error_rate_pct", 1.001, 1.0),  # flat: left out
    ]
    movers = analytics.top_movers(movers_input(rows), BETTER)
    assert list(movers["key"]) == ["ta_3", "ta_2", "runtime", "ta_1", "ta_4"]
    assert list(movers["tone"]) == ["bad", "bad", "bad", "good", "neutral"]


def test_a_near_zero_base_does_not_dominate_the_movers():
    rows = [
        ("agent", "ta_1", "error_rate_pct", 0.2, 0.001),  # +19,900 % on a base of nothing
        ("agent", "ta_2", "error_rate_pct", 3.0, 1.0),  # +200 %
        ("agent", "ta_3", "error_rate_pct", 1.0, 1.0),
        ("agent", "ta_4", "error_rate_pct", 1.0, 1.0),
    ]
    movers = analytics.top_movers(movers_input(rows), BETTER)
    # The floor is a tenth of the typical base (1.0): ta_1 counts as +0.2 / 0.1 = 199 %... just below ta_2.
    assert list(movers["key"]) == ["ta_2", "ta_1"]
    assert movers.iloc[1]["score"] == pytest.approx(0.199 / 0.1)


def test_top_movers_keep_the_limit():
    rows = [("agent", f"ta_{n}", "error_rate_pct", 1.0 + n, 1.0) for n in range(1, 30)]
    assert len(analytics.top_movers(movers_input(rows), BETTER, limit=10)) == 10


# --- stopped reporting ---


def test_stopped_reporting_uses_each_agents_own_interval():
    now = pd.Timestamp(datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    cadence = pd.DataFrame(
        [
            ("ta_1", "A", "runtime", "active", now - timedelta(minutes=20), 60.0),  # 20 min > 15 min floor: stopped
            ("ta_2", "B", "runtime", "active", now - timedelta(minutes=10), 60.0),  # under the 15 min floor
            ("ta_3", "C", "tools", "active", now - timedelta(minutes=50), 900.0),  # under 3 × 15 min... 45 < 50
            ("ta_4", "D", "tools", "active", now - timedelta(minutes=40), 900.0),  # within 3 intervals
            ("ta_5", "E", "tools", "retired", now - timedelta(days=3), 60.0),  # retired: expected to be quiet
            ("ta_6", "F", "runtime", "active", now - timedelta(hours=5), 60.0),
        ],
        columns=["agent", "callsign", "division", "state", "last_seen", "interval_seconds"],
    )
    stopped = analytics.stopped_reporting(cadence, now)
    assert list(stopped["agent"]) == ["ta_6", "ta_1", "ta_3"]
    assert stopped.iloc[0]["silent_seconds"] == 5 * 3600


def test_stopped_reporting_of_nothing_is_empty():
    empty = pd.DataFrame(columns=["agent", "callsign", "division", "state", "last_seen", "interval_seconds"])
    assert analytics.stopped_reporting(empty, pd.Timestamp.now(tz="UTC")).empty


# --- the overview's anomaly list ---


def test_anomaly_list_orders_by_size_and_clips_flat_series_for_display():
    # The detector needs two windows' worth of warm-up (a median, then a MAD of deviations from it): 40 points.
    flat = [50.0] * 40
    flat[35] = 51.0  # a flat line's step: an absurd score
    rng = np.random.default_rng(3)
    noisy = list(10 + rng.normal(0, 1, 40))
    noisy[30] = 25.0
    marks = analytics.anomaly_marks(agent_frame({"ta_00001": flat, "ta_00002": noisy}))
    listed = analytics.anomaly_list(marks)
    assert list(listed["agent"]) == ["ta_00001", "ta_00002"]
    assert listed.iloc[0]["display_score"] == analytics.SCORE_DISPLAY_MAX and listed.iloc[0]["clipped"]
    assert not listed.iloc[1]["clipped"] and listed.iloc[1]["display_score"] == listed.iloc[1]["score"]


def test_anomaly_list_keeps_the_limit():
    values = {f"ta_{n:05d}": [1.0] * 30 + [9.0] for n in range(1, 15)}
    assert len(analytics.anomaly_list(analytics.anomaly_marks(agent_frame(values)), limit=5)) == 5
