"""metrics.apis.remote_write (POST /api/v1/prom/write) through HTTP: what lands, the protocol's statuses and their
messages; then a real Prometheus scraping an exporter of the test's and remote-writing to a real NovaOps, which is
restarted in the middle."""

import base64
import math
import os
import random
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from rest_framework.test import APIClient

from agents.services.tokens import division_token_create
from metrics.models import IngestBatch, Metric, Point, Series
from tests.factories import AgentFactory, DivisionFactory
from tests.helpers import assert_problem
from tests.helpers.processes import database_url_for_subprocesses, free_port, stop_group, wait_until
from tests.helpers.prometheus import REMOTE_WRITE_HEADERS, prometheus_start, snappy, write_request

URL = "/api/v1/prom/write"
NOW = datetime.now(UTC).replace(microsecond=0)
T_MS = int((NOW - timedelta(minutes=2)).timestamp() * 1000)
HEADERS = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in REMOTE_WRITE_HEADERS.items()}


def _at(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def _send(client: APIClient, raw: bytes, **headers):
    headers = {**HEADERS, **headers}
    content_type = headers.pop("HTTP_CONTENT_TYPE")
    return client.generic("POST", URL, raw, content_type=content_type, **headers)


@pytest.fixture
def write(token_client, django_capture_on_commit_callbacks):
    """write(*series) → the answer to a WriteRequest of these series, Prometheus' headers, the commit's task run."""

    def send(*series, client=None, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return _send(client or token_client, snappy(write_request(*series)), **headers)

    return send


def _stored(key: str) -> list[tuple]:
    """(agent handle, tags, ts, value) of the metric's points."""
    rows = Point.objects.filter(series__metric__key=key).values_list(
        "series__agent__handle", "series__tags", "ts", "value"
    )
    return sorted(rows, key=lambda row: (row[0] or "", row[2]))


def test_scraped_series_land_with_agents_tags_counters_as_increments_and_percentiles(write, agent):
    job = {"job": "node", "instance": "h:9100"}
    buckets = [("0.1", 10.0), ("0.5", 90.0), ("+Inf", 100.0)]
    response = write(
        ({"__name__": "queue_backlog", **job}, [(7.0, T_MS)]),
        ({"__name__": "jobs_done_total", "agent": "ta_00008", **job}, [(100.0, T_MS), (130.0, T_MS + 15_000)]),
        *[({"__name__": "wait_seconds_bucket", "le": le, "agent": "ta_00008"}, [(n, T_MS)]) for le, n in buckets],
    )

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert _stored("queue_backlog") == [(None, job, _at(T_MS), 7.0)]
    # A counter's first running total counts from zero; each later one adds its increase.
    assert _stored("jobs_done_total") == [
        ("ta_00008", job, _at(T_MS), 100.0),
        ("ta_00008", job, _at(T_MS + 15_000), 30.0),
    ]
    assert _stored("wait_seconds_p50") == [("ta_00008", {}, _at(T_MS), pytest.approx(0.3))]
    assert not Metric.objects.filter(key__contains="bucket").exists()
    discovered = Metric.objects.get(key="jobs_done_total")
    assert (discovered.kind, discovered.discovered_from, discovered.needs_review) == ("counter", "remote_write", True)
    assert IngestBatch.objects.get().source == "remote_write"


def test_the_points_read_back_through_the_series_api(write, agent, token_client):
    assert write(({"__name__": "queue_backlog", "agent": "ta_00008"}, [(7.0, T_MS)])).status_code == 204

    response = token_client.get("/api/v1/metrics/series", {"metric": "queue_backlog"})

    assert response.status_code == 200
    [series] = response.json()["series"]
    assert series["group"]["agent"] == "ta_00008"
    assert [value for _, value in series["points"]] == [7.0]


def test_the_same_body_twice_is_204_and_stored_once(write, agent):
    series = ({"__name__": "jobs_done_total", "agent": "ta_00008"}, [(5.0, T_MS)])

    assert [write(series).status_code, write(series).status_code] == [204, 204]
    assert IngestBatch.objects.count() == 1
    assert _stored("jobs_done_total") == [("ta_00008", {}, _at(T_MS), 5.0)]


def test_metadata_only_requests_and_staleness_markers_are_204_and_store_nothing(token_client, agent):
    stale = write_request(({"__name__": "queue_backlog"}, [(_stale_nan(), T_MS)]))
    metadata = write_request(metadata=[("queue_backlog", 2, "Jobs waiting.", "")])

    assert [_send(token_client, snappy(body)).status_code for body in (stale, metadata)] == [204, 204]
    assert not IngestBatch.objects.exists()


def _stale_nan() -> float:
    return struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def test_basic_auth_with_the_token_as_password_is_accepted(write, agent, division):
    _, secret = division_token_create(division=division, name="prometheus")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"prometheus:{secret}".encode()).decode())

    assert write(({"__name__": "queue_backlog"}, [(1.0, T_MS)]), client=client).status_code == 204


