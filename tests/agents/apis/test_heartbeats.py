"""POST /api/v1/agents/<handle>/heartbeat (agents/apis/heartbeats.py): a token of the agent's own division only,
bounded version and status, last_seen_at never backwards, in the OpenAPI schema."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from agents.models import Agent
from agents.services.tokens import division_token_create
from tests.agents.apis import url
from tests.factories import AgentFactory
from tests.helpers import assert_problem

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def agent(cast) -> Agent:
    return AgentFactory(handle="ta_00001", division=cast.division, deployed_version="1.0")


def _beat(client, handle: str = "ta_00001", body: dict | None = None, **extra):
    return client.post(url("agent-heartbeat", handle=handle), body or {}, format="json", **extra)


def test_a_heartbeat_records_the_time_status_and_version(token_client, agent):
    with time_machine.travel(T0, tick=False):
        response = _beat(token_client, body={"version": "1.1", "status": "serving"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "handle": "ta_00001",
        "lifecycle_state": "active",
        "deployed_version": "1.1",
        "status_message": "serving",
        "last_seen_at": "2026-03-02T09:00:00Z",
    }
    agent.refresh_from_db()
    assert (agent.last_seen_at, agent.deployed_version, agent.status_message) == (T0, "1.1", "serving")


def test_an_empty_heartbeat_only_moves_the_time_and_never_backwards(token_client, agent):
    with time_machine.travel(T0, tick=False):
        assert _beat(token_client, body={"status": "up"}).status_code == 200
    with time_machine.travel(T0 - timedelta(minutes=5), tick=False):  # a client whose clock we do not trust anyway
        response = _beat(token_client)
    assert response.status_code == 200
    assert response.json()["last_seen_at"] == "2026-03-02T09:00:00Z"
    assert response.json()["status_message"] == "up"


def test_another_divisions_agent_is_refused_naming_its_division(token_client, cast):
    AgentFactory(handle="ta_00011", division=cast.other_division)
    assert_problem(
        _beat(token_client, "ta_00011"),
        403,
        "ta_00011 belongs to Tool Ecosystem: only a token of that division reports its heartbeat, and this one is "
        "NovaCore Runtime's.",
    )
    assert Agent.objects.get(handle="ta_00011").last_seen_at is None


def test_people_and_missing_tokens_are_refused(api_as, agent):
    assert_problem(_beat(api_as("lead")), 403)
    assert_problem(_beat(APIClient()), 401)


def test_an_unknown_or_malformed_handle_is_a_404(token_client, agent):
    assert_problem(_beat(token_client, "ta_09999"), 404, "No agent with handle ta_09999.")
    assert _beat(token_client, "nobody").status_code == 404


def test_bad_fields_are_400s_by_field(token_client, agent):
    body = assert_problem(_beat(token_client, body={"version": "v" * 81, "status": 5, "colour": "red"}), 400)
    assert sorted(error["field"] for error in body["errors"]) == ["colour"]
    body = assert_problem(_beat(token_client, body={"version": "v" * 81, "status": "s" * 201}), 400)
    assert sorted(error["field"] for error in body["errors"]) == ["status", "version"]
    agent.refresh_from_db()
    assert agent.last_seen_at is None


def test_a_revoked_token_is_refused(cast, agent):
    token, secret = division_token_create(division=cast.division, name="old")
    token.revoked_at = T0
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert _beat(client).status_code in (401, 403)


def test_the_heartbeat_is_in_the_schema(schema):
    operation = schema["paths"]["/api/v1/agents/{handle}/heartbeat"]["post"]
    assert operation["operationId"] == "agents_heartbeat"
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404"}
    assert operation["security"] == [{"divisionToken": []}]
