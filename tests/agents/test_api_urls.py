"""The registry API's routes (agents/api_urls.py): what each role gets from each method on each path."""

from typing import Any

import pytest

from agents.models import Agent
from tests.agents.apis import NEW_AGENT, url
from tests.helpers import assert_problem

ROLES = ["lead", "member", "other_member", "viewer", "no_role", "anonymous"]
READ = {"lead": 200, "member": 200, "other_member": 200, "viewer": 200, "no_role": 403, "anonymous": 401}
NOT_ALLOWED = {"lead": 405, "member": 405, "other_member": 405, "viewer": 405, "no_role": 403, "anonymous": 401}
# (method, url name, url kwargs, body, status per role)
MATRIX: list[tuple[str, str, dict[str, str], dict[str, Any] | None, dict[str, int]]] = [
    ("get", "domain-list", {}, None, READ),
    ("get", "domain-detail", {"slug": "novaops"}, None, READ),
    ("get", "division-list", {}, None, READ),
    ("get", "division-detail", {"slug": "novacore-runtime"}, None, READ),
    ("get", "agent-list", {}, None, READ),
    ("get", "agent-detail", {"handle": "ta_00002"}, None, READ),
    ("head", "agent-detail", {"handle": "ta_00002"}, None, READ),
    (
        "post",
        "agent-list",
        {},
        NEW_AGENT,
        {"lead": 201, "member": 403, "other_member": 403, "viewer": 403, "no_role": 403, "anonymous": 401},
    ),
    (
        "patch",
        "agent-detail",
        {"handle": "ta_00002"},
        {"callsign": "Renamed"},
        {"lead": 200, "member": 200, "other_member": 403, "viewer": 403, "no_role": 403, "anonymous": 401},
    ),
    # An unknown agent: who may edit some agents learns it does not exist; read-only roles are refused first.
    (
        "patch",
        "agent-detail",
        {"handle": "ta_99999"},
        {"callsign": "Renamed"},
        {"lead": 404, "member": 404, "other_member": 404, "viewer": 403, "no_role": 403, "anonymous": 401},
    ),
    ("put", "agent-detail", {"handle": "ta_00002"}, {"callsign": "Renamed"}, NOT_ALLOWED),
    ("delete", "agent-detail", {"handle": "ta_00002"}, None, NOT_ALLOWED),
    ("delete", "agent-list", {}, None, NOT_ALLOWED),
    ("put", "agent-list", {}, NEW_AGENT, NOT_ALLOWED),
    ("post", "domain-list", {}, {"slug": "x"}, NOT_ALLOWED),
    ("delete", "domain-detail", {"slug": "novaops"}, None, NOT_ALLOWED),
    ("post", "division-list", {}, {"slug": "x"}, NOT_ALLOWED),
    ("patch", "division-detail", {"slug": "novacore-runtime"}, {"name": "x"}, NOT_ALLOWED),
]


@pytest.mark.parametrize(
    ("method", "name", "kwargs", "body", "role", "status"),
    [
        pytest.param(
            method, name, kwargs, body, role, statuses[role], id=f"{method}-{name}-{'-'.join(kwargs.values())}-{role}"
        )
        for method, name, kwargs, body, statuses in MATRIX
        for role in ROLES
    ],
)
def test_permission_matrix(api_as, registry, method, name, kwargs, body, role, status):
    response = getattr(api_as(role), method)(url(name, **kwargs), body, format="json" if body else None)

    assert response.status_code == status, response.content
    if status >= 400 and method != "head":
        assert_problem(response, status)
    if status == 401:
        assert response["WWW-Authenticate"]
    if status == 405:
        assert "GET" in response["Allow"]
    # End state: a refused write changed nothing, an accepted one is stored.
    assert Agent.objects.filter(handle="ta_00300").exists() == (method == "post" and status == 201)
    callsign = Agent.objects.get(handle="ta_00002").callsign
    assert callsign == ("Renamed" if method == "patch" and status == 200 else "Beacon")


# A division token (NovaCore Runtime's) reads its own division's registry entries; the rest is not there (404);
# it never writes (403), and methods no path has stay 405.
TOKEN_MATRIX: list[tuple[str, str, dict[str, str], dict[str, Any] | None, int]] = [
    ("get", "domain-list", {}, None, 200),
    ("get", "domain-detail", {"slug": "novaops"}, None, 200),
    ("get", "domain-detail", {"slug": "orchops"}, None, 404),
    ("get", "division-list", {}, None, 200),
    ("get", "division-detail", {"slug": "novacore-runtime"}, None, 200),
    ("get", "division-detail", {"slug": "tool-ecosystem"}, None, 404),
    ("get", "agent-list", {}, None, 200),
    ("get", "agent-detail", {"handle": "ta_00002"}, None, 200),
    ("head", "agent-detail", {"handle": "ta_00002"}, None, 200),
    ("get", "agent-detail", {"handle": "ta_00010"}, None, 404),
    ("post", "agent-list", {}, NEW_AGENT, 403),
    ("patch", "agent-detail", {"handle": "ta_00002"}, {"callsign": "Renamed"}, 403),
    ("patch", "agent-detail", {"handle": "ta_00010"}, {"callsign": "Renamed"}, 403),
    ("put", "agent-detail", {"handle": "ta_00002"}, {"callsign": "Renamed"}, 405),
    ("delete", "agent-list", {}, None, 405),
    ("post", "domain-list", {}, {"slug": "x"}, 405),
    ("patch", "division-detail", {"slug": "novacore-runtime"}, {"name": "x"}, 405),
]


@pytest.mark.parametrize(
    ("method", "name", "kwargs", "body", "status"),
    [
        pytest.param(method, name, kwargs, body, status, id=f"{method}-{name}-{'-'.join(kwargs.values())}")
        for method, name, kwargs, body, status in TOKEN_MATRIX
    ],
)
def test_division_token_matrix(token_client, registry, method, name, kwargs, body, status):
    response = getattr(token_client, method)(url(name, **kwargs), body, format="json" if body else None)

    assert response.status_code == status, response.content
    if status >= 400 and method != "head":
        assert_problem(response, status)
    if status == 403:
        assert (
            response.json()["detail"]
            == "A division token only reads; this needs a person signed in with a NovaOps role."
        )
    assert not Agent.objects.filter(handle="ta_00300").exists()
    assert {agent.callsign for agent in Agent.objects.filter(handle__in=["ta_00002", "ta_00010"])} == {
        "Beacon",
        "Cipher",
    }
