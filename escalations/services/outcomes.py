"""What each kind decides: a resource conflict's allocation, a strategic decision and its sign-offs, a friction
resolution note and its follow-up actions. All run under the ticket's row lock (transitions.locked), so a decision
and a transition, or two decisions, never interleave."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from escalations.constants import AMOUNT_PLACES, FOLLOW_UP_MAX, amount_text
from escalations.models import Escalation, FollowUp, ResourceClaim, SignOff
from escalations.policies import RESPONDER, may_raise_for
from escalations.selectors import involved_domain_ids, viewer
from escalations.services.locking import locked
from escalations.services.raising import Claim
from novaops.audit import audited
from novaops.errors import Conflict, Forbidden, InvalidInput

QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)


def allocation_propose(*, capacity: Decimal, claims: Sequence[tuple[str, Decimal]]) -> list[Decimal]:
    """NovaOps' proposal for (priority, amount asked) claims, in their order.

    Priorities are served in order (P1 first), each claim in full while the capacity lasts; the priority where it
    runs out shares what is left in proportion to what its claims asked; later priorities get nothing. Amounts are
    rounded down to the stored precision and the thousandths left over go to the largest remainders, so the total
    never exceeds the capacity and no claim gets more than it asked.
    """
    allocations = [Decimal(0)] * len(claims)
    remaining = capacity
    for priority in sorted({priority for priority, _ in claims}):
        members = [index for index, (claim_priority, _) in enumerate(claims) if claim_priority == priority]
        asked = sum((claims[index][1] for index in members), Decimal(0))
        if asked <= remaining:
            for index in members:
                allocations[index] = claims[index][1]
            remaining -= asked
            continue
        exact = {index: remaining * claims[index][1] / asked for index in members}
        for index in members:
            allocations[index] = exact[index].quantize(QUANTUM, rounding=ROUND_DOWN)
        leftover = remaining - sum((allocations[index] for index in members), Decimal(0))
        for index in sorted(members, key=lambda i: exact[i] - allocations[i], reverse=True):
            if leftover < QUANTUM:
                break
            if allocations[index] + QUANTUM <= claims[index][1]:
                allocations[index] += QUANTUM
                leftover -= QUANTUM
        break
    return allocations


@dataclass(frozen=True)
class Allocation:
    claim_id: int
    amount: Decimal
    rationale: str = ""


def claim_add(*, escalation: Escalation, actor: Any, claim: Claim, at: datetime | None = None) -> ResourceClaim:
    """Add a division's claim to a resource conflict (one per division, never more than the capacity)."""
    with transaction.atomic(), audited(actor, "claim", at=at):
        escalation = locked(number=escalation.number)
        _require(escalation, actor, "claim", kind=Escalation.Kind.RESOURCE_CONFLICT)
        # Assignees and Tier 1 leads record any division's claim; anyone else speaks for their own division only.
        if RESPONDER not in viewer(user=actor, escalation=escalation).relations and not may_raise_for(
            actor, claim.division.pk
        ):
            raise Forbidden(
                f"You can add a claim to {escalation.key} for your own division only, not for {claim.division.name}."
            )
        if claim.amount <= 0 or claim.amount > escalation.resource_capacity:
            capacity = amount_text(escalation.resource_capacity)
            raise InvalidInput(
                f"A claim asks for more than nothing and at most the capacity ({capacity} {escalation.resource_unit}).",
                errors=[{"field": "amount", "message": f"Between 0 and {capacity}."}],
            )
        if escalation.claims.filter(division=claim.division).exists():
            raise Conflict(f"{claim.division.name} already has a claim on {escalation.key}.")
        row = claim.row(escalation)
        row.save()
        _touch(escalation)
    return row


def allocation_decide(
    *,
    number: int,
    actor: Any,
    allocations: Sequence[Allocation],
    rationale: str,
    version: int | None = None,
    at: datetime | None = None,
) -> Escalation:
    """Set the allotment of claims (and the decision's rationale). Checked under the ticket's lock against the
    claims as they are now: no claim above what it asked, the total never above the capacity (two leads deciding
    at once run one after the other, and the second is checked against the first's numbers)."""
    with transaction.atomic(), audited(actor, "decide", at=at):
        escalation = locked(number=number, version=version)
        _require(escalation, actor, "decide", kind=Escalation.Kind.RESOURCE_CONFLICT)
        claims = {claim.pk: claim for claim in ResourceClaim.objects.filter(escalation=escalation)}
        errors = _allocation_errors(allocations, claims)
        if errors:
            raise InvalidInput("The allocation cannot be applied.", errors=errors)
        for allocation in allocations:
            claim = claims[allocation.claim_id]
            claim.allocated, claim.rationale = allocation.amount, allocation.rationale
        total = sum((claim.allocated or Decimal(0) for claim in claims.values()), Decimal(0))
        if total > escalation.resource_capacity:
            capacity, unit = amount_text(escalation.resource_capacity), escalation.resource_unit
            raise InvalidInput(
                f"The allocation totals {amount_text(total)} {unit}, over the capacity of {capacity} {unit}.",
                errors=[{"field": "allocations", "message": f"At most {capacity} in total."}],
            )
        ResourceClaim.objects.bulk_update(claims.values(), ["allocated", "rationale"])
        escalation.decision = rationale
        _touch(escalation)
    return escalation


