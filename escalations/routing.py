"""Who a ticket is assigned to at each level (a read, kept apart from selectors.py because services use it too).

Level 1: the people whose agent leads a division involved. Level 2: the Tier 1 lead of each involved domain (the
person whose agent leads the domain, else the domain's Tier 1 lead people). Level 3: every domain's Tier 1 lead.
A lead may hand a ticket to someone else of its level's pool: at level 1 also the members of the divisions involved.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from agents.models import Person

User = get_user_model()


def _tier1_people(domain_ids: set[int] | None) -> Q:
    by_agent = Q(person__agent__led_domain__isnull=False)
    by_role = Q(person__role=Person.Role.TIER1_LEAD, person__domain__isnull=False)
    if domain_ids is not None:
        by_agent &= Q(person__agent__led_domain__in=domain_ids)
        by_role &= Q(person__domain__in=domain_ids)
    return by_agent | by_role


def level_assignees(*, level: int, division_ids: set[int], domain_ids: set[int]) -> QuerySet:
    """The users a ticket involving these divisions (of these domains) is assigned to at `level`."""
    if level == 1:
        condition = Q(person__agent__led_division__in=division_ids)
    elif level == 2:
        condition = _tier1_people(domain_ids)
    else:
        condition = _tier1_people(None)
    return User.objects.filter(condition, is_active=True).distinct().order_by("username")


def level_pool(*, level: int, division_ids: set[int], domain_ids: set[int]) -> QuerySet:
    """Whom a lead may reassign to at `level`: the level's assignees, and at level 1 the involved divisions' members."""
    if level == 1:
        condition = Q(person__agent__led_division__in=division_ids) | Q(
            person__role=Person.Role.DIVISION_MEMBER, person__division__in=division_ids
        )
        return User.objects.filter(condition, is_active=True).distinct().order_by("username")
    return level_assignees(level=level, division_ids=division_ids, domain_ids=domain_ids)
