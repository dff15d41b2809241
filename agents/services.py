"""Writes for the registry: the demo organisation seed and agent edits."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from agents.models import Agent, Division, Domain, Person
from novaops.db import insert_or_conflict

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


@dataclass(frozen=True)
class SeedResult:
    domains: int
    divisions: int
    agents: int
    users: list[str]


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
    # Deterministic spread so filters have something to show; the same every run.
    if number % 41 == 0:
        return Agent.Lifecycle.RETIRED
    if number % 17 == 0:
        return Agent.Lifecycle.SUSPENDED
    if number % 23 == 0:
        return Agent.Lifecycle.PROVISIONING
    return Agent.Lifecycle.ACTIVE


@transaction.atomic
def demo_organisation_seed() -> SeedResult:
    """Create or refresh the demo organisation. Idempotent: keyed on slugs, handles and usernames."""
    number = 0
    division_count = 0
    agents: dict[str, Agent] = {}
    for domain_slug, domain_name, domain_description, divisions in DEMO_DOMAINS:
        domain = _upsert(Domain, {"slug": domain_slug}, {"name": domain_name, "description": domain_description})
        lead_handle, lead_callsign = DOMAIN_LEADS[domain_slug]
        for div_slug, div_name, role_title, count in divisions:
            division = _upsert(Division, {"slug": div_slug}, {"domain": domain, "name": div_name, "tier": 3})
            division_count += 1
            # The first agent of the block that is not the domain lead leads the division, as a Tier 2 agent.
            division_lead_number = number + 1 if f"ta_{number + 1:05d}" != lead_handle else number + 2
            division_lead = None
            for _ in range(count):
                number += 1
                handle = f"ta_{number:05d}"
                if handle == lead_handle:
                    values: dict[str, Any] = {
                        "callsign": lead_callsign,
                        "tier": 1,
                        "role_title": f"{domain_name} Tier 1 Lead",
                        "lifecycle_state": Agent.Lifecycle.ACTIVE,
                    }
                elif number == division_lead_number:
                    values = {
                        "callsign": _callsign(number),
                        "tier": 2,
                        "role_title": f"{div_name} Lead",
                        "lifecycle_state": Agent.Lifecycle.ACTIVE,
                    }
                else:
                    values = {
                        "callsign": _callsign(number),
                        "tier": 3,
                        "role_title": role_title,
                        "lifecycle_state": _lifecycle(number),
                    }
                agent = _upsert(Agent, {"handle": handle}, {"division": division, **values})
                agents[handle] = agent
                if number == division_lead_number:
                    division_lead = agent
                if handle == lead_handle and domain.lead_id != agent.pk:
                    domain.lead = agent
                    domain.save(update_fields=["lead"])
            assert division_lead is not None
            if division.lead_id != division_lead.pk:
                division.lead = division_lead
                division.save(update_fields=["lead"])

    novaops = Domain.objects.get(slug="novaops")
    orchops = Domain.objects.get(slug="orchops")
    runtime = Division.objects.get(slug="novacore-runtime")
    cast = [
        ("core", "Core", Person.Role.TIER1_LEAD, agents["ta_00008"], None, novaops, True),
        ("meridian", "Meridian", Person.Role.TIER1_LEAD, agents["ta_00151"], None, orchops, True),
        ("member", "Runtime member", Person.Role.DIVISION_MEMBER, agents["ta_00002"], runtime, novaops, False),
        ("viewer", "Viewer", Person.Role.VIEWER, None, None, None, False),
    ]
    User = get_user_model()
    for username, first_name, role, agent, division, domain, is_admin in cast:
        user = _upsert(
            User, {"username": username}, {"first_name": first_name, "is_staff": is_admin, "is_superuser": is_admin}
        )
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        _upsert(Person, {"user": user}, {"role": role, "agent": agent, "division": division, "domain": domain})
    return SeedResult(domains=len(DEMO_DOMAINS), divisions=division_count, agents=number, users=[c[0] for c in cast])


def agent_update(*, agent: Agent, **fields: Any) -> Agent:
    """Change an agent's editable fields; the caller has checked that the user may act for its division."""
    allowed = {"callsign", "role_title", "lifecycle_state", "tier"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(agent, name, value)
    agent.full_clean()
    agent.save(update_fields=[*fields, "updated_at"])
    return agent


def agent_create(
    *,
    handle: str,
    callsign: str,
    division: Division,
    tier: int = 3,
    role_title: str = "",
    lifecycle_state: str = Agent.Lifecycle.ACTIVE,
) -> Agent:
    """Register a new agent; the caller has checked that the user may create agents.

    A taken handle is a refused operation (ApplicationError, 409), not a validation error: the request is well
    formed, the registry already holds that name. The insert itself decides (no check-then-insert race between
    two clients creating the same handle): the unique index raises, and only then do we look the handle up.
    """
    agent = Agent(
        handle=handle,
        callsign=callsign,
        division=division,
        tier=tier,
        role_title=role_title,
        lifecycle_state=lifecycle_state,
    )
    return insert_or_conflict(agent, unique_field="handle", conflict=f"An agent with handle {handle} already exists.")
