"""Health probes and the JSON-aware error views."""

import sys

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from novaops.errors import RETRY_AFTER_SECONDS
from novaops.middleware import database_unavailable_response, wants_json
from novaops.problems import problem_response
from novaops.selectors import background_status


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _redis_client() -> redis.Redis:
    url = settings.REDIS_URL
    if url.startswith("redis+socket://"):
        return redis.Redis(
            unix_socket_path=url.removeprefix("redis+socket://").split("?")[0],
            socket_timeout=2,
            socket_connect_timeout=2,
        )
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker both answer; 503 + Retry-After naming what is down otherwise.

    `background` reports the last heartbeat of the Celery worker and of beat (beat sends it, a worker records both
    times: novaops.selectors.background_status) but never makes a web process unready: a load balancer would take
    every web process out for a dead worker, and the accepted batches wait durably in PostgreSQL until a worker is
    back.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except (OperationalError, InterfaceError) as exc:
        checks["database"] = f"unavailable: {str(exc).strip().splitlines()[0][:200]}"
    try:
        _redis_client().ping()
        checks["broker"] = "ok"
    except (redis.RedisError, OSError) as exc:
        checks["broker"] = f"unavailable: {str(exc)[:200]}"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", "checks": checks}
    if checks["database"] == "ok":
        body["background"] = background_status()
    response = JsonResponse(body, status=200 if ready else 503)
    if not ready:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# Exempt: it changes nothing, and a client POSTing to a mistyped API path must learn that the path is wrong (a JSON
# 404), not meet Django's CSRF failure page first.
@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    return problem_response(status=404, title="Not found", detail=f"No API endpoint at {request.path}.")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return problem_response(status=400, title="Invalid request", detail="The request could not be understood.")
    return render(request, "errors/400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = str(exception) if exception and str(exception) else "You do not have permission to do this."
    if wants_json(request):
        return problem_response(status=403, title="Forbidden", detail=detail)
    return render(request, "errors/403.html", {"detail": detail}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return problem_response(status=404, title="Not found", detail=f"Nothing at {request.path}.")
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # A lost database surfaces here when it fails outside a view (sessions, auth): still a 503, never a 500 page.
    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError)):
        return database_unavailable_response()
    if wants_json(request):
        return problem_response(status=500, title="Internal error", detail="Something went wrong on our side.")
    return render(request, "errors/500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a problem for API clients, our 403 page for browsers (never Django's debug page)."""
    detail = "The CSRF check failed: reload the page and try again (API clients: send the CSRF token with the session)."
    return permission_denied(request, PermissionDenied(detail))
