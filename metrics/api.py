"""Metrics API: ingest batches (POST with a division token, read their status), the metric catalogue, and
aggregated series read from the rollups (JSON or CSV)."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.tokens import DivisionPrincipal, DivisionTokenAuthentication
from metrics.models import IngestBatch, Metric
from metrics.selectors import (
    AGG_CHOICES,
    GROUP_BY_CHOICES,
    GROUP_COLUMNS,
    MAX_SERIES,
    TooManySeries,
    metric_get,
    metric_list,
    resolution_for,
    series_aggregate,
)
from metrics.serializers import (
    MAX_METRICS,
    MAX_SERIES_RANGE,
    BatchAcceptedSerializer,
    BatchSerializer,
    MetricCreateInputSerializer,
    MetricOutputSerializer,
    MetricPageSerializer,
    MetricUpdateInputSerializer,
    SeriesAggregateOutputSerializer,
    SeriesQueryInputSerializer,
)
from metrics.services.batches import batch_accept, body_decode
from metrics.services.catalogue import metric_create, metric_update
from novaops import policies
from novaops.api import MethodRoute, Pagination, problem_responses
from novaops.errors import PayloadTooLarge, UnsupportedMediaType
from novaops.permissions import IsDivisionClient, IsLead, IsPersonOrDivisionClient


class CanPostBatches(IsDivisionClient):
    message = "Posting metrics needs a division token: Authorization: Bearer nvo_…"


class CanReadBatch(IsPersonOrDivisionClient):
    # A user without a role gets DRF's own words here, as this endpoint has always answered (the catalogue and
    # series endpoints name the missing role).
    message = exceptions.PermissionDenied.default_detail


POINTS_EXAMPLE = {
    "points": [
        {
            "metric": "latency_p95_ms",
            "agent": "ta_00008",
            "ts": "2026-11-27T10:00:00Z",
            "value": 41.5,
            "tags": {"region": "eu"},
        },
        {"metric": "queue_backlog", "ts": 1795000000, "value": 12},
    ]
}


class BatchCreateApi(APIView):
    """POST /api/v1/metrics/batches — validate fully, store durably, answer 202; a worker lands the points."""

    authentication_classes = [DivisionTokenAuthentication]
    permission_classes = [CanPostBatches]

    @extend_schema(
        operation_id="metrics_batch_create",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Same key and body → the original answer; same key, other body → 422.",
            ),
            OpenApiParameter("Content-Encoding", str, OpenApiParameter.HEADER, required=False, enum=["gzip"]),
        ],
        examples=[OpenApiExample("Two points", value=POINTS_EXAMPLE, request_only=True)],
        responses={
            202: BatchAcceptedSerializer,
            400: OpenApiResponse(description="Malformed body or invalid points, each listed in errors[]."),
            401: OpenApiResponse(description="Missing or unknown token."),
            403: OpenApiResponse(description="Revoked/expired token, or agents of another division."),
            413: OpenApiResponse(description="Body (or its decompressed form) over 20 MB."),
            415: OpenApiResponse(description="Not application/json, or an unknown Content-Encoding."),
            422: OpenApiResponse(description="Idempotency-Key reused with a different body."),
            429: OpenApiResponse(description="The division is over its quota; see Retry-After."),
            503: OpenApiResponse(description="Database unavailable; retry after Retry-After."),
        },
        tags=["metrics"],
    )
    def post(self, request: Request) -> Response:
        principal: DivisionPrincipal = request.user
        limit = settings.METRICS_MAX_BODY_BYTES
        _refuse_unreadable_body(request, limit)
        raw = request._request.read(limit + 1)
        body = body_decode(raw=raw, content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)
        accepted = batch_accept(
            division=principal.division,
            token=principal.token,
            body=body,
            idempotency_key=(request.META.get("HTTP_IDEMPOTENCY_KEY") or "").strip()[:255] or None,
        )
        batch = accepted.batch
        data = BatchAcceptedSerializer(batch).data
        headers = {"Location": request.build_absolute_uri(f"/api/v1/metrics/batches/{batch.pk}")}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(data, status=202, headers=headers)


def _refuse_unreadable_body(request: Request, limit: int) -> None:
    """415 for a body that is not JSON, 413 for one declared over the limit: both before reading a byte of it."""
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType(f"Send application/json, not {content_type or 'nothing'}.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(f"Body of {declared} bytes is over the {limit}-byte limit.")


class BatchDetailApi(APIView):
    """GET /api/v1/metrics/batches/<id> — status, counts and the failure reason of one batch."""

    authentication_classes = [DivisionTokenAuthentication, SessionAuthentication]
    permission_classes = [CanReadBatch]

    @extend_schema(operation_id="metrics_batch_retrieve", responses={200: BatchSerializer}, tags=["metrics"])
    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(IngestBatch.objects.select_related("division").defer("payload"), pk=batch_id)
        user = request.user
        if policies.is_division_client(user) and batch.division_id != user.division.pk:
            raise exceptions.PermissionDenied(f"Batch {batch_id} belongs to another division.")
        return Response(BatchSerializer(batch).data)


# --- reads for people and division clients, writes for leads ---

READ_AUTHENTICATION = [DivisionTokenAuthentication, SessionAuthentication]


class CanEditCatalogue(IsLead):
    message = "Only Tier 1 leads can change the metric catalogue."
    division_client_message = "Division tokens post and read metrics; changing the catalogue needs a Tier 1 lead."


class MetricsRoute(MethodRoute):
    # Methods no API class of the path handles (405) are answered with the same authentication as the others.
    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]


def _problems(*statuses: int, forbidden: str = "Signed in without a NovaOps role.") -> dict[Any, OpenApiResponse]:
    return problem_responses(*statuses, s403=forbidden, s409="Refused: the catalogue already holds that key.")


# --- catalogue ---

KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH, description="Metric key, e.g. latency_p95_ms."
)


def _metric_or_404(key: str) -> Metric:
    try:
        return metric_get(key=key)
    except Metric.DoesNotExist:
        raise exceptions.NotFound(f"No metric with key '{key[:70]}'.") from None


class MetricListApi(APIView):
    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="metrics_catalogue_list",
        summary="List the metric catalogue",
        description="Every metric clients may post, ordered by key, one page at a time. People with any role "
        "and division tokens may read it.",
        parameters=[
            OpenApiParameter("page", OpenApiTypes.INT, description="1-based; a page past the end is a 404 problem."),
            OpenApiParameter(
                "page_size", OpenApiTypes.INT, description=f"Default 50, at most {Pagination.max_page_size}."
            ),
        ],
        responses={200: MetricPageSerializer, **_problems(401, 403, 404)},
        tags=["metrics"],
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(metric_list(), request, view=self)
        return paginator.get_paginated_response(MetricOutputSerializer(page, many=True).data)


class MetricCreateApi(APIView):
    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient, CanEditCatalogue]

    @extend_schema(
        operation_id="metrics_catalogue_create",
        summary="Add a metric to the catalogue",
        description="Tier 1 leads and superusers only. A key already in the catalogue is a 409 problem.",
        request=MetricCreateInputSerializer,
        responses={
            201: MetricOutputSerializer,
            **_problems(400, 401, 403, 409, 413, 415, forbidden="Not a Tier 1 lead or superuser, or a division token."),
        },
        tags=["metrics"],
    )
    def post(self, request: Request) -> Response:
        serializer = MetricCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        metric = metric_create(**serializer.validated_data)
        location = reverse("api:metrics:catalogue-detail", kwargs={"key": metric.key})
        return Response(MetricOutputSerializer(metric).data, status=201, headers={"Location": location})


class MetricDetailApi(APIView):
    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="metrics_catalogue_retrieve",
        summary="Get a metric",
        description="One catalogue entry: its name, unit, kind and which direction is good.",
        parameters=[KEY_PARAMETER],
        responses={200: MetricOutputSerializer, **_problems(401, 403, 404)},
        tags=["metrics"],
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(MetricOutputSerializer(_metric_or_404(key)).data)


class MetricUpdateApi(APIView):
    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient, CanEditCatalogue]

    @extend_schema(
        operation_id="metrics_catalogue_partial_update",
        summary="Change a metric",
        description="Name, unit, kind, direction and description; Tier 1 leads and superusers only. The key "
        "cannot be changed, and other fields are refused with a 400 problem.",
        parameters=[KEY_PARAMETER],
        request=MetricUpdateInputSerializer,
        responses={
            200: MetricOutputSerializer,
            **_problems(400, 401, 403, 404, 413, 415, forbidden="Not a Tier 1 lead or superuser, or a division token."),
        },
        tags=["metrics"],
    )
    def patch(self, request: Request, key: str) -> Response:
        metric = _metric_or_404(key)
        serializer = MetricUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        metric = metric_update(metric=metric, **serializer.validated_data)
        return Response(MetricOutputSerializer(metric).data)


# --- aggregated series ---


class SeriesCSVRenderer(renderers.BaseRenderer):
    """The series payload as CSV: a header row, then one row per point (metric, group labels, ts, value)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        response = (renderer_context or {}).get("response")
        if (response is not None and response.status_code >= 400) or not (isinstance(data, dict) and "series" in data):
            # A problem stays JSON (the exception handler has set application/problem+json) when CSV was asked for.
            return renderers.JSONRenderer().render(data, accepted_media_type, renderer_context)
        labels = GROUP_COLUMNS[data["group_by"]]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", *labels, "ts", "value"])
        for series in data["series"]:
            prefix = [series["metric"], *(series["group"][label] for label in labels)]
            writer.writerows([*prefix, ts, value] for ts, value in series["points"])
        return out.getvalue().encode()


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
            **_problems(400, 401, 403, 406, forbidden="No NovaOps role, or a division token naming another division."),
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
