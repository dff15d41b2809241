"""metrics.apis.catalogue through HTTP: reading for everyone with a role or token, writing for Tier 1 leads."""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from metrics.models import Metric, Series
from metrics.services.catalogue import default_metrics
from tests.factories import AgentFactory
from tests.helpers import PROBLEM, assert_problem

LIST = "/api/v1/metrics/catalogue"
DEFAULT_METRICS = default_metrics()
NEW = {"key": "sandbox_escapes", "name": "Sandbox escapes", "unit": "events", "kind": "counter", "better": "lower"}


def detail(key: str) -> str:
    return f"{LIST}/{key}"


def _api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- reading ---


@pytest.mark.parametrize(
    ("who", "status"),
    [("lead", 200), ("member", 200), ("other_member", 200), ("viewer", 200), ("no_role", 403), ("anonymous", 401)],
)
def test_the_list_is_read_by_every_role(api_as, who, status):
    response = api_as(who).get(LIST)

    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["count"] == len(DEFAULT_METRICS) and body["page"] == 1
        assert [m["key"] for m in body["results"]] == sorted(key for key, *_ in DEFAULT_METRICS)


def test_a_division_token_reads_the_catalogue(token_client):
    assert token_client.get(LIST).json()["count"] == len(DEFAULT_METRICS)
    assert token_client.get(detail("uptime_pct")).status_code == 200


def test_the_list_is_paginated(api_as, cast):
    client = api_as("viewer")
    first = client.get(LIST, {"page_size": 5}).json()
    pages = -(-len(DEFAULT_METRICS) // 5)
    last = client.get(LIST, {"page_size": 5, "page": pages}).json()

    assert (first["count"], first["pages"], len(first["results"])) == (len(DEFAULT_METRICS), pages, 5)
    assert first["next"].endswith("page=2&page_size=5") and first["previous"] is None
    assert len(last["results"]) == len(DEFAULT_METRICS) - 5 * (pages - 1) and last["next"] is None
    assert_problem(client.get(LIST, {"page": 9}), 404)


def test_the_list_has_a_query_budget(api_as, cast, django_assert_max_num_queries):
    for n in range(30):
        Metric.objects.create(key=f"extra_{n:02d}", name=f"Extra {n}")
    client = api_as("viewer")
    # person (1), count (1), page (1)
    with django_assert_max_num_queries(3):
        assert len(client.get(LIST, {"page_size": 100}).json()["results"]) == len(DEFAULT_METRICS) + 30


def test_detail_shows_one_metric(api_as, cast):
    response = api_as("viewer").get(detail("latency_p95_ms"))

    assert response.status_code == 200
    assert response.json() == {
        "key": "latency_p95_ms",
        "name": "Response latency p95",
        "unit": "ms",
        "kind": "gauge",
        "better": "lower",
        "description": "95th percentile response latency.",
    }


@pytest.mark.parametrize("key", ["nope", "Not-A-Key", "x" * 100])
def test_an_unknown_key_is_404(api_as, cast, key):
    body = assert_problem(api_as("viewer").get(detail(key)), 404)
    assert "No metric with key" in body["detail"]


# --- creating ---


def test_a_lead_adds_a_metric(api_as, cast):
    response = api_as("lead").post(LIST, NEW, format="json")

    assert response.status_code == 201
    assert response["Location"] == reverse("api:metrics:catalogue-detail", kwargs={"key": "sandbox_escapes"})
    assert response.json() == {**NEW, "description": ""}
    metric = Metric.objects.get(key="sandbox_escapes")
    assert (metric.name, metric.kind, metric.better) == ("Sandbox escapes", "counter", "lower")


def test_defaults_of_a_new_metric(api_as, cast):
    response = api_as("lead").post(LIST, {"key": "ab", "name": "Shortest key"}, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "key": "ab", "name": "Shortest key", "unit": "", "kind": "gauge", "better": "neutral", "description": ""
    }  # fmt: skip


def test_a_superuser_adds_a_metric(superuser):
    assert _api_client(superuser).post(LIST, NEW, format="json").status_code == 201


@pytest.mark.parametrize(("who", "status"), [("member", 403), ("viewer", 403), ("no_role", 403), ("anonymous", 401)])
def test_only_leads_add_metrics(api_as, cast, who, status):
    body = assert_problem(api_as(who).post(LIST, NEW, format="json"), status)
    if who in ("member", "viewer"):
        assert "Tier 1 leads" in body["detail"]
    assert not Metric.objects.filter(key="sandbox_escapes").exists()


def test_a_division_token_cannot_add_metrics(token_client):
    body = assert_problem(token_client.post(LIST, NEW, format="json"), 403)
    assert "Division tokens" in body["detail"]
    assert not Metric.objects.filter(key="sandbox_escapes").exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"key": "Sandbox"}, "key", "lower-case letter followed by 1 to 62"),
        ({"key": "9lives"}, "key", "lower-case letter"),
        ({"key": "a"}, "key", "lower-case letter"),
        ({"key": "a" * 64}, "key", "lower-case letter"),
        ({"key": "sandbox-escapes"}, "key", "lower-case letter"),
        ({"key": ""}, "key", "may not be blank"),
        ({"kind": "histogram"}, "kind", "Kind must be one of gauge, counter; not 'histogram'."),
        ({"better": "up"}, "better", "Better must be one of higher, lower, neutral; not 'up'."),
        ({"name": ""}, "name", "may not be blank"),
        ({"name": "n" * 121}, "name", "no more than 120"),
        ({"unit": "u" * 31}, "unit", "no more than 30"),
        ({"colour": "red"}, "colour", "Unknown field"),
        # Text is text: DRF alone would store 0 as "0"; a NUL is refused, as the schema's pattern says.
        ({"name": 0}, "name", "Not a valid string."),
        ({"unit": "m\x00s"}, "unit", "Null characters are not allowed."),
        # The length counts before trimming, as the schema's maxLength does.
        ({"name": "n" * 120 + " "}, "name", "no more than 120"),
    ],
)
def test_bad_fields_are_400_problems_naming_the_field(api_as, cast, change, field, message):
    body = assert_problem(api_as("lead").post(LIST, {**NEW, **change}, format="json"), 400)

    assert [error["field"] for error in body["errors"]] == [field]
    assert message in body["errors"][0]["message"]
    assert Metric.objects.count() == len(DEFAULT_METRICS)


