from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def person(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's NovaOps role for the layout (user menu, role badge).

    Lazy, so a page that never shows it (the 500 page, possibly with the database gone) costs no query.
    """

    def load() -> Any:
        user = getattr(request, "user", None)
        return getattr(user, "person", None) if user is not None and user.is_authenticated else None

    return {"person": SimpleLazyObject(load)}
