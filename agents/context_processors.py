from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from novaops import policies


def person(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's NovaOps role for the layout (user menu, role badge, the leads' links), decided by
    novaops.policies like everything else.

    Lazy, so a page that never shows it (the 500 page, possibly with the database gone) costs no query.
    """

    def load() -> Any:
        return policies.person_of(getattr(request, "user", None))

    user = getattr(request, "user", None)
    return {"person": SimpleLazyObject(load), "is_lead": SimpleLazyObject(lambda: policies.is_lead(user))}
