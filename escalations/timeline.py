"""A ticket's timeline: its audit trail (the pghistory event rows its tables' triggers wrote) and its comments,
as one list, oldest first. Events written by one action (a transition, an edit, a decision) share a context id
and become one entry with every change in it: who, when, what, from and to."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model

from agents.models import Agent, Division, Domain
from escalations.constants import amount_text
from escalations.models import Escalation
from metrics.models import Metric

# Ticket fields the timeline shows, with their labels; long texts say "changed" rather than both versions.
TICKET_FIELDS = {
    "state": "State",
    "level": "Level",
    "priority": "Priority",
    "title": "Title",
    "kind": "Kind",
    "resource_name": "Resource",
    "resource_unit": "Unit",
    "resource_capacity": "Capacity",
}
LONG_FIELDS = {"description": "Description", "decision": "Decision"}
BREACH_FIELDS = {
    "acknowledge_breached_at": "Acknowledge deadline missed",
    "resolve_breached_at": "Resolve deadline missed",
}
# Child tables: (event model, what one row is called, the field naming it).
CHILDREN = {
    "EscalationDivisionEvent": ("Division involved", "division_id"),
    "EscalationAssigneeEvent": ("Assignee", "user_id"),
    "EscalationAgentEvent": ("Agent", "agent_id"),
    "EscalationMetricEvent": ("Metric", "metric_id"),
    "ResourceClaimEvent": ("Claim", "division_id"),
    "SignOffEvent": ("Sign-off", "domain_id"),
    "FollowUpEvent": ("Follow-up", "description"),
}
CLAIM_FIELDS = {"amount": "asked", "priority": "priority", "allocated": "allocated", "rationale": "rationale"}


@dataclass
class Change:
    what: str
    before: str = ""
    after: str = ""


@dataclass
class Entry:
    at: datetime
    actor: str
    action: str
    changes: list[Change] = field(default_factory=list)
    comment: Any = None  # a Comment, for comment entries

    @property
    def is_comment(self) -> bool:
        return self.comment is not None


def timeline(escalation: Escalation) -> list[Entry]:
    """Every change and comment of a ticket, oldest first (about 10 queries, whatever the ticket's length)."""
    events = _events(escalation)
    names = _names(events)
    entries: dict[Any, Entry] = {}
    previous: dict[tuple[str, Any], Any] = {}
    for model_name, event in events:
        key = event.pgh_context_id or (model_name, event.pgh_id)
        context = event.pgh_context or {}
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = Entry(
                at=_when(context, event), actor=context.get("actor", "system"), action=context.get("action", "change")
            )
        entry.changes.extend(_changes(model_name, event, previous, names))
    comments = [
        Entry(at=comment.created_at, actor=_author(comment), action="comment", comment=comment)
        for comment in escalation.comments.select_related("author")
    ]
    return sorted([*entries.values(), *comments], key=lambda entry: entry.at)


def _when(context: dict, event: Any) -> datetime:
    """When the action happened: the time the service was given (novaops.audit), else when the
    database wrote the row."""
    return datetime.fromisoformat(context["at"]) if context.get("at") else event.pgh_created_at


def _events(escalation: Escalation) -> list[tuple[str, Any]]:
    rows = [("EscalationEvent", e) for e in _event_model("EscalationEvent").objects.filter(pgh_obj_id=escalation.pk)]
    for model_name in CHILDREN:
        rows += [(model_name, e) for e in _event_model(model_name).objects.filter(escalation_id=escalation.pk)]
    return sorted(rows, key=lambda row: (row[1].pgh_created_at, row[0] != "EscalationEvent", row[1].pgh_id))


def _event_model(name: str) -> Any:
    return apps.get_model("escalations", name)


def _changes(model_name: str, event: Any, previous: dict, names: dict) -> list[Change]:
    if model_name == "EscalationEvent":
        before = previous.get((model_name, event.pgh_obj_id))
        previous[(model_name, event.pgh_obj_id)] = event
        return _ticket_changes(before, event)
    label, name_field = CHILDREN[model_name]
    row_name = _child_name(model_name, event, name_field, names)
    if event.pgh_label == "insert":
        previous[(model_name, event.pgh_obj_id)] = event
        return [Change(what=f"{label} added", after=row_name)]
    if event.pgh_label == "delete":
        return [Change(what=f"{label} removed", before=row_name)]
    before = previous.get((model_name, event.pgh_obj_id))
    previous[(model_name, event.pgh_obj_id)] = event
    if model_name != "ResourceClaimEvent" or before is None:
        return [Change(what=f"{label} changed", after=row_name)]
    return [
        Change(
            what=f"Claim of {row_name}: {words}", before=_text(getattr(before, name)), after=_text(getattr(event, name))
        )
        for name, words in CLAIM_FIELDS.items()
        if getattr(before, name) != getattr(event, name)
    ]


def _ticket_changes(before: Any, event: Any) -> list[Change]:
    if before is None:
        return [Change(what="Raised", after=f"{event.get_kind_display()} · {event.priority} · level {event.level}")]
    changes = [
        Change(what=label, before=_display(event, name, before), after=_display(event, name, event))
        for name, label in TICKET_FIELDS.items()
        if getattr(before, name) != getattr(event, name)
    ]
    changes += [
        Change(what=f"{label} changed")
        for name, label in LONG_FIELDS.items()
        if getattr(before, name) != getattr(event, name)
    ]
    changes += [
        Change(what=label)
        for name, label in BREACH_FIELDS.items()
        if getattr(before, name) is None and getattr(event, name)
    ]
    return changes


def _display(event: Any, name: str, row: Any) -> str:
    value = getattr(row, name)
    if name in ("state", "kind", "priority"):
        return dict(event._meta.get_field(name).choices).get(value, value)
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return amount_text(value)
    return "—" if value in (None, "") else str(value)


def _names(events: list[tuple[str, Any]]) -> dict[str, dict]:
    """The names child rows point at, fetched once per table."""
    ids: dict[str, set] = defaultdict(set)
    for model_name, event in events:
        if model_name in ("EscalationDivisionEvent", "ResourceClaimEvent"):
            ids["division"].add(event.division_id)
        elif model_name == "EscalationAssigneeEvent":
            ids["user"].add(event.user_id)
        elif model_name == "EscalationAgentEvent":
            ids["agent"].add(event.agent_id)
        elif model_name == "EscalationMetricEvent":
            ids["metric"].add(event.metric_id)
        elif model_name == "SignOffEvent":
            ids["domain"].add(event.domain_id)
            ids["user"].add(event.user_id)
    user_model = get_user_model()
    return {
        "division": dict(Division.objects.filter(pk__in=ids["division"]).values_list("pk", "name")),
        "user": {
            user.pk: user.get_full_name() or user.username for user in user_model.objects.filter(pk__in=ids["user"])
        },
        "agent": dict(Agent.objects.filter(pk__in=ids["agent"]).values_list("pk", "handle")),
        "metric": dict(Metric.objects.filter(pk__in=ids["metric"]).values_list("pk", "key")),
        "domain": dict(Domain.objects.filter(pk__in=ids["domain"]).values_list("pk", "name")),
    }


def _child_name(model_name: str, event: Any, name_field: str, names: dict) -> str:
    value = getattr(event, name_field)
    table = {
        "division_id": "division",
        "user_id": "user",
        "agent_id": "agent",
        "metric_id": "metric",
        "domain_id": "domain",
    }.get(name_field)
    name = names[table].get(value, str(value)) if table else str(value)
    if model_name == "SignOffEvent":
        return f"{name} by {names['user'].get(event.user_id, event.user_id)}"
    if model_name == "ResourceClaimEvent" and event.pgh_label == "insert":
        return f"{name}: {_text(event.amount)} ({event.priority})"
    return name


def _author(comment: Any) -> str:
    if comment.author is not None:
        return comment.author.get_full_name() or comment.author.username
    return f"token “{comment.token_name}”" if comment.token_name else "someone"
