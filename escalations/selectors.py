"""Reads of the escalations app: one ticket with what its page needs, the viewer's relations, SLA clocks, the
timeline, and the SLA policy. The queue's filters live in filters.py, the analytics in analytics.py."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Count, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django_fsm import can_proceed

from agents.filters import error_message
from escalations.constants import LEVEL_MAX, SLA_DEFAULTS, TRANSITIONS
from escalations.filters import EscalationFilter, breached_q
from escalations.models import ACTIVE_STATES, Escalation, EscalationDivision, FollowUp, SlaPolicy
from escalations.policies import Viewer, viewer_of


def sla_policy_for(*, priority: str) -> SlaPolicy:
    """The policy of a priority; the defaults when a lead has removed its row (never no deadline)."""
    policy = SlaPolicy.objects.filter(priority=priority).first()
    if policy is None:
        acknowledge_within, resolve_within = SLA_DEFAULTS[priority]
        policy = SlaPolicy(priority=priority, acknowledge_within=acknowledge_within, resolve_within=resolve_within)
    return policy


def sla_policy_list() -> list[SlaPolicy]:
    return [sla_policy_for(priority=priority) for priority in Escalation.Priority.values]


def escalation_queryset() -> QuerySet[Escalation]:
    """Tickets with what a list row shows: raising division, involved divisions and assignees (4 queries)."""
    return Escalation.objects.select_related("raised_division__domain", "raised_by").prefetch_related(
        Prefetch("involved", queryset=EscalationDivision.objects.select_related("division__domain")),
        "assignees",
    )


def escalation_get(*, number: int) -> Escalation:
    """One ticket with links, claims, sign-offs and follow-ups; DoesNotExist when there is none."""
    return (
        escalation_queryset()
        .prefetch_related(
            "agents", "metrics", "claims__division", "sign_offs__domain", "sign_offs__user", "follow_ups__owner"
        )
        .get(number=number)
    )


def viewer(*, user: Any, escalation: Escalation) -> Viewer:
    """The viewer's relations to a ticket from escalation_queryset() (its prefetches: no extra query for those)."""
    involved_ids = {link.division_id for link in escalation.involved.all()}
    assignee_ids = {user.pk for user in escalation.assignees.all()}
    return viewer_of(user, escalation, involved_ids=involved_ids, assignee_ids=assignee_ids)


def involved_domain_ids(escalation: Escalation) -> set[int]:
    return {link.division.domain_id for link in escalation.involved.all()}


@dataclass(frozen=True)
class Clock:
    """One SLA clock: how long it has run, its deadline, what is left (negative once breached), and whether it
    stopped (met or missed) or is paused."""

    label: str
    due_at: datetime
    elapsed: timedelta
    remaining: timedelta
    stopped_at: datetime | None
    paused: bool

    @property
    def breached(self) -> bool:
        return self.remaining < timedelta(0)


def clocks(escalation: Escalation, *, now: datetime | None = None) -> list[Clock]:
    """The acknowledge and resolve clocks. The resolve clock stands still while the ticket waits on its raiser
    (the time waited is added to its deadline when it resumes; until then `now` is held at the pause)."""
    now = now or timezone.now()
    acknowledged = escalation.acknowledged_at
    acknowledge_end = acknowledged or now
    resolve_stop = escalation.resolved_at
    paused = escalation.waiting_since is not None
    resolve_end = resolve_stop or (escalation.waiting_since if paused else now)
    paused_for = timedelta(seconds=escalation.paused_seconds)
    return [
        Clock(
            label="Acknowledge",
            due_at=escalation.acknowledge_due_at,
            elapsed=acknowledge_end - escalation.created_at,
            remaining=escalation.acknowledge_due_at - acknowledge_end,
            stopped_at=acknowledged,
            paused=False,
        ),
        Clock(
            label="Resolve",
            due_at=escalation.resolve_due_at,
            elapsed=resolve_end - escalation.created_at - paused_for,
            remaining=escalation.resolve_due_at - resolve_end,
            stopped_at=resolve_stop,
            paused=paused and resolve_stop is None,
        ),
    ]


def is_breached(escalation: Escalation, *, now: datetime | None = None) -> bool:
    return any(clock.breached for clock in clocks(escalation, now=now))


def active_states() -> list[str]:
    return list(ACTIVE_STATES)


def available_transitions(escalation: Escalation, *, user: Any) -> list[str]:
    """The transitions this viewer may make now: the buttons a ticket page shows (no query beyond the ticket's)."""
    who = viewer(user=user, escalation=escalation)
    names = [name for name in TRANSITIONS if who.may(name, escalation) and can_proceed(getattr(escalation, name))]
    if escalation.level >= LEVEL_MAX and "escalate" in names:
        names.remove("escalate")
    return names


# --- Summaries: the dashboards' overview panel and chart annotations, the analytics page ---------------------------


def urgent_list(*, now: datetime, limit: int) -> tuple[list[Escalation], int]:
    """Active tickets, most urgent first (breached, then priority, then the oldest), the first `limit` of them with
    a `breached` attribute and their assignees, and how many there are in all."""
    active = _with_breach(Escalation.objects.filter(state__in=ACTIVE_STATES), now=now)
    urgent = active.select_related("raised_division").prefetch_related("assignees")
    rows = list(urgent.order_by("-breached", "priority", "created_at")[:limit])
    return rows, active.count()


