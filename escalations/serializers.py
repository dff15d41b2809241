"""Plain input and output serializers of the escalations API (no ModelSerializer: the shapes are the contract).

Outputs read a ticket as escalations.selectors.escalation_get loads it (divisions, assignees, links, claims,
sign-offs and follow-ups prefetched); what depends on the caller or needs queries of its own (the timeline, the
transitions this caller may make) is computed by the API and handed over in the serializer's context. Inputs only
parse and validate: names of other objects (division slugs, agent handles, metric keys, usernames) become rows
here, so an unknown one is a 400 naming it, and the services get plain values.
"""

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.models import Agent, Division
from agents.serializers import AgentRefSerializer, DivisionRefSerializer, DivisionSlugField, SlugReferenceField
from escalations import constants
from escalations.models import Escalation
from escalations.selectors import clocks
from metrics.models import Metric
from novaops.serializers import StrictInputSerializer, StrictIntegerField, TextField

AMOUNT = {"max_digits": constants.AMOUNT_DIGITS, "decimal_places": constants.AMOUNT_PLACES}
# The largest number PostgreSQL's integer holds: ticket numbers, claim ids and versions are at most this.
INTEGER_MAX = 2_147_483_647
# The smallest amount a claim can ask: one unit of the stored precision.
AMOUNT_MIN = Decimal(1).scaleb(-constants.AMOUNT_PLACES)


# --- outputs ---


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


# --- inputs ---


class ItemListField(serializers.ListField):
    """A ListField whose item errors are a list by position, as novaops.api reads them into `index` (DRF keys
    them by position in a dict, where item 0's key would be lost)."""

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as error:
            if not isinstance(error.detail, dict):
                raise
            raise serializers.ValidationError([error.detail.get(index, []) for index in range(len(data))]) from None


def _names_field(child: serializers.Field, *, maximum: int, minimum: int = 0, **kwargs: Any) -> serializers.ListField:
    return ItemListField(child=child, min_length=minimum, max_length=maximum, **kwargs)


def _division_field(**kwargs: Any) -> DivisionSlugField:
    return DivisionSlugField(
        slug_field="slug",
        queryset=Division.objects.all(),
        error_messages={"does_not_exist": "No division with slug '{value}'.", "invalid": "A division slug is text."},
        **kwargs,
    )


@extend_schema_field({"type": "string", "pattern": r"^ta_[0-9]{5}$"})
class AgentHandleField(SlugReferenceField):
    """An agent named by its handle."""


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 63, "pattern": r"^[a-z][a-z0-9_]*$"})
class MetricKeyField(SlugReferenceField):
    """A catalogue metric named by its key."""


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 150, "pattern": r"^[^\u0000]+$"})
class UsernameField(SlugReferenceField):
    """A person named by their username."""


def _agents_field(**kwargs: Any) -> serializers.ListField:
    handle = AgentHandleField(
        slug_field="handle",
        queryset=Agent.objects.all(),
        error_messages={"does_not_exist": "No agent with handle '{value}'.", "invalid": "An agent handle is text."},
    )
    return _names_field(handle, maximum=constants.LINKS_MAX, help_text="Agent handles to link.", **kwargs)


def _metrics_field(**kwargs: Any) -> serializers.ListField:
    key = MetricKeyField(
        slug_field="key",
        queryset=Metric.objects.all(),
        error_messages={"does_not_exist": "No metric with key '{value}'.", "invalid": "A metric key is text."},
    )
    return _names_field(key, maximum=constants.LINKS_MAX, help_text="Metric keys to link.", **kwargs)


def _username_field(**kwargs: Any) -> UsernameField:
    return UsernameField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        error_messages={"does_not_exist": "No person with username '{value}'.", "invalid": "A username is text."},
        **kwargs,
    )


def _version_field(**kwargs: Any) -> StrictIntegerField:
    return StrictIntegerField(
        min_value=1,
        max_value=INTEGER_MAX,
        help_text="The ticket's version as you last read it; a ticket changed since is a 409 problem.",
        **kwargs,
    )


def _priority_field(**kwargs: Any) -> serializers.ChoiceField:
    message = f"Priority must be one of {', '.join(Escalation.Priority.values)}; not '{{input}}'."
    return serializers.ChoiceField(
        choices=Escalation.Priority.choices, error_messages={"invalid_choice": message}, **kwargs
    )


@extend_schema_serializer(component_name="EscalationResourceInput")
class ResourceInputSerializer(StrictInputSerializer):
    name = TextField(max_length=120)
    unit = TextField(max_length=30, allow_blank=True, default="")
    capacity = serializers.DecimalField(min_value=Decimal(0), **AMOUNT)


