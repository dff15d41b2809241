"""Fixtures of the registry tests: the small organisation most tests read and change, and one of a chosen size."""

import pytest

from agents.models import Agent
from tests.factories import AgentFactory, DivisionFactory, DomainFactory


@pytest.fixture
def registry(cast) -> dict[str, Agent]:
    """A small organisation around the cast, its seven agents by handle, in every tier and lifecycle state.

    NovaOps (led by ta_00008 Core, whom the cast's lead signs in as) holds the cast's divisions: NovaCore Runtime
    (led by ta_00001 Atlas; ta_00002 Beacon, paused) and Tool Ecosystem (no lead; ta_00010 Cipher, provisioning;
    ta_00011 Delta). OrchOps (led by ta_00151 Meridian) holds Workflow Engineering (led by ta_00152 Ember, retired).
    """
    novaops = cast.division.domain
    orchops = DomainFactory(name="OrchOps", slug="orchops")
    workflow = DivisionFactory(domain=orchops, name="Workflow Engineering", slug="workflow-engineering")
    runtime, tools = cast.division, cast.other_division
    rows = [
        ("ta_00008", "Core", 1, runtime, "NovaOps Tier 1 Lead", "active"),
        ("ta_00001", "Atlas", 2, runtime, "NovaCore Runtime Lead", "active"),
        ("ta_00002", "Beacon", 3, runtime, "Runtime Engineer", "paused"),
        ("ta_00010", "Cipher", 3, tools, "Tooling Engineer", "provisioning"),
        ("ta_00011", "Delta", 2, tools, "Tooling Lead", "active"),
        ("ta_00151", "Meridian", 1, workflow, "OrchOps Tier 1 Lead", "active"),
        ("ta_00152", "Ember", 3, workflow, "Workflow Engineer", "retired"),
    ]
    agents = {
        handle: AgentFactory(
            handle=handle, callsign=callsign, tier=tier, division=division, role_title=title, lifecycle_state=state
        )
        for handle, callsign, tier, division, title, state in rows
    }
    novaops.lead, orchops.lead = agents["ta_00008"], agents["ta_00151"]
    novaops.save()
    orchops.save()
    runtime.lead, workflow.lead = agents["ta_00001"], agents["ta_00152"]
    runtime.save()
    workflow.save()
    cast.lead.person.agent = agents["ta_00008"]
    cast.lead.person.save()
    return agents


@pytest.fixture(params=[5, 60], ids=["5-agents", "60-agents"])
def sized_registry(request, cast) -> list[Agent]:
    """`request.param` agents over three divisions in two domains, every division and domain with a lead: for
    query budgets, which must not grow with the number of agents."""
    orchops = DomainFactory(name="OrchOps", slug="orchops")
    divisions = [cast.division, cast.other_division, DivisionFactory(domain=orchops, slug="workflow-engineering")]
    agents = [
        AgentFactory(handle=f"ta_{n:05d}", division=divisions[n % 3], lifecycle_state=Agent.Lifecycle.values[n % 4])
        for n in range(1, request.param + 1)
    ]
    for division in divisions:
        division.lead = next(agent for agent in agents if agent.division_id == division.pk)
        division.save()
    for domain in (cast.division.domain, orchops):
        domain.lead = next(agent for agent in agents if agent.division.domain_id == domain.pk)
        domain.save()
    return agents
