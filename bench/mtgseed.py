"""The meetings benchmark's data and in-process measurements (Django set up with the private servers' env).

The charter's three series come from meetings.demo (`manage.py meetings_demo`); the 50 more weekly series for scale
are created here through `series_create` (weekdays, times and zones varied, one or two divisions each, started 12
weeks ago). The baselines that need no server are here too: the raw expansion of every rule over a window
(`recurrence.starts`), an icalendar.Calendar built from the series' plain values without Django, and the
dashboards' period summary the agenda reads.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from icalendar import Calendar, Event, vRecur

DAYS = ("MO", "TU", "WE", "TH", "FR")
ZONES = ("America/Denver", "Europe/Berlin", "UTC", "Asia/Tokyo", "America/New_York")


def lead():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="core")


def weekly_series_add(*, count: int, seed: int) -> list[int]:
    """`count` weekly series through the service, organised by the lead; their ids."""
    from django.utils import timezone

    from agents.models import Division
    from meetings.models import MeetingSeries
    from meetings.services.series import SeriesFields, series_create

    rng, actor = random.Random(seed), lead()
    divisions = list(Division.objects.order_by("slug"))
    start = (timezone.now() - timedelta(weeks=12)).date()
    ids = []
    for i in range(count):
        day = DAYS[i % len(DAYS)]
        fields = SeriesFields(
            title=f"Bench weekly {i:02d}",
            kind=MeetingSeries.Kind.OTHER,
            rrule=f"FREQ=WEEKLY;BYDAY={day}",
            start_date=start + timedelta(days=(DAYS.index(day) - start.weekday()) % 7),
            start_time=clock(8 + i % 9, 30 * (i % 2)),
            timezone=ZONES[i % len(ZONES)],
            duration=timedelta(minutes=rng.choice((30, 45, 60))),
            description=f"A weekly meeting the meetings benchmark adds ({i}).",
            divisions=rng.sample(divisions, k=rng.choice((1, 2))),
            attendees=[actor],
        )
        ids.append(series_create(actor=actor, fields=fields).pk)
    return ids


def feed_token() -> str:
    from meetings.services.feeds import feed_create_or_rotate

    return feed_create_or_rotate(user=lead())[1]


def _timed(function, *, repeat: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(repeat + 1):
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return samples[1:], result


def raw_expansion(*, start: datetime, end: datetime, repeat: int) -> tuple[list[float], int]:
    """Every series' rule expanded over [start, end) with recurrence.starts, in-process, from patterns read once
    (no query, no exceptions laid over, no rendering): seconds per run, and how many starts."""
    from meetings import recurrence
    from meetings.models import MeetingSeries
    from meetings.selectors import pattern_of

    patterns = [pattern_of(row) for row in MeetingSeries.objects.all()]

    def expand() -> int:
        return sum(len(recurrence.starts(p, start=start - p.duration, end=end)) for p in patterns)

    samples, found = _timed(expand, repeat=repeat)
    return samples, int(found)


def plain_rows(series_ids: list[int] | None = None) -> list[dict]:
    """The series' values a calendar needs, as plain dicts (read once, outside the timing)."""
    from meetings.models import MeetingSeries

    rows = MeetingSeries.objects.order_by("pk")
    if series_ids is not None:
        rows = rows.filter(pk__in=series_ids)
    return [
        {
            "uid": f"{row.uid}@novaops",
            "title": row.title,
            "description": row.description,
            "rrule": row.rrule.removeprefix("RRULE:"),
            "start": datetime.combine(row.start_date, row.start_time, tzinfo=_zone(row.timezone)),
            "duration": row.duration,
            "updated_at": row.updated_at.astimezone(UTC),
            "sequence": row.sequence,
            "kind": row.get_kind_display(),
            "url": f"http://127.0.0.1/meetings/series/{row.pk}/",
        }
        for row in rows
    ]


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def plain_calendar(rows: list[dict]) -> bytes:
    """The same kind of calendar with icalendar alone: one recurring VEVENT per series, VTIMEZONEs, serialised."""
    calendar = Calendar()
    calendar.add("prodid", "-//NovaOps//Meetings//EN")
    calendar.add("version", "2.0")
    for row in rows:
        event = Event()
        event.add("uid", row["uid"])
        event.add("dtstamp", row["updated_at"])
        event.add("summary", row["title"])
        event.add("sequence", row["sequence"])
        event.add("status", "CONFIRMED")
        event.add("categories", [row["kind"]])
        event.add("dtstart", row["start"])
        event.add("duration", row["duration"])
        event.add("rrule", vRecur.from_ical(row["rrule"]))
        event.add("url", row["url"])
        event.add("description", f"{row['description']}\n\nAgenda and minutes: {row['url']}")
        calendar.add_component(event)
    first = min(row["start"].date() for row in rows) - timedelta(days=366)
    calendar.add_missing_timezones(first_date=first, last_date=first + timedelta(days=366 * 30))
    return calendar.to_ical()


