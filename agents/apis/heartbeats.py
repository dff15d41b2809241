"""POST /api/v1/agents/<handle>/heartbeat: an agent says it is alive (and, optionally, its version and a status).

Only a token of the agent's own division may: a heartbeat is the division's client speaking for its agents, so a
person's session or another division's token is refused (403, naming the agent's division). The input and output
shapes live here: this one operation is all that uses them.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.apis import problems
from agents.apis.agents import HANDLE_PARAMETER, agent_or_404
from agents.authentication import DivisionPrincipal, DivisionTokenAuthentication
from agents.services.heartbeats import STATUS_MAX, heartbeat_record
from agents.services.lifecycle import VERSION_MAX
from novaops.errors import Forbidden
from novaops.permissions import IsDivisionClient
from novaops.serializers import StrictInputSerializer, TextField


class HeartbeatInputSerializer(StrictInputSerializer):
    version = TextField(
        max_length=VERSION_MAX,
        required=False,
        allow_blank=True,
        help_text="The version running; a new one is recorded as deployed (in the agent's lifecycle trail).",
    )
    status = TextField(
        max_length=STATUS_MAX, required=False, allow_blank=True, help_text="A short status line; replaces the last."
    )


class HeartbeatOutputSerializer(serializers.Serializer):
    handle = serializers.CharField()
    lifecycle_state = serializers.CharField()
    deployed_version = serializers.CharField()
    status_message = serializers.CharField()
    last_seen_at = serializers.DateTimeField()


class HeartbeatApi(APIView):
    authentication_classes = [DivisionTokenAuthentication]
    permission_classes = [IsDivisionClient]
    # Not novaops.serializers.AutoSchema, which marks every write's body required: a heartbeat's body may be empty.

    @extend_schema(
        operation_id="agents_heartbeat",
        summary="Report an agent alive",
        description=(
            "A token of the agent's division only. Moves the agent's last_seen_at to now (never backwards); an "
            "active agent whose heartbeat is overdue (its period plus grace, the division's unless its own) is "
            "marked degraded, and a degraded one that reports again is marked active, by the heartbeat monitor "
            "within 30 seconds. Posting metrics for an agent counts as a heartbeat too. The body may be empty."
        ),
        parameters=[HANDLE_PARAMETER],
        request=HeartbeatInputSerializer,
        examples=[OpenApiExample("Version and status", value={"version": "2.4.1", "status": "ok"}, request_only=True)],
        responses={
            200: HeartbeatOutputSerializer,
            **problems(400, 401, 403, 404, 413, 415, forbidden="Not a division token, or another division's agent."),
        },
    )
    def post(self, request: Request, handle: str) -> Response:
        principal: DivisionPrincipal = request.user
        agent = agent_or_404(handle, division_id=None)
        if agent.division_id != principal.division.pk:
            raise Forbidden(
                f"{agent.handle} belongs to {agent.division.name}: only a token of that division reports its "
                f"heartbeat, and this one is {principal.division.name}'s."
            )
        serializer = HeartbeatInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent = heartbeat_record(agent=agent, actor=principal, **serializer.validated_data)
        return Response(HeartbeatOutputSerializer(agent).data)
