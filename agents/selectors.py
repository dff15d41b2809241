"""Reads for the registry: domains, divisions, agents, with the counts the pages and the API show.

`division_id` (novaops.policies.division_scope) narrows a read to what belongs to one division: its domain, itself,
its agents. A division token reads through it; an object outside the scope is simply not there (DoesNotExist).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from agents.filters import AgentFilter, error_message
from agents.models import Agent, AgentLifecycleEvent, Division, DivisionToken, Domain, Person
from novaops import audit


def domain_list(*, division_id: int | None = None) -> QuerySet[Domain]:
    """Every domain with its lead and counts; with `division_id`, only the domain of that division."""
    domains = Domain.objects.select_related("lead").annotate(
        division_count=Count("divisions", distinct=True), agent_count=Count("divisions__agents", distinct=True)
    )
    if division_id is not None:
        domains = domains.filter(pk__in=Division.objects.filter(pk=division_id).values("domain_id"))
    return domains


def domain_get(*, slug: str, division_id: int | None = None) -> Domain:
    if "\x00" in slug:  # no slug holds NUL, and PostgreSQL refuses to compare one
        raise Domain.DoesNotExist
    return domain_list(division_id=division_id).get(slug=slug)


def division_list(*, domain: Domain | None = None, division_id: int | None = None) -> QuerySet[Division]:
    """Divisions (of one domain) with their lead and counts; with `division_id`, only that division."""
    divisions = Division.objects.select_related("domain", "lead").annotate(
        agent_count=Count("agents", distinct=True),
        active_count=Count("agents", filter=Q(agents__lifecycle_state=Agent.Lifecycle.ACTIVE), distinct=True),
    )
    if division_id is not None:
        divisions = divisions.filter(pk=division_id)
    return divisions.filter(domain=domain) if domain is not None else divisions


def division_get(*, slug: str, division_id: int | None = None) -> Division:
    if "\x00" in slug:  # no slug holds NUL, and PostgreSQL refuses to compare one
        raise Division.DoesNotExist
    return division_list(division_id=division_id).get(slug=slug)


def division_choice_list() -> QuerySet[Division]:
    """Divisions with their domain, for pickers (one query, no counts)."""
    return Division.objects.select_related("domain").order_by("domain__name", "name")


def division_token_list(*, division: Division | None = None) -> QuerySet[DivisionToken]:
    """Tokens with their division and domain joined (one query, however many tokens); never the secret hash."""
    tokens = (
        DivisionToken.objects.select_related("division__domain")
        .defer("secret_sha256")
        .order_by("division__domain__name", "division__name", "-created_at", "-pk")
    )
    return tokens.filter(division=division) if division is not None else tokens


def division_token_get(*, token_id: int) -> DivisionToken:
    return division_token_list().get(pk=token_id)


def division_token_by_prefix(*, prefix: str) -> DivisionToken | None:
    """The token a client presents, by its public prefix, with the secret hash to check and the division and domain
    it acts for; None for an unknown prefix."""
    return DivisionToken.objects.select_related("division__domain").filter(prefix=prefix).first()


def agent_list(*, division_id: int | None = None) -> QuerySet[Agent]:
    """Every agent (of one division, with `division_id`) with its division and domain joined (one query per page,
    whatever the page size)."""
    agents = Agent.objects.select_related("division", "division__domain")
    return agents.filter(division_id=division_id) if division_id is not None else agents


def agent_get(*, handle: str, division_id: int | None = None) -> Agent:
    agents = agent_list(division_id=division_id)
    return agents.select_related("person__user", "led_division", "led_domain").get(handle=handle)


def agent_list_filtered(*, filters: Mapping[str, Any], division_id: int | None = None) -> QuerySet[Agent]:
    """agent_list(division_id=…) narrowed by AgentFilter (q, domain, division, tier, lifecycle_state; other keys
    are ignored).

    An unknown slug, tier or state raises ValidationError keyed by the parameter, in AgentFilter's words: a filter
    that silently dropped a bad value would answer with the whole registry, which reads as a valid (and wrong) result.
    """
    filterset = AgentFilter(filters, queryset=agent_list(division_id=division_id))
    if not filterset.is_valid():
        errors = filterset.form.errors.as_data()
        raise ValidationError({field: [error_message(error) for error in errors[field]] for field in errors})
    return filterset.qs


def led_division_id(*, person: Person | None) -> int | None:
    """The division whose lead (Division.lead) is this person's agent, or None; such a person acts as its lead.
    Cached on the person for the request."""
    if person is None or person.agent_id is None:
        return None
    if not hasattr(person, "_led_division_id"):
        person._led_division_id = Division.objects.filter(lead_id=person.agent_id).values_list("pk", flat=True).first()
    return person._led_division_id


@dataclass(frozen=True)
class LifecycleEntry:
    """One step of an agent's lifecycle trail: who moved it, when, from which state to which, why, at which
    version. `action` is the transition's name (deploy, pause…), or "registered" / "change" for writes outside one."""

    at: datetime
    actor: str
    action: str
    before: str
    after: str
    reason: str
    version: str


def agent_lifecycle_timeline(agent: Agent) -> list[LifecycleEntry]:
    """The agent's AgentLifecycleEvent rows as a timeline, newest first (one query, however long the trail).

    The trail's context (novaops.audit) says who acted, why, and when the service was told it happened; rows
    written without one (a creation, an admin edit) show "NovaOps" and the time the database wrote them. A row
    that changed neither state nor version (a division move) still shows, as from → to of the same state.
    """
    events = list(AgentLifecycleEvent.objects.filter(pgh_obj_id=agent.pk).order_by("pgh_id"))
    labels = dict(Agent.Lifecycle.choices)
    entries: list[LifecycleEntry] = []
    previous = None
    for event in events:
        context = event.pgh_context or {}
        entries.append(
            LifecycleEntry(
                at=datetime.fromisoformat(context["at"]) if context.get("at") else event.pgh_created_at,
                actor=context.get("actor", audit.SYSTEM),
                action=context.get("action") or ("registered" if previous is None else "change"),
                before=labels.get(previous.lifecycle_state, "") if previous is not None else "",
                after=labels.get(event.lifecycle_state, event.lifecycle_state),
                reason=context.get("reason", ""),
                version=context.get("version") or event.deployed_version,
            )
        )
        previous = event
    return entries[::-1]
