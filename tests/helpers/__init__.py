"""Helpers every test module shares (plain functions; fixtures live in the conftests)."""

import os
from collections.abc import Iterable
from typing import Any

PROBLEM = "application/problem+json"
# A signed-in request also saves its session (sliding expiry, SESSION_SAVE_EVERY_REQUEST): inside a test's transaction
# that is a SAVEPOINT, the UPDATE and its RELEASE; part of every query budget of a signed-in page.
SESSION_SAVE_QUERIES = 3


def assert_problem(response: Any, status: int, detail: str | None = None) -> dict[str, Any]:
    """`response` is an RFC 9457 problem with this status (and this detail, when given); returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.content.decode()
    if detail is not None:
        assert body["detail"] == detail
    return body


def subprocess_env(*, without: Iterable[str] = (), **overrides: str) -> dict[str, str]:
    """The environment of a process a test starts (manage.py, celery, gunicorn): this one's minus `without`, plus
    `overrides`, and never configured by the `dev.env` a previous `make run` left in the data directory
    (NOVAOPS_DEV_ENV=off): what the test sets is all the process gets."""
    dropped = set(without)
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    return {**env, "NOVAOPS_DEV_ENV": "off", **overrides}