@extend_schema_serializer(component_name="ResourceClaimInput")
class ClaimInputSerializer(StrictInputSerializer):
    division = _division_field(help_text="Slug of the claiming division.")
    amount = serializers.DecimalField(min_value=AMOUNT_MIN, **AMOUNT)
    priority = _priority_field(default=Escalation.Priority.P3)
    justification = TextField(max_length=constants.DESCRIPTION_MAX)
    gains = TextField(max_length=constants.DESCRIPTION_MAX, allow_blank=True, default="")
    gives = TextField(max_length=constants.DESCRIPTION_MAX, allow_blank=True, default="")


@extend_schema_serializer(component_name="EscalationCreate")
class EscalationCreateInputSerializer(StrictInputSerializer):
    """A new ticket; fields not listed here are refused."""

    kind = serializers.ChoiceField(
        choices=Escalation.Kind.choices,
        error_messages={"invalid_choice": f"Kind must be one of {', '.join(Escalation.Kind.values)}; not '{{input}}'."},
    )
    title = TextField(max_length=constants.TITLE_MAX)
    description = TextField(max_length=constants.DESCRIPTION_MAX)
    priority = _priority_field()
    divisions = _names_field(
        _division_field(), minimum=1, maximum=constants.DIVISIONS_MAX, help_text="Slugs of the divisions involved."
    )
    raised_division = _division_field(
        required=False,
        help_text="Slug of the raising division: a token's own by default, else your own; a Tier 1 lead names one.",
    )
    agents = _agents_field(default=list)
    metrics = _metrics_field(default=list)
    resource = ResourceInputSerializer(required=False, help_text="Resource conflicts: the resource in dispute.")
    claims = _names_field(ClaimInputSerializer(), maximum=constants.CLAIMS_MAX, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        resource, claims = attrs.get("resource"), attrs.get("claims", [])
        if resource is not None and any(claim["amount"] > resource["capacity"] for claim in claims):
            over = f"At most the capacity, {resource['capacity'].normalize():f}."
            raise serializers.ValidationError(
                {"claims": [{"amount": [over]} if claim["amount"] > resource["capacity"] else {} for claim in claims]}
            )
        return attrs


@extend_schema_serializer(component_name="EscalationUpdate")
class EscalationUpdateInputSerializer(StrictInputSerializer):
    """The fields to change, with the version you read; links given replace the ticket's links."""

    min_fields = 2

    version = _version_field()
    title = TextField(max_length=constants.TITLE_MAX, required=False)
    description = TextField(max_length=constants.DESCRIPTION_MAX, required=False)
    priority = _priority_field(required=False)
    agents = _agents_field(required=False)
    metrics = _metrics_field(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if set(attrs) == {"version"}:
            names = ", ".join(name for name in self.fields if name != "version")
            raise serializers.ValidationError(f"Nothing to change; send at least one of {names}.")
        return attrs


@extend_schema_serializer(component_name="EscalationTransition")
class TransitionInputSerializer(StrictInputSerializer):
    version = _version_field(required=False)


@extend_schema_serializer(component_name="EscalationCommentInput")
class CommentInputSerializer(StrictInputSerializer):
    body = TextField(max_length=constants.COMMENT_MAX, help_text="Markdown (raw HTML is not rendered).")


@extend_schema_serializer(component_name="AllocationItem")
class AllocationItemSerializer(StrictInputSerializer):
    claim = StrictIntegerField(min_value=1, max_value=INTEGER_MAX, help_text="The claim's id.")
    amount = serializers.DecimalField(min_value=Decimal(0), **AMOUNT)
    rationale = TextField(max_length=constants.DESCRIPTION_MAX, allow_blank=True, default="")


@extend_schema_serializer(component_name="AllocationDecision")
class AllocationInputSerializer(StrictInputSerializer):
    allocations = _names_field(AllocationItemSerializer(), minimum=1, maximum=constants.CLAIMS_MAX)
    rationale = TextField(max_length=constants.DESCRIPTION_MAX, help_text="Why this allocation.")
    version = _version_field(required=False)


@extend_schema_serializer(component_name="EscalationDecision")
class DecisionInputSerializer(StrictInputSerializer):
    text = TextField(max_length=constants.DESCRIPTION_MAX, help_text="The decision or resolution note.")
    version = _version_field(required=False)


@extend_schema_serializer(component_name="FollowUpInput")
class FollowUpInputSerializer(StrictInputSerializer):
    description = TextField(max_length=300)
    owner = _username_field(help_text="Username of the person who owns the action.")
    due_on = serializers.DateField()


@extend_schema_serializer(component_name="EscalationReassign")
class ReassignInputSerializer(StrictInputSerializer):
    assignees = _names_field(_username_field(), minimum=1, maximum=constants.DIVISIONS_MAX * 2)
    version = _version_field(required=False)
