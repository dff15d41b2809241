"""API input and output shapes of the metrics app (the batches, the catalogue and the aggregated series).

A batch's points are validated by metrics.sources in one tight loop, never by a serializer per point.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.models import Agent, Division, Domain
from metrics.models import METRIC_KEY_PATTERN, IngestBatch, Metric, MetricDirection, MetricKind
from metrics.selectors import AGG_CHOICES, GROUP_BY_CHOICES
from novaops.serializers import StrictInputSerializer, TextField


class BatchAcceptedSerializer(serializers.ModelSerializer):
    points = serializers.IntegerField(source="point_count")
    series = serializers.IntegerField(source="series_count")

    class Meta:
        model = IngestBatch
        fields = ["id", "status", "points", "series"]


class BatchSerializer(serializers.ModelSerializer):
    division = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    points = serializers.IntegerField(source="point_count")
    series = serializers.IntegerField(source="series_count")

    class Meta:
        model = IngestBatch
        fields = [
            "id",
            "status",
            "division",
            "points",
            "series",
            "points_written",
            "ts_min",
            "ts_max",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]


METRIC_KEY_MESSAGE = (
    "A metric key is a lower-case letter followed by 1 to 62 lower-case letters, digits or _, e.g. latency_p95_ms."
)


@extend_schema_serializer(component_name="Metric")
class MetricOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    kind = serializers.ChoiceField(choices=MetricKind.choices)
    better = serializers.ChoiceField(choices=MetricDirection.choices, help_text="Which direction is good.")
    description = serializers.CharField()


@extend_schema_serializer(component_name="MetricPage")
class MetricPageSerializer(serializers.Serializer):
    """The shape of novaops.api.Pagination around a page of metrics (documented explicitly for the schema)."""

    count = serializers.IntegerField(help_text="Metrics in the catalogue, over all pages.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MetricOutputSerializer(many=True)


def _kind_field(**kwargs: Any) -> serializers.ChoiceField:
    message = f"Kind must be one of {', '.join(MetricKind.values)}; not '{{input}}'."
    return serializers.ChoiceField(choices=MetricKind.choices, error_messages={"invalid_choice": message}, **kwargs)


def _better_field(**kwargs: Any) -> serializers.ChoiceField:
    message = f"Better must be one of {', '.join(MetricDirection.values)}; not '{{input}}'."
    return serializers.ChoiceField(
        choices=MetricDirection.choices,
        error_messages={"invalid_choice": message},
        help_text="Which direction is good: higher, lower or neutral.",
        **kwargs,
    )


@extend_schema_serializer(component_name="MetricCreate")
class MetricCreateInputSerializer(StrictInputSerializer):
    """A new catalogue entry; fields not listed here are refused."""

    # The pattern fixes the length too; a max_length as well would answer a long key with two messages.
    key = serializers.RegexField(
        METRIC_KEY_PATTERN,
        error_messages={"invalid": METRIC_KEY_MESSAGE},
        help_text="Lower-case letter, then 1 to 62 lower-case letters, digits or _, e.g. latency_p95_ms.",
    )
    name = TextField(max_length=120)
    unit = TextField(max_length=30, allow_blank=True, default="")
    kind = _kind_field(default=MetricKind.GAUGE)
    better = _better_field(default=MetricDirection.NEUTRAL)
    description = TextField(allow_blank=True, default="")


@extend_schema_serializer(component_name="MetricUpdate")
class MetricUpdateInputSerializer(StrictInputSerializer):
    """The fields to change (at least one); the key cannot be changed, other fields are refused."""

    min_fields = 1

    name = TextField(max_length=120, required=False)
    unit = TextField(max_length=30, allow_blank=True, required=False)
    kind = _kind_field(required=False)
    better = _better_field(required=False)
    description = TextField(allow_blank=True, required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and "key" in data:
            raise serializers.ValidationError(
                {"key": ["A metric's key cannot be changed: series and clients refer to it. Create a new metric."]}
            )
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(f"Nothing to change; send at least one of {', '.join(self.fields)}.")
        return attrs


MAX_SERIES_RANGE = timedelta(days=1830)  # five years: 2-day buckets, 915 points a series


DEFAULT_SERIES_RANGE = timedelta(hours=24)


MAX_METRICS = 20


MAX_FILTER_VALUES = 500


_EPOCH_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


# An unencoded "+" in a query string arrives as a space: "…T10:00:00 02:00" meant "…T10:00:00+02:00".
_LOST_PLUS_RE = re.compile(r"^(.+T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")


class TimestampParamField(serializers.Field):
    """RFC 3339 with an offset (`2026-11-27T10:00:00Z`) or epoch seconds; returned in UTC."""

    def to_internal_value(self, data: Any) -> datetime:
        text = str(data).strip()
        if _EPOCH_RE.match(text):
            try:
                return datetime.fromtimestamp(float(text), tz=UTC)
            except (OverflowError, OSError, ValueError):
                raise serializers.ValidationError(f"Epoch seconds out of range: {text[:40]!r}.") from None
        text = _LOST_PLUS_RE.sub(r"\1+\2", text)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise serializers.ValidationError(
                f"Not an RFC 3339 timestamp or epoch seconds: {str(data)[:40]!r}."
            ) from None
        if moment.tzinfo is None:
            raise serializers.ValidationError(
                f"Timestamp {str(data)[:40]!r} has no UTC offset; add Z or +hh:mm (%2B in a URL)."
            )
        return moment.astimezone(UTC)

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class CommaListField(serializers.Field):
    """A query parameter given once or repeated, each value possibly comma-separated: ?metric=a,b&metric=c.

    Returns the distinct items in the order given.
    """

    def __init__(self, *, max_items: int, **kwargs: Any) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    def get_value(self, dictionary: Any) -> Any:
        if hasattr(dictionary, "getlist"):
            values = dictionary.getlist(self.field_name)
            return values if values else serializers.empty
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data: Any) -> list[str]:
        chunks = [data] if isinstance(data, str) else list(data)
        items: list[str] = []
        for chunk in chunks:
            for item in str(chunk).split(","):
                item = item.strip()
                if item and item not in items:
                    items.append(item)
        if not items:
            hint = "" if self.required else ", or leave the parameter out"
            raise serializers.ValidationError(f"Give at least one value{hint}.")
        if len(items) > self.max_items:
            raise serializers.ValidationError(f"At most {self.max_items} values; got {len(items)}.")
        return items

    def to_representation(self, value: list[str]) -> list[str]:
        return value


def _unknown(kind: str, names: list[str]) -> serializers.ValidationError:
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return serializers.ValidationError(f"Unknown {kind}{'s' if len(names) > 1 else ''}: {shown}.")


class SeriesQueryInputSerializer(serializers.Serializer):
    """Query parameters of GET /api/v1/metrics/series; names are resolved to rows here (one query each).

    validated_data: metric (keys), start, end (UTC), group_by, agg, and for the filters given, `agents`
    ([Agent]), `divisions` ([Division]), `domains` ([Domain]).
    """

    metric = CommaListField(
        max_items=MAX_METRICS,
        error_messages={"required": "Required: one or more metric keys, e.g. ?metric=latency_p95_ms."},
    )
    start = TimestampParamField(required=False)
    end = TimestampParamField(required=False)
    group_by = serializers.ChoiceField(
        choices=GROUP_BY_CHOICES,
        default="agent",
        error_messages={"invalid_choice": f"group_by must be one of {', '.join(GROUP_BY_CHOICES)}; not '{{input}}'."},
    )
    agg = serializers.ChoiceField(
        choices=AGG_CHOICES,
        default="avg",
        error_messages={"invalid_choice": f"agg must be one of {', '.join(AGG_CHOICES)}; not '{{input}}'."},
    )
    agent = CommaListField(max_items=MAX_FILTER_VALUES, required=False)
    division = CommaListField(max_items=MAX_FILTER_VALUES, required=False)
    domain = CommaListField(max_items=MAX_FILTER_VALUES, required=False)

    def validate_metric(self, keys: list[str]) -> list[str]:
        known = set(Metric.objects.filter(key__in=keys).values_list("key", flat=True))
        missing = [key for key in keys if key not in known]
        if missing:
            raise _unknown("metric", missing)
        return keys

    def validate_agent(self, handles: list[str]) -> list[Agent]:
        agents = {agent.handle: agent for agent in Agent.objects.filter(handle__in=handles).select_related("division")}
        missing = [handle for handle in handles if handle not in agents]
        if missing:
            raise _unknown("agent", missing)
        return [agents[handle] for handle in handles]

    def validate_division(self, slugs: list[str]) -> list[Division]:
        divisions = {division.slug: division for division in Division.objects.filter(slug__in=slugs)}
        missing = [slug for slug in slugs if slug not in divisions]
        if missing:
            raise _unknown("division", missing)
        return [divisions[slug] for slug in slugs]

    def validate_domain(self, slugs: list[str]) -> list[Domain]:
        domains = {domain.slug: domain for domain in Domain.objects.filter(slug__in=slugs)}
        missing = [slug for slug in slugs if slug not in domains]
        if missing:
            raise _unknown("domain", missing)
        return [domains[slug] for slug in slugs]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.now().replace(microsecond=0)
        start = attrs.get("start") or end - DEFAULT_SERIES_RANGE
        if start >= end:
            raise serializers.ValidationError({"start": [f"start ({start.isoformat()}) must be before end."]})
        if end - start > MAX_SERIES_RANGE:
            raise serializers.ValidationError(
                {"start": [f"The range from start to end is over {MAX_SERIES_RANGE.days} days (five years)."]}
            )
        attrs["start"], attrs["end"] = start, end
        attrs["agents"] = attrs.pop("agent", None)
        attrs["divisions"] = attrs.pop("division", None)
        attrs["domains"] = attrs.pop("domain", None)
        return attrs


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}]},
            "description": "[bucket start (UTC, RFC 3339), value]",
        },
        "example": [["2026-11-27T10:00:00Z", 41.5], ["2026-11-27T10:05:00Z", 39.0]],
    }
)
class PointPairsField(serializers.ListField):
    pass


@extend_schema_serializer(component_name="AggregatedSeries")
class SeriesOutputSerializer(serializers.Serializer):
    metric = serializers.CharField()
    group = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text=(
            "The group's labels: agent, callsign and division (group_by=agent; agent and callsign are null for "
            "series sent without an agent), division and name (group_by=division), domain and name (group_by=domain)."
        ),
    )
    points = PointPairsField(help_text="At most about 1,000 pairs, ordered by time; empty buckets are left out.")


@extend_schema_serializer(component_name="SeriesAggregate")
class SeriesAggregateOutputSerializer(serializers.Serializer):
    metric = serializers.ListField(child=serializers.CharField())
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    resolution_seconds = serializers.IntegerField(
        help_text="Bucket width: 300, 3600, 86400, or a multiple of 86400 for ranges over about 1,000 days."
    )
    agg = serializers.ChoiceField(choices=AGG_CHOICES)
    group_by = serializers.ChoiceField(choices=GROUP_BY_CHOICES)
    series = SeriesOutputSerializer(many=True)
