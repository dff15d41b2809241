"""Raising a ticket: who may raise for which division, the first level and its assignees, deadlines, links, and
input that would otherwise reach the database's constraints."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from escalations.models import Escalation, Notification
from escalations.services.raising import Claim, Links, Raise, Resource, escalation_raise
from metrics.models import Metric
from novaops.errors import Forbidden, InvalidInput
from tests.factories import AgentFactory


def _request(org, **changes):
    values = {
        "kind": Escalation.Kind.STRATEGIC_ALIGNMENT,
        "title": "Shared scheduler",
        "description": "Should workflow adopt the runtime's scheduler?",
        "priority": "P2",
        "raised_division": org.runtime,
        "divisions": [org.workflow],
    }
    return Raise(**(values | changes))


def _assignees(ticket):
    return {user.username for user in ticket.assignees.all()}


def test_a_ticket_starts_at_level_one_with_the_division_leads(org, raise_ticket):
    ticket = raise_ticket(kind=Escalation.Kind.STRATEGIC_ALIGNMENT)
    assert (ticket.state, ticket.level, ticket.key) == ("open", 1, f"ESC-{ticket.number}")
    assert _assignees(ticket) == {"runtime-lead", "workflow-lead"}
    assert {link.division_id for link in ticket.involved.all()} == {org.runtime.pk, org.workflow.pk}
    assert (ticket.raised_by, ticket.raised_token_name) == (org.runtime_member, "")


def test_friction_starts_at_level_two_with_the_involved_domains_tier1_leads(org, raise_ticket):
    both = raise_ticket(kind=Escalation.Kind.FRICTION)
    assert (both.level, _assignees(both)) == (2, {"core", "meridian"})
    novaops_only = raise_ticket(kind=Escalation.Kind.FRICTION, divisions=[org.tools])
    assert (novaops_only.level, _assignees(novaops_only)) == (2, {"core"})


def test_the_assignees_are_emailed(org, raise_ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = raise_ticket()
    assert set(Notification.objects.filter(escalation=ticket).values_list("user__username", flat=True)) == {
        "runtime-lead",
        "workflow-lead",
    }
    assert sorted(message.to[0] for message in mail.outbox) == [
        "runtime-lead@example.test",
        "workflow-lead@example.test",
    ]


def test_deadlines_and_time_come_from_the_priority_and_at(org, raise_ticket):
    at = timezone.now() - timedelta(days=3)
    ticket = raise_ticket(priority="P1", at=at)
    assert ticket.created_at == at
    assert (ticket.acknowledge_due_at, ticket.resolve_due_at) == (at + timedelta(hours=1), at + timedelta(days=1))


def test_numbers_are_never_reused(raise_ticket):
    first, second = raise_ticket(), raise_ticket()
    assert second.number > first.number


def test_links_to_agents_and_metrics(org):
    agent = AgentFactory(division=org.workflow)
    metric = Metric.objects.first()
    ticket = escalation_raise(
        actor=org.runtime_member, request=_request(org, links=Links(agents=[agent, agent], metrics=[metric]))
    )
    assert (list(ticket.agents.all()), list(ticket.metrics.all())) == ([agent], [metric])


@pytest.mark.parametrize(
    ("who", "division", "allowed"),
    [
        ("runtime_member", "runtime", True),
        ("runtime_member", "workflow", False),
        ("runtime_lead", "runtime", True),
        ("workflow_lead", "runtime", False),
        ("core", "workflow", True),
        ("meridian", "runtime", True),
        ("viewer", "runtime", False),
        ("token", "runtime", True),
        ("token", "workflow", False),
    ],
)
def test_who_may_raise_for_which_division(org, actor, who, division, allowed):
    request = _request(org, raised_division=org.user(division), divisions=[org.tools])
    if allowed:
        assert escalation_raise(actor=actor(who), request=request).raised_division == org.user(division)
    else:
        with pytest.raises(Forbidden, match="only its people can"):
            escalation_raise(actor=actor(who), request=request)


def test_a_token_raises_in_its_divisions_name(org, division_client):
    ticket = escalation_raise(actor=division_client, request=_request(org))
    assert (ticket.raised_by, ticket.raised_token_name) == (None, "collector")


def _claim(org, amount, division=None):
    return Claim(division=division or org.workflow, amount=Decimal(amount), justification="Needed")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "complaint"}, "kind"),
        ({"priority": "P9"}, "priority"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": ""}, "description"),
        ({"kind": "resource_conflict"}, "resource"),
        ({"resource": Resource("GPU", "h", Decimal(5))}, "resource"),
        ({"kind": "resource_conflict", "resource": Resource("GPU", "h", Decimal(-1))}, "resource"),
        ({"kind": "resource_conflict", "resource": Resource("GPU", "h", Decimal(5)), "claims": "over"}, "claims"),
        ({"kind": "resource_conflict", "resource": Resource("GPU", "h", Decimal(5)), "claims": "zero"}, "claims"),
        ({"kind": "resource_conflict", "resource": Resource("GPU", "h", Decimal(5)), "claims": "twice"}, "claims"),
        ({"divisions": "too many"}, "divisions"),
    ],
)
def test_bad_input_is_refused_before_the_database(org, changes, field):
    claims = {
        "over": [_claim(org, 6)],
        "zero": [_claim(org, 0)],
        "twice": [_claim(org, 1), _claim(org, 2)],
    }
    if "claims" in changes:
        changes["claims"] = claims[changes["claims"]]
    if changes.get("divisions") == "too many":
        changes["divisions"] = [org.workflow] * 21
    with pytest.raises(InvalidInput) as refused:
        escalation_raise(actor=org.core, request=_request(org, **changes))
    assert field in {error["field"] for error in refused.value.errors}
    assert not Escalation.objects.exists()
