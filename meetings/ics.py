"""Meeting series as an iCalendar (RFC 5545) calendar, built with the icalendar package: pure, no database.

Each series is one recurring VEVENT in its organiser's wall clock (DTSTART;TZID plus the stored RRULE), so calendar
apps expand it the way meetings.recurrence does: 09:00 in Denver all year, the UTC instant moving with daylight
saving. The stored exceptions are laid over it the standard way: a cancelled occurrence is an EXDATE, a moved one
an override VEVENT with the same UID and the RECURRENCE-ID of its original start. A series split off by a
"this and following" edit has its own UID, so it is its own VEVENT.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.urls import reverse
from icalendar import Calendar, Event, vRecur

from meetings import recurrence
from meetings.models import MeetingSeries, Occurrence
from meetings.selectors import pattern_of

PRODUCT_ID = "-//NovaOps//Meetings//EN"
UID_DOMAIN = "novaops"
# How often a subscribed calendar app should fetch the feed again (apps that honour it: Apple, Outlook).
REFRESH_INTERVAL = timedelta(hours=1)


def series_uid(series: MeetingSeries) -> str:
    return f"{series.uid}@{UID_DOMAIN}"


def calendar_build(
    *, name: str, series: Iterable[MeetingSeries], occurrences: Iterable[Occurrence], base_url: str
) -> Calendar:
    """The calendar of `series` with their stored `occurrences` (any; those without an exception add nothing).

    `base_url` (scheme and host, no trailing slash) makes the links back to the series and occurrence pages.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH_INTERVAL)
    stored = defaultdict(list)
    for occurrence in occurrences:
        stored[occurrence.series_id].append(occurrence)
    rows = list(series)
    for row in rows:
        for event in series_events(series=row, occurrences=stored[row.pk], base_url=base_url):
            calendar.add_component(event)
    # VTIMEZONE transitions only as far as the meetings need them (the zone's whole history would be kilobytes).
    first = min((row.start_date for row in rows), default=date(2000, 1, 1)) - timedelta(days=366)
    calendar.add_missing_timezones(first_date=first, last_date=first + timedelta(days=366 * 30))
    return calendar


def series_events(*, series: MeetingSeries, occurrences: Iterable[Occurrence], base_url: str) -> list[Event]:
    """The series' master VEVENT (with its EXDATEs and RDATEs) followed by one override VEVENT per occurrence that
    is not where its rule puts it. Empty when the rule has no occurrence at all."""
    pattern = pattern_of(series)
    first = recurrence.first_start(pattern)
    if first is None:
        return []
    master = _event(series, base_url)
    master.add("dtstart", _wall(first, series))
    master.add("duration", series.duration)
    master.add("rrule", vRecur.from_ical(series.rrule.removeprefix("RRULE:")))
    master.add("url", base_url + reverse("meetings:series", args=[series.pk]))
    master.add("description", _description(series, base_url + reverse("meetings:series", args=[series.pk])))
    overrides = []
    exceptions = sorted(occurrences, key=lambda row: row.original_start)
    in_rule = _rule_starts(pattern, exceptions)
    for occurrence in exceptions:
        original = occurrence.original_start.astimezone(UTC)
        if occurrence.status == Occurrence.Status.CANCELLED:
            if original in in_rule:
                master.add("exdate", _wall(original, series))
            continue
        if original not in in_rule:
            # Kept by an edit that changed the rule (it holds a meeting's record): an extra date of the series.
            master.add("rdate", _wall(original, series))
        elif (occurrence.start, occurrence.end) == (original, original + series.duration):
            continue
        overrides.append(_override(series, occurrence, base_url))
    return [master, *overrides]


def _override(series: MeetingSeries, occurrence: Occurrence, base_url: str) -> Event:
    """One occurrence away from its rule's time: the same UID, RECURRENCE-ID naming the instance it replaces."""
    event = _event(series, base_url)
    event.add("recurrence-id", _wall(occurrence.original_start, series))
    event.add("dtstart", recurrence.local(occurrence.start, series.timezone))
    event.add("dtend", recurrence.local(occurrence.end, series.timezone))
    # The override's own version: a calendar app keeps the newer of two copies of the same instance.
    event["sequence"] = series.sequence + occurrence.sequence
    url = base_url + reverse(
        "meetings:occurrence", args=[series.pk, recurrence.recurrence_id(occurrence.original_start)]
    )
    event.add("url", url)
    event.add("description", _description(series, url))
    return event


def _event(series: MeetingSeries, base_url: str) -> Event:
    event = Event()
    event.add("uid", series_uid(series))
    # DTSTAMP from the series' last change, not the clock: the same data gives the same feed (and ETag).
    event.add("dtstamp", series.updated_at.astimezone(UTC))
    event.add("summary", series.title)
    event.add("sequence", series.sequence)
    event.add("status", "CONFIRMED")
    event.add("categories", [series.get_kind_display()])
    return event


def _description(series: MeetingSeries, url: str) -> str:
    lines = [series.description.strip(), "", f"Agenda and minutes: {url}"]
    return "\n".join(lines).strip()


def _wall(moment: datetime, series: MeetingSeries) -> datetime:
    """`moment` on the series' wall clock as its rule writes it. On the spring-forward day a 02:30 meeting is at
    09:30 UTC, which reads back as 03:30 local; the rule's instance is named 02:30 (RFC 5545 maps it to the same
    instant), and RECURRENCE-ID and EXDATE must name it that way to match."""
    zone = recurrence.zone(series.timezone)
    local = moment.astimezone(zone)
    wall = datetime.combine(local.date(), series.start_time, tzinfo=zone)
    return wall if wall.astimezone(UTC) == moment.astimezone(UTC) else local


def _rule_starts(pattern: recurrence.Pattern, occurrences: list[Occurrence]) -> set[datetime]:
    if not occurrences:
        return set()
    earliest = occurrences[0].original_start
    latest = occurrences[-1].original_start
    return set(recurrence.starts(pattern, start=earliest, end=latest + timedelta(seconds=1)))
