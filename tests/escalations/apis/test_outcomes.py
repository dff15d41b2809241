"""Outcomes (escalations/apis/outcomes.py): claims, NovaOps' proposal and the decided allocation, a strategic
decision with its sign-offs (withdrawn when the text changes), friction follow-ups, reassignment."""

from decimal import Decimal

import pytest

from escalations.models import Escalation, FollowUp, ResourceClaim
from escalations.services.raising import Claim
from tests.escalations.apis import url
from tests.helpers import assert_problem


@pytest.fixture
def conflict(raise_ticket, org):
    """A resource conflict over 100 h: runtime asks 80 (P1), workflow 60 (P2)."""
    return raise_ticket(
        "resource_conflict",
        claims=[
            Claim(division=org.runtime, amount=Decimal(80), justification="Release.", priority="P1"),
            Claim(division=org.workflow, amount=Decimal(60), justification="Tuning.", priority="P2"),
        ],
    )


def test_an_involved_division_adds_a_claim(api_of, raise_ticket, org):
    ticket = raise_ticket("resource_conflict", divisions=[org.workflow, org.tools])
    claim = {"division": "tool-ecosystem", "amount": "25.5", "justification": "Eval runs.", "gains": "Faster evals"}

    response = api_of("tools_member").post(url("escalation-claims", number=ticket.number), claim, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["division"]["slug"], response.json()["amount"]) == ("tool-ecosystem", "25.500")
    over = api_of("tools_lead").post(
        url("escalation-claims", number=ticket.number), {**claim, "amount": "101"}, format="json"
    )
    assert_problem(over, 400)
    again = api_of("tools_member").post(url("escalation-claims", number=ticket.number), claim, format="json")
    assert_problem(again, 409, f"Tool Ecosystem already has a claim on ESC-{ticket.number}.")
    assert_problem(api_of("viewer").post(url("escalation-claims", number=ticket.number), claim, format="json"), 403)


def test_a_claim_on_another_kind_is_a_409(api_of, raise_ticket):
    ticket = raise_ticket("friction")
    claim = {"division": "novacore-runtime", "amount": "1", "justification": "x"}

    assert_problem(api_of("core").post(url("escalation-claims", number=ticket.number), claim, format="json"), 409)


def test_the_proposal_serves_priorities_in_order(api_of, conflict):
    body = api_of("viewer").get(url("escalation-allocation", number=conflict.number)).json()

    assert [(item["claim"]["division"]["slug"], item["proposed"]) for item in body["claims"]] == [
        ("novacore-runtime", "80.000"),
        ("workflow-engineering", "20.000"),
    ]
    assert (body["total"], body["resource"]["capacity"]) == ("100.000", "100.000")


def test_another_kind_has_no_proposal(api_of, raise_ticket):
    ticket = raise_ticket("friction")

    assert_problem(
        api_of("viewer").get(url("escalation-allocation", number=ticket.number)),
        404,
        f"ESC-{ticket.number} is not a resource conflict: it has no allocation.",
    )


def test_a_lead_decides_the_allocation_and_resolves(api_of, conflict):
    claims = {claim.division.slug: claim.pk for claim in ResourceClaim.objects.filter(escalation=conflict)}
    decision = {
        "allocations": [
            {"claim": claims["novacore-runtime"], "amount": "70", "rationale": "Release first."},
            {"claim": claims["workflow-engineering"], "amount": "30"},
        ],
        "rationale": "Release first, tuning after.",
    }
    lead = api_of("runtime_lead")

    response = lead.post(url("escalation-allocation", number=conflict.number), decision, format="json")

    assert response.status_code == 200, response.content
    assert [claim["allocated"] for claim in response.json()["claims"]] == ["70.000", "30.000"]
    assert response.json()["decision"] == "Release first, tuning after."
    lead.post(url("escalation-start", number=conflict.number), format="json")
    assert lead.post(url("escalation-resolve", number=conflict.number), format="json").json()["state"] == "resolved"


