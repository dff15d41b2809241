"""Plain input and output serializers of the registry API (no ModelSerializer: the shapes are the contract).

Output serializers read what the selectors annotate (counts) and join (division, domain, lead); input serializers
only parse and validate, and hand plain values to the services.
"""

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from agents.constants import HANDLE_EXAMPLE, HANDLE_FORMAT
from agents.filters import INVALID_LIFECYCLE_STATE, UNKNOWN_DIVISION, UNKNOWN_DOMAIN
from agents.models import Agent, Division, Domain, handle_validator
from agents.services.lifecycle import REASON_MAX, VERSION_MAX
from novaops.serializers import StrictInputSerializer, StrictIntegerField, TextField

TIER_MESSAGE = "Tier must be 1, 2 or 3."
LIFECYCLE_BY_TRANSITION = (
    "The lifecycle state changes through its transitions: POST /api/v1/agents/<handle>/<transition> with deploy, "
    "activate, degrade, recover, pause or retire."
)
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"


# --- outputs ---


@extend_schema_serializer(component_name="AgentRef")
class AgentRefSerializer(serializers.Serializer):
    handle = serializers.CharField()
    callsign = serializers.CharField()


@extend_schema_serializer(component_name="DomainRef")
class DomainRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="DivisionRef")
class DivisionRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="Domain")
class DomainOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    lead = AgentRefSerializer(allow_null=True, help_text="The domain's Tier 1 lead.")
    division_count = serializers.IntegerField()
    agent_count = serializers.IntegerField()


@extend_schema_serializer(component_name="Division")
class DivisionOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    tier = serializers.IntegerField()
    description = serializers.CharField()
    domain = DomainRefSerializer()
    lead = AgentRefSerializer(allow_null=True)
    agent_count = serializers.IntegerField()
    active_count = serializers.IntegerField(help_text="Agents in the active lifecycle state.")


@extend_schema_serializer(component_name="Agent")
class AgentOutputSerializer(serializers.Serializer):
    handle = serializers.CharField()
    callsign = serializers.CharField()
    tier = serializers.IntegerField()
    role_title = serializers.CharField()
    lifecycle_state = serializers.ChoiceField(choices=Agent.Lifecycle.choices)
    deployed_version = serializers.CharField(help_text="The version named by the last deploy; blank before one.")
    last_seen_at = serializers.DateTimeField(allow_null=True, help_text="The last heartbeat or metric point.")
    status_message = serializers.CharField(help_text="What the agent said of itself in its last heartbeat.")
    division = DivisionRefSerializer()
    domain = DomainRefSerializer(source="division.domain")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="AgentDetail")
class AgentDetailOutputSerializer(AgentOutputSerializer):
    leads_division = serializers.SerializerMethodField()
    leads_domain = serializers.SerializerMethodField()

    @extend_schema_field(DivisionRefSerializer(allow_null=True))
    def get_leads_division(self, agent: Agent) -> dict[str, Any] | None:
        # Reverse one-to-one: agent_get() joins it, and a missing row raises an AttributeError subclass.
        division: Division | None = getattr(agent, "led_division", None)
        return DivisionRefSerializer(division).data if division is not None else None

    @extend_schema_field(DomainRefSerializer(allow_null=True))
    def get_leads_domain(self, agent: Agent) -> dict[str, Any] | None:
        domain: Domain | None = getattr(agent, "led_domain", None)
        return DomainRefSerializer(domain).data if domain is not None else None


@extend_schema_serializer(component_name="AgentPage")
class AgentPageSerializer(serializers.Serializer):
    """The shape of novaops.api.Pagination around a page of agents (documented explicitly for the schema)."""

    count = serializers.IntegerField(help_text="Agents matching the filters, over all pages.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AgentOutputSerializer(many=True)


# --- inputs ---


def _tier_field(**kwargs: Any) -> serializers.IntegerField:
    messages = {"min_value": TIER_MESSAGE, "max_value": TIER_MESSAGE, "invalid": TIER_MESSAGE}
    return StrictIntegerField(min_value=1, max_value=3, error_messages=messages, **kwargs)


def _lifecycle_field(**kwargs: Any) -> serializers.ChoiceField:
    # DRF's ChoiceField names the value {input}.
    messages = {"invalid_choice": INVALID_LIFECYCLE_STATE.format(value="{input}")}
    return serializers.ChoiceField(choices=Agent.Lifecycle.choices, error_messages=messages, **kwargs)


class SlugReferenceField(serializers.SlugRelatedField):
    """A row named by its slug. A value with a NUL names nothing (PostgreSQL would refuse to compare it)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data[:60])
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "minLength": 1, "pattern": SLUG_PATTERN})
class DivisionSlugField(SlugReferenceField):
    """A division named by its slug: text, never blank (DRF reads "" as null, which a division may not be)."""


@extend_schema_serializer(component_name="AgentCreate")
class AgentCreateInputSerializer(StrictInputSerializer):
    """A new agent; fields not listed here are refused."""

    # The pattern fixes the length too; a max_length as well would answer a long handle with two messages.
    handle = serializers.CharField(validators=[handle_validator], help_text=f"{HANDLE_FORMAT}, e.g. {HANDLE_EXAMPLE}.")
    callsign = TextField(max_length=60)
    division = DivisionSlugField(
        slug_field="slug",
        queryset=Division.objects.all(),
        error_messages={"does_not_exist": UNKNOWN_DIVISION, "invalid": "A division slug is text."},
        help_text="Slug of the division the agent belongs to.",
    )
    tier = _tier_field(default=3)
    role_title = TextField(max_length=120, allow_blank=True, default="")
    lifecycle_state = _lifecycle_field(default=Agent.Lifecycle.ACTIVE)


@extend_schema_serializer(component_name="AgentUpdate")
class AgentUpdateInputSerializer(StrictInputSerializer):
    """The fields to change (at least one); handle, division and lifecycle state cannot be changed here, other
    fields are refused."""

    min_fields = 1

    callsign = TextField(max_length=60, required=False)
    role_title = TextField(max_length=120, allow_blank=True, required=False)
    tier = _tier_field(required=False)

    def to_internal_value(self, data: Any) -> Any:
        # Named before the generic "unknown field": the state has its own endpoints, which check and record.
        if isinstance(data, Mapping) and "lifecycle_state" in data:
            raise serializers.ValidationError({"lifecycle_state": [LIFECYCLE_BY_TRANSITION]})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(f"Nothing to change; send at least one of {', '.join(self.fields)}.")
        return attrs


@extend_schema_serializer(component_name="AgentTransition")
class AgentTransitionInputSerializer(StrictInputSerializer):
    """Why the transition is made, and for a deploy the version deployed (checked by the service)."""

    reason = TextField(max_length=REASON_MAX, allow_blank=True, default="")
    version = TextField(max_length=VERSION_MAX, allow_blank=True, default="", help_text="Required for deploy.")


class DivisionFilterSerializer(serializers.Serializer):
    """Query parameters of the division list; a blank domain means every domain."""

    domain = SlugReferenceField(
        slug_field="slug",
        queryset=Domain.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": UNKNOWN_DOMAIN},
    )
