"""Series API: metrics aggregated per agent, division or domain over a time range, read from the rollups (JSON
or CSV).

The output shapes are documented by serializers but rendered from the selector's DataFrame directly: tens of
thousands of points through a serializer would cost more than the query.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import exceptions, renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.authentication import DivisionPrincipal
from agents.models import Agent, Division, Domain
from metrics.apis import READ_AUTHENTICATION
from metrics.apis.renderers import SeriesCSVRenderer
from metrics.models import Metric
from metrics.selectors import (
    AGG_CHOICES,
    GROUP_BY_CHOICES,
    GROUP_COLUMNS,
    MAX_SERIES,
    TooManySeries,
    resolution_for,
    series_aggregate,
)
from novaops import policies
from novaops.api import problem_responses
from novaops.permissions import IsPersonOrDivisionClient

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


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _series_payload(frame: pd.DataFrame, *, group_by: str) -> list[dict[str, Any]]:
    """The selector's long frame (ordered by metric, group, bucket) → one dict per (metric, group) with pairs."""
    labels = GROUP_COLUMNS[group_by]
    keys = zip(*(frame[column].tolist() for column in ("metric", *labels)), strict=True)
    # Every series shares the same few hundred buckets: format each distinct one once.
    codes, buckets = pd.factorize(frame["bucket"])
    stamps = buckets.strftime("%Y-%m-%dT%H:%M:%SZ")[codes].tolist() if len(frame) else []
    series: list[dict[str, Any]] = []
    current_key: tuple | None = None
    points: list[list[Any]] = []
    for key, ts, value in zip(keys, stamps, frame["value"].tolist(), strict=True):
        if key != current_key:
            current_key, points = key, []
            series.append({"metric": key[0], "group": dict(zip(labels, key[1:], strict=True)), "points": points})
        points.append([ts, value])
    return series


def _division_scope(principal: DivisionPrincipal, query: dict[str, Any]) -> list[int]:
    """A division token reads its own division's series only; naming anything of another division is a 403."""
    own = principal.division
    foreign = [agent.handle for agent in query["agents"] or [] if agent.division_id != own.pk]
    if foreign:
        raise exceptions.PermissionDenied(
            f"This token reads {own.name} only; these agents belong to other divisions: {', '.join(foreign[:20])}."
        )
    others = [division.slug for division in query["divisions"] or [] if division.pk != own.pk]
    if others:
        raise exceptions.PermissionDenied(f"This token reads {own.name} only, not {', '.join(others[:20])}.")
    domains = [domain.slug for domain in query["domains"] or [] if domain.pk != own.domain_id]
    if domains:
        raise exceptions.PermissionDenied(f"This token reads {own.name} only, not domain {', '.join(domains[:20])}.")
    return [own.pk]


def _list_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, many=True, explode=True, style="form", description=description)


class SeriesAggregateApi(APIView):
    """GET /api/v1/metrics/series — metrics aggregated per agent, division or domain over a time range."""

    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]
    renderer_classes = [renderers.JSONRenderer, SeriesCSVRenderer]

    @extend_schema(
        operation_id="metrics_series_aggregate",
        summary="Aggregated series",
        description=(
            "Reads the 5-minute, hourly or daily rollups, whichever keeps every series at about 1,000 points or "
            "fewer (past about 1,000 days, daily rollups are merged into buckets of several days); the cost "
            "depends on the range and the number of series, never on the number of raw points. Each point is "
            "[bucket start, value]; buckets overlapping the range are included whole. JSON by default; CSV with "
            "`?format=csv` or `Accept: text/csv`. People with any role read every series; a division token reads "
            "its own division's, and naming another division's agent, division or domain is a 403 problem. "
            "Unknown metrics, agents, divisions or domains, bad times and bad agg or group_by are 400 problems "
            f"naming the parameter, and so is a query matching more than {MAX_SERIES} series (metric × group)."
        ),
        parameters=[
            _list_parameter(
                "metric",
                f"Required. Metric key(s): repeat the parameter or separate with commas (at most {MAX_METRICS}).",
            ),
            OpenApiParameter(
                "start",
                OpenApiTypes.STR,
                description="RFC 3339 with an offset (2026-11-27T10:00:00Z) or epoch seconds. Default end − 24 h.",
            ),
            OpenApiParameter(
                "end",
                OpenApiTypes.STR,
                description=f"Same formats as start; default now. start < end, at most {MAX_SERIES_RANGE.days} days.",
            ),
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(GROUP_BY_CHOICES), default="agent"),
            OpenApiParameter(
                "agg",
                OpenApiTypes.STR,
                enum=list(AGG_CHOICES),
                default="avg",
                description="avg weighs every raw point equally (sum of sums / sum of counts); last is the latest "
                "value in the bucket.",
            ),
            _list_parameter("agent", "Only these agents (handles, e.g. ta_00008)."),
            _list_parameter("division", "Only series posted for these divisions (slugs)."),
            _list_parameter("domain", "Only series of the divisions of these domains (slugs)."),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="Overrides Accept."),
        ],
        responses={
            (200, "application/json"): SeriesAggregateOutputSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="Header row `metric,<group labels>,ts,value`, then one row per point.",
            ),
            **problem_responses(
                400, 401, 403, 406, s403="No NovaOps role, or a division token naming another division."
            ),
        },
        tags=["metrics"],
    )
    def get(self, request: Request) -> Response:
        parsed = SeriesQueryInputSerializer(data=request.query_params)
        parsed.is_valid(raise_exception=True)
        query = parsed.validated_data
        division_ids = [division.pk for division in query["divisions"]] if query["divisions"] is not None else None
        if policies.is_division_client(request.user):
            division_ids = _division_scope(request.user, query)
        start, end = query["start"], query["end"]
        try:
            frame = series_aggregate(
                metric_keys=query["metric"],
                start=start,
                end=end,
                group_by=query["group_by"],
                agg=query["agg"],
                agent_ids=[agent.pk for agent in query["agents"]] if query["agents"] is not None else None,
                division_ids=division_ids,
                domain_ids=[domain.pk for domain in query["domains"]] if query["domains"] is not None else None,
                resolution=resolution_for(start, end),
            )
        except TooManySeries as exc:
            raise exceptions.ValidationError(
                {
                    "metric": [
                        f"This query matches {exc.found} series (metric × {query['group_by']}); at most "
                        f"{exc.limit} per request. Ask for fewer metrics, filter by agent, division or domain, "
                        "or group by division or domain."
                    ]
                }
            ) from exc
        payload = {
            "metric": query["metric"],
            "start": _rfc3339(start),
            "end": _rfc3339(end),
            "resolution_seconds": frame.attrs["resolution_seconds"],
            "agg": query["agg"],
            "group_by": query["group_by"],
            "series": _series_payload(frame, group_by=query["group_by"]),
        }
        response = Response(payload)
        if isinstance(request.accepted_renderer, SeriesCSVRenderer):
            response["Content-Disposition"] = 'attachment; filename="metrics-series.csv"'
        return response
