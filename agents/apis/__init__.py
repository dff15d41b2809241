"""The registry REST API, one module per entity: domains, divisions, agents (routes in agents.api_urls).

One thin API class per operation: parse input, call one selector or service, render. REST puts two operations on
one path (GET and POST /agents, GET and PATCH /agents/<handle>), so novaops.api.MethodRoute joins the classes of one
path and hands each request to the class of its method, with that class's own permissions. The layers are described
in docs/architecture.md.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from novaops.api import problem_responses


def problems(*statuses: int, forbidden: str = "Signed in without a NovaOps role.") -> dict[Any, OpenApiResponse]:
    """The problem responses of a registry operation, for its OpenAPI description."""
    return problem_responses(*statuses, s403=forbidden, s409="Refused: the registry already holds that name.")


SLUG_PARAMETER = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH)