# --- refusals ---------------------------------------------------------------------------------------------------


def test_a_truncated_protobuf_is_400(token_client):
    body = write_request(({"__name__": "queue_backlog", "job": "node"}, [(1.0, T_MS)]))

    response = _send(token_client, snappy(body[:-4]))

    assert_problem(response, 400, "Body is not a remote write 1.0 WriteRequest: truncated or corrupt protobuf.")


def test_a_body_that_is_not_snappy_is_400(token_client):
    response = _send(token_client, write_request(({"__name__": "queue_backlog"}, [(1.0, T_MS)])))

    assert assert_problem(response, 400)["detail"].startswith("Body is not valid snappy: ")


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (
            {"HTTP_CONTENT_TYPE": "application/json"},
            "Send a remote write 1.0 application/x-protobuf WriteRequest, not application/json.",
        ),
        (
            {"HTTP_CONTENT_TYPE": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
            "Send a remote write 1.0 application/x-protobuf WriteRequest, not "
            "application/x-protobuf;proto=io.prometheus.write.v2.Request.",
        ),
        ({"HTTP_CONTENT_ENCODING": "gzip"}, "Content-Encoding must be snappy, not gzip."),
        ({"HTTP_CONTENT_ENCODING": ""}, "Content-Encoding must be snappy, not nothing."),
        (
            {"HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION": "2.0.0"},
            "Remote write version 2.0.0 is not supported; send 0.1.0 (1.0).",
        ),
    ],
)
def test_anything_but_remote_write_1_0_is_415(token_client, headers, detail):
    response = _send(token_client, snappy(write_request(({"__name__": "queue_backlog"}, [(1.0, T_MS)]))), **headers)

    assert_problem(response, 415, detail)


def test_the_1_0_proto_parameter_is_accepted(write):
    response = write(
        ({"__name__": "queue_backlog"}, [(1.0, T_MS)]),
        HTTP_CONTENT_TYPE="application/x-protobuf;proto=prometheus.WriteRequest",
    )

    assert response.status_code == 204


def test_a_snappy_bomb_is_413_before_decompressing(token_client, settings):
    settings.METRICS_MAX_BODY_BYTES = 1_000_000
    bomb = snappy(bytes(5_000_000))  # about 230 kB that would be 5 MB
    assert len(bomb) < settings.METRICS_MAX_BODY_BYTES

    response = _send(token_client, bomb)

    assert_problem(response, 413, "Body decompresses to 5000000 bytes, over the 1000000-byte limit.")


def test_a_body_over_the_limit_is_413(token_client, settings):
    settings.METRICS_MAX_BODY_BYTES = 1000

    raw = snappy(random.Random(12).randbytes(5000))  # incompressible: over the limit as sent

    response = _send(token_client, raw)

    assert_problem(response, 413, f"Body of {len(raw)} bytes is over the 1000-byte limit.")


def test_nan_is_400_naming_the_metric_and_the_rest_is_stored(write, agent):
    response = write(
        ({"__name__": "temperature"}, [(math.nan, T_MS), (math.inf, T_MS + 1000)]),
        ({"__name__": "queue_backlog"}, [(3.0, T_MS)]),
    )

    assert_problem(
        response, 400, "2 sample(s) refused, the others stored. NaN or infinite values: 2 samples of temperature."
    )
    assert _stored("queue_backlog") == [(None, {}, _at(T_MS), 3.0)]


def test_labels_over_the_tag_limits_are_400(write):
    labels = {f"label{i}": "x" for i in range(17)}

    response = write(({"__name__": "queue_backlog", **labels}, [(1.0, T_MS)]))

    assert_problem(
        response,
        400,
        "1 sample(s) refused, the others stored. Labels over the tag limits (17 labels besides the agent; at most "
        "16): 1 sample of queue_backlog.",
    )
    assert not IngestBatch.objects.exists()


