"""The audit trail is complete after every kind of change, says who did what, and reads as one timeline with the
comments."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from escalations.services.changes import comment_add, escalation_reassign, escalation_update
from escalations.services.outcomes import (
    Allocation,
    allocation_decide,
    claim_add,
    decision_write,
    follow_up_add,
    sign_off,
)
from escalations.services.raising import Claim
from escalations.services.transitions import escalation_transition
from escalations.timeline import timeline

EVENT_MODELS = [model for model in apps.get_app_config("escalations").get_models() if model.__name__.endswith("Event")]


def _entries(ticket):
    return [(entry.actor, entry.action, [change.what for change in entry.changes]) for entry in timeline(ticket)]


def _contexts(ticket):
    """Every trail row of the ticket (the ticket's and its children's): its context."""
    rows = []
    for model in EVENT_MODELS:
        field = "pgh_obj_id" if model.__name__ == "EscalationEvent" else "escalation_id"
        if any(f.name == field or f.attname == field for f in model._meta.fields):
            rows += list(model.objects.filter(**{field: ticket.pk}).values_list("pgh_context", flat=True))
    return rows


def test_every_change_of_a_resource_conflict_is_in_the_trail(org, raise_ticket):
    ticket = raise_ticket(claims=[Claim(division=org.workflow, amount=Decimal(30), justification="Batch")])
    claim_add(
        escalation=ticket,
        actor=org.runtime_member,
        claim=Claim(division=org.runtime, amount=Decimal(50), justification="Training"),
    )
    escalation_update(number=ticket.number, actor=org.runtime_member, fields={"priority": "P1", "description": "More"})
    escalation_reassign(number=ticket.number, actor=org.runtime_lead, user_ids=[org.workflow_lead.pk])
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.workflow_lead)
    comment_add(number=ticket.number, actor=org.workflow_lead, body="Looking.")
    escalation_transition(number=ticket.number, name="escalate", actor=org.runtime_member)
    workflow, runtime = ticket.claims.order_by("pk")
    allocation_decide(
        number=ticket.number,
        actor=org.core,
        allocations=[Allocation(workflow.pk, Decimal(30), "Nightly"), Allocation(runtime.pk, Decimal(50))],
        rationale="Both fit.",
    )
    escalation_transition(number=ticket.number, name="start", actor=org.core)
    escalation_transition(number=ticket.number, name="resolve", actor=org.core)
    assert _entries(ticket) == [
        (
            "runtime-member",
            "raise",
            [
                "Raised",
                "Division involved added",
                "Division involved added",
                "Claim added",
                "Assignee added",
                "Assignee added",
            ],
        ),
        ("runtime-member", "claim", ["Claim added"]),
        ("runtime-member", "edit", ["Priority", "Description changed"]),
        ("runtime-lead", "reassign", ["Assignee removed"]),
        ("workflow-lead", "acknowledge", ["State"]),
        ("workflow-lead", "comment", []),
        ("runtime-member", "escalate", ["Level", "Assignee removed", "Assignee added", "Assignee added"]),
        (
            "core",
            "decide",
            [
                "Claim of Workflow Engineering: allocated",
                "Claim of Workflow Engineering: rationale",
                "Claim of NovaCore Runtime: allocated",
                "Decision changed",
            ],
        ),
        ("core", "start", ["State"]),
        ("core", "resolve", ["State"]),
    ]
    state_changes = [change for entry in timeline(ticket) for change in entry.changes if change.what == "State"]
    assert [(change.before, change.after) for change in state_changes] == [
        ("Open", "Acknowledged"),
        ("Acknowledged", "In progress"),
        ("In progress", "Resolved"),
    ]
    users = {user.pk for user in (org.runtime_member, org.runtime_lead, org.workflow_lead, org.core)}
    contexts = _contexts(ticket)
    assert len(contexts) == 19  # 7 of the ticket, 2 divisions, 4 of claims, 6 of assignees
    assert all(context["actor"] and context["action"] and context["user"] in users for context in contexts)


def test_sign_offs_their_withdrawal_and_follow_ups_are_in_the_trail(org, raise_ticket):
    strategic = raise_ticket(kind="strategic_alignment")
    decision_write(number=strategic.number, actor=org.core, text="One scheduler.")
    sign_off(number=strategic.number, actor=org.core)
    decision_write(number=strategic.number, actor=org.core, text="Two schedulers.")
    assert _entries(strategic)[1:] == [
        ("core", "decision", ["Decision changed"]),
        ("core", "sign off", ["Sign-off added"]),
        ("core", "decision", ["Decision changed", "Sign-off removed"]),
    ]
    friction = raise_ticket(kind="friction")
    follow_up_add(
        number=friction.number, actor=org.meridian, description="Share the rota", owner=org.core, due_on=date.today()
    )
    assert _entries(friction)[-1] == ("meridian", "follow-up", ["Follow-up added"])


def test_the_sla_job_and_tokens_are_named(org, raise_ticket, division_client):
    from escalations.services.sla import sla_sweep

    ticket = raise_ticket(priority="P1", by=division_client)
    sla_sweep(now=timezone.now() + timedelta(hours=2))
    actors = [(entry.actor, entry.action) for entry in timeline(ticket)]
    assert actors == [
        ("NovaCore Runtime (token “collector”)", "raise"),
        ("NovaOps SLA", "acknowledge deadline passed"),
    ]
    assert {change.what for change in timeline(ticket)[-1].changes} >= {"Level", "Acknowledge deadline missed"}


def test_the_timeline_shows_when_things_happened(org, raise_ticket):
    raised = timezone.now() - timedelta(days=5)
    ticket = raise_ticket(at=raised)
    comment_add(number=ticket.number, actor=org.core, body="Seen.", at=raised + timedelta(hours=2))
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.core, at=raised + timedelta(hours=1))
    assert [(entry.at - raised, entry.action) for entry in timeline(ticket)] == [
        (timedelta(0), "raise"),
        (timedelta(hours=1), "acknowledge"),
        (timedelta(hours=2), "comment"),
    ]


@pytest.mark.parametrize("model", EVENT_MODELS, ids=lambda model: model.__name__)
def test_every_tracked_table_keeps_its_context_in_the_row(model):
    assert model._meta.get_field("pgh_context").get_internal_type() == "JSONField"
