"""A series' page, its create and edit forms, and the edit of one occurrence (move, cancel, or an edit for this
occurrence, this and following, or all). The forms check shape; the services decide, and what they refuse is shown
beside the fields (400) or as the page's message under the refusal's status (403, 409)."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from dashboards.views.common import viewer_zone
from meetings import recurrence, selectors
from meetings.forms import (
    COMMON_ZONES,
    CancelForm,
    MoveForm,
    ScopedEditForm,
    SeriesForm,
    dress,
    series_initial,
    service_errors,
)
from meetings.models import MeetingSeries, Occurrence
from meetings.policies import may_edit_series
from meetings.selectors import Slot
from meetings.services.occurrences import occurrence_cancel, occurrence_move, occurrence_open
from meetings.services.series import series_create as series_create_service
from meetings.services.series import series_split, series_update_all
from novaops.decorators import lead_required, person_required
from novaops.errors import ApplicationError, InvalidInput

# The series page lists this many occurrences ahead and behind, looking this far either way.
LISTED = 8
LOOK_AHEAD = timedelta(days=400)
LOOK_BACK = timedelta(days=400)


def series_or_404(series_id: int) -> MeetingSeries:
    try:
        return selectors.series_get(series_id=series_id)
    except MeetingSeries.DoesNotExist as exc:
        raise Http404(f"No meeting series {series_id}.") from exc


def _require_editor(request: HttpRequest, series: MeetingSeries) -> None:
    if not may_edit_series(request.user, series):
        raise PermissionDenied(f"Only Tier 1 leads and its organiser edit “{series.title}”.")


@require_safe
@person_required
def series_detail(request: HttpRequest, series_id: int) -> HttpResponse:
    series = series_or_404(series_id)
    now = timezone.now()
    upcoming = selectors.slot_list(start=now, end=now + LOOK_AHEAD, series=selectors.series_list().filter(pk=series.pk))
    past = selectors.slot_list(start=now - LOOK_BACK, end=now, series=selectors.series_list().filter(pk=series.pk))
    context = {
        "series": series,
        "upcoming": upcoming[:LISTED],
        "past": [slot for slot in reversed(past) if slot.end <= now][:LISTED],
        "may_edit": may_edit_series(request.user, series),
        "split_into": MeetingSeries.objects.filter(split_from=series).first(),
        "zone": viewer_zone(request).key,
        "section": "meetings",
    }
    return render(request, "meetings/series.html", context)


def _form_page(request: HttpRequest, form: SeriesForm, *, series: MeetingSeries | None, status: int) -> HttpResponse:
    context = {"form": dress(form), "series": series, "zones": COMMON_ZONES, "section": "meetings"}
    return render(request, "meetings/series_form.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@lead_required("Only Tier 1 leads create meeting series.")
def series_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        initial = {"timezone": viewer_zone(request).key, "duration": 30, "interval": 1, "ends": "never"}
        initial.update(start_date=timezone.localdate(), start_time="09:00", monthly_by="weekday")
        return _form_page(request, SeriesForm(initial=initial), series=None, status=200)
    form = SeriesForm(request.POST)
    if form.is_valid():
        try:
            series = series_create_service(actor=request.user, fields=form.series_fields())
        except ApplicationError as exc:
            service_errors(form, exc)
        else:
            messages.success(request, f"“{series.title}” created.")
            return redirect("meetings:series", series_id=series.pk)
    return _form_page(request, form, series=None, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def series_edit(request: HttpRequest, series_id: int) -> HttpResponse:
    """An edit of every occurrence ("all"); an occurrence's own edit page offers the other scopes."""
    series = series_or_404(series_id)
    _require_editor(request, series)
    if request.method != "POST":
        return _form_page(request, SeriesForm(initial=series_initial(series)), series=series, status=200)
    form = SeriesForm(request.POST)
    if form.is_valid():
        try:
            series_update_all(actor=request.user, series=series, fields=form.series_fields())
        except ApplicationError as exc:
            service_errors(form, exc)
            return _form_page(request, form, series=series, status=400 if exc.status == 400 else exc.status)
        messages.success(request, f"“{form.cleaned_data['title']}” saved for every occurrence.")
        return redirect("meetings:series", series_id=series.pk)
    return _form_page(request, form, series=series, status=400)


def slot_or_404(series: MeetingSeries, recurrence_id: str) -> Slot:
    """The occurrence of `series` its URL names (by its original start), as the calendar shows it."""
    try:
        original = recurrence.recurrence_id_parse(recurrence_id)
    except recurrence.RuleError as exc:
        raise Http404(str(exc)) from exc
    stored = selectors.occurrence_get(series_id=series.pk, original_start=original)
    if stored is None and not recurrence.is_occurrence(selectors.pattern_of(series), original):
        raise Http404(f"“{series.title}” has no occurrence at {recurrence_id}.")
    if stored is None:
        return Slot(series, original, original, original + series.duration, Occurrence.Status.SCHEDULED, None)
    return Slot(series, original, stored.start, stored.end, stored.status, stored)


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def occurrence_edit(request: HttpRequest, series_id: int, recurrence_id: str) -> HttpResponse:
    series = series_or_404(series_id)
    _require_editor(request, series)
    slot = slot_or_404(series, recurrence_id)
    forms = _occurrence_forms(series, slot)
    if request.method != "POST":
        return _occurrence_page(request, series, slot, forms, status=200)
    action = request.POST.get("action", "")
    if action not in forms:
        return _occurrence_page(request, series, slot, forms, status=400, error="Unknown action.")
    form = _bound(action, series, slot, request.POST)
    forms[action] = form
    if not form.is_valid():
        return _occurrence_page(request, series, slot, forms, status=400)
    try:
        done, target = ACTIONS[action](request, series, slot, form)
    except ApplicationError as exc:
        if exc.status == 400:
            service_errors(form, exc)
        return _occurrence_page(request, series, slot, forms, status=exc.status, error=exc.message)
    messages.success(request, done)
    return redirect(target)


