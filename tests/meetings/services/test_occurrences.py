"""Beat's jobs over the coming weeks: materialising occurrences and reminding attendees, each exactly once however
often and however concurrently they run; and the one-occurrence exceptions (move, cancel)."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

from meetings.models import Occurrence, Reminder
from meetings.selectors import slot_list
from meetings.services.occurrences import (
    occurrence_cancel,
    occurrence_materialise,
    occurrence_move,
    occurrence_open,
    reminders_send,
    upcoming_materialise,
)
from novaops.errors import Conflict, Forbidden, InvalidInput

# Tuesday 8 December 2026, 09:00 in Denver (MST): the weekly sync's occurrence the reminders are about.
MEETING = datetime(2026, 12, 8, 16, tzinfo=UTC)
BEFORE = MEETING - timedelta(minutes=20)


def at_once(job, *, times: int = 2) -> list:
    """Run `job` in `times` threads released together, each on its own database connection; their results."""
    barrier = threading.Barrier(times)
    results: list = [None] * times
    errors: list = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


class FailingOnceForMeridian(EmailBackend):
    """The mail server refusing the first message to meridian (a timeout, a 4xx), then taking it."""

    failed = False

    def send_messages(self, messages):
        if not FailingOnceForMeridian.failed and any("meridian@example.test" in m.to for m in messages):
            FailingOnceForMeridian.failed = True
            raise ConnectionError("421 try again later")
        return super().send_messages(messages)


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


ATTENDEES = sorted(f"{name}@example.test" for name in ("core", "meridian", "runtime-member", "workflow-member"))


# --- materialising --------------------------------------------------------------------------------------------------


def test_materialise_stores_the_coming_weeks_once(weekly_sync):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    expected = {slot.original_start for slot in slot_list(start=now, end=now + timedelta(days=35))}
    assert len(expected) == 5
    assert upcoming_materialise(now=now) == 5
    assert upcoming_materialise(now=now) == 0
    assert set(Occurrence.objects.values_list("original_start", flat=True)) == expected


@pytest.mark.django_db(transaction=True)
def test_materialise_in_two_workers_at_once_stores_each_occurrence_once(weekly_sync):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    at_once(lambda: upcoming_materialise(now=now), times=3)
    stored = list(Occurrence.objects.values_list("original_start", flat=True))
    assert len(stored) == len(set(stored)) == 5


@pytest.mark.django_db(transaction=True)
def test_opening_an_occurrence_twice_at_once_gives_the_same_row(weekly_sync):
    rows = at_once(lambda: occurrence_open(series=weekly_sync, original_start=MEETING).pk, times=3)
    assert len(set(rows)) == 1
    assert Occurrence.objects.count() == 1


def test_materialise_keeps_a_moved_occurrence_where_it_was_moved(crew, weekly_sync):
    moved = occurrence_move(
        actor=crew.core,
        occurrence=occurrence_open(series=weekly_sync, original_start=MEETING),
        start=MEETING + timedelta(days=1),
    )
    upcoming_materialise(now=datetime(2026, 12, 1, tzinfo=UTC))
    assert Occurrence.objects.get(pk=moved.pk).start == MEETING + timedelta(days=1)
    assert Occurrence.objects.filter(original_start=MEETING).count() == 1


def test_only_the_rules_starts_can_be_materialised(weekly_sync):
    with pytest.raises(Occurrence.DoesNotExist):
        occurrence_materialise(series=weekly_sync, original_start=MEETING + timedelta(hours=1))


# --- reminders ------------------------------------------------------------------------------------------------------


@time_machine.travel(BEFORE, tick=False)
def test_each_attendee_is_reminded_once(weekly_sync):
    assert reminders_send() == 4
    assert reminders_send() == 0  # run again, or after a restart: the Reminder rows remember
    assert recipients() == ATTENDEES
    message = mail.outbox[0]
    assert message.subject == "[NovaOps] Weekly sync at 09:00 (America/Denver)"
    assert "Tuesday 08 December 2026 at 09:00 America/Denver" in message.body
    assert f"/meetings/series/{weekly_sync.pk}/20261208T160000Z/" in message.body
    assert Reminder.objects.filter(sent_at__isnull=False).count() == 4


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_remind_each_attendee_once(weekly_sync):
    with time_machine.travel(BEFORE, tick=False):
        counts = at_once(reminders_send, times=3)
    assert sum(counts) == 4
    assert recipients() == ATTENDEES


def test_no_reminder_too_early_after_the_start_or_for_a_cancelled_meeting(crew, weekly_sync):
    with time_machine.travel(MEETING - timedelta(hours=1), tick=False):
        assert reminders_send() == 0
    with time_machine.travel(MEETING + timedelta(minutes=1), tick=False):
        assert reminders_send() == 0
    next_week = MEETING + timedelta(days=7)
    occurrence_cancel(actor=crew.core, occurrence=occurrence_open(series=weekly_sync, original_start=next_week))
    with time_machine.travel(next_week - timedelta(minutes=10), tick=False):
        assert reminders_send() == 0
    assert mail.outbox == []


def test_a_moved_meeting_is_reminded_before_its_new_time(crew, weekly_sync):
    occurrence_move(
        actor=crew.core,
        occurrence=occurrence_open(series=weekly_sync, original_start=MEETING),
        start=MEETING + timedelta(hours=3),
    )
    with time_machine.travel(BEFORE, tick=False):
        assert reminders_send() == 0
    with time_machine.travel(BEFORE + timedelta(hours=3), tick=False):
        assert reminders_send() == 4
    assert "at 12:00 (America/Denver)" in mail.outbox[0].subject


def test_a_mail_that_fails_is_sent_on_the_next_run_and_does_not_hold_up_the_others(settings, weekly_sync):
    settings.EMAIL_BACKEND = f"{__name__}.FailingOnceForMeridian"
    FailingOnceForMeridian.failed = False
    with time_machine.travel(BEFORE, tick=False):
        assert reminders_send() == 3
        assert "meridian@example.test" not in recipients()
        assert Reminder.objects.filter(sent_at__isnull=True).count() == 1
    with time_machine.travel(BEFORE + timedelta(minutes=1), tick=False):
        assert reminders_send() == 1
        assert reminders_send() == 0
    assert recipients() == ATTENDEES


def test_attendees_without_an_email_address_are_skipped(crew, weekly_sync):
    crew.workflow_member.email = ""
    crew.workflow_member.save()
    with time_machine.travel(BEFORE, tick=False):
        assert reminders_send() == 3


# --- one occurrence: move and cancel --------------------------------------------------------------------------------


def test_a_move_needs_an_end_after_the_start_within_a_day(crew, weekly_sync):
    occurrence = occurrence_open(series=weekly_sync, original_start=MEETING)
    with pytest.raises(InvalidInput) as before:
        occurrence_move(actor=crew.core, occurrence=occurrence, start=MEETING, end=MEETING - timedelta(minutes=1))
    assert before.value.errors[0]["field"] == "end"
    with pytest.raises(InvalidInput) as long:
        occurrence_move(actor=crew.core, occurrence=occurrence, start=MEETING, end=MEETING + timedelta(days=1, hours=1))
    assert long.value.errors[0]["field"] == "end"


def test_moving_back_to_the_rules_time_is_scheduled_again(crew, weekly_sync):
    occurrence = occurrence_open(series=weekly_sync, original_start=MEETING)
    moved = occurrence_move(actor=crew.core, occurrence=occurrence, start=MEETING + timedelta(hours=1))
    assert (moved.status, moved.sequence) == (Occurrence.Status.MOVED, 1)
    back = occurrence_move(actor=crew.core, occurrence=moved, start=MEETING)
    assert (back.status, back.sequence) == (Occurrence.Status.SCHEDULED, 2)


def test_a_cancelled_occurrence_cannot_be_moved_or_cancelled_again(crew, weekly_sync):
    occurrence = occurrence_cancel(
        actor=crew.core, occurrence=occurrence_open(series=weekly_sync, original_start=MEETING)
    )
    with pytest.raises(Conflict):
        occurrence_move(actor=crew.core, occurrence=occurrence, start=MEETING + timedelta(hours=1))
    with pytest.raises(Conflict):
        occurrence_cancel(actor=crew.core, occurrence=occurrence)


def test_members_and_viewers_do_not_move_meetings(crew, weekly_sync):
    occurrence = occurrence_open(series=weekly_sync, original_start=MEETING)
    for user in (crew.runtime_member, crew.viewer):
        with pytest.raises(Forbidden):
            occurrence_move(actor=user, occurrence=occurrence, start=MEETING + timedelta(hours=1))
        with pytest.raises(Forbidden):
            occurrence_cancel(actor=user, occurrence=occurrence)
    assert date(2026, 12, 8) == occurrence.start.date()
