"""Base API permissions; kept apart from novaops.api because DRF imports them while it is still loading."""

from typing import TYPE_CHECKING

from rest_framework import permissions

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class IsPerson(permissions.BasePermission):
    """Signed-in users with a NovaOps role (any role reads); writes are checked per view."""

    message = "Your account has no NovaOps role; ask an administrator to assign one."

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_superuser or hasattr(user, "person")
