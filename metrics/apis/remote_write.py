"""POST /api/v1/prom/write — Prometheus remote write 1.0, where Prometheus, Grafana Alloy and vmagent are pointed.

The answers follow the protocol, which senders act on by status: 204 once the samples are committed (a body sent
again within the replay window is stored once and answered 204 again); 4xx is dropped, never retried — 400 for a
body that is not a WriteRequest and for samples refused (the others are stored, as Mimir and Cortex do: a retry would
be refused again), 403 naming agents of another division, 413, 415; 429 (with Retry-After) and 503 are retried.
Bodies are problem JSON, which senders only log. Not in the OpenAPI schema: the protocol is its own specification.
"""

import hashlib

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.authentication import DivisionTokenAuthentication, DivisionTokenBasicAuthentication
from metrics.apis.bodies import body_read
from metrics.services.intake import samples_accept
from metrics.sources.common import Reason, Rejection
from metrics.sources.remote_write import SOURCE, snappy_decode, write_request_parse
from novaops.errors import Forbidden, InvalidInput, UnsupportedMediaType
from novaops.permissions import IsDivisionClient

CONTENT_TYPE = "application/x-protobuf"
# Remote write 2.0 says so in Content-Type; a 415 tells its senders to fall back to 1.0.
PROTO_V1 = "prometheus.WriteRequest"
VERSION_V1 = "0.1."
MESSAGES_SHOWN = 10


class CanRemoteWrite(IsDivisionClient):
    message = "Remote write needs a division token: authorization: {credentials: nvo_…} in the remote_write block."


class RemoteWriteApi(APIView):
    """Decode, store what can be stored durably, answer by the protocol."""

    # Bearer as Prometheus' `authorization` block sends it; Basic with the token as password for senders that only
    # have basic_auth.
    authentication_classes = [DivisionTokenAuthentication, DivisionTokenBasicAuthentication]
    permission_classes = [CanRemoteWrite]

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        principal = request.user
        limit = settings.METRICS_MAX_BODY_BYTES
        _refuse_unsupported(request)
        raw = body_read(request, limit=limit)
        body = snappy_decode(raw, limit=limit)
        samples = write_request_parse(body, now=timezone.now())
        if not samples:  # metadata only, staleness markers, or nothing usable: nothing to store
            _answer(samples.rejections)
            return Response(status=204)
        intake = samples_accept(
            division=principal.division,
            token=principal.token,
            samples=samples,
            source=SOURCE,
            digest=hashlib.sha256(body).hexdigest(),
            partial=True,
        )
        _answer(intake.rejections)
        return Response(status=204)


def _refuse_unsupported(request: Request) -> None:
    """415 for anything but remote write 1.0's snappy protobuf, before reading a byte of it."""
    media_type, *params = (part.strip() for part in request.content_type.split(";"))
    proto = next((p.partition("=")[2].strip('"') for p in params if p.lower().startswith("proto=")), PROTO_V1)
    if media_type.lower() != CONTENT_TYPE or proto != PROTO_V1:
        raise UnsupportedMediaType(
            f"Send a remote write 1.0 {CONTENT_TYPE} WriteRequest, not {request.content_type[:80] or 'nothing'}."
        )
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip()
    if encoding.lower() != "snappy":
        raise UnsupportedMediaType(f"Content-Encoding must be snappy, not {encoding[:40] or 'nothing'}.")
    version = request.META.get("HTTP_X_PROMETHEUS_REMOTE_WRITE_VERSION", "").strip()
    if version and not version.startswith(VERSION_V1):
        raise UnsupportedMediaType(f"Remote write version {version[:20]} is not supported; send 0.1.0 (1.0).")


def _answer(rejections: list[Rejection]) -> None:
    """Nothing refused: return (204). Agents of another division: 403 naming them; anything else refused: 400
    saying what. The rest is stored either way, and neither status is retried."""
    if not rejections:
        return
    refused = sum(rejection.count for rejection in rejections)
    messages = [rejection.message for rejection in rejections]
    shown = " ".join(messages[:MESSAGES_SHOWN]) + (
        f" ({len(messages) - MESSAGES_SHOWN} more problems not listed.)" if len(messages) > MESSAGES_SHOWN else ""
    )
    detail = f"{refused} sample(s) refused, the others stored. {shown}"
    if any(rejection.reason == Reason.FOREIGN_AGENT for rejection in rejections):
        raise Forbidden(detail)
    raise InvalidInput(detail)
