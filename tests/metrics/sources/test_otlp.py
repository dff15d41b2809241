"""metrics.sources.otlp: OTLP requests (built with opentelemetry-proto, as exporters build them) → Samples."""

import gzip
import json
import math

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from metrics.sources.common import MetricInfo, Reason
from metrics.sources.native import PayloadError
from metrics.sources.otlp import JSON, PROTOBUF, exponential_buckets, otlp_decode, otlp_samples

NOW_US = 1_790_000_000_000_000
WINDOW = {"min_us": NOW_US - 86_400_000_000, "max_us": NOW_US + 300_000_000}
T = NOW_US * 1000  # time_unix_nano of the points
START = T - 60_000_000_000
DELTA = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def attrs(**values) -> list[KeyValue]:
    def any_value(value) -> AnyValue:
        if isinstance(value, bool):
            return AnyValue(bool_value=value)
        if isinstance(value, int):
            return AnyValue(int_value=value)
        if isinstance(value, float):
            return AnyValue(double_value=value)
        if isinstance(value, list):
            return AnyValue(array_value=ArrayValue(values=[any_value(item) for item in value]))
        return AnyValue(string_value=value)

    return [KeyValue(key=key.replace("__", "."), value=any_value(value)) for key, value in values.items()]


def request(*metrics: pb.Metric, resource: dict | None = None) -> ExportMetricsServiceRequest:
    resource = {"novaops__agent": "ta_00008", "service__name": "core"} if resource is None else resource
    return ExportMetricsServiceRequest(
        resource_metrics=[
            pb.ResourceMetrics(
                resource={"attributes": attrs(**resource)}, scope_metrics=[pb.ScopeMetrics(metrics=list(metrics))]
            )
        ]
    )


def gauge(name: str, *values: float, **point) -> pb.Metric:
    points = [pb.NumberDataPoint(time_unix_nano=T, as_double=value, **point) for value in values]
    return pb.Metric(name=name, unit="ms", description="What it says.", gauge=pb.Gauge(data_points=points))


def total(name: str, *values, temporality=CUMULATIVE, monotonic=True, **point) -> pb.Metric:
    points = [pb.NumberDataPoint(time_unix_nano=T, start_time_unix_nano=START, as_int=v, **point) for v in values]
    return pb.Metric(
        name=name,
        sum=pb.Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=monotonic),
    )


def histogram(name: str, *, counts, bounds, total_sum=10.0, temporality=CUMULATIVE, repeat=1) -> pb.Metric:
    point = pb.HistogramDataPoint(
        time_unix_nano=T,
        start_time_unix_nano=START,
        count=sum(counts),
        sum=total_sum,
        bucket_counts=counts,
        explicit_bounds=bounds,
    )
    return pb.Metric(
        name=name,
        unit="ms",
        histogram=pb.Histogram(data_points=[point] * repeat, aggregation_temporality=temporality),
    )


def rows(samples) -> list[tuple]:
    return [
        (samples.keys[i], samples.handles[i], samples.values[i], samples.tags[i], samples.cumulative[i])
        for i in range(len(samples))
    ]


def test_a_gauge_keeps_its_agent_its_tags_and_its_description_and_leaves_out_the_sdk_attributes():
    metric = gauge("queue.depth", 4.5, attributes=attrs(region="eu", shard=3, hot=True, zones=["a", "b"]))
    resource = {"novaops__agent": "ta_00008", "service__name": "core", "service__instance__id": "4f1c",
                "telemetry__sdk__name": "opentelemetry", "process__pid": 812}  # fmt: skip

    samples = otlp_samples(request(metric, resource=resource), **WINDOW)

    tags = {"hot": "true", "region": "eu", "service.name": "core", "shard": "3", "zones": '["a","b"]'}
    assert rows(samples) == [("queue_depth", "ta_00008", 4.5, json.dumps(tags, separators=(",", ":")), False)]
    assert samples.ts_us == [NOW_US]
    assert samples.metrics == {"queue_depth": MetricInfo("queue.depth", "gauge", "ms", "What it says.")}
    assert samples.rejections == []


def test_without_novaops_agent_the_points_are_division_level_and_a_point_attribute_wins_a_clash():
    metric = gauge("backlog", 2.0, attributes=attrs(service__name="edge"))

    samples = otlp_samples(request(metric, resource={"service__name": "core"}), **WINDOW)

    assert rows(samples) == [("backlog", None, 2.0, '{"service.name":"edge"}', False)]


