"""Recurrence in the organiser's wall clock: pure functions over a series' rule, no database.

dateutil's rrule is given an aware DTSTART (the series' local date and time in its zoneinfo zone): it builds every
occurrence as that local time on the rule's dates, so the weekly sync stays at 09:00 in Denver across daylight
saving, and its UTC instant moves instead. A local time that does not exist (the spring-forward gap) or exists twice
(fall back) is read with fold=0, as RFC 5545 says: the offset in force before the transition.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil.rrule import rrule, rrulestr

from meetings.constants import MAX_OCCURRENCES

# Meetings repeat by the day or slower; a rule of seconds, minutes or hours is a mistake, and a costly one.
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
FORBIDDEN_PARTS = ("DTSTART", "BYSECOND", "BYMINUTE", "BYHOUR")


class RuleError(ValueError):
    """A recurrence rule, zone or start that cannot be used; the message says why, for a field error."""


def zone(name: str) -> ZoneInfo:
    if name not in _zones():
        raise RuleError(f"Unknown time zone '{name[:64]}'; use an IANA name such as America/Denver.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed zones load
        raise RuleError(f"Unknown time zone '{name[:64]}'.") from exc


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


_ZONES: set[str] | None = None


def rule_parse(text: str, *, start_date: date, start_time: time, timezone: str) -> rrule:
    """The rule as dateutil reads it from this local start; RuleError naming the problem otherwise.

    Accepts the RRULE value with or without the `RRULE:` prefix. UNTIL must be a UTC time (…Z), as RFC 5545 requires
    with a zoned DTSTART.
    """
    value = text.strip().removeprefix("RRULE:").strip()
    if not value or "\n" in value or ":" in value:
        raise RuleError("Give one RRULE value, e.g. FREQ=WEEKLY;BYDAY=TU.")
    parts = dict(part.partition("=")[::2] for part in value.upper().split(";") if part)
    if parts.get("FREQ") not in FREQUENCIES:
        raise RuleError(f"FREQ must be one of {', '.join(FREQUENCIES)}.")
    for name in FORBIDDEN_PARTS:
        if name in parts:
            raise RuleError(f"{name} is not allowed: the series' start gives the time of day.")
    # RFC 5545: with a DTSTART in a time zone, UNTIL is a UTC date-time (a date or a floating time is refused by
    # dateutil too, with a message that names no fix).
    if "UNTIL" in parts and not (parts["UNTIL"].endswith("Z") and "T" in parts["UNTIL"]):
        raise RuleError("UNTIL must be a time in UTC, e.g. UNTIL=20261231T235959Z.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleError("A rule has COUNT or UNTIL, not both.")
    dtstart = datetime.combine(start_date, start_time, tzinfo=zone(timezone))
    try:
        return rrulestr(value, dtstart=dtstart, forceset=False, cache=False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise RuleError(f"Not a valid recurrence rule: {exc}.") from exc


@dataclass(frozen=True)
class Pattern:
    """What expanding a series needs: its rule, local start, zone and duration."""

    rrule: str
    start_date: date
    start_time: time
    timezone: str
    duration: timedelta


def starts(pattern: Pattern, *, start: datetime, end: datetime) -> list[datetime]:
    """The rule's occurrence starts (UTC) that begin in [start, end), at most MAX_OCCURRENCES."""
    rule = rule_parse(
        pattern.rrule, start_date=pattern.start_date, start_time=pattern.start_time, timezone=pattern.timezone
    )
    found = []
    for moment in rule.xafter(start - timedelta(days=1), inc=True):
        utc = moment.astimezone(UTC)
        if utc >= end or len(found) >= MAX_OCCURRENCES:
            break
        if utc >= start:
            found.append(utc)
    return found


def first_start(pattern: Pattern) -> datetime | None:
    """The series' first occurrence (UTC), or None when its rule yields none."""
    rule = rule_parse(
        pattern.rrule, start_date=pattern.start_date, start_time=pattern.start_time, timezone=pattern.timezone
    )
    first = next(iter(rule), None)
    return first.astimezone(UTC) if first is not None else None


def is_occurrence(pattern: Pattern, moment: datetime) -> bool:
    """Whether `moment` (aware) is one of the rule's starts."""
    return moment.astimezone(UTC) in starts(pattern, start=moment, end=moment + timedelta(seconds=1))


def until_before(rule_text: str, moment: datetime) -> str:
    """The rule ended just before `moment` (for a "this and following" split): UNTIL one second earlier, in UTC."""
    parts = [part for part in rule_text.strip().removeprefix("RRULE:").split(";") if part]
    kept = [part for part in parts if part.split("=")[0].upper() not in ("UNTIL", "COUNT")]
    until = (moment.astimezone(UTC) - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    return ";".join([*kept, f"UNTIL={until}"])


def local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(zone(timezone))


def recurrence_id(moment: datetime) -> str:
    """An occurrence's id in URLs: its original start in UTC, compact (20261208T160000Z)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def recurrence_id_parse(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise RuleError(f"Not an occurrence id: {text[:40]}") from exc


def sorted_unique(moments: Iterable[datetime]) -> list[datetime]:
    return sorted(set(moments))
