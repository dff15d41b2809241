"""Reads for the registry: domains, divisions, agents, with the counts the pages and the API show."""

from django.db.models import Count, Q, QuerySet

from agents.models import Agent, Division, Domain


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


def agent_list() -> QuerySet[Agent]:
    """Every agent with its division and domain joined (one query per page, whatever the page size)."""
    return Agent.objects.select_related("division", "division__domain")


def agent_get(*, handle: str) -> Agent:
    return agent_list().select_related("person__user", "led_division", "led_domain").get(handle=handle)
