"""What the protocol sources (OTLP, Prometheus remote write, Pushgateway) share: the decoded points, column-wise,
before the catalogue, the agents and the caps are applied (metrics.services.intake does that), and the conversions
every protocol needs: a metric name to a catalogue key, labels to tags, histogram buckets to percentiles.

Nothing here touches the database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metrics.models import METRIC_KEY_PATTERN, MetricKind
from metrics.sources.native import MAX_TAGS, tags_canonical

_KEY_RE = re.compile(METRIC_KEY_PATTERN)
_NOT_KEY_CHARS = re.compile(r"[^a-z0-9_]+")
# The label (Prometheus) or resource attribute (OTLP) that names the agent a point belongs to.
AGENT_LABEL = "agent"
AGENT_ATTRIBUTE = "novaops.agent"
PERCENTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))


class Reason:
    """Why points were refused; the endpoints choose their status from it (a protocol answers each its own way)."""

    INVALID = "invalid"  # the point itself is unusable (a NaN, a bad name, too many labels): never retry it
    UNKNOWN_AGENT = "unknown-agent"
    FOREIGN_AGENT = "foreign-agent"  # an agent of another division: the token may not write it
    CAP = "cap"  # the division's cap on metric names or series


@dataclass(frozen=True)
class Rejection:
    reason: str
    count: int
    message: str


@dataclass(frozen=True)
class MetricInfo:
    """What a protocol says about a metric, for registering it when the catalogue does not have it yet."""

    name: str
    kind: str = MetricKind.GAUGE
    unit: str = ""
    description: str = ""


@dataclass
class Samples:
    """Decoded points, column-wise. `cumulative` marks a counter's running total (stored as its increment since the
    previous total, metrics.models.CumulativeCursor); `start_us` is its start time when the protocol says (0 when
    it does not). `metrics` describes every key used; `rejections` are what the decoder refused itself."""

    keys: list[str] = field(default_factory=list)
    handles: list[str | None] = field(default_factory=list)
    ts_us: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # canonical JSON, "" for none
    cumulative: list[bool] = field(default_factory=list)
    start_us: list[int] = field(default_factory=list)
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts_us)

    def add(
        self,
        key: str,
        handle: str | None,
        ts_us: int,
        value: float,
        tags: str,
        *,
        cumulative: bool = False,
        start_us: int = 0,
    ) -> None:
        self.keys.append(key)
        self.handles.append(handle)
        self.ts_us.append(ts_us)
        self.values.append(value)
        self.tags.append(tags)
        self.cumulative.append(cumulative)
        self.start_us.append(start_us)

    def reject(self, reason: str, message: str, count: int = 1) -> None:
        self.rejections.append(Rejection(reason, count, message))

    def select(self, keep: list[int]) -> Samples:
        """The points at the positions `keep`, with the same metrics and rejections."""
        return Samples(
            keys=[self.keys[i] for i in keep],
            handles=[self.handles[i] for i in keep],
            ts_us=[self.ts_us[i] for i in keep],
            values=[self.values[i] for i in keep],
            tags=[self.tags[i] for i in keep],
            cumulative=[self.cumulative[i] for i in keep],
            start_us=[self.start_us[i] for i in keep],
            metrics=self.metrics,
            rejections=self.rejections,
        )


def metric_key(name: str) -> str | None:
    """The catalogue key for a protocol's metric name: lower case, every run of other characters (OpenTelemetry's
    dots, Prometheus' colons) one underscore. None when no key can be made (empty, or longer than a key may be)."""
    key = _NOT_KEY_CHARS.sub("_", name.lower()).strip("_")
    if key and not key[0].isalpha():
        key = f"m_{key}"
    return key if _KEY_RE.fullmatch(key) else None


def tags_from(labels: Mapping[str, object], *, skip: Iterable[str] = ()) -> tuple[str, str | None]:
    """(canonical tags JSON, None) from labels or attributes, or ("", problem) when they break the tag limits.
    Values that are not strings (OTLP ints, bools, doubles) are tagged by their text; `skip` leaves out the labels
    that are not tags (the agent's, the metric name)."""
    skipped = set(skip)
    tags = {key: value if type(value) is str else _text(value) for key, value in labels.items() if key not in skipped}
    if not tags:
        return "", None
    if len(tags) > MAX_TAGS:
        return "", f"{len(tags)} labels besides the agent; at most {MAX_TAGS}."
    return tags_canonical(tags)


def _text(value: object) -> str:
    if type(value) is bool:
        return "true" if value else "false"
    return str(value)


def percentiles_from_buckets(buckets: list[tuple[float, float, float]]) -> list[tuple[str, float]]:
    """p50 / p95 / p99 estimated from histogram buckets, as Prometheus' histogram_quantile does: within the bucket
    that holds the rank, linearly between its bounds. `buckets` are (lower, upper, count) in ascending order, counts
    not cumulative; an open upper bound (+Inf) answers its lower bound. Empty histograms give nothing."""
    total = sum(count for _, _, count in buckets)
    if total <= 0:
        return []
    estimates = []
    for quantile, suffix in PERCENTILES:
        rank = quantile * total
        seen = 0.0
        for lower, upper, count in buckets:
            if count > 0 and seen + count >= rank:
                if math.isinf(upper):
                    estimate = lower
                elif math.isinf(lower):
                    estimate = upper
                else:
                    estimate = lower + (upper - lower) * (rank - seen) / count
                estimates.append((suffix, estimate))
                break
            seen += count
    return estimates


def explicit_buckets(bounds: list[float], counts: list[float]) -> list[tuple[float, float, float]]:
    """(lower, upper, count) of an explicit-bounds histogram (OTLP's, or Prometheus' `le` buckets made
    non-cumulative): n bounds, n + 1 counts, the first bucket starting at 0 when its bound is positive."""
    lowers = [min(0.0, bounds[0]) if bounds else 0.0, *bounds]
    uppers = [*bounds, math.inf]
    return list(zip(lowers, uppers, counts, strict=True))
