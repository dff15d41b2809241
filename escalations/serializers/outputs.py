"""The API's output shapes: a ticket as the queue lists it, one ticket in full, its parts, the proposal."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.serializers import AgentRefSerializer, DivisionRefSerializer
from escalations import constants
from escalations.models import Escalation
from escalations.selectors import clocks
from escalations.serializers import AMOUNT


@extend_schema_serializer(component_name="PersonRef")
class UserRefSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


@extend_schema_serializer(component_name="MetricRef")
class MetricRefSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="EscalationClock")
class ClockSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="Acknowledge or Resolve.")
    due_at = serializers.DateTimeField()
    elapsed_seconds = serializers.SerializerMethodField()
    remaining_seconds = serializers.SerializerMethodField(help_text="Negative once the deadline has passed.")
    breached = serializers.BooleanField()
    paused = serializers.BooleanField(help_text="The resolve clock stands still while the ticket waits on its raiser.")
    stopped_at = serializers.DateTimeField(allow_null=True, help_text="When the clock stopped (met or missed).")

    def get_elapsed_seconds(self, clock: Any) -> int:
        return int(clock.elapsed.total_seconds())

    def get_remaining_seconds(self, clock: Any) -> int:
        return int(clock.remaining.total_seconds())


@extend_schema_serializer(component_name="Escalation")
class EscalationOutputSerializer(serializers.Serializer):
    """A ticket as the queue lists it."""

    number = serializers.IntegerField()
    key = serializers.CharField(help_text="ESC-<number>.")
    url = serializers.SerializerMethodField(help_text="The ticket's page.")
    kind = serializers.ChoiceField(choices=Escalation.Kind.choices)
    title = serializers.CharField()
    priority = serializers.ChoiceField(choices=Escalation.Priority.choices)
    state = serializers.ChoiceField(choices=Escalation.State.choices)
    level = serializers.IntegerField(help_text="1 division leads, 2 each domain's Tier 1 lead, 3 both jointly.")
    version = serializers.IntegerField(help_text="Counts every change; send it back to refuse a stale change (409).")
    raised_division = DivisionRefSerializer()
    raised_by = UserRefSerializer(allow_null=True, help_text="Null when a division token raised it.")
    raised_token_name = serializers.CharField(help_text="The token that raised it; empty when a person did.")
    divisions = serializers.SerializerMethodField(help_text="The divisions involved, the raising one included.")
    assignees = UserRefSerializer(many=True)
    clocks = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_url(self, escalation: Escalation) -> str:
        return reverse("escalations:detail", kwargs={"number": escalation.number})

    @extend_schema_field(DivisionRefSerializer(many=True))
    def get_divisions(self, escalation: Escalation) -> list[dict[str, Any]]:
        return DivisionRefSerializer([link.division for link in escalation.involved.all()], many=True).data

    @extend_schema_field(ClockSerializer(many=True))
    def get_clocks(self, escalation: Escalation) -> list[dict[str, Any]]:
        return ClockSerializer(clocks(escalation), many=True).data


@extend_schema_serializer(component_name="EscalationPage")
class EscalationPageSerializer(serializers.Serializer):
    """The shape of novaops.api.Pagination around a page of tickets (documented explicitly for the schema)."""

    count = serializers.IntegerField(help_text="Tickets matching the filters, over all pages.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = EscalationOutputSerializer(many=True)


@extend_schema_serializer(component_name="EscalationResource")
class ResourceOutputSerializer(serializers.Serializer):
    name = serializers.CharField(source="resource_name")
    unit = serializers.CharField(source="resource_unit")
    capacity = serializers.DecimalField(source="resource_capacity", **AMOUNT)


@extend_schema_serializer(component_name="ResourceClaim")
class ClaimOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    division = DivisionRefSerializer()
    amount = serializers.DecimalField(**AMOUNT)
    priority = serializers.ChoiceField(choices=Escalation.Priority.choices)
    justification = serializers.CharField()
    gains = serializers.CharField()
    gives = serializers.CharField()
    allocated = serializers.DecimalField(allow_null=True, **AMOUNT)
    rationale = serializers.CharField()


@extend_schema_serializer(component_name="SignOff")
class SignOffOutputSerializer(serializers.Serializer):
    domain = serializers.CharField(source="domain.slug")
    user = UserRefSerializer()
    signed_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="FollowUp")
class FollowUpOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    owner = UserRefSerializer()
    due_on = serializers.DateField()
    done_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="EscalationComment")
class CommentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = UserRefSerializer(allow_null=True, help_text="Null when a division token wrote it.")
    token_name = serializers.CharField()
    body = serializers.CharField(help_text="Markdown; pages render it without raw HTML.")
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="TimelineChange")
class ChangeOutputSerializer(serializers.Serializer):
    what = serializers.CharField()
    before = serializers.CharField()
    after = serializers.CharField()


@extend_schema_serializer(component_name="TimelineEntry")
class EntryOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    changes = ChangeOutputSerializer(many=True)
    comment = CommentOutputSerializer(allow_null=True)


@extend_schema_serializer(component_name="EscalationDetail")
class EscalationDetailOutputSerializer(EscalationOutputSerializer):
    """One ticket: the list row, its description, links, kind outcome, timeline and the caller's transitions.

    The API passes `timeline` (escalations.timeline) and `transitions` (for this caller) in the context."""

    description = serializers.CharField()
    agents = AgentRefSerializer(many=True)
    metrics = MetricRefSerializer(many=True)
    resource = serializers.SerializerMethodField(help_text="Resource conflicts only; null for the other kinds.")
    claims = ClaimOutputSerializer(many=True)
    decision = serializers.CharField(
        help_text="The strategic decision, the friction resolution note, or the allocation's rationale."
    )
    sign_offs = SignOffOutputSerializer(many=True)
    follow_ups = FollowUpOutputSerializer(many=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    transitions = serializers.SerializerMethodField(help_text="The transitions this caller may make now.")
    timeline = serializers.SerializerMethodField(help_text="Every change and comment, oldest first.")

    @extend_schema_field(ResourceOutputSerializer(allow_null=True))
    def get_resource(self, escalation: Escalation) -> dict[str, Any] | None:
        if escalation.kind != Escalation.Kind.RESOURCE_CONFLICT:
            return None
        return ResourceOutputSerializer(escalation).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=constants.TRANSITIONS)))
    def get_transitions(self, escalation: Escalation) -> list[str]:
        return list(self.context.get("transitions", []))

    @extend_schema_field(EntryOutputSerializer(many=True))
    def get_timeline(self, escalation: Escalation) -> list[dict[str, Any]]:
        return EntryOutputSerializer(self.context.get("timeline", []), many=True).data


@extend_schema_serializer(component_name="AllocationProposalClaim")
class ProposedClaimSerializer(serializers.Serializer):
    claim = ClaimOutputSerializer()
    proposed = serializers.DecimalField(help_text="What NovaOps proposes to allot to this claim.", **AMOUNT)


@extend_schema_serializer(component_name="AllocationProposal")
class ProposalOutputSerializer(serializers.Serializer):
    """NovaOps' allocation for the current claims: priority order, the remainder shared in proportion."""

    resource = ResourceOutputSerializer()
    claims = ProposedClaimSerializer(many=True)
    total = serializers.DecimalField(help_text="Never more than the capacity.", **AMOUNT)
