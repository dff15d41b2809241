"""The shared API plumbing (novaops/api.py, the error views, the schema and Swagger UI) through real endpoints."""

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.urls import reverse
from rest_framework.test import APIClient

from agents.models import Agent
from tests.factories import AgentFactory
from tests.helpers import PROBLEM, assert_problem

AGENTS = "/api/v1/agents"


@pytest.fixture
def lead(api_as) -> APIClient:
    return api_as("lead")


# --- errors are problems, never HTML ---


def test_malformed_json_is_400(lead):
    response = lead.post(AGENTS, '{"handle": "ta_00300",', content_type="application/json")

    body = assert_problem(response, 400)
    assert body["detail"].startswith("JSON parse error - ")


def test_nan_is_refused_as_malformed_json(lead, cast):
    body = '{"handle": "ta_00300", "callsign": "Nova", "division": "novacore-runtime", "tier": NaN}'

    assert_problem(lead.post(AGENTS, body, content_type="application/json"), 400)


def test_wrong_content_type_is_415(lead, cast):
    body = assert_problem(lead.post(AGENTS, "handle=ta_00300", content_type="text/plain"), 415)

    assert body["detail"] == 'Unsupported media type "text/plain" in request.'
    assert not Agent.objects.exists()


def test_form_encoded_body_is_415(lead, cast):
    response = lead.post(AGENTS, {"handle": "ta_00300"}, format="multipart")

    assert_problem(response, 415)


def test_body_over_the_limit_is_413(lead, cast):
    padding = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    payload = json.dumps(
        {"handle": "ta_00300", "callsign": "Nova", "division": "novacore-runtime", "role_title": padding}
    )

    body = assert_problem(lead.post(AGENTS, payload, content_type="application/json"), 413)

    assert body["title"] == "Payload too large"
    assert not Agent.objects.exists()


def test_patch_body_over_the_limit_is_413(lead, cast):
    AgentFactory(handle="ta_00002", division=cast.division)
    payload = json.dumps({"role_title": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})

    assert_problem(lead.patch(f"{AGENTS}/ta_00002", payload, content_type="application/json"), 413)


def test_method_not_allowed_is_405_with_allow(lead, cast):
    response = lead.delete(AGENTS)

    body = assert_problem(response, 405)
    assert body["detail"] == 'Method "DELETE" not allowed.'
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_method_not_allowed_on_a_detail_path_lists_its_methods(lead, cast):
    response = lead.put(f"{AGENTS}/ta_00002", {}, format="json")

    assert_problem(response, 405)
    assert response["Allow"] == "GET, PATCH, HEAD, OPTIONS"


def test_allow_lists_every_method_of_the_path(api_as, cast):
    AgentFactory(handle="ta_00002", division=cast.division)

    assert api_as("viewer").get(AGENTS)["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert (
        api_as("lead").patch(f"{AGENTS}/ta_00002", {"tier": 2}, format="json")["Allow"] == "GET, PATCH, HEAD, OPTIONS"
    )


def test_anonymous_is_401_with_www_authenticate(api_client, cast):
    response = api_client.post(AGENTS, {}, format="json")

    assert_problem(response, 401)
    assert response["WWW-Authenticate"]


def test_unknown_api_path_is_a_json_404(lead):
    body = assert_problem(lead.get("/api/v1/nothing-here"), 404)

    assert body["detail"] == "No API endpoint at /api/v1/nothing-here."


def test_validation_errors_list_field_and_message(lead, cast):
    body = assert_problem(lead.post(AGENTS, {"handle": "x", "tier": 9}, format="json"), 400)

    assert body["detail"] == "4 problems in the request."
    assert {error["field"] for error in body["errors"]} == {"handle", "callsign", "division", "tier"}
    assert all(error.keys() == {"field", "message"} for error in body["errors"])


def test_application_error_is_a_409_problem(lead, cast):
    AgentFactory(handle="ta_00300", division=cast.division)

    body = assert_problem(
        lead.post(AGENTS, {"handle": "ta_00300", "callsign": "Nova", "division": "novacore-runtime"}, format="json"),
        409,
    )

    assert (body["title"], body["detail"]) == ("Conflict", "An agent with handle ta_00300 already exists.")


