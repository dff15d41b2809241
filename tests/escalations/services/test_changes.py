"""Editing a ticket, reassigning it within its level's pool, commenting."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escalations.models import Escalation, EscalationAssigneeEvent
from escalations.services.changes import comment_add, escalation_reassign, escalation_update
from escalations.services.transitions import escalation_transition
from novaops.errors import Conflict, Forbidden, InvalidInput
from tests.factories import AgentFactory


def _assignees(number):
    return {user.username for user in Escalation.objects.get(number=number).assignees.all()}


def test_a_new_priority_takes_its_deadlines_from_the_raise(org, raise_ticket):
    at = timezone.now() - timedelta(hours=2)
    ticket = raise_ticket(priority="P4", at=at)
    changed = escalation_update(
        number=ticket.number, actor=org.runtime_member, fields={"priority": "P1", "title": "Now urgent"}
    )
    assert (changed.priority, changed.title, changed.version) == ("P1", "Now urgent", ticket.version + 1)
    assert (changed.acknowledge_due_at, changed.resolve_due_at) == (at + timedelta(hours=1), at + timedelta(days=1))


def test_links_are_replaced(org, raise_ticket):
    first, second = AgentFactory(division=org.runtime), AgentFactory(division=org.runtime)
    ticket = raise_ticket()
    escalation_update(number=ticket.number, actor=org.core, fields={}, agents=[first])
    escalation_update(number=ticket.number, actor=org.core, fields={}, agents=[second])
    assert list(ticket.agents.all()) == [second]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"state": "closed"}, "state"),
        ({"level": 3}, "level"),
        ({"priority": "P0"}, "priority"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 20_001}, "description"),
    ],
)
def test_bad_edits_are_400(org, raise_ticket, fields, field):
    ticket = raise_ticket()
    with pytest.raises(InvalidInput) as refused:
        escalation_update(number=ticket.number, actor=org.core, fields=fields)
    assert [error["field"] for error in refused.value.errors] == [field]


def test_who_edits_and_when(org, raise_ticket):
    ticket = raise_ticket()
    with pytest.raises(Forbidden):
        escalation_update(number=ticket.number, actor=org.tools_member, fields={"title": "Mine now"})
    with pytest.raises(Conflict, match="changed since"):
        escalation_update(number=ticket.number, actor=org.core, fields={"title": "Late"}, version=ticket.version - 1)
    escalation_transition(number=ticket.number, name="escalate", actor=org.core)
    with pytest.raises(Conflict, match="changed since"):
        escalation_update(number=ticket.number, actor=org.core, fields={"title": "Stale"}, version=ticket.version)


def test_reassign_within_the_level_pool(org, raise_ticket):
    ticket = raise_ticket()
    # Level 1: the involved divisions' leads and members.
    escalation_reassign(number=ticket.number, actor=org.runtime_lead, user_ids=[org.runtime_member.pk])
    assert _assignees(ticket.number) == {"runtime-member"}
    removed = EscalationAssigneeEvent.objects.filter(escalation_id=ticket.pk, pgh_label="delete")
    assert {event.pgh_context["action"] for event in removed} == {"reassign"}
    with pytest.raises(InvalidInput, match="Level 1 of ESC-") as refused:
        escalation_reassign(number=ticket.number, actor=org.core, user_ids=[org.tools_member.pk, org.workflow_lead.pk])
    assert refused.value.errors == [{"index": 0, "field": "assignees", "message": "Not at this level."}]
    assert _assignees(ticket.number) == {"runtime-member"}


def test_reassign_at_level_two_stays_with_tier1_leads(org, raise_ticket):
    ticket = raise_ticket(kind="friction")
    escalation_reassign(number=ticket.number, actor=org.core, user_ids=[org.meridian.pk])
    assert _assignees(ticket.number) == {"meridian"}
    with pytest.raises(InvalidInput):
        escalation_reassign(number=ticket.number, actor=org.meridian, user_ids=[org.runtime_lead.pk])
    with pytest.raises(Forbidden):
        escalation_reassign(number=ticket.number, actor=org.runtime_member, user_ids=[org.core.pk])
    with pytest.raises(InvalidInput, match="at least one"):
        escalation_reassign(number=ticket.number, actor=org.core, user_ids=[])


def test_comments_by_people_and_their_divisions_token(org, raise_ticket, division_client):
    ticket = raise_ticket()
    by_token = comment_add(number=ticket.number, actor=division_client, body="Collector saw it too.")
    by_person = comment_add(number=ticket.number, actor=org.workflow_member, body="**Same** here.")
    assert (by_token.author, by_token.token_name) == (None, "collector")
    assert (by_person.author, by_person.token_name) == (org.workflow_member, "")
    for who in (org.tools_member, org.viewer):
        with pytest.raises(Forbidden):
            comment_add(number=ticket.number, actor=who, body="Drive-by.")
    for body in ("   ", "x" * 20_001):
        with pytest.raises(InvalidInput):
            comment_add(number=ticket.number, actor=org.core, body=body)


def test_a_token_comments_on_its_own_divisions_tickets_only(org, raise_ticket, division_client):
    elsewhere = raise_ticket(raised_division=org.workflow, divisions=[org.tools], by=org.workflow_member)
    with pytest.raises(Forbidden, match="division token"):
        comment_add(number=elsewhere.number, actor=division_client, body="Not ours.")


def test_a_comment_can_be_dated(org, raise_ticket):
    at = timezone.now() - timedelta(days=2)
    ticket = raise_ticket(at=at - timedelta(hours=1))
    assert comment_add(number=ticket.number, actor=org.core, body="Back then.", at=at).created_at == at
