"""OTLP metrics (OpenTelemetry's ExportMetricsServiceRequest, as protobuf or as OTLP/JSON) → Samples.

Decoding is the opentelemetry-proto package's. Who is who: the resource attribute `novaops.agent` names the agent
(without it the points are division-level); every other attribute, of the resource and of the data point (which
wins on a clash), becomes a tag, except the resource attributes that describe the SDK or one run of a process
(`telemetry.*`, `process.*`, `service.instance.id`: a fresh value on every restart would start new series).

What each kind becomes (NovaOps counters are increments, summed by the dashboards):
- Gauge, and a non-monotonic cumulative Sum (an UpDownCounter): gauge.
- Cumulative monotonic Sum: counter, as running totals (metrics.services.intake stores the increments).
- Delta Sum: counter, as it is; deltas of one series and time in one body are added up.
- Histogram, ExponentialHistogram, Summary: `<key>_count` and `<key>_sum` counters (running totals when the
  histogram is cumulative), and `<key>_p50` / `_p95` / `_p99` gauges estimated from the buckets (a Summary's own
  quantiles). A cumulative histogram's percentiles are those of everything since its start time.

Every refusal is counted in NovaOps points (a histogram data point is up to five) and said once per problem.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from agents.constants import is_handle
from metrics.models import MetricKind
from metrics.sources.common import (
    AGENT_ATTRIBUTE,
    PERCENTILES,
    MetricInfo,
    Reason,
    Samples,
    explicit_buckets,
    metric_key,
    percentiles_from_buckets,
    tags_from,
)
from metrics.sources.native import PayloadError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = (PROTOBUF, JSON)
NOISY_RESOURCE_PREFIXES = ("telemetry.", "process.")
NOISY_RESOURCE_ATTRIBUTES = frozenset({"service.instance.id"})
NAMES_SHOWN = 5
# The scales of exponential histograms the OTLP data model allows.
MIN_SCALE, MAX_SCALE = -10, 20
_NO_RECORDED_VALUE = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
_DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_SUMMARY_SUFFIXES = {quantile: f"_{suffix}" for quantile, suffix in PERCENTILES}
GAUGE, COUNTER = MetricKind.GAUGE, MetricKind.COUNTER


def otlp_decode(body: bytes, *, content_type: str) -> ExportMetricsServiceRequest:
    """The request in a decoded body; PayloadError (400) when it is not one. OTLP/JSON is the protobuf JSON mapping
    (lowerCamelCase names, enums as integers, 64-bit integers as strings or numbers); unknown fields are ignored,
    as the specification asks. Exemplars' hex trace ids are read as base64 there, harmlessly: they are not used."""
    request = ExportMetricsServiceRequest()
    kind = "OTLP/JSON" if content_type == JSON else "OTLP protobuf"
    try:
        if content_type == JSON:
            if not body.lstrip().startswith(b"{"):  # json_format reads a string or an array as an empty request
                raise PayloadError(f"The body is not an {kind} ExportMetricsServiceRequest: not a JSON object.")
            json_format.Parse(body, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError) as exc:
        raise PayloadError(f"The body is not an {kind} ExportMetricsServiceRequest: {exc}") from None
    return request


def otlp_samples(request: ExportMetricsServiceRequest, *, min_us: int, max_us: int) -> Samples:
    """The points of a request whose times lie within [min_us, max_us] (microseconds since the epoch); the rest
    are rejected with their reason, as are NaN and infinite values and attributes over the tag limits."""
    reader = _Reader(min_us=min_us, max_us=max_us)
    for resource_metrics in request.resource_metrics:
        attributes = _attributes(resource_metrics.resource.attributes)
        handle = attributes.pop(AGENT_ATTRIBUTE, None)
        resource = {key: value for key, value in attributes.items() if not _noisy(key)}
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                reader.metric(metric, handle=handle, resource=resource)
    return reader.finish()


def _noisy(key: str) -> bool:
    return key in NOISY_RESOURCE_ATTRIBUTES or key.startswith(NOISY_RESOURCE_PREFIXES)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, str]:
    return {pair.key: _text(pair.value) for pair in pairs}