def test_sums_cumulative_monotonic_are_running_totals_deltas_add_up_and_up_down_counters_are_gauges():
    sums = request(
        total("jobs.done", 7),
        total("bytes.sent", 3, 4, temporality=DELTA),  # two deltas of one series and time
        total("workers.busy", 2, monotonic=False),
        resource={"novaops__agent": "ta_00008"},
    )

    samples = otlp_samples(sums, **WINDOW)

    assert rows(samples) == [
        ("jobs_done", "ta_00008", 7.0, "", True),
        ("bytes_sent", "ta_00008", 7.0, "", False),
        ("workers_busy", "ta_00008", 2.0, "", False),
    ]
    assert samples.start_us[0] == START // 1000
    assert {key: info.kind for key, info in samples.metrics.items()} == {
        "jobs_done": "counter",
        "bytes_sent": "counter",
        "workers_busy": "gauge",
    }


def test_a_histogram_is_its_count_and_sum_and_percentiles_from_its_buckets():
    # 10 observations: 4 in (0, 10], 4 in (10, 20], 2 in (20, +Inf).
    metric = histogram("rpc.duration", counts=[4, 4, 2], bounds=[10.0, 20.0], total_sum=131.0)

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    assert [(key, value, cumulative) for key, _, value, _, cumulative in rows(samples)] == [
        ("rpc_duration_count", 10.0, True),
        ("rpc_duration_sum", 131.0, True),
        ("rpc_duration_p50", 12.5, False),  # rank 5: a quarter into (10, 20]
        ("rpc_duration_p95", 20.0, False),  # in the open bucket: its lower bound
        ("rpc_duration_p99", 20.0, False),
    ]
    assert samples.metrics["rpc_duration_count"] == MetricInfo("rpc.duration (count)", "counter", "", "")
    assert samples.metrics["rpc_duration_p95"] == MetricInfo("rpc.duration (p95)", "gauge", "ms", "")


def test_delta_histograms_of_one_series_and_time_are_merged_bucket_by_bucket():
    metric = histogram("rpc.duration", counts=[1, 0, 0], bounds=[10.0, 20.0], temporality=DELTA, repeat=2)

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    assert dict(zip(samples.keys, samples.values, strict=True)) == {
        "rpc_duration_count": 2.0,
        "rpc_duration_sum": 20.0,
        "rpc_duration_p50": 5.0,
        "rpc_duration_p95": 9.5,
        "rpc_duration_p99": 9.9,
    }
    assert not any(samples.cumulative)


def test_exponential_buckets_cover_the_negative_range_zero_and_the_positive_range_in_order():
    point = pb.ExponentialHistogramDataPoint(
        scale=0,
        zero_count=1,
        zero_threshold=0.0,
        positive=pb.ExponentialHistogramDataPoint.Buckets(offset=1, bucket_counts=[2, 3]),
        negative=pb.ExponentialHistogramDataPoint.Buckets(offset=0, bucket_counts=[4]),
    )

    assert exponential_buckets(point) == [(-2.0, -1.0, 4.0), (-0.0, 0.0, 1.0), (2.0, 4.0, 2.0), (4.0, 8.0, 3.0)]


def test_an_exponential_histogram_gives_count_sum_and_percentiles():
    point = pb.ExponentialHistogramDataPoint(
        time_unix_nano=T,
        count=10,
        sum=40.0,
        scale=1,  # base √2
        positive=pb.ExponentialHistogramDataPoint.Buckets(offset=4, bucket_counts=[10]),  # (4, 4√2]
    )
    metric = pb.Metric(
        name="size",
        exponential_histogram=pb.ExponentialHistogram(data_points=[point], aggregation_temporality=DELTA),
    )

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    values = dict(zip(samples.keys, samples.values, strict=True))
    assert values["size_count"] == 10.0 and values["size_sum"] == 40.0
    assert values["size_p50"] == pytest.approx(4 + (4 * math.sqrt(2) - 4) * 0.5)


def test_an_exponential_histogram_of_a_scale_outside_the_data_model_is_refused():
    point = pb.ExponentialHistogramDataPoint(time_unix_nano=T, count=1, sum=1.0, scale=-(2**31))
    metric = pb.Metric(
        name="size",
        exponential_histogram=pb.ExponentialHistogram(data_points=[point], aggregation_temporality=DELTA),
    )

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    assert len(samples) == 0
    assert [r.message for r in samples.rejections] == ["5 point(s) refused for a scale outside -10 to 20: size."]


def test_a_summary_gives_count_sum_and_its_own_quantiles():
    point = pb.SummaryDataPoint(
        time_unix_nano=T,
        count=3,
        sum=9.0,
        quantile_values=[
            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0),
            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.9, value=4.0),
            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=5.0),
        ],
    )
    metric = pb.Metric(name="gc.pause", summary=pb.Summary(data_points=[point]))

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    assert dict(zip(samples.keys, samples.values, strict=True)) == {
        "gc_pause_count": 3.0,
        "gc_pause_sum": 9.0,
        "gc_pause_p50": 2.0,
        "gc_pause_p99": 5.0,
    }


