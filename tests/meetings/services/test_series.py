"""meetings.services.series: creating series, "all" edits and "this and following" splits; bad input as field
errors (InvalidInput) and refused edits as Forbidden / Conflict."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from meetings.models import AgendaItem, MeetingSeries, Occurrence
from meetings.selectors import slot_list
from meetings.services.occurrences import occurrence_cancel, occurrence_move, occurrence_open
from meetings.services.series import (
    SeriesFields,
    fields_of,
    series_check,
    series_create,
    series_split,
    series_update_all,
)
from novaops.errors import Conflict, Forbidden, InvalidInput


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fields(**changes) -> SeriesFields:
    values = dict(
        title="Deep dive",
        kind="monthly_deep_dive",
        rrule="FREQ=MONTHLY;BYDAY=1TH",
        start_date=date(2026, 1, 1),
        start_time=time(13),
        timezone="America/Denver",
        duration=timedelta(hours=2),
    )
    return SeriesFields(**{**values, **changes})


def error_fields(excinfo) -> set[str]:
    return {error["field"] for error in excinfo.value.errors}


def starts_of(series: MeetingSeries, start: datetime, end: datetime) -> list[datetime]:
    return [slot.start for slot in slot_list(start=start, end=end, series=MeetingSeries.objects.filter(pk=series.pk))]


# --- bad input


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20250101T000000Z"}, "rrule"),  # ends before it starts
        ({"timezone": "Mountain Time"}, "timezone"),
        ({"duration": timedelta(hours=25)}, "duration"),
        ({"duration": timedelta(0)}, "duration"),
        ({"duration": -timedelta(minutes=30)}, "duration"),
        ({"title": "   "}, "title"),
    ],
)
def test_a_series_that_cannot_be_is_refused_with_its_field(crew, changes, field):
    with pytest.raises(InvalidInput) as refused:
        series_create(actor=crew.core, fields=fields(**changes))
    assert error_fields(refused) == {field}
    assert not MeetingSeries.objects.exists()


def test_every_bad_field_is_named_at_once():
    with pytest.raises(InvalidInput) as refused:
        series_check(fields(title="", duration=timedelta(days=2), timezone="Nowhere"))
    assert error_fields(refused) == {"title", "duration", "timezone"}


def test_only_leads_create_series(crew):
    for user in (crew.runtime_member, crew.viewer):
        with pytest.raises(Forbidden):
            series_create(actor=user, fields=fields())


def test_an_edit_with_a_bad_rule_changes_nothing(crew, weekly_sync):
    with pytest.raises(InvalidInput) as refused:
        series_update_all(actor=crew.core, series=weekly_sync, fields=fields_of(weekly_sync, rrule="FREQ=MINUTELY"))
    assert error_fields(refused) == {"rrule"}
    weekly_sync.refresh_from_db()
    assert (weekly_sync.rrule, weekly_sync.sequence) == ("FREQ=WEEKLY;BYDAY=TU", 0)


def test_the_organiser_edits_their_series_and_other_members_do_not(crew):
    series = series_create(actor=crew.core, fields=fields(), organiser=crew.runtime_member)
    edited = series_update_all(actor=crew.runtime_member, series=series, fields=fields_of(series, title="Runtime dive"))
    assert edited.title == "Runtime dive"
    with pytest.raises(Forbidden):
        series_update_all(actor=crew.workflow_member, series=series, fields=fields_of(series, title="Mine now"))


# --- "all"


def test_an_all_edit_retimes_the_unmoved_occurrences_and_keeps_the_moved_one(crew, weekly_sync):
    plain = occurrence_open(series=weekly_sync, original_start=utc(2026, 3, 3, 16))
    moved = occurrence_move(
        actor=crew.core,
        occurrence=occurrence_open(series=weekly_sync, original_start=utc(2026, 3, 10, 15)),
        start=utc(2026, 3, 11, 18),
    )
    edited = series_update_all(
        actor=crew.core, series=weekly_sync, fields=fields_of(weekly_sync, duration=timedelta(hours=1))
    )
    assert edited.sequence == 1
    plain.refresh_from_db()
    assert (plain.start, plain.end) == (utc(2026, 3, 3, 16), utc(2026, 3, 3, 17))
    moved.refresh_from_db()
    assert (moved.start, moved.end, moved.status) == (utc(2026, 3, 11, 18), utc(2026, 3, 11, 18, 30), "moved")
    assert starts_of(edited, utc(2026, 3, 1), utc(2026, 3, 20)) == [
        utc(2026, 3, 3, 16),
        utc(2026, 3, 11, 18),
        utc(2026, 3, 17, 15),
    ]


def test_an_all_edit_to_another_day_drops_the_old_days_unless_they_hold_a_record(crew, weekly_sync):
    empty = occurrence_open(series=weekly_sync, original_start=utc(2026, 3, 3, 16))
    with_agenda = occurrence_open(series=weekly_sync, original_start=utc(2026, 3, 10, 15))
    AgendaItem.objects.create(occurrence=with_agenda, position=1, title="Runtime latency")
    series_update_all(actor=crew.core, series=weekly_sync, fields=fields_of(weekly_sync, rrule="FREQ=WEEKLY;BYDAY=WE"))
    assert not Occurrence.objects.filter(pk=empty.pk).exists()
    assert Occurrence.objects.filter(pk=with_agenda.pk).exists()


# --- "this and following"


def test_a_split_ends_the_series_before_the_occurrence_and_starts_a_new_one(crew, weekly_sync):
    adopted = occurrence_open(series=weekly_sync, original_start=utc(2026, 6, 9, 15))
    gone = occurrence_open(series=weekly_sync, original_start=utc(2026, 6, 16, 15))
    AgendaItem.objects.create(occurrence=gone, position=1, title="Prepared for a Tuesday")
    new = series_split(
        actor=crew.core,
        series=weekly_sync,
        at=utc(2026, 6, 2, 15),
        fields=fields_of(weekly_sync, start_date=date(2026, 6, 2), start_time=time(10), rrule="FREQ=WEEKLY;BYDAY=TU"),
    )
    weekly_sync.refresh_from_db()
    assert weekly_sync.rrule == "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260602T145959Z"
    assert weekly_sync.sequence == 1
    assert (new.split_from, new.uid != weekly_sync.uid) == (weekly_sync, True)
    assert set(new.attendees.all()) == set(weekly_sync.attendees.all())
    assert starts_of(weekly_sync, utc(2026, 5, 20), utc(2026, 7, 1)) == [utc(2026, 5, 26, 15)]
    # 10:00 MDT from 2 June: 16:00 UTC; the stored 9 June occurrence is not on the new rule's times, so it goes.
    assert starts_of(new, utc(2026, 5, 20), utc(2026, 6, 20)) == [
        utc(2026, 6, 2, 16),
        utc(2026, 6, 9, 16),
        utc(2026, 6, 16, 16),
    ]
    assert not Occurrence.objects.filter(pk__in=[adopted.pk, gone.pk]).exists()


def test_a_split_keeping_the_time_adopts_the_stored_occurrences(crew, weekly_sync):
    stored = occurrence_open(series=weekly_sync, original_start=utc(2026, 6, 9, 15))
    new = series_split(
        actor=crew.core,
        series=weekly_sync,
        at=utc(2026, 6, 2, 15),
        fields=fields_of(weekly_sync, start_date=date(2026, 6, 2), title="Weekly sync (summer)"),
    )
    stored.refresh_from_db()
    assert stored.series == new


def test_a_split_at_the_first_occurrence_edits_the_whole_series(crew, weekly_sync):
    same = series_split(
        actor=crew.core, series=weekly_sync, at=utc(2026, 1, 6, 16), fields=fields_of(weekly_sync, title="Sync")
    )
    assert same.pk == weekly_sync.pk and same.title == "Sync"
    assert MeetingSeries.objects.count() == 1


def test_a_split_that_would_lose_minutes_is_refused(crew, weekly_sync):
    later = occurrence_open(series=weekly_sync, original_start=utc(2026, 6, 16, 15))
    Occurrence.objects.filter(pk=later.pk).update(closed_at=utc(2026, 6, 16, 16))
    with pytest.raises(Conflict):
        series_split(
            actor=crew.core,
            series=weekly_sync,
            at=utc(2026, 6, 2, 15),
            fields=fields_of(weekly_sync, start_date=date(2026, 6, 2), start_time=time(11)),
        )
    weekly_sync.refresh_from_db()
    assert "UNTIL" not in weekly_sync.rrule


def test_a_split_at_a_time_the_series_has_no_meeting_is_a_field_error(crew, weekly_sync):
    with pytest.raises(InvalidInput) as refused:
        series_split(
            actor=crew.core, series=weekly_sync, at=utc(2026, 6, 3, 15), fields=fields_of(weekly_sync, title="x")
        )
    assert error_fields(refused) == {"occurrence"}


def test_a_split_at_a_cancelled_occurrence_is_refused(crew, weekly_sync):
    occurrence_cancel(
        actor=crew.core, occurrence=occurrence_open(series=weekly_sync, original_start=utc(2026, 6, 2, 15))
    )
    with pytest.raises(Conflict, match="cancelled"):
        series_split(
            actor=crew.core,
            series=weekly_sync,
            at=utc(2026, 6, 2, 15),
            fields=fields_of(weekly_sync, start_date=date(2026, 6, 2), start_time=time(11)),
        )
    assert MeetingSeries.objects.count() == 1


def test_a_split_with_bad_fields_names_them(crew, weekly_sync):
    with pytest.raises(InvalidInput) as refused:
        series_split(
            actor=crew.core,
            series=weekly_sync,
            at=utc(2026, 6, 2, 15),
            fields=fields_of(weekly_sync, timezone="Denver", duration=timedelta(days=3)),
        )
    assert error_fields(refused) == {"timezone", "duration"}


def test_members_do_not_split_series(crew, weekly_sync):
    with pytest.raises(Forbidden):
        series_split(
            actor=crew.runtime_member, series=weekly_sync, at=utc(2026, 6, 2, 15), fields=fields_of(weekly_sync)
        )