def test_an_unknown_agent_is_400_naming_it(write, agent):
    response = write(
        ({"__name__": "queue_backlog", "agent": "ta_99999"}, [(1.0, T_MS)]),
        ({"__name__": "queue_backlog", "agent": "ta_00008"}, [(2.0, T_MS)]),
    )

    assert_problem(response, 400, "1 sample(s) refused, the others stored. Unknown agent(s): ta_99999.")
    assert _stored("queue_backlog") == [("ta_00008", {}, _at(T_MS), 2.0)]


def test_an_agent_of_another_division_is_403_naming_it(write, agent, cast):
    AgentFactory(handle="ta_00020", division=cast.other_division)

    response = write(
        ({"__name__": "queue_backlog", "agent": "ta_00020"}, [(1.0, T_MS)]),
        ({"__name__": "queue_backlog", "agent": "ta_00008"}, [(2.0, T_MS)]),
    )

    assert_problem(
        response,
        403,
        "1 sample(s) refused, the others stored. This token acts for NovaCore Runtime; these agents belong to other "
        "divisions: ta_00020.",
    )
    assert [row[0] for row in _stored("queue_backlog")] == ["ta_00008"]


def test_new_metrics_past_the_division_cap_are_400(write, agent, settings):
    settings.METRICS_DIVISION_MAX_METRICS = 1

    response = write(
        ({"__name__": "aaa_first"}, [(1.0, T_MS)]),
        ({"__name__": "bbb_second"}, [(2.0, T_MS)]),
    )

    assert_problem(
        response,
        400,
        "1 sample(s) refused, the others stored. The division is at its cap of 1 metric names; points of new "
        "metrics refused: bbb_second.",
    )
    assert _stored("aaa_first") == [(None, {}, _at(T_MS), 1.0)]


def test_a_division_over_its_quota_is_429_with_retry_after(write, agent, settings):
    settings.METRICS_QUOTA_BATCHES_PER_MINUTE = 1
    assert write(({"__name__": "queue_backlog"}, [(1.0, T_MS)])).status_code == 204

    response = write(({"__name__": "queue_backlog"}, [(2.0, T_MS + 1000)]))

    assert_problem(response, 429, "NovaCore Runtime is over its quota of 1 batches a minute.")
    assert response["Retry-After"] == "60"


def test_without_a_token_it_is_401(cast):
    response = _send(APIClient(), snappy(write_request(({"__name__": "queue_backlog"}, [(1.0, T_MS)]))))

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_endpoint_is_not_in_the_openapi_schema(schema):
    assert not [path for path in schema["paths"] if "prom" in path]


# --- a real Prometheus, and NovaOps restarted under it ----------------------------------------------------------


class Exporter:
    """The application Prometheus scrapes: every scrape reads a new value (the scrape's number), so each sample can
    be told apart, for agent ta_00008 — a gauge, a counter and a histogram."""

    def __init__(self) -> None:
        self.scrapes = 0
        self._lock = threading.Lock()

    def describe(self) -> list:
        return []  # registering must not count as a scrape

    def collect(self) -> list:
        with self._lock:
            self.scrapes += 1
            n = float(self.scrapes)
        depth = GaugeMetricFamily("rw_queue_depth", "Jobs waiting.", labels=["agent"])
        depth.add_metric(["ta_00008"], n)
        done = CounterMetricFamily("rw_jobs_done", "Jobs finished.", labels=["agent"])
        done.add_metric(["ta_00008"], 3 * n)
        wait = HistogramMetricFamily("rw_wait_seconds", "Time jobs waited.", labels=["agent"])
        wait.add_metric(["ta_00008"], buckets=[("0.1", n), ("1.0", 3 * n), ("+Inf", 4 * n)], sum_value=1.5 * n)
        return [depth, done, wait]


@pytest.fixture
def writer_token(transactional_db, points_cleanup) -> str:
    """A division with agent ta_00008 and a token, committed: the web and worker processes must see them."""
    division = DivisionFactory(name="NovaCore Runtime", slug="novacore-runtime")
    AgentFactory(handle="ta_00008", callsign="Core", division=division)
    return division_token_create(division=division, name="prometheus")[1]


@pytest.fixture
def exporter() -> Iterator[tuple[Exporter, int, Callable[[], None]]]:
    """(exporter, its port, stop) served by prometheus_client on 127.0.0.1; stopped at teardown too."""
    exporter, registry, port = Exporter(), CollectorRegistry(), free_port()
    registry.register(exporter)
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    yield exporter, port, stop
    stop()


