"""The escalations REST API under /api/v1/escalations, one module per entity: tickets (list, raise, read, edit,
comment), transitions (one endpoint each) and outcomes (claims, allocation, decision, sign-off, follow-ups,
assignees); routes in escalations.api_urls.

One thin API class per operation: parse input, call one service or selector, render. The services decide who may
act and refuse with novaops.errors (403 for the wrong person, 409 for the wrong state or a stale `version`), which
novaops.api renders as problem JSON; these classes only add what HTTP knows: a malformed body (400), an unknown
ticket (404), who is signed in at all (401/403).

Division tokens read, raise and comment; every ticket outside the token's division (one it neither raised nor is
involved in) is a 404 to it, as if it did not exist, as in the registry. Everything else is for people, whom the
services check against the ticket (escalations.policies).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from agents.authentication import DivisionTokenAuthentication
from escalations.models import Escalation
from escalations.selectors import available_transitions, escalation_get, viewer
from escalations.serializers import INTEGER_MAX
from escalations.serializers.outputs import EscalationDetailOutputSerializer
from escalations.timeline import timeline
from novaops import policies
from novaops.api import MethodRoute, problem_responses
from novaops.permissions import IsPersonOrDivisionClient
from novaops.serializers import AutoSchema

AUTHENTICATION = [DivisionTokenAuthentication, SessionAuthentication]
# Operations a division token may use document both; the others the session only.
SESSION_ONLY = [{"cookieAuth": []}]
NUMBER_PARAMETER = OpenApiParameter(
    "number",
    {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX},
    OpenApiParameter.PATH,
    description="The ticket's number: 42 for ESC-42.",
)
FORBIDDEN = "Signed in without a NovaOps role, or not one of the people the rules let do this (the detail says who)."
NOT_FOUND = "No such ticket, or (for a division token) one its division neither raised nor is involved in."
CONFLICT = "Refused by the ticket's state or kind, or the `version` sent is stale (the body holds the current one)."


class EscalationRoute(MethodRoute):
    # Methods no API class of the path handles (405) are answered with the same authentication as the others.
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]
    schema = AutoSchema()


def problems(*statuses: int, **described: str) -> dict[Any, OpenApiResponse]:
    """The problem responses of an escalations operation, for its OpenAPI description."""
    words = {"s403": FORBIDDEN, "s404": NOT_FOUND, "s409": CONFLICT, **described}
    return problem_responses(*statuses, **words)


def not_found(number: int) -> NotFound:
    return NotFound(f"No escalation ESC-{number}.")


@contextmanager
def ticket_lookup(number: int) -> Iterator[None]:
    """Turns a service's lookup of an unknown ticket into a 404 problem (a DoesNotExist would be a 500)."""
    if number > INTEGER_MAX:
        raise not_found(number)
    try:
        yield
    except Escalation.DoesNotExist:
        raise not_found(number) from None


def readable_ticket(request: Request, number: int) -> Escalation:
    """The ticket as escalation_get loads it, when this caller may see it: a division token sees only what its
    division raised or is involved in (anything else is a 404, as if it did not exist)."""
    with ticket_lookup(number):
        escalation = escalation_get(number=number)
    if policies.is_division_client(request.user) and not viewer(user=request.user, escalation=escalation).relations:
        raise not_found(number)
    return escalation


def in_scope(request: Request, number: int) -> None:
    """Refuse a division token a ticket outside its division with the 404 a read gives, before a write is tried;
    people go straight to the service, which says why they may not."""
    if policies.is_division_client(request.user):
        readable_ticket(request, number)


def ticket_response(request: Request, number: int, *, status: int = 200, **headers: str) -> Response:
    """The ticket as GET /api/v1/escalations/<number> shows it to this caller, read afresh after a change."""
    escalation = readable_ticket(request, number)
    context = {
        "timeline": timeline(escalation),
        "transitions": available_transitions(escalation, user=request.user),
    }
    body = EscalationDetailOutputSerializer(escalation, context=context).data
    return Response(body, status=status, headers=headers or None)
