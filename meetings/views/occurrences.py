"""The review session's pages: the occurrence page (agenda, notes, decisions, attendance, action items), the presenter
view for the shared screen, the minutes as a page and as Markdown, and every POST of the session through `act`.

The occurrence page brings the agenda up to date with the numbers each time it is opened, until it is frozen
(meetings.services.agenda.agenda_build is idempotent and keeps hand edits). A refused action (403, 409, 400) shows
the page again with the reason under its own status; a stale edit (409) also shows the item's current text next to
what its author typed, so nothing is lost.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from dashboards.views.common import viewer_zone
from meetings import recurrence, selectors
from meetings.agenda import agenda_period, minutes_context
from meetings.models import MeetingSeries, Occurrence
from meetings.policies import may_add_item_for, may_edit_action, may_edit_series, own_division_id
from meetings.services import agenda as agenda_services
from meetings.services import session
from meetings.services.occurrences import occurrence_open
from novaops.decorators import person_required
from novaops.errors import ApplicationError, InvalidInput


def occurrence_or_404(series_id: int, recurrence_id: str):
    """The stored occurrence named by the URL (stored on first visit), or 404 for a series or start that has none."""
    try:
        series = selectors.series_get(series_id=series_id)
        original_start = recurrence.recurrence_id_parse(recurrence_id)
        return occurrence_open(series=series, original_start=original_start)
    except (MeetingSeries.DoesNotExist, recurrence.RuleError, Occurrence.DoesNotExist) as exc:
        raise Http404("No such meeting.") from exc


def _ids(occurrence) -> list:
    return [occurrence.series_id, recurrence.recurrence_id(occurrence.original_start)]


def session_context(request: HttpRequest, occurrence) -> dict[str, Any]:
    """What the occurrence and presenter pages show, in the viewer's zone."""
    series = occurrence.series
    user = request.user
    own = own_division_id(user)
    context = minutes_context(occurrence)
    tz = viewer_zone(request)
    period = agenda_period(occurrence=occurrence)
    attendees = list(series.attendees.order_by("username"))
    present = {row.user_id for row in context["attendance"] if row.present}
    context.update(
        tz=tz,
        organiser_zone=series.timezone if series.timezone != tz.key else None,
        ids=_ids(occurrence),
        period=period,
        can_edit=may_edit_series(user, series),
        can_add=may_add_item_for(user, series, own),
        own_division=own,
        divisions=list(series.divisions.order_by("name")),
        attendees=[{"user": person, "present": person.pk in present} for person in attendees],
        owners=attendees,
        action_editable={action.pk for action in context["actions"] if may_edit_action(user, action)},
        is_open=occurrence.closed_at is None and occurrence.status != Occurrence.Status.CANCELLED,
        duration_seconds=int(series.duration.total_seconds()),
        section="meetings",
    )
    for item in context["items"]:
        if item.action is not None:
            item.action_editable = may_edit_action(user, item.action)
    return context


@require_safe
@person_required
def occurrence(request: HttpRequest, series_id: int, recurrence_id: str) -> HttpResponse:
    found = occurrence_or_404(series_id, recurrence_id)
    agenda_services.agenda_build(occurrence=found)
    return render(request, "meetings/occurrence.html", session_context(request, found))


@require_safe
@person_required
def present(request: HttpRequest, series_id: int, recurrence_id: str) -> HttpResponse:
    """The presenter view for a shared screen (1280×720): one item in focus, keys to move, a timer."""
    found = occurrence_or_404(series_id, recurrence_id)
    agenda_services.agenda_build(occurrence=found)
    return render(request, "meetings/present.html", session_context(request, found))


@require_safe
@person_required
def minutes(request: HttpRequest, series_id: int, recurrence_id: str) -> HttpResponse:
    found = occurrence_or_404(series_id, recurrence_id)
    context = minutes_context(found) | {"ids": _ids(found), "tz": viewer_zone(request), "section": "meetings"}
    return render(request, "meetings/minutes.html", context)


@require_safe
@person_required
def minutes_markdown(request: HttpRequest, series_id: int, recurrence_id: str) -> HttpResponse:
    found = occurrence_or_404(series_id, recurrence_id)
    text = render_to_string("meetings/minutes.md", minutes_context(found))
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    local = recurrence.local(found.start, found.series.timezone)
    response["Content-Disposition"] = f'attachment; filename="minutes-{found.series_id}-{local:%Y-%m-%d}.md"'
    return response


@require_POST
@person_required
def act(request: HttpRequest, series_id: int, recurrence_id: str, action: str) -> HttpResponse:
    found = occurrence_or_404(series_id, recurrence_id)
    handler = HANDLERS.get(action)
    if handler is None:
        raise Http404(f"No action {action} on a meeting.")
    try:
        done = handler(request, found)
    except ApplicationError as exc:
        # The page again, read afresh, under the refusal's status; a stale edit shows the current text beside yours.
        messages.error(request, _refusal(exc))
        context = session_context(request, occurrence_or_404(series_id, recurrence_id))
        if "current" in exc.extra:
            context["stale"] = {"item": _int(request.POST.get("item")), "current": exc.extra["current"]}
            context["stale"]["yours"] = {name: request.POST.get(name, "") for name in ("title", "body", "notes")}
        context["errors"] = {error.get("field"): error.get("message") for error in exc.errors}
        return render(request, "meetings/occurrence.html", context, status=exc.status)
    messages.success(request, done)
    anchor = request.POST.get("anchor", "")
    url = reverse("meetings:occurrence", args=_ids(found))
    return redirect(f"{url}#{anchor}" if anchor.replace("-", "").isalnum() else url)


