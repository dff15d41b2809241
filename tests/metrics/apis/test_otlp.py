"""metrics.apis.otlp (POST /otlp/v1/metrics) with the real client: the OpenTelemetry Python SDK and its OTLP/HTTP
exporter, configured by the environment variables the README gives, against a live server; the values read back
through /api/v1/metrics/series. Then the answers the OTLP specification asks for, each bad input in turn, and
(marked `worker`) a 503 from a real gunicorn that the exporter retries, the points landing once."""

import gzip
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.urls import reverse
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from rest_framework.test import APIClient

from agents.services.tokens import division_token_create, division_token_revoke
from metrics.models import IngestBatch, Metric
from metrics.sources.otlp import JSON, PROTOBUF
from novaops.errors import RETRY_AFTER_SECONDS
from tests.factories import AgentFactory, DivisionFactory
from tests.helpers.processes import database_url_for_subprocesses, wait_until
from tests.metrics.sources.test_otlp import attrs, gauge, histogram, request, total

URL = "/otlp/v1/metrics"
# What each agent records, in two exports: the counter's running total and the histogram grow between them.
FIRST = {"queue.depth": 4.0, "jobs.done": 5, "rpc.duration": [3.0, 12.0]}
SECOND = {"queue.depth": 6.5, "jobs.done": 3, "rpc.duration": [15.0, 40.0, 70.0]}
BOUNDS = [10.0, 20.0, 50.0]
# From those buckets: (0, 10] 1, (10, 20] 2, (20, 50] 1, (50, +Inf) 1. p50: rank 2.5, 1.5 of 2 into (10, 20];
# p95 and p99 fall in the open bucket: its lower bound.
EXPECTED = {
    "queue_depth": 6.5,
    "jobs_done": 8.0,
    "rpc_duration_count": 5.0,
    "rpc_duration_sum": 140.0,
    "rpc_duration_p50": 17.5,
    "rpc_duration_p95": 50.0,
    "rpc_duration_p99": 50.0,
}
AGENTS = ("ta_00008", "ta_00009")


@pytest.fixture
def fleet(transactional_db, points_cleanup) -> str:
    """A division with agents ta_00008 and ta_00009, committed (a server thread or process must see them); its
    token's secret."""
    division = DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")
    for handle in AGENTS:
        AgentFactory(handle=handle, division=division)
    return division_token_create(division=division, name="otel")[1]


@pytest.fixture
def otel_env(monkeypatch, fleet) -> Callable[[str], None]:
    """configure(base_url): the exporter's environment as the README's recipe sets it, with the fleet's token."""

    def configure(base_url: str) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{base_url}/otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{fleet}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")

    return configure


class OtlpJsonSession(requests.Session):
    """The exporter's own request re-encoded as OTLP/JSON (json_format.MessageToJson, integer enums) on its way out:
    the Python exporter only sends protobuf. Everything else (headers, gzip, retries) stays the exporter's."""

    def request(self, method, url, *, headers=None, data=None, **kwargs):
        headers = {key.lower(): value for key, value in (headers or {}).items()}
        gzipped = headers.get("content-encoding") == "gzip"
        message = ExportMetricsServiceRequest.FromString(gzip.decompress(data) if gzipped else data)
        body = json_format.MessageToJson(message, use_integers_for_enums=True).encode()
        headers["content-type"] = JSON
        response = super().request(
            method, url, headers=headers, data=gzip.compress(body) if gzipped else body, **kwargs
        )
        assert response.headers["Content-Type"] == JSON, response.content
        return response


def record_and_export(handle: str, *, session: requests.Session | None = None, timeout: float = 10) -> None:
    """One process of agent `handle`: a gauge, a counter and a histogram, recorded and exported twice."""
    exporter = OTLPMetricExporter(session=session, timeout=timeout)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"novaops.agent": handle, "service.name": "core"})
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("novaops.tests")
    depth = meter.create_gauge("queue.depth")
    done = meter.create_counter("jobs.done")
    duration = meter.create_histogram("rpc.duration", unit="ms", explicit_bucket_boundaries_advisory=BOUNDS)
    try:
        for recorded in (FIRST, SECOND):
            depth.set(recorded["queue.depth"])
            done.add(recorded["jobs.done"])
            for value in recorded["rpc.duration"]:
                duration.record(value)
            assert provider.force_flush(timeout_millis=60_000)
    finally:
        provider.shutdown()


