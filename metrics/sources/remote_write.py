"""Prometheus remote write 1.0: a snappy-compressed protobuf WriteRequest (metrics.sources.prompb) → Samples.

Who is who: the label `agent` names the agent, else the points are the division's; `__name__` is the metric (its
catalogue key by metrics.sources.common.metric_key); every other label (job and instance included) is a tag.
Remote write 1.0 carries types only in metadata sent apart from the samples, so the kind follows Prometheus'
naming conventions: `_total`, `_count`, `_sum` and `_bucket` are counters' running totals, anything else a gauge.
Classic histograms' `_bucket{le=…}` series are not stored as such: each (histogram, labels, timestamp) becomes
`<name>_p50`, `_p95`, `_p99` gauges estimated from its buckets (since the process started, as the totals are).

Staleness markers (the NaN Prometheus writes when a series disappears) are skipped; any other NaN or ±Inf refused.
"""

from __future__ import annotations

import math
import struct
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import NamedTuple

import cramjam
from django.conf import settings
from google.protobuf.message import DecodeError

from metrics.models import MetricKind
from metrics.services.batches import EPOCH, FUTURE_TOLERANCE
from metrics.sources.common import (
    AGENT_LABEL,
    MetricInfo,
    Reason,
    Samples,
    explicit_buckets,
    metric_key,
    percentiles_from_buckets,
    tags_from,
)
from metrics.sources.native import PayloadError
from metrics.sources.prompb import WriteRequest
from novaops.errors import PayloadTooLarge

SOURCE = "remote_write"
NAME_LABEL = "__name__"
BUCKET_LABEL = "le"
# value.StaleNaN in prometheus/model/value: the one NaN that means "this series is gone", not a measurement.
STALE_NAN_BITS = 0x7FF0000000000002
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
HISTOGRAM_SUFFIX = "_bucket"
NAMES_SHOWN = 10
_MICROSECOND = timedelta(microseconds=1)


def snappy_decode(raw: bytes, *, limit: int) -> bytearray:
    """Undo the snappy block format, refusing a body that says it decompresses to more than `limit` bytes before a
    byte of it is decompressed (the block starts with that length, and decompression never writes past it).

    Raises PayloadTooLarge (413) and PayloadError (400) for what is not snappy."""
    try:
        size = cramjam.snappy.decompress_raw_len(raw)
    except cramjam.DecompressionError as exc:
        raise PayloadError(f"Body is not snappy-compressed (block format): {exc}.") from None
    if size > limit:
        raise PayloadTooLarge(f"Body decompresses to {size} bytes, over the {limit}-byte limit.")
    body = bytearray(size)
    try:
        cramjam.snappy.decompress_raw_into(raw, body)
    except cramjam.DecompressionError as exc:
        raise PayloadError(f"Body is not valid snappy: {exc}.") from None
    return body


def write_request_parse(body: bytes | bytearray, *, now: datetime) -> Samples:
    """The samples of a decompressed WriteRequest. Raises PayloadError (400) for a body that is not one; samples
    that cannot be stored (no name, labels over the tag limits, NaN, out of the time window) are refused in
    `rejections`, counted and described by problem."""
    try:
        request = WriteRequest.FromString(body)
    except DecodeError:  # upb names no position, only the message type
        raise PayloadError("Body is not a remote write 1.0 WriteRequest: truncated or corrupt protobuf.") from None
    now_us = (now - EPOCH) // _MICROSECOND
    window = (
        now_us - timedelta(days=settings.METRICS_RETENTION_DAYS) // _MICROSECOND,
        now_us + FUTURE_TOLERANCE // _MICROSECOND,
    )
    described = {meta.metric_family_name: meta for meta in request.metadata}
    samples = Samples()
    problems: dict[str, Counter] = defaultdict(Counter)
    histograms: dict[tuple, list[tuple[str, float]]] = defaultdict(list)
    # Prometheus sends a TimeSeries per sample, so a request repeats each label set: each is read once.
    identities: dict[tuple, _Identity] = {}
    for series in request.timeseries:
        label_pairs = tuple((label.name, label.value) for label in series.labels)
        identity = identities.get(label_pairs)
        if identity is None:
            identity = identities[label_pairs] = _series_identity(dict(label_pairs))
            if not identity.problem and identity.le is None and identity.key not in samples.metrics:
                samples.metrics[identity.key] = _info(identity.name, described)
        if identity.problem:
            problems[identity.problem][identity.name or "(no name)"] += len(series.samples)
            continue
        for sample in series.samples:
            value, ts_us = sample.value, sample.timestamp * 1000
            problem = _sample_problem(value, ts_us, window)
            if problem == "stale":
                continue
            if problem:
                problems[problem][identity.name] += 1
            elif identity.le is not None:
                base = identity.name.removesuffix(HISTOGRAM_SUFFIX)
                histograms[(base, identity.handle, identity.tags, ts_us)].append((identity.le, value))
            else:
                samples.add(identity.key, identity.handle, ts_us, value, identity.tags, cumulative=identity.cumulative)
    for (base, handle, tags, ts_us), buckets in histograms.items():
        _percentiles_add(samples, problems, base, handle, tags, ts_us, buckets, described)
    for problem, names in problems.items():
        samples.reject(Reason.INVALID, f"{problem}: {_count(names)}.", sum(names.values()))
    return samples


