"""The SLA policy page (/escalations/sla/): time to acknowledge and to resolve per priority, for everyone to read;
Tier 1 leads change a row (services.sla.sla_policy_update), one form per priority."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from agents.forms import bootstrap_form
from escalations import selectors
from escalations.forms import SlaPolicyForm, duration_text
from escalations.services.sla import sla_policy_update
from novaops import policies
from novaops.decorators import person_required
from novaops.errors import ApplicationError

EDIT_REFUSED = "Only Tier 1 leads can change the SLA policy."


def _form(priority: str, **kwargs) -> SlaPolicyForm:
    # One form per row: ids carry the priority, so each label points at its own row's field.
    return bootstrap_form(SlaPolicyForm(auto_id=f"id_{priority}_%s", **kwargs))


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def sla_policy(request: HttpRequest) -> HttpResponse:
    may_edit = policies.is_lead(request.user)
    bound = None
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied(EDIT_REFUSED)
        bound = _form(str(request.POST.get("priority", ""))[:2], data=request.POST)
        if bound.is_valid():
            data = bound.cleaned_data
            try:
                sla_policy_update(
                    actor=request.user,
                    priority=data["priority"],
                    acknowledge_within=data["acknowledge_within"],
                    resolve_within=data["resolve_within"],
                )
            except ApplicationError as exc:
                bound.add_error(None, exc.message)
            else:
                messages.success(request, f"SLA policy for {data['priority']} saved; new tickets take it.")
                return redirect("escalations:sla")
    rows = []
    for policy in selectors.sla_policy_list():
        form = None
        if may_edit and bound is not None and bound.data.get("priority") == policy.priority:
            form = bound
        elif may_edit:
            initial = {
                "priority": policy.priority,
                "acknowledge_within": duration_text(policy.acknowledge_within),
                "resolve_within": duration_text(policy.resolve_within),
            }
            form = _form(policy.priority, initial=initial)
        rows.append({"policy": policy, "form": form})
    context = {"rows": rows, "may_edit": may_edit, "bound": bound, "section": "escalations"}
    return render(request, "escalations/sla.html", context, status=400 if bound is not None else 200)
