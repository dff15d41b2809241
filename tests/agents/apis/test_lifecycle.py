"""POST /api/v1/agents/<handle>/<transition>: people only, the service's rules as 403 / 409 / 400 problems, the agent
back with its new state, and the operation in the OpenAPI schema."""

import pytest
from django.urls import reverse

from agents.models import Agent, AgentLifecycleEvent
from agents.services.lifecycle import TRANSITIONS
from tests.helpers import assert_problem

S = Agent.Lifecycle


def url(handle: str, transition: str) -> str:
    return reverse("api:agents:agent-transition", kwargs={"handle": handle, "transition": transition})


def test_a_member_deploys_an_agent_with_a_version_and_a_reason(api_as, registry, cast):
    agent = registry["ta_00002"]
    agent.lifecycle_state = S.PROVISIONING  # a fresh agent of the member's division
    agent.save()

    response = api_as("member").post(url("ta_00002", "deploy"), {"version": "1.4.0", "reason": "Go"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["handle"], body["lifecycle_state"], body["deployed_version"]) == ("ta_00002", "deployed", "1.4.0")
    assert body["last_seen_at"] is None and body["status_message"] == ""
    last = AgentLifecycleEvent.objects.filter(pgh_obj_id=agent.pk).latest("pgh_id")
    assert (last.pgh_context["actor"], last.pgh_context["reason"], last.pgh_context["version"]) == (
        "member",
        "Go",
        "1.4.0",
    )


@pytest.mark.parametrize(("name", "state"), [("degrade", "degraded"), ("pause", "paused"), ("retire", "retired")])
def test_a_lead_moves_any_agent_without_a_body(api_as, registry, name, state):
    response = api_as("lead").post(url("ta_00011", name))

    assert response.status_code == 200, response.content
    assert response.json()["lifecycle_state"] == state
    assert Agent.objects.get(handle="ta_00011").lifecycle_state == state


@pytest.mark.parametrize(
    ("role", "handle", "name", "body", "status", "detail"),
    [
        pytest.param(
            "member",
            "ta_00011",
            "pause",
            {},
            403,
            "You cannot change ta_00011's lifecycle: only Tier 1 leads and Tool Ecosystem's members can.",
            id="other-division",
        ),
        pytest.param(
            "viewer",
            "ta_00001",
            "pause",
            {},
            403,
            "You cannot change ta_00001's lifecycle: only Tier 1 leads and NovaCore Runtime's members can.",
            id="viewer",
        ),
        pytest.param(
            "lead",
            "ta_00152",
            "activate",
            {},
            409,
            "ta_00152 cannot be activated: it is retired.",
            id="retired",
        ),
        pytest.param(
            "lead",
            "ta_00002",
            "pause",
            {},
            409,
            "ta_00002 cannot be paused: it is paused. From here it can be activated, retired.",
            id="wrong-state",
        ),
        pytest.param("lead", "ta_00010", "deploy", {}, 400, "The transition cannot be made as given.", id="no-version"),
        pytest.param(
            "lead",
            "ta_00001",
            "pause",
            {"reason": "r" * 501},
            400,
            "Ensure this field has no more than 500 characters.",
            id="long-reason",
        ),
        pytest.param(
            "lead",
            "ta_00001",
            "pause",
            {"state": "paused"},
            400,
            "Unknown field; this request accepts reason, version.",
            id="unknown-field",
        ),
    ],
)
def test_refusals_are_problems_and_change_nothing(api_as, registry, role, handle, name, body, status, detail):
    before = Agent.objects.get(handle=handle).lifecycle_state

    problem = assert_problem(api_as(role).post(url(handle, name), body, format="json"), status, detail)

    if status == 409:
        assert problem["state"] == before
    assert Agent.objects.get(handle=handle).lifecycle_state == before


def test_a_division_token_is_refused_with_a_clear_403(token_client, registry):
    assert_problem(
        token_client.post(url("ta_00001", "pause"), {}, format="json"),
        403,
        "A division token only reads; this needs a person signed in with a NovaOps role.",
    )
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == S.ACTIVE


def test_anonymous_is_401(api_client, registry):
    assert_problem(api_client.post(url("ta_00001", "pause")), 401)


def test_unknown_agents_and_transitions_are_404(api_as, registry):
    assert_problem(api_as("lead").post(url("ta_09999", "pause")), 404, "No agent with handle ta_09999.")
    assert api_as("lead").post("/api/v1/agents/ta_00001/explode").status_code == 404


def test_the_trailing_slash_form_answers_too(api_as, registry):
    response = api_as("lead").post(url("ta_00001", "pause") + "/")
    assert response.status_code == 200
    assert response.json()["lifecycle_state"] == "paused"


def test_get_is_405(api_as, registry):
    assert_problem(api_as("lead").get(url("ta_00001", "pause")), 405)


def test_the_operation_is_in_the_schema(schema):
    operation = schema["paths"]["/api/v1/agents/{handle}/{transition}"]["post"]
    assert operation["operationId"] == "agents_transition"
    transition = next(parameter for parameter in operation["parameters"] if parameter["name"] == "transition")
    assert transition["schema"]["enum"] == list(TRANSITIONS)
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404", "409"}
    assert operation["security"] == [{"cookieAuth": []}]
    agent = schema["components"]["schemas"]["Agent"]["properties"]
    assert {"deployed_version", "last_seen_at", "status_message"} <= set(agent)
    assert "lifecycle_state" not in schema["components"]["schemas"]["PatchedAgentUpdate"]["properties"]
