"""The Pushgateway front door: PUT / POST / DELETE /pushgateway/metrics/job/<job>{/<label>/<value>}, so that
prometheus_client's push_to_gateway, pushadd_to_gateway and delete_from_gateway work unchanged against the gateway
address http://<host>/pushgateway, with the division token as a Bearer token or as the Basic-auth password.

The Pushgateway protocol is its own spec: this endpoint stays out of the OpenAPI schema. It answers as the
Pushgateway does (200 for a push, 202 for a delete, 400 for a bad push; prometheus_client takes any 2xx), with a
short JSON body where the Pushgateway sends none, and its refusals are problem JSON, which the clients only log.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.authentication import DivisionPrincipal, DivisionTokenAuthentication, DivisionTokenBasicAuthentication
from metrics.apis.bodies import body_read
from metrics.services.batches import body_decode
from metrics.services.pushgateway import push_accept, push_group_delete
from metrics.sources.pushgateway import grouping_parse
from novaops.errors import UnsupportedMediaType
from novaops.permissions import IsDivisionClient

# The text exposition format, and what `curl --data-binary` sends by default (the Pushgateway's own recipes use it,
# and the Pushgateway reads every body that is not protobuf as text).
TEXT_CONTENT_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", ""})


class CanPush(IsDivisionClient):
    message = "Pushing metrics needs a division token: Authorization: Bearer nvo_…, or as the Basic-auth password."


@extend_schema(exclude=True)
class PushgatewayApi(APIView):
    authentication_classes = [DivisionTokenAuthentication, DivisionTokenBasicAuthentication]
    permission_classes = [CanPush]

    def put(self, request: Request, grouping: str) -> Response:
        """push_to_gateway: the push replaces the group's metrics."""
        return _push(request, grouping, replace=True)

    def post(self, request: Request, grouping: str) -> Response:
        """pushadd_to_gateway: the push replaces the group's metrics of the names it carries."""
        return _push(request, grouping, replace=False)

    def delete(self, request: Request, grouping: str) -> Response:
        """delete_from_gateway: the group's series end; their points stay."""
        principal: DivisionPrincipal = request.user
        ended = push_group_delete(division=principal.division, grouping=grouping_parse(grouping))
        return Response({"series_ended": ended}, status=202)


def _push(request: Request, grouping: str, *, replace: bool) -> Response:
    principal: DivisionPrincipal = request.user
    limit = settings.METRICS_MAX_BODY_BYTES
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type not in TEXT_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Send the Prometheus text format (text/plain; version=0.0.4), not {content_type}: protobuf and "
            "OpenMetrics pushes are not read here."
        )
    raw = body_read(request, limit=limit)
    body = body_decode(raw=raw, content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""), limit=limit)
    pushed = push_accept(
        division=principal.division,
        token=principal.token,
        grouping=grouping_parse(grouping),
        body=body,
        replace=replace,
    )
    batch = pushed.intake.batch
    headers = {"Idempotent-Replayed": "true"} if pushed.intake.replayed else {}
    if batch is not None:
        headers["Location"] = request.build_absolute_uri(f"/api/v1/metrics/batches/{batch.pk}")
    data = {
        "batch": batch.pk if batch else None,
        "points": batch.point_count if batch else 0,
        "series": pushed.series,
        "series_ended": pushed.ended,
    }
    return Response(data, status=200, headers=headers)
