"""Series API: metrics aggregated per agent, division or domain over a time range, read from the rollups (JSON
or CSV).

The output shapes are documented by serializers but rendered from the selector's DataFrame directly: tens of
thousands of points through a serializer would cost more than the query.
"""

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from django.http import Http404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.authentication import DivisionPrincipal
from metrics.apis import READ_AUTHENTICATION
from metrics.apis.renderers import SeriesCSVRenderer
from metrics.selectors import (
    AGG_CHOICES,
    GROUP_BY_CHOICES,
    GROUP_COLUMNS,
    MAX_SERIES,
    TooManySeries,
    resolution_for,
    series_aggregate,
)
from metrics.serializers import (
    MAX_METRICS,
    MAX_SERIES_RANGE,
    SeriesAggregateOutputSerializer,
    SeriesQueryInputSerializer,
)
from novaops import policies
from novaops.api import problem_responses, refuse_unknown_parameters
from novaops.decorators import reads_from_replica
from novaops.permissions import IsPersonOrDivisionClient


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


def _list_parameter(name: str, description: str, *, required: bool = False) -> OpenApiParameter:
    """A repeatable query parameter of names; each value holds at least one name (blank values are refused)."""
    schema = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": NAMES_PATTERN}}
    return OpenApiParameter(name, schema, required=required, explode=True, style="form", description=description)


# A value of a list parameter: one or more comma-separated names, at least one of them not blank, no NUL.
NAMES_PATTERN = r"^[^\u0000]*[^\s,\u0000][^\u0000]*$"


class SeriesAggregateApi(APIView):
    """GET /api/v1/metrics/series — metrics aggregated per agent, division or domain over a time range."""

    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]
    renderer_classes = [renderers.JSONRenderer, SeriesCSVRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # DRF answers an unknown ?format= with a 404, as if the path did not exist; it is a bad parameter.
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            value = request.query_params.get("format", "")[:40]
            raise exceptions.ValidationError({"format": [f"format must be json or csv; not {value!r}."]}) from None

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
            f"naming the parameter, and so are a query matching more than {MAX_SERIES} series (metric × group) and "
            "an unknown parameter."
        ),
        parameters=[
            _list_parameter(
                "metric",
                f"Metric key(s): repeat the parameter or separate with commas (at most {MAX_METRICS}).",
                required=True,
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
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=["json", "csv"], description="Overrides Accept; another is a 400."
            ),
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
    @method_decorator(reads_from_replica)
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request, *SeriesQueryInputSerializer().fields, "format")
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
