"""Page decorators over novaops.policies, the same predicates the DRF permissions use."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from novaops import policies

View = Callable[..., HttpResponse]


def person_required(view: View) -> View:
    """Require a signed-in user with a NovaOps role (a Person row), or a superuser.

    Anonymous users go to the sign-in page; for an htmx request that is an HX-Redirect, so the whole page moves to
    the sign-in form instead of the form being swapped into a fragment. A user without a role gets a 403 page that
    says how to get one.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            response = redirect_to_login(request.get_full_path())
            return HttpResponseClientRedirect(response.url) if getattr(request, "htmx", False) else response
        if not policies.has_role(user):
            raise PermissionDenied(policies.NO_ROLE_MESSAGE)
        return view(request, *args, **kwargs)

    return wrapped


def lead_required(message: str) -> Callable[[View], View]:
    """person_required, then a Tier 1 lead or a superuser: 403 with `message` for everyone else."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not policies.is_lead(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return person_required(wrapped)

    return decorate