def _rule_key(rule: str, zone_name: str) -> dict[str, str]:
    """A rule's parts, with UNTIL as the local date it ends on: the helper writes the end of that day, a split one
    second before the next occurrence, and both mean the same last date."""
    parts = dict(part.partition("=")[::2] for part in rule.upper().removeprefix("RRULE:").split(";") if part)
    if parts.get("INTERVAL") == "1":
        del parts["INTERVAL"]
    if "T" in parts.get("UNTIL", ""):
        try:
            moment = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=recurrence.zone("UTC"))
            parts["UNTIL"] = recurrence.local(moment, zone_name).date().isoformat()
        except ValueError:
            pass
    return parts


def _local_date(slot: Slot) -> date:
    return recurrence.local(slot.original_start, slot.series.timezone).date()


def _occurrence_forms(series: MeetingSeries, slot: Slot) -> dict[str, Any]:
    tz = recurrence.zone(series.timezone)
    # Naive wall-clock times: a form field would show an aware one in the server's zone, not the series'.
    move_initial = {"start": _wall_clock(slot.start, tz), "end": _wall_clock(slot.end, tz)}
    # The series' own time, not this occurrence's (it may be moved): "all" and "following" start from the series.
    edit_initial = series_initial(series)
    return {
        "move": MoveForm(initial=move_initial, zone_name=series.timezone),
        "cancel": CancelForm(),
        "edit": ScopedEditForm(initial={**edit_initial, "scope": "this"}, start_date=_local_date(slot)),
    }


def _wall_clock(moment: datetime, tz: Any) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _bound(action: str, series: MeetingSeries, slot: Slot, data: Any) -> Any:
    if action == "move":
        return MoveForm(data, zone_name=series.timezone)
    if action == "cancel":
        return CancelForm(data)
    return ScopedEditForm(data, start_date=_local_date(slot))


def _occurrence_page(
    request: HttpRequest, series: MeetingSeries, slot: Slot, forms: dict[str, Any], *, status: int, error: str = ""
) -> HttpResponse:
    context = {
        "series": series,
        "slot": slot,
        "forms": {name: dress(form) for name, form in forms.items()},
        "error": error,
        "zones": COMMON_ZONES,
        "section": "meetings",
    }
    return render(request, "meetings/occurrence_edit.html", context, status=status)


def _move(request: HttpRequest, series: MeetingSeries, slot: Slot, form: MoveForm) -> tuple[str, str]:
    occurrence = occurrence_open(series=series, original_start=slot.original_start)
    occurrence_move(
        actor=request.user, occurrence=occurrence, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
    )
    return "Occurrence moved.", reverse("meetings:series", args=[series.pk])


def _cancel(request: HttpRequest, series: MeetingSeries, slot: Slot, form: CancelForm) -> tuple[str, str]:
    occurrence = occurrence_open(series=series, original_start=slot.original_start)
    occurrence_cancel(actor=request.user, occurrence=occurrence)
    return "Occurrence cancelled.", reverse("meetings:series", args=[series.pk])


def _edit(request: HttpRequest, series: MeetingSeries, slot: Slot, form: ScopedEditForm) -> tuple[str, str]:
    """The three scopes: this one (a move to the form's time and length on its own date), this and following (a
    split from its local date), all (the series itself, from its own first date)."""
    scope = form.cleaned_data["scope"]
    fields = form.series_fields()
    if scope == "all":
        series_update_all(actor=request.user, series=series, fields=_with_date(fields, series.start_date))
        return "Saved for every occurrence.", reverse("meetings:series", args=[series.pk])
    if scope == "following":
        new = series_split(actor=request.user, series=series, at=slot.original_start, fields=fields)
        return "Saved for this and the following occurrences.", reverse("meetings:series", args=[new.pk])
    _only_time_changed(series, form)
    tz = recurrence.zone(fields.timezone)
    start = datetime.combine(_local_date(slot), fields.start_time, tzinfo=tz)
    occurrence = occurrence_open(series=series, original_start=slot.original_start)
    occurrence_move(actor=request.user, occurrence=occurrence, start=start, end=start + fields.duration)
    return "Saved for this occurrence.", reverse("meetings:series", args=[series.pk])


def _with_date(fields: Any, start_date: date) -> Any:
    return replace(fields, start_date=start_date)


def _only_time_changed(series: MeetingSeries, form: ScopedEditForm) -> None:
    """One occurrence has its own time and length only: the rest belongs to the series (a field error otherwise)."""
    fields = form.series_fields()
    changed = [
        name
        for name in ("title", "kind", "description")
        if str(getattr(fields, name)).strip() != str(getattr(series, name)).strip()
    ]
    if _rule_key(fields.rrule, series.timezone) != _rule_key(series.rrule, series.timezone):
        changed.append("rule")
    if fields.timezone != series.timezone:
        changed.append("timezone")
    for name in ("domains", "divisions", "attendees"):
        if {row.pk for row in getattr(fields, name)} != {row.pk for row in getattr(series, name).all()}:
            changed.append(name)
    if changed:
        raise InvalidInput(
            "One occurrence changes only its time and length: apply the other changes to this and following, or all.",
            errors=[{"field": "scope", "message": f"Changed for the series: {', '.join(changed)}."}],
        )


ACTIONS = {"move": _move, "cancel": _cancel, "edit": _edit}
