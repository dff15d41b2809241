"""The agent filters shared by the registry pages and the API (search, division, domain, tier, lifecycle)."""

import django_filters
from django.db.models import Q, QuerySet

from agents.constants import TIER_CHOICES
from agents.models import Agent, Division, Domain


class AgentFilter(django_filters.FilterSet):
    """An unknown division or domain slug, tier or state is a validation error (400 / form error), not an empty list."""

    q = django_filters.CharFilter(method="search", label="Search", max_length=60)
    division = django_filters.ModelChoiceFilter(
        field_name="division", queryset=Division.objects.all(), to_field_name="slug"
    )
    domain = django_filters.ModelChoiceFilter(
        field_name="division__domain", queryset=Domain.objects.all(), to_field_name="slug"
    )
    tier = django_filters.TypedChoiceFilter(choices=TIER_CHOICES, coerce=int)
    lifecycle_state = django_filters.ChoiceFilter(choices=Agent.Lifecycle.choices, label="Lifecycle state")

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
