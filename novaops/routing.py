"""URL helpers for the API: every path answers with and without a trailing slash, one form in the schema."""

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path


def api_path(route: str, view: Callable[..., Any], *, name: str) -> list[URLPattern]:
    """`route` (canonical, named, documented) and `route/` served by the same view.

    Not a redirect: a client following a 301 from a POST would resend it as a GET and lose the body. The slash
    form is unnamed, so reverse() always gives the canonical one, and `canonical_paths_only` keeps it out of the
    OpenAPI schema.
    """
    return [path(route, view, name=name), path(f"{route}/", view)]


def canonical_paths_only(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """drf-spectacular preprocessing hook: drop the trailing-slash twin of every path that has one."""
    paths = {endpoint[0] for endpoint in endpoints}
    return [endpoint for endpoint in endpoints if not (endpoint[0].endswith("/") and endpoint[0][:-1] in paths)]
