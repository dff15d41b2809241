"""Reading the body of a metrics post, for every front door: never more than the limit, and a body declared longer
refused before a byte of it is read."""

from rest_framework.request import Request

from novaops.errors import PayloadTooLarge


def body_read(request: Request, *, limit: int) -> bytes:
    """The raw body (still compressed, if it is). PayloadTooLarge (413) when Content-Length says more than `limit`,
    or when more than `limit` bytes arrive."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(f"Body of {declared} bytes is over the {limit}-byte limit.")
    raw = request._request.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"Body is over the {limit}-byte limit.")
    return raw
