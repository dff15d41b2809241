from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from agents.demo import demo_organisation_seed
from agents.models import DivisionToken
from metrics.demo import AGENT_METRICS, SILENT_FOR, division_points, is_silent, live_points, value_at
from metrics.models import IngestBatch, Point, Rollup


def test_values_are_deterministic_and_in_range():
    moment = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    for metric, spec in AGENT_METRICS.items():
        first = value_at("ta_00008", metric, moment, spec)
        assert first == value_at("ta_00008", metric, moment, spec)
        assert spec[3] <= first <= spec[4]


def test_live_points_cover_every_agent_metric_and_division_metric():
    points = live_points(division_slug="tool-ecosystem", handles=["ta_00061", "ta_00062"], moment=datetime.now(UTC))
    assert len(points) == 2 * len(AGENT_METRICS) + 3
    assert {p.get("agent") for p in points} == {"ta_00061", "ta_00062", None}


def test_a_silent_agent_stops_reporting_before_the_end_and_stays_silent():
    end = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    points = list(
        division_points(division_slug="d", handles=["ta_00004", "ta_00061"], start=end - timedelta(days=1), end=end)
    )
    last = {handle: max(p["ts"] for p in points if p.get("agent") == handle) for handle in ("ta_00004", "ta_00061")}
    assert is_silent("ta_00004") and not is_silent("ta_00061")
    assert datetime.fromisoformat(last["ta_00004"]) < end - SILENT_FOR <= datetime.fromisoformat(last["ta_00061"])
    live = live_points(division_slug="d", handles=["ta_00004", "ta_00061"], moment=end)
    assert {p.get("agent") for p in live} == {"ta_00061", None}


def test_now_and_then_a_point_spikes_far_from_its_usual_level():
    spec = AGENT_METRICS["task_latency_p95_ms"]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    values = [
        value_at("ta_00061", "task_latency_p95_ms", start + timedelta(minutes=30 * i), spec) for i in range(20000)
    ]
    usual = sorted(values)[len(values) // 2]
    spikes = [v for v in values if v > 2.2 * usual]
    assert 0 < len(spikes) < 0.002 * len(values)


@pytest.mark.django_db
def test_backfill_goes_through_ingestion_and_resumes(settings):
    settings.DEBUG = True
    demo_organisation_seed()
    call_command("metrics_demo_backfill", "--days", "1")
    points = Point.objects.count()
    assert points > 186 * len(AGENT_METRICS) * 40  # every active agent, every 30 minutes, for a day
    assert IngestBatch.objects.exclude(status="done").count() == 0
    assert Rollup.objects.filter(resolution=86400).exists()
    call_command("metrics_demo_backfill", "--days", "1")
    assert Point.objects.count() - points < 186 * len(AGENT_METRICS) * 2  # only the minutes since the first run


@pytest.mark.django_db
def test_backfill_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("metrics_demo_backfill", "--days", "1")


@pytest.mark.django_db(transaction=True)
def test_simulator_posts_through_http_with_real_tokens(live_server, settings):
    settings.DEBUG = True
    demo_organisation_seed()
    call_command("metrics_demo_simulate", "--url", live_server.url, "--rounds", "1", "--interval", "0")
    assert DivisionToken.objects.filter(name="demo-simulator").count() == 8
    assert IngestBatch.objects.filter(status="done").count() == 8
    now = datetime.now(UTC)
    assert Point.objects.filter(ts__gte=now - timedelta(minutes=1)).count() > 150 * len(AGENT_METRICS)
