"""What happens in the meeting: start (which freezes the agenda), notes per item, decisions, attendance, action
items, and close (the minutes emailed to the attendees once).

The minutes go out once per (occurrence, attendee) whatever happens: a Reminder row of kind "minutes" is inserted
(insert-ignore) and claimed by compare-and-swap on sent_at before its mail goes, as meetings.services.occurrences
does for reminders; closing twice finds the meeting closed and sends nothing.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from meetings import constants, recurrence
from meetings.agenda import minutes_context
from meetings.models import ActionItem, Attendance, Decision, Occurrence, Reminder
from meetings.policies import may_add_item_for, may_edit_action
from meetings.services.agenda import freeze, item_locked, occurrence_lock, require_editor, require_open, stale
from novaops.celery import enqueue
from novaops.errors import Conflict, Forbidden, InvalidInput

logger = logging.getLogger(__name__)

MINUTES = "minutes"


def session_start(*, actor: Any, occurrence: Occurrence, now: datetime | None = None) -> Occurrence:
    """The meeting begins: the agenda is frozen (if it was not yet) and `started_at` set. Safe twice."""
    require_editor(actor, occurrence)
    require_open(occurrence)
    now = now or timezone.now()
    occurrence = freeze(occurrence=occurrence, now=now)
    Occurrence.objects.filter(pk=occurrence.pk, started_at__isnull=True).update(started_at=now)
    occurrence.refresh_from_db()
    return occurrence


def notes_save(*, actor: Any, occurrence: Occurrence, item_id: int, notes: str, version: int | None) -> None:
    """An item's notes, under the item's version (409 with the current text when someone saved in between)."""
    if len(notes) > constants.TEXT_MAX:
        raise InvalidInput("Notes too long.", errors=[{"field": "notes", "message": f"At most {constants.TEXT_MAX}."}])
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        require_editor(actor, occurrence)
        item = item_locked(occurrence, item_id)
        if version != item.version:
            raise stale(item, version)
        type(item).objects.filter(pk=item.pk).update(notes=notes, version=F("version") + 1)


def decision_add(*, actor: Any, occurrence: Occurrence, text: str, item_id: int | None = None) -> Decision:
    text = text.strip()
    if not text or len(text) > constants.TEXT_MAX:
        raise InvalidInput("A decision needs its text.", errors=[{"field": "text", "message": "Write the decision."}])
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        require_editor(actor, occurrence)
        item = item_locked(occurrence, item_id) if item_id is not None else None
        return Decision.objects.create(occurrence=occurrence, agenda_item=item, text=text, made_by=actor)


def attendance_set(*, actor: Any, occurrence: Occurrence, present_ids: set[int]) -> None:
    """Who was there, from the series' attendees: one row per attendee, present or not."""
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        require_open(occurrence)
        require_editor(actor, occurrence)
        attendees = list(occurrence.series.attendees.values_list("pk", flat=True))
        unknown = present_ids - set(attendees)
        if unknown:
            raise InvalidInput("Only the series' attendees.", errors=[{"field": "present", "message": "Unknown."}])
        for user_id in attendees:
            Attendance.objects.update_or_create(
                occurrence=occurrence, user_id=user_id, defaults={"present": user_id in present_ids}
            )


@dataclass(frozen=True)
class ActionFields:
    title: str
    owner_id: int
    division_id: int | None = None
    due_on: date | None = None


def _check_action(fields: ActionFields) -> None:
    errors = []
    if not fields.title.strip():
        errors.append({"field": "title", "message": "An action item needs a title."})
    if len(fields.title) > constants.TITLE_MAX:
        errors.append({"field": "title", "message": f"At most {constants.TITLE_MAX} characters."})
    if not get_user_model().objects.filter(pk=fields.owner_id, is_active=True).exists():
        errors.append({"field": "owner", "message": "No such person."})
    if errors:
        raise InvalidInput("The action item is not valid.", errors=errors)


def action_add(*, actor: Any, occurrence: Occurrence, fields: ActionFields) -> ActionItem:
    """An action item: leads and the organiser for anyone, a division member for their own division."""
    _check_action(fields)
    with transaction.atomic():
        occurrence = occurrence_lock(occurrence)
        # Who first: someone who may not add items learns that, whatever the meeting's state.
        if not may_add_item_for(actor, occurrence.series, fields.division_id):
            raise Forbidden("Members add action items for their own division; leads and the organiser for any.")
        require_open(occurrence)
        return ActionItem.objects.create(
            occurrence=occurrence,
            title=fields.title.strip(),
            owner_id=fields.owner_id,
            division_id=fields.division_id,
            due_on=fields.due_on,
        )


