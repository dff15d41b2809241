"""The kinds' outcomes: NovaOps' allocation proposal, deciding an allocation, the joint sign-off of a strategic
decision and its withdrawal, a friction resolution's follow-ups."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escalations.models import Escalation, SignOffEvent
from escalations.services.outcomes import (
    Allocation,
    allocation_decide,
    allocation_propose,
    claim_add,
    decision_write,
    follow_up_add,
    sign_off,
)
from escalations.services.raising import Claim
from escalations.services.transitions import escalation_transition
from novaops.errors import Conflict, Forbidden, InvalidInput

D = Decimal


@pytest.mark.parametrize(
    ("capacity", "claims", "proposal"),
    [
        # Everything fits: every claim in full.
        (D(100), [("P2", D(30)), ("P1", D(20))], [D(30), D(20)]),
        # P1 first in full, P2 shares the rest in proportion to what it asked (60:20 of 40), P3 gets nothing.
        (D(100), [("P3", D(10)), ("P2", D(60)), ("P1", D(60)), ("P2", D(20))], [D(0), D(30), D(60), D(10)]),
        # A tie at the top shares the capacity in proportion.
        (D(10), [("P1", D(30)), ("P1", D(10))], [D("7.5"), D("2.5")]),
        # Thousandths: 10 / 3 each, rounded down, the leftover thousandth to the largest remainder.
        (D(10), [("P1", D(5)), ("P1", D(5)), ("P1", D(5))], [D("3.334"), D("3.333"), D("3.333")]),
        # Nothing to share.
        (D(0), [("P1", D(5))], [D(0)]),
        ([D(5)][0], [], []),
    ],
)
def test_proposal_on_known_claims(capacity, claims, proposal):
    assert allocation_propose(capacity=capacity, claims=claims) == proposal


amounts = st.decimals(min_value=D("0.001"), max_value=D(10_000), places=3)


@given(
    capacity=st.decimals(min_value=D(0), max_value=D(50_000), places=3),
    claims=st.lists(st.tuples(st.sampled_from(["P1", "P2", "P3", "P4"]), amounts), max_size=12),
)
def test_proposal_properties(capacity, claims):
    proposal = allocation_propose(capacity=capacity, claims=claims)
    assert sum(proposal, D(0)) <= capacity
    assert all(D(0) <= share <= asked for share, (_, asked) in zip(proposal, claims, strict=True))
    assert all(share == share.quantize(D("0.001")) for share in proposal)
    # A lower priority gets something only when every higher one got all it asked.
    for share, (priority, _) in zip(proposal, claims, strict=True):
        if share > 0:
            assert all(
                other_share == asked
                for other_share, (other_priority, asked) in zip(proposal, claims, strict=True)
                if other_priority < priority
            )
    # Nothing is left unused while someone still wants it (within a thousandth per claim).
    wanted = sum((asked for _, asked in claims), D(0))
    assert sum(proposal, D(0)) >= min(capacity, wanted) - D("0.001") * len(claims)


@pytest.fixture
def conflict(org, raise_ticket):
    claims = [
        Claim(division=org.runtime, amount=D(60), justification="Training", priority="P1", gains="Speed"),
        Claim(division=org.workflow, amount=D(60), justification="Batch", priority="P2", gives="Night slots"),
    ]
    return raise_ticket(capacity=D(100), claims=claims)


def test_a_decided_allocation_is_stored_with_its_rationale(conflict, org):
    runtime, workflow = conflict.claims.order_by("priority")
    allocation_decide(
        number=conflict.number,
        actor=org.core,
        allocations=[Allocation(runtime.pk, D(60), "P1 first"), Allocation(workflow.pk, D(40), "The rest")],
        rationale="Runtime's training window first.",
    )
    assert [(claim.allocated, claim.rationale) for claim in conflict.claims.order_by("priority")] == [
        (D(60), "P1 first"),
        (D(40), "The rest"),
    ]
    assert Escalation.objects.get(pk=conflict.pk).decision == "Runtime's training window first."


@pytest.mark.parametrize(
    ("amounts", "field"),
    [((D(60), D(41)), "allocations"), ((D(61), D(0)), "amount"), ((D(-1), D(0)), "amount")],
)
def test_an_allocation_over_an_ask_or_the_capacity_is_refused(conflict, org, amounts, field):
    claims = list(conflict.claims.order_by("priority"))
    with pytest.raises(InvalidInput) as refused:
        allocation_decide(
            number=conflict.number,
            actor=org.core,
            allocations=[Allocation(claim.pk, amount) for claim, amount in zip(claims, amounts, strict=True)],
            rationale="",
        )
    assert refused.value.errors[0]["field"] == field
    assert not conflict.claims.filter(allocated__isnull=False).exists()


def test_only_responders_decide(conflict, org):
    claim = conflict.claims.first()
    with pytest.raises(Forbidden):
        allocation_decide(
            number=conflict.number, actor=org.runtime_member, allocations=[Allocation(claim.pk, D(1))], rationale=""
        )


def test_claims_within_the_capacity_one_per_division(conflict, org):
    claim_add(
        escalation=conflict,
        actor=org.core,
        claim=Claim(division=org.tools, amount=D(5), justification="Tests"),
    )
    with pytest.raises(Conflict, match="already has a claim"):
        claim_add(
            escalation=conflict, actor=org.core, claim=Claim(division=org.tools, amount=D(5), justification="Again")
        )
    with pytest.raises(InvalidInput):
        claim_add(
            escalation=conflict, actor=org.core, claim=Claim(division=org.tools, amount=D(101), justification="Too")
        )
    with pytest.raises(Forbidden):
        claim_add(
            escalation=conflict,
            actor=org.tools_member,
            claim=Claim(division=org.tools, amount=D(5), justification="Not involved"),
        )


def test_a_member_claims_only_for_their_own_division(conflict, org):
    with pytest.raises(Forbidden, match="for your own division"):
        claim_add(
            escalation=conflict,
            actor=org.runtime_member,
            claim=Claim(division=org.tools, amount=D(5), justification="On tools' behalf"),
        )


@pytest.fixture
def strategic(org, raise_ticket):
    return raise_ticket(kind=Escalation.Kind.STRATEGIC_ALIGNMENT)


def _resolve(ticket, actor):
    return escalation_transition(number=ticket.number, name="resolve", actor=actor)


def test_resolving_a_strategic_decision_needs_both_tier1_sign_offs(strategic, org):
    escalation_transition(number=strategic.number, name="start", actor=org.core)
    with pytest.raises(Conflict, match="needs a written decision"):
        _resolve(strategic, org.core)
    decision_write(number=strategic.number, actor=org.core, text="Workflow adopts the runtime's scheduler.")
    sign_off(number=strategic.number, actor=org.core)
    with pytest.raises(Conflict, match="must sign the decision off"):
        _resolve(strategic, org.core)
    with pytest.raises(Conflict, match="already signed"):
        sign_off(number=strategic.number, actor=org.core)
    sign_off(number=strategic.number, actor=org.meridian)
    assert _resolve(strategic, org.core).state == "resolved"


@pytest.mark.parametrize("who", ["runtime_lead", "workflow_lead", "runtime_member", "viewer"])
def test_only_a_tier1_lead_signs_off(strategic, org, who):
    decision_write(number=strategic.number, actor=org.core, text="Agreed.")
    with pytest.raises(Forbidden, match="Only the Tier 1 lead"):
        sign_off(number=strategic.number, actor=org.user(who))


def test_a_changed_decision_withdraws_the_sign_offs(strategic, org):
    decision_write(number=strategic.number, actor=org.core, text="Plan A.")
    sign_off(number=strategic.number, actor=org.core)
    sign_off(number=strategic.number, actor=org.meridian)
    decision_write(number=strategic.number, actor=org.core, text="Plan A. ")  # the same words: they stand
    assert strategic.sign_offs.count() == 2
    decision_write(number=strategic.number, actor=org.meridian, text="Plan B.")
    assert not strategic.sign_offs.exists()
    withdrawn = SignOffEvent.objects.filter(escalation_id=strategic.pk, pgh_label="delete")
    assert withdrawn.count() == 2
    assert {event.pgh_context["action"] for event in withdrawn} == {"sign-off withdrawn: the decision changed"}
    assert {event.pgh_context["user"] for event in withdrawn} == {org.meridian.pk}


def test_a_friction_resolution_note_and_follow_ups(org, raise_ticket):
    friction = raise_ticket(kind=Escalation.Kind.FRICTION)
    escalation_transition(number=friction.number, name="start", actor=org.meridian)
    decision_write(number=friction.number, actor=org.meridian, text="Agreed hand-off hours.")
    follow_up = follow_up_add(
        number=friction.number,
        actor=org.core,
        description="Publish the hand-off hours",
        owner=org.workflow_lead,
        due_on=date(2030, 1, 31),
    )
    assert (follow_up.owner, follow_up.done_at) == (org.workflow_lead, None)
    assert _resolve(friction, org.core).state == "resolved"
    with pytest.raises(Conflict, match="reopen it"):
        follow_up_add(
            number=friction.number, actor=org.core, description="Late", owner=org.core, due_on=date(2030, 1, 31)
        )


def test_a_follow_up_needs_a_description_that_fits(org, raise_ticket):
    friction = raise_ticket(kind=Escalation.Kind.FRICTION)
    for description in ("", "x" * 301):
        with pytest.raises(InvalidInput):
            follow_up_add(
                number=friction.number, actor=org.core, description=description, owner=org.core, due_on=date.today()
            )


def test_outcomes_belong_to_their_kind(conflict, strategic, org):
    with pytest.raises(Conflict, match="decided by its allocation"):
        decision_write(number=conflict.number, actor=org.core, text="Words")
    with pytest.raises(Conflict, match="Only a strategic alignment"):
        sign_off(number=conflict.number, actor=org.core)
    with pytest.raises(Conflict, match="not a friction resolution"):
        follow_up_add(number=strategic.number, actor=org.core, description="x", owner=org.core, due_on=date.today())
