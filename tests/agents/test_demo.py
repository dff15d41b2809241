"""The demo organisation seed (agents.demo)."""

import pytest
from django.db.models import Max

from agents.demo import DEMO_PASSWORD, demo_organisation_seed
from agents.models import Agent, Division, Domain, Person

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
