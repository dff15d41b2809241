"""DRF permissions, each a thin wrapper over a predicate of novaops.policies (the pages use the same ones through
novaops.decorators). Kept apart from novaops.api because DRF imports them while it is still loading.

Apps subclass these to give a refusal its own words (`class CanCreateAgents(IsLead): message = "…"`).
"""

from typing import TYPE_CHECKING

from rest_framework import permissions

from novaops import policies

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class IsPerson(permissions.BasePermission):
    """Signed-in users with a NovaOps role (any role reads); writes are checked per view."""

    message = "Your account has no NovaOps role; ask an administrator to assign one."
    division_client_message = "A division token only reads; this needs a person signed in with a NovaOps role."

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if policies.is_division_client(request.user):
            self.message = self.division_client_message
            return False
        return policies.has_role(request.user)


class IsPersonOrDivisionClient(permissions.BasePermission):
    """People with a role, and division clients (whom each view scopes to their own division)."""

    message = IsPerson.message

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return policies.is_division_client(request.user) or policies.has_role(request.user)


class IsDivisionClient(permissions.BasePermission):
    message = "This needs a division token: Authorization: Bearer nvo_…"

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return policies.is_division_client(request.user)


class IsLead(permissions.BasePermission):
    """Tier 1 leads and superusers."""

    message = "Only Tier 1 leads can do this."
    division_client_message = "A division token cannot do this; it needs a Tier 1 lead."

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if policies.is_division_client(request.user):
            self.message = self.division_client_message
            return False
        return policies.is_lead(request.user)
