"""Every action of the ticket page (escalations/views/actions.py): POST /escalations/<n>/<action>/ calls its one
service; success and refusals are messages on the ticket page shown again (403, 409 and a stale version included),
an invalid form is the page again with its errors (400), never a 500."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from escalations.models import Comment, Escalation, FollowUp, SignOff
from escalations.services.outcomes import decision_write
from escalations.services.raising import Claim
from escalations.services.transitions import escalation_transition


def _act(ticket: Escalation, action: str) -> str:
    return reverse("escalations:act", args=[ticket.number, action])


def _detail(ticket: Escalation) -> str:
    return reverse("escalations:detail", args=[ticket.number])


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _reload(ticket: Escalation) -> Escalation:
    return Escalation.objects.get(pk=ticket.pk)


def test_a_lead_acknowledges_from_the_page(page_as, raise_ticket):
    ticket = raise_ticket()
    client = page_as("runtime-lead")

    response = client.post(_act(ticket, "acknowledge"), {"version": ticket.version})

    assertRedirects(response, _detail(ticket), fetch_redirect_response=False)
    assert _reload(ticket).state == "acknowledged"
    page = client.get(_detail(ticket))
    assertContains(page, f"{ticket.key} acknowledged.")
    assertContains(page, "<del>Open</del> → <ins>Acknowledged</ins>", html=False)


def test_escalating_says_where_it_went(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("runtime-member").post(_act(ticket, "escalate"), {"version": ticket.version})

    assert _reload(ticket).level == 2
    assert _messages(response) == [f"{ticket.key} escalated to level 2; its new assignees are told by email."]


def test_a_refused_action_shows_the_services_message(page_as, raise_ticket):
    ticket = raise_ticket()
    client = page_as("viewer")

    response = client.post(_act(ticket, "acknowledge"), {"version": ticket.version})

    assertContains(
        response, f"You cannot acknowledge {ticket.key}: only its assignees or a Tier 1 lead can.", status_code=403
    )
    assertContains(response, 'class="alert alert-danger"', status_code=403)
    assert _reload(ticket).state == "open"


def test_a_wrong_state_shows_the_conflict(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("runtime-lead").post(_act(ticket, "resolve"), {"version": ticket.version})

    assertContains(response, f"{ticket.key} cannot be resolved: it is open.", status_code=409)


def test_a_stale_version_shows_the_conflict_message(page_as, raise_ticket, org):
    ticket = raise_ticket()
    seen = ticket.version
    escalation_transition(number=ticket.number, name="acknowledge", actor=org.workflow_lead)

    response = page_as("runtime-lead").post(_act(ticket, "start"), {"version": seen})

    assertContains(
        response, f"{ticket.key} changed since you loaded it: it is now acknowledged at level 1.", status_code=409
    )
    assert _reload(ticket).state == "acknowledged"


def test_resolving_needs_the_kinds_outcome(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="friction")
    escalation_transition(number=ticket.number, name="start", actor=org.core)

    response = page_as("core").post(_act(ticket, "resolve"), {"version": _reload(ticket).version})

    assertContains(response, "cannot be resolved yet: it needs a resolution note.", status_code=409)


def test_unknown_actions_are_404_and_get_is_405(page_as, raise_ticket):
    ticket = raise_ticket()
    client = page_as("core")

    assert client.post(_act(ticket, "delete"), {}).status_code == 404
    assert client.get(_act(ticket, "acknowledge")).status_code == 405
    assert client.post(reverse("escalations:act", args=[999, "acknowledge"])).status_code == 404


def test_anonymous_posts_go_to_sign_in(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("anonymous").post(_act(ticket, "acknowledge"), {})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- comments ------------------------------------------------------------------------------------------------------


def test_commenting(page_as, raise_ticket, org):
    ticket = raise_ticket()

    response = page_as("workflow-member").post(_act(ticket, "comment"), {"body": "We can wait **two** days."})

    assertRedirects(response, _detail(ticket), fetch_redirect_response=False)
    comment = Comment.objects.get()
    assert (comment.author, comment.body) == (org.workflow_member, "We can wait **two** days.")


def test_an_empty_comment_is_a_field_error(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("workflow-member").post(_act(ticket, "comment"), {"body": ""})

    assert response.status_code == 400
    assertContains(response, 'id="id_body_error"', status_code=400)
    assertContains(response, "Write something to comment.", status_code=400)
    assert Comment.objects.count() == 0


def test_a_comment_from_outside_is_refused_with_its_reason(page_as, raise_ticket):
    ticket = raise_ticket()

    response = page_as("tools-member").post(_act(ticket, "comment"), {"body": "Me too"})

    assertContains(response, f"You cannot comment on {ticket.key}", status_code=403)
    assert Comment.objects.count() == 0


# --- reassign ------------------------------------------------------------------------------------------------------


def test_a_lead_reassigns_within_the_level(page_as, raise_ticket, org):
    ticket = raise_ticket()

    page_as("runtime-lead").post(
        _act(ticket, "reassign"), {"assignees": [org.runtime_member.pk], "version": ticket.version}
    )

    assert [user.username for user in _reload(ticket).assignees.all()] == ["runtime-member"]


def test_reassigning_outside_the_pool_is_a_field_error(page_as, raise_ticket, org):
    ticket = raise_ticket()

    response = page_as("runtime-lead").post(
        _act(ticket, "reassign"), {"assignees": [org.tools_member.pk], "version": ticket.version}
    )

    assert response.status_code == 400
    assertContains(response, "Select a valid choice", status_code=400)


# --- outcomes ------------------------------------------------------------------------------------------------------


def _conflict(raise_ticket, org) -> Escalation:
    claims = [
        Claim(division=org.runtime, amount=Decimal(60), justification="Retrain", priority="P1"),
        Claim(division=org.workflow, amount=Decimal(80), justification="Backfill", priority="P2"),
    ]
    return raise_ticket(claims=claims, capacity=Decimal(100))


def _allocation(ticket: Escalation, amounts: dict[str, str], **extra) -> dict:
    data = {"version": _reload(ticket).version, "rationale": "Retrain first.", **extra}
    for claim in ticket.claims.all():
        data[f"amount_{claim.pk}"] = amounts[claim.division.slug]
        data[f"rationale_{claim.pk}"] = f"for {claim.division.slug}"
    return data


def test_a_lead_decides_the_allocation(page_as, raise_ticket, org):
    ticket = _conflict(raise_ticket, org)
    amounts = {"novacore-runtime": "60", "workflow-engineering": "40"}

    response = page_as("core").post(_act(ticket, "decide"), _allocation(ticket, amounts))

    assert _messages(response) == [f"Allocation of {ticket.key} saved."]
    allocated = {claim.division.slug: claim.allocated for claim in ticket.claims.all()}
    assert allocated == {"novacore-runtime": Decimal(60), "workflow-engineering": Decimal(40)}
    assert _reload(ticket).decision == "Retrain first."


def test_an_allocation_over_capacity_is_refused_with_its_reason(page_as, raise_ticket, org):
    ticket = _conflict(raise_ticket, org)
    amounts = {"novacore-runtime": "60", "workflow-engineering": "80"}

    response = page_as("core").post(_act(ticket, "decide"), _allocation(ticket, amounts))

    assertContains(response, "The allocation totals 140 h, over the capacity of 100 h.", status_code=400)
    assert {claim.allocated for claim in ticket.claims.all()} == {None}


def test_an_allocation_above_a_claim_is_a_field_error(page_as, raise_ticket, org):
    ticket = _conflict(raise_ticket, org)
    amounts = {"novacore-runtime": "61", "workflow-engineering": "0"}

    response = page_as("core").post(_act(ticket, "decide"), _allocation(ticket, amounts))

    assert response.status_code == 400
    assertContains(response, "The allocation was not saved", status_code=400)
    assertContains(response, "less than or equal to 60", status_code=400)


def test_adding_a_claim(page_as, raise_ticket, org):
    ticket = raise_ticket()
    data = {"division": "workflow-engineering", "amount": "25", "priority": "P2", "justification": "Backfill"}

    response = page_as("workflow-member").post(_act(ticket, "claim"), data)

    assert _messages(response) == ["Claim of Workflow Engineering added."]
    assert ticket.claims.get().amount == Decimal(25)


def test_a_strategic_decision_and_its_sign_offs(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="strategic_alignment")

    page_as("core").post(_act(ticket, "decide"), {"text": "Adopt the scheduler.", "version": ticket.version})
    response = page_as("core").post(_act(ticket, "sign-off"), {"version": _reload(ticket).version})

    assert _reload(ticket).decision == "Adopt the scheduler."
    assert _messages(response) == [f"You signed {ticket.key}'s decision off for NovaOps."]
    assert SignOff.objects.filter(escalation=ticket).count() == 1


def test_a_sign_off_by_someone_else_is_refused(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="strategic_alignment")
    decision_write(number=ticket.number, actor=org.core, text="Adopt the scheduler.")

    response = page_as("runtime-lead").post(_act(ticket, "sign-off"), {})

    assertContains(
        response, f"Only the Tier 1 lead of a domain involved in {ticket.key} can sign it off.", status_code=403
    )


def test_a_friction_follow_up(page_as, raise_ticket, org):
    ticket = raise_ticket(kind="friction")
    data = {"description": "Share the on-call rota", "owner": org.runtime_member.pk, "due_on": "2030-01-15"}

    page_as("core").post(_act(ticket, "follow-up"), data)

    follow_up = FollowUp.objects.get()
    assert (follow_up.owner, str(follow_up.due_on)) == (org.runtime_member, "2030-01-15")


@pytest.mark.parametrize(
    ("data", "message"),
    [({"description": "", "owner": "", "due_on": "soon"}, "Enter a valid date.")],
)
def test_a_bad_follow_up_is_a_field_error(page_as, raise_ticket, org, data, message):
    ticket = raise_ticket(kind="friction")

    response = page_as("core").post(_act(ticket, "follow-up"), data)

    assert response.status_code == 400
    assertContains(response, message, status_code=400)
    assert FollowUp.objects.count() == 0