def test_lost_database_is_503_with_retry_after(lead, monkeypatch):
    def unreachable(**kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("agents.apis.domains.domain_list", unreachable)

    response = lead.get("/api/v1/domains")

    assert_problem(response, 503)
    assert int(response["Retry-After"]) > 0


def test_unexpected_error_is_a_json_500_without_a_traceback(cast, monkeypatch):
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("agents.apis.domains.domain_list", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(cast.lead)

    response = client.get("/api/v1/domains")

    body = assert_problem(response, 500)
    assert "secret internals" not in response.content.decode()
    assert body["detail"] == "Something went wrong on our side."


@pytest.mark.parametrize("debug", [False, True])
def test_errors_stay_json_with_debug_on(cast, monkeypatch, settings, debug):
    # `make run` runs with DEBUG on, where Django's own 404 and 500 pages are HTML with tracebacks.
    settings.DEBUG = debug
    monkeypatch.setattr("agents.apis.domains.domain_list", lambda: 1 / 0)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(cast.lead)

    assert assert_problem(client.get("/api/v1/no-such-endpoint"), 404)["detail"].startswith("No API endpoint")
    broken = client.get("/api/v1/domains")
    assert assert_problem(broken, 500)["detail"] == "Something went wrong on our side."
    assert "ZeroDivisionError" not in broken.content.decode()


# --- pagination ---


def test_pagination_shape_and_invalid_pages(api_as, cast):
    for n in range(1, 6):
        AgentFactory(handle=f"ta_{n:05d}", division=cast.division)
    client = api_as("viewer")

    body = client.get(AGENTS, {"page_size": 2, "page": 2}).json()

    assert body == {
        "count": 5,
        "page": 2,
        "pages": 3,
        "next": "http://testserver/api/v1/agents?page=3&page_size=2",
        "previous": "http://testserver/api/v1/agents?page_size=2",
        "results": body["results"],
    }
    assert [agent["handle"] for agent in body["results"]] == ["ta_00003", "ta_00004"]
    detail = assert_problem(client.get(AGENTS, {"page": 9}), 404)["detail"]
    assert detail == "Page '9' does not exist: That page contains no results"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"page": "two"}, "page", "page is a whole number from 1; not 'two'."),
        ({"page": "last"}, "page", "page is a whole number from 1; not 'last'."),
        ({"page": "0"}, "page", "page is a whole number from 1; not '0'."),
        ({"page": "-1"}, "page", "page is a whole number from 1; not '-1'."),
        ({"page": ""}, "page", "page is a whole number from 1; not ''."),
        ({"page_size": "1.5"}, "page_size", "page_size is a whole number from 1 to 500; not '1.5'."),
        ({"page_size": "null"}, "page_size", "page_size is a whole number from 1 to 500; not 'null'."),
        ({"page_size": "0"}, "page_size", "page_size is a whole number from 1 to 500; not '0'."),
        ({"page_size": "501"}, "page_size", "page_size is a whole number from 1 to 500; not '501'."),
        ({"page_size": ["2", "3"]}, "page_size", "Give page_size once."),
    ],
)
@pytest.mark.parametrize("path", [AGENTS, "/api/v1/metrics/catalogue"])
def test_pagination_refuses_what_is_not_a_page_number_or_size(api_as, cast, path, params, field, message):
    body = assert_problem(api_as("viewer").get(path, params), 400)

    assert body["errors"] == [{"field": field, "message": message}]


@pytest.mark.parametrize("path", [AGENTS, "/api/v1/metrics/catalogue"])
def test_pagination_takes_the_largest_page_size_it_documents(api_as, cast, path):
    assert api_as("viewer").get(path, {"page_size": 500, "page": 1}).status_code == 200


def test_empty_list_is_one_empty_page(api_as, cast):
    body = api_as("viewer").get(AGENTS).json()

    assert (body["count"], body["page"], body["pages"], body["results"]) == (0, 1, 1, [])


# --- OpenAPI schema and Swagger UI ---

OPERATIONS = {
    "/api/v1/domains": {"get"},
    "/api/v1/domains/{slug}": {"get"},
    "/api/v1/divisions": {"get"},
    "/api/v1/divisions/{slug}": {"get"},
    "/api/v1/agents": {"get", "post"},
    "/api/v1/agents/{handle}": {"get", "patch"},
    "/api/v1/agents/{handle}/{transition}": {"post"},
}


def test_schema_documents_every_registry_operation(schema):
    paths = schema["paths"]

    assert {path: set(operations) for path, operations in paths.items() if path in OPERATIONS} == OPERATIONS
    for path, methods in OPERATIONS.items():
        for method in methods:
            operation = paths[path][method]
            responses = operation["responses"]
            assert operation["summary"] and operation["description"]
            assert {"401", "403"} <= responses.keys()
            for status, response in responses.items():
                media_type = "application/json" if status.startswith("2") else PROBLEM
                assert media_type in response["content"], (path, method, status)


