"""meetings.services.session: carry-over across three meetings, frozen minutes, versioned notes and action items,
the minutes mailed exactly once, and who may do what."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.utils import timezone

from meetings.agenda import minutes_context
from meetings.models import ActionItem
from meetings.services.agenda import ItemText, agenda_build, agenda_item_add
from meetings.services.occurrences import occurrence_open
from meetings.services.session import (
    ActionFields,
    action_add,
    action_update,
    attendance_set,
    decision_add,
    minutes_send,
    minutes_unsent_send,
    notes_save,
    session_close,
    session_start,
)
from novaops.errors import Conflict, Forbidden
from tests.factories import AgentFactory

# Three Tuesdays at 09:00 in Denver (MST, then MDT from 8 March).
FIRST = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
SECOND = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
THIRD = datetime(2026, 3, 17, 15, 0, tzinfo=UTC)


def meeting(series, start):
    return occurrence_open(series=series, original_start=start)


def carried_items(occurrence):
    return {item.data["action_id"]: item for item in occurrence.agenda.filter(source_key__startswith="action:")}


def test_open_action_items_are_carried_over_and_counted(crew, weekly_sync, django_capture_on_commit_callbacks):
    first = meeting(weekly_sync, FIRST)
    with time_machine.travel(FIRST, tick=False):
        nodes = action_add(
            actor=crew.core, occurrence=first, fields=ActionFields("Order nodes", crew.runtime_member.pk)
        )
        docs = action_add(actor=crew.core, occurrence=first, fields=ActionFields("Write runbook", crew.meridian.pk))
        with django_capture_on_commit_callbacks(execute=True):
            session_close(actor=crew.core, occurrence=first)

    second = meeting(weekly_sync, SECOND)
    with time_machine.travel(SECOND, tick=False):
        agenda_build(occurrence=second)
        agenda_build(occurrence=second)  # a second build counts nothing twice
    assert set(carried_items(second)) == {nodes.pk, docs.pk}
    assert ActionItem.objects.get(pk=nodes.pk).carried == 1
    action_update(actor=crew.meridian, action_id=docs.pk, status="done", due_on=None, version=1)

    third = meeting(weekly_sync, THIRD)
    with time_machine.travel(THIRD, tick=False):
        agenda_build(occurrence=third)
    assert set(carried_items(third)) == {nodes.pk}  # done: no longer carried
    assert ActionItem.objects.get(pk=nodes.pk).carried == 2
    assert ActionItem.objects.get(pk=docs.pk).carried == 1


def test_minutes_keep_the_frozen_figures_when_the_metrics_change(crew, weekly_sync, land):
    AgentFactory(handle="ta_00001", callsign="Atlas", division=crew.runtime)
    second = meeting(weekly_sync, SECOND)
    with time_machine.travel(SECOND, tick=False):
        land(crew.runtime, [("error_rate_pct", "ta_00001", FIRST - timedelta(days=1), 1.0),
                            ("error_rate_pct", "ta_00001", SECOND - timedelta(days=1), 5.0)])  # fmt: skip
        session_start(actor=crew.core, occurrence=second)
        before = render_to_string("meetings/minutes.md", minutes_context(second))
        # A late correction of the same point and a new one: the live figures move, the minutes do not.
        land(crew.runtime, [("error_rate_pct", "ta_00001", SECOND - timedelta(days=1), 50.0),
                            ("error_rate_pct", "ta_00001", SECOND - timedelta(days=2), 70.0)])  # fmt: skip
        agenda_build(occurrence=second)
        after = render_to_string("meetings/minutes.md", minutes_context(second))
    assert "| Error rate (%) | 1 | 5 | ▲ 400 % (worse) |" in before
    assert after == before
    live = second.agenda.get(source_key="metrics:novacore-runtime")
    assert live.data == live.snapshot["data"]  # the frozen agenda is not refreshed either


def test_notes_are_versioned_like_the_item(crew, weekly_sync):
    second = meeting(weekly_sync, SECOND)
    item = agenda_item_add(actor=crew.core, occurrence=second, text=ItemText("Capacity"))
    notes_save(actor=crew.core, occurrence=second, item_id=item.pk, notes="Two nodes.", version=1)
    with pytest.raises(Conflict) as refused:
        notes_save(actor=crew.meridian, occurrence=second, item_id=item.pk, notes="Three nodes.", version=1)
    assert refused.value.extra["current"]["notes"] == "Two nodes."


def test_a_stale_action_update_is_refused(crew, weekly_sync):
    second = meeting(weekly_sync, SECOND)
    action = action_add(actor=crew.core, occurrence=second, fields=ActionFields("Order nodes", crew.runtime_member.pk))
    action_update(actor=crew.runtime_member, action_id=action.pk, status="in_progress", due_on=None, version=1)
    with pytest.raises(Conflict):
        action_update(actor=crew.core, action_id=action.pk, status="dropped", due_on=None, version=1)
    assert ActionItem.objects.get(pk=action.pk).status == "in_progress"


def test_the_minutes_are_mailed_to_the_attendees_exactly_once(crew, weekly_sync, django_capture_on_commit_callbacks):
    second = meeting(weekly_sync, SECOND)
    with time_machine.travel(SECOND, tick=False):
        decision_add(actor=crew.core, occurrence=second, text="Order two nodes.")
        with django_capture_on_commit_callbacks(execute=True):
            session_close(actor=crew.core, occurrence=second)
        with django_capture_on_commit_callbacks(execute=True):
            session_close(actor=crew.core, occurrence=second)  # closed already: nothing more
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        f"{name}@example.test" for name in ("core", "meridian", "runtime-member", "workflow-member")
    )
    assert "Order two nodes." in mail.outbox[0].body
    assert minutes_send(occurrence_id=second.pk) == 0  # a retried job sends nothing again
    assert len(mail.outbox) == 4


def test_minutes_a_mail_server_refused_go_out_with_the_next_beat(
    crew, weekly_sync, settings, django_capture_on_commit_callbacks
):
    second = meeting(weekly_sync, SECOND)
    # A backend that refuses every mail: the close still succeeds, and no claim is kept.
    settings.EMAIL_BACKEND = "tests.meetings.services.test_session.RefusingBackend"
    with time_machine.travel(SECOND, tick=False), django_capture_on_commit_callbacks(execute=True):
        closed = session_close(actor=crew.core, occurrence=second)
    assert closed.closed_at is not None
    assert closed.reminders.filter(kind="minutes", sent_at__isnull=True).count() == 4

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert minutes_unsent_send(now=SECOND) == 0  # not yet a minute old: the task may still be on its way
    assert minutes_unsent_send(now=timezone.now() + timedelta(minutes=2)) == 4
    assert minutes_unsent_send(now=timezone.now() + timedelta(minutes=3)) == 0
    assert len(mail.outbox) == 4


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


def test_who_may_run_the_meeting(crew, weekly_sync):
    second = meeting(weekly_sync, SECOND)
    for person in (crew.runtime_member, crew.viewer):
        with pytest.raises(Forbidden):
            session_start(actor=person, occurrence=second)
        with pytest.raises(Forbidden):
            session_close(actor=person, occurrence=second)
        with pytest.raises(Forbidden):
            decision_add(actor=person, occurrence=second, text="Mine.")
        with pytest.raises(Forbidden):
            attendance_set(actor=person, occurrence=second, present_ids=set())
    # A member adds action items for their own division, not for another; a viewer none.
    own = ActionFields("Patch", crew.runtime_member.pk, division_id=crew.runtime.pk)
    action = action_add(actor=crew.runtime_member, occurrence=second, fields=own)
    with pytest.raises(Forbidden):
        action_add(
            actor=crew.runtime_member,
            occurrence=second,
            fields=ActionFields("X", crew.runtime_member.pk, crew.workflow.pk),
        )
    with pytest.raises(Forbidden):
        action_add(actor=crew.viewer, occurrence=second, fields=ActionFields("X", crew.viewer.pk))
    # Their division's members edit it; another division's do not.
    with pytest.raises(Forbidden):
        action_update(actor=crew.workflow_member, action_id=action.pk, status="done", due_on=None, version=1)
    assert (
        action_update(actor=crew.runtime_member, action_id=action.pk, status="done", due_on=None, version=1).is_open
        is False
    )
