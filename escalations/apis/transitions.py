"""One endpoint per transition: POST /api/v1/escalations/<number>/<acknowledge|start|wait|resolve|close|reopen|
escalate>, with an optional `{"version": n}`.

escalations.services.transitions does the work under the ticket's row lock and refuses with a reason: 403 for the
wrong person, 409 for the wrong state, an unmet resolution requirement or a stale version. Each transition is its
own class (and operation in the schema); they differ only in the name they pass on.
"""

from typing import ClassVar

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalations.apis import (
    AUTHENTICATION,
    NUMBER_PARAMETER,
    SESSION_ONLY,
    in_scope,
    problems,
    ticket_lookup,
    ticket_response,
)
from escalations.serializers.inputs import TransitionInputSerializer
from escalations.serializers.outputs import EscalationDetailOutputSerializer
from escalations.services.transitions import escalation_transition
from novaops.permissions import IsPersonOrDivisionClient


class EscalationTransitionApi(APIView):
    """The shared POST; a subclass names its transition."""

    authentication_classes = AUTHENTICATION
    # Tokens pass here to be refused by the service with its reason (a token raises and comments, nothing else).
    permission_classes = [IsPersonOrDivisionClient]
    transition: ClassVar[str]

    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        # No body at all is the same as {}: the version is optional.
        serializer = TransitionInputSerializer(data=request.data if request.data else {})
        serializer.is_valid(raise_exception=True)
        with ticket_lookup(number):
            escalation_transition(
                number=number,
                name=self.transition,
                actor=request.user,
                version=serializer.validated_data.get("version"),
            )
        return ticket_response(request, number)


def _schema(name: str, summary: str, description: str) -> extend_schema:
    return extend_schema(
        operation_id=f"escalations_{name}",
        summary=summary,
        description=f"{description} Send the `version` you read to be refused (409) if the ticket changed since.",
        parameters=[NUMBER_PARAMETER],
        request=TransitionInputSerializer,
        responses={200: EscalationDetailOutputSerializer, **problems(400, 401, 403, 404, 409, 415)},
        auth=SESSION_ONLY,
    )


@extend_schema_view(post=_schema("acknowledge", "Acknowledge", "Open → acknowledged; stops the acknowledge clock."))
class EscalationAcknowledgeApi(EscalationTransitionApi):
    transition = "acknowledge"


@extend_schema_view(post=_schema("start", "Start work", "Open, acknowledged or waiting → in progress."))
class EscalationStartApi(EscalationTransitionApi):
    transition = "start"


@extend_schema_view(
    post=_schema("wait", "Wait on the raiser", "Acknowledged or in progress → waiting; pauses the resolve clock.")
)
class EscalationWaitApi(EscalationTransitionApi):
    transition = "wait"


@extend_schema_view(
    post=_schema(
        "resolve",
        "Resolve",
        "In progress → resolved, once the kind's outcome is there (an allocation, a signed-off decision, a note).",
    )
)
class EscalationResolveApi(EscalationTransitionApi):
    transition = "resolve"


@extend_schema_view(post=_schema("close", "Close", "Resolved → closed."))
class EscalationCloseApi(EscalationTransitionApi):
    transition = "close"


@extend_schema_view(post=_schema("reopen", "Reopen", "Resolved → in progress."))
class EscalationReopenApi(EscalationTransitionApi):
    transition = "reopen"


@extend_schema_view(
    post=_schema(
        "escalate", "Escalate", "One level up from any active state, to that level's people (emailed); 3 is the top."
    )
)
class EscalationEscalateApi(EscalationTransitionApi):
    transition = "escalate"


# The route of each transition, in the order a ticket page shows them (escalations.constants.TRANSITIONS).
TRANSITION_APIS: dict[str, type[EscalationTransitionApi]] = {
    api.transition: api
    for api in (
        EscalationAcknowledgeApi,
        EscalationStartApi,
        EscalationWaitApi,
        EscalationResolveApi,
        EscalationCloseApi,
        EscalationReopenApi,
        EscalationEscalateApi,
    )
}
