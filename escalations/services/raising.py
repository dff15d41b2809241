"""Raising a ticket: number, routing, deadlines, links, and for a resource conflict the resource and its claims."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from agents.models import Agent, Division
from escalations import constants
from escalations.models import (
    Escalation,
    EscalationAgent,
    EscalationAssignee,
    EscalationDivision,
    EscalationMetric,
    ResourceClaim,
)
from escalations.policies import may_raise_for
from escalations.routing import level_assignees
from escalations.selectors import sla_policy_for
from escalations.services.notifications import notify_assignees
from metrics.models import Metric
from novaops.audit import audited
from novaops.errors import Forbidden, InvalidInput


@dataclass(frozen=True)
class Claim:
    """A division's claim on the disputed resource, as the raiser or a claimant states it."""

    division: Division
    amount: Decimal
    justification: str
    priority: str = Escalation.Priority.P3
    gains: str = ""
    gives: str = ""

    def row(self, escalation: Escalation) -> ResourceClaim:
        return ResourceClaim(
            escalation=escalation,
            division=self.division,
            amount=self.amount,
            priority=self.priority,
            justification=self.justification,
            gains=self.gains,
            gives=self.gives,
        )


@dataclass(frozen=True)
class Resource:
    name: str
    unit: str
    capacity: Decimal


@dataclass(frozen=True)
class Links:
    agents: Sequence[Agent] = ()
    metrics: Sequence[Metric] = ()


@dataclass(frozen=True)
class Raise:
    """What a raiser states; the forms and serializers build one, `escalation_raise` checks and stores it."""

    kind: str
    title: str
    description: str
    priority: str
    raised_division: Division
    divisions: Sequence[Division]
    links: Links = field(default_factory=Links)
    resource: Resource | None = None
    claims: Sequence[Claim] = ()


def escalation_raise(*, actor: Any, request: Raise, at: datetime | None = None, system: str = "NovaOps") -> Escalation:
    """Open a ticket at its kind's first level (friction at 2, the charter's "direct Tier 1 lead communication";
    the others at 1), assigned to that level's people, with its SLA deadlines, and notify the assignees.

    `actor` None is a job of ours raising it (the fleet monitor): no person raised it, and `system` names the job
    where a token's name would be."""
    if actor is not None and not may_raise_for(actor, request.raised_division.pk):
        raise Forbidden(f"You cannot raise an escalation for {request.raised_division.name}: only its people can.")
    _check(request)
    at = at or timezone.now()
    involved = {request.raised_division.pk: request.raised_division}
    involved.update({division.pk: division for division in request.divisions})
    policy = sla_policy_for(priority=request.priority)
    with transaction.atomic(), audited(actor, "raise", at=at, system=system):
        escalation = Escalation.objects.create(
            number=_next_number(),
            created_at=at,
            kind=request.kind,
            title=request.title,
            description=request.description,
            priority=request.priority,
            level=2 if request.kind == Escalation.Kind.FRICTION else 1,
            raised_division=request.raised_division,
            raised_by=None if getattr(actor, "is_division_client", False) else actor,
            raised_token_name=_raised_token_name(actor, system=system),
            acknowledge_due_at=at + policy.acknowledge_within,
            resolve_due_at=at + policy.resolve_within,
            **_resource_fields(request.resource),
        )
        EscalationDivision.objects.bulk_create(
            EscalationDivision(escalation=escalation, division=division) for division in involved.values()
        )
        EscalationAgent.objects.bulk_create(
            EscalationAgent(escalation=escalation, agent=agent) for agent in dict.fromkeys(request.links.agents)
        )
        EscalationMetric.objects.bulk_create(
            EscalationMetric(escalation=escalation, metric=metric) for metric in dict.fromkeys(request.links.metrics)
        )
        ResourceClaim.objects.bulk_create(claim.row(escalation) for claim in request.claims)
        users = assign_level(escalation=escalation, division_ids=set(involved))
        notify_assignees(escalation=escalation, users=users, reason=f"raised-level-{escalation.level}")
    return escalation


