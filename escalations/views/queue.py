"""The queue (/escalations/) and the raise form (/escalations/raise/).

The queue's filters and sorting are escalations.filters.EscalationFilter, the API's too: every filter is in the URL,
and a value that names nothing re-renders the page with the error beside its field (400), never a wider list.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from agents import selectors as agent_selectors
from agents.forms import bootstrap_form
from agents.models import Division
from escalations import selectors
from escalations.filters import EscalationFilter
from escalations.forms import ClaimFormSet, RaiseForm, queue_filter_form
from escalations.models import Escalation
from escalations.policies import may_raise_for
from escalations.services.raising import Claim, Links, Raise, Resource, escalation_raise
from metrics.selectors import metric_list
from novaops import policies
from novaops.decorators import person_required
from novaops.errors import ApplicationError

TICKETS_PER_PAGE = 25


def _page(request: HttpRequest, queryset: QuerySet[Escalation]) -> Page:
    paginator = Paginator(queryset, TICKETS_PER_PAGE)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except InvalidPage as exc:
        raise Http404(f"No such page: {exc}") from exc


def raisable_divisions(user: Any, divisions: list[Division]) -> list[Division]:
    """The divisions this person may raise for: every division for a Tier 1 lead, else their own (and the one they
    lead)."""
    if policies.is_lead(user):
        return divisions
    return [division for division in divisions if may_raise_for(user, division.pk)]


def _sla_status(escalation: Escalation) -> dict[str, Any]:
    """What the queue's SLA column says: breached, paused, met, or the time left on the clock that runs."""
    clocks = selectors.clocks(escalation)
    if any(clock.breached for clock in clocks):
        return {"state": "breached"}
    running = next((clock for clock in clocks if clock.stopped_at is None), None)
    if running is None or not escalation.is_active:
        return {"state": "met"}
    if running.paused:
        return {"state": "paused", "clock": running}
    return {"state": "running", "clock": running}


@require_safe
@person_required
def queue(request: HttpRequest) -> HttpResponse:
    filterset = EscalationFilter(data=request.GET, queryset=selectors.escalation_queryset(), request=request)
    form = queue_filter_form(filterset.form)
    valid = filterset.is_valid()
    page = _page(request, filterset.qs) if valid else None
    rows = [(ticket, _sla_status(ticket)) for ticket in page.object_list] if page else []
    person = policies.person_of(request.user)
    # Tier 1 leads raise for any division, people of a division for theirs; viewers do not raise.
    may_raise = policies.is_lead(request.user) or (person is not None and person.role == "division_member")
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "filtered": valid and any(form.cleaned_data.get(name) not in (None, "", []) for name in form.fields),
        "may_raise": may_raise,
        "section": "escalations",
    }
    return render(request, "escalations/queue.html", context, status=200 if valid else 400)


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def raise_form(request: HttpRequest) -> HttpResponse:
    """The form to raise a ticket; for a resource conflict also the resource and the first claims (two rows: the
    raiser's own and another division's). Success goes to the new ticket's page."""
    divisions = list(agent_selectors.division_choice_list())
    raisable = raisable_divisions(request.user, divisions)
    if not raisable:
        raise PermissionDenied("Only people of a division and Tier 1 leads can raise an escalation.")
    data = request.POST if request.method == "POST" else None
    form = RaiseForm(
        data, raisable=raisable, divisions=divisions, metrics=list(metric_list()), initial=_initial(request, raisable)
    )
    claims = ClaimFormSet(data, prefix="claims", divisions=divisions, initial=[{"division": raisable[0].slug}])
    status = 200
    if data is not None:
        # The claim rows count only for a resource conflict (the page hides them for the other kinds).
        conflict = request.POST.get("kind") == Escalation.Kind.RESOURCE_CONFLICT
        if form.is_valid() & (not conflict or claims.is_valid()) and _claims_fit(form, claims):
            try:
                escalation = escalation_raise(actor=request.user, request=_raise_request(form, claims))
            except ApplicationError as exc:
                _service_errors(form, exc)
            else:
                messages.success(request, f"Raised {escalation.key}; it is assigned to {_assignees(escalation)}.")
                return redirect("escalations:detail", number=escalation.number)
        status = 400
    for row in claims:
        bootstrap_form(row)
    context = {"form": bootstrap_form(form), "claims": claims, "section": "escalations"}
    return render(request, "escalations/raise.html", context, status=status)


def _initial(request: HttpRequest, raisable: list[Division]) -> dict[str, Any]:
    person = policies.person_of(request.user)
    own = person.division_id if person is not None else None
    default = next((division for division in raisable if division.pk == own), raisable[0])
    return {"raised_division": default.slug}


def _claims_fit(form: RaiseForm, claims: Any) -> bool:
    """No claim asks for more than the whole capacity (the ticket page's claim form refuses the same)."""
    capacity = form.cleaned_data.get("resource_capacity")
    if form.cleaned_data.get("kind") != Escalation.Kind.RESOURCE_CONFLICT or capacity is None:
        return True
    fits = True
    for row in claims.forms:
        amount = row.cleaned_data.get("amount") if row.has_changed() else None
        if amount is not None and amount > capacity:
            row.add_error("amount", f"At most the capacity ({capacity}).")
            fits = False
    return fits


def _raise_request(form: RaiseForm, claims: Any) -> Raise:
    data = form.cleaned_data
    conflict = data["kind"] == Escalation.Kind.RESOURCE_CONFLICT
    resource = None
    if conflict:
        resource = Resource(name=data["resource_name"], unit=data["resource_unit"], capacity=data["resource_capacity"])
    return Raise(
        kind=data["kind"],
        title=data["title"],
        description=data["description"],
        priority=data["priority"],
        raised_division=data["raised_division"],
        divisions=data["divisions"],
        links=Links(agents=data["agents"], metrics=data["metrics"]),
        resource=resource,
        claims=[Claim(**row) for row in claims.filled()] if conflict else [],
    )


def _service_errors(form: RaiseForm, exc: ApplicationError) -> None:
    """Put what escalation_raise refused next to the fields it names (the rest above the form)."""
    form.add_error(None, exc.message)
    for error in exc.errors:
        field = {"resource": "resource_name"}.get(error.get("field"), error.get("field"))
        form.add_error(field if field in form.fields else None, error["message"])


def _assignees(escalation: Escalation) -> str:
    names = [user.get_full_name() or user.username for user in escalation.assignees.all()]
    return ", ".join(names) or "nobody yet"