def state_counts() -> dict[str, int]:
    """Active tickets per state, every active state present (zero when none)."""
    counts = dict(
        Escalation.objects.filter(state__in=ACTIVE_STATES).values_list("state").annotate(n=Count("pk")).order_by()
    )
    return {state: counts.get(state, 0) for state in ACTIVE_STATES}


def annotation_list(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    division_slugs: tuple[str, ...] = (),
    metric_keys: tuple[str, ...] = (),
    agent_handles: tuple[str, ...] = (),
    limit: int = 200,
) -> list[Escalation]:
    """Tickets raised in [start, end) that involve one of the divisions, link one of the metrics and concern one of
    the agents (linked, or of a division involved): each kind given narrows. Oldest first, with `breached`."""
    tickets = Escalation.objects.filter(created_at__gte=start, created_at__lt=end)
    if division_slugs:
        tickets = tickets.filter(involved__division__slug__in=division_slugs)
    if metric_keys:
        tickets = tickets.filter(metric_links__metric__key__in=metric_keys)
    if agent_handles:
        tickets = tickets.filter(
            Q(agent_links__agent__handle__in=agent_handles) | Q(involved__division__agents__handle__in=agent_handles)
        )
    ids = tickets.values("pk")  # the joins above repeat rows; one subquery keeps each ticket once
    return list(_with_breach(Escalation.objects.filter(pk__in=ids), now=now).order_by("created_at")[:limit])


def _with_breach(tickets: QuerySet[Escalation], *, now: datetime) -> QuerySet[Escalation]:
    """`breached` on each ticket, by the queue's definition (a breach recorded, or a running clock past due)."""
    breached = Case(When(breached_q(now=now), then=Value(True)), default=Value(False), output_field=BooleanField())
    return tickets.annotate(breached=breached)


TICKET_COLUMNS = [
    "number",
    "kind",
    "priority",
    "state",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "paused_seconds",
    "waiting_since",
    "acknowledge_due_at",
    "resolve_due_at",
    "acknowledge_breached_at",
    "resolve_breached_at",
]


def analytics_frames(*, start: datetime, end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tickets raised in [start, end) (TICKET_COLUMNS, one row each) and their involved divisions (number,
    division: the division's name, one row per pair), for escalations.analytics (two queries)."""
    raised = Escalation.objects.filter(created_at__gte=start, created_at__lt=end)
    tickets = pd.DataFrame.from_records(list(raised.values_list(*TICKET_COLUMNS)), columns=TICKET_COLUMNS)
    links = pd.DataFrame.from_records(
        list(
            EscalationDivision.objects.filter(escalation__in=raised).values_list("escalation__number", "division__name")
        ),
        columns=["number", "division"],
    )
    return tickets, links


def open_created_at() -> list[datetime]:
    """When each active ticket was raised: the open tickets' ages, for escalations.analytics.age_buckets."""
    return list(Escalation.objects.filter(state__in=ACTIVE_STATES).values_list("created_at", flat=True))


def escalation_list_filtered(
    *, filters: Mapping[str, Any], request: Any = None, division_id: int | None = None
) -> QuerySet[Escalation]:
    """The queue: escalation_queryset() narrowed by EscalationFilter (`request` for `mine`), and with `division_id`
    to the tickets that division raised or is involved in (a division token's scope).

    A bad filter value raises ValidationError keyed by the parameter, in EscalationFilter's words: a filter that
    dropped it silently would answer with the whole queue, which reads as a valid (and wrong) result.
    """
    tickets = escalation_queryset()
    if division_id is not None:
        in_scope = EscalationDivision.objects.filter(division_id=division_id).values("escalation_id")
        tickets = tickets.filter(Q(raised_division_id=division_id) | Q(pk__in=in_scope))
    filterset = EscalationFilter(filters, queryset=tickets, request=request)
    if not filterset.is_valid():
        errors = filterset.form.errors.as_data()
        raise ValidationError({name: [error_message(error) for error in errors[name]] for name in errors})
    return filterset.qs


def meeting_escalation_list(*, division_ids: list[int], start: datetime, end: datetime) -> list[Escalation]:
    """What a sync reviews (meetings.agenda): tickets involving one of `division_ids` that were opened or breached
    in [start, end) and are still active, and those decided (resolved) in it; by number."""
    in_period = (
        Q(created_at__gte=start, created_at__lt=end)
        | Q(acknowledge_breached_at__gte=start, acknowledge_breached_at__lt=end)
        | Q(resolve_breached_at__gte=start, resolve_breached_at__lt=end)
    )
    wanted = (in_period & Q(state__in=ACTIVE_STATES)) | Q(resolved_at__gte=start, resolved_at__lt=end)
    return list(
        Escalation.objects.filter(wanted, involved__division_id__in=division_ids)
        .select_related("raised_division")
        .distinct()
        .order_by("number")
    )


def open_follow_up_list(*, division_ids: list[int]) -> list[FollowUp]:
    """Follow-ups not done yet of the tickets involving one of `division_ids`, due first (a sync lists them)."""
    return list(
        FollowUp.objects.filter(done_at__isnull=True, escalation__involved__division_id__in=division_ids)
        .select_related("escalation", "owner")
        .distinct()
        .order_by("due_on", "id")
    )
