"""Escalation tickets, their state machine, SLA policy, comments and the kind-specific outcomes.

Every table that holds part of a ticket is tracked by django-pghistory: database triggers write one event row per
insert, update and delete into an append-only table (a second trigger refuses UPDATE and DELETE on it), with the
actor and the operation in the event's context. The ticket's timeline is read from those events
(escalations.selectors.timeline), so nothing a service forgets to log can go missing from it.
"""

from decimal import Decimal

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import FSMField, transition

from agents.models import Agent, Division, Domain
from escalations import constants
from metrics.models import Metric


# Every tracked model: inserts, updates (only when a tracked field changed) and deletes, into an append-only event table
# whose rows carry their context (who, through what) themselves, so the context cannot be changed apart from them.
def tracked(name: str, **options: object):
    # Fresh trackers per model: pghistory fills a tracker's condition with the fields of the model it meets first.
    trackers = (pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
    return pghistory.track(
        *trackers, model_name=f"{name}Event", context_field=pghistory.ContextJSONField(), append_only=True, **options
    )


def _amount(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=constants.AMOUNT_DIGITS, decimal_places=constants.AMOUNT_PLACES, **kwargs)


class EscalationKind(models.TextChoices):
    FRICTION = "friction", "Friction resolution"
    RESOURCE_CONFLICT = "resource_conflict", "Resource conflict"
    STRATEGIC_ALIGNMENT = "strategic_alignment", "Strategic alignment"


class EscalationState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting_on_raiser", "Waiting on raiser"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class EscalationPriority(models.TextChoices):
    P1 = "P1", "P1 · critical"
    P2 = "P2", "P2 · high"
    P3 = "P3", "P3 · moderate"
    P4 = "P4", "P4 · low"


ACTIVE_STATES = [
    EscalationState.OPEN,
    EscalationState.ACKNOWLEDGED,
    EscalationState.IN_PROGRESS,
    EscalationState.WAITING,
]


@tracked("SlaPolicy")
class SlaPolicy(models.Model):
    """Time to acknowledge and time to resolve for one priority; a ticket takes its deadlines when raised."""

    priority = models.CharField(max_length=2, choices=EscalationPriority.choices, unique=True)
    acknowledge_within = models.DurationField()
    resolve_within = models.DurationField()

    class Meta:
        ordering = ["priority"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(condition=Q(acknowledge_within__gt="0 seconds"), name="sla_acknowledge_positive"),
            models.CheckConstraint(condition=Q(resolve_within__gte=F("acknowledge_within")), name="sla_resolve_after"),
        ]

    def __str__(self) -> str:
        return f"{self.priority}: acknowledge {self.acknowledge_within}, resolve {self.resolve_within}"


@tracked("Escalation", exclude=["version", "updated_at"])
class Escalation(models.Model):
    """A ticket raised by a division, routed by level to leads, carried from open to closed.

    Only the transition methods below change `state`, and only escalations.services.transitions calls them, under
    a row lock (SELECT … FOR UPDATE): of two people acting at once the second waits, then reads the state the first
    left and is told. `version` counts every change; a page or client that sends the version it saw gets a 409
    when someone changed the ticket meanwhile. The number comes from a PostgreSQL sequence (never reused).
    Tickets are never deleted (a trigger refuses it): the trail must keep pointing at something.
    """

    Kind = EscalationKind
    State = EscalationState
    Priority = EscalationPriority

    number = models.PositiveIntegerField(unique=True, editable=False)
    kind = models.CharField(max_length=24, choices=EscalationKind.choices)
    title = models.CharField(max_length=constants.TITLE_MAX)
    description = models.TextField(max_length=constants.DESCRIPTION_MAX)
    priority = models.CharField(max_length=2, choices=EscalationPriority.choices, default=EscalationPriority.P3)
    state = FSMField(choices=EscalationState.choices, default=EscalationState.OPEN)
    level = models.PositiveSmallIntegerField(default=1)
    version = models.PositiveIntegerField(default=1)

    raised_division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="escalations_raised")
    # A person raised it, or a division client did (then `raised_by` is empty and `raised_token_name` says which).
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations_raised"
    )
    raised_token_name = models.CharField(max_length=80, blank=True)
    divisions = models.ManyToManyField(Division, through="EscalationDivision", related_name="escalations")
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="EscalationAssignee", related_name="escalations_assigned"
    )
    agents = models.ManyToManyField(Agent, blank=True, through="EscalationAgent", related_name="escalations")
    metrics = models.ManyToManyField(Metric, blank=True, through="EscalationMetric", related_name="escalations")

    # When it was raised: the raising service sets it (its `at`), so a ticket recorded late keeps its real age.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # SLA clocks. The resolve deadline moves later by the time spent waiting on the raiser (the clock is paused).
    acknowledge_due_at = models.DateTimeField()
    resolve_due_at = models.DateTimeField()
    waiting_since = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    # Set once, by the compare-and-swap that acts on each breach (escalations.services.sla): never twice.
    acknowledge_breached_at = models.DateTimeField(null=True, blank=True)
    resolve_breached_at = models.DateTimeField(null=True, blank=True)

    # Resource conflict: the resource in dispute.
    resource_name = models.CharField(max_length=120, blank=True)
    resource_unit = models.CharField(max_length=30, blank=True)
    resource_capacity = _amount(null=True, blank=True)
    # Strategic alignment: the written decision; friction: the resolution note; resource conflict: its rationale.
    decision = models.TextField(blank=True, max_length=constants.DESCRIPTION_MAX)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=EscalationKind.values), name="escalation_kind_valid"),
            models.CheckConstraint(condition=Q(state__in=EscalationState.values), name="escalation_state_valid"),
            models.CheckConstraint(
                condition=Q(priority__in=EscalationPriority.values), name="escalation_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(level__gte=constants.LEVEL_MIN, level__lte=constants.LEVEL_MAX),
                name="escalation_level_valid",
            ),
            models.CheckConstraint(
                # IS NOT NULL too: a NULL capacity would make the check NULL, which PostgreSQL lets through.
                condition=~Q(kind="resource_conflict") | Q(resource_capacity__isnull=False, resource_capacity__gte=0),
                name="escalation_resource_has_capacity",
            ),
            models.CheckConstraint(
                condition=Q(waiting_since__isnull=True) | Q(state="waiting_on_raiser"),
                name="escalation_waits_only_when_waiting",
            ),
        ]
        triggers = [pgtrigger.Protect(name="escalation_never_deleted", operation=pgtrigger.Delete)]
        indexes = [
            models.Index(fields=["state", "priority"], name="escalation_state_priority_idx"),
            models.Index(fields=["created_at"], name="escalation_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.title}"

    @property
    def key(self) -> str:
        return f"ESC-{self.number}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    # The machine. Services check who may act and what the kind requires; these only move the state and stamp
    # the times that belong to it (escalations.services.transitions passes `at`).
    @transition(field=state, source=EscalationState.OPEN, target=EscalationState.ACKNOWLEDGED)
    def acknowledge(self, *, at) -> None:
        self.acknowledged_at = at

    @transition(
        field=state,
        source=[EscalationState.OPEN, EscalationState.ACKNOWLEDGED, EscalationState.WAITING],
        target=EscalationState.IN_PROGRESS,
    )
    def start(self, *, at) -> None:
        self.acknowledged_at = self.acknowledged_at or at
        self._stop_waiting(at)

    @transition(
        field=state,
        source=[EscalationState.ACKNOWLEDGED, EscalationState.IN_PROGRESS],
        target=EscalationState.WAITING,
    )
    def wait(self, *, at) -> None:
        self.waiting_since = at

    @transition(field=state, source=EscalationState.IN_PROGRESS, target=EscalationState.RESOLVED)
    def resolve(self, *, at) -> None:
        self.resolved_at = at

    @transition(field=state, source=EscalationState.RESOLVED, target=EscalationState.CLOSED)
    def close(self, *, at) -> None:
        self.closed_at = at

    @transition(field=state, source=EscalationState.RESOLVED, target=EscalationState.IN_PROGRESS)
    def reopen(self, *, at) -> None:
        self.resolved_at = None

    @transition(field=state, source=ACTIVE_STATES, target=None)
    def escalate(self, *, at) -> None:
        # Same state, one level up (target=None keeps the state).
        self.level += 1

    def _stop_waiting(self, at) -> None:
        if self.waiting_since is not None:
            paused = max(0, int((at - self.waiting_since).total_seconds()))
            self.paused_seconds += paused
            self.resolve_due_at += at - self.waiting_since
            self.waiting_since = None


@tracked("EscalationDivision")
class EscalationDivision(models.Model):
    """A division involved in a ticket (its leads are level 1; its domain's Tier 1 lead level 2)."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="involved")
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["escalation", "division"], name="escalation_division_unique")]

    def __str__(self) -> str:
        return f"ESC {self.escalation_id}: division {self.division_id}"


@tracked("EscalationAssignee")
class EscalationAssignee(models.Model):
    """A person a ticket is assigned to at its current level."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["escalation", "user"], name="escalation_assignee_unique")]

    def __str__(self) -> str:
        return f"ESC {self.escalation_id}: assignee {self.user_id}"


@tracked("EscalationAgent")
class EscalationAgent(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="agent_links")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["escalation", "agent"], name="escalation_agent_unique")]

    def __str__(self) -> str:
        return f"ESC {self.escalation_id}: agent {self.agent_id}"


