"""The demo organisation: two domains, eight divisions, 186 agents and six demo users, two of them division leads
(`manage.py seed_demo`).

Demo data only: the users share a public password, so the command refuses to run with DEBUG off unless forced.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Division, Domain, Person
from agents.services.lifecycle import agent_transition

DEMO_PASSWORD = "novaops-demo"

# (slug, name, description, divisions: [(slug, name, role title, agent count)])
DEMO_DOMAINS: list[tuple[str, str, str, list[tuple[str, str, str, int]]]] = [
    (
        "novaops",
        "NovaOps",
        "Agent runtime, frameworks, tools, identity and orchestration across domains.",
        [
            ("novacore-runtime", "NovaCore Runtime", "Runtime Engineer", 30),
            ("framework-integration", "Framework Integration", "Integration Engineer", 30),
            ("tool-ecosystem", "Tool Ecosystem", "Tooling Engineer", 30),
            ("identity-continuity", "Identity & Continuity", "Continuity Engineer", 30),
            ("cross-domain-orchestration", "Cross-Domain Orchestration", "Orchestration Engineer", 30),
        ],
    ),
    (
        "orchops",
        "OrchOps",
        "Workflow management and resource scheduling for the fleet.",
        [
            ("workflow-engineering", "Workflow Engineering", "Workflow Engineer", 14),
            ("resource-scheduling", "Resource Scheduling", "Scheduling Engineer", 12),
            ("performance-analytics", "Performance Analytics", "Performance Analyst", 10),
        ],
    ),
]
# The Tier 1 agent leading each domain: (handle, callsign).
DOMAIN_LEADS = {"novaops": ("ta_00008", "Core"), "orchops": ("ta_00151", "Meridian")}
CALLSIGNS = [
    "Atlas",
    "Beacon",
    "Cipher",
    "Delta",
    "Ember",
    "Flux",
    "Glyph",
    "Helix",
    "Ion",
    "Jade",
    "Kestrel",
    "Lumen",
    "Mosaic",
    "Nimbus",
    "Onyx",
    "Pulse",
    "Quill",
    "Relay",
    "Sable",
    "Tempo",
    "Umbra",
    "Vector",
    "Warden",
    "Xenon",
    "Yarrow",
    "Zephyr",
    "Aria",
    "Bolt",
    "Comet",
    "Drift",
    "Echo",
    "Forge",
    "Gale",
    "Harbor",
    "Iris",
    "Juno",
]


# (username, first name, role, the agent they are, slug of their division, slug of their domain, admin). The agent is
# a handle, or LEAD_OF + a division slug for whoever leads that division (they act as its lead, e.g. in escalations).
LEAD_OF = "lead-of:"
DEMO_PEOPLE: list[tuple[str, str, str, str | None, str | None, str | None, bool]] = [
    ("core", "Core", Person.Role.TIER1_LEAD, "ta_00008", None, "novaops", True),
    ("meridian", "Meridian", Person.Role.TIER1_LEAD, "ta_00151", None, "orchops", True),
    ("member", "Runtime member", Person.Role.DIVISION_MEMBER, "ta_00002", "novacore-runtime", "novaops", False),
    (
        "runtime-lead",
        "Runtime lead",
        Person.Role.DIVISION_MEMBER,
        LEAD_OF + "novacore-runtime",
        "novacore-runtime",
        "novaops",
        False,
    ),
    (
        "workflow-lead",
        "Workflow lead",
        Person.Role.DIVISION_MEMBER,
        LEAD_OF + "workflow-engineering",
        "workflow-engineering",
        "orchops",
        False,
    ),
    ("viewer", "Viewer", Person.Role.VIEWER, None, None, None, False),
]
# Where the demo users' mail goes (the console backend under `make run` prints it).
DEMO_EMAIL_DOMAIN = "novaops.example"


@dataclass(frozen=True)
class SeedResult:
    domains: int
    divisions: int
    agents: int
    users: list[str]


def _handle(number: int) -> str:
    return f"ta_{number:05d}"


@transaction.atomic
def demo_organisation_seed() -> SeedResult:
    """Create or refresh the demo organisation. Idempotent: keyed on slugs, handles and usernames."""
    agents: dict[str, Agent] = {}
    divisions = 0
    for slug, name, description, division_rows in DEMO_DOMAINS:
        domain = _upsert(Domain, {"slug": slug}, {"name": name, "description": description})
        for division_row in division_rows:
            agents.update(_seed_division(domain, division_row, first_number=len(agents) + 1))
            divisions += 1
    users = _seed_people(agents)
    _seed_lifecycles(agents)
    return SeedResult(domains=len(DEMO_DOMAINS), divisions=divisions, agents=len(agents), users=users)


def _seed_division(domain: Domain, row: tuple[str, str, str, int], *, first_number: int) -> dict[str, Agent]:
    """One division and its block of agents, numbered from `first_number`; returns the agents by handle.

    The domain's Tier 1 lead sits in the block of its first division. The first agent of a block that is not the
    domain lead leads the division, as a Tier 2 agent.
    """
    slug, name, role_title, count = row
    division = _upsert(Division, {"slug": slug}, {"domain": domain, "name": name, "tier": 3})
    domain_lead_handle = DOMAIN_LEADS[domain.slug][0]
    division_lead_number = first_number if _handle(first_number) != domain_lead_handle else first_number + 1
    agents: dict[str, Agent] = {}
    for number in range(first_number, first_number + count):
        leads = number == division_lead_number
        values = _agent_values(number, domain=domain, division_name=name, role_title=role_title, leads_division=leads)
        agent = _upsert(Agent, {"handle": _handle(number)}, {"division": division, **values})
        agents[agent.handle] = agent
        if agent.handle == domain_lead_handle and domain.lead_id != agent.pk:
            domain.lead = agent
            domain.save(update_fields=["lead"])
    division_lead = agents[_handle(division_lead_number)]
    if division.lead_id != division_lead.pk:
        division.lead = division_lead
        division.save(update_fields=["lead"])
    return agents


def _agent_values(
    number: int, *, domain: Domain, division_name: str, role_title: str, leads_division: bool
) -> dict[str, Any]:
    """Callsign, tier and role title of demo agent `number`: the domain lead, a division lead, or one of the
    division's engineers. Its state is reached through the lifecycle's transitions (_seed_lifecycles)."""
    domain_lead_handle, domain_lead_callsign = DOMAIN_LEADS[domain.slug]
    if _handle(number) == domain_lead_handle:
        return {
            "callsign": domain_lead_callsign,
            "tier": 1,
            "role_title": f"{domain.name} Tier 1 Lead",
        }
    if leads_division:
        return {
            "callsign": _callsign(number),
            "tier": 2,
            "role_title": f"{division_name} Lead",
        }
    return {"callsign": _callsign(number), "tier": 3, "role_title": role_title}


def _seed_people(agents: dict[str, Agent]) -> list[str]:
    """The demo users (password DEMO_PASSWORD) with their NovaOps roles; returns their usernames."""
    domains = {domain.slug: domain for domain in Domain.objects.filter(slug__in=["novaops", "orchops"])}
    division_slugs = {row[4] for row in DEMO_PEOPLE if row[4]}
    divisions = {division.slug: division for division in Division.objects.filter(slug__in=division_slugs)}
    User = get_user_model()
    for username, first_name, role, handle, division_slug, domain_slug, is_admin in DEMO_PEOPLE:
        user = _upsert(
            User,
            {"username": username},
            {
                "first_name": first_name,
                "email": f"{username}@{DEMO_EMAIL_DOMAIN}",
                "is_staff": is_admin,
                "is_superuser": is_admin,
            },
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        person = {
            "role": role,
            "agent": _demo_agent(handle, agents, divisions),
            "division": divisions[division_slug] if division_slug else None,
            "domain": domains[domain_slug] if domain_slug else None,
        }
        _upsert(Person, {"user": user}, person)
    return [row[0] for row in DEMO_PEOPLE]


def _demo_agent(handle: str | None, agents: dict[str, Agent], divisions: dict[str, Division]) -> Agent | None:
    if handle is None:
        return None
    if handle.startswith(LEAD_OF):
        return divisions[handle.removeprefix(LEAD_OF)].lead
    return agents[handle]


def _upsert(model: type[Any], lookup: dict[str, Any], values: dict[str, Any]) -> Any:
    """update_or_create that writes only when something differs, so a second seed changes nothing at all."""
    instance = model.objects.filter(**lookup).first()
    if instance is None:
        return model.objects.create(**lookup, **values)
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if changed:
        for name in changed:
            setattr(instance, name, values[name])
        instance.save()
    return instance


def _callsign(number: int) -> str:
    base = CALLSIGNS[(number - 1) % len(CALLSIGNS)]
    cycle = (number - 1) // len(CALLSIGNS)
    return base if cycle == 0 else f"{base} {cycle + 1}"


def _lifecycle(number: int) -> str:
    # Deterministic spread so filters and the fleet have something to show; the same every run.
    if number % 41 == 0:
        return Agent.Lifecycle.RETIRED
    if number % 17 == 0:
        return Agent.Lifecycle.PAUSED
    if number % 23 == 0:
        return Agent.Lifecycle.PROVISIONING
    # Few degraded and deployed-not-yet-active ones: the metrics demo's simulator reports for active agents only.
    if number % 37 == 0:
        return Agent.Lifecycle.DEGRADED
    if number % 43 == 0:
        return Agent.Lifecycle.DEPLOYED
    return Agent.Lifecycle.ACTIVE


# The transitions that lead from provisioning to each state, and the reason the demo gives for each (the heartbeat
# job degrades; people do the rest).
PATHS: dict[str, list[str]] = {
    Agent.Lifecycle.PROVISIONING: [],
    Agent.Lifecycle.DEPLOYED: ["deploy"],
    Agent.Lifecycle.ACTIVE: ["deploy", "activate"],
    Agent.Lifecycle.DEGRADED: ["deploy", "activate", "degrade"],
    Agent.Lifecycle.PAUSED: ["deploy", "activate", "pause"],
    Agent.Lifecycle.RETIRED: ["deploy", "activate", "retire"],
}
REASONS = {
    "deploy": "Rollout of the release",
    "activate": "Smoke tests passed",
    "degrade": "Heartbeat overdue",
    "pause": "Maintenance window",
    "retire": "Replaced by a newer agent",
}


def _seed_lifecycles(agents: dict[str, Agent]) -> None:
    """Move each agent still provisioning to its demo state through the lifecycle service, at moments in the past,
    so its page has a timeline. Idempotent: an agent that has left provisioning (an earlier seed, or someone since)
    is left alone, and one meant to stay provisioning has nothing to do."""
    leads = {
        domain_slug: get_user_model().objects.get(username=username)
        for username, _, _, _, _, domain_slug, _ in DEMO_PEOPLE
        if username in ("core", "meridian")
    }
    now = timezone.now()
    for agent in agents.values():
        number = int(agent.handle.removeprefix("ta_"))
        target = _target_state(agent, number)
        if agent.lifecycle_state != Agent.Lifecycle.PROVISIONING or target == Agent.Lifecycle.PROVISIONING:
            continue
        actor = leads[agent.division.domain.slug]
        at = now - timedelta(days=40 + number % 20, hours=number % 24)
        for step, name in enumerate(PATHS[target]):
            agent_transition(
                agent=agent,
                name=name,
                actor=None if name == "degrade" else actor,
                reason=REASONS[name],
                version=f"2.{number % 7}.{number % 5}" if name == "deploy" else "",
                at=at + timedelta(days=step * (3 + number % 9), minutes=number),
            )


def _target_state(agent: Agent, number: int) -> str:
    """The demo state of an agent: leads are active, engineers spread by _lifecycle."""
    if agent.tier < 3:
        return Agent.Lifecycle.ACTIVE
    return _lifecycle(number)