@pytest.mark.parametrize(
    ("amounts", "status"),
    [
        (("80", "30"), 400),  # 110 over the capacity of 100
        (("81", "0"), 400),  # more than the claim asked
        (("-1", "0"), 400),
        (("NaN", "0"), 400),
    ],
)
def test_an_allocation_over_the_limits_is_refused_whole(api_of, conflict, amounts, status):
    claims = list(ResourceClaim.objects.filter(escalation=conflict).order_by("priority"))
    allocations = [{"claim": claim.pk, "amount": amount} for claim, amount in zip(claims, amounts, strict=True)]

    response = api_of("core").post(
        url("escalation-allocation", number=conflict.number),
        {"allocations": allocations, "rationale": "Try."},
        format="json",
    )

    assert_problem(response, status)
    assert not ResourceClaim.objects.filter(escalation=conflict, allocated__isnull=False).exists()


def test_an_allocation_naming_another_tickets_claim_is_a_400(api_of, conflict):
    response = api_of("core").post(
        url("escalation-allocation", number=conflict.number),
        {"allocations": [{"claim": 2_000_000, "amount": "1"}], "rationale": "Try."},
        format="json",
    )

    body = assert_problem(response, 400)
    assert body["errors"] == [{"index": 0, "field": "claim", "message": "No such claim on this escalation."}]


def test_a_strategic_decision_is_signed_off_and_withdrawn_when_it_changes(api_of, raise_ticket, org):
    ticket = raise_ticket("strategic_alignment")  # NovaOps (runtime) and OrchOps (workflow)
    core, meridian = api_of("core"), api_of("meridian")
    decision = url("escalation-decision", number=ticket.number)
    sign_off = url("escalation-sign-off", number=ticket.number)

    assert_problem(
        core.post(sign_off, format="json"), 409, f"ESC-{ticket.number} has no written decision to sign off yet."
    )
    core.post(decision, {"text": "Share the planner."}, format="json")
    assert core.post(sign_off, format="json").status_code == 200
    body = meridian.post(sign_off, {"version": Escalation.objects.get(pk=ticket.pk).version}, format="json").json()
    assert {item["domain"] for item in body["sign_offs"]} == {"novaops", "orchops"}
    assert_problem(api_of("runtime_lead").post(sign_off, format="json"), 403)

    changed = core.post(decision, {"text": "Share the planner from April."}, format="json").json()

    assert changed["sign_offs"] == []
    assert "Sign-off removed" in {change["what"] for entry in changed["timeline"] for change in entry["changes"]}


def test_a_resource_conflict_is_not_decided_in_words(api_of, conflict):
    assert_problem(
        api_of("core").post(url("escalation-decision", number=conflict.number), {"text": "x"}, format="json"), 409
    )


def test_a_friction_gets_follow_ups(api_of, raise_ticket, org):
    ticket = raise_ticket("friction")
    action = {"description": "Add a retry to handoffs", "owner": "workflow-lead", "due_on": "2030-01-15"}

    response = api_of("core").post(url("escalation-follow-ups", number=ticket.number), action, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["owner"]["username"], response.json()["due_on"]) == ("workflow-lead", "2030-01-15")
    unknown = api_of("core").post(
        url("escalation-follow-ups", number=ticket.number), {**action, "owner": "nobody"}, format="json"
    )
    assert {"field": "owner", "message": "No person with username 'nobody'."} in assert_problem(unknown, 400)["errors"]
    bad_date = api_of("core").post(
        url("escalation-follow-ups", number=ticket.number), {**action, "due_on": "soon"}, format="json"
    )
    assert_problem(bad_date, 400)
    assert_problem(
        api_of("runtime_member").post(url("escalation-follow-ups", number=ticket.number), action, format="json"), 403
    )
    assert FollowUp.objects.count() == 1


def test_a_lead_reassigns_within_the_level(api_of, raise_ticket):
    ticket = raise_ticket("friction")  # level 2: core and meridian
    assignees = url("escalation-assignees", number=ticket.number)

    response = api_of("core").post(assignees, {"assignees": ["meridian"]}, format="json")

    assert response.status_code == 200, response.content
    assert [person["username"] for person in response.json()["assignees"]] == ["meridian"]
    outside = api_of("core").post(assignees, {"assignees": ["meridian", "runtime-lead"]}, format="json")
    assert assert_problem(outside, 400)["errors"] == [
        {"index": 1, "field": "assignees", "message": "Not at this level."}
    ]
    unknown = api_of("core").post(assignees, {"assignees": ["nobody"]}, format="json")
    assert assert_problem(unknown, 400)["errors"][0]["field"] == "assignees"
    assert_problem(api_of("runtime_member").post(assignees, {"assignees": ["core"]}, format="json"), 403)
