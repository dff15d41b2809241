"""Divisions API: every division (of one domain), and one division, with its lead and agent counts."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.apis import AUTHENTICATION, SLUG_PARAMETER, problems
from agents.filters import UNKNOWN_DIVISION
from agents.models import Division
from agents.selectors import division_get, division_list
from agents.serializers import DivisionFilterSerializer, DivisionOutputSerializer
from novaops.api import refuse_unknown_parameters
from novaops.permissions import IsPersonOrDivisionClient
from novaops.policies import division_scope


class DivisionListApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="divisions_list",
        summary="List divisions",
        description="Every division (of one domain with `?domain=<slug>`) with its lead and agent counts; a "
        "division token gets its own division only.",
        parameters=[
            OpenApiParameter(
                "domain", OpenApiTypes.STR, description="Slug of a domain; an unknown slug is a 400 problem."
            )
        ],
        responses={200: DivisionOutputSerializer(many=True), **problems(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        refuse_unknown_parameters(request, *DivisionFilterSerializer().fields)
        filters = DivisionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        divisions = division_list(domain=filters.validated_data.get("domain"), division_id=division_scope(request.user))
        return Response(DivisionOutputSerializer(divisions, many=True).data)


class DivisionDetailApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="divisions_retrieve",
        summary="Get a division",
        description="One division with its domain, lead and agent counts. A division token reads its own "
        "division; another is a 404.",
        parameters=[SLUG_PARAMETER],
        responses={200: DivisionOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        try:
            division = division_get(slug=slug, division_id=division_scope(request.user))
        except Division.DoesNotExist:
            raise NotFound(UNKNOWN_DIVISION.format(value=slug[:60])) from None
        return Response(DivisionOutputSerializer(division).data)