def test_missing_key_and_name_are_both_listed(api_as, cast):
    body = assert_problem(api_as("lead").post(LIST, {"kind": "gauge"}, format="json"), 400)
    assert sorted(error["field"] for error in body["errors"]) == ["key", "name"]


def test_a_taken_key_is_409(api_as, cast):
    body = assert_problem(api_as("lead").post(LIST, {**NEW, "key": "uptime_pct"}, format="json"), 409)

    assert body["detail"] == "A metric with key uptime_pct already exists."
    assert Metric.objects.get(key="uptime_pct").name == "Uptime"


def test_a_new_metric_can_be_posted_at_once(api_as, cast, token_client, django_capture_on_commit_callbacks):
    api_as("lead").post(LIST, NEW, format="json")
    AgentFactory(handle="ta_00008", division=cast.division)
    point = {"metric": "sandbox_escapes", "agent": "ta_00008", "ts": datetime.now(UTC).isoformat(), "value": 1}

    with django_capture_on_commit_callbacks(execute=True):
        response = token_client.post(
            "/api/v1/metrics/batches", json.dumps({"points": [point]}), content_type="application/json"
        )

    assert response.status_code == 202
    assert Series.objects.get().metric.key == "sandbox_escapes"


# --- changing ---


def test_a_lead_changes_a_metric(api_as, cast):
    response = api_as("lead").patch(
        detail("uptime_pct"), {"name": "Availability", "better": "higher", "description": "Up."}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Availability" and response.json()["description"] == "Up."
    metric = Metric.objects.get(key="uptime_pct")
    assert (metric.name, metric.unit, metric.description) == ("Availability", "%", "Up.")


def test_a_superuser_changes_a_metric(superuser):
    response = _api_client(superuser).patch(detail("uptime_pct"), {"kind": "counter"}, format="json")
    assert response.status_code == 200 and response.json()["kind"] == "counter"


@pytest.mark.parametrize(
    ("who", "status"),
    [("member", 403), ("other_member", 403), ("viewer", 403), ("no_role", 403), ("anonymous", 401)],
)
def test_only_leads_change_metrics(api_as, cast, who, status):
    assert_problem(api_as(who).patch(detail("uptime_pct"), {"name": "Nope"}, format="json"), status)
    assert Metric.objects.get(key="uptime_pct").name == "Uptime"


def test_a_division_token_cannot_change_metrics(token_client):
    assert_problem(token_client.patch(detail("uptime_pct"), {"name": "Nope"}, format="json"), 403)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"key": "uptime"}, "key", "cannot be changed"),
        ({}, "", "Nothing to change"),
        ({"kind": "histogram"}, "kind", "Kind must be one of gauge, counter"),
        ({"better": ""}, "better", "Better must be one of higher, lower, neutral"),
        ({"name": ""}, "name", "may not be blank"),
        ({"series": 3}, "series", "Unknown field"),
    ],
)
def test_bad_changes_are_400_problems(api_as, cast, body, field, message):
    problem = assert_problem(api_as("lead").patch(detail("uptime_pct"), body, format="json"), 400)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert message in problem["errors"][0]["message"]
    assert Metric.objects.get(key="uptime_pct").name == "Uptime"


def test_changing_an_unknown_metric_is_404(api_as, cast):
    assert_problem(api_as("lead").patch(detail("nope"), {"name": "x"}, format="json"), 404)


def test_other_methods_are_405_with_the_paths_methods(api_as, cast):
    on_list = assert_problem(api_as("lead").delete(LIST), 405)
    on_detail = api_as("lead").delete(detail("uptime_pct"))

    assert on_list["status"] == 405 and on_detail.status_code == 405
    assert api_as("lead").delete(LIST)["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert on_detail["Allow"] == "GET, PATCH, HEAD, OPTIONS"
    assert Metric.objects.filter(key="uptime_pct").exists()


# --- schema ---


def test_schema_documents_the_catalogue(client, db):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    assert set(paths["/api/v1/metrics/catalogue"]) == {"get", "post"}
    assert set(paths["/api/v1/metrics/catalogue/{key}"]) == {"get", "patch"}
    create = paths["/api/v1/metrics/catalogue"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/MetricCreate")
    assert {"201", "400", "401", "403", "409"} <= create["responses"].keys()
    assert PROBLEM in create["responses"]["409"]["content"]
    assert set(components["MetricCreate"]["required"]) == {"key", "name"}
    assert components["MetricCreate"]["properties"]["key"]["pattern"] == "^[a-z][a-z0-9_]{1,62}$"
    patch = paths["/api/v1/metrics/catalogue/{key}"]["patch"]
    update = components[patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert update["properties"].keys() == {"name", "unit", "kind", "better", "description"}
    assert components["MetricPage"]["properties"]["results"]["items"]["$ref"].endswith("/Metric")
    assert [p["name"] for p in patch["parameters"]] == ["key"]
