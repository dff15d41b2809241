"""Changing a ticket's fields, its assignees within the level, and commenting."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from escalations.constants import COMMENT_MAX
from escalations.models import Comment, Escalation, EscalationAgent, EscalationAssignee, EscalationMetric
from escalations.routing import level_pool
from escalations.selectors import involved_domain_ids, sla_policy_for, viewer
from escalations.services.locking import locked
from escalations.services.notifications import notify_assignees
from escalations.services.raising import field_errors
from metrics.models import Metric
from novaops import policies
from novaops.audit import actor_label, audited
from novaops.errors import Conflict, Forbidden, InvalidInput

EDITABLE = ("title", "description", "priority")


def escalation_update(
    *,
    number: int,
    actor: Any,
    fields: dict[str, Any],
    agents: Sequence[Agent] | None = None,
    metrics: Sequence[Metric] | None = None,
    version: int | None = None,
) -> Escalation:
    """Change title, description, priority and the agent and metric links. A new priority takes its SLA policy's
    deadlines from the time the ticket was raised (plus the time it waited on its raiser)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(
            "These fields cannot be changed.",
            errors=[{"field": name, "message": "Not editable."} for name in sorted(unknown)],
        )
    errors = field_errors(fields)
    if errors:
        raise InvalidInput("The escalation cannot be changed as given.", errors=errors)
    with transaction.atomic(), audited(actor, "edit"):
        escalation = locked(number=number, version=version)
        who = viewer(user=actor, escalation=escalation)
        if not who.may("edit", escalation):
            raise Forbidden(who.refusal("edit", escalation))
        if not escalation.is_active:
            raise Conflict(f"{escalation.key} is {escalation.get_state_display().lower()}; reopen it to edit it.")
        if "priority" in fields and fields["priority"] != escalation.priority:
            _deadlines(escalation, priority=fields["priority"])
        for name, value in fields.items():
            setattr(escalation, name, value)
        if agents is not None:
            _relink(escalation, EscalationAgent, "agent", agents)
        if metrics is not None:
            _relink(escalation, EscalationMetric, "metric", metrics)
        escalation.version += 1
        escalation.save()
    return escalation


def escalation_reassign(*, number: int, actor: Any, user_ids: Sequence[int], version: int | None = None) -> Escalation:
    """Hand the ticket to other people of its level's pool (escalations.routing.level_pool); they are emailed."""
    if not user_ids:
        raise InvalidInput("Name at least one assignee.", errors=[{"field": "assignees", "message": "Required."}])
    with transaction.atomic(), audited(actor, "reassign"):
        escalation = locked(number=number, version=version)
        who = viewer(user=actor, escalation=escalation)
        if not who.may("reassign", escalation):
            raise Forbidden(who.refusal("reassign", escalation))
        division_ids = {link.division_id for link in escalation.involved.all()}
        pool = {
            user.pk: user
            for user in level_pool(
                level=escalation.level, division_ids=division_ids, domain_ids=involved_domain_ids(escalation)
            )
        }
        outside = [user_id for user_id in user_ids if user_id not in pool]
        if outside:
            raise InvalidInput(
                f"Level {escalation.level} of {escalation.key} can only go to: "
                f"{', '.join(actor_label(user) for user in pool.values()) or 'nobody'}.",
                errors=[
                    {"index": index, "field": "assignees", "message": "Not at this level."}
                    for index, user_id in enumerate(user_ids)
                    if user_id in outside
                ],
            )
        current = {user.pk for user in escalation.assignees.all()}
        EscalationAssignee.objects.filter(escalation=escalation).exclude(user_id__in=user_ids).delete()
        added = [pool[user_id] for user_id in dict.fromkeys(user_ids) if user_id not in current]
        EscalationAssignee.objects.bulk_create(EscalationAssignee(escalation=escalation, user=user) for user in added)
        notify_assignees(escalation=escalation, users=added, reason=f"reassigned-level-{escalation.level}")
        getattr(escalation, "_prefetched_objects_cache", {}).pop("assignees", None)
        escalation.version += 1
        escalation.save(update_fields=["version", "updated_at"])
    return escalation


def comment_add(*, number: int, actor: Any, body: str, at: datetime | None = None) -> Comment:
    """A comment by a person or a division token of the raising or an involved division. Answering while the
    ticket waits on its raiser does not move it: a responder resumes it (or the raiser, with start)."""
    if not body.strip():
        raise InvalidInput("A comment needs some text.", errors=[{"field": "body", "message": "Empty."}])
    if len(body) > COMMENT_MAX:
        raise InvalidInput(
            f"A comment has at most {COMMENT_MAX} characters.",
            errors=[{"field": "body", "message": f"At most {COMMENT_MAX} characters."}],
        )
    with transaction.atomic():
        escalation = locked(number=number)
        who = viewer(user=actor, escalation=escalation)
        if not who.may("comment", escalation):
            raise Forbidden(who.refusal("comment", escalation))
        client = policies.is_division_client(actor)
        comment = Comment.objects.create(
            escalation=escalation,
            author=None if client else actor,
            token_name=actor.token.name if client else "",
            body=body,
            created_at=at or timezone.now(),
        )
        Escalation.objects.filter(pk=escalation.pk).update(updated_at=timezone.now())
    return comment


def _deadlines(escalation: Escalation, *, priority: str) -> None:
    # paused_seconds holds the finished pauses; a pause still running is added when it ends (Escalation.start).
    policy = sla_policy_for(priority=priority)
    escalation.acknowledge_due_at = escalation.created_at + policy.acknowledge_within
    escalation.resolve_due_at = (
        escalation.created_at + policy.resolve_within + timedelta(seconds=escalation.paused_seconds)
    )


def _relink(escalation: Escalation, model: type, name: str, targets: Sequence[Any]) -> None:
    wanted = {target.pk: target for target in targets}
    model.objects.filter(escalation=escalation).exclude(**{f"{name}_id__in": wanted}).delete()
    have = set(model.objects.filter(escalation=escalation).values_list(f"{name}_id", flat=True))
    model.objects.bulk_create(
        model(escalation=escalation, **{name: target}) for pk, target in wanted.items() if pk not in have
    )
