"""The API's input shapes: strict (unknown fields refused), names of other objects resolved to rows (an unknown
one is a 400 naming it), item errors kept by position."""

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.models import Agent, Division
from agents.serializers import DivisionSlugField, SlugReferenceField
from escalations import constants
from escalations.models import Escalation
from escalations.serializers import AMOUNT, AMOUNT_MIN, INTEGER_MAX
from metrics.models import Metric
from novaops.serializers import ItemListField, StrictInputSchema, StrictInputSerializer, StrictIntegerField, TextField


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


class EscalationUpdateSchema(StrictInputSchema):
    # drf-spectacular documents a PATCH body as partial (nothing required); this one always needs `version`.
    target_class = EscalationUpdateInputSerializer
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = super().map_serializer(auto_schema, direction)
        schema["required"] = ["version"]
        return schema


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
