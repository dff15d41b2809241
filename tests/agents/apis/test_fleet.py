"""The fleet API: POST /api/v1/agents/import (text/csv), POST /api/v1/agents/bulk, GET /api/v1/agents/export."""

import pytest
from django.urls import reverse

from agents.models import Agent
from agents.services.fleet import IMPORT_HEADER
from tests.factories import AgentFactory

IMPORT_URL = "/api/v1/agents/import"
BULK_URL = "/api/v1/agents/bulk"
EXPORT_URL = "/api/v1/agents/export"


def csv_body(*rows: str) -> str:
    return "\n".join([",".join(IMPORT_HEADER), *rows]) + "\n"


GOOD = csv_body(
    "ta_00200,Quill,novacore-runtime,3,Runtime Engineer,provisioning", "ta_00201,Rook,novacore-runtime,2,,active"
)


def post_csv(client, body, *, query: str = "", content_type: str = "text/csv"):
    data = body if isinstance(body, bytes) else body.encode()
    return client.generic("POST", IMPORT_URL + query, data, content_type=content_type)


def test_the_routes_are_not_read_as_handles():
    assert reverse("api:agents:agent-import") == IMPORT_URL
    assert reverse("api:agents:agent-bulk") == BULK_URL
    assert reverse("api:agents:agent-export") == EXPORT_URL


def test_an_import_creates_the_agents_with_201(api_as):
    response = post_csv(api_as("lead"), GOOD)

    assert response.status_code == 201, response.content
    assert response.json()["handles"] == ["ta_00200", "ta_00201"]
    assert Agent.objects.count() == 2


def test_a_dry_run_previews_with_200_and_creates_nothing(api_as):
    response = post_csv(api_as("member"), GOOD, query="?dry_run=true")

    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True
    assert body["rows"][0] == {
        "index": 1,
        "handle": "ta_00200",
        "callsign": "Quill",
        "division": "novacore-runtime",
        "tier": 3,
        "role_title": "Runtime Engineer",
        "lifecycle_state": "provisioning",
    }
    assert not Agent.objects.exists()


def test_errors_come_back_by_row_and_column_with_nothing_created(api_as):
    body = csv_body("ta_00200,Quill,novacore-runtime,3,,active", "ta_00200,Rook,nowhere,7,,active")

    response = post_csv(api_as("lead"), body)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [
        (2, "division"),
        (2, "tier"),
        (2, "handle"),
    ]
    assert not Agent.objects.exists()


def test_a_body_that_is_not_utf8_is_a_400(api_as):
    response = post_csv(api_as("lead"), GOOD.replace("Quill", "Quíll").encode("latin-1"))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"


def test_another_content_type_is_a_415(api_as):
    response = post_csv(api_as("lead"), GOOD, content_type="application/json")

    assert response.status_code == 415


def test_ten_megabytes_of_junk_is_a_413_and_creates_nothing(api_as):
    response = post_csv(api_as("lead"), b"\xff\x00junk" * (10 * 1024 * 1024 // 6))

    assert response.status_code == 413
    assert not Agent.objects.exists()


@pytest.mark.parametrize(("name", "status"), [("viewer", 403), ("no_role", 403), ("anonymous", 403)])
def test_viewers_and_strangers_cannot_import(api_as, name, status):
    response = post_csv(api_as(name), GOOD)

    assert response.status_code in (status, 401)
    assert not Agent.objects.exists()


def test_a_division_token_cannot_import(token_client):
    response = post_csv(token_client, GOOD)

    assert response.status_code == 403
    assert not Agent.objects.exists()


@pytest.fixture
def fleet(cast):
    return [
        AgentFactory(handle="ta_00001", division=cast.division, lifecycle_state="active"),
        AgentFactory(handle="ta_00002", division=cast.division, lifecycle_state="provisioning"),
        AgentFactory(handle="ta_00003", division=cast.other_division, lifecycle_state="active"),
    ]


def test_a_bulk_transition(api_as, fleet):
    response = api_as("member").post(
        BULK_URL, {"handles": ["ta_00001"], "transition": "pause", "reason": "upgrade"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"action": "pause", "division": None, "handles": ["ta_00001"]}
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == "paused"


def test_a_refused_bulk_transition_names_the_agents_and_changes_nothing(api_as, fleet):
    response = api_as("lead").post(
        BULK_URL, {"handles": ["ta_00001", "ta_00002"], "transition": "pause"}, format="json"
    )

    assert response.status_code == 409
    assert [item["handle"] for item in response.json()["refused"]] == ["ta_00002"]
    assert Agent.objects.get(handle="ta_00001").lifecycle_state == "active"


def test_a_member_touching_another_division_gets_403_naming_the_agent(api_as, fleet):
    response = api_as("member").post(
        BULK_URL, {"handles": ["ta_00001", "ta_00003"], "transition": "pause"}, format="json"
    )

    assert response.status_code == 403
    assert [item["handle"] for item in response.json()["refused"]] == ["ta_00003"]


def test_a_division_move_is_for_leads(api_as, fleet, cast):
    body = {"handles": ["ta_00001"], "division": "tool-ecosystem"}

    assert api_as("member").post(BULK_URL, body, format="json").status_code == 403
    response = api_as("lead").post(BULK_URL, body, format="json")
    assert response.status_code == 200
    assert response.json()["division"] == "tool-ecosystem"
    assert Agent.objects.get(handle="ta_00001").division == cast.other_division


def test_a_bulk_change_with_an_unknown_division_or_transition_is_a_400(api_as, fleet):
    client = api_as("lead")

    assert client.post(BULK_URL, {"handles": ["ta_00001"], "division": "nowhere"}, format="json").status_code == 400
    assert client.post(BULK_URL, {"handles": ["ta_00001"], "transition": "fly"}, format="json").status_code == 400
    assert client.post(BULK_URL, {"handles": []}, format="json").status_code == 400


def test_the_export_is_csv_with_the_list_filters(api_as, fleet):
    response = api_as("viewer").get(EXPORT_URL, {"division": "novacore-runtime"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == ",".join(IMPORT_HEADER)
    assert [line.split(",")[0] for line in lines[1:]] == ["ta_00001", "ta_00002"]


def test_a_bad_export_filter_is_a_400(api_as, fleet):
    assert api_as("viewer").get(EXPORT_URL, {"division": "nowhere"}).status_code == 400
    assert api_as("viewer").get(EXPORT_URL, {"colour": "red"}).status_code == 400


def test_a_division_token_exports_its_own_division(token_client, fleet):
    response = token_client.get(EXPORT_URL)

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["ta_00001", "ta_00002"]


def test_the_operations_are_in_the_schema(schema):
    paths = schema["paths"]
    assert "text/csv" in paths["/api/v1/agents/import"]["post"]["requestBody"]["content"]
    assert {"200", "201", "400", "413", "415"} <= set(paths["/api/v1/agents/import"]["post"]["responses"])
    assert "post" in paths["/api/v1/agents/bulk"]
    assert "text/csv" in paths["/api/v1/agents/export"]["get"]["responses"]["200"]["content"]
