"""metrics.apis.series (GET /api/v1/metrics/series) through HTTP: shapes (JSON, CSV), who reads what, and the
problem answers."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import factory
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from agents.services.tokens import division_token_create, division_token_revoke
from metrics.selectors import MAX_SERIES
from tests.factories import AgentFactory, DivisionFactory, DomainFactory
from tests.helpers import assert_problem

URL = "/api/v1/metrics/series"
# A round hour two hours ago: inside the default 24-hour window.
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
Z = "%Y-%m-%dT%H:%M:%SZ"


def _z(moment: datetime) -> str:
    return moment.strftime(Z)


@pytest.fixture
def cast_with_latency(cast, land):
    """The cast's divisions (domain NovaOps) with two and one agents, and OrchOps's Resource Scheduling with one;
    latency points (and one division-level queue_backlog) at T0."""
    orchops = DomainFactory(slug="orchops", name="OrchOps")
    scheduling = DivisionFactory(domain=orchops, slug="resource-scheduling", name="Resource Scheduling")
    AgentFactory(handle="ta_00008", callsign="Core", division=cast.division)
    AgentFactory(handle="ta_00009", callsign="Atlas", division=cast.division)
    AgentFactory(handle="ta_00020", callsign="Beacon", division=cast.other_division)
    AgentFactory(handle="ta_00151", callsign="Meridian", division=scheduling)
    minute = timedelta(minutes=1)
    land(cast.division, [("latency_p95_ms", "ta_00008", T0, 40.0), ("latency_p95_ms", "ta_00008", T0 + minute, 43.0),
                         ("latency_p95_ms", "ta_00009", T0 + 2 * minute, 10.0),
                         ("queue_backlog", None, T0, 5.0)])  # fmt: skip
    land(cast.other_division, [("latency_p95_ms", "ta_00020", T0, 20.0)])
    land(scheduling, [("latency_p95_ms", "ta_00151", T0 + 10 * minute, 80.0)])
    return {"orchops": orchops, "scheduling": scheduling}


def _groups(body: dict, label: str = "agent") -> dict:
    return {(s["metric"], s["group"][label]): s["points"] for s in body["series"]}


def assert_bad_parameter(response, field: str) -> dict:
    """A 400 problem that names `field` among its errors; returns the body."""
    body = assert_problem(response, 400)
    assert field in [error["field"] for error in body["errors"]], body
    return body


# --- shapes ---


def test_json_groups_by_agent_by_default_over_the_last_24_hours(api_as, cast_with_latency):
    response = api_as("viewer").get(URL, {"metric": "latency_p95_ms"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    end = datetime.fromisoformat(body["end"])
    assert datetime.fromisoformat(body["start"]) == end - timedelta(hours=24)
    assert abs(end - datetime.now(UTC)) < timedelta(minutes=1)
    assert {k: body[k] for k in ("metric", "resolution_seconds", "agg", "group_by")} == {
        "metric": ["latency_p95_ms"],
        "resolution_seconds": 300,
        "agg": "avg",
        "group_by": "agent",
    }
    assert [(s["metric"], s["group"], s["points"]) for s in body["series"]] == [
        ("latency_p95_ms", {"agent": "ta_00008", "callsign": "Core", "division": "novacore-runtime"}, [[_z(T0), 41.5]]),
        ("latency_p95_ms", {"agent": "ta_00009", "callsign": "Atlas", "division": "novacore-runtime"},
         [[_z(T0), 10.0]]),
        ("latency_p95_ms", {"agent": "ta_00020", "callsign": "Beacon", "division": "tool-ecosystem"}, [[_z(T0), 20.0]]),
        ("latency_p95_ms", {"agent": "ta_00151", "callsign": "Meridian", "division": "resource-scheduling"},
         [[_z(T0 + timedelta(minutes=10)), 80.0]]),
    ]  # fmt: skip
    assert all(s.keys() == {"metric", "group", "points"} for s in body["series"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"group_by": "division", "agg": "sum"},
         {"novacore-runtime": [[_z(T0), 93.0]], "tool-ecosystem": [[_z(T0), 20.0]],
          "resource-scheduling": [[_z(T0 + timedelta(minutes=10)), 80.0]]}),
        ({"group_by": "domain", "agg": "max"},
         {"novaops": [[_z(T0), 43.0]], "orchops": [[_z(T0 + timedelta(minutes=10)), 80.0]]}),
        ({"group_by": "domain", "agg": "count", "resolution_hint": "1h"},
         {"novaops": [[_z(T0), 4]], "orchops": [[_z(T0), 1]]}),
        ({"group_by": "division", "agg": "last", "domain": "novaops"},
         {"novacore-runtime": [[_z(T0), 10.0]], "tool-ecosystem": [[_z(T0), 20.0]]}),
        ({"group_by": "domain", "agg": "min", "division": "tool-ecosystem,resource-scheduling"},
         {"novaops": [[_z(T0), 20.0]], "orchops": [[_z(T0 + timedelta(minutes=10)), 80.0]]}),
    ],
)  # fmt: skip
def test_groups_aggregates_and_filters(api_as, cast_with_latency, params, expected):
    params = dict(params)
    if params.pop("resolution_hint", None):
        # 30 days: hourly buckets, where the 10:10 point joins the 10:00 bucket.
        params["start"] = _z(T0 - timedelta(days=29))
        params["end"] = _z(T0 + timedelta(days=1))
    body = api_as("lead").get(URL, {"metric": "latency_p95_ms", **params}).json()

    label = params["group_by"]
    assert {s["group"][label]: s["points"] for s in body["series"]} == expected
    assert body["agg"] == params["agg"] and body["group_by"] == label


def test_group_labels_per_grouping(api_as, cast_with_latency):
    client = api_as("lead")
    division = client.get(URL, {"metric": "latency_p95_ms", "group_by": "division", "division": "novacore-runtime"})
    domain = client.get(URL, {"metric": "latency_p95_ms", "group_by": "domain", "domain": "orchops"})

    assert [s["group"] for s in division.json()["series"]] == [
        {"division": "novacore-runtime", "name": "NovaCore Runtime"}
    ]
    assert [s["group"] for s in domain.json()["series"]] == [{"domain": "orchops", "name": "OrchOps"}]


def test_metrics_repeat_or_comma_separate_and_division_level_series_have_no_agent(api_as, cast_with_latency):
    client = api_as("member")
    repeated = client.get(f"{URL}?metric=queue_backlog&metric=latency_p95_ms&agent=ta_00008")
    commas = client.get(URL, {"metric": "queue_backlog,latency_p95_ms", "division": "novacore-runtime"})

    assert repeated.json()["metric"] == ["queue_backlog", "latency_p95_ms"]
    assert list(_groups(repeated.json())) == [("latency_p95_ms", "ta_00008")]
    assert _groups(commas.json()) == {
        ("latency_p95_ms", "ta_00008"): [[_z(T0), 41.5]],
        ("latency_p95_ms", "ta_00009"): [[_z(T0), 10.0]],
        ("queue_backlog", None): [[_z(T0), 5.0]],
    }
    backlog = commas.json()["series"][-1]["group"]
    assert backlog == {"agent": None, "callsign": None, "division": "novacore-runtime"}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (_z(T0 - timedelta(hours=1)), _z(T0 + timedelta(hours=1))),
        (str(int((T0 - timedelta(hours=1)).timestamp())), str((T0 + timedelta(hours=1)).timestamp())),
        (
            (T0 - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
            (T0 + timedelta(hours=3)).astimezone(timezone(timedelta(hours=-7))).isoformat(),
        ),
    ],
)
def test_times_are_rfc3339_with_offset_or_epoch_seconds(api_as, cast_with_latency, start, end):
    body = (
        api_as("viewer").get(URL, {"metric": "latency_p95_ms", "start": start, "end": end, "agent": "ta_00008"}).json()
    )

    assert body["start"] == _z(T0 - timedelta(hours=1))
    assert body["series"][0]["points"] == [[_z(T0), 41.5]]


def test_an_unencoded_plus_in_the_offset_still_parses(api_as, cast_with_latency):
    start = (T0 - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    # A raw "+" in a query string is a space once decoded.
    response = api_as("viewer").get(f"{URL}?metric=latency_p95_ms&start={start}")

    assert response.status_code == 200, response.json()
    assert response.json()["start"] == _z(T0 - timedelta(hours=1))


def test_the_resolution_follows_the_range(api_as, cast_with_latency):
    client = api_as("viewer")

    def resolution(days: float) -> int:
        params = {"metric": "latency_p95_ms", "start": _z(T0 - timedelta(days=days)), "end": _z(T0)}
        return client.get(URL, params).json()["resolution_seconds"]

    assert [resolution(d) for d in (1 / 24, 3, 30, 365, 1500)] == [300, 300, 3600, 86400, 172800]


# --- CSV ---


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].split(";")[0] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_by_format_parameter_has_a_header_and_a_row_per_point(api_as, cast_with_latency):
    rows = _csv(api_as("viewer").get(URL, {"metric": "latency_p95_ms,queue_backlog", "division": "novacore-runtime",
                                           "format": "csv"}))  # fmt: skip

    assert rows == [
        ["metric", "agent", "callsign", "division", "ts", "value"],
        ["latency_p95_ms", "ta_00008", "Core", "novacore-runtime", _z(T0), "41.5"],
        ["latency_p95_ms", "ta_00009", "Atlas", "novacore-runtime", _z(T0), "10.0"],
        ["queue_backlog", "", "", "novacore-runtime", _z(T0), "5.0"],
    ]


def test_csv_by_accept_header_with_domain_groups(api_as, cast_with_latency):
    response = api_as("viewer").get(URL, {"metric": "latency_p95_ms", "group_by": "domain", "agg": "count"},
                                    HTTP_ACCEPT="text/csv")  # fmt: skip

    assert _csv(response) == [
        ["metric", "domain", "name", "ts", "value"],
        ["latency_p95_ms", "novaops", "NovaOps", _z(T0), "4"],
        ["latency_p95_ms", "orchops", "OrchOps", _z(T0 + timedelta(minutes=10)), "1"],
    ]


def test_csv_without_data_is_the_header_alone(api_as, cast_with_latency):
    rows = _csv(api_as("viewer").get(URL, {"metric": "uptime_pct", "group_by": "division", "format": "csv"}))
    assert rows == [["metric", "division", "name", "ts", "value"]]


def test_a_problem_stays_json_when_csv_was_asked_for(api_as, cast_with_latency):
    response = api_as("viewer").get(URL, {"metric": "latency_p95_ms", "agg": "median", "format": "csv"})
    assert_bad_parameter(response, "agg")


def test_an_unknown_accept_is_406(api_as, cast_with_latency):
    assert_problem(api_as("viewer").get(URL, {"metric": "latency_p95_ms"}, HTTP_ACCEPT="text/html"), 406)


# --- who reads ---


@pytest.mark.parametrize(
    ("who", "status"),
    [("lead", 200), ("member", 200), ("other_member", 200), ("viewer", 200), ("no_role", 403), ("anonymous", 401)],
)
def test_people_with_any_role_read_every_series(api_as, cast_with_latency, who, status):
    response = api_as(who).get(URL, {"metric": "latency_p95_ms"})

    assert response.status_code == status
    if status == 200:
        assert len(response.json()["series"]) == 4
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_superuser_without_a_role_reads(cast_with_latency, superuser):
    client = APIClient()
    client.force_authenticate(superuser)
    assert client.get(URL, {"metric": "latency_p95_ms"}).status_code == 200


def test_a_division_token_reads_its_own_division_only(token_client, cast_with_latency):
    client = token_client

    agents = client.get(URL, {"metric": "latency_p95_ms"})
    domains = client.get(URL, {"metric": "latency_p95_ms", "group_by": "domain", "agg": "sum"})
    own_agent = client.get(URL, {"metric": "latency_p95_ms", "agent": "ta_00009"})
    own_domain = client.get(URL, {"metric": "latency_p95_ms", "domain": "novaops", "division": "novacore-runtime"})

    assert [s["group"]["agent"] for s in agents.json()["series"]] == ["ta_00008", "ta_00009"]
    assert _groups(domains.json(), "domain") == {("latency_p95_ms", "novaops"): [[_z(T0), 93.0]]}
    assert [s["group"]["agent"] for s in own_agent.json()["series"]] == ["ta_00009"]
    assert len(own_domain.json()["series"]) == 2


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"agent": "ta_00008,ta_00020"}, "ta_00020"),
        ({"division": "tool-ecosystem"}, "tool-ecosystem"),
        ({"domain": "orchops"}, "orchops"),
    ],
)
def test_a_division_token_naming_another_division_is_403(token_client, cast_with_latency, params, named):
    body = assert_problem(token_client.get(URL, {"metric": "latency_p95_ms", **params}), 403)
    assert named in body["detail"] and "NovaCore Runtime" in body["detail"]


def test_a_revoked_token_is_403_and_a_bad_one_401(cast, cast_with_latency):
    token, secret = division_token_create(division=cast.division, name="old")
    division_token_revoke(token=token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert_problem(client.get(URL, {"metric": "latency_p95_ms"}), 403)
    client.credentials(HTTP_AUTHORIZATION="Bearer nvo_nope_nope")
    assert_problem(client.get(URL, {"metric": "latency_p95_ms"}), 401)


# --- problems ---


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({}, "metric", "Required"),
        ({"metric": ""}, "metric", "at least one"),
        ({"metric": "latency_p95_ms,nope,nada"}, "metric", "Unknown metrics: nope, nada."),
        ({"metric": ",".join(["uptime_pct"] + [f"m{i:02d}" for i in range(20)])}, "metric", "At most 20"),
        ({"start": "yesterday"}, "start", "Not an RFC 3339 timestamp"),
        ({"end": "2026-11-27T10:00:00"}, "end", "no UTC offset"),
        ({"end": "1" * 30}, "end", "out of range"),
        ({"start": _z(T0), "end": _z(T0)}, "start", "before end"),
        ({"start": _z(T0), "end": _z(T0 - timedelta(hours=1))}, "start", "before end"),
        ({"start": _z(T0 - timedelta(days=1831)), "end": _z(T0)}, "start", "over 1830 days"),
        ({"agg": "median"}, "agg", "agg must be one of avg, sum, min, max, count, last; not 'median'."),
        ({"group_by": "team"}, "group_by", "group_by must be one of agent, division, domain"),
        ({"agent": "ta_00008,ta_99999"}, "agent", "Unknown agent: ta_99999."),
        ({"division": "nope"}, "division", "Unknown division: nope."),
        ({"domain": "nope"}, "domain", "Unknown domain: nope."),
        ({"agent": ""}, "agent", "at least one value, or leave the parameter out"),
        ({"format": "xml"}, "format", "format must be json or csv; not 'xml'."),
        ({"metric": "a\x00"}, "metric", "NUL"),
        ({"metrics": "uptime_pct"}, "metrics", "Unknown query parameter"),
    ],
)
def test_bad_parameters_are_400_problems_naming_the_parameter(api_as, cast_with_latency, params, field, message):
    params = {"metric": "latency_p95_ms", **params} if "metric" not in params and params != {} else params
    body = assert_bad_parameter(api_as("viewer").get(URL, params), field)
    assert message in json.dumps(body["errors"]), body


def test_several_bad_parameters_are_listed_together(api_as, cast_with_latency):
    body = assert_problem(api_as("viewer").get(URL, {"metric": "nope", "agg": "x", "start": "y"}), 400)
    assert sorted(error["field"] for error in body["errors"]) == ["agg", "metric", "start"]


def test_a_query_matching_too_many_series_is_a_400_naming_the_count(api_as, cast, land):
    handles = [f"ta_{1000 + n:05d}" for n in range(MAX_SERIES // 2 + 1)]
    AgentFactory.create_batch(len(handles), handle=factory.Iterator(handles), division=cast.division)
    land(cast.division, [(metric, h, T0, 1.0) for h in handles for metric in ("uptime_pct", "error_rate_pct")])
    client = api_as("viewer")

    body = assert_bad_parameter(client.get(URL, {"metric": "uptime_pct,error_rate_pct"}), "metric")
    assert f"matches {2 * len(handles)} series (metric × agent); at most {MAX_SERIES}" in json.dumps(
        body["errors"], ensure_ascii=False
    )
    # The way out the message names: one metric, or coarser groups.
    assert len(client.get(URL, {"metric": "uptime_pct"}).json()["series"]) == len(handles)
    assert len(client.get(URL, {"metric": "uptime_pct,error_rate_pct", "group_by": "division"}).json()["series"]) == 2


def test_other_methods_are_405(api_as, cast_with_latency):
    assert_problem(api_as("lead").post(URL, {}, format="json"), 405)


# --- cost ---


@pytest.mark.parametrize("agents", [2, 40])
def test_query_budget_holds_whatever_the_number_of_series(api_as, cast, land, django_assert_max_num_queries, agents):
    handles = [f"ta_{300 + n:05d}" for n in range(agents)]
    for handle in handles:
        AgentFactory(handle=handle, division=cast.division)
    land(cast.division, [("uptime_pct", h, T0 - timedelta(minutes=5 * i), 99.0) for h in handles for i in range(12)])
    client = api_as("lead")

    # user's person (1), metric keys (1), agents, divisions and domains (1 each), the series count and the
    # aggregate (2).
    with django_assert_max_num_queries(7):
        response = client.get(
            URL,
            {"metric": "uptime_pct", "agent": ",".join(handles), "division": "novacore-runtime", "domain": "novaops"},
        )

    assert response.status_code == 200
    assert len(response.json()["series"]) == agents
    assert all(len(s["points"]) == 12 for s in response.json()["series"])


def test_query_budget_for_a_division_token(token_client, cast, cast_with_latency, django_assert_max_num_queries):
    client = token_client
    # token lookup with its division and domain (1), last_used_at (1, at most once a minute), metric keys (1),
    # the series count and the aggregate (2).
    with django_assert_max_num_queries(5):
        assert client.get(URL, {"metric": "latency_p95_ms", "group_by": "division"}).status_code == 200


# --- schema ---


def test_schema_documents_the_series_endpoint(client, db):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/metrics/series"]["get"]

    names = {p["name"] for p in operation["parameters"]}
    assert names == {"metric", "start", "end", "group_by", "agg", "agent", "division", "domain", "format"}
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {"400", "401", "403"} <= operation["responses"].keys()
    payload = schema["components"]["schemas"]["SeriesAggregate"]["properties"]
    assert payload.keys() == {"metric", "start", "end", "resolution_seconds", "agg", "group_by", "series"}
    assert reverse("api:metrics:series") == URL