def test_nan_infinite_and_out_of_window_points_are_rejected_once_per_problem_with_the_metric_names():
    metric = gauge("cpu.load", math.nan, math.nan, 0.5)
    metric.gauge.data_points.add(time_unix_nano=T, as_double=math.inf)
    metric.gauge.data_points.add(time_unix_nano=(WINDOW["min_us"] - 1) * 1000, as_double=1.0)
    metric.gauge.data_points.add(time_unix_nano=(WINDOW["max_us"] + 1) * 1000, as_double=1.0)

    samples = otlp_samples(request(metric), **WINDOW)

    assert samples.values == [0.5]
    assert [(r.reason, r.count, r.message) for r in samples.rejections] == [
        (Reason.INVALID, 2, "2 point(s) refused for NaN values: cpu.load."),
        (Reason.INVALID, 1, "1 point(s) refused for infinite values: cpu.load."),
        (Reason.INVALID, 1, "1 point(s) refused for older than the retention period: cpu.load."),
        (Reason.INVALID, 1, "1 point(s) refused for more than 5 minutes in the future: cpu.load."),
    ]


def test_a_histogram_with_a_nan_sum_keeps_its_count_and_percentiles():
    metric = histogram("rpc.duration", counts=[1, 0, 0], bounds=[10.0, 20.0], total_sum=math.nan)

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    assert "rpc_duration_sum" not in samples.keys and len(samples) == 4
    assert [(r.count, r.message) for r in samples.rejections] == [
        (1, "1 point(s) refused for NaN values: rpc.duration.")
    ]


def test_attributes_over_the_tag_limits_refuse_the_point_and_say_why():
    too_many = attrs(**{f"k{i}": "v" for i in range(17)})
    metric = gauge("queue.depth", 1.0, attributes=too_many)

    samples = otlp_samples(request(metric, resource={}), **WINDOW)

    assert len(samples) == 0
    assert [r.message for r in samples.rejections] == [
        "1 point(s) refused for attributes over the tag limits (17 labels besides the agent; at most 16): queue.depth."
    ]


def test_malformed_buckets_and_unusable_names_refuse_every_point_they_would_have_given():
    broken = histogram("rpc.duration", counts=[1, 2], bounds=[10.0, 20.0])
    unnamed = gauge("...", 1.0)

    samples = otlp_samples(request(broken, unnamed, resource={}), **WINDOW)

    assert len(samples) == 0
    assert [(r.count, r.message) for r in samples.rejections] == [
        (5, "5 point(s) refused for bucket_counts that do not have one more entry than explicit_bounds: rpc.duration."),
        (1, "1 point(s) refused for a name NovaOps cannot make a metric key of: ...."),
    ]


def test_points_flagged_no_recorded_value_are_skipped_and_unspecified_temporality_is_refused():
    stale = gauge("queue.depth", 1.0, flags=pb.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
    unspecified = total("jobs.done", 1, temporality=pb.AggregationTemporality.AGGREGATION_TEMPORALITY_UNSPECIFIED)

    samples = otlp_samples(request(stale, unspecified), **WINDOW)

    assert len(samples) == 0
    assert [r.message for r in samples.rejections] == [
        "1 point(s) refused for aggregation temporality unspecified: jobs.done."
    ]


def test_decode_reads_protobuf_and_otlp_json_with_integer_enums_and_string_int64s():
    sent = request(total("jobs.done", 7), histogram("rpc.duration", counts=[1, 0, 0], bounds=[10.0, 20.0]))
    as_json = json_format.MessageToJson(sent, use_integers_for_enums=True)
    assert '"aggregationTemporality": 2' in as_json and '"timeUnixNano": "' in as_json

    assert otlp_decode(sent.SerializeToString(), content_type=PROTOBUF) == sent
    assert otlp_decode(as_json.encode(), content_type=JSON) == sent
    # Unknown fields are ignored, as the OTLP/JSON rules ask.
    assert (
        otlp_decode(b'{"resourceMetrics": [], "somethingNew": 1}', content_type=JSON) == ExportMetricsServiceRequest()
    )


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (request(gauge("queue.depth", 1.0)).SerializeToString()[:-7], PROTOBUF, "not an OTLP protobuf"),
        (gzip.compress(b"not protobuf at all"), PROTOBUF, "not an OTLP protobuf"),
        (b'{"resourceMetrics": 3}', JSON, "not an OTLP/JSON"),
        (b"\xff\xfe", JSON, "not an OTLP/JSON"),
        (b'"resourceMetrics"', JSON, "not a JSON object"),
        (b'{"resourceMetrics": ' + b"[" * 100_000, JSON, "maximum recursion depth"),
    ],
)
def test_a_body_that_is_not_a_request_is_a_payload_error(body, content_type, message):
    with pytest.raises(PayloadError, match=message):
        otlp_decode(body, content_type=content_type)
