from typing import Any

from django.http import HttpRequest


def person(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's NovaOps role for the layout (user menu, role badge)."""
    user = getattr(request, "user", None)
    return {"person": getattr(user, "person", None) if user is not None and user.is_authenticated else None}
