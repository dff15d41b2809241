"""Agent lifecycle API: POST /api/v1/agents/<handle>/<transition> for deploy, activate, degrade, recover, pause and
retire, the only way the API changes an agent's state (PATCH refuses lifecycle_state).

People only, like every registry write: a division token is refused with a 403 that says so. Who may is the
service's rule (leads every agent, members their own division's), as on the agent page; a state that refuses the
transition is a 409 naming the transitions left, a deploy without a version a 400.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.apis import AUTHENTICATION, SESSION_ONLY, WRITE_FORBIDDEN_BY_TOKEN, problems
from agents.apis.agents import HANDLE_PARAMETER, agent_or_404
from agents.selectors import agent_get
from agents.serializers import AgentDetailOutputSerializer, AgentTransitionInputSerializer
from agents.services.lifecycle import TRANSITIONS, agent_transition
from novaops.permissions import IsPerson

TRANSITION_PARAMETER = OpenApiParameter(
    "transition",
    {"type": "string", "enum": list(TRANSITIONS)},
    OpenApiParameter.PATH,
    description="provisioning → deploy → active ⇄ (degrade / recover) degraded; active or degraded → pause → "
    "paused → activate → active; any state → retire (final).",
)


class AgentTransitionApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPerson]

    @extend_schema(
        operation_id="agents_transition",
        summary="Move an agent through a lifecycle transition",
        description=(
            "Tier 1 leads and superusers for every agent, division members for their own division's. The body "
            "may give a reason (kept in the agent's trail); a deploy names the version deployed. A state that "
            "refuses the transition is a 409 problem whose `state` member is the agent's state and whose detail "
            "names the transitions it allows."
        ),
        parameters=[HANDLE_PARAMETER, TRANSITION_PARAMETER],
        request=AgentTransitionInputSerializer,
        responses={
            200: AgentDetailOutputSerializer,
            **problems(
                400,
                401,
                403,
                404,
                409,
                413,
                415,
                forbidden=f"A viewer, another division's agent, or {WRITE_FORBIDDEN_BY_TOKEN}.",
            ),
        },
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, handle: str, transition: str) -> Response:
        if transition not in TRANSITIONS:
            raise NotFound(f"No transition {transition[:40]}; the transitions are {', '.join(TRANSITIONS)}.")
        agent = agent_or_404(handle, division_id=None)
        serializer = AgentTransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent_transition(agent=agent, name=transition, actor=request.user, **serializer.validated_data)
        return Response(AgentDetailOutputSerializer(agent_get(handle=agent.handle)).data)
