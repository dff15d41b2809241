"""Helpers every test module shares (plain functions; fixtures live in the conftests)."""

from typing import Any

PROBLEM = "application/problem+json"


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
