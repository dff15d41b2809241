"""Page decorators over novaops.policies, the same predicates the DRF permissions use, and the one that hands a
read-only view's reads to the replica."""

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from novaops import policies
from novaops.db_router import REPLICA, replica_configured, replica_reads
from novaops.selectors import replica_lag_seconds

View = Callable[..., HttpResponse]
logger = logging.getLogger(__name__)
REPLICA_RETRY_SECONDS = 30


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


def reads_from_replica(view: View) -> View:
    """A GET or HEAD of this view reads from the replica when one is configured (novaops.db_router); the replica's
    lag, read once, is kept on the request as `replica_lag` for the banner (novaops.context_processors).

    Put it innermost, under person_required, or on a DRF view's `get` (method_decorator), so that only the view's
    own reads move: `request.user` is settled first, on the primary. A replica that cannot be reached leaves this
    request on the primary (logged) rather than failing it.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or not replica_configured():
            return view(request, *args, **kwargs)
        # The lazy user (and with it the session) is read here, on the primary, if nothing has read it yet.
        if hasattr(request, "user"):
            _ = request.user.is_authenticated
        replica = connections[REPLICA]
        # After a failure the replica is left alone for a while: an address that does not answer costs the whole
        # connect timeout, and a page loads several panels. Per process, which is all it needs to know.
        if getattr(replica, "novaops_unavailable_until", 0.0) > time.monotonic():
            return view(request, *args, **kwargs)
        try:
            request.replica_lag = replica_lag_seconds()
        except (OperationalError, InterfaceError) as exc:
            replica.novaops_unavailable_until = time.monotonic() + REPLICA_RETRY_SECONDS
            logger.warning(
                "The replica is unavailable; reading from the primary for %d s (%s): %s",
                REPLICA_RETRY_SECONDS,
                request.path,
                exc,
            )
            return view(request, *args, **kwargs)
        with replica_reads():
            return view(request, *args, **kwargs)

    return wrapped
