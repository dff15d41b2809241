"""Pushgateway pushes (prometheus_client's push_to_gateway / pushadd_to_gateway): the grouping path and the text
exposition format, decoded into Samples at the push's one timestamp (pushes carry none of their own).

How a push becomes points:
- the group's job is the tag `job` and its other labels are tags, except `agent`, which names the agent (a sample
  label `agent` names it for that sample); a sample label may repeat a grouping label but not contradict it (400,
  as the Pushgateway answers); a label with an empty value is no label, as in Prometheus;
- counters (`<name>_total`) are running totals: kind counter, cumulative; their `_created` gauges are dropped;
- gauges and untyped samples are gauges under their own names;
- histograms: `<name>_count` and `<name>_sum` (cumulative counters) and the gauges `<name>_p50`, `_p95`, `_p99`
  estimated from the `le` buckets, which are not stored;
- summaries: `<name>_count` and `<name>_sum` as for histograms, and each quantile the gauge `<name>_p<quantile
  × 100>` (0.5 → `_p50`, 0.999 → `_p99_9`), so a summary's percentiles read like a histogram's. A quantile of NaN
  (no observation in the summary's window) is skipped; any other NaN or infinite value refuses the push.

A push is all or nothing, so the first problem refuses it (InvalidInput, 400) naming the sample.
Nothing here touches the database.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from prometheus_client.parser import text_string_to_metric_families

from metrics.models import MetricKind
from metrics.sources.common import (
    AGENT_LABEL,
    MetricInfo,
    Samples,
    explicit_buckets,
    metric_key,
    percentiles_from_buckets,
    tags_from,
)
from novaops.errors import InvalidInput

JOB_LABEL = "job"
BASE64_SUFFIX = "@base64"
_LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPES_WITH_CREATED = ("counter", "histogram", "summary")
REFUSED = "Nothing was stored."
MAX_NAME = 200  # a metric family's name, as PushGroupSeries.family keeps it


@dataclass(frozen=True)
class Grouping:
    """A Pushgateway group: its job and its other grouping labels (the agent's among them)."""

    job: str
    labels: dict[str, str]

    @property
    def agent(self) -> str | None:
        return self.labels.get(AGENT_LABEL) or None

    def describe(self) -> str:
        """The group in one line (job first, then the labels in order), for the push's digest."""
        pairs = [(JOB_LABEL, self.job), *sorted(self.labels.items())]
        return "/".join(f"{name}={value!r}" for name, value in pairs)


@dataclass
class Push:
    """A push's points, and the metric family each came from (what a POST replaces in its group)."""

    samples: Samples = field(default_factory=Samples)
    families: list[str] = field(default_factory=list)

    def add(self, family: str, key: str, info: MetricInfo, labels: dict[str, str], value: float, ts_us: int) -> None:
        tags, problem = tags_from(labels, skip=(AGENT_LABEL,))
        if problem:
            raise InvalidInput(f"{_sample_name(info.name, labels)}: {problem} {REFUSED}")
        self.samples.metrics.setdefault(key, info)
        cumulative = info.kind == MetricKind.COUNTER
        self.samples.add(key, labels.get(AGENT_LABEL), ts_us, value, tags, cumulative=cumulative)
        self.families.append(family)


def grouping_parse(path: str) -> Grouping:
    """`job/<job>{/<label>/<value>}` as prometheus_client builds it: a name ending in @base64 has its value in
    base64url (values with `/`; `=` for an empty one). Raises InvalidInput (400)."""
    segments = path.split("/")
    if len(segments) % 2:
        raise InvalidInput("The grouping path must be job/<job> followed by /<label>/<value> pairs.")
    labels: dict[str, str] = {}
    for raw_name, raw_value in zip(segments[::2], segments[1::2], strict=True):
        name, value = raw_name, raw_value
        if name.endswith(BASE64_SUFFIX):
            name = name.removesuffix(BASE64_SUFFIX)
            value = _base64url(raw_value, name)
        if not _LABEL_NAME_RE.fullmatch(name):
            raise InvalidInput(
                f"Grouping label name {name[:80]!r} must be letters, digits and _, not starting with a digit."
            )
        if name in labels:
            raise InvalidInput(f"Grouping label {name!r} appears twice in the path.")
        labels[name] = value
    if not labels[JOB_LABEL]:
        raise InvalidInput("The job name must not be empty.")
    _, problem = tags_from(labels, skip=(AGENT_LABEL,))
    if problem:
        raise InvalidInput(f"Grouping labels: {problem}")
    job = labels.pop(JOB_LABEL)
    return Grouping(job=job, labels=labels)


def _base64url(value: str, name: str) -> str:
    """Padded or not, as the Pushgateway reads it."""
    unpadded = value.rstrip("=")
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInput(f"The value of grouping label {name!r} is not base64url-encoded UTF-8.") from None


def push_decode(body: bytes, *, grouping: Grouping, ts_us: int) -> Push:
    """A text-format body (version 0.0.4 or 1.0.0) as points at ts_us. Raises InvalidInput (400)."""
    try:
        families = list(text_string_to_metric_families(body.decode()))
    except UnicodeDecodeError:
        raise InvalidInput(f"The body is not UTF-8 text. {REFUSED}") from None
    except ValueError as exc:
        problem = str(exc)[:200] or "a line is malformed"
        raise InvalidInput(f"Not the Prometheus text format: {problem}. {REFUSED}") from None
    with_created = {family.name for family in families if family.type in _TYPES_WITH_CREATED}
    push = Push()
    seen: set[tuple[str, str | None, str]] = set()
    for family in families:
        if family.type == "gauge" and family.name.endswith("_created") and family.name[:-8] in with_created:
            continue  # a counter's, histogram's or summary's start time: NovaOps keeps no such series
        decode = _DECODERS.get(family.type)
        if decode is None:
            raise InvalidInput(
                f"Metric {family.name!r} has type {family.type!r}, which the text format does not have. {REFUSED}"
            )
        for sample in family.samples:
            if sample.timestamp is not None:
                raise InvalidInput(
                    f"{_sample_name(sample.name, sample.labels)} has a timestamp; pushed samples "
                    f"take the time of the push. {REFUSED}"
                )
        decode(push, family, grouping, ts_us)
    for i, combo in enumerate(zip(push.samples.keys, push.samples.handles, push.samples.tags, strict=True)):
        if combo in seen:
            raise InvalidInput(f"Metric {combo[0]!r} has the same labels twice ({push.families[i]}). {REFUSED}")
        seen.add(combo)
    return push


def _plain(push: Push, family, grouping: Grouping, ts_us: int) -> None:
    """Counters (running totals), gauges and untyped samples: one point each under the sample's own name."""
    kind = MetricKind.COUNTER if family.type == "counter" else MetricKind.GAUGE
    for sample in family.samples:
        key, info = _metric(sample.name, kind, family)
        push.add(family.name, key, info, _labels(sample, grouping), _finite(sample), ts_us)


def _histogram(push: Push, family, grouping: Grouping, ts_us: int) -> None:
    buckets: dict[str, dict[float, float]] = {}
    label_sets: dict[str, dict[str, str]] = {}
    for sample in family.samples:
        if sample.name == f"{family.name}_bucket":
            bound = _bound(sample, "le")
            if bound == -math.inf:
                raise InvalidInput(f"{_sample_name(sample.name, sample.labels)}: le is a number or +Inf. {REFUSED}")
            labels = _labels(sample, grouping, without="le")
            identity = repr(sorted(labels.items()))
            label_sets[identity] = labels
            buckets.setdefault(identity, {})[bound] = _finite(sample)
        else:
            _totals(push, family, sample, grouping, ts_us)
    for identity, cumulative in buckets.items():
        if math.inf not in cumulative:
            raise InvalidInput(f'Histogram {family.name!r} has no le="+Inf" bucket. {REFUSED}')
        bounds = sorted(cumulative)
        totals = [cumulative[bound] for bound in bounds]
        counts = [total - below for total, below in zip(totals, [0.0, *totals[:-1]], strict=True)]
        if min(counts) < 0:
            raise InvalidInput(f"Histogram {family.name!r}: a bucket counts fewer than the one below it. {REFUSED}")
        for suffix, estimate in percentiles_from_buckets(explicit_buckets(bounds[:-1], counts)):
            key, info = _metric(f"{family.name}_{suffix}", MetricKind.GAUGE, family)
            push.add(family.name, key, info, label_sets[identity], estimate, ts_us)


def _summary(push: Push, family, grouping: Grouping, ts_us: int) -> None:
    for sample in family.samples:
        if sample.name != family.name:
            _totals(push, family, sample, grouping, ts_us)
            continue
        quantile = _bound(sample, "quantile")
        if math.isnan(sample.value):
            continue  # no observation in the summary's window: nothing to store
        key, info = _metric(f"{family.name}_p{_percent(quantile, sample)}", MetricKind.GAUGE, family)
        push.add(family.name, key, info, _labels(sample, grouping, without="quantile"), _finite(sample), ts_us)


def _totals(push: Push, family, sample, grouping: Grouping, ts_us: int) -> None:
    """A histogram's or summary's `_count` and `_sum`: running totals, like counters."""
    key, info = _metric(sample.name, MetricKind.COUNTER, family)
    push.add(family.name, key, info, _labels(sample, grouping), _finite(sample), ts_us)


_DECODERS = {
    "counter": _plain,
    "gauge": _plain,
    "unknown": _plain,  # untyped, as prometheus_client's parser names it
    "histogram": _histogram,
    "summary": _summary,
}


def _metric(name: str, kind: str, family) -> tuple[str, MetricInfo]:
    key = metric_key(name)
    if key is None or len(name) > MAX_NAME:
        raise InvalidInput(
            f"Metric name {name[:100]!r} cannot be a NovaOps metric key (at most 63 characters). {REFUSED}"
        )
    return key, MetricInfo(name=name, kind=kind, unit=family.unit or "", description=family.documentation)


def _labels(sample, grouping: Grouping, *, without: str = "") -> dict[str, str]:
    """The grouping's labels with the sample's; empty values dropped. A contradiction is refused."""
    labels = {JOB_LABEL: grouping.job, **grouping.labels}
    for name, value in sample.labels.items():
        if name == without or value == "":
            continue
        if labels.get(name, "") not in ("", value):
            raise InvalidInput(
                f"{_sample_name(sample.name, sample.labels)}: label {name}={value!r} contradicts "
                f"the grouping label {name}={labels[name]!r}. {REFUSED}"
            )
        labels[name] = value
    return {name: value for name, value in labels.items() if value != ""}


def _bound(sample, label: str) -> float:
    try:
        bound = float(sample.labels[label])
        if math.isnan(bound):
            raise ValueError
        return bound
    except (KeyError, ValueError):
        raise InvalidInput(
            f"{_sample_name(sample.name, sample.labels)} needs a numeric {label!r} label. {REFUSED}"
        ) from None


def _percent(quantile: float, sample) -> str:
    """0.5 → "50", 0.999 → "99_9": the quantile in percent, as a key's characters."""
    try:
        percent = (Decimal(repr(quantile)) * 100).normalize()
    except InvalidOperation:
        percent = Decimal(-1)
    if not 0 <= percent <= 100:
        raise InvalidInput(f"{_sample_name(sample.name, sample.labels)}: a quantile is between 0 and 1. {REFUSED}")
    return format(percent, "f").replace(".", "_")


def _finite(sample) -> float:
    value = float(sample.value)
    if not math.isfinite(value):
        raise InvalidInput(
            f"{_sample_name(sample.name, sample.labels)} is {sample.value}: NovaOps stores finite "
            f"values only. {REFUSED}"
        )
    return value


def _sample_name(name: str, labels: Mapping[str, str]) -> str:
    shown = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{name}{{{shown}}}"[:200] if labels else name[:200]
