"""Heartbeats and the liveness monitor (agents/services/heartbeats.py, the deadline rule in agents.selectors): a
heartbeat never moves last_seen_at backwards and records a new version in the trail; the monitor degrades an
overdue active agent and recovers a degraded one that reported again, each exactly once per change (run twice, and
in two threads on two database connections at once). The clock is moved with time-machine; the services take `now`
from it."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction

from agents.models import Agent, AgentLifecycleEvent
from agents.selectors import liveness_deadline, silent_agents
from agents.services.heartbeats import heartbeat_record, liveness_check
from agents.services.lifecycle import agent_transition
from novaops.errors import InvalidInput
from tests.factories import AgentFactory, DivisionFactory
from tests.helpers.processes import wait_until

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The division defaults: a heartbeat a minute, five minutes' grace.
ALLOWANCE = timedelta(minutes=6)
# The monitor has been running without a break since long before T0 (the tests of its watch pass none).
WATCHED = T0 - timedelta(days=30)


@pytest.fixture
def division(db):
    return DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")


def _activated(division, *, at=T0, **fields) -> Agent:
    """An agent deployed and activated at `at` (the trail says when), never heard from."""
    agent = AgentFactory(division=division, lifecycle_state=Agent.Lifecycle.DEPLOYED, **fields)
    return agent_transition(agent=agent, name="activate", actor=None, at=at, system="test")


def _reload(agent: Agent) -> Agent:
    return Agent.objects.get(pk=agent.pk)


def _events(agent: Agent, action: str) -> list[AgentLifecycleEvent]:
    return list(AgentLifecycleEvent.objects.filter(pgh_obj=agent, pgh_context__action=action).order_by("pgh_id"))


# --- the heartbeat ---


def test_a_heartbeat_moves_last_seen_forward_only_and_replaces_the_status(division):
    agent = _activated(division)
    heartbeat_record(agent=agent, actor=None, status="warming up", at=T0 + timedelta(minutes=2))
    heartbeat_record(agent=agent, actor=None, at=T0 + timedelta(minutes=1))  # late, out of order
    agent = _reload(agent)
    assert agent.last_seen_at == T0 + timedelta(minutes=2)
    assert agent.status_message == "warming up"
    heartbeat_record(agent=agent, actor=None, status="", at=T0 + timedelta(minutes=3))
    assert (_reload(agent).last_seen_at, _reload(agent).status_message) == (T0 + timedelta(minutes=3), "")


def test_a_new_version_becomes_the_deployed_one_in_the_trail_and_the_same_version_does_not(division):
    agent = _activated(division, deployed_version="1.0")
    heartbeat_record(agent=agent, actor=None, version="1.1", at=T0 + timedelta(minutes=1))
    heartbeat_record(agent=agent, actor=None, version="1.1", at=T0 + timedelta(minutes=2))
    assert _reload(agent).deployed_version == "1.1"
    [event] = _events(agent, "version reported")
    assert event.deployed_version == "1.1"
    assert event.pgh_context["version"] == "1.1"
    # Reporting a version is not a change of state: the deadline still runs from the last report.
    assert liveness_deadline(agent=agent) == T0 + timedelta(minutes=2) + ALLOWANCE


def test_a_heartbeat_refuses_an_overlong_version_or_status(division):
    agent = _activated(division)
    with pytest.raises(InvalidInput) as raised:
        heartbeat_record(agent=agent, actor=None, version="v" * 81, status="s" * 201)
    assert [error["field"] for error in raised.value.errors] == ["version", "status"]
    assert _reload(agent).last_seen_at is None


# --- the deadline ---


def test_the_deadline_runs_from_activation_until_the_first_report_then_from_the_last(division):
    agent = _activated(division)
    assert liveness_deadline(agent=agent) == T0 + ALLOWANCE
    heartbeat_record(agent=agent, actor=None, at=T0 + timedelta(minutes=10))
    assert liveness_deadline(agent=agent) == T0 + timedelta(minutes=10) + ALLOWANCE


def test_an_agents_own_period_and_grace_override_its_divisions(division):
    agent = _activated(division, heartbeat_period=timedelta(minutes=10), heartbeat_grace=timedelta(minutes=2))
    assert liveness_deadline(agent=agent) == T0 + timedelta(minutes=12)
    division.heartbeat_grace = timedelta(minutes=20)
    division.save()
    other = _activated(division)
    assert liveness_deadline(agent=other) == T0 + timedelta(minutes=21)


def test_paused_provisioning_and_retired_agents_are_never_silent(division):
    paused = _activated(division)
    agent_transition(agent=paused, name="pause", actor=None, at=T0, system="test")
    AgentFactory(division=division, lifecycle_state=Agent.Lifecycle.PROVISIONING)
    AgentFactory(division=division, lifecycle_state=Agent.Lifecycle.RETIRED)
    assert list(silent_agents(now=T0 + timedelta(days=30))) == []


# --- the monitor ---


def test_an_overdue_agent_is_degraded_once_however_often_the_monitor_runs(division):
    agent = _activated(division)
    assert liveness_check(now=T0 + ALLOWANCE - timedelta(seconds=1), watching_since=WATCHED) == {
        "degraded": [],
        "recovered": [],
    }
    late = T0 + ALLOWANCE + timedelta(seconds=1)
    assert liveness_check(now=late, watching_since=WATCHED) == {"degraded": [agent.handle], "recovered": []}
    assert liveness_check(now=late, watching_since=WATCHED) == {"degraded": [], "recovered": []}
    assert liveness_check(now=late + timedelta(hours=1), watching_since=WATCHED) == {"degraded": [], "recovered": []}
    assert _reload(agent).lifecycle_state == Agent.Lifecycle.DEGRADED
    [event] = _events(agent, "degrade")
    assert event.pgh_context["actor"] == "NovaOps heartbeat monitor"
    assert event.pgh_context["reason"] == "no heartbeat since it became active at 2026-03-02 09:00:00 UTC"
    assert event.pgh_context["at"] == late.isoformat()


def test_a_degraded_agent_that_reports_again_recovers_once(division):
    agent = _activated(division)
    heartbeat_record(agent=agent, actor=None, at=T0 + timedelta(minutes=1))
    degraded_at = T0 + timedelta(minutes=8)
    assert liveness_check(now=degraded_at, watching_since=WATCHED)["degraded"] == [agent.handle]
    # Still silent: stays degraded.
    assert liveness_check(now=degraded_at + timedelta(minutes=5), watching_since=WATCHED) == {
        "degraded": [],
        "recovered": [],
    }
    heartbeat_record(agent=agent, actor=None, at=degraded_at + timedelta(minutes=6))
    now = degraded_at + timedelta(minutes=6, seconds=10)
    assert liveness_check(now=now, watching_since=WATCHED) == {"degraded": [], "recovered": [agent.handle]}
    assert liveness_check(now=now, watching_since=WATCHED) == {"degraded": [], "recovered": []}
    assert _reload(agent).lifecycle_state == Agent.Lifecycle.ACTIVE
    [event] = _events(agent, "recover")
    assert event.pgh_context["reason"] == "reported again at 2026-03-02 09:14:00 UTC"
    # Active again, measured from its recovery (later than its report): overdue once more only after the allowance.
    assert liveness_check(now=now + ALLOWANCE, watching_since=WATCHED) == {"degraded": [], "recovered": []}
    assert liveness_check(now=now + ALLOWANCE + timedelta(seconds=1), watching_since=WATCHED)["degraded"] == [
        agent.handle
    ]
    assert len(_events(agent, "degrade")) == 2


def test_an_agent_resumed_after_a_long_pause_is_measured_from_its_resumption(division):
    agent = _activated(division)
    heartbeat_record(agent=agent, actor=None, at=T0)
    agent_transition(agent=agent, name="pause", actor=None, at=T0 + timedelta(minutes=1), system="test")
    resumed = T0 + timedelta(days=7)
    agent_transition(agent=agent, name="activate", actor=None, at=resumed, system="test")
    assert liveness_check(now=resumed + timedelta(minutes=1), watching_since=WATCHED)["degraded"] == []
    assert liveness_check(now=resumed + ALLOWANCE + timedelta(seconds=1), watching_since=WATCHED)["degraded"] == [
        agent.handle
    ]


def test_after_an_outage_the_monitor_gives_agents_their_allowance_before_degrading_any(division):
    """The monitor task (beat, every 30 s) last ran at T0; NovaOps was down for an hour, so nobody could report.
    Its first run after the outage starts watching again: the agent is degraded only once it has been silent for
    its whole allowance while watched, with the monitor running every two minutes meanwhile."""
    from agents.tasks import liveness_check_task

    agent = _activated(division)
    with time_machine.travel(T0, tick=False):
        assert liveness_check_task.delay().get() == {"degraded": [], "recovered": []}
    back = T0 + timedelta(hours=1)
    for minutes in range(0, 7, 2):
        with time_machine.travel(back + timedelta(minutes=minutes), tick=False):
            assert liveness_check_task.delay().get() == {"degraded": [], "recovered": []}
    with time_machine.travel(back + ALLOWANCE + timedelta(seconds=1), tick=False):
        assert liveness_check_task.delay().get() == {"degraded": [agent.handle], "recovered": []}


@pytest.mark.django_db(transaction=True)
def test_two_monitors_at_once_on_two_connections_degrade_once():
    """Two monitors in two threads, each on its own connection, both past the agent's deadline: this connection
    holds the agent's row until both wait for it, then lets go. One degrades it; the other finds it degraded."""
    agent = _activated(DivisionFactory(slug="runtime"))
    now = T0 + ALLOWANCE + timedelta(minutes=1)
    results: dict[str, object] = {}

    def monitor(name: str) -> None:
        try:
            results[name] = liveness_check(now=now, watching_since=WATCHED)
        except Exception as error:  # reported by the assertion below
            results[name] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=monitor, args=(name,)) for name in ("first", "second")]
    with transaction.atomic():
        Agent.objects.select_for_update().get(pk=agent.pk)
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            wait_until(lambda n=waiting: _waiting_for_a_row() == n, timeout=20, what=f"{waiting} monitor(s) waiting")
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(map(repr, results.values())) == sorted(
        [repr({"degraded": [], "recovered": []}), repr({"degraded": [agent.handle], "recovered": []})]
    )
    assert _reload(agent).lifecycle_state == Agent.Lifecycle.DEGRADED
    assert len(_events(agent, "degrade")) == 1


def _waiting_for_a_row() -> int:
    # Not by FOR UPDATE: pg_stat_activity cuts a long query's text before its end.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND wait_event_type = 'Lock' AND state = 'active' AND query ILIKE '%agents_agent%'
            """
        )
        return cursor.fetchone()[0]
