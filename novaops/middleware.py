"""Map infrastructure failures and oversized bodies to precise JSON answers instead of Django's HTML pages."""

from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from novaops.problems import problem_response

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """Turn a lost database into 503 + Retry-After (clients retry 503 and drop on 500, DESIGN.md §3)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)) or _is_connection_error(exception):
            return database_unavailable_response()
        if isinstance(exception, RequestDataTooBig):
            return problem_response(status=413, title="Payload too large", detail=str(exception))
        return None


def _is_connection_error(exception: Exception) -> bool:
    return isinstance(exception, DatabaseError) and "connection" in str(exception).lower()


def database_unavailable_response() -> HttpResponse:
    response = problem_response(
        status=503,
        title="Service unavailable",
        detail="The database is unreachable; retry shortly.",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
