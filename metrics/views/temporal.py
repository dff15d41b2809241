"""Temporal pages under /temporal/ (namespace `temporal`): the connections, one connection's status and mappings.

Everyone with a role reads them; Tier 1 leads add and change connections and their mappings. Writes go through
metrics.services.temporal; the secrets are write-only (never in a page, see metrics.forms).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from agents.forms import bootstrap_form
from metrics.forms import TemporalConnectionForm, TemporalMappingForm
from metrics.models import TemporalConnection, TemporalMapping
from metrics.services.temporal import temporal_connection_save, temporal_mapping_add, temporal_mapping_remove
from novaops import policies
from novaops.decorators import lead_required, person_required
from novaops.errors import ApplicationError

EDIT_REFUSED = "Only Tier 1 leads can manage Temporal connections."


@require_http_methods(["GET", "HEAD"])
@person_required
def connection_list(request: HttpRequest) -> HttpResponse:
    connections = TemporalConnection.objects.prefetch_related("mappings__division").order_by("name")
    context = {"connections": connections, "may_edit": policies.is_lead(request.user), "section": "temporal"}
    return render(request, "metrics/temporal_list.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@lead_required(EDIT_REFUSED)
def connection_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a connection (no pk) or change one."""
    connection = get_object_or_404(TemporalConnection, pk=pk) if pk is not None else None
    form = TemporalConnectionForm(request.POST or None, instance=connection)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = temporal_connection_save(connection=form.instance, **data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Connection {saved.name} saved; the next poll (within a minute) uses it.")
            return redirect("temporal:detail", pk=saved.pk)
    context = {"form": bootstrap_form(form), "connection": connection, "section": "temporal"}
    return render(request, "metrics/temporal_form.html", context, status=400 if form.is_bound else 200)


@require_http_methods(["GET", "HEAD"])
@person_required
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(TemporalConnection, pk=pk)
    return _detail(request, connection, mapping_form=TemporalMappingForm())


def _detail(request: HttpRequest, connection: TemporalConnection, *, mapping_form, status: int = 200) -> HttpResponse:
    may_edit = policies.is_lead(request.user)
    context = {
        "connection": connection,
        "mappings": connection.mappings.select_related("division", "agent"),
        "mapping_form": bootstrap_form(mapping_form) if may_edit else None,
        "may_edit": may_edit,
        "section": "temporal",
    }
    return render(request, "metrics/temporal_detail.html", context, status=status)


@require_POST
@lead_required(EDIT_REFUSED)
def mapping_add(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(TemporalConnection, pk=pk)
    form = TemporalMappingForm(request.POST)
    if form.is_valid():
        try:
            mapping = temporal_mapping_add(connection=connection, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Mapped {mapping}.")
            return redirect("temporal:detail", pk=connection.pk)
    return _detail(request, connection, mapping_form=form, status=400)


@require_POST
@lead_required(EDIT_REFUSED)
def mapping_remove(request: HttpRequest, pk: int, mapping_pk: int) -> HttpResponse:
    mapping = get_object_or_404(TemporalMapping, pk=mapping_pk, connection_id=pk)
    temporal_mapping_remove(mapping=mapping)
    messages.success(request, f"Removed {mapping}; its metrics so far stay.")
    return redirect("temporal:detail", pk=pk)
