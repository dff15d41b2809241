"""Reads for the registry: domains, divisions, agents, with the counts the pages and the API show.

`division_id` (novaops.policies.division_scope) narrows a read to what belongs to one division: its domain, itself,
its agents. A division token reads through it; an object outside the scope is simply not there (DoesNotExist).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, QuerySet, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Lag

from agents.constants import LIVENESS_COMPONENT, LIVENESS_GAP
from agents.filters import AgentFilter, error_message
from agents.models import Agent, AgentLifecycleEvent, Division, DivisionToken, Domain, Person
from novaops import audit
from novaops.models import Heartbeat


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


# --- liveness: when an agent's heartbeat is overdue (the monitor, the fleet page and the silent-division job) ---

# When the agent entered its current lifecycle state: its newest trail row other than a version reported by a
# heartbeat, at the time the service gave it (`at`), else when the row was written (a row written outside a service).
_STATE_SINCE_SQL = """
    SELECT COALESCE((e.pgh_context ->> 'at')::timestamptz, e.pgh_created_at)
    FROM agents_agentlifecycleevent e
    WHERE e.pgh_obj_id = agents_agent.id AND COALESCE(e.pgh_context ->> 'action', '') <> %s
    ORDER BY e.pgh_id DESC LIMIT 1
"""
# The trail action of a version change a heartbeat reported (agents.services.heartbeats): not a change of state.
VERSION_REPORTED_ACTION = "version reported"


def _with_liveness(agents: QuerySet[Agent]) -> QuerySet[Agent]:
    """`state_since`, and `liveness_deadline`: the moment an agent counts as silent.

    Active: its last report or the moment it became active, whichever is later (one that never reported is measured
    from its activation, and one paused for a week is not degraded the instant it is resumed), plus its period and
    grace (its own, else its division's). Degraded: its last report plus period and grace (none: silent). Other
    states have no deadline.
    """
    allowance = Coalesce("heartbeat_period", "division__heartbeat_period") + Coalesce(
        "heartbeat_grace", "division__heartbeat_grace"
    )
    annotated = agents.annotate(
        state_since=RawSQL(_STATE_SINCE_SQL, (VERSION_REPORTED_ACTION,), output_field=DateTimeField()),
        liveness_allowance=ExpressionWrapper(allowance, output_field=DurationField()),
    )
    return annotated.annotate(
        liveness_deadline=Case(
            When(
                lifecycle_state=Agent.Lifecycle.ACTIVE,
                then=Greatest("last_seen_at", "state_since") + F("liveness_allowance"),
            ),
            When(lifecycle_state=Agent.Lifecycle.DEGRADED, then=F("last_seen_at") + F("liveness_allowance")),
            default=None,
            output_field=DateTimeField(),
        )
    )


def liveness_deadline(*, agent: Agent) -> datetime | None:
    """When `agent` goes silent (see _with_liveness); None when it is neither active nor degraded."""
    return _with_liveness(Agent.objects.filter(pk=agent.pk)).values_list("liveness_deadline", flat=True).first()


def silent_agents(
    *, now: datetime, division_id: int | None = None, watching_since: datetime | None = None
) -> QuerySet[Agent]:
    """Active and degraded agents past their liveness deadline at `now` (a degraded one that never reported too),
    with their division, oldest deadline first.

    `watching_since`, when given, is when the liveness monitor's current unbroken run began: an agent only counts
    as silent once the monitor has watched it for its whole allowance, so an outage of NovaOps itself (when agents
    could not report) is not taken for the agents' silence.
    """
    agents = _with_liveness(Agent.objects.select_related("division")).filter(
        lifecycle_state__in=[Agent.Lifecycle.ACTIVE, Agent.Lifecycle.DEGRADED]
    )
    if division_id is not None:
        agents = agents.filter(division_id=division_id)
    if watching_since is not None:
        agents = agents.filter(Q(liveness_deadline__isnull=True) | Q(liveness_allowance__lt=now - watching_since))
    return agents.filter(Q(liveness_deadline__lt=now) | Q(liveness_deadline__isnull=True)).order_by(
        F("liveness_deadline").asc(nulls_first=True), "handle"
    )


def overdue_agents(*, now: datetime, watching_since: datetime | None = None) -> QuerySet[Agent]:
    """Active agents past their deadline: the monitor degrades them."""
    return silent_agents(now=now, watching_since=watching_since).filter(lifecycle_state=Agent.Lifecycle.ACTIVE)


def liveness_watching_since(*, now: datetime) -> datetime:
    """When the liveness monitor's current unbroken run began (agents.services.heartbeats.liveness_check); `now`
    when it has not run within its gap, as after an outage: nobody was watching."""
    watch = Heartbeat.objects.filter(component=LIVENESS_COMPONENT, seen_at__gte=now - LIVENESS_GAP).first()
    return watch.since if watch is not None and watch.since is not None else now


def reporting_degraded_agents() -> QuerySet[Agent]:
    """Degraded agents that reported after they were degraded: the monitor recovers them."""
    agents = _with_liveness(Agent.objects.select_related("division"))
    return agents.filter(lifecycle_state=Agent.Lifecycle.DEGRADED, last_seen_at__gt=F("state_since")).order_by("handle")


def division_silence_list(*, now: datetime, watching_since: datetime | None = None) -> list[dict[str, Any]]:
    """Per division with live (active or degraded) agents: how many there are, which of them are silent at `now`,
    and the division's `silent_share` (the silent-division escalation reads this). Two queries."""
    live = (
        Agent.objects.filter(lifecycle_state__in=[Agent.Lifecycle.ACTIVE, Agent.Lifecycle.DEGRADED])
        .values("division_id")
        .annotate(live=Count("pk"))
    )
    silent: dict[int, list[Agent]] = {}
    for agent in silent_agents(now=now, watching_since=watching_since):
        silent.setdefault(agent.division_id, []).append(agent)
    divisions = Division.objects.in_bulk([row["division_id"] for row in live])
    return [
        {
            "division": divisions[row["division_id"]],
            "live": row["live"],
            "silent": silent.get(row["division_id"], []),
        }
        for row in sorted(live, key=lambda row: row["division_id"])
    ]


def fleet_attention(*, now: datetime) -> QuerySet[Agent]:
    """What the fleet page asks someone to look at: degraded agents and silent ones (the liveness rule above)."""
    agents = _with_liveness(Agent.objects.select_related("division"))
    return agents.filter(
        Q(lifecycle_state=Agent.Lifecycle.DEGRADED)
        | Q(lifecycle_state=Agent.Lifecycle.ACTIVE, liveness_deadline__lt=now)
    ).order_by(F("liveness_deadline").asc(nulls_first=True), "handle")


# --- the fleet page: counts by state, the lifecycle trail ---


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
