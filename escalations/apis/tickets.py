"""Tickets: list (filtered, paginated), raise, read (with the timeline), edit, comment.

Reading is for every NovaOps role and for division tokens (their division's tickets); raising for the people of
the raising division, Tier 1 leads and the division's token (escalations.policies.may_raise_for); editing for the
ticket's responders and raisers; commenting for those and the involved divisions, tokens included.
"""

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Division
from agents.selectors import division_list, led_division_id
from escalations.apis import (
    AUTHENTICATION,
    NUMBER_PARAMETER,
    SESSION_ONLY,
    in_scope,
    problems,
    ticket_lookup,
    ticket_response,
)
from escalations.filters import SORTS
from escalations.models import Escalation
from escalations.selectors import escalation_list_filtered
from escalations.serializers.inputs import (
    CommentInputSerializer,
    EscalationCreateInputSerializer,
    EscalationUpdateInputSerializer,
)
from escalations.serializers.outputs import (
    CommentOutputSerializer,
    EscalationDetailOutputSerializer,
    EscalationOutputSerializer,
    EscalationPageSerializer,
)
from escalations.services.changes import comment_add, escalation_update
from escalations.services.raising import Claim, Links, Raise, Resource, escalation_raise
from novaops import policies
from novaops.api import Pagination, refuse_unknown_parameters
from novaops.errors import InvalidInput
from novaops.permissions import IsPersonOrDivisionClient

FILTERS = ("kind", "state", "priority", "level", "division", "assignee", "breached", "mine", "sort")
RAISE_EXAMPLE = {
    "kind": "resource_conflict",
    "title": "GPU hours for the March training window",
    "description": "Both divisions planned the same 400 GPU hours.",
    "priority": "P2",
    "divisions": ["workflow-engineering"],
    "resource": {"name": "GPU hours", "unit": "h", "capacity": "400"},
    "claims": [
        {"division": "novacore-runtime", "amount": "300", "priority": "P1", "justification": "Release training."},
        {"division": "workflow-engineering", "amount": "200", "justification": "Planner fine-tuning."},
    ],
}


def _choices(values: list[str], words: str) -> OpenApiParameter:
    return OpenApiParameter(words, {"type": "array", "items": {"type": "string", "enum": values}}, explode=True)


def _refuse_bad_booleans(request: Request) -> None:
    # EscalationFilter reads anything but true/false as "either" (django-filter's boolean widget): a misspelt
    # `breached=ture` would answer with every ticket, which reads as a valid and wrong result.
    errors = {
        name: [f"{name} is true or false; not {value[:40]!r}."]
        for name in ("breached", "mine")
        for value in request.query_params.getlist(name)
        if value not in ("true", "false")
    }
    if errors:
        raise ValidationError(errors)


def _raising_division(request: Request, chosen: Division | None) -> Division:
    """The division a ticket is raised for: the one named, else the token's, else the person's own (the division
    they belong to or lead). A Tier 1 lead belongs to none and must name one."""
    if chosen is not None:
        return chosen
    if policies.is_division_client(request.user):
        return request.user.division
    person = policies.person_of(request.user)
    own = (person.division_id or led_division_id(person=person)) if person is not None else None
    if own is None:
        raise InvalidInput(
            "Name the raising division: you belong to none.",
            errors=[{"field": "raised_division", "message": "Required: you belong to no division."}],
        )
    return division_list().get(pk=own)


def _raise_request(data: dict[str, Any], raised_division: Division) -> Raise:
    resource = data.get("resource")
    return Raise(
        kind=data["kind"],
        title=data["title"],
        description=data["description"],
        priority=data["priority"],
        raised_division=raised_division,
        divisions=data["divisions"],
        links=Links(agents=data["agents"], metrics=data["metrics"]),
        resource=Resource(**resource) if resource is not None else None,
        claims=[Claim(**claim) for claim in data["claims"]],
    )


class EscalationListApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="escalations_list",
        summary="List escalations",
        description=(
            "Tickets, newest first unless `sort` says otherwise, one page at a time; a division token lists the "
            "tickets its division raised or is involved in. Filters combine (repeat kind, state or priority for "
            "any of several). An unknown value, division slug or username is a 400 problem naming the parameter, "
            "and so is any other parameter."
        ),
        parameters=[
            _choices(Escalation.Kind.values, "kind"),
            _choices(["active", *Escalation.State.values], "state"),
            _choices(Escalation.Priority.values, "priority"),
            OpenApiParameter("level", {"type": "integer", "enum": [1, 2, 3]}),
            OpenApiParameter("division", OpenApiTypes.STR, description="Slug of an involved division."),
            OpenApiParameter("assignee", OpenApiTypes.STR, description="Username of an assignee."),
            OpenApiParameter("breached", OpenApiTypes.BOOL, description="A deadline passed (or not)."),
            OpenApiParameter("mine", OpenApiTypes.BOOL, description="Assigned to me or raised by me."),
            OpenApiParameter("sort", {"type": "string", "enum": list(SORTS)}, description="Default newest."),
            *Pagination.parameters(),
        ],
        responses={200: EscalationPageSerializer, **problems(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        # A bad filter value raises Django's ValidationError, which novaops.api answers as a 400 problem.
        refuse_unknown_parameters(request, *FILTERS, *Pagination.query_parameters)
        _refuse_bad_booleans(request)
        tickets = escalation_list_filtered(
            filters=request.query_params, request=request, division_id=policies.division_scope(request.user)
        )
        return Pagination.respond(request, self, tickets, EscalationOutputSerializer)


class EscalationCreateApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="escalations_create",
        summary="Raise an escalation",
        description=(
            "Opens a ticket at its kind's first level (friction at 2, the others at 1), assigned to that level's "
            "people, with its SLA deadlines. A division token raises for its own division only (403 otherwise); a "
            "person for their own division, a Tier 1 lead for any (naming `raised_division`). An unknown slug, "
            "handle or key is a 400 naming it, and so is a claim over the resource's capacity."
        ),
        request=EscalationCreateInputSerializer,
        examples=[OpenApiExample("A resource conflict", value=RAISE_EXAMPLE, request_only=True)],
        responses={201: EscalationDetailOutputSerializer, **problems(400, 401, 403, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = EscalationCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        raised = _raising_division(request, data.get("raised_division"))
        escalation = escalation_raise(actor=request.user, request=_raise_request(data, raised))
        location = reverse("api:escalations:escalation-detail", kwargs={"number": escalation.number})
        return ticket_response(request, escalation.number, status=201, Location=location)


class EscalationDetailApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="escalations_retrieve",
        summary="Get an escalation",
        description="One ticket with its SLA clocks, kind outcome, links, timeline and the transitions you may make.",
        parameters=[NUMBER_PARAMETER],
        responses={200: EscalationDetailOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, number: int) -> Response:
        return ticket_response(request, number)


class EscalationUpdateApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="escalations_partial_update",
        summary="Change an escalation",
        description=(
            "Title, description, priority (its SLA deadlines follow) and the agent and metric links, for the "
            "ticket's assignees, Tier 1 leads and the raising division. `version` is required: the version you "
            "read; if the ticket changed since, nothing is applied and the answer is a 409 problem holding the "
            "current version."
        ),
        parameters=[NUMBER_PARAMETER],
        request=EscalationUpdateInputSerializer,
        responses={200: EscalationDetailOutputSerializer, **problems(400, 401, 403, 404, 409, 413, 415)},
        auth=SESSION_ONLY,
    )
    def patch(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = EscalationUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        version, agents, metrics = data.pop("version"), data.pop("agents", None), data.pop("metrics", None)
        with ticket_lookup(number):
            escalation_update(
                number=number, actor=request.user, fields=data, agents=agents, metrics=metrics, version=version
            )
        return ticket_response(request, number)


class EscalationCommentApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]

    @extend_schema(
        operation_id="escalations_comment",
        summary="Comment on an escalation",
        description=(
            "For the ticket's assignees, Tier 1 leads, the raising and involved divisions' people and their "
            "division tokens. Comments cannot be edited or deleted."
        ),
        parameters=[NUMBER_PARAMETER],
        request=CommentInputSerializer,
        responses={201: CommentOutputSerializer, **problems(400, 401, 403, 404, 413, 415)},
    )
    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = CommentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with ticket_lookup(number):
            comment = comment_add(number=number, actor=request.user, body=serializer.validated_data["body"])
        return Response(CommentOutputSerializer(comment).data, status=201)
