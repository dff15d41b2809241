"""Every action of the ticket page: POST /escalations/<number>/<action>/, one service per action.

The transitions send the ticket `version` the page showed, so a click on a page someone else changed meanwhile is
refused with what happened (409) rather than applied to a state its author never saw. A refusal (403, 409, a 400 the
service found) shows the ticket page again, with the reason as a message and the refusal's status; an invalid form
re-renders the page with its errors (400). A done action redirects to the ticket page with a message.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from escalations.constants import TRANSITIONS
from escalations.forms import CommentForm, DecisionForm
from escalations.models import Escalation
from escalations.services.changes import comment_add, escalation_reassign
from escalations.services.outcomes import Allocation, allocation_decide, claim_add, decision_write, follow_up_add
from escalations.services.outcomes import sign_off as sign_off_service
from escalations.services.raising import Claim
from escalations.services.transitions import PAST, escalation_transition
from escalations.views.kinds import allocation_form, claim_form, follow_up_form
from escalations.views.tickets import reassign_form, ticket_context, ticket_or_404
from novaops.decorators import person_required
from novaops.errors import ApplicationError


class Invalid(Exception):
    """A form of the page did not validate: the page is shown again with it (under `name`) and its errors."""

    def __init__(self, name: str, form: Any) -> None:
        super().__init__(name)
        self.name = name
        self.form = form


@require_POST
@person_required
def act(request: HttpRequest, number: int, action: str) -> HttpResponse:
    escalation = ticket_or_404(number)
    handler = _handler(action)
    if handler is None:
        raise Http404(f"No action {action} on escalations.")
    try:
        done = handler(request, escalation)
    except Invalid as invalid:
        context = ticket_context(request, escalation, bound={invalid.name: invalid.form})
        context["invalid_action"] = invalid.name
        return render(request, "escalations/detail.html", context, status=400)
    except ApplicationError as exc:
        # The page again with the reason, under the refusal's own status (403, 409, 400), not a redirect: a form
        # that was refused answers 4xx like any invalid form. Read afresh: someone else may have moved the ticket.
        messages.error(request, _refusal(exc))
        return render(
            request, "escalations/detail.html", ticket_context(request, ticket_or_404(number)), status=exc.status
        )
    else:
        messages.success(request, done)
    return redirect("escalations:detail", number=number)


def _refusal(exc: ApplicationError) -> str:
    details = [error["message"] for error in exc.errors if error.get("message")]
    return " ".join([exc.message, *details]) if details and len(details) <= 3 else exc.message


def _version(request: HttpRequest) -> int | None:
    """The version the page showed; a page that sent none (or garbage) is checked against nothing."""
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _handler(action: str) -> Callable[[HttpRequest, Escalation], str] | None:
    if action in TRANSITIONS:
        return lambda request, escalation: _transition(request, escalation, action)
    return HANDLERS.get(action)


def _transition(request: HttpRequest, escalation: Escalation, name: str) -> str:
    ticket = escalation_transition(number=escalation.number, name=name, actor=request.user, version=_version(request))
    if name == "escalate":
        return f"{ticket.key} escalated to level {ticket.level}; its new assignees are told by email."
    return f"{ticket.key} {PAST[name]}."


def _comment(request: HttpRequest, escalation: Escalation) -> str:
    form = CommentForm(request.POST)
    if not form.is_valid():
        raise Invalid("comment", form)
    comment_add(number=escalation.number, actor=request.user, body=form.cleaned_data["body"])
    return "Comment added."


def _reassign(request: HttpRequest, escalation: Escalation) -> str:
    form = reassign_form(escalation, request.POST)
    if not form.is_valid():
        raise Invalid("reassign", form)
    escalation_reassign(
        number=escalation.number,
        actor=request.user,
        user_ids=form.cleaned_data["assignees"],
        version=_version(request),
    )
    return f"{escalation.key} reassigned."


def _decide(request: HttpRequest, escalation: Escalation) -> str:
    """A resource conflict's allocation, or the decision text (strategic alignment) / resolution note (friction)."""
    if escalation.kind == Escalation.Kind.RESOURCE_CONFLICT:
        form = allocation_form(escalation, request.POST)
        if not form.is_valid():
            raise Invalid("decide", form)
        allocations = [Allocation(claim_id=pk, amount=amount, rationale=why) for pk, amount, why in form.allocations()]
        allocation_decide(
            number=escalation.number,
            actor=request.user,
            allocations=allocations,
            rationale=form.cleaned_data["rationale"],
            version=_version(request),
        )
        return f"Allocation of {escalation.key} saved."
    form = DecisionForm(request.POST, kind=escalation.kind)
    if not form.is_valid():
        raise Invalid("decide", form)
    text = form.cleaned_data["text"]
    decision_write(number=escalation.number, actor=request.user, text=text, version=_version(request))
    noun = "Resolution note" if escalation.kind == Escalation.Kind.FRICTION else "Decision"
    return f"{noun} of {escalation.key} saved."


def _sign_off(request: HttpRequest, escalation: Escalation) -> str:
    rows = sign_off_service(number=escalation.number, actor=request.user, version=_version(request))
    domains = ", ".join(row.domain.name for row in rows)
    return f"You signed {escalation.key}'s decision off for {domains}."


def _follow_up(request: HttpRequest, escalation: Escalation) -> str:
    form = follow_up_form(escalation, request.POST)
    if not form.is_valid():
        raise Invalid("follow-up", form)
    data = form.cleaned_data
    follow_up_add(
        number=escalation.number,
        actor=request.user,
        description=data["description"],
        owner=form.owner_user(),
        due_on=data["due_on"],
    )
    return "Follow-up action added."


def _claim(request: HttpRequest, escalation: Escalation) -> str:
    form = claim_form(escalation, request.POST)
    if not form.is_valid():
        raise Invalid("claim", form)
    claim_add(escalation=escalation, actor=request.user, claim=Claim(**form.cleaned_data))
    return f"Claim of {form.cleaned_data['division'].name} added."


HANDLERS: dict[str, Callable[[HttpRequest, Escalation], str]] = {
    "comment": _comment,
    "reassign": _reassign,
    "decide": _decide,
    "sign-off": _sign_off,
    "follow-up": _follow_up,
    "claim": _claim,
}