def _stored_ms(key: str) -> dict[int, float]:
    """{timestamp in ms: value} of the one series of `key` (the primary key allows one point per timestamp)."""
    rows = Point.objects.filter(series__metric__key=key).values_list("ts", "value")
    return {round(ts.timestamp() * 1000): value for ts, value in rows}


def _pending_batches() -> int:
    return IngestBatch.objects.exclude(status=IngestBatch.Status.DONE).count()


@pytest.mark.worker
def test_a_real_prometheus_writes_what_it_scrapes_and_a_novaops_restart_loses_nothing(
    writer_token, broker, gunicorn, workers, exporter, tmp_path
):
    """Prometheus scrapes every second and remote-writes; NovaOps' web is killed for a few scrapes and started
    again on the same port. Prometheus retries what was refused by the closed port; every sample it holds of the
    exporter's series lands exactly once (the gauge's values themselves, the counter as increments of 3 each)."""
    source, exporter_port, exporter_stop = exporter
    servers = {"database_url": database_url_for_subprocesses(), "redis_url": broker.url}
    web = gunicorn(**servers)
    workers()
    prometheus = prometheus_start(
        root=tmp_path,
        target=f"127.0.0.1:{exporter_port}",
        remote_write_url=f"http://127.0.0.1:{web.port}{URL}",
        token=writer_token,
    )
    try:
        wait_until(lambda: len(_stored_ms("rw_queue_depth")) >= 3, timeout=60, what="the first samples to land")
        # Killed, not stopped: a request it committed may go unanswered, and Prometheus sends that body again.
        os.killpg(web.process.pid, signal.SIGKILL)
        web.process.wait(timeout=10)
        down_at = source.scrapes
        wait_until(
            lambda: (
                source.scrapes >= down_at + 4
                and prometheus.own_metrics().get("prometheus_remote_storage_samples_retried_total", 0) > 0
            ),
            timeout=60,
            what="Prometheus to scrape on and retry while NovaOps is down",
        )
        gunicorn(**servers, port=web.port)
        wait_until(
            lambda: max(_stored_ms("rw_queue_depth").values()) > down_at + 4,
            timeout=60,
            what="samples scraped after the restart to land",
        )
        exporter_stop()
        stopped_at = time.time()
        wait_until(
            lambda: _all_sent(prometheus, after=stopped_at) and not _pending_batches(),
            timeout=60,
            what="Prometheus to have sent everything it scraped, and the worker to land it",
        )
        now = time.time()
        gauge = prometheus.raw_samples('rw_queue_depth{agent="ta_00008"}', at=now)
        totals = prometheus.raw_samples('rw_jobs_done_total{agent="ta_00008"}', at=now)
        counts = prometheus.raw_samples('rw_wait_seconds_count{agent="ta_00008"}', at=now)
        own = prometheus.own_metrics()
    finally:
        stop_group(prometheus.process, grace=10)

    print(f"{len(gauge)} scrapes; NovaOps down from scrape {down_at}; Prometheus' own counts: {_counts(own)}")
    assert own["prometheus_remote_storage_samples_failed_total"] == 0  # nothing dropped as unretryable
    assert set(gauge.values()) >= set(map(float, range(down_at, down_at + 5)))  # the outage's scrapes included
    assert _stored_ms("rw_queue_depth") == gauge
    # The counter's totals (3 a scrape) arrive as increments: 3 for each, the first total counted from zero.
    assert _stored_ms("rw_jobs_done_total") == dict.fromkeys(totals, 3.0)
    assert _stored_ms("rw_wait_seconds_count") == dict.fromkeys(counts, 4.0)
    assert set(_stored_ms("rw_wait_seconds_p50")) == set(counts)
    assert list(Series.objects.filter(metric__key="rw_queue_depth").values_list("agent__handle", "tags")) == [
        ("ta_00008", {"job": "exporter", "instance": f"127.0.0.1:{exporter_port}"})
    ]
    up = Metric.objects.get(key="up")
    assert (up.discovered_from, up.needs_review) == ("remote_write", True)


def _all_sent(prometheus, *, after: float) -> bool:
    """Prometheus has nothing pending and has sent samples scraped after `after` (epoch seconds): everything
    scraped before it was sent and acknowledged."""
    own = prometheus.own_metrics()
    return (
        own.get("prometheus_remote_storage_samples_pending", 1) == 0
        and own.get("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", 0) > after
    )


def _counts(own: dict[str, float]) -> dict[str, float]:
    return {name: value for name, value in own.items() if name.startswith("prometheus_remote_storage_samples")}
