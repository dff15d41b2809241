"""The agent page's lifecycle buttons: one POST per transition (deploy, activate, degrade, recover, pause, retire).

The service decides (who may, from which state, with which version); a refusal shows the agent page again with the
service's message and its status (403, 409, 400), and what was typed, so nothing is lost.
"""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.forms import TransitionForm, bootstrap_form
from agents.services.lifecycle import PAST, TRANSITIONS, agent_transition
from agents.views.lookups import agent_or_404
from agents.views.registry import agent_page_context
from novaops.decorators import person_required
from novaops.errors import ApplicationError


@require_POST
@person_required
def agent_transition_view(request: HttpRequest, handle: str, transition: str) -> HttpResponse:
    agent = agent_or_404(handle)
    if transition not in TRANSITIONS:
        raise Http404(f"No transition {transition}; the transitions are {', '.join(TRANSITIONS)}.")
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            agent_transition(
                agent=agent,
                name=transition,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                version=form.cleaned_data["version"],
            )
        except ApplicationError as exc:
            refusal, status, details = exc.message, exc.status, [error["message"] for error in exc.errors]
        else:
            messages.success(request, f"{agent.handle} was {PAST[transition]}.")
            return redirect("agents:agent_detail", handle=agent.handle)
    else:
        refusal, status = "The transition was not made: fix what is listed below.", 400
        details = [
            f"{form.fields[field].label or field.capitalize()}: {error}"
            for field, errors in form.errors.items()
            for error in errors
        ]
    context = agent_page_context(
        request,
        agent,
        refusal=refusal,
        refusal_status=status,
        refusal_details=details,
        refused=transition,
        transition_form=bootstrap_form(form),
    )
    return render(request, "agents/agent_detail.html", context, status=status)
