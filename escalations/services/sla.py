"""SLA policy edits and the beat job that escalates tickets past their deadlines.

Exactly once per breach: each breach has its own timestamp column, and the job sets it with a compare-and-swap
(`UPDATE … WHERE <column> IS NULL`) in the same transaction that raises the level. Two workers running the sweep at
once, a sweep run twice, or one that runs hours late: only the update that finds the column empty acts, so a
ticket goes up one level per deadline missed, never more. At level 3 the breach is recorded and flagged, nothing
more (there is no level above both Tier 1 leads).
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from escalations import constants
from escalations.models import Escalation, SlaPolicy
from escalations.services.notifications import notifications_send, notify_assignees
from escalations.services.raising import assign_level
from novaops import policies
from novaops.audit import audited
from novaops.errors import Forbidden, InvalidInput

# (breach column, its deadline, the states in which that clock runs)
BREACHES = (
    ("acknowledge_breached_at", "acknowledge_due_at", [Escalation.State.OPEN]),
    (
        "resolve_breached_at",
        "resolve_due_at",
        [Escalation.State.OPEN, Escalation.State.ACKNOWLEDGED, Escalation.State.IN_PROGRESS],
    ),
)


def sla_sweep(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """Act on every deadline passed and not yet acted on; returns (ticket number, breach) for each."""
    now = now or timezone.now()
    acted = []
    for breached_column, due_column, states in BREACHES:
        due = Escalation.objects.filter(
            **{f"{breached_column}__isnull": True, f"{due_column}__lte": now, "state__in": states}
        ).values_list("pk", flat=True)
        for escalation_id in due:
            number = _breach(escalation_id=escalation_id, column=breached_column, states=states, now=now)
            if number is not None:
                acted.append((number, breached_column.removesuffix("_breached_at")))
    _unsent_notifications(now=now)
    return acted


def _breach(*, escalation_id: int, column: str, states: list[str], now: datetime) -> int | None:
    kind = column.removesuffix("_breached_at")
    with transaction.atomic(), audited(None, f"{kind} deadline passed", at=now, system="NovaOps SLA"):
        claimed = Escalation.objects.filter(pk=escalation_id, state__in=states, **{f"{column}__isnull": True}).update(
            **{column: now}, version=F("version") + 1
        )
        if not claimed:
            return None  # another sweep got there first, or the ticket moved on
        escalation = Escalation.objects.get(pk=escalation_id)
        if escalation.level < constants.LEVEL_MAX:
            Escalation.objects.filter(pk=escalation_id).update(level=F("level") + 1)
            escalation.refresh_from_db()
            users = assign_level(escalation=escalation)
            notify_assignees(escalation=escalation, users=users, reason=f"{kind}-breached-level-{escalation.level}")
    return escalation.number


def _unsent_notifications(*, now: datetime) -> None:
    """Mail what a lost broker or a dead worker left unsent (rows older than a minute)."""
    from escalations.models import Notification

    stale = now - timedelta(minutes=1)
    for escalation_id in (
        Notification.objects.filter(sent_at__isnull=True, created_at__lte=stale)
        .values_list("escalation_id", flat=True)
        .distinct()
    ):
        notifications_send(escalation_id=escalation_id)


def sla_policy_update(
    *, actor: Any, priority: str, acknowledge_within: timedelta, resolve_within: timedelta
) -> SlaPolicy:
    """A lead sets a priority's deadlines; tickets raised from then on take them."""
    if not policies.is_lead(actor):
        raise Forbidden("Only Tier 1 leads can change the SLA policy.")
    if acknowledge_within <= timedelta(0) or resolve_within < acknowledge_within:
        raise InvalidInput(
            "Time to acknowledge must be positive and no longer than time to resolve.",
            errors=[{"field": "resolve_within", "message": "At least the time to acknowledge."}],
        )
    with transaction.atomic(), audited(actor, "SLA policy"):
        policy, _ = SlaPolicy.objects.update_or_create(
            priority=priority, defaults={"acknowledge_within": acknowledge_within, "resolve_within": resolve_within}
        )
    return policy