def action_update(*, actor: Any, action_id: int, status: str, due_on: date | None, version: int | None) -> ActionItem:
    """Status and due date, under the item's version. Allowed after the meeting closed: the owner marks it done
    during the week, and the next agenda then no longer carries it."""
    if status not in ActionItem.Status.values:
        raise InvalidInput(
            "Unknown status.", errors=[{"field": "status", "message": f"One of {ActionItem.Status.values}."}]
        )
    with transaction.atomic():
        action = (
            ActionItem.objects.select_for_update().select_related("occurrence__series").filter(pk=action_id).first()
        )
        if action is None:
            raise InvalidInput("No such action item.", errors=[{"field": "action", "message": "Not found."}])
        if not may_edit_action(actor, action):
            raise Forbidden("Its owner, their division's members and the leads update an action item.")
        if version != action.version:
            raise stale_action(action, version)
        ActionItem.objects.filter(pk=action.pk).update(status=status, due_on=due_on, version=F("version") + 1)
        action.refresh_from_db()
        return action


def stale_action(action: ActionItem, version: int | None) -> Conflict:
    return Conflict(
        f"Someone else updated “{action.title}” since you opened it: it is now {action.get_status_display()}"
        f"{f', due {action.due_on:%Y-%m-%d}' if action.due_on else ''}. Apply your change again if it still holds.",
        extra={"current": {"status": action.status, "version": action.version}},
    )


def session_close(*, actor: Any, occurrence: Occurrence, now: datetime | None = None) -> Occurrence:
    """The meeting ends: the agenda frozen if it was not, `closed_at` set, the minutes emailed to the attendees
    (after the commit, once each). Closing a closed meeting changes nothing and sends nothing."""
    require_editor(actor, occurrence)
    now = now or timezone.now()
    if occurrence.closed_at is not None:
        return occurrence
    require_open(occurrence)
    occurrence = freeze(occurrence=occurrence, now=now)
    with transaction.atomic():
        locked = occurrence_lock(occurrence)
        if locked.closed_at is not None:
            return locked
        Occurrence.objects.filter(pk=locked.pk).update(closed_at=now, started_at=locked.started_at or now)
        attendees = [user for user in locked.series.attendees.all() if user.email]
        Reminder.objects.bulk_create(
            [Reminder(occurrence=locked, user=user, kind=MINUTES) for user in attendees], ignore_conflicts=True
        )
        # A task, not the request: a mail server that fails must not turn the closing into an error, and the beat
        # job (minutes_unsent_send) mails what a lost broker or a failed mail left unsent.
        transaction.on_commit(lambda: enqueue("meetings.minutes_send", locked.pk))
    return Occurrence.objects.select_related("series").get(pk=occurrence.pk)


def minutes_send(*, occurrence_id: int) -> int:
    """Mail the minutes to every attendee not mailed yet; returns how many went. Each claimed before sending, given
    back if the mail fails (logged; the others still go), so a retry sends the rest and never a second copy."""
    occurrence = Occurrence.objects.select_related("series").get(pk=occurrence_id)
    text = render_to_string("meetings/minutes.md", minutes_context(occurrence))
    series = occurrence.series
    local = recurrence.local(occurrence.start, series.timezone)
    sent = 0
    for reminder in Reminder.objects.filter(occurrence=occurrence, kind=MINUTES, sent_at__isnull=True).select_related(
        "user"
    ):
        if not Reminder.objects.filter(pk=reminder.pk, sent_at__isnull=True).update(sent_at=timezone.now()):
            continue
        try:
            send_mail(
                subject=f"[NovaOps] Minutes: {series.title}, {local:%d %B %Y}",
                message=text,
                from_email=None,
                recipient_list=[reminder.user.email],
            )
        except Exception:
            Reminder.objects.filter(pk=reminder.pk).update(sent_at=None)
            logger.exception("Minutes to user %s failed; the next run tries again.", reminder.user_id)
            continue
        sent += 1
    return sent


def minutes_unsent_send(*, now: datetime | None = None) -> int:
    """Mail the minutes still unsent a minute after their meeting closed (the broker was down, a mail failed)."""
    stale = (now or timezone.now()) - timedelta(minutes=1)
    occurrence_ids = (
        Reminder.objects.filter(kind=MINUTES, sent_at__isnull=True, created_at__lte=stale)
        .values_list("occurrence_id", flat=True)
        .distinct()
    )
    return sum(minutes_send(occurrence_id=occurrence_id) for occurrence_id in occurrence_ids)
