"""The organisation escalation tests act in: two domains with a Tier 1 lead each (a person whose agent leads the
domain), three divisions with a lead person each, members, a viewer, and a division token."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from agents.models import Division
from escalations.models import Escalation
from escalations.services.raising import Claim, Raise, Resource, escalation_raise
from tests.factories import AgentFactory, DivisionFactory, DomainFactory, PersonFactory, UserFactory


@dataclass
class Org:
    core: Any  # Tier 1 lead of NovaOps
    meridian: Any  # Tier 1 lead of OrchOps
    runtime_lead: Any
    tools_lead: Any
    workflow_lead: Any
    runtime_member: Any
    tools_member: Any
    workflow_member: Any
    viewer: Any
    runtime: Division
    tools: Division
    workflow: Division

    def user(self, name: str) -> Any:
        return getattr(self, name)


def _lead_of_division(division: Division, username: str) -> Any:
    agent = AgentFactory(division=division, tier=2)
    division.lead = agent
    division.save(update_fields=["lead"])
    user = UserFactory(username=username, email=f"{username}@example.test")
    PersonFactory(user=user, role="division_member", division=division, agent=agent)
    return user


def _tier1(domain, division: Division, username: str) -> Any:
    agent = AgentFactory(division=division, tier=1)
    domain.lead = agent
    domain.save(update_fields=["lead"])
    user = UserFactory(username=username, email=f"{username}@example.test")
    PersonFactory(user=user, role="tier1_lead", domain=domain, agent=agent)
    return user


def _member(division: Division, username: str) -> Any:
    user = UserFactory(username=username, email=f"{username}@example.test")
    PersonFactory(user=user, role="division_member", division=division)
    return user


def _sla_defaults_present() -> None:
    # The SLA policies are data from migration 0002, which a transactional test's flush empties (and --reuse-db
    # keeps empty): every test starts with them, as a fresh database would.
    from escalations.constants import SLA_DEFAULTS
    from escalations.models import SlaPolicy

    for priority, (acknowledge_within, resolve_within) in SLA_DEFAULTS.items():
        SlaPolicy.objects.get_or_create(
            priority=priority, defaults={"acknowledge_within": acknowledge_within, "resolve_within": resolve_within}
        )


@pytest.fixture
def org(db) -> Org:
    _sla_defaults_present()
    novaops = DomainFactory(name="NovaOps", slug="novaops")
    orchops = DomainFactory(name="OrchOps", slug="orchops")
    runtime = DivisionFactory(domain=novaops, name="NovaCore Runtime", slug="novacore-runtime")
    tools = DivisionFactory(domain=novaops, name="Tool Ecosystem", slug="tool-ecosystem")
    workflow = DivisionFactory(domain=orchops, name="Workflow Engineering", slug="workflow-engineering")
    viewer = UserFactory(username="viewer", email="viewer@example.test")
    PersonFactory(user=viewer, role="viewer")
    return Org(
        core=_tier1(novaops, runtime, "core"),
        meridian=_tier1(orchops, workflow, "meridian"),
        runtime_lead=_lead_of_division(runtime, "runtime-lead"),
        tools_lead=_lead_of_division(tools, "tools-lead"),
        workflow_lead=_lead_of_division(workflow, "workflow-lead"),
        runtime_member=_member(runtime, "runtime-member"),
        tools_member=_member(tools, "tools-member"),
        workflow_member=_member(workflow, "workflow-member"),
        viewer=viewer,
        runtime=runtime,
        tools=tools,
        workflow=workflow,
    )


@pytest.fixture
def division_client(org):
    """The runtime division's token principal, as DRF puts it on request.user."""
    from agents.authentication import DivisionPrincipal
    from agents.services.tokens import division_token_create

    token, _ = division_token_create(division=org.runtime, name="collector")
    return DivisionPrincipal(division=org.runtime, token=token)


@pytest.fixture
def raise_ticket(org):
    """raise_ticket(kind=…, by=…, divisions=[…], …) → a ticket raised by the runtime member against workflow."""

    def make(
        kind: str = Escalation.Kind.RESOURCE_CONFLICT,
        *,
        by: Any = None,
        raised_division: Division | None = None,
        divisions: list[Division] | None = None,
        priority: str = "P2",
        capacity: Decimal = Decimal(100),
        claims: list[Claim] | None = None,
        **extra: Any,
    ) -> Escalation:
        resource = Resource(name="GPU hours", unit="h", capacity=capacity) if kind == "resource_conflict" else None
        request = Raise(
            kind=kind,
            title=extra.pop("title", f"A {kind} between runtime and workflow"),
            description=extra.pop("description", "They need the same thing."),
            priority=priority,
            raised_division=raised_division or org.runtime,
            divisions=divisions if divisions is not None else [org.workflow],
            resource=resource,
            claims=claims if claims is not None else [],
        )
        return escalation_raise(actor=by or org.runtime_member, request=request, **extra)

    return make


# The people the permission tables act as: every relation a person (or a token) can have to a ticket.
ACTORS = (
    "core",
    "meridian",
    "runtime_lead",
    "workflow_lead",
    "tools_lead",
    "runtime_member",
    "tools_member",
    "viewer",
    "token",
)


@pytest.fixture
def actor(org, division_client):
    """actor("runtime_lead") → that user of the org; actor("token") → the runtime division's token."""

    def pick(name: str) -> Any:
        return division_client if name == "token" else org.user(name)

    return pick


# How Core brings a fresh ticket to each state (an allocation is decided first where the kind needs it to resolve).
PATHS: dict[str, tuple[str, ...]] = {
    "open": (),
    "acknowledged": ("acknowledge",),
    "in_progress": ("start",),
    "waiting_on_raiser": ("acknowledge", "wait"),
    "resolved": ("start", "resolve"),
    "closed": ("start", "resolve", "close"),
}


@pytest.fixture
def ticket_in(org, raise_ticket):
    """ticket_in("resolved") → a resource conflict (runtime against workflow, workflow's claim allotted in full)
    that Core has taken to that state."""
    from escalations.services.outcomes import Allocation, allocation_decide
    from escalations.services.transitions import escalation_transition

    def make(state: str, **options: Any) -> Escalation:
        claims = [Claim(division=org.workflow, amount=Decimal(10), justification="Nightly batch")]
        ticket = raise_ticket(claims=claims, **options)
        claim = ticket.claims.get()
        allocation_decide(
            number=ticket.number, actor=org.core, allocations=[Allocation(claim.pk, Decimal(10))], rationale="All."
        )
        for name in PATHS[state]:
            escalation_transition(number=ticket.number, name=name, actor=org.core)
        return Escalation.objects.get(pk=ticket.pk)

    return make
