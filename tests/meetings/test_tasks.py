"""The meetings' Celery tasks: run eagerly (tests/conftest.py), named as beat's schedule names them, and the reminder
job once through a real worker."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone

from meetings.models import Occurrence, Reminder
from meetings.services.series import SeriesFields, series_create
from meetings.tasks import reminders_send_task, upcoming_materialise_task
from novaops.celery import app, enqueue
from tests.helpers.processes import wait_until

NOW = datetime(2026, 12, 1, tzinfo=UTC)
# Tuesday 8 December 2026, 09:00 in Denver: a weekly sync.
MEETING = datetime(2026, 12, 8, 16, tzinfo=UTC)


def test_beat_schedules_both_jobs_by_their_registered_names():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"meetings.upcoming_materialise", "meetings.reminders_send"} <= scheduled
    assert {"meetings.upcoming_materialise", "meetings.reminders_send"} <= set(app.tasks)


@time_machine.travel(NOW, tick=False)
def test_the_materialise_task_counts_what_it_stored(weekly_sync):
    assert upcoming_materialise_task.delay().get() == 5
    assert upcoming_materialise_task.delay().get() == 0
    assert Occurrence.objects.count() == 5


def test_the_reminder_task_mails_each_attendee_once(weekly_sync):
    with time_machine.travel(MEETING - timedelta(minutes=15), tick=False):
        assert reminders_send_task.delay().get() == 4
        assert reminders_send_task.delay().get() == 0
    assert len(mail.outbox) == 4


@pytest.mark.worker
def test_a_real_worker_sends_the_reminders(crew, workers, celery_on_broker):
    """The beat's message taken by a real worker (its console email backend writes the mails to its log). The worker
    has its own clock, which time-machine cannot move: the meeting is placed a few minutes ahead of it instead."""
    soon = (timezone.now() + timedelta(minutes=10)).astimezone(ZoneInfo("America/Denver"))
    fields = SeriesFields(
        title="Stand-up",
        kind="other",
        rrule="FREQ=DAILY",
        start_date=soon.date(),
        start_time=soon.time().replace(second=0, microsecond=0),
        timezone="America/Denver",
        duration=timedelta(minutes=15),
        attendees=[crew.core, crew.meridian],
    )
    series = series_create(actor=crew.core, fields=fields)
    worker = workers()

    enqueue("meetings.reminders_send")

    sent = Reminder.objects.filter(occurrence__series=series, sent_at__isnull=False)
    wait_until(lambda: sent.count() == 2, timeout=30, what="the worker's reminders")
    log = worker.log.read_text(errors="replace")
    assert "To: core@example.test" in log and "Subject: [NovaOps] Stand-up" in log