def _text(value: AnyValue) -> str:
    """An attribute value as tag text: strings as they are, numbers and booleans as written, arrays and key-value
    lists as JSON, bytes as hex."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind == "array_value":
        return orjson.dumps([_text(item) for item in value.array_value.values]).decode()
    if kind == "kvlist_value":
        return orjson.dumps(_attributes(value.kvlist_value.values)).decode()
    return ""


class _Reader:
    """Turns data points into samples, adding up deltas and merging delta histograms of one series and time, and
    counting what it refuses per problem (with the metric names) for one message each."""

    def __init__(self, *, min_us: int, max_us: int) -> None:
        self.min_us, self.max_us = min_us, max_us
        self.samples = Samples()
        self.positions: dict[tuple, int] = {}  # (key, handle, tags, ts) → position in samples
        self.buckets: dict[tuple, list[tuple[float, float, float]]] = {}  # (key, handle, tags, ts) → buckets
        self.refused: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # problem → name → count
        self.tags_cache: dict[tuple, tuple[str, str | None]] = {}

    def metric(self, metric: metrics_pb2.Metric, *, handle: str | None, resource: dict[str, str]) -> None:
        kind = metric.WhichOneof("data")
        if kind is None:
            return
        data = getattr(metric, kind)
        temporality = getattr(data, "aggregation_temporality", _CUMULATIVE)  # Gauge has none; Summary is cumulative
        if temporality not in (_DELTA, _CUMULATIVE):
            self.refuse("aggregation temporality unspecified", metric.name, len(data.data_points))
            return
        delta = temporality == _DELTA
        key = metric_key(metric.name)
        if key and not metric_key(key + ("" if kind in ("gauge", "sum") else "_count")):  # the longest suffix
            key = None
        for point in data.data_points:
            if point.flags & _NO_RECORDED_VALUE:  # a series that stopped: nothing to store
                continue
            outputs, buckets, problem = _outputs(kind, data, point, delta=delta)
            self.point(metric, key, point, outputs, buckets, problem, handle=handle, resource=resource, delta=delta)

    def point(self, metric, key, point, outputs, buckets, problem, *, handle, resource, delta) -> None:
        """Add one data point's outputs [(suffix, value, kind, cumulative)] (and buckets for percentiles) under the
        metric's key, or refuse them all for a problem of the point itself (a key None: no usable name)."""
        ts_us = point.time_unix_nano // 1000
        tags, tags_problem = self.tags(resource, point.attributes)
        problem = (
            problem
            or (None if key else "a name NovaOps cannot make a metric key of")
            or (None if handle is None or is_handle(handle) else "a novaops.agent that is not a handle like ta_00008")
            or self.time_problem(ts_us)
            or (tags_problem and f"attributes over the tag limits ({tags_problem.rstrip('.')})")
        )
        if problem:
            self.refuse(problem, metric.name, len(outputs) + (len(PERCENTILES) if buckets is not None else 0))
            return
        for suffix, value, kind, cumulative in outputs:
            if math.isnan(value) or math.isinf(value):
                self.refuse("NaN values" if math.isnan(value) else "infinite values", metric.name, 1)
                continue
            self.describe(key + suffix, metric, suffix, kind)
            ident = (key + suffix, handle, tags, ts_us)
            self.put(ident, value, cumulative=cumulative, add=delta, start_us=point.start_time_unix_nano // 1000)
        if buckets is not None:
            self.merge_buckets((key, handle, tags, ts_us), buckets, delta=delta)
            for _, suffix in PERCENTILES:
                self.describe(f"{key}_{suffix}", metric, f"_{suffix}", GAUGE)

    def tags(self, resource: dict[str, str], attributes: Iterable[KeyValue]) -> tuple[str, str | None]:
        labels = {**resource, **_attributes(attributes)}
        ident = tuple(labels.items())
        if ident not in self.tags_cache:
            self.tags_cache[ident] = tags_from(labels)
        return self.tags_cache[ident]

    def time_problem(self, ts_us: int) -> str | None:
        if ts_us <= 0:
            return "no time_unix_nano"
        if ts_us < self.min_us:
            return "older than the retention period"
        if ts_us > self.max_us:
            return "more than 5 minutes in the future"
        return None

    def describe(self, key: str, metric: metrics_pb2.Metric, suffix: str, kind: str) -> None:
        """The first description of a key in the body stands."""
        if key not in self.samples.metrics:
            label = f" ({suffix[1:]})" if suffix else ""
            unit = "" if suffix == "_count" else metric.unit
            info = MetricInfo(_no_nul(metric.name + label), kind, _no_nul(unit), _no_nul(metric.description))
            self.samples.metrics[key] = info

    def put(self, ident: tuple, value: float, *, cumulative: bool, add: bool, start_us: int) -> None:
        position = self.positions.get(ident)
        if position is None:
            self.positions[ident] = len(self.samples)
            key, handle, tags, ts_us = ident
            self.samples.add(key, handle, ts_us, value, tags, cumulative=cumulative, start_us=start_us)
        elif add:
            self.samples.values[position] += value
        else:  # the same series and time twice: the later value stands
            self.samples.values[position] = value

    def merge_buckets(self, ident: tuple, buckets: list[tuple[float, float, float]], *, delta: bool) -> None:
        """Deltas of one histogram and time add up bucket by bucket when their bounds agree; otherwise (and for
        cumulative histograms) the later one stands."""
        earlier = self.buckets.get(ident)
        if delta and earlier and [b[:2] for b in earlier] == [b[:2] for b in buckets]:
            buckets = [(*new[:2], new[2] + old[2]) for new, old in zip(buckets, earlier, strict=True)]
        self.buckets[ident] = buckets

    def refuse(self, problem: str, name: str, count: int) -> None:
        if count:
            self.refused[problem][name] += count

    def finish(self) -> Samples:
        for (key, handle, tags, ts_us), buckets in self.buckets.items():
            for suffix, estimate in percentiles_from_buckets(buckets):
                if math.isfinite(estimate):
                    self.samples.add(f"{key}_{suffix}", handle, ts_us, estimate, tags)
                else:
                    self.refuse("infinite values", self.samples.metrics[f"{key}_{suffix}"].name, 1)
        for problem, names in self.refused.items():
            shown = ", ".join(sorted(names)[:NAMES_SHOWN]) + (" …" if len(names) > NAMES_SHOWN else "")
            count = sum(names.values())
            self.samples.reject(Reason.INVALID, f"{count} point(s) refused for {problem}: {shown}.", count)
        return self.samples


def _outputs(kind: str, data, point, *, delta: bool) -> tuple[list[tuple], list | None, str | None]:
    """What one data point stores: [(key suffix, value, kind, cumulative)], the buckets its percentiles come from
    (None when it has none), and the problem that refuses it whole (None when it is usable)."""
    if kind == "gauge":
        return [("", _number(point), GAUGE, False)], None, None
    if kind == "sum":
        counter = delta or data.is_monotonic
        return [("", _number(point), COUNTER if counter else GAUGE, counter and not delta)], None, None
    totals = [("_count", float(point.count), COUNTER, not delta)]
    if kind == "summary" or point.HasField("sum"):
        totals.append(("_sum", point.sum, COUNTER, not delta))
    if kind == "summary":
        quantiles = [
            (_SUMMARY_SUFFIXES[q.quantile], q.value, GAUGE, False)
            for q in point.quantile_values
            if q.quantile in _SUMMARY_SUFFIXES
        ]
        return totals + quantiles, None, None
    if kind == "exponential_histogram":
        if not MIN_SCALE <= point.scale <= MAX_SCALE:
            return totals, [], f"a scale outside {MIN_SCALE} to {MAX_SCALE}"
        return totals, exponential_buckets(point), None
    bounds, counts = list(point.explicit_bounds), [float(c) for c in point.bucket_counts]
    if not counts:
        return totals, None, None
    if len(counts) != len(bounds) + 1:
        return totals, [], "bucket_counts that do not have one more entry than explicit_bounds"
    if not all(math.isfinite(b) for b in bounds) or any(a >= b for a, b in itertools.pairwise(bounds)):
        return totals, [], "explicit_bounds that are not finite and increasing"
    return totals, explicit_buckets(bounds, counts), None


def _no_nul(text: str) -> str:
    """The text without NUL characters, which PostgreSQL text cannot hold (the catalogue keeps the rest)."""
    return text.replace("\x00", "")


def _number(point: metrics_pb2.NumberDataPoint) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def exponential_buckets(point: metrics_pb2.ExponentialHistogramDataPoint) -> list[tuple[float, float, float]]:
    """(lower, upper, count) in ascending order: bucket i of the positive range is (base**i, base**(i+1)] with
    base = 2**(2**-scale), the negative range mirrors it, and the zero bucket spans ±zero_threshold."""
    factor = 2.0**-point.scale

    def bound(index: int) -> float:
        try:
            return 2.0 ** (index * factor)
        except OverflowError:
            return math.inf

    negative = point.negative
    buckets = [
        (-bound(negative.offset + i + 1), -bound(negative.offset + i), float(count))
        for i, count in reversed(list(enumerate(negative.bucket_counts)))
    ]
    threshold = point.zero_threshold
    buckets.append((-threshold, threshold, float(point.zero_count)))
    positive = point.positive
    buckets += [
        (bound(positive.offset + i), bound(positive.offset + i + 1), float(count))
        for i, count in enumerate(positive.bucket_counts)
    ]
    return buckets
