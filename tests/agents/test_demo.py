"""The demo organisation seed (agents.demo)."""

from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from agents.demo import DEMO_PASSWORD, demo_organisation_seed
from agents.models import Agent, AgentLifecycleEvent, Division, Domain, Person
from agents.selectors import agent_lifecycle_timeline

pytestmark = pytest.mark.django_db


def test_demo_seed_builds_the_organisation():
    result = demo_organisation_seed()

    assert result.domains == 2
    novaops = Domain.objects.get(slug="novaops")
    assert list(novaops.divisions.order_by("name").values_list("name", flat=True)) == [
        "Cross-Domain Orchestration",
        "Framework Integration",
        "Identity & Continuity",
        "NovaCore Runtime",
        "Tool Ecosystem",
    ]
    assert Agent.objects.filter(division__domain=novaops).count() == 150
    assert Agent.objects.filter(division__domain__slug="orchops").exists()
    core = Agent.objects.get(handle="ta_00008")
    assert (core.callsign, core.tier, novaops.lead) == ("Core", 1, core)
    meridian = Domain.objects.get(slug="orchops").lead
    assert (meridian.callsign, meridian.tier) == ("Meridian", 1)
    for division in Division.objects.all():
        assert division.lead is not None and division.lead.division_id == division.pk
    assert all(h.startswith("ta_") and len(h) == 8 for h in Agent.objects.values_list("handle", flat=True))


def test_demo_users_hold_their_roles():
    demo_organisation_seed()
    people = {p.user.username: p for p in Person.objects.select_related("user", "agent", "division")}
    assert people["core"].role == Person.Role.TIER1_LEAD and people["core"].agent.handle == "ta_00008"
    assert people["meridian"].role == Person.Role.TIER1_LEAD and people["meridian"].agent.callsign == "Meridian"
    assert people["member"].role == Person.Role.DIVISION_MEMBER
    assert people["member"].division.slug == "novacore-runtime"
    assert people["viewer"].role == Person.Role.VIEWER
    assert all(p.user.check_password(DEMO_PASSWORD) for p in people.values())


def test_demo_seed_twice_changes_nothing():
    demo_organisation_seed()
    before = (Agent.objects.count(), Agent.objects.aggregate(Max("updated_at"))["updated_at__max"])
    demo_organisation_seed()
    after = (Agent.objects.count(), Agent.objects.aggregate(Max("updated_at"))["updated_at__max"])
    assert before == after


def test_demo_agents_reach_their_states_through_the_lifecycle_with_a_past_trail():
    demo_organisation_seed()

    states = set(Agent.objects.values_list("lifecycle_state", flat=True))
    assert states == set(Agent.Lifecycle.values)
    assert not Agent.objects.exclude(lifecycle_state=Agent.Lifecycle.PROVISIONING).filter(deployed_version="").exists()
    degraded = Agent.objects.filter(lifecycle_state=Agent.Lifecycle.DEGRADED).first()
    timeline = agent_lifecycle_timeline(degraded)
    assert [entry.action for entry in timeline] == ["degrade", "activate", "deploy", "registered"]
    assert timeline[0].actor == "NovaOps heartbeat monitor" and timeline[1].actor == "Core"
    assert timeline[2].version.startswith("2.") and timeline[2].reason == "Rollout of the release"
    assert timeline[0].at < timezone.now() - timedelta(days=20)


def test_demo_seed_twice_writes_no_second_trail():
    demo_organisation_seed()
    before = AgentLifecycleEvent.objects.count()
    demo_organisation_seed()
    assert AgentLifecycleEvent.objects.count() == before
