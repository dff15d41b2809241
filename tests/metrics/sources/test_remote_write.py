"""The remote-write source: snappy with its bomb check, and a WriteRequest's series into Samples (who is who, kinds,
histogram buckets into percentiles, what is refused and what is skipped)."""

import math
import struct
from datetime import UTC, datetime, timedelta

import cramjam
import pytest

from metrics.sources.common import Reason
from metrics.sources.native import PayloadError
from metrics.sources.remote_write import snappy_decode, write_request_parse
from novaops.errors import PayloadTooLarge
from tests.helpers.prometheus import snappy, write_request

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
T_MS = int((NOW - timedelta(minutes=1)).timestamp() * 1000)
T_US = T_MS * 1000
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def _parse(*series, **kwargs):
    return write_request_parse(write_request(*series, **kwargs), now=NOW)


def _points(samples) -> list[tuple]:
    columns = (samples.keys, samples.handles, samples.ts_us, samples.values, samples.tags, samples.cumulative)
    return sorted(zip(*columns, strict=True), key=lambda point: (point[0], point[1] or "", point[2]))


# --- snappy -----------------------------------------------------------------------------------------------------


def test_snappy_bodies_are_decompressed():
    assert snappy_decode(snappy(b"hello " * 100), limit=1000) == b"hello " * 100


def test_a_snappy_bomb_is_refused_from_its_declared_length_before_decompressing():
    bomb = snappy(bytes(2_000_000))
    assert len(bomb) < 100_000

    with pytest.raises(PayloadTooLarge, match="decompresses to 2000000 bytes, over the 1000000-byte limit"):
        snappy_decode(bomb, limit=1_000_000)


def test_a_forged_length_is_refused_without_allocating_it():
    # The varint header claims 4 GiB; the body is a few bytes.
    forged = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + b"\x00abc"

    with pytest.raises(PayloadTooLarge, match="decompresses to 4294967295 bytes"):
        snappy_decode(forged, limit=20_000_000)


@pytest.mark.parametrize("raw", [b"plain text, not snappy", snappy(b"x" * 1000)[:10], b""])
def test_what_is_not_snappy_is_a_payload_error(raw):
    with pytest.raises(PayloadError, match="snappy"):
        snappy_decode(raw, limit=1_000_000)


# --- the WriteRequest -------------------------------------------------------------------------------------------


def test_a_truncated_write_request_is_a_payload_error():
    body = write_request(({"__name__": "queue_depth", "job": "node"}, [(1.0, T_MS)]))

    with pytest.raises(PayloadError, match="truncated or corrupt protobuf"):
        write_request_parse(body[:-3], now=NOW)


def test_the_agent_label_names_the_agent_and_every_other_label_is_a_tag():
    samples = _parse(
        ({"__name__": "queue_depth", "agent": "ta_00008", "job": "node", "instance": "h:9100"}, [(3.0, T_MS)]),
        ({"__name__": "queue_depth", "job": "node"}, [(5.0, T_MS)]),
    )

    assert _points(samples) == [
        ("queue_depth", None, T_US, 5.0, '{"job":"node"}', False),
        ("queue_depth", "ta_00008", T_US, 3.0, '{"instance":"h:9100","job":"node"}', False),
    ]
    assert samples.metrics["queue_depth"].kind == "gauge"
    assert samples.rejections == []


def test_names_become_catalogue_keys_and_counter_suffixes_running_totals():
    samples = _parse(
        ({"__name__": "http:requests_total"}, [(10.0, T_MS), (12.0, T_MS + 1000)]),
        ({"__name__": "rpc_duration_seconds_count"}, [(4.0, T_MS)]),
        ({"__name__": "rpc_duration_seconds_sum"}, [(0.5, T_MS)]),
        ({"__name__": "rpc_duration_seconds", "quantile": "0.5"}, [(0.1, T_MS)]),
    )

    kinds = {key: (info.name, info.kind) for key, info in samples.metrics.items()}
    assert kinds == {
        "http_requests_total": ("http:requests_total", "counter"),
        "rpc_duration_seconds_count": ("rpc_duration_seconds_count", "counter"),
        "rpc_duration_seconds_sum": ("rpc_duration_seconds_sum", "counter"),
        "rpc_duration_seconds": ("rpc_duration_seconds", "gauge"),
    }
    cumulative = {(key, cum) for key, cum in zip(samples.keys, samples.cumulative, strict=True)}
    assert cumulative == {
        ("http_requests_total", True),
        ("rpc_duration_seconds_count", True),
        ("rpc_duration_seconds_sum", True),
        ("rpc_duration_seconds", False),
    }


def test_metadata_in_the_request_describes_the_metrics():
    samples = _parse(
        ({"__name__": "jobs_done_total"}, [(1.0, T_MS)]),
        metadata=[("jobs_done", 1, "Jobs finished since start.", "jobs")],
    )

    info = samples.metrics["jobs_done_total"]
    assert (info.kind, info.description, info.unit) == ("counter", "Jobs finished since start.", "jobs")


