"""metrics.apis.pushgateway through HTTP: prometheus_client's own push functions against a live server, the group
semantics (PUT replaces, POST adds, DELETE ends), and every refusal storing nothing."""

import gzip
import json
from urllib.error import HTTPError

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import (
    basic_auth_handler,
    default_handler,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)
from rest_framework.test import APIClient

from metrics.models import IngestBatch, Metric, Point, PushGroup, PushGroupSeries, Series
from tests.factories import AgentFactory
from tests.helpers import assert_problem

URL = "/pushgateway/metrics/job/nightly"
TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _bearer(secret: str):
    """A push_to_gateway handler sending the token as a Bearer token (prometheus_client has none of its own)."""

    def handler(url, method, timeout, headers, data):
        return default_handler(url, method, timeout, [*headers, ("Authorization", f"Bearer {secret}")], data)

    return handler


def _basic(secret: str):
    def handler(url, method, timeout, headers, data):
        return basic_auth_handler(url, method, timeout, headers, data, "nightly-job", secret)

    return handler


def _registry(**gauges: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    for name, value in gauges.items():
        Gauge(name, f"{name}.", registry=registry).set(value)
    return registry


def _points(key: str) -> list[tuple[dict, float]]:
    """(tags, value) of every stored point of the metric, oldest first."""
    rows = Point.objects.filter(series__metric__key=key).order_by("ts").values_list("series__tags", "value")
    return list(rows)


def _held(key: str) -> list[bool]:
    """For each membership of the metric's series in a group, oldest first: is it still held (not ended)?"""
    members = PushGroupSeries.objects.filter(series__metric__key=key).order_by("started_at")
    return [member.ended_at is None for member in members]


def _nothing_stored() -> None:
    assert not IngestBatch.objects.exists()
    assert not Series.objects.exists()
    assert not PushGroup.objects.exists()
    assert not Metric.objects.filter(discovered_from="pushgateway").exists()


# --- prometheus_client against a live server ---


@pytest.fixture
def gateway(live_server, points_cleanup) -> str:
    return f"{live_server.url}/pushgateway"


def test_push_to_gateway_with_a_bearer_token_lands_the_values(gateway, token, agent):
    registry = CollectorRegistry()
    Counter("rows_loaded", "Rows loaded.", registry=registry).inc(120)
    Gauge("last_success_unixtime", "Last success.", registry=registry).set(1_796_000_000)
    Histogram("run_seconds", "Run time.", buckets=(1, 10), registry=registry).observe(4)

    push_to_gateway(
        gateway, job="nightly", grouping_key={"agent": "ta_00008", "shard": "eu/1"}, registry=registry,
        handler=_bearer(token[1]), compression="gzip",
    )  # fmt: skip

    tags = {"job": "nightly", "shard": "eu/1"}
    assert _points("rows_loaded_total") == [(tags, 120.0)]
    assert _points("last_success_unixtime") == [(tags, 1_796_000_000.0)]
    assert _points("run_seconds_count") == [(tags, 1.0)]
    assert [value for _, value in _points("run_seconds_p50")] == [5.5]
    assert set(Series.objects.values_list("agent__handle", flat=True)) == {"ta_00008"}
    discovered = Metric.objects.get(key="rows_loaded_total")
    assert (discovered.kind, discovered.discovered_from, discovered.needs_review) == ("counter", "pushgateway", True)
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    read = reader.get("/api/v1/metrics/series", {"metric": "last_success_unixtime", "agg": "last"})
    assert [series["points"][0][1] for series in read.json()["series"]] == [1_796_000_000.0]


def test_pushadd_with_basic_auth_adds_and_delete_ends_the_group(gateway, token):
    pushadd_to_gateway(gateway, job="nightly", registry=_registry(rows=1, errors=0), handler=_basic(token[1]))
    pushadd_to_gateway(gateway, job="nightly", registry=_registry(rows=2), handler=_basic(token[1]))

    assert [value for _, value in _points("rows")] == [1.0, 2.0]
    assert [value for _, value in _points("errors")] == [0.0]  # POST replaced `rows` only
    assert (_held("rows"), _held("errors")) == ([True], [True])

    delete_from_gateway(gateway, job="nightly", handler=_basic(token[1]))

    assert (_held("rows"), _held("errors")) == ([False], [False])
    assert Point.objects.count() == 3  # the history stays


def test_a_push_for_another_divisions_agent_is_refused(gateway, token, cast):
    AgentFactory(handle="ta_00020", division=cast.other_division)

    with pytest.raises(HTTPError) as refused:
        push_to_gateway(
            gateway, job="nightly", grouping_key={"agent": "ta_00020"}, registry=_registry(rows=1),
            handler=_bearer(token[1]),
        )  # fmt: skip

    assert refused.value.code == 403
    problem = json.loads(refused.value.read())
    assert problem["detail"] == (
        "This token acts for NovaCore Runtime; agent ta_00020 belongs to another division. Nothing was stored."
    )
    assert problem["agents"] == ["ta_00020"]
    _nothing_stored()


# --- group semantics ---


@pytest.fixture
def push(token, django_capture_on_commit_callbacks):
    """push(method, body, path=…, **headers) with the division's token; whatever the commit enqueues lands."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")

    def send(method: str, body: bytes = b"", *, path: str = URL, content_type: str = TEXT, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.generic(method, path, body, content_type=content_type, **headers)

    return send


def test_put_replaces_the_group_and_ends_what_it_no_longer_has(push):
    first = push("PUT", b"rows 1\nerrors 0\n")
    assert first.status_code == 200
    assert first.json() == {"batch": first.json()["batch"], "points": 2, "series": 2, "series_ended": 0}
    assert first["Location"].endswith(f"/api/v1/metrics/batches/{first.json()['batch']}")

    second = push("PUT", b"rows 2\n")

    assert (second.status_code, second.json()["series_ended"]) == (200, 1)
    assert (_held("rows"), _held("errors")) == ([True], [False])
    assert push("PUT", b"rows 3\nerrors 1\n").json()["series_ended"] == 0
    assert _held("errors") == [False, True]  # back in the group: a new membership
    assert [value for _, value in _points("errors")] == [0.0, 1.0]


def test_an_empty_put_ends_the_whole_group(push):
    push("PUT", b"rows 1\nerrors 0\n")

    response = push("PUT", b"")

    assert response.json() == {"batch": None, "points": 0, "series": 0, "series_ended": 2}
    assert "Location" not in response


def test_post_replaces_the_series_of_the_families_it_names(push):
    push("POST", b'rows{table="a"} 1\nrows{table="b"} 1\nerrors 0\n')

    assert push("POST", b'rows{table="a"} 2\n').json()["series_ended"] == 1

    held = PushGroupSeries.objects.filter(ended_at__isnull=True).values_list("series__tags", flat=True)
    assert sorted(tags.get("table", "-") for tags in held) == ["-", "a"]


def test_delete_ends_every_series_and_keeps_the_points(push):
    push("PUT", b"rows 1\nerrors 0\n")

    deleted = push("DELETE", content_type=TEXT)

    assert (deleted.status_code, deleted.json()) == (202, {"series_ended": 2})
    assert Point.objects.count() == 2
    assert push("DELETE").json() == {"series_ended": 0}
    assert push("DELETE", path="/pushgateway/metrics/job/never-pushed").json() == {"series_ended": 0}


def test_groups_are_told_apart_by_their_labels(push):
    push("PUT", b"rows 1\n", path=f"{URL}/shard/a")
    push("PUT", b"rows 2\n", path=f"{URL}/shard/b")
    push("DELETE", path=f"{URL}/shard/a")

    assert sorted((tags["shard"], held) for tags, held in _membership("rows")) == [("a", False), ("b", True)]


def _membership(key: str) -> list[tuple[dict, bool]]:
    members = PushGroupSeries.objects.filter(series__metric__key=key)
    return [(member.series.tags, member.ended_at is None) for member in members.select_related("series")]


def test_counter_totals_are_stored_as_increments(push):
    push("PUT", b"# TYPE rows_total counter\nrows_total 5\n")
    push("PUT", b"# TYPE rows_total counter\nrows_total 12\n")

    assert [value for _, value in _points("rows_total")] == [5.0, 7.0]


def test_the_same_push_twice_lands_once_but_another_method_or_group_is_another_push(push):
    first = push("PUT", b"rows 1\n")
    again = push("PUT", b"rows 1\n")

    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert push("POST", b"rows 1\n").json()["batch"] != first.json()["batch"]
    assert push("PUT", b"rows 1\n", path=f"{URL}/shard/a").json()["batch"] != first.json()["batch"]
    assert IngestBatch.objects.count() == 3


def test_gzip_and_curls_default_content_type_are_read(push):
    assert push("PUT", gzip.compress(b"rows 1\n"), HTTP_CONTENT_ENCODING="gzip").status_code == 200
    assert push("POST", b"errors 1\n", content_type="application/x-www-form-urlencoded").status_code == 200
    assert [value for _, value in _points("rows") + _points("errors")] == [1.0, 1.0]


def test_the_endpoint_is_not_in_the_openapi_schema(schema):
    assert not [path for path in schema["paths"] if "pushgateway" in path]


# --- refusals: the status and message each time, nothing stored ---


def test_no_token_is_a_401(client, db):
    response = client.put(URL, b"rows 1\n", content_type=TEXT)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("content_type", "encoding", "detail"),
    [
        (
            "application/json",
            "",
            "Send the Prometheus text format (text/plain; version=0.0.4), not application/json: protobuf and "
            "OpenMetrics pushes are not read here.",
        ),
        (
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            "",
            "Send the Prometheus text format (text/plain; version=0.0.4), not application/vnd.google.protobuf: "
            "protobuf and OpenMetrics pushes are not read here.",
        ),
        (TEXT, "snappy", "Content-Encoding 'snappy' is not supported; use gzip or none."),
    ],
)
def test_wrong_content_type_or_encoding_is_a_415(push, content_type, encoding, detail):
    response = push("PUT", b"rows 1\n", content_type=content_type, HTTP_CONTENT_ENCODING=encoding)
    assert_problem(response, 415, detail)
    _nothing_stored()


def test_a_gzip_bomb_is_a_413(push, settings):
    settings.METRICS_MAX_BODY_BYTES = 1_000_000
    bomb = gzip.compress(b"rows 1\n" + b"#" * 5_000_000)

    response = push("PUT", bomb, HTTP_CONTENT_ENCODING="gzip")

    assert_problem(response, 413, "Body decompresses to more than 1000000 bytes.")
    _nothing_stored()


def test_a_body_declared_over_the_limit_is_a_413(push, settings):
    settings.METRICS_MAX_BODY_BYTES = 10
    assert_problem(push("PUT", b"rows 1\nerrors 2\n"), 413, "Body of 16 bytes is over the 10-byte limit.")


@pytest.mark.parametrize(
    ("body", "path", "detail"),
    [
        (b"rows NaN\n", URL, "rows is nan: NovaOps stores finite values only. Nothing was stored."),
        (
            b"rows{" + ",".join(f'l{i}="v"' for i in range(16)).encode() + b"} 1\n",
            URL,
            None,  # 17 tags with the job: the message names the sample
        ),
        (b"rows 1\n", f"{URL}/agent/ta_99999", "Unknown agent 'ta_99999' in the grouping path. Nothing was stored."),
        (b'rows{agent="ta_99999"} 1\n', URL, "Unknown agent(s): ta_99999. Nothing was stored."),
        (
            b'rows{shard="b"} 1\n',
            f"{URL}/shard/a",
            "rows{shard=\"b\"}: label shard='b' contradicts the grouping label shard='a'. Nothing was stored.",
        ),
        (b"rows 1\n", "/pushgateway/metrics/job/nightly/shard", None),
    ],
)
def test_bad_pushes_are_a_400(push, body, path, detail):
    body_seen = assert_problem(push("PUT", body, path=path), 400, detail)
    if detail is None:
        assert body_seen["detail"]
    _nothing_stored()


def test_a_sample_for_another_divisions_agent_is_a_403_naming_it(push, cast, agent):
    AgentFactory(handle="ta_00020", division=cast.other_division)

    response = push("PUT", b'rows{agent="ta_00008"} 1\nrows{agent="ta_00020"} 1\n')

    assert_problem(
        response,
        403,
        "This token acts for NovaCore Runtime; these agents belong to other divisions: ta_00020. Nothing was stored.",
    )
    _nothing_stored()


def test_deleting_a_group_of_another_divisions_agent_is_a_403(push, cast):
    AgentFactory(handle="ta_00020", division=cast.other_division)

    response = push("DELETE", path=f"{URL}/agent/ta_00020")

    assert_problem(
        response,
        403,
        "This token acts for NovaCore Runtime; agent ta_00020 belongs to another division. Nothing was changed.",
    )


def test_a_push_past_the_division_cap_is_a_422_and_stores_nothing(push, settings):
    settings.METRICS_DIVISION_MAX_SERIES = 2

    response = push("PUT", b'rows{table="a"} 1\nrows{table="b"} 1\nrows{table="c"} 1\n')

    assert_problem(
        response,
        422,
        "NovaCore Runtime is at its cap of 2 series. Points of new series refused. Nothing was stored.",
    )
    _nothing_stored()


def test_a_division_over_its_quota_is_a_429(push, settings):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 0

    response = push("PUT", b"rows 1\n")

    assert_problem(response, 429)
    assert response["Retry-After"] == "60"
    _nothing_stored()
