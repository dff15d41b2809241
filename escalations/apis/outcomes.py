"""What a ticket decides, by kind, and who works on it: a resource conflict's claims and allocation (with NovaOps'
proposal), a written decision or resolution note and its sign-offs, friction follow-ups, and reassignment within
the level.

escalations.services.outcomes and .changes check the actor, the kind and the state under the ticket's row lock;
a division token is refused all of these by them (403, with the reason).
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalations.apis import (
    AUTHENTICATION,
    NUMBER_PARAMETER,
    SESSION_ONLY,
    in_scope,
    problems,
    readable_ticket,
    ticket_lookup,
    ticket_response,
)
from escalations.models import Escalation
from escalations.serializers.inputs import (
    AllocationInputSerializer,
    ClaimInputSerializer,
    DecisionInputSerializer,
    FollowUpInputSerializer,
    ReassignInputSerializer,
    TransitionInputSerializer,
)
from escalations.serializers.outputs import (
    ClaimOutputSerializer,
    EscalationDetailOutputSerializer,
    FollowUpOutputSerializer,
    ProposalOutputSerializer,
)
from escalations.services.changes import escalation_reassign
from escalations.services.outcomes import (
    Allocation,
    allocation_decide,
    allocation_propose,
    claim_add,
    decision_write,
    follow_up_add,
    sign_off,
)
from escalations.services.raising import Claim
from novaops.permissions import IsPersonOrDivisionClient

# Every write here answers the same family of problems.
WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 415)


class _OutcomeApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [IsPersonOrDivisionClient]


class ClaimCreateApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_claims_create",
        summary="Add a claim to a resource conflict",
        description=(
            "One claim per division, asking for more than nothing and at most the capacity; for the ticket's "
            "responders, the raising and the involved divisions. 409 for another kind or a ticket no longer active."
        ),
        parameters=[NUMBER_PARAMETER],
        request=ClaimInputSerializer,
        responses={201: ClaimOutputSerializer, **WRITE_PROBLEMS},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, number: int) -> Response:
        escalation = readable_ticket(request, number)
        serializer = ClaimInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with ticket_lookup(number):
            claim = claim_add(escalation=escalation, actor=request.user, claim=Claim(**serializer.validated_data))
        return Response(ClaimOutputSerializer(claim).data, status=201)


class AllocationProposeApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_allocation_retrieve",
        summary="NovaOps' proposed allocation",
        description=(
            "For the current claims: priorities served in order (P1 first), each claim in full while the capacity "
            "lasts, the priority where it runs out sharing the rest in proportion to what its claims asked; never "
            "more than a claim asked nor than the capacity. 404 for a ticket that is not a resource conflict."
        ),
        parameters=[NUMBER_PARAMETER],
        responses={200: ProposalOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, number: int) -> Response:
        escalation = readable_ticket(request, number)
        if escalation.kind != Escalation.Kind.RESOURCE_CONFLICT:
            raise NotFound(f"{escalation.key} is not a resource conflict: it has no allocation.")
        claims = list(escalation.claims.all())
        proposed = allocation_propose(
            capacity=escalation.resource_capacity, claims=[(claim.priority, claim.amount) for claim in claims]
        )
        body = {
            "resource": escalation,
            "claims": [{"claim": claim, "proposed": amount} for claim, amount in zip(claims, proposed, strict=True)],
            "total": sum(proposed, Decimal(0)),
        }
        return Response(ProposalOutputSerializer(body).data)


class AllocationDecideApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_allocation_decide",
        summary="Decide a resource conflict's allocation",
        description=(
            "An amount (and a rationale) per claim, and the decision's rationale, for the ticket's responders. No "
            "claim above what it asked, the total never above the capacity (checked under the ticket's lock "
            "against the claims as they are): a 400 problem otherwise, and nothing is applied."
        ),
        parameters=[NUMBER_PARAMETER],
        request=AllocationInputSerializer,
        responses={200: EscalationDetailOutputSerializer, **WRITE_PROBLEMS},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = AllocationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        allocations = [
            Allocation(claim_id=item["claim"], amount=item["amount"], rationale=item["rationale"])
            for item in data["allocations"]
        ]
        with ticket_lookup(number):
            allocation_decide(
                number=number,
                actor=request.user,
                allocations=allocations,
                rationale=data["rationale"],
                version=data.get("version"),
            )
        return ticket_response(request, number)


class DecisionWriteApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_decision",
        summary="Write the decision or resolution note",
        description=(
            "A strategic alignment's decision or a friction's resolution note, for the ticket's responders. "
            "Changing a strategic decision withdraws its sign-offs. A resource conflict is decided by its "
            "allocation (409)."
        ),
        parameters=[NUMBER_PARAMETER],
        request=DecisionInputSerializer,
        responses={200: EscalationDetailOutputSerializer, **WRITE_PROBLEMS},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with ticket_lookup(number):
            decision_write(number=number, actor=request.user, text=data["text"], version=data.get("version"))
        return ticket_response(request, number)


class SignOffCreateApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_sign_off",
        summary="Sign a strategic decision off",
        description=(
            "The Tier 1 lead of an involved domain agrees to the current written decision for that domain. 409 for "
            "another kind, no decision yet, an inactive ticket or a second sign-off."
        ),
        parameters=[NUMBER_PARAMETER],
        request=TransitionInputSerializer,
        responses={200: EscalationDetailOutputSerializer, **problems(400, 401, 403, 404, 409, 415)},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = TransitionInputSerializer(data=request.data if request.data else {})
        serializer.is_valid(raise_exception=True)
        with ticket_lookup(number):
            sign_off(number=number, actor=request.user, version=serializer.validated_data.get("version"))
        return ticket_response(request, number)


class FollowUpCreateApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_follow_ups_create",
        summary="Add a follow-up action to a friction",
        description="An action with an owner and a due date, for the ticket's responders; the next sync lists it.",
        parameters=[NUMBER_PARAMETER],
        request=FollowUpInputSerializer,
        responses={201: FollowUpOutputSerializer, **WRITE_PROBLEMS},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = FollowUpInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with ticket_lookup(number):
            row = follow_up_add(number=number, actor=request.user, **serializer.validated_data)
        return Response(FollowUpOutputSerializer(row).data, status=201)


class AssigneesReassignApi(_OutcomeApi):
    @extend_schema(
        operation_id="escalations_assignees",
        summary="Reassign within the level",
        description=(
            "Replace the assignees with other people of the ticket's level (usernames); someone outside the level "
            "is a 400 naming who may take it. New assignees are emailed."
        ),
        parameters=[NUMBER_PARAMETER],
        request=ReassignInputSerializer,
        responses={200: EscalationDetailOutputSerializer, **WRITE_PROBLEMS},
        auth=SESSION_ONLY,
    )
    def post(self, request: Request, number: int) -> Response:
        in_scope(request, number)
        serializer = ReassignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with ticket_lookup(number):
            escalation_reassign(
                number=number,
                actor=request.user,
                user_ids=[user.pk for user in data["assignees"]],
                version=data.get("version"),
            )
        return ticket_response(request, number)