def test_histogram_buckets_become_percentile_gauges_and_are_not_stored_themselves():
    labels = {"agent": "ta_00008", "job": "api"}
    # Cumulative counts: 10 at or below 0.1, 90 at or below 0.5, 100 in all.
    buckets = [("0.1", 10.0), ("0.5", 90.0), ("+Inf", 100.0)]
    samples = _parse(
        *[({"__name__": "latency_seconds_bucket", "le": le, **labels}, [(count, T_MS)]) for le, count in buckets],
        ({"__name__": "latency_seconds_count", **labels}, [(100.0, T_MS)]),
        ({"__name__": "latency_seconds_sum", **labels}, [(21.0, T_MS)]),
    )

    by_key = {key: (value, tags, cumulative) for key, value, tags, cumulative in _columns(samples)}
    assert set(by_key) == {
        "latency_seconds_p50",
        "latency_seconds_p95",
        "latency_seconds_p99",
        "latency_seconds_count",
        "latency_seconds_sum",
    }
    # p50: rank 50 falls in (0.1, 0.5], 40 of its 80 → 0.1 + 0.4 × 40/80; p95 and p99 in the +Inf bucket → 0.5.
    assert by_key["latency_seconds_p50"] == (pytest.approx(0.3), '{"job":"api"}', False)
    assert by_key["latency_seconds_p95"][0] == by_key["latency_seconds_p99"][0] == 0.5
    assert by_key["latency_seconds_count"] == (100.0, '{"job":"api"}', True)
    assert samples.metrics["latency_seconds_p95"].kind == "gauge"
    assert "latency_seconds_bucket" not in samples.metrics
    assert set(samples.handles) == {"ta_00008"}


def _columns(samples):
    return zip(samples.keys, samples.values, samples.tags, samples.cumulative, strict=True)


def test_histograms_with_unusable_buckets_are_refused():
    samples = _parse(
        ({"__name__": "a_seconds_bucket", "le": "0.5"}, [(9.0, T_MS)]),
        ({"__name__": "a_seconds_bucket", "le": "+Inf"}, [(3.0, T_MS)]),  # fewer than at 0.5: not cumulative
        ({"__name__": "b_seconds_bucket", "le": "half"}, [(1.0, T_MS)]),
        ({"__name__": "c_seconds_bucket", "le": "NaN"}, [(1.0, T_MS)]),
    )

    assert len(samples) == 0
    assert sorted(r.message for r in samples.rejections) == [
        "Histogram buckets whose counts are not cumulative: 2 samples of a_seconds_bucket.",
        "Histogram buckets whose le label is not a number: 2 samples of b_seconds_bucket, c_seconds_bucket.",
    ]


def test_staleness_markers_are_skipped_and_other_nan_refused():
    samples = _parse(
        ({"__name__": "queue_depth"}, [(1.0, T_MS), (STALE_NAN, T_MS + 1000)]),
        ({"__name__": "temperature"}, [(math.nan, T_MS), (math.inf, T_MS + 1000), (-math.inf, T_MS + 2000)]),
    )

    assert _points(samples) == [("queue_depth", None, T_US, 1.0, "", False)]
    [rejection] = samples.rejections
    assert (rejection.reason, rejection.count) == (Reason.INVALID, 3)
    assert rejection.message == "NaN or infinite values: 3 samples of temperature."


def test_labels_over_the_tag_limits_refuse_the_series():
    many = {f"l{i}": "x" for i in range(17)}
    samples = _parse(
        ({"__name__": "wide", **many}, [(1.0, T_MS), (2.0, T_MS + 1000)]),
        ({"__name__": "long_value", "path": "x" * 201}, [(1.0, T_MS)]),
        ({"__name__": "fine", "l1": "x"}, [(1.0, T_MS)]),
    )

    assert samples.keys == ["fine"]
    assert sorted(r.message for r in samples.rejections) == [
        "Labels over the tag limits (17 labels besides the agent; at most 16): 2 samples of wide.",
        "Labels over the tag limits (Tag 'path' is longer than 200 characters): 1 sample of long_value.",
    ]


def test_series_without_a_usable_name_are_refused():
    samples = _parse(({"job": "x"}, [(1.0, T_MS)]), ({"__name__": "x" * 70}, [(1.0, T_MS)]))

    assert len(samples) == 0
    long_name = "x" * 70
    assert sorted(r.message for r in samples.rejections) == [
        f"Metric name that cannot become a catalogue key (1 to 63 letters, digits, _): 1 sample of {long_name}.",
        "No __name__ label: 1 sample of (no name).",
    ]


def test_samples_outside_the_time_window_are_refused():
    old = int((NOW - timedelta(days=400)).timestamp() * 1000)
    ahead = int((NOW + timedelta(hours=1)).timestamp() * 1000)
    samples = _parse(({"__name__": "queue_depth"}, [(1.0, old), (2.0, ahead), (3.0, T_MS)]))

    assert samples.values == [3.0]
    assert sorted(r.message for r in samples.rejections) == [
        "Timestamps more than 5 minutes in the future: 1 sample of queue_depth.",
        "Timestamps older than the retention period: 1 sample of queue_depth.",
    ]


def test_a_request_with_metadata_only_has_no_samples():
    samples = _parse(metadata=[("up", 2, "Target up.", "")])

    assert (len(samples), samples.rejections) == (0, [])


def test_cramjam_is_the_snappy_block_format_prometheus_sends():
    # Golden bytes: the varint length (5), then one literal of 5 bytes (tag 4 << 2), as Go's snappy.Encode writes.
    assert snappy_decode(b"\x05\x10hello", limit=10) == b"hello"
    assert bytes(cramjam.snappy.compress_raw(b"hello")) == b"\x05\x10hello"


def test_a_histogram_sent_without_its_inf_bucket_counts_nothing_above_its_last_bound():
    samples = _parse(
        ({"__name__": "w_seconds_bucket", "le": "1"}, [(10.0, T_MS)]),
        ({"__name__": "w_seconds_bucket", "le": "2"}, [(20.0, T_MS)]),
    )

    # Rank 10 of 20 is the whole first bucket (0, 1]; rank 19 is 90 % into (1, 2].
    assert dict(zip(samples.keys, samples.values, strict=True)) == {
        "w_seconds_p50": 1.0,
        "w_seconds_p95": 1.9,
        "w_seconds_p99": pytest.approx(1.98),
    }