def read_back(secret: str) -> dict[tuple[str, str], float]:
    """{(metric, agent): value} through /api/v1/metrics/series: counters summed, gauges' last value."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    now = datetime.now(UTC)
    found = {}
    for agg in ("sum", "last"):
        response = client.get(
            "/api/v1/metrics/series",
            {
                "metric": ",".join(EXPECTED),
                "agg": agg,
                "start": (now - timedelta(hours=1)).isoformat(),
                "end": (now + timedelta(minutes=10)).isoformat(),
            },
        )
        assert response.status_code == 200, response.content
        for series in response.json()["series"]:
            values = [value for _, value in series["points"]]
            counter = Metric.objects.get(key=series["metric"]).kind == "counter"
            if (agg == "sum") == counter:
                found[(series["metric"], series["group"]["agent"])] = sum(values) if counter else values[-1]
    return found


def expected(**changed: float) -> dict[tuple[str, str], float]:
    return {(key, handle): value for key, value in (EXPECTED | changed).items() for handle in AGENTS}


# --- the real exporter ------------------------------------------------------------------------------------------


def test_the_sdk_exporter_in_protobuf_lands_gauges_counters_and_histograms_of_two_agents(live_server, otel_env, fleet):
    otel_env(live_server.url)

    for handle in AGENTS:
        record_and_export(handle)

    assert read_back(fleet) == expected()
    # Three exports per agent (two flushes, and shutdown's last one repeating the totals), each its own batch; the
    # names the catalogue lacked were discovered.
    assert IngestBatch.objects.filter(source="otlp").count() == 6
    discovered = Metric.objects.filter(discovered_from="otlp", needs_review=True)
    assert set(discovered.values_list("key", flat=True)) == set(EXPECTED)
    assert Metric.objects.get(key="rpc_duration_p95").name == "rpc.duration (p95)"


def test_with_delta_temporality_the_same_totals_land_and_percentiles_cover_the_last_interval(
    live_server, otel_env, fleet, monkeypatch
):
    otel_env(live_server.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")

    for handle in AGENTS:
        record_and_export(handle)

    # The second interval alone: 15, 40 and 70 ms, one in each of (10, 20], (20, 50] and (50, +Inf).
    assert read_back(fleet) == expected(rpc_duration_p50=35.0)


def test_the_sdk_exporter_in_otlp_json_lands_the_same_values(live_server, otel_env, fleet):
    otel_env(live_server.url)

    for handle in AGENTS:
        record_and_export(handle, session=OtlpJsonSession())

    assert read_back(fleet) == expected()


# --- answers ----------------------------------------------------------------------------------------------------


@pytest.fixture
def agents(division):
    return [AgentFactory(handle=handle, division=division) for handle in AGENTS]


def post(client, body, *, content_type: str = PROTOBUF, **headers):
    if isinstance(body, ExportMetricsServiceRequest):
        body = body.SerializeToString() if content_type != JSON else json_format.MessageToJson(body).encode()
    return client.post(URL, data=body, content_type=content_type, **headers)


def partial_success(response) -> tuple[int, str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == PROTOBUF
    answer = ExportMetricsServiceResponse.FromString(response.content)
    return answer.partial_success.rejected_data_points, answer.partial_success.error_message


def status(response, code: int, content_type: str = PROTOBUF) -> str:
    """The google.rpc.Status message of a refusal with this HTTP status and encoding."""
    assert response.status_code == code, response.content
    assert response["Content-Type"] == content_type
    if content_type == JSON:
        return json_format.Parse(response.content, Status()).message
    return Status.FromString(response.content).message


def test_a_full_success_is_an_empty_response_with_the_batch_stored(token_client, agents):
    response = post(token_client, request(gauge("queue.depth", 4.0)))

    assert partial_success(response) == (0, "")
    batch = IngestBatch.objects.get(source="otlp")
    assert (batch.point_count, batch.status) == (1, "queued")


def test_otlp_json_is_answered_in_json(token_client, agents):
    response = post(token_client, request(gauge("queue.depth", float("nan"))), content_type=JSON)

    assert response.status_code == 200 and response["Content-Type"] == JSON
    assert response.json() == {
        "partialSuccess": {
            "rejectedDataPoints": "1",
            "errorMessage": "1 point(s) refused for NaN values: queue.depth.",
        }
    }


def test_the_same_body_twice_lands_once(token_client, agents):
    body = request(total("jobs.done", 5), gauge("queue.depth", 1.0)).SerializeToString()

    for _ in range(2):
        assert partial_success(post(token_client, gzip.compress(body), HTTP_CONTENT_ENCODING="gzip")) == (0, "")

    assert IngestBatch.objects.filter(source="otlp").count() == 1


def test_a_nan_is_a_partial_success_that_says_nan(token_client, agents):
    response = post(token_client, request(gauge("queue.depth", float("nan"), 2.0)))

    assert partial_success(response) == (1, "1 point(s) refused for NaN values: queue.depth.")
    assert IngestBatch.objects.get(source="otlp").point_count == 1


def test_an_unknown_agent_and_another_divisions_agent_are_refused_in_a_partial_success(token_client, agents, cast):
    AgentFactory(handle="ta_00020", division=cast.other_division)
    body = request(gauge("queue.depth", 1.0))
    body.resource_metrics.extend(
        request(gauge("queue.depth", 2.0), resource={"novaops__agent": "ta_09999"}).resource_metrics
    )
    body.resource_metrics.extend(
        request(gauge("queue.depth", 3.0), resource={"novaops__agent": "ta_00020"}).resource_metrics
    )

    rejected, message = partial_success(post(token_client, body))

    assert rejected == 2
    assert message == (
        "Unknown agent(s): ta_09999. This token acts for NovaCore Runtime; these agents belong to other "
        "divisions: ta_00020."
    )


def test_a_novaops_agent_that_is_not_a_handle_is_refused_in_a_partial_success(token_client, agents):
    body = request(gauge("queue.depth", 1.0), resource={"novaops__agent": "core\x00"})

    assert partial_success(post(token_client, body)) == (
        1,
        "1 point(s) refused for a novaops.agent that is not a handle like ta_00008: queue.depth.",
    )


def test_a_nul_in_a_metric_description_is_left_out_of_the_discovered_metric(token_client, agents):
    metric = gauge("queue.depth", 1.0)
    metric.description = "Jobs\x00 waiting."

    assert partial_success(post(token_client, request(metric))) == (0, "")
    assert Metric.objects.get(key="queue_depth").description == "Jobs waiting."


def test_a_label_set_over_the_limits_is_refused_in_a_partial_success(token_client, agents):
    body = request(gauge("queue.depth", 1.0, attributes=attrs(**{f"k{i}": "v" for i in range(16)})))

    assert partial_success(post(token_client, body)) == (
        1,
        "1 point(s) refused for attributes over the tag limits (17 labels besides the agent; at most 16): queue.depth.",
    )


def test_a_nul_in_an_attribute_is_refused_in_a_partial_success(token_client, agents):
    body = request(gauge("queue.depth", 1.0, attributes=attrs(region="e\x00u")))

    assert partial_success(post(token_client, body)) == (
        1,
        "1 point(s) refused for attributes over the tag limits (Tag 'region' contains a NUL character): queue.depth.",
    )


def test_points_past_the_divisions_series_cap_are_refused_in_a_partial_success(token_client, agents, settings):
    settings.METRICS_DIVISION_MAX_SERIES = 1
    body = request(gauge("queue.depth", 1.0), gauge("cpu.load", 0.5))

    rejected, message = partial_success(post(token_client, body))

    assert rejected == 1
    assert message == "NovaCore Runtime is at its cap of 1 series. Points of new series refused."


def test_points_of_new_names_past_the_divisions_cap_on_names_are_refused_in_a_partial_success(
    token_client, agents, settings
):
    settings.METRICS_DIVISION_MAX_METRICS = 1
    body = request(gauge("queue.depth", 1.0), gauge("cpu.load", 0.5))

    rejected, message = partial_success(post(token_client, body))

    assert rejected == 1
    assert message == "The division is at its cap of 1 metric names; points of new metrics refused: cpu_load."
    assert not Metric.objects.filter(key="cpu_load").exists()


def test_a_truncated_protobuf_is_a_400_status(token_client, agents):
    body = request(histogram("rpc.duration", counts=[1, 2, 3], bounds=[1.0, 2.0])).SerializeToString()

    message = status(post(token_client, body[: len(body) // 2]), 400)

    assert message.startswith("The body is not an OTLP protobuf ExportMetricsServiceRequest: ")
    assert not IngestBatch.objects.exists()


def test_malformed_otlp_json_is_a_400_status_in_json(token_client, agents):
    message = status(post(token_client, b'{"resourceMetrics": 3}', content_type=JSON), 400, JSON)

    assert message.startswith("The body is not an OTLP/JSON ExportMetricsServiceRequest: ")


def test_another_content_type_or_encoding_is_a_415_status(token_client, agents):
    body = request(gauge("queue.depth", 1.0)).SerializeToString()

    assert status(post(token_client, body, content_type="text/plain"), 415) == (
        "Send application/x-protobuf or application/json, not text/plain."
    )
    assert status(post(token_client, body, HTTP_CONTENT_ENCODING="br"), 415) == (
        "Content-Encoding 'br' is not supported; use gzip or none."
    )


def test_a_gzip_bomb_is_a_413_status_before_it_is_inflated_whole(token_client, agents, settings):
    settings.METRICS_MAX_BODY_BYTES = 1_000_000
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < settings.METRICS_MAX_BODY_BYTES

    message = status(post(token_client, bomb, HTTP_CONTENT_ENCODING="gzip"), 413)

    assert message == "Body decompresses to more than 1000000 bytes."


def test_a_body_declared_over_the_limit_is_a_413_status_before_it_is_read(token_client, agents, settings):
    settings.METRICS_MAX_BODY_BYTES = 10
    body = request(gauge("queue.depth", 1.0)).SerializeToString()

    assert status(post(token_client, body), 413) == f"Body of {len(body)} bytes is over the 10-byte limit."


def test_a_division_over_its_quota_gets_a_429_with_retry_after(token_client, agents, settings):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 0

    response = post(token_client, request(gauge("queue.depth", 1.0)))

    assert status(response, 429) == "NovaCore Runtime is over its quota of 0 batches a minute."
    assert response["Retry-After"] == "60"


def test_no_token_is_a_401_with_www_authenticate(client, agents):
    response = post(client, request(gauge("queue.depth", 1.0)))

    assert status(response, 401) == "Authentication credentials were not provided."
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_revoked_token_is_a_403(token, agents):
    division_token_revoke(token=token[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")

    assert status(post(client, request(gauge("queue.depth", 1.0))), 403) == f"Token {token[0].prefix} was revoked."


def test_the_endpoint_is_not_in_the_openapi_schema(schema):
    assert reverse("otlp-metrics") == URL
    assert not [path for path in schema["paths"] if "otlp" in path]


# --- a 503, retried by the exporter -----------------------------------------------------------------------------


@pytest.mark.worker
def test_a_503_while_the_database_refuses_is_retried_by_the_exporter_and_lands_once(
    otel_env, fleet, broker, gunicorn, workers, blocker, caplog
):
    """The web process's database answers "lock timeout" while a transaction of the test holds the batch table:
    a real refusal, which NovaOps answers 503 with Retry-After. The exporter waits that long and sends again; by
    then the table is free, and the export is stored once."""
    url = database_url_for_subprocesses()
    web = gunicorn(
        database_url=f"{url}{'&' if '?' in url else '?'}options=-c%20lock_timeout%3D1000", redis_url=broker.url
    )
    workers()
    otel_env(f"http://127.0.0.1:{web.port}")
    blocker.execute("LOCK TABLE metrics_ingestbatch IN ACCESS EXCLUSIVE MODE")
    caplog.set_level(logging.WARNING, logger="opentelemetry.exporter.otlp.proto.http.metric_exporter")
    failures: list[BaseException] = []

    def export() -> None:
        try:
            record_and_export("ta_00008", timeout=60)
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)

    exporting = threading.Thread(target=export)
    exporting.start()
    retry = wait_until(
        lambda: [r.getMessage() for r in caplog.records if "Service Unavailable" in r.getMessage()],
        timeout=30,
        what="the exporter to be answered 503 and to retry",
    )
    assert f"retrying in {RETRY_AFTER_SECONDS:.2f}s" in retry[0]  # as long as Retry-After said
    blocker.rollback()
    exporting.join(timeout=120)
    assert not exporting.is_alive() and not failures, failures

    batches = IngestBatch.objects.filter(source="otlp")
    wait_until(lambda: set(batches.values_list("status", flat=True)) == {"done"}, timeout=30, what="the batches")
    assert batches.count() == 3  # one per export: the refused attempt stored nothing
    found = read_back(fleet)
    assert found == {key: value for key, value in expected().items() if key[1] == "ta_00008"}
