"""Each person's relations to a ticket, what they allow, and the words of a refusal."""

import pytest
from django.contrib.auth.models import AnonymousUser

from escalations.policies import CLIENT, INVOLVED, RAISER, RESPONDER, RULES, may_raise_for
from escalations.selectors import available_transitions, escalation_get, viewer
from tests.factories import UserFactory

# The ticket: raised by runtime-member for runtime, involving workflow, at level 1 (the two division leads).
RELATIONS = {
    "core": {RESPONDER},
    "meridian": {RESPONDER},
    "runtime_lead": {RESPONDER, RAISER, INVOLVED},
    "workflow_lead": {RESPONDER, INVOLVED},
    "tools_lead": set(),
    "runtime_member": {RAISER, INVOLVED},
    "workflow_member": {INVOLVED},
    "tools_member": set(),
    "viewer": set(),
    "token": {CLIENT},
}


@pytest.fixture
def ticket(raise_ticket):
    return escalation_get(number=raise_ticket().number)


@pytest.mark.parametrize(("who", "relations"), RELATIONS.items())
def test_relations(ticket, actor, org, who, relations):
    person = actor(who) if who != "workflow_member" else org.workflow_member
    assert viewer(user=person, escalation=ticket).relations == relations


@pytest.mark.parametrize("who", list(RELATIONS))
def test_what_each_may_do(ticket, actor, org, who):
    person = actor(who) if who != "workflow_member" else org.workflow_member
    allowed = {action for action, relations in RULES.items() if relations & RELATIONS[who]}
    if who == "token":
        allowed = {"comment"}
    assert {action for action in RULES if viewer(user=person, escalation=ticket).may(action, ticket)} == allowed


def test_tier1_domains(ticket, org):
    novaops, orchops = org.runtime.domain_id, org.workflow.domain_id
    assert viewer(user=org.core, escalation=ticket).tier1_domain_ids == {novaops}
    assert viewer(user=org.meridian, escalation=ticket).tier1_domain_ids == {orchops}
    assert viewer(user=org.runtime_lead, escalation=ticket).tier1_domain_ids == set()


def test_nobody_without_a_role_is_anything(ticket, db):
    for user in (AnonymousUser(), UserFactory(username="norole")):
        assert viewer(user=user, escalation=ticket).relations == set()


def test_a_token_raised_ticket_gives_no_raiser_to_someone_without_an_account(org, raise_ticket, division_client):
    ticket = escalation_get(number=raise_ticket(by=division_client).number)
    assert viewer(user=AnonymousUser(), escalation=ticket).relations == set()
    assert viewer(user=org.runtime_member, escalation=ticket).relations == {RAISER, INVOLVED}


def test_refusals_name_who_may(ticket, org, division_client):
    outsider = viewer(user=org.tools_member, escalation=ticket)
    key = ticket.key
    assert outsider.refusal("acknowledge", ticket) == (
        f"You cannot acknowledge {key}: only its assignees or a Tier 1 lead can."
    )
    assert outsider.refusal("close", ticket) == (
        f"You cannot close {key}: only the raising division, its assignees or a Tier 1 lead can."
    )
    assert outsider.refusal("comment", ticket).endswith(
        "only the divisions involved, the raising division, its assignees or a Tier 1 lead can."
    )
    assert "sign in as a person" in viewer(user=division_client, escalation=ticket).refusal("escalate", ticket)


def test_the_buttons_a_viewer_sees(ticket, org, division_client):
    assert available_transitions(ticket, user=org.runtime_lead) == ["acknowledge", "start", "escalate"]
    assert available_transitions(ticket, user=org.runtime_member) == ["escalate"]
    assert available_transitions(ticket, user=org.viewer) == []
    assert available_transitions(ticket, user=division_client) == []


def test_may_raise_for(org, division_client):
    runtime, workflow = org.runtime.pk, org.workflow.pk
    assert may_raise_for(org.runtime_member, runtime) and not may_raise_for(org.runtime_member, workflow)
    assert may_raise_for(org.workflow_lead, workflow) and not may_raise_for(org.workflow_lead, runtime)
    assert may_raise_for(org.core, workflow) and may_raise_for(org.meridian, runtime)
    assert not may_raise_for(org.viewer, runtime) and not may_raise_for(AnonymousUser(), runtime)
    assert may_raise_for(division_client, runtime) and not may_raise_for(division_client, workflow)
