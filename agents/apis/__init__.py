"""The registry REST API, one module per entity: domains, divisions, agents (routes in agents.api_urls).

One thin API class per operation: parse input, call one selector or service, render. REST puts two operations on
one path (GET and POST /agents, GET and PATCH /agents/<handle>), so novaops.api.MethodRoute joins the classes of one
path and hands each request to the class of its method, with that class's own permissions. The layers are described
in docs/architecture.md.

Reads answer people with a role and division tokens; a token reads its own division's entries only (its domain, its
division, its agents: agents.selectors narrows every read to novaops.policies.division_scope), and anything outside
is a 404, as if it did not exist: a collector learns nothing about other divisions, not even which names are taken.
Writes stay with people: a token is recognised there only to be refused with a 403 that says why.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.authentication import SessionAuthentication

from agents.authentication import DivisionTokenAuthentication
from novaops.api import MethodRoute, problem_responses
from novaops.permissions import IsPersonOrDivisionClient
from novaops.serializers import AutoSchema

# Every registry operation recognises both; the writes document the session only (`SESSION_ONLY`).
AUTHENTICATION = [DivisionTokenAuthentication, SessionAuthentication]
SESSION_ONLY = [{"cookieAuth": []}]
READ_FORBIDDEN = "Signed in without a NovaOps role."
WRITE_FORBIDDEN_BY_TOKEN = "a division token (tokens only read the registry)"
NOT_FOUND = "No such object, or (for a division token) one outside the token's division."


class RegistryRoute(MethodRoute):
    # Methods no API class of the path handles (405) are answered with the same authentication as the others.
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]
    schema = AutoSchema()


def problems(*statuses: int, forbidden: str = READ_FORBIDDEN) -> dict[Any, OpenApiResponse]:
    """The problem responses of a registry operation, for its OpenAPI description."""
    return problem_responses(
        *statuses, s403=forbidden, s404=NOT_FOUND, s409="Refused: the registry already holds that name."
    )


SLUG_PARAMETER = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH)