@tracked("EscalationMetric")
class EscalationMetric(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="metric_links")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["escalation", "metric"], name="escalation_metric_unique")]

    def __str__(self) -> str:
        return f"ESC {self.escalation_id}: metric {self.metric_id}"


class Comment(models.Model):
    """A remark on a ticket, in Markdown (rendered without raw HTML). A trigger refuses to edit or delete one."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    token_name = models.CharField(max_length=80, blank=True)
    body = models.TextField(max_length=constants.COMMENT_MAX)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="comment_not_empty")]
        triggers = [pgtrigger.Protect(name="comment_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"Comment {self.pk} on ESC {self.escalation_id}"


@tracked("ResourceClaim")
class ResourceClaim(models.Model):
    """One division's claim on the disputed resource, what it gains and gives, and what the decision allots it.

    The total allotted never exceeds the capacity: escalations.services.outcomes decides under a row lock on the
    ticket, so two decisions at once run one after the other and the second sees the first's numbers.
    """

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="claims")
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    amount = _amount()
    priority = models.CharField(max_length=2, choices=EscalationPriority.choices, default=EscalationPriority.P3)
    justification = models.TextField(max_length=constants.DESCRIPTION_MAX)
    gains = models.TextField(blank=True, max_length=constants.DESCRIPTION_MAX)
    gives = models.TextField(blank=True, max_length=constants.DESCRIPTION_MAX)
    allocated = _amount(null=True, blank=True)
    rationale = models.TextField(blank=True, max_length=constants.DESCRIPTION_MAX)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["escalation", "division"], name="claim_one_per_division"),
            models.CheckConstraint(condition=Q(amount__gt=Decimal(0)), name="claim_amount_positive"),
            models.CheckConstraint(
                condition=Q(allocated__isnull=True) | Q(allocated__gte=Decimal(0), allocated__lte=F("amount")),
                name="claim_allocation_within_ask",
            ),
            models.CheckConstraint(condition=Q(priority__in=EscalationPriority.values), name="claim_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"Claim of division {self.division_id}: {self.amount}"


@tracked("SignOff")
class SignOff(models.Model):
    """A Tier 1 lead's agreement to a strategic decision, for their domain. Deleted (and so withdrawn, with the
    deletion in the trail) when the decision text changes afterwards."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="sign_offs")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["escalation", "domain"], name="sign_off_one_per_domain")]

    def __str__(self) -> str:
        return f"Sign-off of domain {self.domain_id} on ESC {self.escalation_id}"


@tracked("FollowUp")
class FollowUp(models.Model):
    """An action a friction resolution leaves behind, with an owner and a due date; the next sync lists it."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="follow_ups")
    description = models.CharField(max_length=constants.FOLLOW_UP_MAX)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return self.description


class Notification(models.Model):
    """One email per (ticket, person, reason): the unique row is the guard that keeps a retried job from mailing
    twice."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["escalation", "user", "reason"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} to {self.user_id} for ESC {self.escalation_id}"
