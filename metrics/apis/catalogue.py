"""Catalogue API: every metric clients may post, read by people with a role and by division tokens, changed by
Tier 1 leads."""

from typing import Any

from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.apis import READ_AUTHENTICATION
from metrics.models import Metric
from metrics.selectors import (
    metric_get,
    metric_list,
)
from metrics.serializers import (
    MetricCreateInputSerializer,
    MetricOutputSerializer,
    MetricPageSerializer,
    MetricUpdateInputSerializer,
)
from metrics.services.catalogue import metric_create, metric_update
from novaops.api import MethodRoute, Pagination, problem_responses, refuse_unknown_parameters
from novaops.decorators import reads_from_replica
from novaops.permissions import IsLead, IsPersonOrDivisionClient
from novaops.serializers import AutoSchema


class CanEditCatalogue(IsLead):
    message = "Only Tier 1 leads can change the metric catalogue."
    division_client_message = "Division tokens post and read metrics; changing the catalogue needs a Tier 1 lead."


class MetricsRoute(MethodRoute):
    # Methods no API class of the path handles (405) are answered with the same authentication as the others.
    authentication_classes = READ_AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]
    schema = AutoSchema()


def _problems(*statuses: int, forbidden: str = "Signed in without a NovaOps role.") -> dict[Any, OpenApiResponse]:
    return problem_responses(*statuses, s403=forbidden, s409="Refused: the catalogue already holds that key.")


KEY_PARAMETER = OpenApiParameter(
    "key", OpenApiTypes.STR, OpenApiParameter.PATH, description="Metric key, e.g. latency_p95_ms."
)


def _metric_or_404(key: str) -> Metric:
    if "\x00" in key:  # no key holds NUL, and PostgreSQL refuses to compare one
        raise exceptions.NotFound(f"No metric with key '{key[:70]}'.")
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
        "and division tokens may read it. A page or page_size that is not a whole number in range is a 400 problem, "
        "and so is any other parameter.",
        parameters=Pagination.parameters(),
        responses={200: MetricPageSerializer, **_problems(400, 401, 403, 404)},
        tags=["metrics"],
    )
    @method_decorator(reads_from_replica)
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request, *Pagination.query_parameters)
        return Pagination.respond(request, self, metric_list(), MetricOutputSerializer)


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
