"""The kind's section of a ticket page: a resource conflict's claims and allocation, a strategic alignment's decision
and sign-offs, a friction's resolution note and follow-up actions. Each builder returns template context; the forms
are offered only to those the policy lets act, and only while the ticket is active."""

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from agents.forms import bootstrap_form
from agents.models import Division
from escalations import selectors
from escalations.forms import AllocationForm, ClaimForm, DecisionForm, FollowUpForm
from escalations.models import Escalation
from escalations.policies import Viewer
from escalations.routing import level_assignees, level_pool
from escalations.services.outcomes import allocation_propose


def kind_section(escalation: Escalation, *, who: Viewer, involved: list[Division], bound: dict[str, Any]) -> dict:
    if escalation.kind == Escalation.Kind.RESOURCE_CONFLICT:
        return _resource(escalation, who=who, involved=involved, bound=bound)
    if escalation.kind == Escalation.Kind.STRATEGIC_ALIGNMENT:
        return _strategic(escalation, who=who, involved=involved, bound=bound)
    return _friction(escalation, who=who, involved=involved, bound=bound)


def allocation_form(escalation: Escalation, data: Any = None) -> AllocationForm:
    """The allocation form: each claim's amount pre-filled with what is decided, else NovaOps' proposal."""
    claims = list(escalation.claims.all())
    return AllocationForm(data, claims=claims, proposal=_proposal(escalation, claims), decision=escalation.decision)


def claim_form(escalation: Escalation, data: Any = None) -> ClaimForm:
    """A claim for a division involved that has none yet."""
    claimed = {claim.division_id for claim in escalation.claims.all()}
    divisions = [link.division for link in escalation.involved.all() if link.division_id not in claimed]
    return ClaimForm(data, divisions=divisions)


def follow_up_form(escalation: Escalation, data: Any = None) -> FollowUpForm:
    """Owners: the people of the divisions involved, their domains' Tier 1 leads, and the assignees."""
    division_ids = {link.division_id for link in escalation.involved.all()}
    domain_ids = selectors.involved_domain_ids(escalation)
    ids = set(level_pool(level=1, division_ids=division_ids, domain_ids=domain_ids).values_list("pk", flat=True))
    ids |= set(level_assignees(level=2, division_ids=division_ids, domain_ids=domain_ids).values_list("pk", flat=True))
    ids |= {user.pk for user in escalation.assignees.all()}
    people = list(get_user_model().objects.filter(pk__in=ids).order_by("username"))
    return FollowUpForm(data, people=people)


def _proposal(escalation: Escalation, claims: list) -> list[Decimal]:
    capacity = escalation.resource_capacity or Decimal(0)
    return allocation_propose(capacity=capacity, claims=[(claim.priority, claim.amount) for claim in claims])


def _resource(escalation: Escalation, *, who: Viewer, involved: list[Division], bound: dict[str, Any]) -> dict:
    claims = list(escalation.claims.all())
    proposal = _proposal(escalation, claims)
    allocated = [claim.allocated for claim in claims if claim.allocated is not None]
    context: dict[str, Any] = {
        "claims": list(zip(claims, proposal, strict=True)),
        "total_asked": sum((claim.amount for claim in claims), Decimal(0)),
        "total_allocated": sum(allocated, Decimal(0)) if allocated else None,
        "total_proposed": sum(proposal, Decimal(0)),
    }
    if not escalation.is_active:
        return context
    if claims and who.may("decide", escalation):
        context["allocation_form"] = bootstrap_form(bound.get("decide") or allocation_form(escalation))
    if who.may("claim", escalation):
        form = bound.get("claim") or claim_form(escalation)
        if len(form.fields["division"].choices) > 1:
            context["claim_form"] = bootstrap_form(form)
    return context


def _strategic(escalation: Escalation, *, who: Viewer, involved: list[Division], bound: dict[str, Any]) -> dict:
    signed = {sign_off.domain_id: sign_off for sign_off in escalation.sign_offs.all()}
    domains = {division.domain_id: division.domain for division in involved}
    can_sign = escalation.is_active and bool(escalation.decision.strip())
    sign_offs = [
        {
            "domain": domain,
            "sign_off": signed.get(domain_id),
            "may_sign": can_sign and domain_id in who.tier1_domain_ids and domain_id not in signed,
        }
        for domain_id, domain in sorted(domains.items(), key=lambda item: item[1].name)
    ]
    context: dict[str, Any] = {"sign_offs": sign_offs}
    if escalation.is_active and who.may("decide", escalation):
        context["decision_form"] = bootstrap_form(bound.get("decide") or _decision_form(escalation))
    return context


def _friction(escalation: Escalation, *, who: Viewer, involved: list[Division], bound: dict[str, Any]) -> dict:
    context: dict[str, Any] = {"follow_ups": list(escalation.follow_ups.all())}
    if escalation.is_active and who.may("decide", escalation):
        context["decision_form"] = bootstrap_form(bound.get("decide") or _decision_form(escalation))
    if escalation.is_active and who.may("follow_up", escalation):
        context["follow_up_form"] = bootstrap_form(bound.get("follow-up") or follow_up_form(escalation))
    return context


def _decision_form(escalation: Escalation) -> DecisionForm:
    return DecisionForm(kind=escalation.kind, initial={"text": escalation.decision})
