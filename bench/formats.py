"""The ingest benchmark's workload in each protocol a division can post (`python -m bench ingest --format …`).

Each format encodes the same points as its clients do: native JSON (bench.ingest.batch_bodies), OTLP/HTTP protobuf
(the OpenTelemetry exporter's ExportMetricsServiceRequest: one resource per agent, gauges with their attributes),
Prometheus remote write (a snappy-compressed WriteRequest, one time series per series with its samples) and the
Pushgateway's text format (prometheus_client's exposition; pushes carry no timestamps, so each push is one time slot
of the series, stored at the time NovaOps accepts it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cramjam
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource


@dataclass(frozen=True)
class Post:
    """One request of a run: where it goes, its headers and body, and how many points it carries."""

    path: str
    headers: dict[str, str]
    body: bytes
    points: int


@dataclass(frozen=True)
class Format:
    name: str
    accepted: frozenset[int]  # the statuses that mean "stored"
    encode: Callable  # (workload, batch_size) -> list[Post]
    target_vs_copy: float  # end to end against the raw COPY of the same rows (issue 12's targets)
    timestamped: bool = True  # False: points take the time they are accepted (Pushgateway)


def _batches(workload, batch_size: int):
    for start in range(0, len(workload), batch_size):
        yield range(start, min(start + batch_size, len(workload)))


def native_posts(workload, batch_size: int) -> list[Post]:
    from bench.ingest import batch_bodies

    headers = {"Content-Type": "application/json"}
    bodies = batch_bodies(workload, batch_size=batch_size)
    sizes = [len(rows) for rows in _batches(workload, batch_size)]
    return [Post("/api/v1/metrics/batches", headers, body, n) for body, n in zip(bodies, sizes, strict=True)]


def _attribute(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_posts(workload, batch_size: int) -> list[Post]:
    headers = {"Content-Type": "application/x-protobuf"}
    posts = []
    for rows in _batches(workload, batch_size):
        by_agent: dict[str, dict[str, list[NumberDataPoint]]] = {}
        for i in rows:
            metric, handle, tags = workload.series[workload.series_idx[i]]
            point = NumberDataPoint(
                time_unix_nano=workload.ts_s[i] * 1_000_000_000,
                as_double=workload.values[i],
                attributes=[_attribute(k, v) for k, v in (tags or {}).items()],
            )
            by_agent.setdefault(handle, {}).setdefault(metric, []).append(point)
        request = ExportMetricsServiceRequest(
            resource_metrics=[
                ResourceMetrics(
                    resource=Resource(attributes=[_attribute("novaops.agent", handle)]),
                    scope_metrics=[
                        ScopeMetrics(
                            metrics=[
                                Metric(name=name, gauge=Gauge(data_points=points)) for name, points in metrics.items()
                            ]
                        )
                    ],
                )
                for handle, metrics in by_agent.items()
            ]
        )
        posts.append(Post("/otlp/v1/metrics", headers, request.SerializeToString(), len(rows)))
    return posts


def remote_write_posts(workload, batch_size: int) -> list[Post]:
    from metrics.sources.prompb import WriteRequest

    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    posts = []
    for rows in _batches(workload, batch_size):
        series: dict[int, list[int]] = {}
        for i in rows:
            series.setdefault(workload.series_idx[i], []).append(i)
        request = WriteRequest()
        for idx, members in series.items():
            metric, handle, tags = workload.series[idx]
            timeseries = request.timeseries.add()
            for name, value in sorted({"__name__": metric, "agent": handle, **(tags or {})}.items()):
                timeseries.labels.add(name=name, value=value)
            for i in members:
                timeseries.samples.add(value=workload.values[i], timestamp=workload.ts_s[i] * 1000)
        body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
        posts.append(Post("/api/v1/prom/write", headers, body, len(rows)))
    return posts


def push_posts(workload, batch_size: int) -> list[Post]:
    """One push per time slot and group of series (a series appears once in a push, as in a real exposition)."""
    headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    per_slot = len(workload.series)
    group = max(1, min(batch_size, per_slot))
    posts = []
    for slot_start in range(0, len(workload), per_slot):
        for start in range(slot_start, slot_start + per_slot, group):
            rows = range(start, min(start + group, slot_start + per_slot, len(workload)))
            lines: dict[str, list[str]] = {}
            for i in rows:
                metric, handle, tags = workload.series[workload.series_idx[i]]
                labels = ",".join(f'{k}="{v}"' for k, v in sorted({"agent": handle, **(tags or {})}.items()))
                lines.setdefault(metric, []).append(f"{metric}{{{labels}}} {workload.values[i]!r}")
            text = "".join(f"# TYPE {metric} gauge\n" + "\n".join(samples) + "\n" for metric, samples in lines.items())
            path = f"/pushgateway/metrics/job/bench/group/{start - slot_start}"
            posts.append(Post(path, headers, text.encode(), len(rows)))
    return posts


FORMATS = {
    "native": Format("native", frozenset({202}), native_posts, 0.40),
    "otlp": Format("otlp", frozenset({200}), otlp_posts, 0.30),
    "remote-write": Format("remote-write", frozenset({204}), remote_write_posts, 0.30),
    "push": Format("push", frozenset({200}), push_posts, 0.15, timestamped=False),
}
