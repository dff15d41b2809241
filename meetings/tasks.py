"""Celery tasks of the meetings app: thin wrappers over meetings.services."""

from celery import shared_task

from meetings.services.occurrences import reminders_send, upcoming_materialise


@shared_task(name="meetings.upcoming_materialise")
def upcoming_materialise_task() -> int:
    """Store the coming weeks' occurrences. Safe twice or at once: insert-ignore on (series, original_start)."""
    return upcoming_materialise()


@shared_task(name="meetings.reminders_send")
def reminders_send_task() -> int:
    """Remind attendees before each meeting. Safe twice, at once, after a restart: a unique row per (occurrence,
    attendee), claimed before its mail goes."""
    return reminders_send()
