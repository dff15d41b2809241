"""The agent filters shared by the registry pages and the API (search, division, domain, tier, lifecycle), and the
words for a filter value that names nothing, which the pages, the API and the other forms of the registry share."""

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from agents.constants import TIER_CHOICES
from agents.models import Agent, Division, Domain

# What a value that names nothing gets back, on the pages and from the API alike ({value}: the value sent).
UNKNOWN_DOMAIN = "No domain with slug '{value}'."
UNKNOWN_DIVISION = "No division with slug '{value}'."
INVALID_TIER = "Tier must be 1, 2 or 3, not '{value}'."
INVALID_LIFECYCLE_STATE = "Lifecycle state must be one of " + ", ".join(Agent.Lifecycle.values) + "; not '{value}'."


def error_message(error: ValidationError) -> str:
    """A filter error's message, with the value it echoes cut to 60 characters (a client may send anything)."""
    params = dict(error.params or {})
    if "value" in params:
        params["value"] = str(params["value"])[:60]
    return str(error.message % params if params else error.message)


def form_message(message: str) -> str:
    """One of the messages above as a Django form error message (Django fills in %(value)s itself)."""
    return message.format(value="%(value)s")


def _invalid_choice(message: str) -> dict[str, str]:
    return {"invalid_choice": form_message(message)}


class AgentFilter(django_filters.FilterSet):
    """An unknown division or domain slug, tier or state is a validation error (400 / form error), not an empty list."""

    q = django_filters.CharFilter(method="search", label="Search", max_length=60)
    division = django_filters.ModelChoiceFilter(
        field_name="division",
        queryset=Division.objects.all(),
        to_field_name="slug",
        error_messages=_invalid_choice(UNKNOWN_DIVISION),
    )
    domain = django_filters.ModelChoiceFilter(
        field_name="division__domain",
        queryset=Domain.objects.all(),
        to_field_name="slug",
        error_messages=_invalid_choice(UNKNOWN_DOMAIN),
    )
    tier = django_filters.TypedChoiceFilter(
        choices=TIER_CHOICES, coerce=int, error_messages=_invalid_choice(INVALID_TIER)
    )
    lifecycle_state = django_filters.ChoiceFilter(
        choices=Agent.Lifecycle.choices,
        label="Lifecycle state",
        error_messages=_invalid_choice(INVALID_LIFECYCLE_STATE),
    )

    class Meta:
        model = Agent
        fields = ["q", "domain", "division", "tier", "lifecycle_state"]

    def search(self, queryset: QuerySet[Agent], name: str, value: str) -> QuerySet[Agent]:
        value = value.strip()
        if not value:
            return queryset
        # Handles are exact-prefix friendly (ta_0001 finds ta_00010…); callsigns and titles match anywhere.
        return queryset.filter(
            Q(handle__istartswith=value) | Q(callsign__icontains=value) | Q(role_title__icontains=value)
        )
