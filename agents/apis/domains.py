"""Domains API: every domain, and one domain, with its Tier 1 lead and its division and agent counts."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.apis import AUTHENTICATION, SLUG_PARAMETER, problems
from agents.filters import UNKNOWN_DOMAIN
from agents.models import Domain
from agents.selectors import domain_get, domain_list
from agents.serializers import DomainOutputSerializer
from novaops.permissions import IsPersonOrDivisionClient
from novaops.policies import division_scope


class DomainListApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="domains_list",
        summary="List domains",
        description="Every domain with its Tier 1 lead and its division and agent counts; a division token gets "
        "its own division's domain only.",
        responses={200: DomainOutputSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(DomainOutputSerializer(domain_list(division_id=division_scope(request.user)), many=True).data)


class DomainDetailApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="domains_retrieve",
        summary="Get a domain",
        description="One domain with its Tier 1 lead and its division and agent counts. A division token reads its "
        "own division's domain; another is a 404.",
        parameters=[SLUG_PARAMETER],
        responses={200: DomainOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        try:
            domain = domain_get(slug=slug, division_id=division_scope(request.user))
        except Domain.DoesNotExist:
            raise NotFound(UNKNOWN_DOMAIN.format(value=slug[:60])) from None
        return Response(DomainOutputSerializer(domain).data)
