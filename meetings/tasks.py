"""Celery tasks of the meetings app: thin wrappers over meetings.services."""

from celery import shared_task

from meetings.services.occurrences import reminders_send, upcoming_materialise
from meetings.services.session import minutes_send, minutes_unsent_send


@shared_task(name="meetings.upcoming_materialise")
def upcoming_materialise_task() -> int:
    """Store the coming weeks' occurrences. Safe twice or at once: insert-ignore on (series, original_start)."""
    return upcoming_materialise()


@shared_task(name="meetings.reminders_send")
def reminders_send_task() -> int:
    """Remind attendees before each meeting, and mail minutes left unsent. Safe twice, at once, after a restart: a
    unique row per (occurrence, attendee, kind), claimed before its mail goes."""
    return reminders_send() + minutes_unsent_send()


@shared_task(name="meetings.minutes_send")
def minutes_send_task(occurrence_id: int) -> int:
    """Mail a closed meeting's minutes to its attendees. Safe twice: each row is claimed before its mail goes."""
    return minutes_send(occurrence_id=occurrence_id)
