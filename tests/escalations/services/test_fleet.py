"""The silent-division escalation (escalations/services/fleet.py): one friction ticket for a division when more than
its silent share of live agents are silent, raised by the fleet monitor, once per episode (run twice, in two threads
on two connections at once), and again only after the first was resolved."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from agents.constants import LIVENESS_COMPONENT, LIVENESS_GAP
from agents.models import Agent
from agents.services.heartbeats import heartbeat_record
from agents.services.lifecycle import agent_transition
from escalations.models import Escalation
from escalations.services.fleet import LOCK_NAMESPACE, MONITOR, silent_divisions_escalate
from novaops.services import heartbeat_run
from tests.factories import AgentFactory
from tests.helpers.processes import wait_until

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=10)  # past the default allowance (1 min + 5 min grace) of an agent heard at T0


@pytest.fixture
def fleet(org):
    """Ten agents of NovaCore Runtime activated at T0 (the org's own agents paused, out of the count); returns
    report(n): the first n of them report at LATER, the others stay silent."""
    Agent.objects.update(lifecycle_state=Agent.Lifecycle.PAUSED)
    agents = []
    for _ in range(10):
        agent = AgentFactory(division=org.runtime, lifecycle_state=Agent.Lifecycle.DEPLOYED)
        agents.append(agent_transition(agent=agent, name="activate", actor=None, at=T0, system="test"))

    def report(n: int) -> list[Agent]:
        for agent in agents[:n]:
            heartbeat_record(agent=agent, actor=None, at=LATER)
        return agents[n:]

    return report


def test_silence_during_an_outage_of_novaops_raises_nothing(fleet):
    """The liveness monitor did not run for the last hour (NovaOps was down): nobody watched, so none of the
    agents counts as silent until the monitor has watched them for their allowance again."""
    fleet(0)
    heartbeat_run(component=LIVENESS_COMPONENT, at=LATER - timedelta(hours=1), gap=LIVENESS_GAP)

    assert silent_divisions_escalate(now=LATER) == []
    heartbeat_run(component=LIVENESS_COMPONENT, at=LATER, gap=LIVENESS_GAP)
    assert silent_divisions_escalate(now=LATER + timedelta(minutes=1)) == []
    for minutes in range(2, 7, 2):
        heartbeat_run(component=LIVENESS_COMPONENT, at=LATER + timedelta(minutes=minutes), gap=LIVENESS_GAP)
    assert len(silent_divisions_escalate(now=LATER + timedelta(minutes=6, seconds=30))) == 1


def test_a_division_at_its_silent_share_raises_nothing(fleet):
    fleet(7)  # 3 of 10 silent: not more than 30 %
    assert silent_divisions_escalate(now=LATER, watching_since=T0) == []
    assert not Escalation.objects.exists()


def test_a_division_past_its_silent_share_gets_one_friction_ticket_however_often_the_job_runs(org, fleet):
    silent = fleet(6)  # 4 of 10
    [number] = silent_divisions_escalate(now=LATER, watching_since=T0)
    assert silent_divisions_escalate(now=LATER, watching_since=T0) == []
    assert silent_divisions_escalate(now=LATER + timedelta(hours=1), watching_since=T0) == []
    ticket = Escalation.objects.get()
    assert ticket.number == number
    assert (ticket.kind, ticket.level, ticket.state) == ("friction", 2, "open")
    assert ticket.raised_division == org.runtime
    assert (ticket.raised_by, ticket.raised_token_name) == (None, MONITOR)
    assert ticket.title == "Silent agents in NovaCore Runtime: 4 of 10"
    assert ticket.created_at == LATER
    assert set(ticket.agents.values_list("handle", flat=True)) == {agent.handle for agent in silent}
    assert set(ticket.assignees.values_list("username", flat=True)) == {"core"}  # NovaOps' Tier 1 lead


def test_a_new_episode_after_the_first_ticket_was_resolved_raises_a_new_one(fleet):
    fleet(6)
    [first] = silent_divisions_escalate(now=LATER, watching_since=T0)
    Escalation.objects.filter(number=first).update(state=Escalation.State.RESOLVED)
    [second] = silent_divisions_escalate(now=LATER + timedelta(minutes=1), watching_since=T0)
    assert second != first
    assert silent_divisions_escalate(now=LATER + timedelta(minutes=2), watching_since=T0) == []


def test_a_ticket_someone_else_raised_does_not_stand_for_the_monitors(org, fleet, raise_ticket):
    fleet(6)
    raise_ticket("friction", title="Silent agents in NovaCore Runtime: our own words")
    assert len(silent_divisions_escalate(now=LATER, watching_since=T0)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_jobs_at_once_on_two_connections_raise_one_ticket(org, fleet):
    """Two jobs in two threads, each on its own connection: this connection holds the division's advisory lock
    until both wait for it, then lets go. One raises the ticket; the other finds it and raises nothing."""
    fleet(6)
    results: dict[str, object] = {}

    def job(name: str) -> None:
        try:
            results[name] = silent_divisions_escalate(now=LATER, watching_since=T0)
        except Exception as error:  # reported by the assertion below
            results[name] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=job, args=(name,)) for name in ("first", "second")]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, org.runtime.pk])
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            wait_until(lambda n=waiting: _waiting_for_the_lock() == n, timeout=20, what=f"{waiting} job(s) waiting")
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(len(result) for result in results.values()) == [0, 1], results
    assert Escalation.objects.count() == 1


def _waiting_for_the_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND state = 'active'
            """
        )
        return cursor.fetchone()[0]


def test_the_task_runs_the_job_on_the_current_clock_while_the_liveness_monitor_watches(fleet):
    import time_machine

    from escalations.tasks import silent_divisions_task

    fleet(6)
    heartbeat_run(component=LIVENESS_COMPONENT, at=T0, gap=LIVENESS_GAP)
    for minutes in range(2, 11, 2):
        heartbeat_run(component=LIVENESS_COMPONENT, at=T0 + timedelta(minutes=minutes), gap=LIVENESS_GAP)
    with time_machine.travel(LATER, tick=False):
        assert len(silent_divisions_task.delay().get()) == 1
