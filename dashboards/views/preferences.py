"""The viewer's time zone: a named IANA zone, or the browser's (what static/js/dashboards.js reports)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from agents.forms import bootstrap_form
from dashboards.forms import TimeZoneForm
from dashboards.models import ViewerPreference
from dashboards.services.preferences import viewer_time_zone_set
from dashboards.views.common import TZ_COOKIE
from novaops.decorators import person_required
from novaops.errors import InvalidInput


def _next(request: HttpRequest) -> str:
    """The dashboard the viewer came from (same host only: never an open redirect), or ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


@require_http_methods(["GET", "HEAD", "POST"])
@person_required
def preferences(request: HttpRequest) -> HttpResponse:
    current = ViewerPreference.objects.filter(user=request.user).values_list("time_zone", flat=True).first() or ""
    form = TimeZoneForm(request.POST if request.method == "POST" else None, initial={"time_zone": current})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                preference = viewer_time_zone_set(user=request.user, time_zone=form.cleaned_data["time_zone"])
            except InvalidInput as exc:
                form.add_error("time_zone", exc.message)
            else:
                zone = preference.time_zone or "your browser's time zone"
                messages.success(request, f"Times are now shown in {zone}.")
                return redirect(_next(request) or "dashboards:overview")
    context = {
        "form": bootstrap_form(form),
        "browser_zone": request.COOKIES.get(TZ_COOKIE, ""),
        "next": _next(request),
        "section": "preferences",
    }
    return render(request, "dashboards/preferences.html", context, status=status)
