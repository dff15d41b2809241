"""Template helpers of the calendar and series pages: a series' rule in words, a duration in words, and a time in
the organiser's zone with its abbreviation ("09:00 MST")."""

from datetime import date, datetime, time, timedelta

from django import template

from meetings import recurrence

register = template.Library()

DAY_NAMES = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday", "SA": "Saturday"}
DAY_NAMES["SU"] = "Sunday"
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
MONTH_NAMES = [date(2000, month, 1).strftime("%B") for month in range(1, 13)]
UNITS = {"DAILY": ("day", "days"), "WEEKLY": ("week", "weeks"), "MONTHLY": ("month", "months")}
UNITS["YEARLY"] = ("year", "years")
# Parts the words below cover; a rule with any other part (BYSETPOS, BYYEARDAY, WKST…) is shown raw only.
KNOWN_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTH", "BYMONTHDAY", "COUNT", "UNTIL"}


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def duration_words(value: timedelta) -> str:
    """30 min, 2 h, 1 h 30 min."""
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} h"] if hours else []
    if rest or not hours:
        parts.append(f"{rest} min")
    return " ".join(parts)


def _day_words(byday: str) -> list[str] | None:
    """BYDAY's entries in words ("Tuesday", "first Thursday"); None for an ordinal the words do not cover."""
    words = []
    for entry in byday.split(","):
        code, number = entry[-2:], entry[:-2]
        if code not in DAY_NAMES:
            return None
        if not number:
            words.append(DAY_NAMES[code])
            continue
        try:
            ordinal = ORDINALS[int(number)]
        except (ValueError, KeyError):
            return None
        words.append(f"{ordinal} {DAY_NAMES[code]}")
    return words


def _months(bymonth: str) -> str | None:
    try:
        return _join([MONTH_NAMES[int(month) - 1] for month in bymonth.split(",")])
    except (ValueError, IndexError):
        return None


def _until_words(until: str, zone_name: str) -> str | None:
    try:
        if "T" in until:
            moment = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=recurrence.zone("UTC"))
            day = recurrence.local(moment, zone_name).date()
        else:
            day = datetime.strptime(until, "%Y%m%d").date()
    except (ValueError, recurrence.RuleError):
        return None
    return f"until {day.day} {day:%b %Y}"


def _cadence(parts: dict[str, str]) -> str | None:
    """ "Every Tuesday", "Every 2 weeks on Monday and Thursday", "Monthly on the first Thursday", "On the first
    Monday of January, April, July and October"."""
    freq = parts["FREQ"]
    try:
        interval = int(parts.get("INTERVAL", "1"))
    except ValueError:
        return None
    if freq not in UNITS or interval < 1:
        return None
    unit = UNITS[freq][0] if interval == 1 else f"{interval} {UNITS[freq][1]}"
    days = _day_words(parts["BYDAY"]) if "BYDAY" in parts else []
    if days is None:
        return None
    months = _months(parts["BYMONTH"]) if "BYMONTH" in parts else ""
    if months is None:
        return None
    on = []
    if "BYMONTHDAY" in parts:
        on.append(f"on day {parts['BYMONTHDAY'].replace(',', ', ')}")
    if days:
        weekdays = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}
        named = "weekdays" if set(days) == weekdays and len(days) == 5 else _join(days)
        on.append(f"on {'the ' if days[0].split()[0] in ORDINALS.values() else ''}{named}")
    if months:
        on.append(f"in {months}" if not days else f"of {months}")
    if freq in ("DAILY", "WEEKLY") and interval == 1 and days and not months and "BYMONTHDAY" not in parts:
        return "Every " + on[0].removeprefix("on ").removesuffix("s")
    if months and freq in ("MONTHLY", "YEARLY") and interval == 1:
        text = " ".join(on)
        return text[0].upper() + text[1:]
    return " ".join([f"Every {unit}", *on])


def rule_in_words(*, rrule: str, start_time: time, timezone: str, duration: timedelta) -> str:
    """The common rules in words: "Every Tuesday at 09:00 America/Denver, 30 min". A rule the words do not cover
    reads "Custom rule at …" (the page shows the raw RRULE beside it either way)."""
    value = rrule.strip().removeprefix("RRULE:")
    parts = dict(part.partition("=")[::2] for part in value.upper().split(";") if part)
    cadence = None
    if parts.get("FREQ") and set(parts) <= KNOWN_PARTS:
        cadence = _cadence(parts)
    words = f"{cadence or 'Custom rule'} at {start_time:%H:%M} {timezone}, {duration_words(duration)}"
    if "COUNT" in parts and cadence:
        words += f", {parts['COUNT']} times"
    if "UNTIL" in parts and cadence:
        until = _until_words(parts["UNTIL"], timezone)
        words += f", {until}" if until else ""
    return words


@register.filter
def rule_words(series) -> str:
    return rule_in_words(
        rrule=series.rrule, start_time=series.start_time, timezone=series.timezone, duration=series.duration
    )


@register.filter
def minutes(value: timedelta) -> str:
    return duration_words(value)


@register.filter
def in_zone(moment: datetime, zone_name: str) -> datetime:
    """The moment in an IANA zone (for `|date` after it); the moment as it is for a zone that is not known."""
    try:
        return recurrence.local(moment, str(zone_name))
    except recurrence.RuleError:
        return moment


@register.filter
def clock(moment: datetime) -> str:
    """ "09:00 MST": the wall clock with the zone's abbreviation (or its offset, for zones without one)."""
    return f"{moment:%H:%M} {moment.tzname() or ''}".strip()
