"""The SLA sweep: one level up per missed deadline, exactly once (run twice, run late, run in two workers at once),
a flag and no more at level 3, the resolve clock paused while the ticket waits on its raiser, and one email per new
assignee. The clock is Python's, moved with time-machine: the services take `now` / `at` from it, and PostgreSQL's
NOW() (which it does not move) decides nothing here."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections, transaction

from escalations.models import Escalation, Notification
from escalations.services.notifications import notifications_send, notify_assignees
from escalations.services.sla import sla_policy_update, sla_sweep
from escalations.services.transitions import escalation_transition
from novaops.errors import Forbidden, InvalidInput
from tests.helpers.processes import wait_until

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# P2: acknowledge within 4 hours, resolve within 3 days (constants.SLA_DEFAULTS).
ACKNOWLEDGE = timedelta(hours=4)
RESOLVE = timedelta(days=3)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _reload(ticket: Escalation) -> Escalation:
    return Escalation.objects.get(pk=ticket.pk)


def _assignees(ticket: Escalation) -> set[str]:
    return set(ticket.assignees.values_list("username", flat=True))


def _recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_nothing_happens_before_a_deadline(org, raise_ticket, clock):
    ticket = raise_ticket()
    clock.move_to(T0 + ACKNOWLEDGE - timedelta(seconds=1))

    assert sla_sweep() == []
    assert _reload(ticket).level == 1


def test_a_missed_acknowledge_deadline_raises_the_level_once_however_often_the_sweep_runs(org, raise_ticket, clock):
    ticket = raise_ticket()
    assert _assignees(ticket) == {"runtime-lead", "workflow-lead"}
    clock.move_to(T0 + ACKNOWLEDGE + timedelta(minutes=1))

    assert sla_sweep() == [(ticket.number, "acknowledge")]
    assert sla_sweep() == []
    clock.shift(timedelta(minutes=5))
    assert sla_sweep() == []

    ticket = _reload(ticket)
    assert ticket.level == 2
    assert ticket.acknowledge_breached_at == T0 + ACKNOWLEDGE + timedelta(minutes=1)
    assert ticket.resolve_breached_at is None
    assert _assignees(ticket) == {"core", "meridian"}


def test_a_sweep_that_runs_late_acts_once_per_missed_deadline(org, raise_ticket, clock):
    ticket = raise_ticket()
    clock.move_to(T0 + RESOLVE + timedelta(hours=6))

    assert sla_sweep() == [(ticket.number, "acknowledge"), (ticket.number, "resolve")]
    assert sla_sweep() == []

    ticket = _reload(ticket)
    assert ticket.level == 3
    assert ticket.acknowledge_breached_at == ticket.resolve_breached_at == T0 + RESOLVE + timedelta(hours=6)


def test_an_acknowledged_ticket_only_has_its_resolve_clock_running(org, raise_ticket, clock):
    ticket = raise_ticket()
    clock.shift(timedelta(hours=1))
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.runtime_lead)
    clock.move_to(T0 + ACKNOWLEDGE + timedelta(hours=1))

    assert sla_sweep() == []
    clock.move_to(T0 + RESOLVE + timedelta(seconds=1))
    assert sla_sweep() == [(ticket.number, "resolve")]
    ticket = _reload(ticket)
    assert (ticket.level, ticket.acknowledge_breached_at) == (2, None)


def test_a_breach_at_level_three_is_flagged_and_not_escalated(org, raise_ticket, clock):
    ticket = raise_ticket(Escalation.Kind.FRICTION)  # friction starts at level 2
    escalation_transition(number=ticket.number, name="escalate", actor=org.core)
    ticket = _reload(ticket)
    assert ticket.level == 3
    notified = Notification.objects.filter(escalation=ticket).count()
    clock.move_to(T0 + RESOLVE + timedelta(hours=1))

    assert sla_sweep() == [(ticket.number, "acknowledge"), (ticket.number, "resolve")]
    assert sla_sweep() == []

    ticket = _reload(ticket)
    assert ticket.level == 3
    assert ticket.acknowledge_breached_at is not None and ticket.resolve_breached_at is not None
    assert _assignees(ticket) == {"core", "meridian"}
    assert Notification.objects.filter(escalation=ticket).count() == notified  # nobody new to tell


def test_waiting_on_the_raiser_pauses_the_resolve_clock(org, raise_ticket, clock):
    ticket = raise_ticket()
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.runtime_lead)
    clock.move_to(T0 + timedelta(days=1))
    escalation_transition(number=ticket.number, name="wait", actor=org.runtime_lead)

    # Five days on hold: well past the original resolve deadline, and no breach.
    waited = timedelta(days=5)
    clock.move_to(T0 + timedelta(days=1) + waited)
    assert sla_sweep() == []
    escalation_transition(number=ticket.number, name="start", actor=org.runtime_member)  # the raiser answers

    ticket = _reload(ticket)
    assert ticket.resolve_due_at == T0 + RESOLVE + waited
    assert ticket.paused_seconds == waited.total_seconds()
    assert (ticket.level, ticket.resolve_breached_at) == (1, None)

    clock.move_to(T0 + RESOLVE + waited - timedelta(seconds=1))
    assert sla_sweep() == []
    clock.move_to(T0 + RESOLVE + waited)
    assert sla_sweep() == [(ticket.number, "resolve")]
    assert _reload(ticket).level == 2


def test_the_new_assignees_get_one_email_each(org, raise_ticket, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = raise_ticket()
    assert _recipients() == ["runtime-lead@example.test", "workflow-lead@example.test"]
    mail.outbox.clear()
    clock.move_to(T0 + ACKNOWLEDGE + timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        sla_sweep()
        sla_sweep()
    assert _recipients() == ["core@example.test", "meridian@example.test"]
    assert all(message.subject.startswith(f"[{ticket.key}] P2 ") for message in mail.outbox)
    assert "passed its acknowledge deadline and was escalated to you" in mail.outbox[0].body

    # Sending again, or notifying again for the same reason, mails nobody: the row is already there and sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_send(escalation_id=ticket.pk) == 0
        notify_assignees(escalation=_reload(ticket), users=[org.core], reason="acknowledge-breached-level-2")
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(escalation=ticket, user=org.core).count() == 1


def test_the_sweep_mails_what_a_lost_task_left_unsent(org, raise_ticket, clock):
    # No on_commit callbacks run here: as if the broker had been down when the ticket was raised.
    ticket = raise_ticket()
    assert Notification.objects.filter(escalation=ticket, sent_at__isnull=True).count() == 2

    clock.shift(timedelta(seconds=30))
    sla_sweep()
    assert mail.outbox == []  # young rows are the task's to send

    clock.shift(timedelta(minutes=1))
    sla_sweep()
    assert _recipients() == ["runtime-lead@example.test", "workflow-lead@example.test"]
    assert not Notification.objects.filter(escalation=ticket, sent_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_on_two_connections_act_once(org, raise_ticket):
    """Two sweeps in two threads, each on its own database connection, both past the ticket's deadline at the same
    moment: this connection holds the ticket's row until both are waiting for it in their claiming UPDATE (as
    pg_stat_activity shows), then lets go. One claims the breach; the other, let through after it commits, finds
    the column set and does nothing."""
    with time_machine.travel(T0, tick=False):
        ticket = raise_ticket()
    mail.outbox.clear()
    now = T0 + ACKNOWLEDGE + timedelta(minutes=1)
    results: dict[str, object] = {}

    def sweep(name: str) -> None:
        try:
            results[name] = sla_sweep(now=now)
        except Exception as error:  # reported by the assertion below
            results[name] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep, args=(name,)) for name in ("first", "second")]
    with transaction.atomic():
        Escalation.objects.select_for_update().get(pk=ticket.pk)
        # One after the other into the wait, so that each is seen to wait (both are in it at once at the end).
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            wait_until(
                lambda n=waiting: len(_waiting_on_a_lock("acknowledge_breached_at")) == n,
                timeout=20,
                what=f"{waiting} sweep(s) waiting for the ticket's row",
            )
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(map(repr, results.values())) == sorted([repr([]), repr([(ticket.number, "acknowledge")])])
    ticket = _reload(ticket)
    assert ticket.level == 2
    assert _assignees(ticket) == {"core", "meridian"}
    # One set of notifications, and one email each (the eager task ran after the winning sweep's commit).
    escalated = Notification.objects.filter(escalation=ticket).exclude(reason__startswith="raised")
    assert sorted(escalated.values_list("user__username", "reason")) == [
        ("core", "acknowledge-breached-level-2"),
        ("meridian", "acknowledge-breached-level-2"),
    ]
    assert _recipients() == ["core@example.test", "meridian@example.test"]


def _waiting_on_a_lock(query_part: str) -> list[int]:
    """Other backends of the test database waiting for a lock in a statement containing `query_part`."""
    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL keeps serving its first snapshot of the statistics: drop it, read afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            """
            SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND wait_event_type = 'Lock' AND state = 'active' AND query ILIKE %s
            """,
            ["%" + query_part + "%"],
        )
        return [row[0] for row in cursor.fetchall()]


def test_only_a_tier1_lead_edits_the_policy_and_within_bounds(org):
    with pytest.raises(Forbidden):
        sla_policy_update(
            actor=org.runtime_lead, priority="P1", acknowledge_within=timedelta(hours=1), resolve_within=timedelta(1)
        )
    with pytest.raises(InvalidInput):
        sla_policy_update(
            actor=org.core, priority="P1", acknowledge_within=timedelta(hours=2), resolve_within=timedelta(hours=1)
        )
    policy = sla_policy_update(
        actor=org.core, priority="P1", acknowledge_within=timedelta(minutes=30), resolve_within=timedelta(hours=8)
    )
    assert (policy.acknowledge_within, policy.resolve_within) == (timedelta(minutes=30), timedelta(hours=8))