def _refusal(exc: ApplicationError) -> str:
    details = [error["message"] for error in exc.errors if error.get("message")]
    return " ".join([exc.message, *details]) if details and len(details) <= 3 else exc.message


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def _required_int(request: HttpRequest, name: str) -> int:
    value = _int(request.POST.get(name))
    if value is None:
        raise InvalidInput(f"Missing {name}.", errors=[{"field": name, "message": "A number is required."}])
    return value


def _date(request: HttpRequest, name: str) -> date | None:
    value = request.POST.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("Not a date.", errors=[{"field": name, "message": "Use YYYY-MM-DD."}]) from exc


def _text(request: HttpRequest) -> agenda_services.ItemText:
    return agenda_services.ItemText(title=request.POST.get("title", "").strip(), body=request.POST.get("body", ""))


def _freeze(request, occurrence) -> str:
    frozen = agenda_services.agenda_freeze(actor=request.user, occurrence=occurrence)
    at = timezone.localtime(frozen.frozen_at, viewer_zone(request))
    return f"Agenda frozen: its figures are kept as seen at {at:%H:%M}."


def _start(request, occurrence) -> str:
    session.session_start(actor=request.user, occurrence=occurrence)
    return "Meeting started; the agenda's figures are frozen."


def _close(request, occurrence) -> str:
    session.session_close(actor=request.user, occurrence=occurrence)
    return "Meeting closed; the minutes are on their way to the attendees."


def _item_add(request, occurrence) -> str:
    division = _int(request.POST.get("division"))
    agenda_services.agenda_item_add(
        actor=request.user, occurrence=occurrence, text=_text(request), division_id=division
    )
    return "Item added to the agenda."


def _item_edit(request, occurrence) -> str:
    agenda_services.agenda_item_edit(
        actor=request.user,
        occurrence=occurrence,
        item_id=_required_int(request, "item"),
        text=_text(request),
        version=_int(request.POST.get("version")),
    )
    return "Item saved."


def _item_remove(request, occurrence) -> str:
    agenda_services.agenda_item_remove(
        actor=request.user, occurrence=occurrence, item_id=_required_int(request, "item")
    )
    return "Item removed from the agenda."


def _mover(step: int) -> Callable[[HttpRequest, Any], str]:
    def move(request, occurrence) -> str:
        item_id = _required_int(request, "item")
        agenda_services.agenda_item_move(actor=request.user, occurrence=occurrence, item_id=item_id, step=step)
        return "Item moved up." if step < 0 else "Item moved down."

    return move


def _notes(request, occurrence) -> str:
    session.notes_save(
        actor=request.user,
        occurrence=occurrence,
        item_id=_required_int(request, "item"),
        notes=request.POST.get("notes", ""),
        version=_int(request.POST.get("version")),
    )
    return "Notes saved."


def _decision(request, occurrence) -> str:
    item = _int(request.POST.get("item"))
    session.decision_add(actor=request.user, occurrence=occurrence, text=request.POST.get("text", ""), item_id=item)
    return "Decision recorded."


def _attendance(request, occurrence) -> str:
    present = {value for value in (_int(raw) for raw in request.POST.getlist("present")) if value is not None}
    session.attendance_set(actor=request.user, occurrence=occurrence, present_ids=present)
    return "Attendance saved."


def _action_add(request, occurrence) -> str:
    fields = session.ActionFields(
        title=request.POST.get("title", ""),
        owner_id=_required_int(request, "owner"),
        division_id=_int(request.POST.get("division")),
        due_on=_date(request, "due_on"),
    )
    action = session.action_add(actor=request.user, occurrence=occurrence, fields=fields)
    return f"Action item “{action.title}” added."


def _action_update(request, occurrence) -> str:
    action = session.action_update(
        actor=request.user,
        action_id=_required_int(request, "action"),
        status=request.POST.get("status", ""),
        due_on=_date(request, "due_on"),
        version=_int(request.POST.get("version")),
    )
    return f"“{action.title}” is {action.get_status_display().lower()}."


HANDLERS: dict[str, Callable[[HttpRequest, Any], str]] = {
    "freeze": _freeze,
    "start": _start,
    "close": _close,
    "item-add": _item_add,
    "item-edit": _item_edit,
    "item-remove": _item_remove,
    "item-up": _mover(-1),
    "item-down": _mover(1),
    "notes": _notes,
    "decision": _decision,
    "attendance": _attendance,
    "action-add": _action_add,
    "action-update": _action_update,
}
