"""Saved views: open one (every role), save the current explorer or comparison state, rename, delete (leads).

The writes are dashboards.services.saved_views (which refuses non-leads with 403); these views only carry forms to
it and show its refusals beside the fields: a taken name is 409, a blank or long name 400.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from agents.forms import bootstrap_form
from dashboards.forms import SavedViewCreateForm, SavedViewRenameForm
from dashboards.models import SavedView
from dashboards.services.saved_views import (
    NOT_A_LEAD_MESSAGE,
    saved_view_create,
    saved_view_delete,
    saved_view_rename,
)
from novaops import policies
from novaops.decorators import person_required
from novaops.errors import Conflict, Forbidden, InvalidInput


def _view_or_404(view_id: int) -> SavedView:
    try:
        return SavedView.objects.select_related("created_by").get(pk=view_id)
    except SavedView.DoesNotExist as exc:
        raise Http404(f"No saved view {view_id}.") from exc


def saved_view_url(view: SavedView) -> str:
    """Where a saved view opens: its page with its query."""
    path = reverse(f"dashboards:{view.page}")
    return f"{path}?{view.query}" if view.query else path


@require_safe
@person_required
def saved_view_list(request: HttpRequest) -> HttpResponse:
    """Every saved view; leads also get rename and delete."""
    views = [(view, saved_view_url(view)) for view in SavedView.objects.select_related("created_by")]
    context = {"views": views, "is_lead": policies.is_lead(request.user), "section": "saved"}
    return render(request, "dashboards/saved_list.html", context)


@require_safe
@person_required
def saved_view_open(request: HttpRequest, view_id: int) -> HttpResponse:
    return redirect(saved_view_url(_view_or_404(view_id)))


@require_POST
@person_required
def saved_view_create_view(request: HttpRequest) -> HttpResponse:
    """Save the state the form carries; back to it, now under its name. A refusal shows the form again."""
    form = SavedViewCreateForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            view = saved_view_create(user=request.user, name=data["name"], page=data["page"], query=data["query"])
        except (InvalidInput, Conflict) as exc:
            form.add_error("name" if not exc.errors or exc.errors[0]["field"] == "name" else None, exc.message)
            status = exc.status
        else:
            messages.success(request, f"Saved “{view.name}”: it is listed on the overview for everyone.")
            return redirect(saved_view_url(view))
    context = {"form": bootstrap_form(form), "section": "saved"}
    return render(request, "dashboards/saved_create.html", context, status=status)


@require_POST
@person_required
def saved_view_rename_view(request: HttpRequest, view_id: int) -> HttpResponse:
    view = _view_or_404(view_id)
    form = SavedViewRenameForm(request.POST)
    status = 400
    if form.is_valid():
        old = view.name
        try:
            saved_view_rename(user=request.user, view=view, name=form.cleaned_data["name"])
        except (InvalidInput, Conflict) as exc:
            form.add_error("name", exc.message)
            status = exc.status
            view.name = old
        else:
            messages.success(request, f"Renamed “{old}” to “{view.name}”.")
            return redirect("dashboards:saved_list")
    context = {"view": view, "form": bootstrap_form(form), "section": "saved"}
    return render(request, "dashboards/saved_rename.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def saved_view_delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    """GET: the confirmation step; POST: delete, then back to the list."""
    view = _view_or_404(view_id)
    if request.method != "POST":
        if not policies.is_lead(request.user):
            raise Forbidden(NOT_A_LEAD_MESSAGE)
        return render(request, "dashboards/saved_delete.html", {"view": view, "section": "saved"})
    saved_view_delete(user=request.user, view=view)
    messages.success(request, f"Deleted “{view.name}”.")
    return redirect("dashboards:saved_list")
