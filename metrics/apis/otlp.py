"""OTLP/HTTP metrics: `POST /otlp/v1/metrics`, where OpenTelemetry exporters send them with
`OTEL_EXPORTER_OTLP_ENDPOINT=http://<host>/otlp` and the division token in `OTEL_EXPORTER_OTLP_HEADERS`.

This endpoint answers as the OTLP specification says, not with problem JSON: its clients are exporters. Success is
200 with an ExportMetricsServiceResponse (its `partial_success` counting and explaining the points refused); a
failure is a google.rpc.Status with its message. Both in the request's encoding: protobuf (application/x-protobuf)
or OTLP/JSON (application/json); anything else is a 415 in protobuf. Statuses: 400 for a body that cannot be
decoded, 401 / 403 for the token, 413 for a body over the limit, 415 for another content type or encoding, and the
ones exporters retry: 429 (the division's quota) and 503 (the database unavailable), with Retry-After.
Not in the OpenAPI schema: the protocol is OTLP's.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceResponse,
)
from rest_framework.request import Request
from rest_framework.views import APIView

from agents.authentication import DivisionPrincipal, DivisionTokenAuthentication
from metrics.apis.bodies import body_read
from metrics.services.batches import body_decode, points_window
from metrics.services.intake import samples_accept
from metrics.sources.otlp import CONTENT_TYPES, JSON, PROTOBUF, otlp_decode, otlp_samples
from novaops.api import problem_exception_handler
from novaops.errors import UnsupportedMediaType
from novaops.permissions import IsDivisionClient

SOURCE = "otlp"


class OtlpMetricsApi(APIView):
    """POST /otlp/v1/metrics — store what can be stored (committed before the 200), say what was refused."""

    # Only division tokens authenticate here: anyone else is a 401 before the permission is asked.
    authentication_classes = [DivisionTokenAuthentication]
    permission_classes = [IsDivisionClient]
    http_method_names = ["post"]

    @extend_schema(exclude=True)
    def post(self, request: Request) -> HttpResponse:
        principal: DivisionPrincipal = request.user
        content_type = _content_type(request)
        limit = settings.METRICS_MAX_BODY_BYTES
        raw = body_read(request, limit=limit)
        body = body_decode(raw=raw, content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)
        _, min_us, max_us = points_window()
        samples = otlp_samples(otlp_decode(body, content_type=content_type), min_us=min_us, max_us=max_us)
        intake = samples_accept(
            division=principal.division,
            token=principal.token,
            samples=samples,
            source=SOURCE,
            # The same export sent again (the exporter retrying after a lost answer) is stored once.
            digest=hashlib.sha256(content_type.encode() + b"\n" + body).hexdigest(),
            partial=True,
        )
        answer = ExportMetricsServiceResponse()
        if intake.rejected:
            answer.partial_success.CopyFrom(
                ExportMetricsPartialSuccess(
                    rejected_data_points=intake.rejected,
                    error_message=" ".join(rejection.message for rejection in intake.rejections),
                )
            )
        return _encoded(answer, content_type, status=200)

    def get_exception_handler(self):
        return status_exception_handler


def _content_type(request: Request) -> str:
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type not in CONTENT_TYPES:
        raise UnsupportedMediaType(f"Send {PROTOBUF} or {JSON}, not {content_type or 'nothing'}.")
    return content_type


def status_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    """Every refusal as a google.rpc.Status with the status, headers (Retry-After, WWW-Authenticate) and message
    the shared problem handler gives it, in the request's encoding (protobuf when that is not one of OTLP's)."""
    problem = problem_exception_handler(exc, context)
    content_type = context["request"].content_type.split(";")[0].strip().lower()
    response = _encoded(
        Status(message=problem.data["detail"]),
        content_type if content_type in CONTENT_TYPES else PROTOBUF,
        status=problem.status_code,
    )
    for name, value in problem.headers.items():
        if name.lower() != "content-type":
            response[name] = value
    return response


def _encoded(message: Message, content_type: str, *, status: int) -> HttpResponse:
    if content_type == JSON:
        body = json_format.MessageToJson(message, indent=None, use_integers_for_enums=True).encode()
    else:
        body = message.SerializeToString()
    return HttpResponse(body, status=status, content_type=content_type)
