"""RFC 9457 problem responses, shared by the API exception handler and the middleware."""

from typing import Any

from django.http import JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"
# A problem body lists at most this many item errors; the rest are counted, not listed.
MAX_LISTED_ERRORS = 100


def problem_body(
    *,
    status: int,
    title: str,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    type_: str = "about:blank",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors[:MAX_LISTED_ERRORS]
        if len(errors) > MAX_LISTED_ERRORS:
            body["errors_not_listed"] = len(errors) - MAX_LISTED_ERRORS
    body.update(extra)
    return body


def problem_response(
    *, status: int, title: str, detail: str = "", errors: list[dict[str, Any]] | None = None, **extra: Any
) -> JsonResponse:
    return JsonResponse(
        problem_body(status=status, title=title, detail=detail, errors=errors, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
