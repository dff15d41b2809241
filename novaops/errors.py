"""The one family of refused operations. Services raise these; the one problem handler renders them for the API
(problem JSON) and for pages (the error page), with the status, title, field errors and headers they carry.

Bad input that a form or serializer finds stays a Django / DRF ValidationError (rendered by the same handler);
these are for what a service decides: a name already taken, a quota spent, a body too large, a rule refusing.
"""

from __future__ import annotations

from typing import Any, ClassVar

# The title of each status in problem bodies and on error pages; one table for the whole application.
TITLES: dict[int, str] = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
# What a client should wait before retrying a 503 (and what our 503s say in Retry-After).
RETRY_AFTER_SECONDS = 5


class ApplicationError(Exception):
    """A refused operation: the input was understood, but the rules forbid it (409 unless a subclass says).

    `errors` lists item-level problems as {"index", "field", "message"}; `headers` travel with the answer
    (Retry-After, say); `extra` adds members to the problem body (e.g. the agents a refusal names).
    """

    status: ClassVar[int] = 409

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or type(self).status
        self.title = title or TITLES.get(self.status, "Refused")
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    """400: the body as a whole, or items in it, cannot be used; `errors` names each bad item."""

    status = 400


class Forbidden(ApplicationError):
    """403: this principal may not do this."""

    status = 403


class Conflict(ApplicationError):
    """409: the current state refuses the operation (a name taken, a transition from the wrong state)."""

    status = 409


class PayloadTooLarge(ApplicationError):
    status = 413


class UnsupportedMediaType(ApplicationError):
    status = 415


class Unprocessable(ApplicationError):
    """422: understood, valid, but contradicts an earlier request (an idempotency key reused with another body)."""

    status = 422


class TooManyRequests(ApplicationError):
    """429 with Retry-After: over a quota."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)


class ServiceUnavailable(ApplicationError):
    """503 with Retry-After: a dependency is down; clients retry 503 (and drop on 500)."""

    status = 503

    def __init__(self, message: str, *, retry_after: int = RETRY_AFTER_SECONDS, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)}, **kwargs)
