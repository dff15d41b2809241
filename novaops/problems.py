"""RFC 9457 problem bodies and responses, built in one place for the API handler, the middleware and error views."""

from typing import Any

from django.http import JsonResponse

from novaops.errors import TITLES, ApplicationError

PROBLEM_CONTENT_TYPE = "application/problem+json"
# A problem body lists at most this many item errors; the rest are counted, not listed.
MAX_LISTED_ERRORS = 100


def problem_body(
    *,
    status: int,
    title: str | None = None,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    type_: str = "about:blank",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "title": title or TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = errors[:MAX_LISTED_ERRORS]
        if len(errors) > MAX_LISTED_ERRORS:
            body["errors_not_listed"] = len(errors) - MAX_LISTED_ERRORS
    body.update(extra)
    return body


def error_body(exc: ApplicationError) -> dict[str, Any]:
    """The problem body of a refused operation."""
    return problem_body(status=exc.status, title=exc.title, detail=exc.message, errors=exc.errors, **exc.extra)


def problem_response(
    *,
    status: int,
    title: str | None = None,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JsonResponse:
    response = JsonResponse(
        problem_body(status=status, title=title, detail=detail, errors=errors, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(exc: ApplicationError) -> JsonResponse:
    response = JsonResponse(error_body(exc), status=exc.status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in exc.headers.items():
        response[name] = value
    return response