class _Identity(NamedTuple):
    """What a series' labels say: its metric, agent and tags, or the problem that refuses its samples."""

    problem: str | None
    name: str
    key: str = ""
    handle: str | None = None
    tags: str = ""
    cumulative: bool = False
    le: str | None = None  # the bound of a histogram bucket, whose samples become percentiles


def _series_identity(labels: dict[str, str]) -> _Identity:
    """The `le` of a histogram bucket is not a tag: a histogram's buckets are one series of percentiles."""
    name = labels.get(NAME_LABEL, "")
    if not name:
        return _Identity("No __name__ label", name)
    key = metric_key(name)
    if key is None:
        return _Identity("Metric name that cannot become a catalogue key (1 to 63 letters, digits, _)", name)
    le = labels.get(BUCKET_LABEL) if name.endswith(HISTOGRAM_SUFFIX) else None
    skip = (NAME_LABEL, AGENT_LABEL) if le is None else (NAME_LABEL, AGENT_LABEL, BUCKET_LABEL)
    tags, problem = tags_from(labels, skip=skip)
    if problem:
        return _Identity(f"Labels over the tag limits ({problem.rstrip('.')})", name)
    return _Identity(None, name, key, labels.get(AGENT_LABEL) or None, tags, name.endswith(COUNTER_SUFFIXES), le)


def _sample_problem(value: float, ts_us: int, window: tuple[int, int]) -> str | None:
    if not math.isfinite(value):
        if math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS:
            return "stale"
        return "NaN or infinite values"
    if ts_us < window[0]:
        return "Timestamps older than the retention period"
    if ts_us > window[1]:
        return "Timestamps more than 5 minutes in the future"
    return None


def _info(name: str, described: dict) -> MetricInfo:
    """What Prometheus says of a metric when the request carries its metadata (the family name is the metric's,
    or the metric's less a counter's or histogram's suffix)."""
    kind = MetricKind.COUNTER if name.endswith(COUNTER_SUFFIXES) else MetricKind.GAUGE
    family = described.get(name)
    for suffix in COUNTER_SUFFIXES:
        if family is None and name.endswith(suffix):
            family = described.get(name.removesuffix(suffix))
    if family is None:
        return MetricInfo(name=name, kind=kind)
    return MetricInfo(name=name, kind=kind, unit=family.unit, description=family.help)


def _percentiles_add(
    samples: Samples,
    problems: dict[str, Counter],
    base: str,
    handle: str | None,
    tags: str,
    ts_us: int,
    buckets: list[tuple[str, float]],
    described: dict,
) -> None:
    """p50 / p95 / p99 gauges of one histogram at one time from its cumulative `le` buckets."""
    keys = {suffix: metric_key(f"{base}_{suffix}") for suffix in ("p50", "p95", "p99")}
    name = base + HISTOGRAM_SUFFIX
    if None in keys.values():
        problems["Histogram name too long for its percentiles' catalogue keys"][name] += len(buckets)
        return
    try:
        bounds = sorted((float(le), count) for le, count in buckets)
    except ValueError:
        bounds = []
    if not bounds or any(math.isnan(le) for le, _ in bounds):
        problems["Histogram buckets whose le label is not a number"][name] += len(buckets)
        return
    counts, below = [], 0.0
    for _, total in bounds:  # `le` buckets count everything at or below their bound: one bucket's own count
        counts.append(total - below)
        below = total
    if any(count < 0 for count in counts):
        problems["Histogram buckets whose counts are not cumulative"][name] += len(buckets)
        return
    finite = [le for le, _ in bounds if le != math.inf]
    if len(finite) == len(bounds):  # no +Inf bucket was sent: nothing is counted above the last bound
        counts.append(0.0)
    family = described.get(base)
    for suffix, estimate in percentiles_from_buckets(explicit_buckets(finite, counts)):
        key = keys[suffix]
        samples.metrics.setdefault(
            key,
            MetricInfo(
                name=f"{base} {suffix}",
                kind=MetricKind.GAUGE,
                unit=family.unit if family else "",
                description=f"{suffix} of the histogram {base}, estimated from its buckets.",
            ),
        )
        samples.add(key, handle, ts_us, estimate, tags)


def _count(names: Counter) -> str:
    """How many samples, of which metrics (the first few named): "3 samples of a, b"."""
    total = sum(names.values())
    listed = sorted(names)
    shown = ", ".join(listed[:NAMES_SHOWN]) + (
        f" and {len(listed) - NAMES_SHOWN} more" if len(listed) > NAMES_SHOWN else ""
    )
    return f"{total} sample{'s' if total != 1 else ''} of {shown}"