def test_schema_documents_parameters_bodies_and_problems(schema):
    paths, components = schema["paths"], schema["components"]["schemas"]

    list_parameters = {p["name"] for p in paths["/api/v1/agents"]["get"]["parameters"]}
    assert list_parameters == {"q", "domain", "division", "tier", "lifecycle_state", "page", "page_size"}
    assert {p["name"] for p in paths["/api/v1/divisions"]["get"]["parameters"]} == {"domain"}
    assert [p["name"] for p in paths["/api/v1/agents/{handle}"]["patch"]["parameters"]] == ["handle"]
    create = paths["/api/v1/agents"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AgentCreate")
    assert {"400", "409", "413", "415"} <= create["responses"].keys()
    assert set(components["AgentCreate"]["required"]) == {"handle", "callsign", "division"}
    assert components["AgentCreate"]["properties"]["handle"]["pattern"] == "^ta_[0-9]{5}$"
    assert components["AgentPage"]["properties"].keys() == {"count", "page", "pages", "next", "previous", "results"}
    assert components["Problem"]["properties"].keys() >= {"type", "title", "status", "detail", "errors"}
    patch_body = paths["/api/v1/agents/{handle}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    update = components[patch_body["$ref"].rsplit("/", 1)[1]]
    assert update["properties"].keys() == {"callsign", "role_title", "tier"}


def test_schema_states_the_constraints_the_server_enforces(schema):
    paths, components = schema["paths"], schema["components"]["schemas"]
    create, update = components["AgentCreate"], components["PatchedAgentUpdate"]

    # Strict inputs: unknown fields refused, a PATCH changes something, a write sends a body.
    assert (create["additionalProperties"], update["additionalProperties"], update["minProperties"]) == (
        False,
        False,
        1,
    )
    assert paths["/api/v1/agents/{handle}"]["patch"]["requestBody"]["required"] is True
    assert paths["/api/v1/metrics/batches"]["post"]["requestBody"]["required"] is True
    # Text that may not be blank, a division that may not be "" (DRF reads it as null).
    assert create["properties"]["callsign"] | {"pattern": None} == {
        "type": "string",
        "minLength": 1,
        "maxLength": 60,
        "pattern": None,
    }
    assert create["properties"]["division"]["minLength"] == 1
    # Pagination: whole numbers in range.
    for path in ("/api/v1/agents", "/api/v1/metrics/catalogue"):
        parameters = {p["name"]: p["schema"] for p in paths[path]["get"]["parameters"]}
        assert parameters["page"] == {"type": "integer", "minimum": 1}
        assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}
    # Every lookup by id documents its 404; the series' metric is required and not empty.
    assert "404" in paths["/api/v1/metrics/batches/{batch_id}"]["get"]["responses"]
    series = {p["name"]: p for p in paths["/api/v1/metrics/series"]["get"]["parameters"]}
    assert (series["metric"]["required"], series["metric"]["schema"]["minItems"]) == (True, 1)
    encoding = {p["name"]: p for p in paths["/api/v1/metrics/batches"]["post"]["parameters"]}["Content-Encoding"]
    assert all(re.fullmatch(encoding["schema"]["pattern"][1:-1], value) for value in ("gzip", "x-gzip", "identity", ""))
    assert not re.fullmatch(encoding["schema"]["pattern"][1:-1], "br")


def test_registry_reads_document_the_division_token_and_writes_the_session_only(schema):
    paths = schema["paths"]

    for path in ("/api/v1/agents", "/api/v1/agents/{handle}", "/api/v1/divisions", "/api/v1/domains/{slug}"):
        assert {"divisionToken", "cookieAuth"} <= {key for item in paths[path]["get"]["security"] for key in item}
    assert paths["/api/v1/agents"]["post"]["security"] == [{"cookieAuth": []}]
    assert paths["/api/v1/agents/{handle}"]["patch"]["security"] == [{"cookieAuth": []}]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if values.get("src"):
                self.urls.append(values["src"] or "")
            else:
                self.inline_scripts += 1
        elif tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")
        elif tag in ("img", "iframe") and values.get("src"):
            self.urls.append(values["src"] or "")


@pytest.fixture
def plain_static_storage(settings):
    # The manifest storage needs collectstatic (about 30 s here); tests serve from the finders instead.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def test_swagger_ui_loads_only_local_static_files(client, plain_static_storage, db):
    response = client.get(reverse("api:docs"))

    assert response.status_code == 200
    page = response.content.decode()
    assets = _Assets()
    assets.feed(page)
    assert len(assets.urls) >= 4  # stylesheet, favicon, bundle, standalone preset
    for asset in assets.urls:
        # The split view's init script comes from the docs view itself (?script), so it runs under script-src 'self'.
        assert asset.startswith("/static/drf_spectacular_sidecar/") or asset == "/api/v1/docs/?script=", asset
        assert client.get(asset).status_code == 200, asset
    assert "/api/v1/schema/" in client.get("/api/v1/docs/?script=").content.decode()
