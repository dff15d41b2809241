"""The ecosystem overview at `/`, the home page after sign-in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from agents import selectors as registry
from dashboards.views.common import toolbar, view_state
from dashboards.views.pages import SCOPED_PARAMETERS
from novaops.decorators import person_required


@require_safe
@person_required
def overview(request: HttpRequest) -> HttpResponse:
    """The ecosystem overview, the home page after sign-in."""
    state = view_state(request, allowed=SCOPED_PARAMETERS)
    divisions = registry.division_choice_list()
    context = {"state": state, "toolbar": toolbar(state), "divisions": divisions, "section": "overview"}
    return render(request, "dashboards/overview.html", context)