def assign_level(*, escalation: Escalation, division_ids: set[int] | None = None) -> list[Any]:
    """Replace the assignees with the people of the ticket's current level; returns the new ones."""
    if division_ids is None:
        division_ids = set(escalation.involved.values_list("division_id", flat=True))
    domain_ids = set(Division.objects.filter(pk__in=division_ids).values_list("domain_id", flat=True))
    users = list(level_assignees(level=escalation.level, division_ids=division_ids, domain_ids=domain_ids))
    EscalationAssignee.objects.filter(escalation=escalation).exclude(user__in=users).delete()
    kept = set(EscalationAssignee.objects.filter(escalation=escalation).values_list("user_id", flat=True))
    EscalationAssignee.objects.bulk_create(
        EscalationAssignee(escalation=escalation, user=user) for user in users if user.pk not in kept
    )
    getattr(escalation, "_prefetched_objects_cache", {}).pop("assignees", None)  # the caller reads the new ones
    return [user for user in users if user.pk not in kept]


def _raised_token_name(actor: Any, *, system: str) -> str:
    if actor is None:
        return system
    return actor.token.name if getattr(actor, "is_division_client", False) else ""


def _next_number() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('escalations_number_seq')")
        return cursor.fetchone()[0]


def field_errors(fields: dict[str, Any]) -> list[dict[str, str]]:
    """What is wrong with a ticket's own fields (those of them given): checked here rather than left to the
    database, whose refusal would be a 500."""
    errors = []
    if "kind" in fields and fields["kind"] not in Escalation.Kind.values:
        errors.append({"field": "kind", "message": f"One of {', '.join(Escalation.Kind.values)}."})
    if "priority" in fields and fields["priority"] not in Escalation.Priority.values:
        errors.append({"field": "priority", "message": f"One of {', '.join(Escalation.Priority.values)}."})
    for name, limit in (("title", constants.TITLE_MAX), ("description", constants.DESCRIPTION_MAX)):
        if name in fields and not (0 < len(str(fields[name]).strip()) and len(str(fields[name])) <= limit):
            errors.append({"field": name, "message": f"Between 1 and {limit} characters."})
    return errors


def _check(request: Raise) -> None:
    errors = field_errors(
        {"kind": request.kind, "priority": request.priority, "title": request.title, "description": request.description}
    )
    if len(request.divisions) > constants.DIVISIONS_MAX:
        errors.append({"field": "divisions", "message": f"At most {constants.DIVISIONS_MAX} divisions."})
    if len(request.links.agents) + len(request.links.metrics) > constants.LINKS_MAX:
        errors.append({"field": "agents", "message": f"At most {constants.LINKS_MAX} links to agents and metrics."})
    if request.kind == Escalation.Kind.RESOURCE_CONFLICT and request.resource is None:
        errors.append({"field": "resource", "message": "A resource conflict names the resource and its capacity."})
    if request.kind != Escalation.Kind.RESOURCE_CONFLICT and (request.resource or request.claims):
        errors.append({"field": "resource", "message": "Only a resource conflict has a resource and claims."})
    if request.resource is not None and not request.resource.capacity >= 0:
        errors.append({"field": "resource", "message": "The capacity available is a number, 0 or more."})
    elif request.resource is not None:
        errors += _claim_errors(request.claims, capacity=request.resource.capacity)
    if len(request.claims) > constants.CLAIMS_MAX:
        errors.append({"field": "claims", "message": f"At most {constants.CLAIMS_MAX} claims."})
    claimants = [claim.division.pk for claim in request.claims]
    if len(claimants) != len(set(claimants)):
        errors.append({"field": "claims", "message": "One claim per division."})
    if errors:
        raise InvalidInput("The escalation cannot be raised as given.", errors=errors)


def _claim_errors(claims: Sequence[Claim], *, capacity: Decimal) -> list[dict[str, Any]]:
    return [
        {"index": index, "field": "claims", "message": f"Asks for more than 0 and at most the capacity ({capacity})."}
        for index, claim in enumerate(claims)
        if not 0 < claim.amount <= capacity
    ]


def _resource_fields(resource: Resource | None) -> dict[str, Any]:
    if resource is None:
        return {}
    return {"resource_name": resource.name, "resource_unit": resource.unit, "resource_capacity": resource.capacity}
