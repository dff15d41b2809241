"""Turn what a view raises but does not answer into precise answers instead of Django's HTML 400 and 500 pages:
a lost database (503 + Retry-After: clients retry 503 and drop on 500), an oversized body (413) and a refused
operation (novaops.errors.ApplicationError: problem JSON for the API, the error page for pages)."""

from collections.abc import Callable

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from novaops.errors import ApplicationError, PayloadTooLarge, ServiceUnavailable
from novaops.problems import error_response


class ErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)) or _is_connection_error(exception):
            return database_unavailable_response()
        if isinstance(exception, RequestDataTooBig):
            return error_response(PayloadTooLarge(str(exception)))
        if isinstance(exception, ApplicationError):
            return application_error_response(request, exception)
        return None


def _is_connection_error(exception: Exception) -> bool:
    return isinstance(exception, DatabaseError) and "connection" in str(exception).lower()


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")


def application_error_response(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    if wants_json(request):
        return error_response(exc)
    context = {"status": exc.status, "title": exc.title, "detail": exc.message, "errors": exc.errors}
    response = render(request, "errors/refused.html", context, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def database_unavailable_response() -> HttpResponse:
    return error_response(ServiceUnavailable("The database is unreachable; retry shortly."))


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, except that a lost database does not turn our 503 into a second failure, and a read that was
    answered while its session was signed out elsewhere is not turned into a 400.

    With SESSION_SAVE_EVERY_REQUEST (sliding expiry) Django reads the session's expiry for every response before it
    decides not to save on a 5xx; with the database gone that read raises, and the precise 503 (problem JSON,
    Retry-After) would become an error logged with a traceback per request. Nothing is saved on a 5xx anyway.

    Signing out while a page's panels are still loading deletes the session under their requests; Django then
    refuses to save it again (SessionInterrupted, a 400 and a traceback per panel). For a GET or HEAD, which changed
    nothing, the answer goes out as it is, without saving the session or setting its cookie, so the session stays
    signed out; a write keeps Django's refusal.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except (OperationalError, InterfaceError):
            if response.status_code >= 500:
                return response
            raise
        except SessionInterrupted:
            if request.method in ("GET", "HEAD"):
                return response  # Django raised before setting the cookie: nothing brings the session back
            raise
