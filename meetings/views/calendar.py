"""The calendar (/meetings/): month, week and agenda views of every series' occurrences, as Google Calendar shows
them. The view and the date are in the URL (?view=week&date=2026-12-08), times are in the viewer's zone with the
organiser's wall clock beside them where the zones differ; a bad view or date answers 400 with the reason."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboards.views.common import viewer_zone
from meetings import recurrence, selectors
from meetings.selectors import Slot
from novaops import policies
from novaops.decorators import person_required

VIEWS = (("month", "Month"), ("week", "Week"), ("agenda", "Agenda"))
# The agenda view lists this many days from its date; previous / next move by as many.
AGENDA_DAYS = 28
# Dates the calendar goes to: far enough for any planning, near enough that a window's arithmetic never overflows.
FIRST_YEAR, LAST_YEAR = 1970, 2200


class BadRequest(ValueError):
    """A view or date the calendar cannot show; the message is shown on the page (400)."""


@dataclass(frozen=True)
class Window:
    view: str
    anchor: date
    first: date  # the first day shown
    last: date  # the day after the last one shown
    previous: date
    next: date
    title: str


@dataclass(frozen=True)
class Entry:
    """A slot as the calendar shows it: its times in the viewer's zone, the organiser's clock where it differs."""

    slot: Slot
    start: datetime
    end: datetime
    organiser_clock: datetime | None
    url: str


@dataclass
class Day:
    day: date
    in_range: bool = True
    is_today: bool = False
    entries: list[Entry] = field(default_factory=list)


def window_of(view: str, anchor: date) -> Window:
    """The days a view shows around `anchor` (weeks start on Monday) and where previous / next go."""
    if view == "month":
        first_of_month = anchor.replace(day=1)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        previous_month = (first_of_month - timedelta(days=1)).replace(day=1)
        first = first_of_month - timedelta(days=first_of_month.weekday())
        last_day = next_month - timedelta(days=1)
        last = last_day + timedelta(days=7 - last_day.weekday())
        return Window(view, anchor, first, last, previous_month, next_month, f"{first_of_month:%B %Y}")
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=7)
        title = f"{_day_label(first)} – {_day_label(last - timedelta(days=1))}"
        return Window(view, anchor, first, last, first - timedelta(days=7), last, title)
    last = anchor + timedelta(days=AGENDA_DAYS)
    title = f"{_day_label(anchor)} – {_day_label(last - timedelta(days=1))}"
    return Window(view, anchor, anchor, last, anchor - timedelta(days=AGENDA_DAYS), last, title)


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def parse(query: dict, *, today: date) -> tuple[str, date]:
    """The view and date of the URL (month and today by default); BadRequest saying what is wrong."""
    view = query.get("view") or "month"
    if view not in dict(VIEWS):
        raise BadRequest(f"Unknown view “{view[:20]}”: choose month, week or agenda.")
    text = query.get("date") or ""
    if not text:
        return view, today
    try:
        anchor = date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"“{text[:20]}” is not a date; write it as YYYY-MM-DD.") from exc
    if not FIRST_YEAR <= anchor.year <= LAST_YEAR or len(text) != 10:
        raise BadRequest(f"Choose a date between {FIRST_YEAR} and {LAST_YEAR}, written as YYYY-MM-DD.")
    return view, anchor


def entries(slots: list[Slot], tz: ZoneInfo) -> list[Entry]:
    zone_key = getattr(tz, "key", str(tz))
    found = []
    for slot in slots:
        series = slot.series
        organiser = recurrence.local(slot.start, series.timezone) if series.timezone != zone_key else None
        url = reverse("meetings:occurrence", args=[series.pk, slot.recurrence_id])
        found.append(Entry(slot, slot.start.astimezone(tz), slot.end.astimezone(tz), organiser, url))
    return found


def days_of(window: Window, found: list[Entry], *, today: date) -> list[Day]:
    """Every day of the window with the entries that start on it (in the viewer's zone)."""
    days = {}
    current = window.first
    while current < window.last:
        in_range = window.view != "month" or current.month == window.anchor.month
        days[current] = Day(current, in_range=in_range, is_today=current == today)
        current += timedelta(days=1)
    for entry in found:
        day = days.get(entry.start.date())
        if day is not None:
            day.entries.append(entry)
    return list(days.values())


@require_safe
@person_required
def calendar(request: HttpRequest) -> HttpResponse:
    tz = viewer_zone(request)
    today = timezone.now().astimezone(tz).date()
    context = {
        "section": "meetings",
        "views": VIEWS,
        "today": today,
        "zone": getattr(tz, "key", str(tz)),
        "may_create": policies.is_lead(request.user),
    }
    try:
        view, anchor = parse(request.GET, today=today)
    except BadRequest as exc:
        context.update(error=str(exc), window=window_of("month", today))
        return render(request, "meetings/calendar.html", context, status=400)
    window = window_of(view, anchor)
    start = datetime.combine(window.first, time(0), tzinfo=tz)
    end = datetime.combine(window.last, time(0), tzinfo=tz)
    found = entries(selectors.slot_list(start=start, end=end), tz)
    days = days_of(window, found, today=today)
    context.update(
        window=window,
        days=days,
        weeks=[days[index : index + 7] for index in range(0, len(days), 7)],
        agenda=[day for day in days if day.entries],
        count=len(found),
    )
    return render(request, f"meetings/calendar_{view}.html", context)
