"""Sign-in throttling (django-axes, configured in settings): what a sign-in refused for too many failures answers.

The counting and the pause are axes' (per username and per client address, AXES_* settings); this module is only
the answer, in our layout and our error shapes.
"""

from datetime import timedelta

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize

from novaops.errors import TooManyRequests
from novaops.middleware import wants_json
from novaops.problems import error_response


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After; our lockout page for browsers (the sign-in page and the
    admin's), problem JSON for API clients and scripts that ask for JSON."""
    cool_off = get_cool_off(request) or timedelta(0)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    failures = settings.AXES_FAILURE_LIMIT
    refusal = TooManyRequests(
        f"Sign-in is paused for {minutes} minute{pluralize(minutes)} for this account or from this address after "
        f"{failures} failed attempt{pluralize(failures)}. Attempts during the pause do not extend it.",
        retry_after=int(cool_off.total_seconds()),
    )
    if wants_json(request):
        return error_response(refusal)
    context = {"minutes": minutes, "failures": failures, "username": get_client_username(request, credentials) or ""}
    response = render(request, "registration/locked_out.html", context, status=refusal.status)
    for name, value in refusal.headers.items():
        response[name] = value
    return response
