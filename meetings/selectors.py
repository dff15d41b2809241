"""Reads of the meetings app: the calendar's occurrences in a window (the rules expanded, the stored exceptions
applied), one occurrence, series. The agenda's figures are read in meetings.agenda."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from meetings import recurrence
from meetings.models import ActionItem, AgendaItem, Attendance, CalendarFeed, Decision, MeetingSeries, Occurrence
from novaops import policies


@dataclass(frozen=True)
class Slot:
    """One meeting on the calendar: its series, the start its rule gives it (`original_start`, its id), where it
    actually is (`start`, `end`), its status, and the stored occurrence when there is one."""

    series: MeetingSeries
    original_start: datetime
    start: datetime
    end: datetime
    status: str
    occurrence: Occurrence | None

    @property
    def recurrence_id(self) -> str:
        return recurrence.recurrence_id(self.original_start)

    @property
    def is_cancelled(self) -> bool:
        return self.status == Occurrence.Status.CANCELLED


def pattern_of(series: MeetingSeries) -> recurrence.Pattern:
    return recurrence.Pattern(
        rrule=series.rrule,
        start_date=series.start_date,
        start_time=series.start_time,
        timezone=series.timezone,
        duration=series.duration,
    )


def series_list() -> QuerySet[MeetingSeries]:
    return MeetingSeries.objects.select_related("organiser").prefetch_related("domains", "divisions", "attendees")


def series_get(*, series_id: int) -> MeetingSeries:
    return series_list().get(pk=series_id)


def slot_list(
    *, start: datetime, end: datetime, series: QuerySet[MeetingSeries] | None = None, cancelled: bool = True
) -> list[Slot]:
    """Every occurrence that overlaps [start, end), in start order (2 queries plus the series' prefetches).

    An occurrence moved into the window from outside it is found by its stored row; one moved out of it is not
    shown. Cancelled ones are included (struck through on the calendar) unless `cancelled` is False.
    """
    series_rows = list(series if series is not None else series_list())
    by_id = {row.pk: row for row in series_rows}
    stored = {
        (row.series_id, row.original_start): row
        for row in Occurrence.objects.filter(series_id__in=by_id).filter(
            Q(start__lt=end, end__gt=start)
            | Q(original_start__gte=start - _longest(series_rows), original_start__lt=end)
        )
    }
    slots = []
    for row in series_rows:
        pattern = pattern_of(row)
        for original in recurrence.starts(pattern, start=start - row.duration, end=end):
            occurrence = stored.pop((row.pk, original), None)
            slots.append(_slot(row, original, occurrence))
    # What is left was moved here from a date outside the window.
    slots += [_slot(by_id[series_id], original, occurrence) for (series_id, original), occurrence in stored.items()]
    slots = [slot for slot in slots if slot.start < end and slot.end > start]
    if not cancelled:
        slots = [slot for slot in slots if not slot.is_cancelled]
    return sorted(slots, key=lambda slot: (slot.start, slot.series.title))


def _slot(series: MeetingSeries, original: datetime, occurrence: Occurrence | None) -> Slot:
    if occurrence is None:
        return Slot(series, original, original, original + series.duration, Occurrence.Status.SCHEDULED, None)
    return Slot(series, original, occurrence.start, occurrence.end, occurrence.status, occurrence)


def _longest(series_rows: list[MeetingSeries]) -> timedelta:
    return max((row.duration for row in series_rows), default=timedelta(0))


def occurrence_get(*, series_id: int, original_start: datetime) -> Occurrence | None:
    return (
        Occurrence.objects.select_related("series").filter(series_id=series_id, original_start=original_start).first()
    )


def previous_occurrence_start(*, series: MeetingSeries, before: datetime) -> datetime | None:
    """The start of the series' last occurrence before `before` that was not cancelled (the agenda's period begins
    there), following the series back through the one it was split from."""
    current: MeetingSeries | None = series
    while current is not None:
        window_start = before - timedelta(days=400)
        slots = [
            slot
            for slot in slot_list(start=window_start, end=before, series=MeetingSeries.objects.filter(pk=current.pk))
            if not slot.is_cancelled and slot.start < before
        ]
        if slots:
            return slots[-1].start
        current = current.split_from
    return None


def feed_series_list(*, user: Any) -> QuerySet[MeetingSeries]:
    """The series in a person's calendar feed: those they attend or organise; a Tier 1 lead's has every series."""
    rows = series_list()
    if policies.is_lead(user):
        return rows
    return rows.filter(Q(attendees=user) | Q(organiser=user)).distinct()


def stored_occurrence_list(*, series: QuerySet[MeetingSeries]) -> QuerySet[Occurrence]:
    """Every stored occurrence of `series`: the feed lays their exceptions (moves, cancellations) over the rules."""
    return Occurrence.objects.filter(series__in=series.values("pk")).order_by("series_id", "original_start")


def calendar_feed_of(*, user: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


def slot_get(*, series: MeetingSeries, original_start: datetime) -> Slot | None:
    """The occurrence of `series` whose id is `original_start`: the stored one (moved, cancelled, kept for its
    minutes after an edit of the rule), else the rule's when it has one then; None when neither."""
    occurrence = Occurrence.objects.filter(series=series, original_start=original_start).first()
    if occurrence is not None:
        return _slot(series, original_start, occurrence)
    if recurrence.is_occurrence(pattern_of(series), original_start):
        return _slot(series, original_start, None)
    return None


@dataclass(frozen=True)
class Record:
    """What is stored of one meeting: its agenda (with notes and frozen figures), decisions, attendance, actions."""

    items: list[AgendaItem]
    decisions: list[Decision]
    attendance: list[Attendance]
    action_items: list[ActionItem]


def record_get(*, occurrence: Occurrence | None) -> Record:
    """The stored record of an occurrence, empty for one not stored yet (4 queries)."""
    if occurrence is None:
        return Record([], [], [], [])
    return Record(
        items=list(AgendaItem.objects.filter(occurrence=occurrence).select_related("division", "added_by")),
        decisions=list(Decision.objects.filter(occurrence=occurrence).select_related("made_by")),
        attendance=list(
            Attendance.objects.filter(occurrence=occurrence).select_related("user").order_by("user__username")
        ),
        action_items=list(ActionItem.objects.filter(occurrence=occurrence).select_related("owner", "division")),
    )
