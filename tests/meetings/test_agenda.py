"""The agenda from known metric data (landed through the real pipeline): a regression, an improvement, an anomaly and
a silent agent give the right items, over the period since the previous sync."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from escalations.services.outcomes import follow_up_add
from escalations.services.raising import Raise, escalation_raise
from meetings.agenda import agenda_period, agenda_proposals
from meetings.models import AgendaItem
from meetings.services.occurrences import occurrence_open
from tests.factories import AgentFactory

# Tuesday 10 March 2026, 09:00 in Denver (MDT since 8 March): 15:00 UTC. The sync before: 3 March, 16:00 UTC (MST).
MEETING = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
PREVIOUS = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
SILENT_FROM = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
SPIKE_AT = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
Kind = AgendaItem.Kind


def hours(start: datetime, end: datetime):
    moment = start
    while moment < end:
        yield moment
        moment += timedelta(hours=1)


@pytest.fixture
def fleet(crew, land):
    """Four runtime agents reporting hourly for two weeks before the meeting: ta_00001's error rate jumps from 1 % to
    5 % when the period starts (a regression), ta_00002's throughput doubles (an improvement), ta_00003's latency is
    flat but for one spike (an anomaly), ta_00004 goes silent on 5 March (stopped reporting)."""
    for handle, callsign in (
        ("ta_00001", "Atlas"),
        ("ta_00002", "Beacon"),
        ("ta_00003", "Cipher"),
        ("ta_00004", "Dune"),
    ):
        AgentFactory(handle=handle, callsign=callsign, division=crew.runtime)
    points = []
    for moment in hours(PREVIOUS - timedelta(days=8), MEETING):
        after = moment >= PREVIOUS
        points.append(("error_rate_pct", "ta_00001", moment, 5.0 if after else 1.0))
        points.append(("throughput_tasks_per_min", "ta_00002", moment, 200.0 if after else 100.0))
        points.append(("task_latency_p95_ms", "ta_00003", moment, 1000.0 if moment == SPIKE_AT else 100.0))
        if moment < SILENT_FROM:
            points.append(("throughput_tasks_per_min", "ta_00004", moment, 50.0))
    with time_machine.travel(MEETING, tick=False):
        land(crew.runtime, points)
    return crew


@pytest.fixture
def occurrence(weekly_sync):
    return occurrence_open(series=weekly_sync, original_start=MEETING)


def proposals_by_key(occurrence):
    with time_machine.travel(MEETING, tick=False):
        period = agenda_period(occurrence=occurrence)
        return period, {
            proposal.source_key: proposal for proposal in agenda_proposals(occurrence=occurrence, period=period)
        }


def test_the_period_runs_from_the_previous_sync_to_this_one(occurrence):
    with time_machine.travel(MEETING - timedelta(days=1), tick=False):
        early = agenda_period(occurrence=occurrence)
    with time_machine.travel(MEETING + timedelta(hours=2), tick=False):
        period = agenda_period(occurrence=occurrence)
    assert (period.start, period.end, period.since_previous) == (PREVIOUS, MEETING, True)
    assert early.end == MEETING - timedelta(days=1)  # read before the meeting: up to now


def test_the_first_sync_looks_back_one_week(weekly_sync):
    first = occurrence_open(series=weekly_sync, original_start=datetime(2026, 1, 6, 16, 0, tzinfo=UTC))
    with time_machine.travel(first.start, tick=False):
        period = agenda_period(occurrence=first)
    assert (period.start, period.since_previous) == (first.start - timedelta(days=7), False)


def test_known_metrics_give_a_regression_an_improvement_an_anomaly_and_a_silent_agent(fleet, occurrence):
    period, proposals = proposals_by_key(occurrence)

    regression = proposals["regression:ta_00001:error_rate_pct"]
    assert regression.kind == Kind.REGRESSION and regression.division_id == fleet.runtime.pk
    figure = regression.data["figures"][0]
    assert (figure["previous"], figure["current"], figure["tone"]) == (1.0, 5.0, "bad")
    assert figure["change"] == pytest.approx(4.0)

    improvement = proposals["improvement:ta_00002:throughput_tasks_per_min"]
    assert improvement.data["figures"][0]["tone"] == "good"
    assert improvement.data["figures"][0]["change"] == pytest.approx(1.0)

    anomaly = proposals["anomaly:ta_00003:task_latency_p95_ms"]
    assert anomaly.data["value"] == 1000.0 and anomaly.data["at"].startswith("2026-03-07T12:00")

    silent = proposals["stopped:ta_00004"]
    assert silent.kind == Kind.STOPPED and silent.data["last_seen"].startswith("2026-03-04T23:")

    # The division's key metrics, direction-aware: the error rate's rise is worse, the throughput's better.
    division = {f["metric"]: f for f in proposals["metrics:novacore-runtime"].data["figures"]}
    assert division["error_rate_pct"]["tone"] == "bad"
    assert division["throughput_tasks_per_min"]["tone"] == "good"
    assert "metrics:workflow-engineering" not in proposals  # nothing reported there: no item, not zeros

    # Every item links to the live dashboard for the same period.
    assert regression.link.startswith("/dashboards/agents/ta_00001/?from=2026-03-03T09")
    assert "to=2026-03-10T09" in regression.link and "tz=America%2FDenver" in regression.link


def test_an_agenda_without_data_has_no_numbers_sections(occurrence):
    _, proposals = proposals_by_key(occurrence)
    assert proposals == {}


def test_tickets_of_the_period_and_open_follow_ups_are_on_the_agenda(crew, occurrence):
    def raise_at(moment, title):
        with time_machine.travel(moment, tick=False):
            request = Raise(
                kind="friction",
                title=title,
                description="Deploys collide.",
                priority="P2",
                raised_division=crew.runtime,
                divisions=[crew.workflow],
            )
            return escalation_raise(actor=crew.runtime_member, request=request)

    before = raise_at(PREVIOUS - timedelta(days=2), "Old friction")
    during = raise_at(PREVIOUS + timedelta(days=1), "Deploy windows collide")
    with time_machine.travel(PREVIOUS + timedelta(days=2), tick=False):
        follow_up_add(
            number=before.number,
            actor=crew.core,
            description="Agree a deploy calendar",
            owner=crew.runtime_member,
            due_on=(MEETING + timedelta(days=7)).date(),
        )
    _, proposals = proposals_by_key(occurrence)
    ticket = proposals[f"escalation:{during.number}"]
    assert ticket.kind == Kind.ESCALATION and ticket.data["happened"] == ["opened"]
    assert ticket.link == f"/escalations/{during.number}/"
    assert f"escalation:{before.number}" not in proposals  # opened before the period, nothing happened in it
    follow_up = next(p for key, p in proposals.items() if key.startswith("follow-up:"))
    assert follow_up.kind == Kind.ACTION and "Agree a deploy calendar" in follow_up.title
