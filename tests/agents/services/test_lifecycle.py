"""The lifecycle service: every transition from every state for every kind of actor, the trail it leaves, and two
transitions racing on one agent."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connections, transaction

from agents.authentication import DivisionPrincipal
from agents.models import Agent, AgentLifecycleEvent
from agents.services.lifecycle import TRANSITIONS, agent_transition, available_transitions
from agents.services.tokens import division_token_create
from novaops.errors import Conflict, Forbidden, InvalidInput
from tests.factories import AgentFactory

S = Agent.Lifecycle
# The machine: the states each transition leaves from, and where it leads.
MACHINE = {
    "deploy": ({S.PROVISIONING}, S.DEPLOYED),
    "activate": ({S.DEPLOYED, S.PAUSED}, S.ACTIVE),
    "degrade": ({S.ACTIVE}, S.DEGRADED),
    "recover": ({S.DEGRADED}, S.ACTIVE),
    "pause": ({S.ACTIVE, S.DEGRADED}, S.PAUSED),
    "retire": (set(S.values) - {S.RETIRED}, S.RETIRED),
}
# Who may change an agent of the cast's division: leads, its members, and our own job (None); not a member of
# another division, a viewer, or a division token (even the division's own).
MAY = {"lead": True, "member": True, "job": True, "other_member": False, "viewer": False, "token": False}


def _actor(name: str, cast):
    if name == "job":
        return None
    if name == "token":
        token, _ = division_token_create(division=cast.division, name="collector")
        return DivisionPrincipal(division=cast.division, token=token)
    return cast.by_name(name)


@pytest.mark.parametrize("state", S.values)
@pytest.mark.parametrize("name", TRANSITIONS)
def test_every_transition_from_every_state_for_every_actor(cast, name, state):
    sources, target = MACHINE[name]
    for role, may in MAY.items():
        agent = AgentFactory(division=cast.division, lifecycle_state=state, deployed_version="1.0")
        actor = _actor(role, cast)
        if not may:
            with pytest.raises(Forbidden, match=f"cannot change {agent.handle}'s lifecycle"):
                agent_transition(agent=agent, name=name, actor=actor, version="2.0")
            expected = state
        elif state not in sources:
            with pytest.raises(Conflict, match=f"{agent.handle} cannot be") as refused:
                agent_transition(agent=agent, name=name, actor=actor, version="2.0")
            assert refused.value.extra == {"state": state}
            expected = state
        else:
            moved = agent_transition(agent=agent, name=name, actor=actor, version="2.0")
            expected = target
            assert moved.lifecycle_state == target
        agent.refresh_from_db()
        assert agent.lifecycle_state == expected, (role, name, state)
        # Only a deploy that happened names a version; every other transition leaves the deployed one alone.
        deployed = name == "deploy" and may and state in sources
        assert agent.deployed_version == ("2.0" if deployed else "1.0")


@pytest.mark.parametrize("state", S.values)
def test_available_transitions_are_the_buttons_each_viewer_gets(cast, state):
    agent = AgentFactory(division=cast.division, lifecycle_state=state)
    allowed = [name for name in TRANSITIONS if state in MACHINE[name][0]]

    for role in ("lead", "member"):
        assert available_transitions(agent, user=cast.by_name(role)) == allowed
    for role in ("other_member", "viewer", "no_role", "anonymous"):
        assert available_transitions(agent, user=cast.by_name(role)) == []


def test_a_conflict_names_the_transitions_left(cast):
    agent = AgentFactory(division=cast.division, lifecycle_state=S.ACTIVE)
    with pytest.raises(Conflict) as refused:
        agent_transition(agent=agent, name="recover", actor=cast.lead)
    assert refused.value.message == (
        f"{agent.handle} cannot be marked recovered: it is active. From here it can be marked degraded, paused, "
        "retired."
    )


@pytest.mark.parametrize(
    ("name", "version", "reason", "field"),
    [
        ("deploy", "", "", "version"),
        ("deploy", "   ", "", "version"),
        ("deploy", "v" * 81, "", "version"),
        ("pause", "", "r" * 501, "reason"),
    ],
)
def test_bad_input_is_refused_before_anything_changes(cast, name, version, reason, field):
    agent = AgentFactory(division=cast.division, lifecycle_state=S.PROVISIONING if name == "deploy" else S.ACTIVE)
    with pytest.raises(InvalidInput) as refused:
        agent_transition(agent=agent, name=name, actor=cast.lead, version=version, reason=reason)
    assert [error["field"] for error in refused.value.errors] == [field]
    assert Agent.objects.get(pk=agent.pk).lifecycle_state == agent.lifecycle_state


def test_the_trail_says_who_when_why_and_which_version(cast):
    agent = AgentFactory(division=cast.division, lifecycle_state=S.PROVISIONING)
    cast.member.first_name, cast.member.last_name = "Mira", "Member"
    cast.member.save()
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    agent_transition(agent=agent, name="deploy", actor=cast.member, version=" 2.4.1 ", reason="Release 7", at=at)
    agent_transition(agent=agent, name="activate", actor=cast.lead)
    agent_transition(agent=agent, name="degrade", actor=None, reason="No heartbeat for 6 minutes")

    events = list(AgentLifecycleEvent.objects.filter(pgh_obj_id=agent.pk).order_by("pgh_id"))
    assert [(event.pgh_label, event.lifecycle_state, event.deployed_version) for event in events] == [
        ("insert", S.PROVISIONING, ""),
        ("update", S.DEPLOYED, "2.4.1"),
        ("update", S.ACTIVE, "2.4.1"),
        ("update", S.DEGRADED, "2.4.1"),
    ]
    deploy, activate, degrade = (event.pgh_context for event in events[1:])
    assert deploy == {
        "actor": "Mira Member",
        "user": cast.member.pk,
        "action": "deploy",
        "at": at.isoformat(),
        "reason": "Release 7",
        "version": "2.4.1",
    }
    assert (activate["actor"], activate["user"], activate["action"]) == ("lead", cast.lead.pk, "activate")
    assert "reason" not in activate
    assert (degrade["actor"], degrade["user"], degrade["reason"]) == (
        "NovaOps heartbeat monitor",
        None,
        "No heartbeat for 6 minutes",
    )


def test_a_refused_transition_leaves_no_trail(cast):
    agent = AgentFactory(division=cast.division, lifecycle_state=S.RETIRED)
    before = AgentLifecycleEvent.objects.filter(pgh_obj_id=agent.pk).count()
    for name in TRANSITIONS:
        with pytest.raises(Conflict):
            agent_transition(agent=agent, name=name, actor=cast.lead, version="1")
    with pytest.raises(Forbidden):
        agent_transition(agent=agent, name="retire", actor=cast.viewer)
    assert AgentLifecycleEvent.objects.filter(pgh_obj_id=agent.pk).count() == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE agents_agentlifecycleevent SET lifecycle_state = 'active'",
        "DELETE FROM agents_agentlifecycleevent",
    ],
    ids=["update", "delete"],
)
def test_the_trail_is_append_only(cast, statement):
    agent = AgentFactory(division=cast.division, lifecycle_state=S.ACTIVE)
    agent_transition(agent=agent, name="pause", actor=cast.lead, reason="maintenance")
    rows = list(AgentLifecycleEvent.objects.values_list("pgh_id", "lifecycle_state"))

    with pytest.raises(DatabaseError), transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(statement)

    assert list(AgentLifecycleEvent.objects.values_list("pgh_id", "lifecycle_state")) == rows


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_transitions_one_wins_the_other_conflicts(cast):
    """Two people deploy the same agent at the same moment, each on a connection of their own: the row lock makes
    the second see the first's result, so it is refused rather than overwriting the version."""
    agent = AgentFactory(division=cast.division, lifecycle_state=S.PROVISIONING)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def deploy(actor, version: str) -> None:
        try:
            barrier.wait(timeout=10)
            agent_transition(agent=Agent.objects.get(pk=agent.pk), name="deploy", actor=actor, version=version)
            results[version] = "deployed"
        except BaseException as exc:  # whatever the thread raised, for the assertions
            results[version] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=deploy, args=(cast.lead, "1.0")),
        threading.Thread(target=deploy, args=(cast.member, "2.0")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    outcomes = sorted(results.values(), key=lambda value: value != "deployed")
    assert outcomes[0] == "deployed" and isinstance(outcomes[1], Conflict), results
    winner = next(version for version, value in results.items() if value == "deployed")
    agent.refresh_from_db()
    assert (agent.lifecycle_state, agent.deployed_version) == (S.DEPLOYED, winner)
    deploys = AgentLifecycleEvent.objects.filter(pgh_obj_id=agent.pk, lifecycle_state=S.DEPLOYED)
    assert [(event.deployed_version, event.pgh_context["version"]) for event in deploys] == [(winner, winner)]