def _allocation_errors(allocations: Sequence[Allocation], claims: Mapping[int, ResourceClaim]) -> list[dict]:
    errors = []
    for index, allocation in enumerate(allocations):
        claim = claims.get(allocation.claim_id)
        if claim is None:
            errors.append({"index": index, "field": "claim", "message": "No such claim on this escalation."})
        elif allocation.amount < 0 or allocation.amount > claim.amount:
            errors.append({"index": index, "field": "amount", "message": f"Between 0 and the {claim.amount} it asked."})
    return errors


def decision_write(
    *, number: int, actor: Any, text: str, version: int | None = None, at: datetime | None = None
) -> Escalation:
    """Write the decision (strategic alignment) or resolution note (friction). A changed strategic decision
    withdraws every sign-off given to the old text (the deletions are in the trail)."""
    with transaction.atomic(), audited(actor, "decision", at=at):
        escalation = locked(number=number, version=version)
        _require(escalation, actor, "decide")
        if escalation.kind == Escalation.Kind.RESOURCE_CONFLICT:
            raise Conflict("A resource conflict is decided by its allocation; use the allocation form.")
        # Only when there is a sign-off to withdraw: the withdrawal's nested context relabels what follows it.
        changed = text.strip() != escalation.decision.strip() and escalation.sign_offs.exists()
        escalation.decision = text
        _touch(escalation)
        if changed:
            # Last: from here on the context names the withdrawal (pghistory keeps the metadata a nested context
            # adds), and the decision's own event above keeps "decision".
            with audited(actor, "sign-off withdrawn: the decision changed", at=at):
                SignOff.objects.filter(escalation=escalation).delete()
    return escalation


def sign_off(*, number: int, actor: Any, version: int | None = None, at: datetime | None = None) -> list[SignOff]:
    """The actor, Tier 1 lead of one or more involved domains, agrees to the current decision for them."""
    with transaction.atomic(), audited(actor, "sign off", at=at):
        escalation = locked(number=number, version=version)
        if escalation.kind != Escalation.Kind.STRATEGIC_ALIGNMENT:
            kind = escalation.get_kind_display().lower()
            raise Conflict(f"Only a strategic alignment is signed off; {escalation.key} is a {kind}.")
        who = viewer(user=actor, escalation=escalation)
        domains = who.tier1_domain_ids & involved_domain_ids(escalation)
        if not domains:
            raise Forbidden(f"Only the Tier 1 lead of a domain involved in {escalation.key} can sign it off.")
        if not escalation.is_active:
            raise Conflict(f"{escalation.key} is {escalation.get_state_display().lower()}; sign-offs are closed.")
        if not escalation.decision.strip():
            raise Conflict(f"{escalation.key} has no written decision to sign off yet.")
        signed = set(escalation.sign_offs.values_list("domain_id", flat=True))
        rows = [
            SignOff.objects.create(escalation=escalation, domain_id=domain, user=actor, signed_at=at or timezone.now())
            for domain in domains - signed
        ]
        if not rows:
            raise Conflict(f"You have already signed {escalation.key} off.")
        _touch(escalation)
    return rows


def follow_up_add(
    *, number: int, actor: Any, description: str, owner: Any, due_on: date, at: datetime | None = None
) -> FollowUp:
    """A follow-up action of a friction resolution, for the next sync's action items."""
    description = description.strip()
    if not description or len(description) > FOLLOW_UP_MAX:
        raise InvalidInput(
            f"A follow-up says what is to be done, in at most {FOLLOW_UP_MAX} characters.",
            errors=[{"field": "description", "message": f"Between 1 and {FOLLOW_UP_MAX} characters."}],
        )
    with transaction.atomic(), audited(actor, "follow-up", at=at):
        escalation = locked(number=number)
        _require(escalation, actor, "follow_up", kind=Escalation.Kind.FRICTION)
        row = FollowUp.objects.create(escalation=escalation, description=description, owner=owner, due_on=due_on)
        _touch(escalation)
    return row


def resolution_missing(escalation: Escalation, *, domain_ids: set[int]) -> str:
    """What the kind still needs before the ticket can be resolved, in words; "" when nothing."""
    if escalation.kind == Escalation.Kind.RESOURCE_CONFLICT:
        claims = list(escalation.claims.all())
        if not claims:
            return "a resource conflict needs at least one claim and a decided allocation."
        if any(claim.allocated is None for claim in claims):
            return "every claim needs its allocation decided."
        return ""
    if not escalation.decision.strip():
        noun = "a written decision" if escalation.kind == Escalation.Kind.STRATEGIC_ALIGNMENT else "a resolution note"
        return f"it needs {noun}."
    if escalation.kind == Escalation.Kind.STRATEGIC_ALIGNMENT:
        signed = set(escalation.sign_offs.values_list("domain_id", flat=True))
        if domain_ids - signed:
            return "the Tier 1 lead of every domain involved must sign the decision off."
    return ""


def _require(escalation: Escalation, actor: Any, action: str, *, kind: str | None = None) -> None:
    who = viewer(user=actor, escalation=escalation)
    if not who.may(action, escalation):
        raise Forbidden(who.refusal(action, escalation))
    if kind is not None and escalation.kind != kind:
        actual, wanted = escalation.get_kind_display().lower(), Escalation.Kind(kind).label.lower()
        raise Conflict(f"{escalation.key} is a {actual}, not a {wanted}.")
    if not escalation.is_active:
        raise Conflict(
            f"{escalation.key} is {escalation.get_state_display().lower()}; reopen it to change its outcome."
        )


def _touch(escalation: Escalation) -> None:
    escalation.version += 1
    escalation.save(update_fields=["version", "decision", "updated_at"])
