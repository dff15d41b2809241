"""Batches API: POST a batch of points with a division token (validated fully, stored, answered 202; a worker
lands it), and read a batch's status.

A batch's points are validated by metrics.sources, never by a serializer per point.
"""

import re

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.authentication import DivisionPrincipal, DivisionTokenAuthentication
from metrics.apis import READ_AUTHENTICATION
from metrics.apis.bodies import body_read
from metrics.models import IngestBatch
from metrics.serializers import BatchAcceptedSerializer, BatchSerializer
from metrics.services.batches import batch_accept, body_decode
from metrics.sources.native import MAX_POINTS, MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS
from novaops import policies
from novaops.api import problem_responses
from novaops.errors import UnsupportedMediaType
from novaops.permissions import IsDivisionClient, IsPersonOrDivisionClient
from novaops.serializers import AutoSchema


class CanPostBatches(IsDivisionClient):
    message = "Posting metrics needs a division token: Authorization: Bearer nvo_…"


class CanReadBatch(IsPersonOrDivisionClient):
    # A user without a role gets DRF's own words here, as this endpoint has always answered (the catalogue and
    # series endpoints name the missing role).
    message = exceptions.PermissionDenied.default_detail


# The Content-Encoding values metrics.services.batches.body_decode decodes (gzip, x-gzip, identity or nothing, in any
# case), as the schema states them; the view refuses anything else with a 415 before reading the body. ASCII classes
# only, so ECMA 262 (the schema's readers) and Python (this view) agree on what matches.
CONTENT_ENCODING_PATTERN = r"^[ \t]*([gG][zZ][iI][pP]|[xX]-[gG][zZ][iI][pP]|[iI][dD][eE][nN][tT][iI][tT][yY])?[ \t]*$"
_CONTENT_ENCODING_RE = re.compile(CONTENT_ENCODING_PATTERN.removeprefix("^").removesuffix("$"))

# The body as metrics.sources.native checks it (that module, not a serializer, validates a batch: one tight loop).
_POINT_SCHEMA = {
    "type": "object",
    "required": ["metric", "ts", "value"],
    "additionalProperties": False,
    "properties": {
        "metric": {"type": "string", "description": "A key of the metric catalogue."},
        "agent": {
            "type": "string",
            "nullable": True,
            "pattern": r"^ta_[0-9]{5}$",
            "description": "An agent of the token's division; absent or null for a division-wide series.",
        },
        "ts": {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": "RFC 3339 with an offset, or epoch seconds; at most 5 minutes ahead, within retention.",
        },
        "value": {"type": "number", "description": "Finite: NaN and Infinity are refused."},
        "tags": {
            "type": "object",
            "nullable": True,
            "maxProperties": MAX_TAGS,
            "additionalProperties": {"type": "string", "maxLength": MAX_TAG_VALUE},
            "description": f"Keys of 1 to {MAX_TAG_KEY} letters, digits, _ . -, starting with a letter or _.",
        },
    },
}
BATCH_SCHEMA = {
    "type": "object",
    "required": ["points"],
    "additionalProperties": False,
    "properties": {"points": {"type": "array", "minItems": 1, "maxItems": MAX_POINTS, "items": _POINT_SCHEMA}},
}

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
    schema = AutoSchema()

    @extend_schema(
        operation_id="metrics_batch_create",
        request={"application/json": BATCH_SCHEMA},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Same key and body → the original answer; same key, other body → 422.",
            ),
            OpenApiParameter(
                "Content-Encoding",
                {"type": "string", "pattern": CONTENT_ENCODING_PATTERN},
                OpenApiParameter.HEADER,
                required=False,
                description="gzip (or x-gzip) for a compressed body; identity, empty or absent for a plain one; "
                "in any case. Any other encoding is a 415 problem.",
            ),
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
        _refuse_unreadable_body(request)
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "")
        if not _CONTENT_ENCODING_RE.fullmatch(encoding):
            raise UnsupportedMediaType(f"Content-Encoding {encoding[:40]!r} is not supported; use gzip or none.")
        raw = body_read(request, limit=limit)
        body = body_decode(raw=raw, content_encoding=encoding, limit=limit)
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


def _refuse_unreadable_body(request: Request) -> None:
    """415 for a body that is not JSON, before reading a byte of it."""
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType(f"Send application/json, not {content_type or 'nothing'}.")


class BatchDetailApi(APIView):
    """GET /api/v1/metrics/batches/<id> — status, counts and the failure reason of one batch."""

    authentication_classes = READ_AUTHENTICATION
    permission_classes = [CanReadBatch]

    @extend_schema(
        operation_id="metrics_batch_retrieve",
        summary="Get a batch",
        description="Status, counts and the failure reason of one batch. A division token reads its own "
        "division's batches; another division's is a 403 problem.",
        responses={
            200: BatchSerializer,
            **problem_responses(
                401,
                403,
                404,
                s403="No NovaOps role, or a division token asking for another division's batch.",
                s404="No batch with that id (a batch id is a whole number).",
            ),
        },
        tags=["metrics"],
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(IngestBatch.objects.select_related("division").defer("payload"), pk=batch_id)
        user = request.user
        if policies.is_division_client(user) and batch.division_id != user.division.pk:
            raise exceptions.PermissionDenied(f"Batch {batch_id} belongs to another division.")
        return Response(BatchSerializer(batch).data)
