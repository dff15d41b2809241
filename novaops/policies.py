"""Who may do what: the role and division predicates behind both the DRF permissions (novaops.permissions) and
the page decorators (novaops.decorators), so a page and its API can never disagree.

`user` is whatever Django or DRF put on the request: a login user (with a `person` row holding the NovaOps role
when one was given), AnonymousUser, or a division client (agents.authentication.DivisionPrincipal, which says so with
`is_division_client`).
"""

from typing import Any

NO_ROLE_MESSAGE = (
    "Your account has no NovaOps role yet. Ask an administrator to give you one "
    "(Tier 1 lead, division member or viewer); until then NovaOps stays closed to you."
)


def person_of(user: Any) -> Any | None:
    """The user's Person (role, division, agent), or None: anonymous, no role, or a division client."""
    if user is None or not user.is_authenticated or is_division_client(user):
        return None
    return getattr(user, "person", None)


def is_division_client(user: Any) -> bool:
    return bool(getattr(user, "is_division_client", False))


def division_scope(user: Any) -> int | None:
    """The one division a principal may read (a division client: its token's), or None for no such limit.

    Selectors narrow their reads to it; whether the principal may read at all is has_role / is_division_client.
    """
    return user.division.pk if is_division_client(user) else None


def has_role(user: Any) -> bool:
    """Signed in with any NovaOps role (or a superuser): may read everything."""
    if user is None or not user.is_authenticated or is_division_client(user):
        return False
    return bool(user.is_superuser or person_of(user) is not None)


def is_lead(user: Any) -> bool:
    """A Tier 1 lead or a superuser: creates agents, edits the catalogue, manages tokens."""
    person = person_of(user)
    return has_role(user) and bool(user.is_superuser or (person is not None and person.is_lead))


def can_edit_some_agents(user: Any) -> bool:
    """Leads edit every agent, division members their own division's; viewers none."""
    person = person_of(user)
    return has_role(user) and bool(
        user.is_superuser or (person is not None and person.role in ("tier1_lead", "division_member"))
    )


def can_edit_division(user: Any, division_id: int) -> bool:
    """May change what belongs to this division (its agents, say)."""
    person = person_of(user)
    return has_role(user) and bool(user.is_superuser or (person is not None and person.can_edit_division(division_id)))


def is_division_member(user: Any) -> bool:
    person = person_of(user)
    return person is not None and person.role == "division_member"
