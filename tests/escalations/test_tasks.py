"""The escalations' Celery tasks: run eagerly (tests/conftest.py), and the sweep once through a real worker."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from escalations.models import Escalation, Notification
from escalations.tasks import notifications_send_task, sla_sweep_task
from novaops.celery import enqueue
from tests.helpers.processes import wait_until


def test_the_sweep_task_counts_the_breaches_it_acted_on(org, raise_ticket):
    overdue = raise_ticket(at=timezone.now() - timedelta(hours=5))  # P2: 4 hours to acknowledge
    raise_ticket()

    assert sla_sweep_task.delay().get() == 1
    assert sla_sweep_task.delay().get() == 0
    assert Escalation.objects.get(pk=overdue.pk).level == 2


def test_the_send_task_mails_each_unsent_notification_once(org, raise_ticket):
    ticket = raise_ticket()  # its on_commit task does not run inside the test's transaction

    assert notifications_send_task.delay(ticket.pk).get() == 2
    assert notifications_send_task.delay(ticket.pk).get() == 0
    assert sorted(address for message in mail.outbox for address in message.to) == [
        "runtime-lead@example.test",
        "workflow-lead@example.test",
    ]


@pytest.mark.worker
def test_a_real_worker_escalates_an_overdue_ticket_and_mails_the_new_assignees(
    org, raise_ticket, workers, celery_on_broker
):
    """The beat's message, taken by a real worker: the ticket goes up a level, and the send task it enqueues after
    commit mails the Tier 1 leads (the worker's console email backend writes them to its log)."""
    ticket = raise_ticket(at=timezone.now() - timedelta(hours=5))
    worker = workers()

    enqueue("escalations.sla_sweep")

    wait_until(lambda: Escalation.objects.get(pk=ticket.pk).level == 2, timeout=30, what="the worker's sweep")
    escalated = Notification.objects.filter(escalation=ticket, reason="acknowledge-breached-level-2")
    wait_until(
        lambda: escalated.count() == 2 and not escalated.filter(sent_at__isnull=True).exists(),
        timeout=30,
        what="the escalation's emails",
    )
    log = worker.log.read_text(errors="replace")
    assert log.count(f"Subject: [{ticket.key}]") >= 2
    assert "To: core@example.test" in log and "To: meridian@example.test" in log
