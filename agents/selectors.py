"""Reads for the registry: domains, divisions, agents, with the counts the pages and the API show."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from agents.filters import AgentFilter
from agents.models import Agent, Division, DivisionToken, Domain


def domain_list() -> QuerySet[Domain]:
    return Domain.objects.select_related("lead").annotate(
        division_count=Count("divisions", distinct=True), agent_count=Count("divisions__agents", distinct=True)
    )


def domain_get(*, slug: str) -> Domain:
    return domain_list().get(slug=slug)


def division_list(*, domain: Domain | None = None) -> QuerySet[Division]:
    divisions = Division.objects.select_related("domain", "lead").annotate(
        agent_count=Count("agents", distinct=True),
        active_count=Count("agents", filter=Q(agents__lifecycle_state=Agent.Lifecycle.ACTIVE), distinct=True),
    )
    return divisions.filter(domain=domain) if domain is not None else divisions


def division_get(*, slug: str) -> Division:
    return division_list().get(slug=slug)


def division_choice_list() -> QuerySet[Division]:
    """Divisions with their domain, for pickers (one query, no counts)."""
    return Division.objects.select_related("domain").order_by("domain__name", "name")


def division_token_list(*, division: Division | None = None) -> QuerySet[DivisionToken]:
    """Tokens with their division and domain joined (one query, however many tokens); never the secret hash."""
    tokens = (
        DivisionToken.objects.select_related("division__domain")
        .defer("secret_sha256")
        .order_by("division__domain__name", "division__name", "-created_at", "-pk")
    )
    return tokens.filter(division=division) if division is not None else tokens


def division_token_get(*, token_id: int) -> DivisionToken:
    return division_token_list().get(pk=token_id)


def division_token_by_prefix(*, prefix: str) -> DivisionToken | None:
    """The token a client presents, by its public prefix, with the secret hash to check and the division and domain
    it acts for; None for an unknown prefix."""
    return DivisionToken.objects.select_related("division__domain").filter(prefix=prefix).first()


def agent_list() -> QuerySet[Agent]:
    """Every agent with its division and domain joined (one query per page, whatever the page size)."""
    return Agent.objects.select_related("division", "division__domain")


def agent_get(*, handle: str) -> Agent:
    return agent_list().select_related("person__user", "led_division", "led_domain").get(handle=handle)


# Precise messages for the filter values that name nothing: the API answers them as 400 errors per field.
_INVALID_FILTER_MESSAGES = {
    "division": "No division with slug '{value}'.",
    "domain": "No domain with slug '{value}'.",
    "tier": "Tier must be 1, 2 or 3, not '{value}'.",
    "lifecycle_state": "Lifecycle state must be one of " + ", ".join(Agent.Lifecycle.values) + "; not '{value}'.",
}


def agent_list_filtered(*, filters: Mapping[str, Any]) -> QuerySet[Agent]:
    """agent_list() narrowed by AgentFilter (q, domain, division, tier, lifecycle_state; other keys are ignored).

    An unknown slug, tier or state raises ValidationError keyed by the parameter: a filter that silently
    dropped a bad value would answer with the whole registry, which reads as a valid (and wrong) result.
    """
    filterset = AgentFilter(filters, queryset=agent_list())
    if not filterset.is_valid():
        errors: dict[str, list[str]] = {}
        for field, field_errors in filterset.form.errors.as_data().items():
            value = str(filters.get(field, ""))[:60]
            errors[field] = [
                _INVALID_FILTER_MESSAGES[field].format(value=value)
                if error.code == "invalid_choice" and field in _INVALID_FILTER_MESSAGES
                else " ".join(error.messages)
                for error in field_errors
            ]
        raise ValidationError(errors)
    return filterset.qs