def plain_feed(*, series_ids: list[int] | None, repeat: int) -> tuple[list[float], int]:
    rows = plain_rows(series_ids)
    samples, body = _timed(lambda: plain_calendar(rows), repeat=repeat)
    return samples, len(body)


def next_sync():
    """The charter's next weekly sync (the one whose agenda is being prepared: since the last one, up to now),
    stored as the occurrence page stores it on its first GET."""
    from django.utils import timezone

    from meetings.models import MeetingSeries
    from meetings.selectors import slot_list
    from meetings.services.occurrences import occurrence_open

    series = MeetingSeries.objects.get(title="Weekly sync")
    now = timezone.now()
    only = MeetingSeries.objects.filter(pk=series.pk)
    slot = next(s for s in slot_list(start=now, end=now + timedelta(days=8), series=only) if s.start >= now)
    return occurrence_open(series=series, original_start=slot.original_start)


class _Rollback(Exception):
    pass


def _statements(function) -> int:
    from django.db import connection

    count = [0]

    def counted(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        function()
    return count[0]


def time_agenda(occurrence, *, repeat: int) -> dict:
    """The agenda of `occurrence`: its first build (each in a transaction rolled back, so every one is a first),
    then a rebuild of the stored agenda, then the baseline: the dashboards' period summary of the same metrics,
    period and divisions, called directly. Seconds per call, the items and the statements of one call."""
    from django.db import transaction

    from dashboards import selectors as dashboards
    from meetings.agenda import agenda_period
    from meetings.agenda.numbers import key_metrics
    from meetings.services.agenda import agenda_build

    def first_build() -> int:
        try:
            with transaction.atomic():
                added = agenda_build(occurrence=occurrence)
                raise _Rollback(added)
        except _Rollback as done:
            return done.args[0]

    first, items = _timed(first_build, repeat=repeat)
    first_queries = _statements(first_build)
    agenda_build(occurrence=occurrence)
    rebuild, _ = _timed(lambda: agenda_build(occurrence=occurrence), repeat=repeat)
    rebuild_queries = _statements(lambda: agenda_build(occurrence=occurrence))
    period = agenda_period(occurrence=occurrence)
    division_ids = list(occurrence.series.divisions.values_list("pk", flat=True))
    keys = [metric.key for metric in key_metrics()]
    raw, frame = _timed(
        lambda: dashboards.period_summary(
            metric_keys=keys, start=period.start, end=period.end, division_ids=division_ids
        ),
        repeat=repeat,
    )
    return {
        "first": first,
        "rebuild": rebuild,
        "raw": raw,
        "items": items,
        "first_queries": first_queries,
        "rebuild_queries": rebuild_queries,
        "summary_rows": len(frame),
        "period": [period.start.isoformat(), period.end.isoformat()],
    }


def freeze(occurrence) -> None:
    from meetings.services.agenda import agenda_freeze

    agenda_freeze(actor=lead(), occurrence=occurrence)
