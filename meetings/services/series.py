"""Creating and editing meeting series, with Google Calendar's three scopes for an edit of one occurrence."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F

from agents.models import Division, Domain
from meetings import constants, recurrence
from meetings.models import MeetingSeries, Occurrence
from meetings.policies import may_edit_series
from meetings.selectors import pattern_of
from novaops import policies
from novaops.errors import Conflict, Forbidden, InvalidInput


@dataclass(frozen=True)
class SeriesFields:
    """What defines a series; forms and serializers build one, the services check it as a whole."""

    title: str
    kind: str
    rrule: str
    start_date: date
    start_time: time
    timezone: str
    duration: timedelta
    description: str = ""
    domains: Sequence[Domain] = ()
    divisions: Sequence[Division] = ()
    attendees: Sequence[Any] = ()
    extra: dict = field(default_factory=dict)


def series_check(fields: SeriesFields) -> None:
    """Field errors for a series that cannot be: a bad rule or zone, a duration not within a day, a rule without
    any occurrence. InvalidInput (400) naming each field."""
    errors = []
    if not fields.title.strip():
        errors.append({"field": "title", "message": "A series needs a title."})
    if not timedelta(0) < fields.duration <= constants.MAX_DURATION:
        errors.append({"field": "duration", "message": "A meeting lasts more than nothing and at most a day."})
    try:
        recurrence.zone(fields.timezone)
    except recurrence.RuleError as exc:
        errors.append({"field": "timezone", "message": str(exc)})
    else:
        try:
            if recurrence.first_start(_pattern(fields)) is None:
                errors.append({"field": "rrule", "message": "This rule gives no occurrence at all."})
        except recurrence.RuleError as exc:
            errors.append({"field": "rrule", "message": str(exc)})
    if errors:
        raise InvalidInput("The series cannot be saved as given.", errors=errors)


def series_create(*, actor: Any, fields: SeriesFields, organiser: Any | None = None) -> MeetingSeries:
    if not policies.is_lead(actor):
        raise Forbidden("Only Tier 1 leads create meeting series.")
    series_check(fields)
    with transaction.atomic():
        series = MeetingSeries.objects.create(organiser=organiser or actor, **_columns(fields))
        _relations(series, fields)
    return series


def series_update_all(*, actor: Any, series: MeetingSeries, fields: SeriesFields) -> MeetingSeries:
    """Edit every occurrence: the series changes, its exceptions stay (a moved occurrence keeps its new time), and
    stored occurrences that were not moved follow the new time."""
    _require_editor(actor, series)
    series_check(fields)
    with transaction.atomic():
        locked = MeetingSeries.objects.select_for_update().get(pk=series.pk)
        for name, value in _columns(fields).items():
            setattr(locked, name, value)
        locked.sequence = F("sequence") + 1
        locked.save()
        locked.refresh_from_db()
        _relations(locked, fields)
        _retime_stored(locked)
    return locked


def series_split(*, actor: Any, series: MeetingSeries, at: datetime, fields: SeriesFields) -> MeetingSeries:
    """ "This and following": the series ends before the occurrence that started at `at` (its original start), and a
    new series with `fields` starts from there (`fields.start_date` is where it starts: the occurrence's local date,
    or a later one). Stored occurrences from `at` on move to the new series when it has an
    occurrence at the same original start, else they go (their agendas with them, unless they have minutes:
    then the edit is refused, rather than silently losing a meeting's record)."""
    _require_editor(actor, series)
    series_check(fields)
    if not recurrence.is_occurrence(pattern_of(series), at):
        raise InvalidInput(
            "No occurrence of this series starts then.", errors=[{"field": "occurrence", "message": "Unknown."}]
        )
    with transaction.atomic():
        old = MeetingSeries.objects.select_for_update().get(pk=series.pk)
        if Occurrence.objects.filter(series=old, original_start=at, status=Occurrence.Status.CANCELLED).exists():
            raise Conflict("This occurrence is cancelled; it cannot be changed.")
        if recurrence.first_start(pattern_of(old)) == at.astimezone(UTC):
            return series_update_all(actor=actor, series=old, fields=fields)  # the first: the whole series
        following = list(Occurrence.objects.filter(series=old, original_start__gte=at))
        if any(occurrence.closed_at for occurrence in following):
            raise Conflict("An occurrence after this one has minutes; edit the occurrences one by one instead.")
        old.rrule = recurrence.until_before(old.rrule, at)
        old.sequence += 1
        old.save(update_fields=["rrule", "sequence", "updated_at"])
        new = MeetingSeries.objects.create(organiser=old.organiser, split_from=old, **_columns(fields))
        _relations(new, fields)
        _adopt(new, following)
    return new


def _adopt(new: MeetingSeries, following: list[Occurrence]) -> None:
    if not following:
        return
    new_starts = set(
        recurrence.starts(
            pattern_of(new),
            start=min(o.original_start for o in following),
            end=max(o.original_start for o in following) + timedelta(seconds=1),
        )
    )
    for occurrence in following:
        if occurrence.original_start in new_starts and occurrence.status != Occurrence.Status.MOVED:
            occurrence.series = new
            occurrence.start, occurrence.end = occurrence.original_start, occurrence.original_start + new.duration
            occurrence.save(update_fields=["series", "start", "end"])
        else:
            occurrence.delete()


def _retime_stored(series: MeetingSeries) -> None:
    """After an "all" edit, stored occurrences that were not moved take the new rule's times; those the new rule no
    longer has are removed unless they hold a meeting's record (those stay, as they happened)."""
    rows = list(Occurrence.objects.filter(series=series).exclude(status=Occurrence.Status.MOVED))
    if not rows:
        return
    earliest = min(row.original_start for row in rows) - timedelta(days=1)
    latest = max(row.original_start for row in rows) + timedelta(days=1)
    kept = set(recurrence.starts(pattern_of(series), start=earliest, end=latest))
    for row in rows:
        if row.original_start in kept:
            Occurrence.objects.filter(pk=row.pk).update(end=row.start + series.duration, sequence=F("sequence") + 1)
        elif row.closed_at is None and not row.agenda.exists():
            row.delete()


def _require_editor(actor: Any, series: MeetingSeries) -> None:
    if not may_edit_series(actor, series):
        raise Forbidden(f"Only Tier 1 leads and its organiser edit “{series.title}”.")


def _pattern(fields: SeriesFields) -> recurrence.Pattern:
    return recurrence.Pattern(fields.rrule, fields.start_date, fields.start_time, fields.timezone, fields.duration)


def _columns(fields: SeriesFields) -> dict[str, Any]:
    return {
        "title": fields.title.strip(),
        "kind": fields.kind,
        "description": fields.description,
        "rrule": fields.rrule.strip().removeprefix("RRULE:"),
        "start_date": fields.start_date,
        "start_time": fields.start_time,
        "timezone": fields.timezone,
        "duration": fields.duration,
    }


def _relations(series: MeetingSeries, fields: SeriesFields) -> None:
    series.domains.set(fields.domains)
    series.divisions.set(fields.divisions)
    series.attendees.set(fields.attendees)


def fields_of(series: MeetingSeries, **changes: Any) -> SeriesFields:
    """A series' current fields, with `changes`: the starting point of an edit form or an API patch."""
    current = SeriesFields(
        title=series.title,
        kind=series.kind,
        rrule=series.rrule,
        start_date=series.start_date,
        start_time=series.start_time,
        timezone=series.timezone,
        duration=series.duration,
        description=series.description,
        domains=list(series.domains.all()),
        divisions=list(series.divisions.all()),
        attendees=list(series.attendees.all()),
    )
    return replace(current, **changes)
