"""Agents API: list (filtered, paginated), create, read and change agents (not their lifecycle state: that moves
through agents.apis.lifecycle's transitions).

Reading is for every NovaOps role and for division tokens (their own division's agents; any other is a 404);
creating for Tier 1 leads, changing for leads and the members of the agent's division (novaops.policies, the
predicates the agent edit page uses too). Tokens never write (403).
"""

from django.db.models import Model
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.apis import AUTHENTICATION, SESSION_ONLY, WRITE_FORBIDDEN_BY_TOKEN, problems
from agents.constants import HANDLE_EXAMPLE, HANDLE_FORMAT, READ_ONLY_MESSAGE, is_handle
from agents.filters import AgentFilter
from agents.models import Agent
from agents.selectors import agent_get, agent_list_filtered
from agents.serializers import (
    AgentCreateInputSerializer,
    AgentDetailOutputSerializer,
    AgentOutputSerializer,
    AgentPageSerializer,
    AgentUpdateInputSerializer,
)
from agents.services.agents import agent_create, agent_update
from novaops import policies
from novaops.api import Pagination, refuse_unknown_parameters
from novaops.permissions import IsLead, IsPerson, IsPersonOrDivisionClient
from novaops.policies import division_scope
from novaops.serializers import NO_NUL_PATTERN

HANDLE_PARAMETER = OpenApiParameter(
    "handle", OpenApiTypes.STR, OpenApiParameter.PATH, description=f"{HANDLE_FORMAT}, e.g. {HANDLE_EXAMPLE}."
)


def agent_or_404(handle: str, *, division_id: int | None) -> Agent:
    if not is_handle(handle):
        raise NotFound(f"'{handle[:40]}' is not an agent handle: a handle is {HANDLE_FORMAT}.")
    try:
        return agent_get(handle=handle, division_id=division_id)
    except Agent.DoesNotExist:
        raise NotFound(f"No agent with handle {handle}.") from None


# --- permissions ---


class CanCreateAgents(IsLead):
    message = "Only Tier 1 leads can create agents."


class CanEditAgents(permissions.BasePermission):
    """Leads edit every agent, division members the agents of their own division (the predicates of the edit page)."""

    message = READ_ONLY_MESSAGE

    def has_permission(self, request: Request, view: APIView) -> bool:
        return policies.can_edit_some_agents(request.user)

    def has_object_permission(self, request: Request, view: APIView, obj: Model) -> bool:
        assert isinstance(obj, Agent)
        if policies.can_edit_division(request.user, obj.division_id):
            return True
        self.message = (
            f"You can edit the agents of your own division only; {obj.handle} belongs to {obj.division.name}."
        )
        return False


# --- operations ---


class AgentListApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="agents_list",
        summary="List agents",
        description=(
            "Agents ordered by handle, one page at a time; a division token lists its own division's agents only. "
            "Filters combine; an unknown division or domain slug, tier or lifecycle state is a 400 problem naming "
            "the parameter, and so is a page or page_size that is not a whole number in range, and any other "
            "parameter."
        ),
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "maxLength": 60, "pattern": NO_NUL_PATTERN},
                description="Handle prefix, or text in callsign or role title.",
            ),
            OpenApiParameter("domain", OpenApiTypes.STR, description="Domain slug."),
            OpenApiParameter("division", OpenApiTypes.STR, description="Division slug."),
            # A blank value means any (the registry page's filter form sends blanks): documented as an enum value.
            OpenApiParameter(
                "tier", {"type": "string", "enum": ["1", "2", "3", ""]}, description="1, 2 or 3; blank for any."
            ),
            OpenApiParameter(
                "lifecycle_state",
                {"type": "string", "enum": [*Agent.Lifecycle.values, ""]},
                description="Blank for any.",
            ),
            *Pagination.parameters(),
        ],
        responses={200: AgentPageSerializer, **problems(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        # A bad filter value raises Django's ValidationError, which novaops.api answers as a 400 problem.
        refuse_unknown_parameters(request, *AgentFilter.Meta.fields, *Pagination.query_parameters)
        agents = agent_list_filtered(filters=request.query_params, division_id=division_scope(request.user))
        return Pagination.respond(request, self, agents, AgentOutputSerializer)


class AgentCreateApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPerson, CanCreateAgents]

    @extend_schema(
        operation_id="agents_create",
        summary="Create an agent",
        description="Tier 1 leads and superusers only. A handle already taken is a 409 problem.",
        request=AgentCreateInputSerializer,
        responses={
            201: AgentDetailOutputSerializer,
            **problems(
                400,
                401,
                403,
                409,
                413,
                415,
                forbidden=f"Not a Tier 1 lead or superuser, or {WRITE_FORBIDDEN_BY_TOKEN}.",
            ),
        },
        auth=SESSION_ONLY,
    )
    def post(self, request: Request) -> Response:
        serializer = AgentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent = agent_create(**serializer.validated_data)
        body = AgentDetailOutputSerializer(agent_get(handle=agent.handle)).data
        location = reverse("api:agents:agent-detail", kwargs={"handle": agent.handle})
        return Response(body, status=201, headers={"Location": location})


class AgentDetailApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="agents_retrieve",
        summary="Get an agent",
        description="One agent, with the division or domain it leads. A malformed or unknown handle is a 404, and "
        "so is another division's agent for a division token.",
        parameters=[HANDLE_PARAMETER],
        responses={200: AgentDetailOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, handle: str) -> Response:
        agent = agent_or_404(handle, division_id=division_scope(request.user))
        return Response(AgentDetailOutputSerializer(agent).data)


class AgentUpdateApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPerson, CanEditAgents]

    @extend_schema(
        operation_id="agents_partial_update",
        summary="Change an agent",
        description=(
            "Callsign, role title and tier. Tier 1 leads and superusers edit every agent, division members the "
            "agents of their own division; other fields are refused with a 400 problem, lifecycle_state with one "
            "that points to the transition endpoints (POST /api/v1/agents/{handle}/{transition})."
        ),
        parameters=[HANDLE_PARAMETER],
        request=AgentUpdateInputSerializer,
        responses={
            200: AgentDetailOutputSerializer,
            **problems(
                400,
                401,
                403,
                404,
                413,
                415,
                forbidden=f"A viewer, another division's agent, or {WRITE_FORBIDDEN_BY_TOKEN}.",
            ),
        },
        auth=SESSION_ONLY,
    )
    def patch(self, request: Request, handle: str) -> Response:
        agent = agent_or_404(handle, division_id=None)
        self.check_object_permissions(request, agent)
        serializer = AgentUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent = agent_update(agent=agent, **serializer.validated_data)
        return Response(AgentDetailOutputSerializer(agent).data)
