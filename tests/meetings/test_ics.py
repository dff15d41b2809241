"""meetings.ics against the app itself: the feed, parsed with icalendar and expanded with recurring-ical-events over
24 months, must give exactly the occurrences selectors.slot_list gives (start and end in UTC, cancelled ones absent,
moved ones at their new time), for the charter's three series in America/Denver with moves and cancellations, and
again after a "this and following" edit and an "all" edit."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import recurring_ical_events
from icalendar import Calendar

from meetings import ics
from meetings.models import MeetingSeries, Occurrence
from meetings.selectors import slot_list
from meetings.services.occurrences import occurrence_cancel, occurrence_move, occurrence_open
from meetings.services.series import SeriesFields, fields_of, series_create, series_split, series_update_all

DENVER = "America/Denver"
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
BASE_URL = "https://novaops.example.test"


@pytest.fixture
def charter(crew, weekly_sync):
    """The charter's cadence: the weekly sync, the monthly deep dive (first Thursday 13:00, 2 h) and the quarterly
    review (first Monday of January, April, July, October 09:00, 4 h), all in America/Denver."""

    def create(title, kind, rule, start_date, start_time, duration):
        fields = SeriesFields(
            title=title,
            kind=kind,
            rrule=rule,
            start_date=start_date,
            start_time=start_time,
            timezone=DENVER,
            duration=duration,
            attendees=[crew.core, crew.meridian],
        )
        return series_create(actor=crew.core, fields=fields)

    monthly = create(
        "Monthly deep dive",
        "monthly_deep_dive",
        "FREQ=MONTHLY;BYDAY=1TH",
        date(2026, 1, 1),
        time(13),
        timedelta(hours=2),
    )
    quarterly = create(
        "Quarterly review",
        "quarterly_review",
        "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=1MO",
        date(2026, 1, 5),
        time(9),
        timedelta(hours=4),
    )
    return weekly_sync, monthly, quarterly


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Denver wall-clock time as the UTC instant the app stores."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(DENVER)).astimezone(UTC)


def app_meetings() -> list[tuple[str, datetime, datetime]]:
    return sorted(
        (str(slot.series.uid), slot.start, slot.end)
        for slot in slot_list(start=WINDOW[0], end=WINDOW[1], series=MeetingSeries.objects.all(), cancelled=False)
    )


def feed_meetings() -> list[tuple[str, datetime, datetime]]:
    """The feed as a calendar app sees it: serialised, parsed back, expanded."""
    built = ics.calendar_build(
        name="Test", series=MeetingSeries.objects.all(), occurrences=Occurrence.objects.all(), base_url=BASE_URL
    )
    parsed = Calendar.from_ical(built.to_ical())
    events = recurring_ical_events.of(parsed).between(*WINDOW)
    return sorted(
        (str(event["UID"]).removesuffix("@novaops"), event.start.astimezone(UTC), event.end.astimezone(UTC))
        for event in events
        if event.get("STATUS") != "CANCELLED"
    )


def assert_feed_is_the_app():
    app, feed = app_meetings(), feed_meetings()
    assert feed == app
    return app


def exceptions(crew, weekly, monthly, quarterly):
    """A move and a cancellation each side of both daylight-saving changes, and one of each in the other series."""
    move = occurrence_open(series=weekly, original_start=at(date(2026, 3, 10), 9))  # the first MDT Tuesday
    occurrence_move(actor=crew.core, occurrence=move, start=at(date(2026, 3, 11), 10))
    occurrence_cancel(
        actor=crew.core, occurrence=occurrence_open(series=weekly, original_start=at(date(2026, 3, 3), 9))
    )
    back = occurrence_open(series=weekly, original_start=at(date(2026, 11, 3), 9))  # the first MST Tuesday
    occurrence_move(actor=crew.core, occurrence=back, start=at(date(2026, 11, 3), 15), end=at(date(2026, 11, 3), 16))
    occurrence_cancel(
        actor=crew.core, occurrence=occurrence_open(series=weekly, original_start=at(date(2026, 10, 27), 9))
    )
    deep = occurrence_open(series=monthly, original_start=at(date(2026, 4, 2), 13))
    occurrence_move(actor=crew.core, occurrence=deep, start=at(date(2026, 4, 9), 14))
    occurrence_cancel(
        actor=crew.core, occurrence=occurrence_open(series=monthly, original_start=at(date(2026, 8, 6), 13))
    )
    review = occurrence_open(series=quarterly, original_start=at(date(2026, 7, 6), 9))
    occurrence_cancel(actor=crew.core, occurrence=review)
    # Moved out of the window's year into the next, and one stored with nothing changed (adds nothing to the feed).
    late = occurrence_open(series=quarterly, original_start=at(date(2027, 10, 4), 9))
    occurrence_move(actor=crew.core, occurrence=late, start=at(date(2027, 10, 5), 9))
    occurrence_open(series=weekly, original_start=at(date(2026, 5, 5), 9))


def test_the_charter_series_alone(charter):
    meetings = assert_feed_is_the_app()
    # 104 Tuesdays, 24 first Thursdays, 8 quarterly reviews over the two years.
    assert len(meetings) == 104 + 24 + 8


def test_wall_clock_kept_across_daylight_saving(charter):
    weekly, _, _ = charter
    starts = {start for uid, start, _ in assert_feed_is_the_app() if uid == str(weekly.uid)}
    assert datetime(2026, 3, 3, 16, tzinfo=UTC) in starts  # 09:00 MST
    assert datetime(2026, 3, 10, 15, tzinfo=UTC) in starts  # 09:00 MDT
    assert datetime(2026, 10, 27, 15, tzinfo=UTC) in starts
    assert datetime(2026, 11, 3, 16, tzinfo=UTC) in starts


def test_moves_and_cancellations(crew, charter):
    weekly, monthly, quarterly = charter
    exceptions(crew, weekly, monthly, quarterly)
    meetings = assert_feed_is_the_app()
    starts = {(uid, start) for uid, start, _ in meetings}
    assert (str(weekly.uid), at(date(2026, 3, 11), 10)) in starts
    assert (str(weekly.uid), at(date(2026, 3, 10), 9)) not in starts
    assert (str(weekly.uid), at(date(2026, 3, 3), 9)) not in starts
    assert (str(weekly.uid), at(date(2026, 11, 3), 15)) in starts
    assert (str(quarterly.uid), at(date(2026, 7, 6), 9)) not in starts
    assert len(meetings) == 104 + 24 + 8 - 4


def test_after_this_and_following(crew, charter):
    weekly, monthly, quarterly = charter
    exceptions(crew, weekly, monthly, quarterly)
    # From 2 June the weekly sync moves to Thursdays 10:00 for 45 minutes; the first Thursday of it is then moved.
    new = series_split(
        actor=crew.core,
        series=weekly,
        at=at(date(2026, 6, 2), 9),
        fields=fields_of(
            weekly,
            rrule="FREQ=WEEKLY;BYDAY=TH",
            start_date=date(2026, 6, 4),
            start_time=time(10),
            duration=timedelta(minutes=45),
        ),
    )
    assert new.uid != weekly.uid
    moved = occurrence_open(series=new, original_start=at(date(2026, 6, 11), 10))
    occurrence_move(actor=crew.core, occurrence=moved, start=at(date(2026, 6, 12), 8))
    # And the monthly deep dive splits again from September: 14:00 on the first Thursday, still 2 h.
    later = series_split(
        actor=crew.core,
        series=monthly,
        at=at(date(2026, 9, 3), 13),
        fields=fields_of(monthly, start_date=date(2026, 9, 3), start_time=time(14)),
    )
    meetings = assert_feed_is_the_app()
    uids = {uid for uid, _, _ in meetings}
    assert {str(weekly.uid), str(new.uid), str(later.uid)} <= uids
    assert max(start for uid, start, _ in meetings if uid == str(weekly.uid)) < at(date(2026, 6, 2), 9)
    assert (str(new.uid), at(date(2026, 6, 12), 8)) in {(uid, start) for uid, start, _ in meetings}


def test_after_an_all_edit(crew, charter):
    weekly, monthly, quarterly = charter
    exceptions(crew, weekly, monthly, quarterly)
    # The deep dive moves to 14:00 for 90 minutes: its moved occurrence stays where it was moved to.
    series_update_all(
        actor=crew.core, series=monthly, fields=fields_of(monthly, start_time=time(14), duration=timedelta(minutes=90))
    )
    series_update_all(actor=crew.core, series=weekly, fields=fields_of(weekly, duration=timedelta(minutes=45)))
    meetings = assert_feed_is_the_app()
    assert (str(monthly.uid), at(date(2026, 4, 9), 14), at(date(2026, 4, 9), 16)) in meetings
    assert (str(monthly.uid), at(date(2026, 5, 7), 14), at(date(2026, 5, 7), 15, 30)) in meetings


def test_a_meeting_in_the_spring_forward_gap(crew):
    """02:30 does not exist in Denver on 8 March 2026: RFC 5545 reads it with the offset before the gap (03:30 MDT),
    and the days around it are 02:30 local."""
    fields = SeriesFields(
        title="Night shift handover",
        kind="other",
        rrule="FREQ=DAILY;COUNT=5",
        start_date=date(2026, 3, 6),
        start_time=time(2, 30),
        timezone=DENVER,
        duration=timedelta(minutes=30),
    )
    series = series_create(actor=crew.core, fields=fields)
    gap = occurrence_open(series=series, original_start=datetime(2026, 3, 8, 9, 30, tzinfo=UTC))
    occurrence_move(actor=crew.core, occurrence=gap, start=datetime(2026, 3, 8, 10, tzinfo=UTC))
    occurrence_cancel(
        actor=crew.core,
        occurrence=occurrence_open(series=series, original_start=datetime(2026, 3, 9, 8, 30, tzinfo=UTC)),
    )
    starts = [start for _, start, _ in assert_feed_is_the_app()]
    assert starts == [
        datetime(2026, 3, 6, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 7, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 10, tzinfo=UTC),
        datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
    ]


def test_the_calendar_holds_what_calendar_apps_need(crew, charter):
    weekly, monthly, quarterly = charter
    exceptions(crew, weekly, monthly, quarterly)
    text = (
        ics.calendar_build(
            name="NovaOps meetings",
            series=MeetingSeries.objects.all(),
            occurrences=Occurrence.objects.all(),
            base_url=BASE_URL,
        )
        .to_ical()
        .decode()
    )
    calendar = Calendar.from_ical(text)
    assert calendar["PRODID"] == ics.PRODUCT_ID and calendar["VERSION"] == "2.0"
    assert calendar["X-WR-CALNAME"] == "NovaOps meetings"
    assert [zone["TZID"] for zone in calendar.walk("VTIMEZONE")] == [DENVER]
    assert "DTSTART;TZID=America/Denver:20260106T090000" in text
    assert "RRULE:FREQ=WEEKLY;BYDAY=TU" in text
    assert "EXDATE;TZID=America/Denver:20260303T090000" in text
    assert "RECURRENCE-ID;TZID=America/Denver:20260310T090000" in text
    masters = [event for event in calendar.walk("VEVENT") if "RECURRENCE-ID" not in event]
    assert sorted(str(event["UID"]) for event in masters) == sorted(f"{row.uid}@novaops" for row in charter)
    weekly_master = next(event for event in masters if str(event["UID"]) == f"{weekly.uid}@novaops")
    assert weekly_master["URL"] == f"{BASE_URL}/meetings/series/{weekly.pk}/"
    override = next(
        event for event in calendar.walk("VEVENT") if "RECURRENCE-ID" in event and event["UID"] == weekly_master["UID"]
    )
    assert override["URL"] == f"{BASE_URL}/meetings/series/{weekly.pk}/20260310T150000Z/"
    assert override["SEQUENCE"] == weekly.sequence + 1


def test_until_stays_in_utc_and_sequence_goes_up_on_a_split(crew, weekly_sync):
    before = weekly_sync.sequence
    series_split(
        actor=crew.core,
        series=weekly_sync,
        at=at(date(2026, 6, 2), 9),
        fields=fields_of(weekly_sync, start_date=date(2026, 6, 2), start_time=time(10)),
    )
    weekly_sync.refresh_from_db()
    [master] = ics.series_events(series=weekly_sync, occurrences=[], base_url=BASE_URL)
    assert b"UNTIL=20260602T145959Z" in master.to_ical()
    assert master["RRULE"]["UNTIL"] == [datetime(2026, 6, 2, 14, 59, 59, tzinfo=UTC)]
    assert master["SEQUENCE"] == before + 1
