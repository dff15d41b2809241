"""One occurrence: storing it (materialising), moving it, cancelling it; and beat's jobs over the coming weeks:
materialise what is ahead, remind attendees before each meeting."""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from meetings import constants, recurrence
from meetings.models import MeetingSeries, Occurrence, Reminder
from meetings.policies import may_edit_series
from meetings.selectors import pattern_of, slot_list
from novaops.errors import Conflict, Forbidden, InvalidInput

logger = logging.getLogger(__name__)


def occurrence_materialise(*, series: MeetingSeries, original_start: datetime) -> Occurrence:
    """The stored occurrence of `series` at `original_start`, created if it is not yet. Safe at once in two
    processes: the unique (series, original_start) decides, and the loser reads the winner's row."""
    if not recurrence.is_occurrence(pattern_of(series), original_start):
        raise Occurrence.DoesNotExist(f"{series} has no occurrence at {original_start:%Y-%m-%d %H:%M} UTC.")
    rows = Occurrence.objects.bulk_create(
        [
            Occurrence(
                series=series, original_start=original_start, start=original_start, end=original_start + series.duration
            )
        ],
        ignore_conflicts=True,
    )
    del rows  # ignore_conflicts gives no primary key back: read the row either way
    return Occurrence.objects.select_related("series").get(series=series, original_start=original_start)


def occurrence_move(*, actor: Any, occurrence: Occurrence, start: datetime, end: datetime | None = None) -> Occurrence:
    """Move one occurrence (the ICS shows it as a RECURRENCE-ID override)."""
    _require_editable(actor, occurrence)
    end = end or start + occurrence.series.duration
    if end <= start:
        raise InvalidInput("A meeting ends after it starts.", errors=[{"field": "end", "message": "Before the start."}])
    if end - start > constants.MAX_DURATION:
        raise InvalidInput("A meeting lasts at most a day.", errors=[{"field": "end", "message": "Over a day."}])
    status = (
        Occurrence.Status.SCHEDULED
        if (start, end) == (occurrence.original_start, occurrence.original_start + occurrence.series.duration)
        else Occurrence.Status.MOVED
    )
    Occurrence.objects.filter(pk=occurrence.pk).update(start=start, end=end, status=status, sequence=F("sequence") + 1)
    occurrence.refresh_from_db()
    return occurrence


def occurrence_cancel(*, actor: Any, occurrence: Occurrence) -> Occurrence:
    """Cancel one occurrence (an EXDATE in the ICS); its agenda and action items stay for the record."""
    _require_editable(actor, occurrence)
    Occurrence.objects.filter(pk=occurrence.pk).update(status=Occurrence.Status.CANCELLED, sequence=F("sequence") + 1)
    occurrence.refresh_from_db()
    return occurrence


def _require_editable(actor: Any, occurrence: Occurrence) -> None:
    if not may_edit_series(actor, occurrence.series):
        raise Forbidden(f"Only Tier 1 leads and its organiser change “{occurrence.series.title}”.")
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise Conflict("This occurrence is cancelled; it cannot be changed.")
    if occurrence.closed_at is not None:
        raise Conflict("This meeting is over and its minutes are closed.")


def upcoming_materialise(*, now: datetime | None = None) -> int:
    """Store every occurrence of the coming MATERIALISE_AHEAD; returns how many were missing. Safe twice or at once in
    two workers: one insert-ignore per (series, original_start) (two at once may both count a row one of them
    stored)."""
    now = now or timezone.now()
    return _store_missing(now, now + constants.MATERIALISE_AHEAD)


def _store_missing(start: datetime, end: datetime) -> int:
    slots = [slot for slot in slot_list(start=start, end=end) if slot.occurrence is None]
    rows = [
        Occurrence(series=slot.series, original_start=slot.original_start, start=slot.start, end=slot.end)
        for slot in slots
    ]
    Occurrence.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def reminders_send(*, now: datetime | None = None) -> int:
    """Email attendees of each meeting starting within REMINDER_BEFORE; once per (occurrence, attendee), also after a
    restart or when two workers run this at once: the unique Reminder row is inserted first (insert-ignore), then
    claimed by compare-and-swap on sent_at before its mail goes; a mail that fails gives its claim back (the next
    run tries again) without holding up the other attendees' mails. Returns how many were sent."""
    now = now or timezone.now()
    # A series created since beat's last materialise run still has its first meeting reminded.
    _store_missing(now, now + constants.REMINDER_BEFORE)
    due = Occurrence.objects.filter(
        start__gt=now,
        start__lte=now + constants.REMINDER_BEFORE,
        status__in=[Occurrence.Status.SCHEDULED, Occurrence.Status.MOVED],
    ).select_related("series")
    sent = 0
    for occurrence in due:
        attendees = [user for user in occurrence.series.attendees.all() if user.email]
        Reminder.objects.bulk_create(
            [Reminder(occurrence=occurrence, user=user) for user in attendees], ignore_conflicts=True
        )
        unsent = Reminder.objects.filter(occurrence=occurrence, kind="reminder", sent_at__isnull=True)
        for reminder in unsent.select_related("user"):
            if not Reminder.objects.filter(pk=reminder.pk, sent_at__isnull=True).update(sent_at=timezone.now()):
                continue  # another worker claimed it
            try:
                _remind(occurrence, reminder.user)
            except Exception:
                Reminder.objects.filter(pk=reminder.pk).update(sent_at=None)
                logger.exception(
                    "Reminder %s to user %s failed; the next run tries again.", reminder.pk, reminder.user_id
                )
                continue
            sent += 1
    return sent


def _remind(occurrence: Occurrence, user: Any) -> None:
    series = occurrence.series
    local = recurrence.local(occurrence.start, series.timezone)
    path = reverse("meetings:occurrence", args=[series.pk, recurrence.recurrence_id(occurrence.original_start)])
    send_mail(
        subject=f"[NovaOps] {series.title} at {local:%H:%M} ({series.timezone})",
        message=(
            f"{series.title} starts {local:%A %d %B %Y at %H:%M} {series.timezone} "
            f"and lasts {int(series.duration.total_seconds() // 60)} minutes.\n\n"
            f"The agenda: {settings.NOVAOPS_BASE_URL}{path}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )


def occurrence_open(*, series: MeetingSeries, original_start: datetime) -> Occurrence:
    """For the occurrence page: the stored occurrence, created on first visit (an agenda needs a row to hang on)."""
    with transaction.atomic():
        return occurrence_materialise(series=series, original_start=original_start)
