"""Ingest API: POST a batch with a division token, read its status."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.tokens import DivisionPrincipal, DivisionTokenAuthentication
from metrics.models import IngestBatch
from metrics.serializers import BatchAcceptedSerializer, BatchSerializer
from metrics.services.ingest import (
    BodyTooLarge,
    IngestInvalid,
    UnsupportedEncoding,
    batch_accept,
    body_decode,
)
from metrics.sources.native import PayloadError
from novaops.api import ApplicationError
from novaops.problems import PROBLEM_CONTENT_TYPE, problem_body


class IsDivisionClient(permissions.BasePermission):
    message = "Posting metrics needs a division token: Authorization: Bearer nvo_…"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, DivisionPrincipal)


class CanReadBatch(permissions.BasePermission):
    """Division clients and signed-in people with a role."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if isinstance(user, DivisionPrincipal):
            return True
        return bool(user and user.is_authenticated and (user.is_superuser or hasattr(user, "person")))


def _problem(status: int, title: str, detail: str, errors: list | None = None, **headers: str) -> Response:
    body = problem_body(status=status, title=title, detail=detail, errors=errors)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


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
    permission_classes = [IsDivisionClient]

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
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type != "application/json":
            return _problem(415, "Unsupported media type", f"Send application/json, not {content_type or 'nothing'}.")
        limit = settings.METRICS_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            # Refused before reading a byte of it.
            return _problem(413, "Payload too large", f"Body of {declared} bytes is over the {limit}-byte limit.")
        raw = request._request.read(limit + 1)
        try:
            body = body_decode(raw=raw, content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)
            accepted = batch_accept(
                division=principal.division,
                token=principal.token,
                body=body,
                idempotency_key=(request.META.get("HTTP_IDEMPOTENCY_KEY") or "").strip()[:255] or None,
            )
        except BodyTooLarge as exc:
            return _problem(413, "Payload too large", str(exc))
        except UnsupportedEncoding as exc:
            return _problem(415, "Unsupported media type", str(exc))
        except PayloadError as exc:
            return _problem(400, "Invalid request", exc.detail, exc.errors)
        except IngestInvalid as exc:
            return _problem(400, "Invalid request", exc.detail, exc.errors)
        except ApplicationError as exc:
            retry_after = exc.extra.pop("retry_after", None)
            response = _problem(
                exc.status,
                {403: "Forbidden", 422: "Unprocessable request", 429: "Too many requests"}.get(exc.status, "Refused"),
                exc.message,
            )
            response.data.update(exc.extra)
            if retry_after:
                response["Retry-After"] = str(retry_after)
            return response
        batch = accepted.batch
        data = BatchAcceptedSerializer(batch).data
        headers = {"Location": request.build_absolute_uri(f"/api/v1/metrics/batches/{batch.pk}")}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(data, status=202, headers=headers)


class BatchDetailApi(APIView):
    """GET /api/v1/metrics/batches/<id> — status, counts and the failure reason of one batch."""

    authentication_classes = [DivisionTokenAuthentication, SessionAuthentication]
    permission_classes = [CanReadBatch]

    @extend_schema(operation_id="metrics_batch_retrieve", responses={200: BatchSerializer}, tags=["metrics"])
    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(IngestBatch.objects.select_related("division").defer("payload"), pk=batch_id)
        user = request.user
        if isinstance(user, DivisionPrincipal) and batch.division_id != user.division.pk:
            raise exceptions.PermissionDenied(f"Batch {batch_id} belongs to another division.")
        return Response(BatchSerializer(batch).data)
