"""The demo meetings (meetings.demo) and their command."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command

from agents.demo import demo_organisation_seed
from meetings import recurrence
from meetings.demo import CHARTER, meetings_demo_seed
from meetings.models import ActionItem, AgendaItem, Attendance, Decision, MeetingSeries, Occurrence
from meetings.selectors import slot_list

pytestmark = pytest.mark.django_db
# A Wednesday in December (MST): the last three weekly syncs were 17 and 24 November and 1 December.
NOW = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)


@pytest.fixture
def demo():
    demo_organisation_seed()
    with time_machine.travel(NOW, tick=False):
        assert meetings_demo_seed() == [charter.title for charter in CHARTER]
    return {series.title: series for series in MeetingSeries.objects.all()}


def _local(moment: datetime) -> datetime:
    return recurrence.local(moment, "America/Denver")


def test_the_charter_s_three_series(demo):
    assert set(demo) == {"Weekly sync", "Monthly deep dive", "Quarterly review"}
    for series in demo.values():
        assert series.timezone == "America/Denver" and series.organiser.username == "core"
        assert {user.username for user in series.attendees.all()} == {
            "core",
            "meridian",
            "runtime-lead",
            "workflow-lead",
            "member",
        }
        assert {domain.slug for domain in series.domains.all()} == {"novaops", "orchops"}
    weekly, monthly, quarterly = demo["Weekly sync"], demo["Monthly deep dive"], demo["Quarterly review"]
    assert (weekly.rrule, weekly.start_time, weekly.duration) == (
        "FREQ=WEEKLY;BYDAY=TU",
        time(9),
        timedelta(minutes=30),
    )
    assert (monthly.rrule, monthly.start_time, monthly.duration) == (
        "FREQ=MONTHLY;BYDAY=1TH",
        time(13),
        timedelta(hours=2),
    )
    assert (quarterly.rrule, quarterly.start_time, quarterly.duration) == (
        "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        time(9),
        timedelta(hours=4),
    )
    assert {division.slug for division in weekly.divisions.all()} == {
        "novacore-runtime",
        "workflow-engineering",
        "cross-domain-orchestration",
    }
    assert monthly.divisions.count() == quarterly.divisions.count() == 8


def test_each_series_starts_on_one_of_its_occurrences_at_its_wall_clock(demo):
    for series in demo.values():
        first = recurrence.first_start(
            recurrence.Pattern(series.rrule, series.start_date, series.start_time, series.timezone, series.duration)
        )
        assert _local(first).date() == series.start_date and _local(first).time() == series.start_time
    assert demo["Weekly sync"].start_date.weekday() == 1  # Tuesday
    assert demo["Monthly deep dive"].start_date.weekday() == 3 and demo["Monthly deep dive"].start_date.day <= 7
    quarterly = demo["Quarterly review"].start_date
    assert quarterly.weekday() == 0 and quarterly.day <= 7 and quarterly.month in (1, 4, 7, 10)


def test_the_calendar_shows_them_in_the_coming_year(demo):
    slots = slot_list(start=NOW, end=NOW + timedelta(days=365))
    by_title = {title: [slot for slot in slots if slot.series.title == title] for title in demo}

    assert len(by_title["Weekly sync"]) == 52
    assert len(by_title["Monthly deep dive"]) == 12
    assert [_local(slot.start).date().isoformat() for slot in by_title["Quarterly review"]] == [
        "2027-01-04",
        "2027-04-05",
        "2027-07-05",
        "2027-10-04",
    ]
    # The wall clock holds in winter and in summer.
    assert {_local(slot.start).time() for slot in by_title["Weekly sync"]} == {time(9)}


def test_the_last_three_weekly_syncs_have_minutes(demo):
    held = list(Occurrence.objects.filter(series=demo["Weekly sync"]).order_by("start"))

    assert [_local(occurrence.start).date().isoformat() for occurrence in held] == [
        "2026-11-17",
        "2026-11-24",
        "2026-12-01",
    ]
    for occurrence in held:
        assert occurrence.frozen_at == occurrence.started_at == occurrence.start
        assert occurrence.closed_at == occurrence.end
        items = list(occurrence.agenda.all())
        assert items and all(item.snapshot == item.data for item in items)
        assert any(item.notes for item in held[0].agenda.all())
        assert Decision.objects.filter(occurrence=occurrence).count() == 1
        assert Attendance.objects.filter(occurrence=occurrence).count() == 5
    assert Attendance.objects.filter(present=False).count() == 2
    figures = held[0].agenda.get(position=1).snapshot["metrics"][0]
    assert (figures["key"], figures["before"], figures["after"], figures["tone"]) == (
        "task_latency_p95_ms",
        412,
        486,
        "worse",
    )
    assert held[0].agenda.get(position=1).link.startswith("/dashboards/divisions/novacore-runtime/?from=2026-11-10T09")
    assert not Occurrence.objects.exclude(series=demo["Weekly sync"]).exists()


def test_one_action_item_is_still_open_and_carried(demo):
    still_open = ActionItem.objects.filter(status__in=["open", "in_progress"])
    carried = still_open.get(carried__gt=0)

    assert carried.carried == 2 and carried.owner.username == "member"
    assert _local(carried.occurrence.start).date().isoformat() == "2026-11-17"
    on_agendas = AgendaItem.objects.filter(kind=AgendaItem.Kind.ACTION, source_key=f"action:{carried.pk}")
    assert [item.snapshot["carried"] for item in on_agendas.order_by("occurrence__start")] == [1, 2]
    assert ActionItem.objects.filter(status="done").count() == 2
    assert still_open.count() == 2


def test_idempotent(demo):
    counts = (MeetingSeries.objects.count(), Occurrence.objects.count(), AgendaItem.objects.count())
    assert meetings_demo_seed() == []
    assert (MeetingSeries.objects.count(), Occurrence.objects.count(), AgendaItem.objects.count()) == counts


def test_the_command_refuses_with_debug_off_unless_forced(settings, capsys):
    demo_organisation_seed()
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("meetings_demo")
    with time_machine.travel(NOW, tick=False):
        call_command("meetings_demo", "--force")
        assert "3 added, 0 already there" in capsys.readouterr().out
        call_command("meetings_demo", "--force")
        assert "0 added, 3 already there" in capsys.readouterr().out
