"""Reads for the registry: domains, divisions, agents, with the counts the pages and the API show.

`division_id` (novaops.policies.division_scope) narrows a read to what belongs to one division: its domain, itself,
its agents. A division token reads through it; an object outside the scope is simply not there (DoesNotExist).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Q, QuerySet, Window
from django.db.models.functions import Coalesce, Lag

from agents.filters import AgentFilter, error_message
from agents.models import Agent, AgentLifecycleEvent, Division, DivisionToken, Domain, Person


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


# --- the fleet: liveness, counts by state, the lifecycle trail ---

# The states whose agents are expected to report: the heartbeat job degrades a silent active agent, and the fleet page
# lists silent ones. Provisioning, deployed, paused and retired agents owe no heartbeat.
LIVENESS_STATES = (Agent.Lifecycle.ACTIVE, Agent.Lifecycle.DEGRADED)


def liveness_deadline_expression() -> Any:
    """When an agent's silence starts to count, as a database expression: its last heartbeat (or metric point) plus
    its period and grace, each the agent's own or else its division's. NULL for an agent never seen: an agent that has
    never reported is not overdue (its first beat starts the clock), so a fleet registered before heartbeats existed
    is not degraded wholesale. The one liveness rule: the heartbeat job uses it too."""
    return ExpressionWrapper(
        F("last_seen_at")
        + Coalesce(F("heartbeat_period"), F("division__heartbeat_period"))
        + Coalesce(F("heartbeat_grace"), F("division__heartbeat_grace")),
        output_field=DateTimeField(),
    )


def liveness_deadline(agent: Agent) -> datetime | None:
    """liveness_deadline_expression for one agent in memory (its division loaded); None when never seen."""
    if agent.last_seen_at is None:
        return None
    period = agent.heartbeat_period or agent.division.heartbeat_period
    grace = agent.heartbeat_grace or agent.division.heartbeat_grace
    return agent.last_seen_at + period + grace


def silent_agents(*, now: datetime, division_id: int | None = None) -> QuerySet[Agent]:
    """Active or degraded agents whose liveness deadline has passed at `now`, most overdue first, each annotated
    with `liveness_deadline`."""
    return (
        agent_list(division_id=division_id)
        .filter(lifecycle_state__in=LIVENESS_STATES)
        .annotate(liveness_deadline=liveness_deadline_expression())
        .filter(liveness_deadline__lt=now)
        .order_by("liveness_deadline", "handle")
    )


def fleet_attention(*, now: datetime) -> QuerySet[Agent]:
    """What the fleet page asks someone to look at: degraded agents and silent ones (active but overdue)."""
    silent = Q(lifecycle_state=Agent.Lifecycle.ACTIVE, liveness_deadline__lt=now)
    return (
        agent_list()
        .annotate(liveness_deadline=liveness_deadline_expression())
        .filter(Q(lifecycle_state=Agent.Lifecycle.DEGRADED) | silent)
        .order_by(F("liveness_deadline").asc(nulls_last=True), "handle")
    )


@dataclass
class DivisionStateCounts:
    division: Division
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def fleet_state_counts() -> list[DivisionStateCounts]:
    """Agents by lifecycle state for every division (divisions without agents too), in two queries."""
    counts: dict[int, dict[str, int]] = {}
    for row in Agent.objects.values("division_id", "lifecycle_state").annotate(n=Count("pk")).order_by():
        counts.setdefault(row["division_id"], {})[row["lifecycle_state"]] = row["n"]
    return [
        DivisionStateCounts(division, {state: counts.get(division.pk, {}).get(state, 0) for state in Agent.Lifecycle})
        for division in division_choice_list()
    ]


def lifecycle_event_list(*, limit: int = 20) -> list[Any]:
    """The latest lifecycle trail rows across the fleet, newest first, each with `previous_state` (the agent's
    state before it; None for its creation) and its agent and division joined. Rows that changed nothing of the
    state (a version or division change) keep their place: the context's action says what happened."""
    events = (
        AgentLifecycleEvent.objects.select_related("pgh_obj", "division")
        .annotate(
            previous_state=Window(Lag("lifecycle_state"), partition_by=[F("pgh_obj_id")], order_by=[F("pgh_id").asc()])
        )
        .order_by("-pgh_id")
    )
    return list(events[:limit])
